/**
 * The errors of opening a store, in a module of their own: the store index and each store
 * (etcd.ts) throw them, and neither may import the other for it.
 */

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
