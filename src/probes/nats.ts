import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { InFlight } from './in-flight.js'
import { natsHandshake } from './nats-handshake.js'
import { describeNetworkError, errorCode } from './network-error.js'
import { timed } from './timed.js'
import { TLS_OPTIONS, type TlsProbeOptions, tlsConnectOptions } from './tls-options.js'

/** The part of a `nats` connection the probe uses. */
export interface NatsConnectionLike {
  flush(): Promise<void>
  close(): Promise<void>
  isClosed(): boolean
  /** nats.js: rejects at once when disconnected, then flushes. */
  rtt?(): Promise<number>
  getServer?(): string
}

export interface NatsProbeOptions extends ProbeOptions, ConnectOptions, TlsProbeOptions {
  /** Check name. Default `nats`. */
  name?: string
}

const NATS_OPTION_KEYS = optionKeys<NatsProbeOptions>()({
  name: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
  ...TLS_OPTIONS,
})

/**
 * Passes when a NATS round trip completes (PING/PONG through `rtt()`/`flush()`). Takes
 * the app's connection from the `nats` package (never closed by the probe), or a
 * `nats://` / `tls://` URL: then the probe speaks the handshake itself on one short-lived
 * socket (user and password or a token from the URL), which it destroys at the deadline.
 *
 * @example
 * const nc = await connect({ servers: 'nats://nats:4222' })
 * health.add(nats(nc))
 */
export function nats(connectionOrUrl: NatsConnectionLike | string | URL, options: NatsProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('nats', connectionOrUrl, 'connection'), options, NATS_OPTION_KEYS)
  const { name = 'nats', connectTimeout: _ct, ca: _ca, insecure: _in, ...probeOptions } = options
  const base = { componentType: 'component', ...probeOptions, name }
  if (typeof connectionOrUrl === 'string' || connectionOrUrl instanceof URL) {
    const url = parseNatsUrl(connectionOrUrl)
    const shown = redactUrl(url.href)
    const limitMs = connectTimeoutMs(options, `nats ${shown}`)
    const server = `${url.hostname}:${url.port || 4222}`
    const tls = tlsConnectOptions(options)
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          await natsHandshake(url, `nats ${shown}`, limitMs, signal, tls)
          return { message: 'PONG', componentId: server }
        }),
    }
  }
  if (!isNatsConnection(connectionOrUrl)) {
    throw new TypeError(
      'nats(connection): expected a connection from connect() of the "nats" package, or a nats:// URL',
    )
  }
  const connection = connectionOrUrl
  // A PING cannot be taken back: against a hung server, checks join the one in flight.
  const inFlight = new InFlight<unknown>()
  return {
    ...base,
    check: ({ signal }) =>
      timed(async () => {
        await roundTrip(connection, inFlight, signal, 'nats')
        const server = connection.getServer?.()
        return { message: 'PONG', ...(server ? { componentId: server } : {}) }
      }),
  }
}

async function roundTrip(
  connection: NatsConnectionLike,
  inFlight: InFlight<unknown>,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  if (connection.isClosed()) throw new NotReady(`${what}: the connection is closed; the app must reconnect`)
  const pong = inFlight.run(() => (typeof connection.rtt === 'function' ? connection.rtt() : connection.flush()))
  try {
    await untilAborted(pong, signal)
  } catch (error) {
    throw signal.aborted ? error : reason(error, what)
  }
}

function reason(error: unknown, what: string): NotReady {
  const code = errorCode(error)
  const text = error instanceof Error ? error.message : String(error)
  if (code === 'AUTHORIZATION_VIOLATION' || /authori[sz]ation violation|authentication/i.test(text)) {
    return new NotReady(`${what}: authentication failed (Authorization Violation): check the user and password`)
  }
  if (code === 'DISCONNECT') return new NotReady(`${what}: disconnected from the server (the client is reconnecting)`)
  if (code === 'CONNECTION_CLOSED') return new NotReady(`${what}: the connection is closed; the app must reconnect`)
  if (code === 'CONNECTION_REFUSED') return new NotReady(`${what}: connection refused (ECONNREFUSED)`)
  if (code && !/^[A-Z_]+$/.test(text)) return new NotReady(`${what}: ${describeNetworkError(error)}`)
  return new NotReady(`${what}: ${text || code || 'failed'}`)
}

function isNatsConnection(value: unknown): value is NatsConnectionLike {
  if (!value || typeof value !== 'object') return false
  const candidate = value as Record<string, unknown>
  return typeof candidate.flush === 'function' && typeof candidate.isClosed === 'function'
}

function parseNatsUrl(url: string | URL): URL {
  const text = String(url)
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new TypeError(`nats: "${redactUrl(text)}" is not a URL; write it as nats://user:password@host:4222`)
  }
  if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
    throw new TypeError(`nats: "${redactUrl(text)}" must start with nats:// or tls://`)
  }
  const badEscape = userinfoEscapeProblem(parsed)
  if (badEscape) throw new TypeError(`nats: "${redactUrl(text)}": ${badEscape}`)
  return parsed
}
