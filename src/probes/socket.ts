/**
 * One short exchange over a connection the probe owns: tcp, the URL modes of redis, NATS
 * and MQTT, and http's request. The probe keeps only its protocol; the rest is here. The
 * promise settles exactly once, whichever comes first: the answer, a failure, the peer
 * hanging up, the connect limit (`connect timed out after N ms`) or the signal at the
 * deadline (with its reason). Settling removes every timer and listener, and the socket
 * is destroyed right after, so nothing outlives the check.
 */
import { Socket } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import { NotReady } from '../core/errors.js'
import { connectTimedOut } from './connect-timeout.js'
import {
  describeNetworkError,
  describeSocketError,
  errorCode,
  isTlsNameError,
  isTlsTrustError,
} from './network-error.js'
import { serverName } from './tls-options.js'

/**
 * node:tls (and with it crypto, some 25 built-in modules) loads on the first TLS connection,
 * not with this module: `probekit check http://…` and `tcp://…` start without it.
 */
function tlsConnect(options: ConnectionOptions): Socket {
  return process.getBuiltinModule('node:tls').connect(options)
}

export interface SettleOptions {
  signal: AbortSignal
  /** Who is speaking, the prefix of every reason, e.g. `redis 10.0.0.5:6379`. */
  what: string
  /** The connect limit, ms (see connect-timeout.ts). */
  limitMs: number
}

/** The one way an exchange ends. The first call wins; later ones do nothing. */
export interface Settle<T> {
  resolve(value: T): void
  reject(error: unknown): void
  /** The connection is open: the connect limit no longer applies (the deadline still does). */
  connected(): void
  readonly settled: boolean
}

/**
 * Runs `start` under the signal and the connect limit. Whatever settles the exchange,
 * `release` runs once, in the turn of the event loop after the promise settles, to end its
 * I/O: the answer does not wait for the teardown, and `probekit check`, which exits once
 * it has printed the verdict, skips it (destroying a socket costs it ~1 ms: Node's
 * `Socket._destroy` builds `process.stderr` on first use). A throw from `start` fails the
 * exchange like any other failure.
 */
export function settleOnce<T>(
  options: SettleOptions,
  release: () => void,
  start: (settle: Settle<T>) => void,
): Promise<T> {
  const { signal, what, limitMs } = options
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const finish = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      outcome()
      setImmediate(release)
    }
    const settle: Settle<T> = {
      resolve: (value) => finish(() => resolve(value)),
      reject: (error) => finish(() => reject(error)),
      connected: () => clearTimeout(timer),
      get settled() {
        return settled
      },
    }
    const onAbort = () => settle.reject(signal.reason)
    const timer = setTimeout(() => settle.reject(connectTimedOut(what, limitMs)), limitMs)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      start(settle)
    } catch (error) {
      settle.reject(error)
    }
  })
}

/** A socket, request or response: anything that emits `error` and can be destroyed. */
export interface Destroyable {
  removeAllListeners(): unknown
  on(event: 'error', listener: () => void): unknown
  destroy(): unknown
}

/**
 * Ends a socket (or request, or response) for good. It keeps a no-op error listener: a
 * late RST or TLS alert on a destroyed socket must not crash the process.
 */
export function discard(stream: Destroyable | undefined): void {
  if (!stream) return
  stream.removeAllListeners()
  stream.on('error', noop)
  stream.destroy()
}

export interface SocketExchangeOptions extends SettleOptions {
  host: string
  port: number
  /** A Unix-domain socket to connect to instead of `host:port` (plain only: no `tls`). */
  path?: string
  /** Speak TLS from the first byte (rediss://, mqtts://) with these settings; absent: plain TCP. */
  tls?: ConnectionOptions
  /**
   * What the connect limit covers: `connect` (default) opening the connection, TLS
   * included; `handshake` the whole exchange, for protocols whose greeting is part of
   * connecting (NATS, MQTT).
   */
  limitCovers?: 'connect' | 'handshake'
  /** Added to a TLS trust failure, e.g. "trust the broker's CA with the ca option, or set insecure". */
  tlsTrustHint?: string
  /** Added to a certificate made out for other names than the host (a trusted CA does not help). */
  tlsNameHint?: string
  /** The reason when the peer closes the connection before the exchange is over. */
  closedEarly?: string
  /**
   * Added when a plain connection is reset or closed before the peer sent a byte, which is
   * how a TLS-only port meets a client that does not speak TLS, e.g. "if the port takes TLS,
   * write rediss://".
   */
  plainHint?: string
  /**
   * Added when a connection that speaks TLS from the first byte is reset or closed before
   * its TLS handshake is done, or answered with something that is not TLS: how a plain port
   * meets a TLS client, e.g. "if the port does not take TLS, write mqtt://".
   */
  tlsHint?: string
  /**
   * What the client says first, written as soon as the connection opens and before
   * `connected` runs (plain connections only; ignored with `tls`). A connection opened ahead
   * with the same address and greeting (see `AheadConnection`) is taken over instead of opening one.
   */
  greeting?: Buffer
}

/** What the protocol code talks through. */
export interface SocketConversation {
  /** The socket in use: the TLS one after `startTls`. */
  readonly socket: Socket
  /** Whether the exchange is over; a reading loop stops when it is. */
  readonly settled: boolean
  /** The exchange succeeded. */
  done(): void
  /**
   * The connect phase is over (with `limitCovers: 'handshake'`): from here only the deadline
   * applies, e.g. PostgreSQL once authenticated, before its query.
   */
  connected(): void
  /** The exchange failed: the reason becomes `NotReady("<what>: <reason>")`. */
  fail(reason: string): void
  /** Upgrades the connection in-band (NATS); `secure` runs once the TLS handshake is done. */
  startTls(tls: ConnectionOptions, secure: () => void): void
}

/** The protocol's side: what it does when the connection opens and when bytes arrive. */
export interface SocketProtocol {
  /** The connection is open (and secure, with `tls`). */
  connected?(): void
  /** One chunk from the peer; none arrive once the exchange has settled. */
  data?(chunk: Buffer): void
}

/**
 * Opens a TCP (or TLS) connection to `host:port` and lets `speak` hold the conversation.
 * A network error fails it with one readable reason (`connection refused (ECONNREFUSED)`).
 *
 * @example
 * socketExchange({ host, port, what: `tcp ${address}`, limitMs, signal }, (c) => ({ connected: () => c.done() }))
 */
export function socketExchange(
  options: SocketExchangeOptions,
  speak: (conversation: SocketConversation) => SocketProtocol,
): Promise<void> {
  const { host, port, tls, what } = options
  const sockets: Socket[] = []
  const release = () => {
    for (const socket of sockets) discard(socket)
  }
  return settleOnce<void>(options, release, (settle) => {
    const fail = (reason: string) => settle.reject(new NotReady(`${what}: ${reason}`))
    let heard = false
    const onData = (chunk: Buffer) => {
      heard = true
      protocol.data?.(chunk)
    }
    // Not a word from the peer before it hung up: a TLS-only port, most likely.
    const plainHint = () => (options.plainHint && !tls && !options.path && !heard ? `; ${options.plainHint}` : '')
    // A TLS connection that never got through its handshake: a plain port, most likely.
    let secured = false
    const tlsHint = () => (options.tlsHint && tls && !secured ? `; ${options.tlsHint}` : '')
    const listen = (socket: Socket) => {
      sockets.push(socket)
      socket.on('error', (error) => {
        const code = errorCode(error)
        const hint =
          options.tlsTrustHint && isTlsTrustError(error)
            ? `; ${options.tlsTrustHint}`
            : options.tlsNameHint && isTlsNameError(error)
              ? `; ${options.tlsNameHint}`
              : code === 'ECONNRESET' || code === 'EPIPE'
                ? plainHint() || tlsHint()
                : ''
        const said = options.path ? describeSocketError(error, options.path) : describeNetworkError(error)
        fail(`${said}${hint || (said.startsWith('the server does not speak TLS') ? tlsHint() : '')}`)
      })
      socket.on('close', () => fail(`${options.closedEarly ?? 'the connection closed'}${plainHint() || tlsHint()}`))
      socket.on('data', onData)
    }
    const early = tls || !options.greeting ? undefined : takeAhead(options, options.greeting)
    let socket: Socket = early?.socket ?? (tls ? tlsConnect({ ...tls, host, port, ...serverName(host) }) : new Socket())
    listen(socket)
    const protocol = speak({
      get socket() {
        return socket
      },
      get settled() {
        return settle.settled
      },
      done: () => settle.resolve(),
      connected: () => settle.connected(),
      fail,
      startTls(upgrade, secure) {
        socket.removeListener('data', onData)
        socket = tlsConnect({ ...upgrade, socket, host, ...serverName(host) })
        listen(socket)
        socket.once('secureConnect', secure)
      },
    })
    const opened = () => {
      if (options.limitCovers !== 'handshake') settle.connected()
      protocol.connected?.()
    }
    if (early) {
      // Its greeting is written by the launcher's own listener, which runs first.
      if (early.open) opened()
      else socket.once('connect', opened)
      return
    }
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      secured = !!tls
      if (!tls && options.greeting) socket.write(options.greeting)
      opened()
    })
    if (!tls) socket.connect(options.path ? { path: options.path } : { host, port })
  })
}

/**
 * A connection opened before its exchange began, waiting for it. bin/probekit.js opens one
 * for `probekit check postgres://…` before it loads the check bundle, so that the server
 * sets up its session (forking a backend: ~15 ms here) while the bundle loads rather than
 * after; the exchange with the same address and greeting takes it over.
 *
 * The launcher is plain JavaScript that runs before this module exists, so the two meet in
 * a map on `globalThis` under `Symbol.for('probekit.connectAhead')`, keyed `host:port`
 * (or the socket path), a NUL, then the greeting as latin1. An entry is
 * `{ socket, open, broken, forget }`: a plain `net.Socket`, unreferenced, that writes the
 * greeting when it connects and then sets `open`; `broken` once it failed or closed;
 * `forget()` removes the launcher's listeners. A key that matches nothing (the launcher
 * read a URL differently) leaves the connection unused, and the exchange opens its own.
 */
interface AheadConnection {
  socket: Socket
  open: boolean
  broken: boolean
  forget(): void
}

const AHEAD = Symbol.for('probekit.connectAhead')

/**
 * The connection opened ahead to this address with this greeting, unless it broke (then it
 * is discarded). Without any waiting (every exchange but a `probekit check`'s), no key is built.
 */
function takeAhead(
  address: { host: string; port: number; path?: string },
  greeting: Buffer,
): AheadConnection | undefined {
  const ahead = (globalThis as { [AHEAD]?: Map<string, AheadConnection> })[AHEAD]
  if (!ahead?.size) return undefined
  const key = `${address.path ?? `${address.host}:${address.port}`}\0${greeting.toString('latin1')}`
  const connection = ahead.get(key)
  if (!connection) return undefined
  ahead.delete(key)
  connection.forget()
  if (connection.broken || connection.socket.destroyed) {
    discard(connection.socket)
    return undefined
  }
  connection.socket.ref()
  return connection
}

function noop(): void {}
