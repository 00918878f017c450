import { randomBytes } from 'node:crypto'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimedOut, connectTimeoutMs } from './connect-timeout.js'
import { loadDriver } from './load-driver.js'
import { mqttHandshake } from './mqtt-handshake.js'
import { describeNetworkError } from './network-error.js'
import { timed } from './timed.js'
import { TLS_OPTIONS, type TlsProbeOptions, tlsConnectOptions } from './tls-options.js'

/**
 * An mqtt.js client (v4 or v5), as returned by `mqtt.connect()`. Only `connected` is
 * typed here so every mqtt.js version's client fits; the rest is checked at run time.
 */
export interface MqttClientLike {
  connected: boolean
}

/** What the probe uses of the client, checked by `isMqttClient`. */
interface MqttClientInternals extends MqttClientLike {
  disconnecting?: boolean
  disconnected?: boolean
  reconnecting?: boolean
  on(event: string, listener: (...args: never[]) => void): unknown
  removeListener(event: string, listener: (...args: never[]) => void): unknown
  end(force?: boolean): unknown
  /** mqtt.js v5: sends a PINGREQ. */
  sendPing?(): void
  /** mqtt.js v4 and v5: writes a packet (used for PINGREQ where `sendPing` is missing). */
  _sendPacket?(packet: { cmd: string }): void
  options?: { host?: string; hostname?: string; port?: number }
}

export interface MqttProbeOptions extends ProbeOptions, ConnectOptions, TlsProbeOptions {
  /** Check name. Default `mqtt`. */
  name?: string
}

const MQTT_OPTION_KEYS = optionKeys<MqttProbeOptions>()({
  name: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
  ...TLS_OPTIONS,
})

interface MqttModule {
  connect(url: string, options: Record<string, unknown>): MqttClientInternals
}

/**
 * Passes when the MQTT client is connected and a ping round trip (PINGREQ → PINGRESP)
 * completes. Takes the app's mqtt.js client (never ended by the probe) or a URL: for
 * `mqtt://` and `mqtts://` the probe speaks MQTT 3.1.1 itself on one short-lived socket
 * (CONNECT with the URL's user and password, PINGREQ, DISCONNECT), destroyed at the
 * deadline; `ws://` and `wss://` use a short-lived mqtt.js client, ended at once.
 *
 * Why a raw PINGREQ: mqtt.js has no public "ping and wait" call, and the alternatives have
 * side effects — a QoS 1 publish reaches subscribers and needs publish rights, a subscribe
 * needs subscribe rights. PINGREQ is the protocol's own liveness check: every broker must
 * answer it, it touches no topic, and mqtt.js treats an extra PINGRESP as a keepalive.
 * The probe sends it through the client (`sendPing()` in mqtt.js v5, the packet writer in
 * v4) and listens for the PINGRESP on `packetreceive`, removing that listener when done.
 *
 * @example
 * const client = mqtt.connect('mqtt://broker:1883')
 * health.add(mqtt(client))
 */
export function mqtt(clientOrUrl: MqttClientLike | string | URL, options: MqttProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('mqtt', clientOrUrl, 'client'), options, MQTT_OPTION_KEYS)
  const { name = 'mqtt', connectTimeout: _ct, ca: _ca, insecure: _in, ...probeOptions } = options
  const base = { componentType: 'component', ...probeOptions, name }
  if (typeof clientOrUrl === 'string' || clientOrUrl instanceof URL) {
    const url = parseMqttUrl(clientOrUrl)
    const shown = redactUrl(url.href)
    const limitMs = connectTimeoutMs(options, `mqtt ${shown}`)
    const componentId = `${url.hostname}:${url.port || defaultPort(url.protocol)}`
    if (url.protocol === 'mqtt:' || url.protocol === 'mqtts:') {
      return {
        ...base,
        check: ({ signal }) =>
          timed(async () => {
            await mqttHandshake(url, `mqtt ${shown}`, limitMs, signal, tlsConnectOptions(options))
            return { message: 'PINGRESP', componentId }
          }),
      }
    }
    // MQTT over WebSocket needs mqtt.js.
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          const driver = await loadDriver<MqttModule>('mqtt', 'The mqtt probe over WebSocket')
          if (signal.aborted) throw signal.reason
          const client = driver.connect(url.href, {
            clientId: `probekit-${randomBytes(6).toString('hex')}`,
            clean: true,
            // No reconnects and no keepalive timer: this client lives for one check.
            reconnectPeriod: 0,
            keepalive: 0,
            // Our own connect limit fires first and says so; this is only a backstop.
            connectTimeout: limitMs + 1000,
            ...tlsConnectOptions(options),
          })
          try {
            await connected(client, `mqtt ${shown}`, limitMs, signal)
            await pingRoundTrip(client, signal, `mqtt ${shown}`)
            return { message: 'PINGRESP', componentId }
          } finally {
            client.end(true)
          }
        }),
    }
  }
  const client = clientOrUrl
  if (!isMqttClient(client)) {
    throw new TypeError(
      'mqtt(client): expected a client from mqtt.connect() of the "mqtt" package (v4 or v5), or an mqtt:// URL',
    )
  }
  return {
    ...base,
    check: ({ signal }) =>
      timed(async () => {
        if (!client.connected) {
          if (client.disconnecting || (client.disconnected && !client.reconnecting)) {
            throw new NotReady('mqtt: the client was ended; the app must reconnect')
          }
          throw new NotReady('mqtt: not connected to the broker (the client is reconnecting)')
        }
        await pingRoundTrip(client, signal, 'mqtt')
        const host = client.options?.hostname ?? client.options?.host
        const port = client.options?.port
        return { message: 'PINGRESP', ...(host ? { componentId: port ? `${host}:${port}` : host } : {}) }
      }),
  }
}

function pingRoundTrip(client: MqttClientInternals, signal: AbortSignal, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const finish = (error?: unknown) => {
      client.removeListener('packetreceive', onPacket)
      client.removeListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onPacket = (packet: { cmd?: string }) => {
      if (packet?.cmd === 'pingresp') finish()
    }
    const onClose = () => finish(new NotReady(`${what}: the connection closed before the broker answered the ping`))
    const onAbort = () => finish(signal.reason)
    client.on('packetreceive', onPacket)
    client.on('close', onClose)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (typeof client.sendPing === 'function') client.sendPing()
      else client._sendPacket?.({ cmd: 'pingreq' })
    } catch (error) {
      finish(new NotReady(`${what}: ${describeNetworkError(error)}`))
    }
  })
}

/** Waits for CONNACK on a fresh URL-mode client, with a clear reason for every way it fails. */
function connected(client: MqttClientInternals, what: string, limitMs: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let lastError: unknown
    const finish = (error?: unknown) => {
      clearTimeout(timer)
      client.removeListener('connect', onConnect)
      client.removeListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onConnect = () => finish()
    // The client stays with a no-op error listener: an unhandled 'error' event would crash.
    const onError = (error: unknown) => {
      lastError = error
      if (isAuthError(error)) finish(authFailed(error, what))
    }
    const onClose = () =>
      finish(
        lastError
          ? isAuthError(lastError)
            ? authFailed(lastError, what)
            : new NotReady(`${what}: ${describeNetworkError(lastError)}`)
          : new NotReady(`${what}: the broker closed the connection before CONNACK`),
      )
    const onAbort = () => finish(signal.reason)
    const timer = setTimeout(() => finish(connectTimedOut(what, limitMs)), limitMs)
    client.on('connect', onConnect)
    client.on('error', onError)
    client.on('close', onClose)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

function isAuthError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  // CONNACK return codes: 4/5 (MQTT 3.1.1), 134/135 (MQTT 5).
  return code === 4 || code === 5 || code === 134 || code === 135
}

function authFailed(error: unknown, what: string): NotReady {
  const message = error instanceof Error ? error.message : String(error)
  return new NotReady(`${what}: authentication failed (${message}): check the user and password`)
}

function isMqttClient(value: unknown): value is MqttClientInternals {
  if (!value || typeof value !== 'object') return false
  const candidate = value as Record<string, unknown>
  return (
    typeof candidate.connected === 'boolean' &&
    typeof candidate.on === 'function' &&
    typeof candidate.end === 'function' &&
    (typeof candidate.sendPing === 'function' || typeof candidate._sendPacket === 'function')
  )
}

function defaultPort(protocol: string): number {
  if (protocol === 'mqtts:') return 8883
  if (protocol === 'ws:') return 80
  if (protocol === 'wss:') return 443
  return 1883
}

function parseMqttUrl(url: string | URL): URL {
  const text = String(url)
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new TypeError(`mqtt: "${redactUrl(text)}" is not a URL; write it as mqtt://user:password@host:1883`)
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new TypeError(`mqtt: "${redactUrl(text)}" must start with mqtt://, mqtts://, ws:// or wss://`)
  }
  const badEscape = userinfoEscapeProblem(parsed)
  if (badEscape) throw new TypeError(`mqtt: "${redactUrl(text)}": ${badEscape}`)
  return parsed
}
