import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { decodeLoose, redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimedOut, connectTimeoutMs } from './connect-timeout.js'
import { InFlight } from './in-flight.js'
import { loadDriver } from './load-driver.js'
import { describeNetworkError, errorCode, isTlsTrustError } from './network-error.js'
import { timed, type UntimedDetails } from './timed.js'
import { TLS_OPTIONS, type TlsProbeOptions, tlsConnectOptions } from './tls-options.js'

/** The part of an amqplib channel (promise API) the probe uses. */
export interface AmqpChannelLike {
  close(): Promise<void>
  checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>
  on(event: 'error', listener: (error: unknown) => void): unknown
}

/** An amqplib connection from `amqplib.connect()` (promise API, a ChannelModel). */
export interface AmqpConnectionLike {
  createChannel(): Promise<AmqpChannelLike>
  close(): Promise<void>
}

export interface AmqpProbeOptions extends ProbeOptions, ConnectOptions, TlsProbeOptions {
  /** Check name. Default `amqp`. */
  name?: string
  /** Also check that this queue exists (passive declare); its depth goes into the message. */
  queue?: string
}

const AMQP_OPTION_KEYS = optionKeys<AmqpProbeOptions>()({
  name: true,
  queue: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
  ...TLS_OPTIONS,
})

interface AmqplibModule {
  connect(url: string, socketOptions?: Record<string, unknown>): Promise<AmqpConnectionLike>
}

const noop = () => {}

/**
 * Passes when the AMQP connection is open and a channel works: opens a channel and closes
 * it, or checks a named queue. Takes the app's amqplib connection (never closed by the
 * probe) or an `amqp://` / `amqps://` URL (one short-lived connection per check).
 *
 * A channel open that the deadline interrupts cannot be cancelled in AMQP; the probe stops
 * waiting and closes that channel as soon as the broker answers, and later checks join
 * that open rather than start another, so nothing accumulates on the app's connection.
 *
 * @example
 * const connection = await amqplib.connect(process.env.AMQP_URL)
 * health.add(amqp(connection, { queue: 'jobs' }))
 */
export function amqp(connectionOrUrl: AmqpConnectionLike | string | URL, options: AmqpProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('amqp', connectionOrUrl, 'connection'), options, AMQP_OPTION_KEYS)
  const { name = 'amqp', connectTimeout: _ct, queue, ca: _ca, insecure: _in, ...probeOptions } = options
  const base = { componentType: 'component', ...probeOptions, name }
  if (typeof connectionOrUrl === 'string' || connectionOrUrl instanceof URL) {
    const url = parseAmqpUrl(connectionOrUrl)
    const shown = redactUrl(url)
    const limitMs = connectTimeoutMs(options, `amqp ${shown}`)
    const tls = tlsConnectOptions(options)
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          const driver = await loadDriver<AmqplibModule>('amqplib', 'The amqp probe')
          const connection = await connectOnce(driver, url, shown, limitMs, signal, tls)
          try {
            const details = await untilAborted(channelWorks(connection, queue, `amqp ${shown}`), signal)
            return { ...details, componentId: hostOf(url) }
          } finally {
            connection.close().catch(noop)
          }
        }),
    }
  }
  if (!isAmqpConnection(connectionOrUrl)) {
    throw new TypeError(
      'amqp(connection): expected a connection from amqplib.connect() (promise API) or an amqp:// URL',
    )
  }
  const connection = connectionOrUrl
  // Against a hung broker, checks join the channel open still in flight instead of
  // queueing more on the app's connection: at most one per probe, whatever times out.
  const inFlight = new InFlight<UntimedDetails>()
  return {
    ...base,
    check: ({ signal }) =>
      timed(async () => {
        const details = await untilAborted(
          inFlight.run(() => channelWorks(connection, queue, 'amqp')),
          signal,
        )
        const componentId = remoteOf(connection)
        return { ...details, ...(componentId ? { componentId } : {}) }
      }),
  }
}

/**
 * Opens a channel (checks the queue) and closes it. It takes no signal: a channel open
 * cannot be cancelled in AMQP, so callers stop waiting at their deadline while this runs
 * to its end and closes the channel once the broker answers.
 */
async function channelWorks(
  connection: AmqpConnectionLike,
  queue: string | undefined,
  what: string,
): Promise<UntimedDetails> {
  let channel: AmqpChannelLike
  try {
    channel = await connection.createChannel()
  } catch (error) {
    throw reason(error, what)
  }
  // A server-side channel error (e.g. a missing queue) is an 'error' event: ours to swallow.
  channel.on('error', noop)
  try {
    if (queue === undefined) return { message: 'channel opened' }
    const ok = await channel.checkQueue(queue).catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error)
      if (/NOT_FOUND|404/.test(text)) throw new NotReady(`${what}: queue "${queue}" does not exist`)
      throw reason(error, what)
    })
    const consumers = `${ok.consumerCount} consumer${ok.consumerCount === 1 ? '' : 's'}`
    return { message: `queue ${queue}: ${ok.messageCount} messages, ${consumers}` }
  } finally {
    // Not awaited: the answer is known, and a close round trip would only add latency.
    channel.close().catch(noop)
  }
}

/** One connection under the connect limit; its socket is destroyed when the signal fires. */
async function connectOnce(
  driver: AmqplibModule,
  url: string,
  shown: string,
  limitMs: number,
  signal: AbortSignal,
  tls: ReturnType<typeof tlsConnectOptions>,
): Promise<AmqpConnectionLike> {
  // amqplib hands these to net.connect: `timeout` limits the connect and handshake (it is
  // switched off once open) and `signal` destroys the socket at the deadline.
  const connecting = driver.connect(url, { ...tls, timeout: limitMs, signal, noDelay: true })
  try {
    return await untilAborted(connecting, signal)
  } catch (error) {
    if (signal.aborted) {
      connecting.then((late) => late.close().catch(noop), noop)
      throw error
    }
    const text = error instanceof Error ? error.message : ''
    if (text === 'connect ETIMEDOUT') throw connectTimedOut(`amqp ${shown}`, limitMs)
    const parsed = new URL(url)
    if (VHOST_REFUSED.test(text)) {
      // RabbitMQ answers Connection.Open for a virtual host that does not exist, or that the
      // user may not use, with Connection.Close (530 NOT_ALLOWED); amqplib keeps only the
      // method's name, so the reason says what that answer means.
      const vhost = parsed.pathname.length > 1 ? decodeLoose(parsed.pathname.slice(1)) : '/'
      throw new NotReady(
        `amqp ${shown}: the broker refused the virtual host "${vhost}" (Connection.Close in answer to Connection.Open): it does not exist, the user has no permission on it, or its connection limit is reached`,
      )
    }
    const failure = reason(error, `amqp ${shown}`)
    // A TLS-only port resets or closes a connection that opens with the AMQP header.
    if (parsed.protocol === 'amqp:' && (errorCode(error) === 'ECONNRESET' || /closed abruptly/i.test(text))) {
      failure.message += '; if the port takes TLS, write amqps://'
    }
    throw failure
  }
}

/** amqplib's words for a Connection.Close where Connection.OpenOk was due. */
const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose/

/** A readable reason for amqplib's errors; authentication failures say so, plainly. */
function reason(error: unknown, what: string): NotReady {
  const text = error instanceof Error ? error.message : String(error)
  if (/ACCESS.REFUSED|403/.test(text)) {
    return new NotReady(`${what}: authentication failed (ACCESS_REFUSED): check the user and password`)
  }
  if (/NOT.ALLOWED|530/.test(text)) {
    return new NotReady(`${what}: access to the virtual host was refused (NOT_ALLOWED): ${text}`)
  }
  if (/Connection closed|Connection closing|Channel ended/i.test(text)) {
    return new NotReady(`${what}: the connection is closed (${text}); the app must reconnect`)
  }
  if (/frame|unexpected|expected/i.test(text) && !errorCode(error)) {
    return new NotReady(`${what}: not an AMQP 0-9-1 broker (${text})`)
  }
  if (isTlsTrustError(error)) {
    return new NotReady(
      `${what}: ${describeNetworkError(error)}; trust the broker's CA with the ca option, or set insecure`,
    )
  }
  if (errorCode(error)) return new NotReady(`${what}: ${describeNetworkError(error)}`)
  return new NotReady(`${what}: ${text || 'failed'}`)
}

function isAmqpConnection(value: unknown): value is AmqpConnectionLike {
  if (!value || typeof value !== 'object') return false
  const candidate = value as { createChannel?: unknown; close?: unknown; constructor?: { name?: string } }
  if (candidate.constructor?.name === 'CallbackModel') {
    throw new TypeError(
      'amqp(connection): the callback API connection is not supported; pass a connection from require("amqplib").connect() (promise API)',
    )
  }
  return typeof candidate.createChannel === 'function' && typeof candidate.close === 'function'
}

function parseAmqpUrl(url: string | URL): string {
  const text = String(url)
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new TypeError(`amqp: "${redactUrl(text)}" is not a URL; write it as amqp://user:password@host:5672/vhost`)
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new TypeError(`amqp: "${redactUrl(text)}" must start with amqp:// or amqps://`)
  }
  const badEscape = userinfoEscapeProblem(parsed)
  if (badEscape) throw new TypeError(`amqp: "${redactUrl(text)}": ${badEscape}`)
  return text
}

function hostOf(url: string): string {
  const parsed = new URL(url)
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'amqps:' ? 5671 : 5672)}`
}

function remoteOf(connection: AmqpConnectionLike): string | undefined {
  const stream = (connection as { connection?: { stream?: { remoteAddress?: string; remotePort?: number } } })
    .connection?.stream
  return stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : undefined
}
