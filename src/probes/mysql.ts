import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { decodeLoose, redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimedOut, connectTimeoutMs } from './connect-timeout.js'
import { InFlightPerClient } from './in-flight.js'
import { loadDriver } from './load-driver.js'
import { describeNetworkError, describeSocketError, errorCode, printable, socketParamProblem } from './network-error.js'
import { withPooledConnection } from './pool.js'
import { timed } from './timed.js'

type QueryCallback = (error: Error | null, rows?: unknown) => void

/** A mysql2 connection, callback API (`mysql2.createConnection()` or a pooled one). */
export interface MysqlConnectionLike {
  query(sql: string, callback: QueryCallback): unknown
  ping(callback?: (error: Error | null) => void): unknown
  destroy(): void
}

/** A mysql2 pool, callback API (`mysql2.createPool()`). */
export interface MysqlPoolLike {
  getConnection(callback: (error: Error | null, connection: MysqlConnectionLike & { release(): void }) => void): void
}

/** mysql2/promise wraps the callback objects: the probe unwraps them. */
export interface MysqlPromisePoolLike {
  pool: MysqlPoolLike
}
/** A mysql2/promise connection; at runtime it wraps a callback connection, which the probe uses. */
export interface MysqlPromiseConnectionLike {
  ping(): Promise<void>
  end(): Promise<void>
}

export type MysqlClientLike = MysqlPoolLike | MysqlConnectionLike | MysqlPromisePoolLike | MysqlPromiseConnectionLike

export interface MysqlProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `mysql`. */
  name?: string
}

const MYSQL_OPTION_KEYS = optionKeys<MysqlProbeOptions>()({ name: true, ...PROBE_OPTIONS, ...CONNECT_OPTIONS })

const noop = () => {}
const selects = new InFlightPerClient<object, unknown>()

/**
 * Passes when MySQL or MariaDB answers `SELECT 1`. Takes the app's mysql2 pool or
 * connection (callback or promise API), or a `mysql://` (or `mariadb://`) URL, for which it
 * opens one connection under `connectTimeout` and closes it.
 *
 * A hung server never drains the app's pool nor queues work on its connection: pools are
 * borrowed from as `postgres()` borrows (one connection a check, destroyed if the query
 * outlives the deadline, one pending borrow at a time — see ./pool.ts), and checks on a
 * shared connection join the `SELECT 1` in flight.
 *
 * @example
 * const pool = mysql.createPool(process.env.MYSQL_URL)
 * health.add(mysql(pool))
 */
export function mysql(clientOrUrl: MysqlClientLike | string | URL, options: MysqlProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('mysql', clientOrUrl, 'client'), options, MYSQL_OPTION_KEYS)
  const { name = 'mysql', connectTimeout: _ct, ...probeOptions } = options
  const base = { componentType: 'datastore', ...probeOptions, name }
  if (typeof clientOrUrl === 'string' || clientOrUrl instanceof URL) {
    const url = parseMysqlUrl(String(clientOrUrl))
    const limitMs = connectTimeoutMs(options, 'mysql')
    const componentId = urlAddress(url)
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          await queryUrl(url, componentId, limitMs, signal)
          return { message: 'SELECT 1', componentId }
        }),
    }
  }
  const handle = unwrap(clientOrUrl)
  const componentId = clientAddress(handle)
  const what = `mysql ${componentId}`
  if (isPool(handle)) {
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          await queryPool(handle, what, signal)
          return { message: 'SELECT 1', componentId }
        }),
    }
  }
  if (isConnection(handle)) {
    return {
      ...base,
      check: ({ signal }) =>
        timed(async () => {
          const query = selects.for(handle).run(() => select1(handle))
          try {
            await untilAborted(query, signal)
          } catch (error) {
            if (signal.aborted) throw error
            throw reason(error, what)
          }
          return { message: 'SELECT 1', componentId }
        }),
    }
  }
  throw new TypeError('mysql(client): expected a mysql2 pool or connection (callback or promise API) or a mysql:// URL')
}

function select1(connection: MysqlConnectionLike): Promise<unknown> {
  return new Promise((resolve, reject) => {
    connection.query('SELECT 1', (error, rows) => (error ? reject(error) : resolve(rows)))
  })
}

function queryPool(pool: MysqlPoolLike, what: string, signal: AbortSignal): Promise<unknown> {
  return withPooledConnection<MysqlConnectionLike & { release(): void }, unknown>(pool, signal, {
    acquire: () =>
      new Promise((resolve, reject) =>
        pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
      ),
    use: select1,
    release: (connection) => connection.release(),
    discard: destroy,
    destroy,
    reason: (error) => reason(error, what),
  })
}

/**
 * mysql2's destroy() only half-closes the socket (stream.end()), which a hung server never
 * answers; destroying the stream frees it now. A pooled connection leaves its pool first.
 */
function destroy(connection: MysqlConnectionLike): void {
  try {
    connection.destroy()
  } catch {}
  ;(connection as { stream?: { destroy?: () => void } }).stream?.destroy?.()
}

interface Mysql2Module {
  createConnection(config: Record<string, unknown>): MysqlConnectionLike & { on(e: string, f: () => void): void }
}

async function queryUrl(url: URL, address: string, limitMs: number, signal: AbortSignal): Promise<void> {
  const what = `mysql ${address}`
  const loaded = await loadDriver<Mysql2Module & { default?: Mysql2Module }>('mysql2', 'The mysql probe with a URL')
  const driver = typeof loaded.createConnection === 'function' ? loaded : loaded.default
  if (!driver) throw new Error('The mysql probe could not find createConnection in the "mysql2" package')
  if (signal.aborted) throw signal.reason
  const socketPath = url.searchParams.get('socket') || undefined
  const connection = driver.createConnection({
    ...(socketPath
      ? { socketPath }
      : { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 3306) }),
    user: decodeLoose(url.username),
    password: decodeLoose(url.password),
    database: decodeLoose(url.pathname.slice(1)) || undefined,
    connectTimeout: limitMs,
  })
  // Errors after the answer belong to nobody: the connection is being thrown away.
  connection.on('error', noop)
  const close = () => destroy(connection)
  signal.addEventListener('abort', close, { once: true })
  // mysql2 reads the first three bytes of whatever comes as a packet's length and waits for
  // that much: an HTTP or SSH server, or any other, kept the check waiting until the connect
  // timeout. The greeting is judged before mysql2 parses it, and ends the check at once.
  let notMysql: string | undefined
  const stream = (connection as { stream?: NodeJS.EventEmitter & { destroy(): void } }).stream
  stream?.prependOnceListener('data', (chunk: Buffer) => {
    if (isMysqlGreeting(chunk)) return
    notMysql = JSON.stringify(printable(chunk.subarray(0, 40).toString('latin1')))
    stream.destroy()
  })
  try {
    const query = select1(connection)
    query.catch(noop)
    await untilAborted(query, signal)
  } catch (error) {
    if (signal.aborted) throw error
    if (notMysql) throw new NotReady(`${what}: not a MySQL server (it greeted with ${notMysql})`)
    if (errorCode(error) === 'ETIMEDOUT') throw connectTimedOut(what, limitMs)
    throw reason(error, what, socketPath)
  } finally {
    signal.removeEventListener('abort', close)
    close()
  }
}

/**
 * Whether a server's first bytes can begin MySQL's greeting: a packet header (3 bytes of
 * length, sequence number 0) whose payload opens with protocol version 10, or with 0xff for
 * the error a server sends instead (too many connections, a blocked host). A first chunk too
 * short to tell is given the benefit of the doubt.
 */
function isMysqlGreeting(chunk: Buffer): boolean {
  if (chunk.length < 5) return true
  return chunk[3] === 0 && (chunk[4] === 0x0a || chunk[4] === 0xff)
}

function reason(error: unknown, what: string, socketPath?: string): NotReady {
  const code = errorCode(error)
  const text = error instanceof Error ? error.message : String(error)
  if (
    code === 'ER_ACCESS_DENIED_ERROR' ||
    code === 'ER_NOT_SUPPORTED_AUTH_MODE' ||
    code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR'
  ) {
    return new NotReady(`${what}: authentication failed (${code}): ${text}; check the user and password`)
  }
  if (code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    // mysql2's own words end in "See TODO: add plugins doco here…", which helps nobody.
    const plugin = /unknown plugin (\S+?)\.?(?:\s|$)/.exec(text)?.[1] ?? 'the one the server asks for'
    return new NotReady(
      `${what}: the server asks for the authentication plugin ${plugin}, which mysql2 does not speak (${code}); give the user mysql_native_password or caching_sha2_password, or check the app's own mysql2 pool, where authPlugins can add it`,
    )
  }
  if (code?.startsWith('ER_') || code === 'PROTOCOL_CONNECTION_LOST') return new NotReady(`${what}: ${text} (${code})`)
  if (/closed state|Can't add new command/i.test(text)) {
    return new NotReady(`${what}: the connection is closed; the app must reconnect`)
  }
  if (/^Pool is closed/i.test(text)) {
    return new NotReady(`${what}: the pool is closed (pool.end() was called); the app must make a new one`)
  }
  if (code) {
    return new NotReady(`${what}: ${socketPath ? describeSocketError(error, socketPath) : describeNetworkError(error)}`)
  }
  return new NotReady(`${what}: ${text || 'failed'}`)
}

function unwrap(value: unknown): unknown {
  const v = value as { pool?: { getConnection?: unknown }; connection?: { query?: unknown }; getConnection?: unknown }
  if (!v || typeof v !== 'object') return value
  if (v.pool && typeof v.pool.getConnection === 'function' && typeof v.getConnection === 'function') return v.pool
  if (v.connection && typeof v.connection.query === 'function' && typeof v.getConnection !== 'function') {
    return v.connection
  }
  return value
}

function isPool(value: unknown): value is MysqlPoolLike {
  return !!value && typeof value === 'object' && typeof (value as MysqlPoolLike).getConnection === 'function'
}

function isConnection(value: unknown): value is MysqlConnectionLike {
  const v = value as MysqlConnectionLike | null
  return !!v && typeof v === 'object' && typeof v.query === 'function' && typeof v.ping === 'function'
}

function parseMysqlUrl(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new TypeError(
      `mysql: "${redactUrl(text)}" is not a URL; write it as mysql://user:password@host:3306/database`,
    )
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new TypeError(`mysql: "${redactUrl(text)}" must start with mysql:// or mariadb://`)
  }
  if (!url.hostname) throw new TypeError(`mysql: "${redactUrl(text)}" names no host; write it as mysql://host:3306`)
  const badEscape = userinfoEscapeProblem(url)
  if (badEscape) throw new TypeError(`mysql: "${redactUrl(text)}": ${badEscape}`)
  const socket = url.searchParams.get('socket')
  const socketProblem = socket === null ? undefined : socketParamProblem(socket, '/run/mysqld/mysqld.sock')
  if (socketProblem) throw new TypeError(`mysql: "${redactUrl(text)}"${socketProblem}`)
  return url
}

/** `host:3306/db`, or with `?socket=` the socket's path and the database (`/run/mysqld/mysqld.sock/db`). */
function urlAddress(url: URL): string {
  const database = decodeLoose(url.pathname.slice(1))
  const socket = url.searchParams.get('socket')
  const where = socket ? socket : `${url.hostname}:${url.port || 3306}`
  return `${where}${database ? `/${database}` : ''}`
}

function clientAddress(handle: unknown): string {
  type Config = { host?: string; port?: number; database?: string; socketPath?: string }
  const v = handle as { config?: Config & { connectionConfig?: Config } }
  const config = v?.config?.connectionConfig ?? v?.config
  if (config?.socketPath) return config.socketPath
  return `${config?.host ?? 'localhost'}:${config?.port ?? 3306}${config?.database ? `/${config.database}` : ''}`
}
