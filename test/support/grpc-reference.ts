/**
 * A gRPC server running the official grpc-health-check package's service in its own
 * process (test/fixtures/grpc/reference-server.mjs), so tests can freeze or kill it.
 */
import { fileURLToPath } from 'node:url'
import { ManagedProcess } from './server-process.js'

const SERVER = fileURLToPath(new URL('../fixtures/grpc/reference-server.mjs', import.meta.url))

/** Starts the reference server with its arguments; resolves with its process and port. */
export async function startReferenceGrpcServer(...args: string[]): Promise<{ proc: ManagedProcess; port: number }> {
  let port = 0
  const proc = new ManagedProcess('grpc-health-check server', process.execPath, [SERVER, ...args], {
    ready: () => {
      const match = /listening (\d+)/.exec(proc.recentOutput)
      if (match) port = Number(match[1])
      return port > 0
    },
  })
  await proc.start()
  return { proc, port }
}
