import { NotReady } from '../core/errors.js'
import { checkProbeOptions, describeArgument, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { decodeLoose, redactUrl } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { InFlightPerClient } from './in-flight.js'
import { describeNetworkError, errorCode } from './network-error.js'
import { parsePgUrl } from './pg-url.js'
import { withPooledConnection } from './pool.js'
import { type PgRow, pgHost, pgQuery, pgTarget, sqlStateReason } from './postgres-wire.js'
import { timed } from './timed.js'

/** A client checked out of a `pg` Pool. */
export interface PgPoolClientLike {
  query(text: string): Promise<{ rows: unknown[] }>
  release(destroy?: boolean | Error): void
}

/** A `pg` Pool (`new pg.Pool()`). */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>
  readonly totalCount: number
  readonly idleCount: number
}

/** A `pg` Client (`new pg.Client()`), connected by the app. */
export interface PgClientLike {
  query(text: string): Promise<{ rows: unknown[] }>
  connect(): Promise<unknown>
  end(): Promise<void>
}

/** A postgres.js `sql` instance (`postgres(url)`). */
export interface PostgresJsSqlLike {
  // biome-ignore lint/suspicious/noExplicitAny: postgres.js' tagged-template signature is heavily generic
  (...args: any[]): unknown
  unsafe(query: string): PromiseLike<unknown[]>
  begin(...args: never[]): unknown
}

export type PostgresClientLike = PgPoolLike | PgClientLike | PostgresJsSqlLike

export interface PostgresProbeOptions extends ProbeOptions, ConnectOptions, PgTlsOptions {
  /** Check name. Default `postgres`; an app with several databases adds one probe per database. */
  name?: string
}

/** URL mode, when `sslmode` makes the connection TLS. */
export interface PgTlsOptions {
  /** Trusted CA certificates (PEM), when the URL has no `sslrootcert`: `sslmode=require` then verifies the chain, as libpq does. */
  ca?: string | Buffer
  /** Accept any server certificate: `verify-ca` and `verify-full` act as `require`. Whether TLS is used stays the URL's `sslmode`. */
  insecure?: boolean
}

const POSTGRES_OPTION_KEYS = optionKeys<PostgresProbeOptions>()({
  name: true,
  ca: true,
  insecure: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
})

const noop = () => {}
const selects = new InFlightPerClient<object, unknown>()

/**
 * Passes when PostgreSQL answers `SELECT 1`. Takes the app's own `pg` Pool or Client, or a
 * postgres.js `sql` instance, or a `postgres://` URL: one connection of the probe's own
 * (no driver needed; `sslmode` as libpq reads it; trust, password, md5 and scram-sha-256
 * authentication), which must be ready for the query within `connectTimeout`, closed after it.
 *
 * With a Pool, each check borrows one connection; a query still running at the deadline
 * destroys that connection (it is not returned to the pool half-used), and while an
 * earlier check is still waiting for a connection the next one waits for that instead of
 * queueing another — so a hung database never drains the app's pool. With a single Client
 * or postgres.js, which the app shares, a check joins the `SELECT 1` still in flight rather
 * than queueing another behind a hung server.
 *
 * @example
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * health.add(postgres(pool))
 * health.add(postgres(reportingPool, { name: 'reporting-db', critical: false }))
 */
export function postgres(clientOrUrl: PostgresClientLike | string | URL, options: PostgresProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('postgres', clientOrUrl, 'client'), options, POSTGRES_OPTION_KEYS)
  const { name = 'postgres', connectTimeout: _ct, ca: _ca, insecure: _insecure, ...probeOptions } = options
  const base = { componentType: 'datastore', ...probeOptions, name }
  const db = clientOrUrl as unknown
  if (typeof db === 'string' || db instanceof URL) {
    pgTarget(parsePostgresUrl(String(db)))
    connectTimeoutMs(options, 'postgres')
  } else if (!isPgPool(db) && !isPgClient(db) && !isPostgresJs(db)) {
    throw new TypeError(
      `postgres(client): expected a pg Pool or Client, a postgres.js sql instance, or a postgres:// URL, got ${describeArgument(db)}`,
    )
  }
  const componentId = typeof db === 'string' || db instanceof URL ? urlAddress(String(db)) : clientAddress(db)
  return {
    ...base,
    check: ({ signal }) =>
      timed(async () => {
        await queryPostgres(clientOrUrl, 'SELECT 1', signal, { ...options, shareInFlight: true })
        return { message: 'SELECT 1', componentId }
      }),
  }
}

/**
 * Runs one query against any supported PostgreSQL handle under the signal, with the same
 * cleanup rules as the probe. Internal: the migrations probe reads its tables with it.
 */
export async function queryPostgres(
  db: PostgresClientLike | string | URL,
  sql: string,
  signal: AbortSignal,
  options: ConnectOptions & PgTlsOptions & { timeout?: number; shareInFlight?: boolean } = {},
): Promise<Record<string, unknown>[]> {
  const handle = db as unknown
  if (typeof handle === 'string' || handle instanceof URL) {
    return queryUrl(String(handle), sql, connectTimeoutMs(options, 'postgres'), signal, options)
  }
  const what = `postgres ${clientAddress(handle)}`
  if (isPgPool(handle)) return queryPool(handle, sql, signal, what)
  if (isPgClient(handle)) {
    const run = () => handle.query(sql).then((r) => r.rows)
    const query = options.shareInFlight ? selects.for(handle).run(run) : run()
    return (await settle(query, signal, what)) as Record<string, unknown>[]
  }
  if (isPostgresJs(handle)) {
    // A postgres.js query runs when awaited; Promise.resolve starts it.
    const run = () => Promise.resolve(handle.unsafe(sql))
    const query = options.shareInFlight ? selects.for(handle).run(run) : run()
    return (await settle(query, signal, what)) as Record<string, unknown>[]
  }
  throw new TypeError('postgres: expected a pg Pool or Client, a postgres.js sql instance, or a postgres:// URL')
}

async function settle<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  work.catch(noop)
  try {
    return await untilAborted(work, signal)
  } catch (error) {
    if (signal.aborted) throw error
    throw reason(error, what)
  }
}

function queryPool(
  pool: PgPoolLike,
  sql: string,
  signal: AbortSignal,
  what: string,
): Promise<Record<string, unknown>[]> {
  return withPooledConnection(pool, signal, {
    acquire: () => pool.connect(),
    use: async (client) => (await client.query(sql)).rows as Record<string, unknown>[],
    release: (client) => client.release(),
    discard: (client) => client.release(true),
    destroy: destroyPooled,
    reason: (error) => reason(error, what),
  })
}

/** Removes the client from its pool and closes its socket now, not after a goodbye the server may never read. */
function destroyPooled(client: PgPoolClientLike): void {
  try {
    client.release(true)
  } catch {}
  destroySocket(client)
}

function destroySocket(client: unknown): void {
  const stream = (client as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream
  stream?.destroy?.()
}

/** URL mode: one connection of probekit's own (postgres-wire.ts), closed after the query. */
function queryUrl(url: string, sql: string, limitMs: number, signal: AbortSignal, tls: PgTlsOptions): Promise<PgRow[]> {
  const target = pgTarget(parsePostgresUrl(url))
  if (tls.ca !== undefined) target.ca = tls.ca
  if (tls.insecure) target.insecure = true
  return pgQuery(target, sql, { what: `postgres ${urlAddress(url)}`, limitMs, signal })
}

/** PostgreSQL's SQLSTATE classes worth saying in words. */
function reason(error: unknown, what: string): NotReady {
  const code = errorCode(error)
  const text = error instanceof Error ? error.message : String(error)
  // Every SQLSTATE has a digit; codes without one come from sockets and TLS (ECONNREFUSED, …).
  if (code && !/\d/.test(code)) return new NotReady(`${what}: ${describeNetworkError(error)}`)
  if (/Connection terminated/i.test(text)) return new NotReady(`${what}: the server closed the connection (${text})`)
  if (/not queryable|Client was closed/i.test(text))
    return new NotReady(`${what}: the client is closed; the app must reconnect`)
  return new NotReady(`${what}: ${sqlStateReason(code, text)}`)
}

function isPgPool(value: unknown): value is PgPoolLike {
  const v = value as PgPoolLike | null
  return !!v && typeof v === 'object' && typeof v.connect === 'function' && 'totalCount' in v && 'idleCount' in v
}

function isPgClient(value: unknown): value is PgClientLike {
  const v = value as PgClientLike | null
  return !!v && typeof v === 'object' && typeof v.query === 'function' && typeof v.connect === 'function'
}

function isPostgresJs(value: unknown): value is PostgresJsSqlLike {
  const v = value as PostgresJsSqlLike | null
  return typeof v === 'function' && typeof v.unsafe === 'function' && typeof v.begin === 'function'
}

function parsePostgresUrl(text: string): URL {
  let url: URL
  try {
    url = parsePgUrl(text)
  } catch {
    throw new TypeError(
      `postgres: "${redactUrl(text)}" is not a URL; write it as postgres://user:password@host:5432/database (for a Unix socket, postgres://user@/database?host=/run/postgresql)`,
    )
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new TypeError(`postgres: "${redactUrl(text)}" must start with postgres:// or postgresql://`)
  }
  return url
}

/** `host:5432/db`, or for a Unix-domain socket `/run/postgresql:5432/db` (as pg_isready names it). */
function urlAddress(text: string): string {
  const url = parsePostgresUrl(text)
  const params = url.searchParams
  const database = params.get('dbname') || decodeLoose(url.pathname.slice(1))
  const host = pgHost(url) || 'localhost'
  return `${host}:${params.get('port') || url.port || 5432}${database ? `/${database}` : ''}`
}

function clientAddress(db: unknown): string {
  type Params = { host?: string | string[]; port?: number | number[]; database?: string; connectionString?: string }
  const v = db as { options?: Params; connectionParameters?: Params; host?: string; port?: number; database?: string }
  const params: Params | undefined = isPostgresJs(db) ? v.options : (v.connectionParameters ?? v.options)
  if (params?.connectionString && !params.host) {
    try {
      return urlAddress(params.connectionString)
    } catch {}
  }
  const host = (Array.isArray(params?.host) ? params?.host[0] : params?.host) ?? v.host ?? 'localhost'
  const port = (Array.isArray(params?.port) ? params?.port[0] : params?.port) ?? v.port ?? 5432
  const database = params?.database ?? v.database
  return `${host}:${port}${database ? `/${database}` : ''}`
}
