/**
 * The etcd store's write-behind queue: the latest change of every key, waiting to be
 * written, in the order of the latest change. Saving a key again replaces what waits for
 * it, so a frozen etcd costs one entry per key, never one per check run; transitions (a
 * new key each) are bounded, and the oldest is dropped when the bound is reached.
 */

/** The most operations etcd takes in one transaction (its `--max-txn-ops` default). */
export const MAX_TXN_OPS = 128

export interface PutOp {
  kind: 'put'
  value: string
  /** Bound to this replica's lease (states, the registration) or not (transitions). */
  leased: boolean
}
export interface DeleteOp {
  kind: 'delete'
}
export type PendingOp = PutOp | DeleteOp

export class WriteQueue {
  private readonly pending = new Map<string, PendingOp>()
  /** Keys of the transaction being written now. */
  private inFlight: ReadonlySet<string> = new Set()
  private pendingTransitions = 0
  /** Transitions dropped because etcd was away longer than the queue holds. */
  droppedTransitions = 0

  constructor(
    /** Keys under it are transitions, the ones the bound applies to. */
    private readonly transitionsPrefix: string,
    private readonly maxPendingTransitions: number,
  ) {}

  /** Keys waiting to be written (or deleted). */
  get size(): number {
    return this.pending.size
  }

  enqueue(key: string, op: PendingOp): void {
    const before = this.pending.get(key)
    // Re-inserting moves the key to the end: the queue stays in the order of the latest change.
    this.pending.delete(key)
    this.pending.set(key, op)
    if (!before && this.isTransitionPut(key, op)) {
      this.pendingTransitions++
      if (this.pendingTransitions > this.maxPendingTransitions) this.dropOldestTransition()
    }
  }

  /** Forgets what waits for a key that was written some other way. */
  delete(key: string): void {
    const op = this.pending.get(key)
    if (!op) return
    this.pending.delete(key)
    if (this.isTransitionPut(key, op)) this.pendingTransitions--
  }

  /** The next transaction: the oldest changes, at most `MAX_TXN_OPS`; they are in flight until `written` or `abandoned`. */
  nextBatch(): [string, PendingOp][] {
    const batch: [string, PendingOp][] = []
    for (const entry of this.pending) {
      batch.push(entry)
      if (batch.length === MAX_TXN_OPS) break
    }
    this.inFlight = new Set(batch.map(([key]) => key))
    return batch
  }

  /** The batch is in etcd: its keys leave the queue, unless they changed again meanwhile. */
  written(batch: readonly [string, PendingOp][]): void {
    this.inFlight = new Set()
    for (const [key, op] of batch) {
      if (this.pending.get(key) !== op) continue
      this.pending.delete(key)
      if (this.isTransitionPut(key, op)) this.pendingTransitions--
    }
  }

  /** The batch failed: it stays queued, to be written again. */
  abandoned(): void {
    this.inFlight = new Set()
  }

  /**
   * Drops a transition: one not written yet is simply never written; one written (or
   * being written now) is deleted.
   */
  dropTransition(key: string): void {
    const op = this.pending.get(key)
    if (op?.kind === 'put' && !this.inFlight.has(key)) {
      this.pending.delete(key)
      this.pendingTransitions--
      return
    }
    if (op?.kind === 'put') this.pendingTransitions--
    this.enqueue(key, { kind: 'delete' })
  }

  private dropOldestTransition(): void {
    for (const [key, op] of this.pending) {
      if (this.isTransitionPut(key, op)) {
        this.pending.delete(key)
        this.pendingTransitions--
        this.droppedTransitions++
        return
      }
    }
  }

  private isTransitionPut(key: string, op: PendingOp): boolean {
    return op.kind === 'put' && key.startsWith(this.transitionsPrefix)
  }
}
