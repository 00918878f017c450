// The floor for a gRPC health check from a Node process: one Check call over node:http2,
// written by hand (no gRPC library, no argument parsing, no output but the exit status).
// Usage: node h2-check.cjs HOST:PORT
'use strict'
const http2 = require('node:http2')
const session = http2.connect(`http://${process.argv[2]}`)
session.on('error', () => process.exit(2))
const call = session.request({
  ':method': 'POST',
  ':path': '/grpc.health.v1.Health/Check',
  'content-type': 'application/grpc',
  te: 'trailers',
})
call.on('error', () => process.exit(2))
let body = Buffer.alloc(0)
call.on('data', (chunk) => {
  body = Buffer.concat([body, chunk])
})
call.on('end', () => {
  // The answer: a 5-byte frame header, then HealthCheckResponse { status = 1 (SERVING) }: 08 01.
  process.exit(body.length >= 7 && body[5] === 0x08 && body[6] === 0x01 ? 0 : 1)
})
call.end(Buffer.from([0, 0, 0, 0, 0]))
