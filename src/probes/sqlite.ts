import { existsSync, statSync } from 'node:fs'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { loadDriver } from './load-driver.js'
import { timed } from './timed.js'

/** A better-sqlite3 `Database` or a node:sqlite `DatabaseSync` (the parts the probe uses). */
export interface SqliteDatabaseLike {
  prepare(sql: string): { get(...params: never[]): unknown }
}

export interface SqliteProbeOptions extends ProbeOptions {
  /** Check name. Default `sqlite`. */
  name?: string
  /**
   * Also run `PRAGMA quick_check`, which reads the whole database to find corruption.
   * Thorough but proportional to the file's size: meant for `startup`, not every `ready`.
   */
  quickCheck?: boolean
}

const SQLITE_OPTION_KEYS = optionKeys<SqliteProbeOptions>()({ name: true, quickCheck: true, ...PROBE_OPTIONS })

type OpenDatabase = SqliteDatabaseLike & { close(): void }

/**
 * Passes when the SQLite database answers `SELECT 1` (and, with `quickCheck`, when
 * `PRAGMA quick_check` says `ok`). Takes the app's better-sqlite3 `Database` or node:sqlite
 * `DatabaseSync` (on Node versions that have it), or a file path, which is opened read-only
 * for the check (it must exist) with better-sqlite3, or node:sqlite when better-sqlite3 is
 * not installed.
 *
 * SQLite runs in-process and synchronously, so there is no I/O to cancel; a database locked
 * by a writer answers `SELECT 1` anyway.
 *
 * @example
 * const db = new Database('app.db')
 * health.add(sqlite(db))
 */
export function sqlite(dbOrPath: SqliteDatabaseLike | string, options: SqliteProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('sqlite', dbOrPath, 'db'), options, SQLITE_OPTION_KEYS)
  const { name = 'sqlite', quickCheck = false, ...probeOptions } = options
  const base = { componentType: 'datastore', ...probeOptions, name }
  if (typeof dbOrPath === 'string') {
    const path = dbOrPath.replace(/^(sqlite|file):(\/\/)?/i, '')
    if (!path) throw new TypeError('sqlite: the path is empty; pass the database file, e.g. sqlite("data/app.db")')
    return {
      ...base,
      check: () =>
        timed(async () => {
          if (!existsSync(path)) throw new NotReady(`sqlite ${path}: the database file does not exist`)
          // SQLite opens a directory and then fails its first read with "disk I/O error".
          if (statSync(path).isDirectory()) throw new NotReady(`sqlite ${path}: is a directory, not a database file`)
          const db = await openReadOnly(path)
          try {
            return { message: query(db, quickCheck, path), componentId: path }
          } finally {
            db.close()
          }
        }),
    }
  }
  const db = dbOrPath as unknown
  if (!isDatabase(db)) {
    throw new TypeError('sqlite(db): expected a better-sqlite3 Database, a node:sqlite DatabaseSync or a file path')
  }
  const componentId = databaseName(db)
  return {
    ...base,
    check: () =>
      timed(() => {
        if (isClosed(db)) throw new NotReady(`sqlite ${componentId}: the database is closed`)
        return { message: query(db, quickCheck, componentId), componentId }
      }),
  }
}

function query(db: SqliteDatabaseLike, quickCheck: boolean, what: string): string {
  try {
    db.prepare('SELECT 1').get()
    if (!quickCheck) return 'SELECT 1'
    const row = db.prepare('PRAGMA quick_check').get() as Record<string, unknown> | undefined
    const verdict = row ? String(Object.values(row)[0]) : 'no result'
    if (verdict !== 'ok') throw new NotReady(`sqlite ${what}: quick_check found problems: ${verdict}`)
    return 'quick_check ok'
  } catch (error) {
    if (error instanceof NotReady) throw error
    const text = error instanceof Error ? error.message : String(error)
    const code = (error as { code?: unknown }).code
    throw new NotReady(`sqlite ${what}: ${text}${typeof code === 'string' && !text.includes(code) ? ` (${code})` : ''}`)
  }
}

type BetterSqlite = new (path: string, options: Record<string, unknown>) => OpenDatabase
type NodeSqlite = { DatabaseSync: new (path: string, options?: Record<string, unknown>) => OpenDatabase }

async function openReadOnly(path: string): Promise<OpenDatabase> {
  let BetterSqlite3: BetterSqlite | undefined
  try {
    const loaded = await loadDriver<{ default?: BetterSqlite } & BetterSqlite>('better-sqlite3', 'The sqlite probe')
    BetterSqlite3 = loaded.default ?? loaded
  } catch (missing) {
    const builtin = nodeSqlite()
    if (!builtin) throw missing
    try {
      return new builtin.DatabaseSync(path, { readOnly: true })
    } catch (error) {
      throw new NotReady(`sqlite ${path}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  try {
    return new BetterSqlite3(path, { readonly: true, fileMustExist: true })
  } catch (error) {
    // better-sqlite3's JavaScript loads, but its native part was built for another Node
    // (or never built): node:sqlite, where this Node has it, opens the file instead.
    const builtin = nativePartMissing(error) ? nodeSqlite() : undefined
    if (builtin) {
      try {
        return new builtin.DatabaseSync(path, { readOnly: true })
      } catch (nodeError) {
        throw new NotReady(`sqlite ${path}: ${nodeError instanceof Error ? nodeError.message : String(nodeError)}`)
      }
    }
    throw new NotReady(`sqlite ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Whether better-sqlite3 failed to load its compiled part (another Node's ABI, or not built). */
function nativePartMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  const text = error instanceof Error ? error.message : ''
  return code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION|Could not locate the bindings file/.test(text)
}

/** node:sqlite where the running Node has it (22.5 and later), else undefined. */
function nodeSqlite(): NodeSqlite | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule
  try {
    return getBuiltin?.('node:sqlite') as NodeSqlite | undefined
  } catch {
    return undefined
  }
}

function isDatabase(value: unknown): value is SqliteDatabaseLike {
  return !!value && typeof value === 'object' && typeof (value as SqliteDatabaseLike).prepare === 'function'
}

function isClosed(db: SqliteDatabaseLike): boolean {
  const v = db as { open?: unknown; isOpen?: unknown }
  // better-sqlite3 has `open`; node:sqlite has `isOpen` (Node 22.15+).
  if (typeof v.open === 'boolean') return !v.open
  if (typeof v.isOpen === 'boolean') return !v.isOpen
  return false
}

function databaseName(db: SqliteDatabaseLike): string {
  const v = db as { name?: unknown; memory?: unknown; location?: unknown }
  if (v.memory === true) return ':memory:'
  if (typeof v.name === 'string' && v.name) return v.name
  // node:sqlite (Node 22.16+): location() is the file, null for an in-memory database.
  if (typeof v.location === 'function') {
    try {
      const location = (v.location as () => unknown).call(db)
      return typeof location === 'string' && location ? location : ':memory:'
    } catch {}
  }
  return 'database'
}
