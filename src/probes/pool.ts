/**
 * Borrowing one connection from the app's own pool for a check. A hung database must never
 * drain that pool: checks wait behind an earlier check's borrow instead of queueing more
 * waiters, a connection that arrives after the deadline goes straight back unused, and a
 * query still running at the deadline destroys its connection (the pool makes a new one)
 * rather than returning it half-used.
 */
import { untilAborted } from './abortable.js'

/** How one driver's pool lends, returns and destroys a connection. */
export interface PoolBorrow<C, R> {
  acquire(): Promise<C>
  use(connection: C): Promise<R>
  /** Hands a healthy connection back to the pool. */
  release(connection: C): void
  /** A connection that failed its query: out of the pool, not trusted with the app's next one. */
  discard(connection: C): void
  /** At the deadline: out of the pool and its socket closed now. */
  destroy(connection: C): void
  /** The error a failed borrow or query becomes (the probe's own wording). */
  reason(error: unknown): Error
}

const pendingBorrows = new WeakMap<object, Promise<void>>()

/** Runs `borrow.use` on a connection borrowed from `pool` under `signal`. */
export async function withPooledConnection<C, R>(
  pool: object,
  signal: AbortSignal,
  borrow: PoolBorrow<C, R>,
): Promise<R> {
  // Checks woken together re-check, so only one of them starts the next borrow.
  for (let earlier = pendingBorrows.get(pool); earlier; earlier = pendingBorrows.get(pool)) {
    await untilAborted(earlier, signal)
  }
  const acquiring = borrow.acquire()
  const tracked = acquiring.then(noop, noop)
  pendingBorrows.set(pool, tracked)
  tracked.then(() => {
    if (pendingBorrows.get(pool) === tracked) pendingBorrows.delete(pool)
  })
  let connection: C
  try {
    connection = await untilAborted(acquiring, signal)
  } catch (error) {
    if (signal.aborted) {
      // The connection may still arrive: hand it straight back, unused.
      acquiring.then((late) => borrow.release(late), noop)
      throw error
    }
    throw borrow.reason(error)
  }
  const onAbort = () => borrow.destroy(connection)
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const work = borrow.use(connection)
    work.catch(noop)
    const result = await untilAborted(work, signal)
    borrow.release(connection)
    return result
  } catch (error) {
    if (signal.aborted) throw error
    borrow.discard(connection)
    throw borrow.reason(error)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function noop(): void {}
