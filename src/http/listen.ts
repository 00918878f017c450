import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { MAX_TIMER_MS } from '../core/clock.js'
import { nonEmptyString, optionKeys, rejectUnknownKeys } from '../core/options.js'
import { createHandler } from './handler.js'
import type { HttpHealth } from './surface.js'

export interface ListenOptions {
  /** Port of the management listener. Default 9000; 0 picks a free port. */
  port?: number
  /** Interface to bind. Default `0.0.0.0` (the kubelet probes from the node's address). */
  host?: string
  /**
   * A request's head must arrive within this many ms of the connection opening (or of its
   * first byte, for a later request on a kept-alive connection), or the connection is
   * answered 408 and closed. Default 5000: a probe's request is one small packet, and a
   * client that sends nothing or half a head must not hold a socket. Checked every second,
   * so a connection may outlive it by up to a second.
   */
  requestDeadlineMs?: number
  /**
   * A connection with nothing to do is closed after this many ms: between keep-alive
   * requests, and before its first byte (never later than `requestDeadlineMs` there, even
   * when this is longer). Default 5000. Raise it above Prometheus' scrape interval to keep
   * its connection open between scrapes; a closed one costs it only a new connection.
   */
  idleTimeoutMs?: number
  /**
   * Client connections open at once at most; one beyond is closed as it arrives, and the
   * open ones are unaffected. Default 256: the kubelet opens a fresh connection per probe
   * (a few a period), Prometheus keeps one or two, and a few people may curl it; 256 leaves
   * ample room for them, while the process keeps most of its file descriptors (often 1024)
   * for its own work when anyone on the pod network floods the port.
   */
  maxConnections?: number
}

/** The management listener's defaults (see `ListenOptions`). */
const LISTEN_DEFAULTS = {
  port: 9000,
  host: '0.0.0.0',
  requestDeadlineMs: 5000,
  idleTimeoutMs: 5000,
  maxConnections: 256,
} as const

const LISTEN_OPTION_KEYS = optionKeys<ListenOptions>()(LISTEN_DEFAULTS)

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
  rejectUnknownKeys('health.listen', options, LISTEN_OPTION_KEYS)
  const port = options.port ?? LISTEN_DEFAULTS.port
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`health.listen: port must be an integer from 0 to 65535, got ${String(options.port)}`)
  }
  const host = nonEmptyString(
    options.host,
    LISTEN_DEFAULTS.host,
    'health.listen: host',
    "an address or host name, e.g. '0.0.0.0' or '::'",
  )
  const listening = await serve(createHandler(health), {
    port,
    host,
    requestDeadlineMs: whole(options.requestDeadlineMs, LISTEN_DEFAULTS.requestDeadlineMs, 'requestDeadlineMs'),
    idleTimeoutMs: whole(options.idleTimeoutMs, LISTEN_DEFAULTS.idleTimeoutMs, 'idleTimeoutMs'),
    maxConnections: whole(options.maxConnections, LISTEN_DEFAULTS.maxConnections, 'maxConnections'),
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

/** `value` when it is a whole number from 1 to 2^31 - 1, `fallback` when undefined; else a RangeError. */
function whole(value: number | undefined, fallback: number, key: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new RangeError(`health.listen: ${key} must be a whole number from 1 to ${MAX_TIMER_MS}, got ${String(value)}`)
  }
  return value
}

export interface ServeOptions {
  port: number
  host: string
  /**
   * A request's headers and body must arrive within this, or the socket is answered 408
   * and closed. Default: Node's (5 minutes for the request, 1 minute for its headers).
   */
  requestDeadlineMs?: number
  /**
   * A connection with nothing to do is closed after this: between keep-alive requests, and
   * before its first byte. Default 5000.
   */
  idleTimeoutMs?: number
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
  const idleMs = options.idleTimeoutMs ?? 5000
  // Short keep-alive: idle sockets of clients that come and go (kubelets, curl) are freed.
  server.keepAliveTimeout = idleMs
  // A connection that never sends a byte is held to the request deadline (Node counts it
  // from the connection's opening). Only an idle timeout shorter than that deadline, or no
  // deadline at all, needs a timer of its own per connection to free it.
  if (deadline === undefined || idleMs < deadline) server.on('connection', closeWhenSilent(idleMs))
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

/**
 * A `connection` listener that destroys a socket which has sent nothing `ms` after it
 * opened. (node:http reads a socket's bytes in C++, so `bytesRead` tells, not a `data` event.)
 */
function closeWhenSilent(ms: number): (socket: Socket) => void {
  const check = (socket: Socket) => {
    if (socket.bytesRead === 0) socket.destroy()
  }
  return (socket) => {
    const timer = setTimeout(check, ms, socket)
    // An open server keeps the process alive, not a timer of one of its connections.
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
}
