/**
 * Opening a store by name: `sqlite:FILE` (the embedded default), `memory`, or (with
 * `openStoreAsync`) `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` (`etcd+tls://` for TLS) for a
 * fleet of monitor replicas.
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { optionKeys, rejectUnknownKeys } from '../../core/options.js'
import type { MonitorStore } from '../types.js'
import { SqliteMissingError, StoreError } from './errors.js'
import { ETCD_STORE_OPTION_KEYS } from './etcd/options.js'
import type { EtcdStoreOptions } from './etcd.js'
import { MemoryStore } from './memory.js'
import { RETENTION_KEYS, type Retention } from './retention.js'
import { SqliteStore } from './sqlite.js'
import { type SqliteDriverName, SqliteUnavailableError, sqliteErrorCode } from './sqlite-driver.js'

export { SqliteMissingError, StoreError } from './errors.js'
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
  /**
   * For `etcd://` and `etcd+tls://` stores: replica id, lease TTL, request deadline, logger,
   * TLS files (`caFile`, `certFile`, `keyFile`) and login (`user`, `password` or
   * `passwordFile`) — see EtcdStoreOptions.
   */
  etcd?: Omit<EtcdStoreOptions, (typeof GIVEN_ELSEWHERE)[number]>
}

/** What `EtcdStoreOptions` holds that the store address (`etcd://HOSTS/PREFIX`) and `openStore`'s own options give. */
const GIVEN_ELSEWHERE = [
  'endpoints',
  'prefix',
  'readonly',
  'retention',
] as const satisfies readonly (keyof EtcdStoreOptions)[]

const OPEN_STORE_OPTION_KEYS = optionKeys<OpenStoreOptions>()({
  readonly: true,
  retention: true,
  sqliteDriver: true,
  etcd: true,
})

/** The keys of `etcd`: those of `EtcdStoreOptions` that neither the address nor `openStore`'s own options give. */
const OPEN_STORE_ETCD_KEYS = ETCD_STORE_OPTION_KEYS.filter(
  (key) => !(GIVEN_ELSEWHERE as readonly string[]).includes(key),
)

function checkOpenStoreOptions(where: string, options: OpenStoreOptions): void {
  rejectUnknownKeys(where, options, OPEN_STORE_OPTION_KEYS)
  rejectUnknownKeys(`${where}: retention`, options.retention, RETENTION_KEYS)
  rejectUnknownKeys(`${where}: etcd`, options.etcd, OPEN_STORE_ETCD_KEYS)
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
  checkOpenStoreOptions('openStore', options)
  const value = spec.trim()
  if (isEtcdAddress(value))
    throw new StoreError(
      'this --store is an etcd store, which connects before it can be used; open it with openStoreAsync()',
    )
  if (value === 'memory' || value === 'memory:') {
    if (options.readonly)
      throw new StoreError("a memory store keeps nothing to read; point at the monitor's sqlite:FILE or its --api URL")
    return new MemoryStore(options.retention)
  }
  const match = /^(?:sqlite|sqlite3):(?:\/\/)?(.+)$/.exec(value)
  if (!match) {
    throw new StoreError(
      `--store ${JSON.stringify(spec)} is not a store; use sqlite:FILE (e.g. sqlite:/var/lib/probekit/monitor.sqlite), etcd://HOST:PORT/PREFIX (replicas sharing a fleet) or memory`,
    )
  }
  const file = resolve(match[1] as string)
  if (options.readonly && !existsSync(file))
    throw new StoreError(
      `there is no store at ${file}; start "probekit monitor --store sqlite:${match[1]}" first, or fix the path`,
    )
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new StoreError(
      `${file} is a directory; the store is a file: name one in it, e.g. --store sqlite:${join(file, 'monitor.sqlite')}`,
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
 * Opens any store, `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` included (`etcd+tls://` or
 * `etcds://` for TLS, `etcd://USER:PASSWORD@…` to log in): an etcd store connects, takes its
 * lease and reads the fleet's states before it resolves, and rejects with a `StoreError`
 * of one sentence naming the address (etcd does not answer) or the option that fixes it
 * (an untrusted certificate, a wrong password, no permission on the prefix). Other stores
 * open as with `openStore`.
 *
 * @example
 * const store = await openStoreAsync('etcd+tls://10.0.0.1:2379,10.0.0.2:2379/probekit', {
 *   etcd: {
 *     replicaId: 'monitor-a',
 *     caFile: '/etc/probekit/etcd-ca.pem',
 *     certFile: '/etc/probekit/etcd-client.pem',
 *     keyFile: '/etc/probekit/etcd-client-key.pem',
 *     user: 'probekit',
 *     passwordFile: '/etc/probekit/etcd-password',
 *   },
 * })
 */
export async function openStoreAsync(spec: string, options: OpenStoreOptions = {}): Promise<MonitorStore> {
  checkOpenStoreOptions('openStoreAsync', options)
  const value = spec.trim()
  if (!isEtcdAddress(value)) return openStore(spec, options)
  const { EtcdStore, parseEtcdSpec } = await import('./etcd.js')
  const { user, password, ...address } = parseEtcdSpec(value)
  const etcdOptions: EtcdStoreOptions = { ...options.etcd, ...address }
  if (user !== undefined) {
    if (options.etcd?.user !== undefined && options.etcd.user !== user)
      throw new StoreError(
        `--store names etcd user ${user} and --etcd-user names ${options.etcd.user}; give the user once`,
      )
    etcdOptions.user = user
  }
  if (password !== undefined) {
    if (options.etcd?.password !== undefined || options.etcd?.passwordFile !== undefined)
      throw new StoreError('the etcd password is given twice (in --store and --etcd-password-file); give it once')
    etcdOptions.password = password
  }
  if (options.readonly) etcdOptions.readonly = true
  if (options.retention) etcdOptions.retention = options.retention
  return EtcdStore.open(etcdOptions)
}

/** `etcd://`, `etcd+tls://` or `etcds://`: a store that `openStoreAsync` opens. */
export function isEtcdAddress(spec: string): boolean {
  return /^(etcd|etcd\+tls|etcds):/i.test(spec.trim())
}
