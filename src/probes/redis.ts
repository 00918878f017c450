import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redact, redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { InFlightPerClient } from './in-flight.js'
import { describeNetworkError, errorCode, socketParamProblem } from './network-error.js'
import { type SocketExchangeOptions, socketExchange } from './socket.js'
import { timed, type UntimedDetails } from './timed.js'

/** An ioredis `Redis` client (the parts the probe reads). */
export interface IoRedisClientLike {
  status: string
  ping(): Promise<string>
  // `| undefined`: ioredis types these so, and under exactOptionalPropertyTypes a bare `?:`
  // would refuse its clients.
  options: { host?: string | undefined; port?: number | undefined; path?: string | undefined }
}

/** An ioredis `Cluster`. */
export interface IoRedisClusterLike {
  isCluster: boolean
  status: string
  nodes(role?: 'all' | 'master' | 'slave'): IoRedisClientLike[]
}

/** A node-redis (v4+) client from `createClient()`. */
export interface NodeRedisClientLike {
  isOpen: boolean
  isReady: boolean
  ping(): Promise<string>
}

/** A node-redis (v4+) cluster from `createCluster()`. */
export interface NodeRedisClusterLike {
  isOpen: boolean
  readonly masters: readonly { host: string; port: number }[]
  // biome-ignore lint/suspicious/noExplicitAny: node-redis types its node argument with many generics
  nodeClient(node: any): Promise<NodeRedisClientLike> | NodeRedisClientLike
}

export type RedisClientLike = IoRedisClientLike | IoRedisClusterLike | NodeRedisClientLike | NodeRedisClusterLike

export interface RedisProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `redis`. */
  name?: string
  /** `rediss://` only: extra trusted CA certificates (PEM). */
  ca?: string | Buffer | readonly (string | Buffer)[]
  /** `rediss://` only: accept any server certificate. */
  insecure?: boolean
}

const REDIS_OPTION_KEYS = optionKeys<RedisProbeOptions>()({
  name: true,
  ca: true,
  insecure: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
})

const pings = new InFlightPerClient<object, string>()

/**
 * Passes when Redis answers PING. Takes the app's own client — ioredis (`Redis` or
 * `Cluster`) or node-redis v4+ (`createClient()` or `createCluster()`) — or a `redis://` /
 * `rediss://` URL, for which it opens one connection (AUTH if the URL has credentials,
 * then PING) under `connectTimeout` and closes it. For a cluster every master must answer;
 * the failure names the ones that did not.
 *
 * The app's client is shared, so at the deadline the probe stops waiting but does not kill
 * it. Drivers queue a command until the server answers, so against a hung server each
 * check joins the PING still in flight instead of sending another: the client holds at
 * most one probe command however many checks time out, and the first check after the
 * server recovers passes. In URL mode the socket is destroyed at the deadline.
 *
 * @example
 * import { Redis } from 'ioredis'
 * const client = new Redis(process.env.REDIS_URL)
 * health.add(redis(client))
 * health.add(redis('redis://cache.internal:6379', { name: 'cache', critical: false }))
 */
export function redis(clientOrUrl: RedisClientLike | string | URL, options: RedisProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('redis', clientOrUrl, 'client'), options, REDIS_OPTION_KEYS)
  const { name = 'redis', connectTimeout: _ct, ca, insecure, ...probeOptions } = options
  const base = { componentType: 'datastore', ...probeOptions, name }
  if (typeof clientOrUrl === 'string' || clientOrUrl instanceof URL) {
    const target = parseRedisUrl(String(clientOrUrl))
    if (target.tls) target.tls = { ca: ca as TlsOptions['ca'], insecure: insecure === true }
    const limitMs = connectTimeoutMs(options, `redis ${target.shown}`)
    return { ...base, check: ({ signal }) => timed(() => pong(pingOnce(target, limitMs, signal), target.address)) }
  }
  const client = clientOrUrl as unknown
  if (isIoRedisCluster(client)) {
    return { ...base, check: ({ signal }) => timed(() => checkIoRedisCluster(client, signal)) }
  }
  if (isNodeRedisCluster(client)) {
    return { ...base, check: ({ signal }) => timed(() => checkNodeRedisCluster(client, signal)) }
  }
  if (isIoRedisClient(client)) {
    const address = ioRedisAddress(client)
    return { ...base, check: ({ signal }) => timed(() => pong(pingIoRedis(client, address, signal), address)) }
  }
  if (isNodeRedisClient(client)) {
    const address = nodeRedisAddress(client)
    return { ...base, check: ({ signal }) => timed(() => pong(pingNodeRedis(client, address, signal), address)) }
  }
  throw new TypeError(
    'redis(client): expected an ioredis client or cluster, a node-redis client or cluster, or a redis:// URL',
  )
}

// --- the app's clients ---------------------------------------------------------------

function isIoRedisCluster(value: unknown): value is IoRedisClusterLike {
  const c = value as IoRedisClusterLike | null
  return !!c && typeof c === 'object' && c.isCluster === true && typeof c.nodes === 'function'
}

function isIoRedisClient(value: unknown): value is IoRedisClientLike {
  const c = value as IoRedisClientLike | null
  return (
    !!c &&
    typeof c === 'object' &&
    typeof c.ping === 'function' &&
    typeof c.status === 'string' &&
    typeof c.options === 'object'
  )
}

function isNodeRedisClient(value: unknown): value is NodeRedisClientLike {
  const c = value as NodeRedisClientLike | null
  return !!c && typeof c === 'object' && typeof c.ping === 'function' && 'isOpen' in c && 'isReady' in c
}

function isNodeRedisCluster(value: unknown): value is NodeRedisClusterLike {
  const c = value as NodeRedisClusterLike | null
  return !!c && typeof c === 'object' && 'masters' in c && typeof c.nodeClient === 'function'
}

// ioredis queues commands in every status but `ready` until it is (dis)connected, across
// many reconnect attempts; so the probe only sends PING to a ready client, or to a lazy
// one (`wait`) that the PING itself connects, and otherwise fails at once with a diagnosis.
const SENDABLE = new Set(['ready', 'wait'])
// A connection attempt under way: the socket is opening (`connecting`) or open with the
// ready check running (`connect`). A client created a moment ago is here, and is ready
// within milliseconds; the probe waits for the attempt to end, inside its deadline.
const CONNECTING = new Set(['connecting', 'connect'])
const ATTEMPT_ENDS = ['ready', 'close', 'end'] as const

async function pingIoRedis(client: IoRedisClientLike, address: string, signal: AbortSignal): Promise<void> {
  if (CONNECTING.has(client.status)) await attemptEnded(client, signal)
  if (!SENDABLE.has(client.status)) {
    const why = await diagnose(ioRedisTarget(client), signal)
    throw new NotReady(`redis ${address}: not connected (ioredis status "${client.status}")${why}`)
  }
  await expectPong(
    pings.for(client).run(() => client.ping()),
    address,
    signal,
  )
}

/**
 * Resolves when the client's connection attempt ends (ready, or closed), and rejects at the
 * deadline; either way the listeners it added are gone. It listens to the client's own
 * lifecycle events only, never to `error`, which belongs to the app.
 */
async function attemptEnded(client: IoRedisClientLike, signal: AbortSignal): Promise<void> {
  const emitter = client as Partial<Pick<NodeJS.EventEmitter, 'once' | 'removeListener'>>
  if (typeof emitter.once !== 'function' || typeof emitter.removeListener !== 'function') return
  let ended: () => void = () => {}
  const attempt = new Promise<void>((resolve) => {
    ended = resolve
  })
  for (const event of ATTEMPT_ENDS) emitter.once.call(client, event, ended)
  try {
    // The status may have moved on between the caller's look and the listeners.
    if (!CONNECTING.has(client.status)) return
    await untilAborted(attempt, signal)
  } finally {
    for (const event of ATTEMPT_ENDS) emitter.removeListener.call(client, event, ended)
  }
}

async function pingNodeRedis(client: NodeRedisClientLike, address: string, signal: AbortSignal): Promise<void> {
  if (!client.isOpen) throw new NotReady(`redis ${address}: the client is closed`)
  if (!client.isReady) {
    const why = await diagnose(nodeRedisTarget(client), signal)
    throw new NotReady(`redis ${address}: not connected (the client is reconnecting)${why}`)
  }
  await expectPong(
    pings.for(client).run(() => client.ping()),
    address,
    signal,
  )
}

const DIAGNOSE_LIMIT_MS = 1000

/**
 * Why a disconnected client cannot connect. The app's client only says "reconnecting";
 * its own error events belong to the app (listening to them would change its logging), so
 * the probe asks the server itself, once, with the client's settings: the answer is
 * "connection refused", "authentication failed" and the like.
 */
async function diagnose(target: RedisTarget | undefined, signal: AbortSignal): Promise<string> {
  if (!target) return ''
  try {
    await pingOnce(target, DIAGNOSE_LIMIT_MS, signal)
    return '; the server answers PING, so the client should reconnect shortly'
  } catch (error) {
    if (signal.aborted) throw error
    const text = error instanceof Error ? error.message : String(error)
    const prefix = `redis ${target.address}: `
    return `: ${text.startsWith(prefix) ? text.slice(prefix.length) : text}`
  }
}

function ioRedisTarget(client: IoRedisClientLike): RedisTarget | undefined {
  const o = client.options as IoRedisClientLike['options'] & {
    username?: string
    password?: string
    tls?: { ca?: TlsOptions['ca']; rejectUnauthorized?: boolean; servername?: string }
  }
  const host = o.host ?? 'localhost'
  const port = o.port ?? 6379
  const address = o.path || `${host}:${port}`
  return {
    host,
    port,
    ...(o.path ? { path: o.path } : {}),
    tls: o.tls && !o.path ? { ca: o.tls.ca, insecure: o.tls.rejectUnauthorized === false } : undefined,
    username: o.password === undefined ? undefined : o.username || undefined,
    password: o.password || undefined,
    db: 0,
    address,
    shown: address,
  }
}

function nodeRedisTarget(client: NodeRedisClientLike): RedisTarget | undefined {
  const o = (client as { options?: NodeRedisOptions }).options
  if (!o) return undefined
  let target: RedisTarget
  if (o.socket?.path) {
    const path = o.socket.path
    target = {
      host: 'localhost',
      port: 6379,
      path,
      tls: undefined,
      username: undefined,
      password: undefined,
      db: 0,
      address: path,
      shown: '',
    }
  } else if (o.url) {
    try {
      target = parseRedisUrl(o.url)
    } catch {
      return undefined
    }
  } else {
    const host = o.socket?.host ?? 'localhost'
    const port = o.socket?.port ?? 6379
    target = {
      host,
      port,
      tls: undefined,
      username: undefined,
      password: undefined,
      db: 0,
      address: `${host}:${port}`,
      shown: '',
    }
  }
  if (o.socket?.tls && !target.path) target.tls = { ca: o.socket.ca, insecure: o.socket.rejectUnauthorized === false }
  if (o.password !== undefined) {
    target.password = o.password
    target.username = o.username
  }
  return target
}

interface NodeRedisOptions {
  url?: string
  username?: string
  password?: string
  socket?: {
    host?: string
    port?: number
    path?: string
    tls?: boolean
    ca?: TlsOptions['ca']
    rejectUnauthorized?: boolean
  }
}

async function expectPong(ping: Promise<string>, address: string, signal: AbortSignal): Promise<void> {
  let reply: string
  try {
    reply = await untilAborted(ping, signal)
  } catch (error) {
    if (signal.aborted) throw error
    throw clientReason(error, address)
  }
  if (reply !== 'PONG') throw new NotReady(`redis ${address}: unexpected reply to PING: ${JSON.stringify(reply)}`)
}

/** A passing check's details, once `ping` has had its PONG (and what it noticed on the way). */
async function pong(ping: Promise<string | undefined | void>, address: string): Promise<UntimedDetails> {
  const note = await ping
  return { message: note === undefined ? 'PONG' : `PONG (${note})`, componentId: address }
}

async function checkIoRedisCluster(cluster: IoRedisClusterLike, signal: AbortSignal): Promise<UntimedDetails> {
  const connected = new Map(cluster.nodes('master').map((node) => [ioRedisAddress(node), node]))
  // ioredis drops a master it lost from nodes(); the slot table still names every master
  // that owns slots, so a dead one is missed, not silently skipped.
  const owners = new Set<string>()
  for (const slot of (cluster as { slots?: unknown[][] }).slots ?? []) {
    if (Array.isArray(slot) && typeof slot[0] === 'string') owners.add(slot[0])
  }
  const addresses = [...new Set([...owners, ...connected.keys()])]
  if (addresses.length === 0) {
    throw new NotReady(`redis cluster: no master nodes known (ioredis cluster status "${cluster.status}")`)
  }
  const redisOptions = (cluster as { options?: { redisOptions?: IoRedisClientLike['options'] } }).options?.redisOptions
  const outcomes = await untilAborted(
    Promise.allSettled(
      addresses.map(async (address) => {
        const node = connected.get(address)
        if (node) return pingIoRedis(node, address, signal)
        const [host, port] = splitAddress(address)
        const why = await diagnose(
          ioRedisTarget({ status: 'end', ping: noPing, options: { ...redisOptions, host, port } }),
          signal,
        )
        throw new NotReady(`redis ${address}: not connected (the cluster client lost this master)${why}`)
      }),
    ),
    signal,
  )
  return clusterOutcome(addresses, outcomes)
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':')
  return [address.slice(0, colon), Number(address.slice(colon + 1))]
}

const noPing = () => Promise.reject(new Error('not connected'))

async function checkNodeRedisCluster(cluster: NodeRedisClusterLike, signal: AbortSignal): Promise<UntimedDetails> {
  if (!cluster.isOpen) throw new NotReady('redis cluster: the cluster client is closed')
  const masters = [...cluster.masters]
  if (masters.length === 0) throw new NotReady('redis cluster: no master nodes known')
  const addresses = masters.map((m) => `${m.host}:${m.port}`)
  const outcomes = await untilAborted(
    Promise.allSettled(
      masters.map(async (master, i) => {
        const address = addresses[i] as string
        let client: NodeRedisClientLike
        try {
          client = await untilAborted(Promise.resolve(cluster.nodeClient(master)), signal)
        } catch (error) {
          if (signal.aborted) throw error
          throw clientReason(error, address)
        }
        await pingNodeRedis(client, address, signal)
      }),
    ),
    signal,
  )
  return clusterOutcome(addresses, outcomes)
}

function clusterOutcome(addresses: string[], outcomes: PromiseSettledResult<void>[]): UntimedDetails {
  const failed: string[] = []
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'rejected') {
      const text = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)
      // The reasons already start with "redis ADDRESS: ".
      failed.push(text.startsWith('redis ') ? text.slice(6) : `${addresses[i]}: ${text}`)
    }
  })
  if (failed.length > 0) {
    throw new NotReady(
      `redis cluster: ${failed.length} of ${addresses.length} masters did not answer PING: ${failed.join('; ')}`,
    )
  }
  return { message: `PONG from ${addresses.length} masters`, componentId: addresses.join(',') }
}

function clientReason(error: unknown, address: string): NotReady {
  const text = error instanceof Error ? error.message : String(error)
  if (/^(NOAUTH|WRONGPASS)|invalid (username-)?password|AUTH/i.test(text)) {
    return new NotReady(`redis ${address}: authentication failed (${text.split(' ')[0]}): check the password`)
  }
  if (errorCode(error)) return new NotReady(`redis ${address}: ${describeNetworkError(error)}`)
  return new NotReady(`redis ${address}: ${text || 'failed'}`)
}

function ioRedisAddress(client: IoRedisClientLike): string {
  const { host, port, path } = client.options ?? {}
  if (path) return path
  return `${host ?? 'localhost'}:${port ?? 6379}`
}

function nodeRedisAddress(client: NodeRedisClientLike): string {
  const options = (client as { options?: NodeRedisOptions }).options
  const socket = options?.socket
  if (socket?.path) return socket.path
  if (socket?.host || socket?.port) return `${socket.host ?? 'localhost'}:${socket.port ?? 6379}`
  if (options?.url) {
    try {
      const url = new URL(options.url)
      return `${url.hostname}:${url.port || 6379}`
    } catch {}
  }
  return 'localhost:6379'
}

// --- URL mode: one connection speaking just enough RESP for AUTH, SELECT and PING -------

interface RedisTarget {
  host: string
  port: number
  /** The server's Unix-domain socket (`?socket=`, ioredis' `path`), used instead of host and port. */
  path?: string
  /** TLS settings, or undefined for plain TCP. */
  tls: { ca?: TlsOptions['ca']; insecure: boolean } | undefined
  username: string | undefined
  password: string | undefined
  /** The database of the URL's path (`redis://host:6379/2`), selected before the PING; 0 needs no SELECT. */
  db: number
  /** `host:port`, or the socket's path */
  address: string
  /** The URL with its password masked. */
  shown: string
}

function parseRedisUrl(text: string): RedisTarget {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new TypeError(`redis: "${redactUrl(text)}" is not a URL; write it as redis://[:password@]host:6379`)
  }
  const shown = redactUrl(text)
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError(`redis: "${shown}" must start with redis:// or rediss://`)
  }
  const path = socketOf(url, shown)
  if (!url.hostname && path === undefined)
    throw new TypeError(
      `redis: "${shown}" names no host; write it as redis://host:6379, or name a Unix socket with ?socket=/run/redis/redis-server.sock`,
    )
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = Number(url.port || 6379)
  const badEscape = userinfoEscapeProblem(url)
  if (badEscape) throw new TypeError(`redis: "${shown}": ${badEscape}`)
  const password = url.password ? decodeURIComponent(url.password) : undefined
  // redis://user@host (no colon) is a password alone, as redis-cli and ioredis read it.
  const username = url.username ? decodeURIComponent(url.username) : undefined
  // The path is the database number, as redis-cli -u and ioredis read it: a check of
  // redis://host/3 fails when the server has no database 3 (SELECT), as the app would.
  const database = url.pathname.slice(1)
  if (database !== '' && !/^[0-9]{1,9}$/.test(database)) {
    throw new TypeError(
      `redis: "${shown}" has the path /${database.slice(0, 40)}, not a database number; write it as redis://host:6379/0`,
    )
  }
  return {
    host,
    port,
    ...(path === undefined ? {} : { path }),
    tls: url.protocol === 'rediss:' ? { insecure: false } : undefined,
    username: password === undefined ? undefined : username,
    password: password ?? username,
    db: database === '' ? 0 : Number(database),
    address: path ?? `${url.hostname}:${port}`,
    shown,
  }
}

/**
 * The Unix-domain socket a URL names with `?socket=` (as probekit's mysql:// URLs do), or
 * undefined. The one parameter a redis:// URL takes: any other would be ignored by the
 * check while the app's driver reads it, so it is refused.
 */
function socketOf(url: URL, shown: string): string | undefined {
  for (const name of new Set(url.searchParams.keys())) {
    if (name !== 'socket')
      throw new TypeError(
        `redis: "${shown}" has the parameter ${JSON.stringify(name.slice(0, 40))}, which the check does not read; a redis:// URL takes only socket=/path/to/redis.sock (the database is the path: redis://host:6379/2)`,
      )
  }
  const sockets = url.searchParams.getAll('socket')
  if (sockets.length === 0) return undefined
  if (sockets.length > 1) throw new TypeError(`redis: "${shown}" gives socket= ${sockets.length} times; give it once`)
  const path = sockets[0] as string
  const problem = socketParamProblem(path, '/run/redis/redis-server.sock')
  if (problem) throw new TypeError(`redis: "${shown}"${problem}`)
  if (url.protocol === 'rediss:')
    throw new TypeError(
      `redis: "${shown}" asks for TLS (rediss://) through a Unix socket, which Redis serves in plain text only; write redis://`,
    )
  return path
}

function bulk(...parts: string[]): Buffer {
  let out = `*${parts.length}\r\n`
  for (const part of parts) out += `$${Buffer.byteLength(part)}\r\n${part}\r\n`
  return Buffer.from(out)
}

const MAX_REPLY_BYTES = 64 * 1024

/**
 * Connects, authenticates when the URL carries credentials, selects the URL's database
 * (other than 0), sends PING and resolves on `+PONG`, with a note when the server took the
 * commands but said something worth knowing. The commands go in one write; the socket is
 * destroyed on every outcome, including the signal firing.
 */
function pingOnce(target: RedisTarget, limitMs: number, signal: AbortSignal): Promise<string | undefined> {
  const options: SocketExchangeOptions = {
    host: target.host,
    port: target.port,
    ...(target.path === undefined ? {} : { path: target.path }),
    what: `redis ${target.address}`,
    limitMs,
    signal,
    closedEarly: 'the server closed the connection before answering',
    plainHint: 'if the port takes TLS, write rediss://',
  }
  if (target.tls && target.path === undefined) {
    options.tls = { ca: target.tls.ca, rejectUnauthorized: !target.tls.insecure }
    options.tlsTrustHint = "trust the server's CA with the ca option, or set insecure"
  }
  let note: string | undefined
  const exchange = socketExchange(options, ({ socket, done, fail }) => {
    // Replies expected, in order: AUTH (when credentials are given), SELECT (a database
    // other than 0), then PING.
    const steps: Step[] = []
    if (target.password !== undefined) steps.push('auth')
    if (target.db !== 0) steps.push('select')
    steps.push('ping')
    let buffer = ''
    return {
      connected() {
        socket.setNoDelay(true)
        const auth =
          target.password === undefined
            ? []
            : [
                target.username === undefined
                  ? bulk('AUTH', target.password)
                  : bulk('AUTH', target.username, target.password),
              ]
        const select = target.db === 0 ? [] : [bulk('SELECT', String(target.db))]
        socket.write(Buffer.concat([...auth, ...select, bulk('PING')]))
      },
      data(chunk) {
        buffer += chunk.toString('latin1')
        for (;;) {
          const step = steps[0]
          if (!step) return
          const first = buffer[0]
          if (first !== undefined && first !== '+' && first !== '-') {
            return fail(`not a Redis server (unexpected reply ${JSON.stringify(buffer.slice(0, 24))})`)
          }
          const end = buffer.indexOf('\r\n')
          if (end < 0) {
            if (buffer.length > MAX_REPLY_BYTES) fail('not a Redis server (reply too long)')
            return
          }
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          steps.shift()
          if (line.startsWith('-')) {
            // A password the server does not ask for: the app's driver (ioredis) warns and
            // goes on, and so the server is usable; the check passes and says so.
            if (step === 'auth' && /without any password configured/i.test(line)) {
              note = 'the server needs no password, and the URL gives one'
              continue
            }
            return fail(errorReply(line.slice(1), step, target.db))
          }
          if (step === 'ping') {
            if (line === '+PONG') return done()
            return fail(`unexpected reply to PING: ${JSON.stringify(line.slice(0, 40))}`)
          }
        }
      },
    }
  })
  return exchange.then(() => note)
}

type Step = 'auth' | 'select' | 'ping'

/**
 * The reason for a Redis error about credentials (`NOAUTH …`, `WRONGPASS …`, as a reply or
 * a driver's error message), or undefined for any other error.
 */
export function credentialsReason(text: string): string | undefined {
  const code = text.split(' ')[0]
  if (code === 'NOAUTH')
    // Not an example URL: its password part would be masked (`redis://:***@…`) on the way out.
    return 'authentication required (NOAUTH): the server asks for a password, and none was given'
  if (code === 'WRONGPASS') return 'authentication failed (WRONGPASS): check the user and password'
  return undefined
}

/** The reason for an error reply from the server. */
function errorReply(text: string, step: Step, db: number): string {
  const code = text.split(' ')[0] ?? ''
  if (step === 'select' && code !== 'NOAUTH') {
    // "ERR DB index is out of range", or "SELECT is not allowed in cluster mode".
    return `cannot select database ${db} (${redact(text).slice(0, 120)})`
  }
  const credentials = credentialsReason(text)
  if (credentials) return credentials
  if (step === 'auth') return `authentication failed (${code || 'AUTH'}): check the user and password`
  // Redacted whole, then cut: the server's error may quote a connection string.
  return redact(text).slice(0, 200)
}
