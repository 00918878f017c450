import { readdir } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, describeArgument, optionKeys, PROBE_OPTIONS, rejectUnknownKeys } from '../core/options.js'
import type { CheckDetails, Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { CONNECT_OPTIONS, type ConnectOptions } from './connect-timeout.js'
import { InFlight } from './in-flight.js'
import { type PostgresClientLike, queryPostgres } from './postgres.js'

/** A knex instance (the parts the probe uses). */
export interface KnexLike {
  migrate: { list(config?: Record<string, unknown>): Promise<unknown> }
  schema: {
    withSchema?(schema: string): { hasTable(table: string): PromiseLike<boolean> }
    hasTable(table: string): PromiseLike<boolean>
  }
}

/** Which migration tool's bookkeeping to read. */
export type MigrationsSource =
  | KnexLike
  | {
      tool: 'knex'
      knex: KnexLike
      /** knex migration config (`directory`, `tableName`, `schemaName`, …); default: the instance's own. */
      config?: Record<string, unknown>
    }
  | {
      tool: 'node-pg-migrate'
      /** A `pg` Pool or Client, a postgres.js sql instance or a `postgres://` URL. */
      db: PostgresClientLike | string
      /** The migrations directory. */
      dir: string
      /** Default `pgmigrations`. */
      table?: string
      /** Default `public`. */
      schema?: string
    }
  | {
      tool: 'prisma'
      /** A `pg` Pool or Client, a postgres.js sql instance or a `postgres://` URL. */
      db: PostgresClientLike | string
      /** `prisma/migrations`: migrations there that were never applied count as pending. */
      dir?: string
      /** The schema holding `_prisma_migrations`. Default `public`. */
      schema?: string
    }

export interface MigrationsProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `migrations`. */
  name?: string
}

const MIGRATIONS_OPTION_KEYS = optionKeys<MigrationsProbeOptions>()({
  name: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
})

/** The keys of each `{ tool, … }` source: a misspelt `table` would read the default table. */
const SOURCE_KEYS: Record<string, readonly string[]> = {
  knex: optionKeys<Extract<MigrationsSource, { tool: 'knex' }>>()({ tool: true, knex: true, config: true }),
  'node-pg-migrate': optionKeys<Extract<MigrationsSource, { tool: 'node-pg-migrate' }>>()({
    tool: true,
    db: true,
    dir: true,
    table: true,
    schema: true,
  }),
  prisma: optionKeys<Extract<MigrationsSource, { tool: 'prisma' }>>()({
    tool: true,
    db: true,
    dir: true,
    schema: true,
  }),
}

/** node-pg-migrate's default extensions for migration files. */
const MIGRATION_FILE = /\.(js|cjs|mjs|ts|cts|mts|sql)$/

/**
 * Fails while migrations are pending (or, for Prisma, failed or rolled back), naming them.
 * Reads the bookkeeping of knex (`knex.migrate.list()`), node-pg-migrate (the `pgmigrations`
 * table against the migrations directory) or Prisma (`_prisma_migrations`, optionally
 * against `prisma/migrations`).
 *
 * It belongs to `startup` by default — not `ready`: a pod whose schema is behind should not
 * start taking traffic, but a running pod should not be pulled from rotation because the
 * next deploy's migration has not run yet.
 *
 * @example
 * health.add(migrations(knex))
 * health.add(migrations({ tool: 'node-pg-migrate', db: pool, dir: 'migrations' }))
 * health.add(migrations({ tool: 'prisma', db: pool, dir: 'prisma/migrations' }))
 */
export function migrations(source: MigrationsSource, options: MigrationsProbeOptions = {}): Probe {
  checkProbeOptions('migrations(source, options)', options, MIGRATIONS_OPTION_KEYS)
  const { name = 'migrations', connectTimeout, ...probeOptions } = options
  const base = { componentType: 'datastore', groups: ['startup' as const], ...probeOptions, name }
  const connect = { connectTimeout, timeout: options.timeout }
  if (isKnex(source)) return { ...base, check: knexCheck(source, undefined) }
  const tool = (source as { tool?: unknown } | null | undefined)?.tool
  if (typeof tool === 'string' && Object.hasOwn(SOURCE_KEYS, tool)) {
    rejectUnknownKeys(`migrations({ tool: '${tool}', … })`, source, SOURCE_KEYS[tool] as readonly string[])
  }
  if (tool === 'knex' && 'knex' in source && isKnex(source.knex)) {
    const { knex, config } = source
    return { ...base, check: knexCheck(knex, config) }
  }
  if (tool === 'node-pg-migrate' && 'dir' in source && typeof source.dir === 'string') {
    const s = source as { db: PostgresClientLike | string; dir: string; table?: string; schema?: string }
    return { ...base, check: ({ signal }) => checkNodePgMigrate(s, connect, signal) }
  }
  if (tool === 'prisma' && 'db' in source) {
    const s = source as { db: PostgresClientLike | string; dir?: string; schema?: string }
    return { ...base, check: ({ signal }) => checkPrisma(s, connect, signal) }
  }
  throw new TypeError(
    `migrations(source): expected a knex instance, { tool: 'node-pg-migrate', db, dir } or { tool: 'prisma', db, dir? }, got ${describeArgument(source)}`,
  )
}

// --- knex -------------------------------------------------------------------------------

/**
 * Against a hung database each knex query waits for a pooled connection (up to knex's
 * acquireConnectionTimeout, 60 s by default) and cannot be cancelled: a check that timed out
 * leaves its query waiting, and the app's own queries would queue behind one more for every
 * check. So a check joins the reading still in flight from an earlier one (one per probe).
 */
function knexCheck(knex: KnexLike, config: Record<string, unknown> | undefined): Probe['check'] {
  const inFlight = new InFlight<CheckDetails>()
  return ({ signal }) =>
    untilAborted(
      inFlight.run(() => readKnex(knex, config)),
      signal,
    )
}

async function readKnex(knex: KnexLike, config: Record<string, unknown> | undefined): Promise<CheckDetails> {
  // knex.migrate.list(config) lays `config` over the instance's own `migrations` settings,
  // so the table it reads is named there unless `config` names another.
  const own = (knex as { client?: { config?: { migrations?: Record<string, unknown> } } }).client?.config?.migrations
  const settings = { ...own, ...config }
  const tableName = String(settings.tableName ?? 'knex_migrations')
  const schemaName = typeof settings.schemaName === 'string' ? settings.schemaName : undefined
  let listed: unknown
  try {
    // knex.migrate.list() creates its table when missing; a health check must not write.
    const schema = schemaName && knex.schema.withSchema ? knex.schema.withSchema(schemaName) : knex.schema
    if (!(await schema.hasTable(tableName))) {
      throw new NotReady(`migrations (knex): the ${tableName} table does not exist; no migration has been applied`)
    }
    listed = await knex.migrate.list(config)
  } catch (error) {
    if (error instanceof NotReady) throw error
    throw new NotReady(`migrations (knex): ${error instanceof Error ? error.message : String(error)}`)
  }
  const [completed, pending] = Array.isArray(listed) ? listed : [[], []]
  return verdict('knex', (completed as unknown[]).length, (pending as unknown[]).map(knexName))
}

function knexName(entry: unknown): string {
  if (typeof entry === 'string') return entry
  const e = entry as { file?: unknown; name?: unknown }
  return String(e.file ?? e.name ?? JSON.stringify(entry))
}

// --- node-pg-migrate --------------------------------------------------------------------

async function checkNodePgMigrate(
  source: { db: PostgresClientLike | string; dir: string; table?: string; schema?: string },
  connect: ConnectOptions & { timeout?: number },
  signal: AbortSignal,
): Promise<CheckDetails> {
  const table = qualified(source.schema ?? 'public', source.table ?? 'pgmigrations')
  const files = await migrationFiles(source.dir)
  const applied = new Set(
    ((await tableRows(source.db, table, 'SELECT name FROM %s', connect, signal, 'node-pg-migrate')) ?? []).map((r) =>
      String(r.name),
    ),
  )
  const pending = files.filter((f) => !applied.has(f))
  return verdict('node-pg-migrate', applied.size, pending)
}

async function migrationFiles(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new NotReady(`migrations: cannot read the migrations directory ${dir} (${code ?? 'error'})`)
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && MIGRATION_FILE.test(e.name))
    .map((e) => e.name.slice(0, -extname(e.name).length))
    .sort()
}

// --- Prisma -----------------------------------------------------------------------------

async function checkPrisma(
  source: { db: PostgresClientLike | string; dir?: string; schema?: string },
  connect: ConnectOptions & { timeout?: number },
  signal: AbortSignal,
): Promise<CheckDetails> {
  const table = qualified(source.schema ?? 'public', '_prisma_migrations')
  const rows = await tableRows(
    source.db,
    table,
    'SELECT migration_name, finished_at, rolled_back_at FROM %s ORDER BY started_at',
    connect,
    signal,
    'prisma',
  )
  if (rows === undefined && source.dir === undefined) {
    // Without the directory there is nothing to compare with: a missing table would pass as
    // "0 applied", also when the URL names another database or the schema is misspelt.
    throw new NotReady(
      `migrations (prisma): the ${source.schema ?? 'public'}._prisma_migrations table does not exist; no migration has been applied (or the database or schema is not the app's)`,
    )
  }
  // A name may appear several times (failed, resolved as rolled back, then applied again).
  const state = new Map<string, 'applied' | 'failed' | 'rolled back'>()
  for (const row of rows ?? []) {
    const name = String(row.migration_name)
    if (row.rolled_back_at !== null && row.rolled_back_at !== undefined) {
      if (state.get(name) !== 'applied') state.set(name, 'rolled back')
    } else if (row.finished_at === null || row.finished_at === undefined) state.set(name, 'failed')
    else state.set(name, 'applied')
  }
  const failed = [...state].filter(([, s]) => s === 'failed').map(([n]) => n)
  if (failed.length > 0) {
    throw new NotReady(
      `migrations (prisma): ${failed.length} failed or unfinished: ${list(failed)}; resolve with prisma migrate resolve`,
    )
  }
  const applied = [...state].filter(([, s]) => s === 'applied').map(([n]) => n)
  const pending = [...state].filter(([, s]) => s === 'rolled back').map(([n]) => n)
  if (source.dir !== undefined) {
    for (const dir of await prismaMigrationDirs(source.dir)) {
      if (!state.has(dir)) pending.push(dir)
    }
  }
  return verdict('prisma', applied.length, pending.sort())
}

async function prismaMigrationDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true })
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name)
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new NotReady(`migrations: cannot read the migrations directory ${join(dir)} (${code ?? 'error'})`)
  }
}

// --- shared -----------------------------------------------------------------------------

/** Rows of a bookkeeping table, or undefined when the table does not exist (nothing applied yet). */
async function tableRows(
  db: PostgresClientLike | string,
  table: string,
  sql: string,
  connect: ConnectOptions & { timeout?: number },
  signal: AbortSignal,
  tool: string,
): Promise<Record<string, unknown>[] | undefined> {
  const run = (text: string) => queryPostgres(db, text, signal, connect)
  try {
    const [exists] = await run(`SELECT to_regclass('${table.replace(/'/g, "''")}') IS NOT NULL AS present`)
    if (!exists?.present) return undefined
    return await run(sql.replace('%s', table))
  } catch (error) {
    if (signal.aborted || !(error instanceof Error)) throw error
    throw new NotReady(`migrations (${tool}): ${error.message}`)
  }
}

function qualified(schema: string, table: string): string {
  const quote = (id: string) => `"${id.replace(/"/g, '""')}"`
  return `${quote(schema)}.${quote(table)}`
}

function list(names: string[]): string {
  const shown = names.slice(0, 10).join(', ')
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown
}

function verdict(tool: string, appliedCount: number, pending: string[]): CheckDetails {
  if (pending.length > 0) throw new NotReady(`migrations (${tool}): ${pending.length} pending: ${list(pending)}`)
  return {
    message: `${appliedCount} applied, none pending`,
    observedValue: appliedCount,
    observedUnit: 'migrations',
  }
}

function isKnex(value: unknown): value is KnexLike {
  const v = value as KnexLike | null
  return (
    (typeof v === 'function' || (!!v && typeof v === 'object')) &&
    !!v?.migrate &&
    typeof v.migrate.list === 'function' &&
    !!v.schema
  )
}
