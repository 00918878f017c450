// The other way to check gRPC health from a CLI: load @grpc/grpc-js and make one Check call
// (the request and response encoded inline, as small as probekit's own). For the start-up
// comparison beside `probekit check grpc://`, which uses node:http2 instead.
//   node bench/support/grpc-js-check.cjs HOST:PORT
const grpc = require('@grpc/grpc-js')

const client = new grpc.Client(process.argv[2], grpc.credentials.createInsecure())
client.makeUnaryRequest(
  '/grpc.health.v1.Health/Check',
  () => Buffer.alloc(0),
  (bytes) => ({ status: bytes.length >= 2 && bytes[0] === 0x08 ? bytes[1] : 0 }),
  {},
  { deadline: Date.now() + 5000 },
  (error, reply) => {
    process.exitCode = !error && reply.status === 1 ? 0 : 1
    client.close()
  },
)
