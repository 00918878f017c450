/**
 * Hands what the monitor saw to its store off the checking path: changed states,
 * transitions, history samples and removals wait here and are written in short batches —
 * a slow disk never delays a check, and a failing store is logged once, never thrown into
 * a check.
 */
import { type Logger, writeLog } from '../core/logger.js'
import type { CheckState, HistorySample, MonitorStore, Transition } from './types.js'

const FLUSH_DELAY_MS = 100
/** Items of each kind written per transaction; the rest waits for the next turn of the event loop. */
const WRITE_CHUNK = 500
/**
 * History samples written per transaction, and the pause between two such transactions
 * when only samples wait. A fleet's minute ends for every check within one interval, so
 * 50,000 checks hand over 50,000 samples within 5 s; written back to back they would take
 * most of the loop for those seconds (each is two upserts) and make every check late.
 * Paced at 200 per 100 ms they are written within half a minute, a few ms at a time.
 * A larger backlog goes in larger transactions, a 250th of it each, so the queue stays
 * bounded (about the number of checks) however large the fleet. Until then readers get
 * them from memory (`pendingSamplesOf`).
 */
const SAMPLE_CHUNK = 200
const SAMPLE_SHARE = 250
const SAMPLE_PACE_MS = 100

export interface StoreWriterOptions<T> {
  store: MonitorStore
  logger: Logger | false
  /** Masks credentials in a store error before it is logged. */
  redact: (text: string) => string
  /**
   * The state to write for something marked dirty, or undefined when it is no longer this
   * monitor's to write (removed, or owned by another replica); called as it is written.
   */
  stateOf: (item: T, now: number) => CheckState | undefined
}

export class StoreWriter<T> {
  private readonly dirty = new Set<T>()
  private pendingTransitions: Transition[] = []
  private pendingSamples: HistorySample[] = []
  private pendingRemovals: string[] = []
  private flushTimer: NodeJS.Timeout | undefined
  private flushImmediate: NodeJS.Immediate | undefined
  private storeFailing = false

  constructor(private readonly options: StoreWriterOptions<T>) {}

  /** Writes the item's state soon. */
  markDirty(item: T): void {
    this.dirty.add(item)
    this.scheduleFlush()
  }

  addTransition(transition: Transition): void {
    this.pendingTransitions.push(transition)
    this.scheduleFlush()
  }

  /** Writes a sample soon. */
  addSample(sample: HistorySample): void {
    this.pendingSamples.push(sample)
    this.scheduleFlush()
  }

  /** Queues the removal of a stored state; `scheduleFlush()` writes it. */
  removeState(id: string): void {
    this.pendingRemovals.push(id)
  }

  get hasPendingSamples(): boolean {
    return this.pendingSamples.length > 0
  }

  /** The samples of `id` handed over and not yet written, oldest first. */
  pendingSamplesOf(id: string): HistorySample[] {
    const out: HistorySample[] = []
    for (const sample of this.pendingSamples) if (sample.id === id) out.push(sample)
    return out
  }

  get hasPendingRemovals(): boolean {
    return this.pendingRemovals.length > 0
  }

  scheduleFlush(): void {
    if (this.flushTimer || this.flushImmediate) return
    // A short delay gathers a burst of results into one transaction, away from the check loop.
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_DELAY_MS)
  }

  /** Writes everything pending at once (on stop). */
  flushAll(): void {
    this.clearFlush()
    while (this.writeChunk(Number.POSITIVE_INFINITY)) {}
  }

  /** Logs a failing store once, until a write succeeds again. */
  storeError(what: string, error: unknown): void {
    if (this.storeFailing) return
    this.storeFailing = true
    writeLog(
      this.options.logger,
      'error',
      `monitor: ${what} failed: ${this.options.redact(error instanceof Error ? error.message : String(error))}`,
      {},
    )
  }

  /**
   * Writes what is pending, at most `WRITE_CHUNK` items of each kind (samples: see
   * `SAMPLE_CHUNK`) per turn of the event loop: 10,000 history samples are written as a series of
   * short transactions with checks running in between, not as one long stall.
   */
  private flush(): void {
    this.clearFlush()
    if (!this.writeChunk(WRITE_CHUNK)) return
    if (this.dirty.size > 0 || this.pendingTransitions.length > 0) {
      this.flushImmediate = setImmediate(() => {
        this.flushImmediate = undefined
        this.flush()
      })
    } else {
      // Only history samples wait: they are paced (see SAMPLE_CHUNK).
      this.flushTimer = setTimeout(() => this.flush(), SAMPLE_PACE_MS)
    }
  }

  private clearFlush(): void {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.flushImmediate) clearImmediate(this.flushImmediate)
    this.flushImmediate = undefined
  }

  /** Writes up to `limit` items of each kind; returns whether more are pending. */
  private writeChunk(limit: number): boolean {
    const { store, stateOf } = this.options
    const now = Date.now()
    const states: CheckState[] = []
    for (const item of this.dirty) {
      if (states.length >= limit) break
      this.dirty.delete(item)
      const state = stateOf(item, now)
      if (state) states.push(state)
    }
    const transitions = this.pendingTransitions.splice(0, limit)
    const sampleChunk = Math.max(SAMPLE_CHUNK, Math.ceil(this.pendingSamples.length / SAMPLE_SHARE))
    const samples = this.pendingSamples.splice(0, Math.min(limit, sampleChunk))
    const removals = this.pendingRemovals
    this.pendingRemovals = []
    try {
      if (removals.length > 0) store.removeStates(removals)
      if (states.length > 0) store.saveStates(states)
      if (transitions.length > 0) store.addTransitions(transitions)
      if (samples.length > 0) store.addSamples(samples)
      if (this.storeFailing) {
        this.storeFailing = false
        writeLog(this.options.logger, 'info', 'the monitor store is writable again', {})
      }
    } catch (error) {
      this.storeError('writing to the store', error)
    }
    return this.dirty.size > 0 || this.pendingTransitions.length > 0 || this.pendingSamples.length > 0
  }
}
