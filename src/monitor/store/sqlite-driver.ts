/**
 * The SQLite the embedded store runs on, behind one small interface: Node's built-in
 * `node:sqlite` where the running Node has it (22.13 and newer), otherwise the
 * `better-sqlite3` package, which npm installs with probekit as an optional dependency
 * (its 12.x line has prebuilt binaries for Node 20 and newer). Either way a plain
 * `npm install probekit` gives a working store.
 *
 * `PROBEKIT_SQLITE_DRIVER=node:sqlite|better-sqlite3` (or the `driver` option) picks one,
 * so both can be used, and tested, on a Node that has both.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'

export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3'

export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3']

type Param = string | number | null

export interface SqliteStatement {
  run(...params: Param[]): void
  all(...params: Param[]): unknown[]
  get(...params: Param[]): unknown
}

/** The part of a SQLite connection the store uses; the same over both drivers. */
export interface SqliteDatabase {
  readonly driver: SqliteDriverName
  readonly readonly: boolean
  readonly isOpen: boolean
  prepare(sql: string): SqliteStatement
  exec(sql: string): void
  /** `PRAGMA <text>`: the rows it answers (none for most assignments). */
  pragma(text: string): Record<string, unknown>[]
  /** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction(fn: () => void): void
  close(): void
}

export interface SqliteOpenOptions {
  readonly?: boolean
  /** How long a write waits for another connection's lock, ms. */
  busyTimeoutMs?: number
}

/** Neither driver can be loaded (or the one asked for cannot). The message says what to run. */
export class SqliteUnavailableError extends Error {
  override name = 'SqliteUnavailableError'
}

const require = createRequire(import.meta.url)

interface NodeSqliteStatement {
  run(...params: Param[]): unknown
  all(...params: Param[]): unknown[]
  get(...params: Param[]): unknown
}
interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement
  exec(sql: string): void
  close(): void
}
type NodeSqliteModule = {
  DatabaseSync: new (file: string, options?: { readOnly?: boolean }) => NodeSqliteDatabase
}

interface BetterStatement {
  run(...params: Param[]): unknown
  all(...params: Param[]): unknown[]
  get(...params: Param[]): unknown
}
interface BetterDatabase {
  readonly open: boolean
  prepare(sql: string): BetterStatement
  exec(sql: string): void
  pragma(text: string): unknown
  transaction(fn: () => void): () => void
  close(): void
}
type BetterSqliteClass = new (
  file: string,
  options: { timeout?: number; readonly?: boolean; fileMustExist?: boolean },
) => BetterDatabase

/** Why each driver could not be loaded, kept for the error that names both. */
const failures = new Map<SqliteDriverName, string>()
let nodeSqlite: NodeSqliteModule | null | undefined
let betterSqlite: BetterSqliteClass | null | undefined

function loadNodeSqlite(): NodeSqliteModule | undefined {
  if (nodeSqlite !== undefined) return nodeSqlite ?? undefined
  // node:sqlite announces itself with an ExperimentalWarning on every start; that one
  // line, and only that one, is kept out of the monitor's output.
  const emitWarning = process.emitWarning
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const first = rest[0]
    const type = typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type
    const text = typeof warning === 'string' ? warning : warning.message
    if ((type === 'ExperimentalWarning' || (warning as Error).name === 'ExperimentalWarning') && /SQLite/i.test(text))
      return
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
  try {
    nodeSqlite = require('node:sqlite') as NodeSqliteModule
  } catch (error) {
    nodeSqlite = null
    failures.set(
      'node:sqlite',
      `Node ${process.version} has no built-in node:sqlite (${(error as Error).message.split('\n')[0]})`,
    )
  } finally {
    process.emitWarning = emitWarning
  }
  return nodeSqlite ?? undefined
}

function loadBetterSqlite(): BetterSqliteClass | undefined {
  if (betterSqlite !== undefined) return betterSqlite ?? undefined
  try {
    const loaded = requireFromProbekitOrProject('better-sqlite3') as BetterSqliteClass & {
      default?: BetterSqliteClass
    }
    const Driver = loaded.default ?? loaded
    // The native part loads with the first database: one in memory proves it matches this Node.
    new Driver(':memory:', {}).close()
    betterSqlite = Driver
  } catch (error) {
    betterSqlite = null
    failures.set('better-sqlite3', whyBetterSqliteFailed(error))
  }
  return betterSqlite ?? undefined
}

/**
 * probekit's own dependency first; then the working directory's project, so that for a
 * global probekit `npm install better-sqlite3` next to the app is enough too.
 */
function requireFromProbekitOrProject(pkg: string): unknown {
  try {
    return require(pkg)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error
    try {
      return createRequire(join(process.cwd(), 'noop.js'))(pkg)
    } catch (fromProject) {
      throw (fromProject as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? error : fromProject
    }
  }
}

function whyBetterSqliteFailed(error: unknown): string {
  const message = error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : String(error)
  if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && message.includes("'better-sqlite3'"))
    return 'the optional "better-sqlite3" package is not installed (npm skips it when it can neither download a prebuilt binary nor compile one)'
  if (/Could not locate the bindings file/.test(message))
    return 'the "better-sqlite3" package is installed without its native part (its install script did not run or did not finish)'
  if (/NODE_MODULE_VERSION/.test(message))
    return `the "better-sqlite3" package was built for another Node version than ${process.version} (rebuild it with "npm rebuild better-sqlite3")`
  return `the "better-sqlite3" package does not load (${message.slice(0, 300)})`
}

function available(name: SqliteDriverName): boolean {
  return name === 'node:sqlite' ? loadNodeSqlite() !== undefined : loadBetterSqlite() !== undefined
}

/** The drivers this Node can load, in the order the store prefers them. */
export function availableSqliteDrivers(): SqliteDriverName[] {
  return SQLITE_DRIVERS.filter(available)
}

// Verified with a global prefix: <prefix>/lib/node_modules is on a global probekit's
// module path, so "npm install -g better-sqlite3" reaches it as well as a reinstall does.
const HOW_TO_FIX =
  'upgrade Node to 22.13 or newer (it has node:sqlite built in); or install better-sqlite3 again with build tools ' +
  'present (python3, make, a C++ compiler) and its install script allowed: "npm install better-sqlite3" in the project ' +
  'for a local probekit, "npm install -g probekit" (or "npm install -g better-sqlite3") for a global one; ' +
  'or run the monitor with --store memory'

/**
 * Picks the driver: `preferred`, else `PROBEKIT_SQLITE_DRIVER`, else node:sqlite when this
 * Node has it, else better-sqlite3. Throws `SqliteUnavailableError` naming the fix.
 */
export function chooseSqliteDriver(
  preferred: string | undefined = process.env.PROBEKIT_SQLITE_DRIVER,
): SqliteDriverName {
  const wanted = preferred?.trim()
  if (wanted) {
    if (!SQLITE_DRIVERS.includes(wanted as SqliteDriverName))
      throw new SqliteUnavailableError(
        `PROBEKIT_SQLITE_DRIVER=${JSON.stringify(wanted)} is not a SQLite driver; use node:sqlite or better-sqlite3, or leave it unset`,
      )
    const name = wanted as SqliteDriverName
    if (!available(name))
      throw new SqliteUnavailableError(
        `the sqlite store was asked to use ${name} (PROBEKIT_SQLITE_DRIVER), but ${failures.get(name)}; unset PROBEKIT_SQLITE_DRIVER to use ${SQLITE_DRIVERS.filter((d) => d !== name).join(' or ')}`,
      )
    return name
  }
  const name = SQLITE_DRIVERS.find(available)
  if (name) return name
  throw new SqliteUnavailableError(
    `the sqlite store needs SQLite, and this Node has none: ${failures.get('node:sqlite')}, and ${failures.get('better-sqlite3')}. To fix it, ${HOW_TO_FIX}`,
  )
}

/** Opens `file` with the chosen driver (see `chooseSqliteDriver`). Driver errors keep their `code`. */
export function openSqliteDatabase(
  file: string,
  options: SqliteOpenOptions & { driver?: SqliteDriverName | undefined } = {},
): SqliteDatabase {
  const driver = chooseSqliteDriver(options.driver)
  return driver === 'node:sqlite'
    ? openWithNodeSqlite(loadNodeSqlite() as NodeSqliteModule, file, options)
    : openWithBetterSqlite(loadBetterSqlite() as BetterSqliteClass, file, options)
}

function openWithBetterSqlite(Driver: BetterSqliteClass, file: string, options: SqliteOpenOptions): SqliteDatabase {
  const readonly = options.readonly === true
  const db = new Driver(file, { timeout: options.busyTimeoutMs ?? 5000, readonly, fileMustExist: readonly })
  return {
    driver: 'better-sqlite3',
    readonly,
    get isOpen() {
      return db.open
    },
    prepare: (sql) => {
      const stmt = db.prepare(sql)
      return {
        run: (...params) => {
          stmt.run(...params)
        },
        all: (...params) => stmt.all(...params),
        get: (...params) => stmt.get(...params),
      }
    },
    exec: (sql) => {
      db.exec(sql)
    },
    pragma: (text) => db.pragma(text) as Record<string, unknown>[],
    transaction: (fn) => db.transaction(fn)(),
    close: () => db.close(),
  }
}

function openWithNodeSqlite(sqlite: NodeSqliteModule, file: string, options: SqliteOpenOptions): SqliteDatabase {
  const readonly = options.readonly === true
  let db: NodeSqliteDatabase
  try {
    db = new sqlite.DatabaseSync(file, { readOnly: readonly })
  } catch (error) {
    throw withSqliteCode(error)
  }
  let open = true
  const guard = <T>(run: () => T): T => {
    try {
      return run()
    } catch (error) {
      throw withSqliteCode(error)
    }
  }
  guard(() => db.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5000)}`))
  if (readonly) guard(() => db.exec('PRAGMA query_only = 1'))
  return {
    driver: 'node:sqlite',
    readonly,
    get isOpen() {
      return open
    },
    prepare: (sql) => {
      const stmt = guard(() => db.prepare(sql))
      return {
        run: (...params) => {
          guard(() => stmt.run(...params))
        },
        all: (...params) => guard(() => stmt.all(...params)),
        get: (...params) => guard(() => stmt.get(...params)),
      }
    },
    exec: (sql) => guard(() => db.exec(sql)),
    pragma: (text) => guard(() => db.prepare(`PRAGMA ${text}`).all() as Record<string, unknown>[]),
    transaction: (fn) => {
      guard(() => db.exec('BEGIN'))
      try {
        fn()
      } catch (error) {
        try {
          db.exec('ROLLBACK')
        } catch {}
        throw error
      }
      guard(() => db.exec('COMMIT'))
    },
    close: () => {
      if (!open) return
      open = false
      db.close()
    },
  }
}

// SQLite's primary result codes (the low byte of an extended code).
const CODE_NAMES: Record<number, string> = {
  3: 'SQLITE_PERM',
  5: 'SQLITE_BUSY',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
}

/**
 * node:sqlite reports every failure as `ERR_SQLITE_ERROR` with the numeric SQLite code in
 * `errcode`; better-sqlite3 names it in `code`. The store reads `code` (`SQLITE_NOTADB`…),
 * so node:sqlite's errors get it too.
 */
function withSqliteCode(error: unknown): unknown {
  if (!(error instanceof Error)) return error
  const e = error as Error & { code?: string; errcode?: number; sqliteCode?: string }
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return error
  let name = typeof e.errcode === 'number' ? CODE_NAMES[e.errcode & 0xff] : undefined
  if (!name) {
    if (/file is not a database/i.test(e.message)) name = 'SQLITE_NOTADB'
    else if (/unable to open database/i.test(e.message)) name = 'SQLITE_CANTOPEN'
    else if (/readonly database/i.test(e.message)) name = 'SQLITE_READONLY'
  }
  if (name) {
    try {
      e.code = name
    } catch {
      e.sqliteCode = name
    }
  }
  return error
}

/** The `SQLITE_…` name of a driver error, whichever driver threw it. */
export function sqliteErrorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; sqliteCode?: unknown } | null
  if (typeof e?.sqliteCode === 'string') return e.sqliteCode
  return typeof e?.code === 'string' && e.code.startsWith('SQLITE_') ? e.code : undefined
}
