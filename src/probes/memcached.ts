import type { Socket } from 'node:net'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redact } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { InFlightPerClient } from './in-flight.js'
import { loadDriver } from './load-driver.js'
import { describeNetworkError, errorCode, printable } from './network-error.js'
import { timed, type UntimedDetails } from './timed.js'

/** One server of a memjs client. */
export interface MemjsServerLike {
  host: string
  port: number
}

/** A memjs client (`memjs.Client.create(servers, options)`). */
export interface MemjsClientLike {
  readonly servers: readonly MemjsServerLike[]
  stats(callback: (error: Error | null, server: string, stats: Record<string, string> | null) => void): void
}

export interface MemcachedProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `memcached`. */
  name?: string
}

const MEMCACHED_OPTION_KEYS = optionKeys<MemcachedProbeOptions>()({ name: true, ...PROBE_OPTIONS, ...CONNECT_OPTIONS })

type ServerOutcome = { server: string; error?: unknown }

const rounds = new InFlightPerClient<object, ServerOutcome[]>()
const noop = () => {}

/**
 * Passes when every configured memcached server returns its stats. Takes the app's memjs
 * client, or a server list — `host:port,host:port`, optionally `memcached://` in front and
 * `user:password@` per server for SASL — for which it opens one connection per server under
 * `connectTimeout` and closes them. When some servers answer and others do not, the check
 * fails and names the ones that did not.
 *
 * memjs has its own per-request timeout (`timeout`, 0.5 s by default), after which a silent
 * server counts as failed and is named; the probe's deadline still caps the whole check.
 * With the app's client, a check joins a stats round still in flight instead of starting
 * another.
 *
 * @example
 * const cache = memjs.Client.create('cache-1:11211,cache-2:11211')
 * health.add(memcached(cache, { critical: false }))
 */
export function memcached(clientOrServers: MemjsClientLike | string, options: MemcachedProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('memcached', clientOrServers, 'client'), options, MEMCACHED_OPTION_KEYS)
  const { name = 'memcached', connectTimeout: _ct, ...probeOptions } = options
  const base = { componentType: 'datastore', ...probeOptions, name }
  if (typeof clientOrServers === 'string') {
    const servers = parseServers(clientOrServers)
    const limitMs = connectTimeoutMs(options, 'memcached')
    const componentId = servers.map((s) => s.address).join(',')
    return {
      ...base,
      check: ({ signal }) => timed(async () => verdict(await statsOnce(servers, limitMs, signal), componentId)),
    }
  }
  const client = clientOrServers as unknown
  if (!isMemjsClient(client)) {
    throw new TypeError('memcached(client): expected a memjs client or a "host:port,host:port" server list')
  }
  const componentId = client.servers.map((s) => `${s.host}:${s.port}`).join(',')
  return {
    ...base,
    check: ({ signal }) =>
      timed(async () => {
        const outcomes = await untilAborted(
          rounds.for(client).run(() => statsRound(client)),
          signal,
        )
        return verdict(outcomes, componentId)
      }),
  }
}

/** Asks every server for its stats; resolves once each has answered or failed. */
function statsRound(client: MemjsClientLike): Promise<ServerOutcome[]> {
  const expected = client.servers.map((s) => `${s.host}:${s.port}`)
  if (expected.length === 0) return Promise.reject(new NotReady('memcached: the client has no servers'))
  return new Promise((resolve) => {
    const outcomes = new Map<string, ServerOutcome>()
    client.stats((error: unknown, server: string) => {
      const address = String(server)
      // memjs may report a server more than once (one callback per failing stat line).
      if (outcomes.has(address)) return
      outcomes.set(address, error ? { server: address, error } : { server: address })
      if (outcomes.size === expected.length)
        resolve(expected.map((s) => outcomes.get(s) ?? { server: s, error: 'no answer' }))
    })
  })
}

function verdict(outcomes: ServerOutcome[], componentId: string): UntimedDetails {
  const failed = outcomes.filter((o) => o.error !== undefined)
  if (failed.length > 0) {
    const list = failed.map((o) => `${o.server} (${describe(o.error)})`).join('; ')
    const answered = outcomes.length - failed.length
    throw new NotReady(
      `memcached: ${failed.length} of ${outcomes.length} servers did not answer: ${list}` +
        (answered > 0 ? `; ${answered} answered` : ''),
    )
  }
  const count = outcomes.length
  return { message: `stats from ${count} server${count === 1 ? '' : 's'}`, componentId }
}

function describe(error: unknown): string {
  // memjs reports a failed SASL exchange as a bare string.
  const text = error instanceof Error ? error.message : String(error)
  if (/authentication failed/i.test(text)) return 'authentication failed: check the user and password'
  if (/timed out waiting on response/i.test(text)) return "no answer within the client's timeout"
  if (/timed out connecting/i.test(text)) return 'connect timed out'
  if (errorCode(error)) return describeNetworkError(error)
  return redact(text) || 'failed'
}

// --- server-list mode ------------------------------------------------------------------

interface ServerSpec {
  /** `host:port`, as shown. */
  address: string
  /** What memjs is given, with credentials. */
  spec: string
}

function parseServers(text: string): ServerSpec[] {
  const list = text.replace(/^memcached:\/\//i, '').replace(/\/+$/, '')
  const parts = list.split(',').map((s) => s.trim())
  if (list === '' || parts.some((p) => p === '')) {
    const shown = text.split(',').map(maskCredentials).join(',')
    throw new TypeError(`memcached: "${redact(shown)}" is not a server list; write it as host:11211,host:11212`)
  }
  return parts.map((part) => {
    const at = part.lastIndexOf('@')
    const hostPort = part.slice(at + 1)
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort)
    if (!match) {
      throw new TypeError(
        `memcached: "${redact(maskCredentials(part))}" is not host:port; write the servers as host:11211,host:11212`,
      )
    }
    const address = `${match[1]}:${match[2] ?? 11211}`
    return { address, spec: at >= 0 ? `${part.slice(0, at)}@${address}` : address }
  })
}

/**
 * One server of a list as it may be shown: `user:***@host:port`. A server list is no URL,
 * so `redact` would not find the password of `user:password@host` in it; everything between
 * the user's colon and the last `@` (a password may hold `@` or `:`) is masked here.
 */
function maskCredentials(server: string): string {
  const at = server.lastIndexOf('@')
  if (at < 0) return server
  const scheme = /^memcached:\/\//i.exec(server)?.[0] ?? ''
  const userinfo = server.slice(scheme.length, at)
  const colon = userinfo.indexOf(':')
  return `${scheme}${colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`}${server.slice(at)}`
}

interface MemjsModule {
  Client: { create(servers: string, options: Record<string, unknown>): MemjsClientLike & { close(): void } }
}

async function statsOnce(servers: ServerSpec[], limitMs: number, signal: AbortSignal): Promise<ServerOutcome[]> {
  const loaded = await loadDriver<MemjsModule & { default?: MemjsModule }>(
    'memjs',
    'The memcached probe with a server list',
  )
  const memjs = loaded.Client ? loaded : loaded.default
  if (!memjs?.Client) throw new Error('The memcached probe could not find Client in the "memjs" package')
  if (signal.aborted) throw signal.reason
  const seconds = limitMs / 1000
  const client = memjs.Client.create(servers.map((s) => s.spec).join(','), {
    timeout: seconds,
    conntimeout: seconds,
    retries: 1,
    logger: { log: noop },
  })
  type ServerWithSocket = MemjsServerLike & { _socket?: Socket; error?(error: Error): void }
  const sockets: Socket[] = []
  // memjs' close() only half-closes each socket, which a hung server never completes; and
  // when memjs' own timeout fires it half-closes the socket and forgets it, so the sockets
  // are kept here from the start and destroyed whichever way the check ends.
  const close = () => {
    for (const socket of sockets) socket.destroy()
    client.close()
  }
  signal.addEventListener('abort', close, { once: true })
  let settled = false
  try {
    const round = statsRound(client)
    // The first request opened the sockets.
    for (const server of client.servers as ServerWithSocket[]) {
      const socket = server._socket
      if (!socket) continue
      sockets.push(socket)
      // A server that answers something other than the binary protocol (every response
      // starts with the magic byte 0x81) would leave memjs waiting for a header until the
      // deadline: it fails at once, naming what it said.
      socket.once('data', (chunk: Buffer) => {
        if (chunk[0] === 0x81) return
        const said = JSON.stringify(printable(chunk.subarray(0, 24).toString('latin1')))
        socket.destroy(
          new Error(`not a memcached server (it answered ${said} where memcached's binary protocol was due)`),
        )
      })
      // A server that closes the connection without an error (at its connection limit, or
      // a proxy with no backend) leaves memjs' request pending, as memjs only fails requests
      // on errors and its own timers: it fails at once too.
      socket.once('close', (hadError: boolean) => {
        if (!settled && !hadError) server.error?.(new Error('the server closed the connection without answering'))
      })
    }
    const outcomes = await untilAborted(round, signal)
    // memjs names servers by host:port; show the list as the user wrote it.
    return outcomes.map((o, i) => ({ ...o, server: servers[i]?.address ?? o.server }))
  } finally {
    settled = true
    signal.removeEventListener('abort', close)
    close()
  }
}

function isMemjsClient(value: unknown): value is MemjsClientLike {
  const v = value as MemjsClientLike | null
  return !!v && typeof v === 'object' && Array.isArray(v.servers) && typeof v.stats === 'function'
}
