import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redactUrl } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { socketExchange } from './socket.js'
import { timed } from './timed.js'

export interface TcpTarget {
  host: string
  port: number
}

export interface TcpProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `tcp`. */
  name?: string
}

const TCP_OPTION_KEYS = optionKeys<TcpProbeOptions>()({ name: true, ...PROBE_OPTIONS, ...CONNECT_OPTIONS })

/**
 * Passes when a TCP connection to the target opens; the connection is closed at once.
 * The target is `'host:port'`, `'tcp://host:port'` (IPv6 as `[::1]:port`) or `{ host, port }`.
 *
 * @example
 * health.add(tcp('db.internal:5432', { name: 'db-port' }))
 */
export function tcp(target: string | TcpTarget, options: TcpProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('tcp', target, 'target'), options, TCP_OPTION_KEYS)
  const { host, port } = parseTcpTarget(target)
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const limitMs = connectTimeoutMs(options, `tcp ${address}`)
  const { name = 'tcp', connectTimeout: _ct, ...probeOptions } = options
  return {
    componentType: 'component',
    ...probeOptions,
    name,
    check: ({ signal }) =>
      timed(async () => {
        await connectOnce(host, port, limitMs, signal, address)
        return { message: `connected to ${address}`, componentId: address }
      }),
  }
}

/** Opens a TCP connection and closes it; rejects with a clear reason, or at abort. */
function connectOnce(host: string, port: number, limitMs: number, signal: AbortSignal, address: string): Promise<void> {
  return socketExchange({ host, port, what: `tcp ${address}`, limitMs, signal }, (conversation) => ({
    connected: () => conversation.done(),
  }))
}

/** Parses `host:port`, `tcp://host:port`, `[v6]:port` or `{ host, port }`; throws one clear sentence. */
export function parseTcpTarget(target: string | TcpTarget): TcpTarget {
  if (target && typeof target === 'object') {
    return { host: target.host || '127.0.0.1', port: checkPort(target.port, JSON.stringify(target)) }
  }
  if (typeof target !== 'string' || target === '') {
    throw new TypeError(`tcp: expected "host:port", "tcp://host:port" or { host, port }, got ${String(target)}`)
  }
  // A URL's scheme is case-insensitive (RFC 3986): TCP:// as tcp://.
  const text = /^[Tt][Cc][Pp]:\/\//.test(target) ? target.slice('tcp://'.length).replace(/\/+$/, '') : target
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:/\s]+):(\d+)$/.exec(text)
  if (!match) {
    throw new TypeError(
      `tcp: "${redactUrl(target)}" is not a host and port; write it as "host:port" or "tcp://host:port"`,
    )
  }
  return { host: match[1] as string, port: checkPort(Number(match[2]), target) }
}

function checkPort(port: unknown, input: string): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`tcp: the port in ${redactUrl(input)} must be a number from 1 to 65535`)
  }
  return port
}
