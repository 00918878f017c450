/**
 * Opening a store by name: `sqlite:FILE` (the embedded default), `memory`, or (with
 * `openStoreAsync`) `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` for a fleet of monitor replicas.
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { MonitorStore } from '../types.js'
import type { EtcdStoreOptions } from './etcd.js'
import { MemoryStore } from './memory.js'
import type { Retention } from './retention.js'
import { SqliteStore } from './sqlite.js'
import { type SqliteDriverName, SqliteUnavailableError, sqliteErrorCode } from './sqlite-driver.js'

export { MemoryStore } from './memory.js'
export { DEFAULT_RETENTION, type Retention } from './retention.js'
export { SqliteStore } from './sqlite.js'
export { availableSqliteDrivers, type SqliteDriverName } from './sqlite-driver.js'

export interface OpenStoreOptions {
  /** Open an existing store for reading only (for `probekit inspect`). */
  readonly?: boolean
  retention?: Partial<Retention>
  /**
   * For `sqlite:` stores: `node:sqlite` (Node 22.13+) or `better-sqlite3`. Default: the
   * `PROBEKIT_SQLITE_DRIVER` environment variable, else node:sqlite where this Node has it,
   * else better-sqlite3 (installed with probekit as an optional dependency).
   */
  sqliteDriver?: SqliteDriverName
  /** For `etcd://` stores: replica id, lease TTL, request deadline, logger… (see EtcdStoreOptions). */
  etcd?: Omit<EtcdStoreOptions, 'endpoints' | 'prefix' | 'readonly' | 'retention'>
}

/** A store name that cannot be opened; its message is one sentence naming the fix. */
export class StoreError extends Error {
  override name = 'StoreError'
}

/**
 * This Node can load no SQLite driver (or not the one asked for): not a mistake in the
 * command line, but in the installation. The message says what to run.
 */
export class SqliteMissingError extends StoreError {
  override name = 'SqliteMissingError'
}

/**
 * Opens the store a `--store` value names: `sqlite:FILE` (created if missing) or `memory`.
 * Errors are one sentence naming the value and the fix.
 *
 * @example
 * const store = openStore('sqlite:/var/lib/probekit/monitor.sqlite')
 * const monitor = new Monitor({ store })
 */
export function openStore(spec: string, options: OpenStoreOptions = {}): MonitorStore {
  const value = spec.trim()
  if (/^etcd:/.test(value))
    throw new StoreError(
      `--store ${JSON.stringify(spec)} is an etcd store, which connects before it can be used; open it with openStoreAsync()`,
    )
  if (value === 'memory' || value === 'memory:') {
    if (options.readonly)
      throw new StoreError("a memory store keeps nothing to read; point at the monitor's sqlite:FILE or its --api URL")
    return new MemoryStore(options.retention)
  }
  const match = /^(?:sqlite|sqlite3):(?:\/\/)?(.+)$/.exec(value)
  if (!match) {
    throw new StoreError(
      `--store ${JSON.stringify(spec)} is not a store; use sqlite:FILE (e.g. sqlite:/var/lib/probekit/monitor.sqlite) or memory`,
    )
  }
  const file = resolve(match[1] as string)
  if (options.readonly && !existsSync(file))
    throw new StoreError(
      `there is no store at ${file}; start "probekit monitor --store sqlite:${match[1]}" first, or fix the path`,
    )
  const dir = dirname(file)
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new StoreError(
      `cannot create the store ${file}: the directory ${dir} does not exist; create it or choose another path`,
    )
  try {
    const storeOptions: { readonly?: boolean; retention?: Partial<Retention>; driver?: SqliteDriverName } = {}
    if (options.readonly) storeOptions.readonly = true
    if (options.retention) storeOptions.retention = options.retention
    if (options.sqliteDriver) storeOptions.driver = options.sqliteDriver
    return new SqliteStore(file, storeOptions)
  } catch (error) {
    if (error instanceof SqliteUnavailableError) throw new SqliteMissingError(error.message)
    const code = sqliteErrorCode(error)
    const message = error instanceof Error ? error.message : String(error)
    if (code === 'SQLITE_NOTADB')
      throw new StoreError(`${file} is not a SQLite database; point --store at a probekit store or a new file`)
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM')
      throw new StoreError(`cannot open the store ${file} (${message}); check the path and its permissions`)
    if (error instanceof Error && /probekit|newer/.test(message)) throw new StoreError(message)
    throw new StoreError(`cannot open the store ${file}: ${message}`)
  }
}

/**
 * Opens any store, `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` included: an etcd store connects,
 * takes its lease and reads the fleet's states before it resolves, and rejects with a
 * `StoreError` naming the address when etcd does not answer. Other stores open as with
 * `openStore`.
 *
 * @example
 * const store = await openStoreAsync('etcd://10.0.0.1:2379,10.0.0.2:2379/probekit', {
 *   etcd: { replicaId: 'monitor-a' },
 * })
 */
export async function openStoreAsync(spec: string, options: OpenStoreOptions = {}): Promise<MonitorStore> {
  const value = spec.trim()
  if (!/^etcd:/.test(value)) return openStore(spec, options)
  const { EtcdStore, parseEtcdSpec } = await import('./etcd.js')
  const etcdOptions: EtcdStoreOptions = { ...options.etcd, ...parseEtcdSpec(value) }
  if (options.readonly) etcdOptions.readonly = true
  if (options.retention) etcdOptions.retention = options.retention
  return EtcdStore.open(etcdOptions)
}
