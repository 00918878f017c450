/**
 * A grpc-js server with probekit's health service under gracefulShutdown, drained by the
 * recipe of docs/grpc.md ("Shutdown"), run as a real child process that gets a real SIGTERM
 * (test/grpc/server.test.ts). It prints `listening PORT` once bound, and the helper's log
 * lines (console logger: info on stdout, errors on stderr).
 *
 * GRPC_SHUTDOWN_APP (JSON): `delayMs` (default 0), `workMs` — tracked work started when the
 * shutdown begins, which keeps the process between closing its servers and running its
 * cleanup hooks for that long, so a test can call it there.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js'
import { addHealthService } from '../../src/grpc/index.js'
import { createHealth, gracefulShutdown } from '../../src/index.js'

const config: { delayMs?: number; workMs?: number } = JSON.parse(process.env.GRPC_SHUTDOWN_APP ?? '{}')

const health = createHealth({ logger: console })
health.add('db', () => {})

const server = new Server()
addHealthService(server, health)
const shutdown = gracefulShutdown(health, { delayMs: config.delayMs ?? 0 })
// The recipe, verbatim: tryShutdown needs no help with probekit's Watch streams.
shutdown.onShutdown('grpc', () => new Promise((resolve) => server.tryShutdown(resolve)))

const workMs = config.workMs ?? 0
if (workMs > 0) {
  shutdown.signal.addEventListener('abort', () => {
    shutdown.track(new Promise((resolve) => setTimeout(resolve, workMs)), 'flush')
  })
}

server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error
  console.log(`listening ${port}`)
})
