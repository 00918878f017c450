/**
 * A grpc-js server with a health service, for the gRPC Check throughput comparison:
 *   node bench/servers/grpc-health.mjs probekit|grpc-health-check
 * Prints `{"port":…}` when listening. Both variants run on the same @grpc/grpc-js and
 * answer SERVING for "": probekit from a Health with one cached probe in the ready group,
 * grpc-health-check from its status map.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js'

process.on('SIGTERM', () => process.exit(0))
const variant = process.argv[2]
const server = new Server()
if (variant === 'probekit') {
  const { createHealth } = await import('probekit')
  const { addHealthService } = await import('probekit/grpc')
  const health = createHealth({ logger: false })
  health.add('database', () => {}, { interval: 1000 })
  addHealthService(server, health)
} else if (variant === 'grpc-health-check') {
  const { HealthImplementation } = await import('grpc-health-check')
  new HealthImplementation({ '': 'SERVING' }).addToServer(server)
} else {
  console.error(`unknown variant ${variant}`)
  process.exit(1)
}
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error
  console.log(JSON.stringify({ port }))
})
