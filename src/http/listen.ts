import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHandler } from './handler.js'
import type { HttpHealth } from './surface.js'

export interface ListenOptions {
  /** Port of the management listener. Default 9000; 0 picks a free port. */
  port?: number
  /** Interface to bind. Default `0.0.0.0` (the kubelet probes from the node's address). */
  host?: string
}

export interface Listening {
  /** e.g. `http://127.0.0.1:9000` */
  url: string
  host: string
  port: number
  server: Server
  /** Stops listening and closes every connection. */
  close(): Promise<void>
}

/**
 * A separate management listener that answers only health paths: isolated from the
 * app's middleware and meant never to be exposed publicly.
 */
export async function listen(health: HttpHealth, options: ListenOptions = {}): Promise<Listening> {
  const port = options.port ?? 9000
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`health.listen: port must be an integer from 0 to 65535, got ${String(options.port)}`)
  }
  const host = options.host ?? '0.0.0.0'
  const server = createServer(createHandler(health))
  // Probes are tiny; a short keep-alive frees idle sockets of kubelets that come and go.
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `health.listen: port ${port} on ${host} is already in use; choose another port`
            : `health.listen: cannot listen on ${host}:${port}: ${error.message}`,
        ),
      )
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closed
  }
  const unregister = health.onClose(close)
  return {
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    host: address.address,
    port: address.port,
    server,
    close: () => {
      unregister()
      return close()
    },
  }
}
