import { createServer, type RequestListener, type Server } from 'node:http'
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
  const listening = await serve(createHandler(health), {
    port,
    host,
    describeError: (error) =>
      error.code === 'EADDRINUSE'
        ? `health.listen: port ${port} on ${host} is already in use; choose another port`
        : `health.listen: cannot listen on ${host}:${port}: ${error.message}`,
  })
  const unregister = health.onClose(listening.close)
  return {
    ...listening,
    close: () => {
      unregister()
      return listening.close()
    },
  }
}

export interface ServeOptions {
  port: number
  host: string
  /**
   * A request's headers and body must arrive within this, or the socket is answered 408
   * and closed. Default: Node's (5 minutes for the request, 1 minute for its headers).
   */
  requestDeadlineMs?: number
  /** Client connections open at once at most; one beyond is closed as it arrives. Default: no cap. */
  maxConnections?: number
  /** The sentence a failure to listen becomes (the error keeps its `code`, e.g. `EADDRINUSE`). */
  describeError(error: NodeJS.ErrnoException): string
  /**
   * Whether `url` names `127.0.0.1` for a server bound to `::` as it does for `0.0.0.0`.
   * Default false: `http://[::]:PORT`.
   */
  ipv6AnyAsLoopback?: boolean
}

/**
 * Listens with `handler` on `host:port`: the one listen code of the library's management
 * listener and the monitor's API. Resolves once bound, with the URL a client on this
 * machine reaches it at (a wildcard bind is reached at loopback).
 */
export async function serve(handler: RequestListener, options: ServeOptions): Promise<Listening> {
  const deadline = options.requestDeadlineMs
  const server = createServer(
    deadline === undefined
      ? {}
      : {
          requestTimeout: deadline,
          headersTimeout: deadline,
          // How often Node looks for requests past the deadline (its default, 30 s, would let
          // a stalled body hold its socket for up to 30 s past it).
          connectionsCheckingInterval: Math.min(1000, deadline),
        },
    handler,
  )
  // Short keep-alive: idle sockets of clients that come and go (kubelets, curl) are freed.
  server.keepAliveTimeout = 5000
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const failure: NodeJS.ErrnoException = new Error(options.describeError(error))
      // The code lets a caller turn it into its own usage error (the monitor command does).
      if (error.code !== undefined) failure.code = error.code
      reject(failure)
    }
    server.once('error', onError)
    server.listen(options.port, options.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const any = shownHost === '0.0.0.0' || (options.ipv6AnyAsLoopback === true && shownHost === '[::]')
  let closed: Promise<void> | undefined
  return {
    url: `http://${any ? '127.0.0.1' : shownHost}:${address.port}`,
    host: address.address,
    port: address.port,
    server,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    },
  }
}
