/**
 * When checks run. Each job first runs at a random point in its first interval (so a
 * fleet loaded at once does not fire at once), then at a fixed rate: the n-th run is due
 * at `first + n × interval`, whatever the runs before it took. At most `concurrency` runs
 * are in flight; a job still running (or still waiting for a slot) at its next tick is not
 * started twice — that tick is skipped and counted.
 *
 * One timer serves every job: the due times live in a binary heap, so 10,000 checks cost
 * one timer and a heap, not 10,000 timers.
 *
 * Runs waiting for a slot go first come first served, except a job added with `ahead`:
 * its first run waits ahead of the others. A check taken over from a dead replica has gone
 * unchecked for a whole lease TTL, while the queued ones ran an interval ago; behind a
 * backlog it would otherwise wait as long again.
 *
 * How late each run starts after it was due is counted in a histogram (`delays`): the
 * monitor's own view of falling behind, beside the `skipped` count.
 */
import { MAX_TIMER_MS } from '../core/clock.js'
import { DEFAULT_BUCKETS_S, Histogram, type HistogramCounts } from '../format/prometheus.js'

export interface SchedulerOptions {
  /** Runs in flight at most. Default 256. */
  concurrency?: number
  /** Random numbers in [0, 1) for the first run's jitter. Default Math.random. */
  random?: () => number
  /** A monotonic clock in ms. Default performance.now. */
  now?: () => number
}

/** What a run learns about its schedule. */
export interface RunTiming {
  /** When the run was due (scheduler clock, ms). */
  dueAt: number
  /** How late it started, ms (waiting for a slot, or a busy event loop). */
  lateMs: number
}

export interface SchedulerStats {
  /** Runs started. */
  started: number
  /** Ticks skipped because the job's previous run had not finished. */
  skipped: number
  /** Runs in flight now. */
  running: number
  /** Jobs waiting for a slot now. */
  waiting: number
}

/** The scheduler's counts and how late its runs started (see `Monitor.runStats`). */
export interface RunStats extends SchedulerStats {
  /** How late runs started after they were due, in seconds. */
  delays: HistogramCounts
}

interface Entry {
  id: string
  intervalMs: number
  run: (timing: RunTiming) => Promise<unknown>
  dueAt: number
  running: boolean
  waiting: boolean
  removed: boolean
  /** When the waiting run was due. */
  waitingDueAt: number
  /** The next run waits ahead of the queue (cleared once it is queued). */
  ahead: boolean
  /** When the run after the first is due, if not an interval after it (cleared once used). */
  thenDueAt: number | undefined
}

/** A run that starts this much later than it was due counts as late for `Scheduler.behind`, ms. */
const BEHIND_MS = 50

export class Scheduler {
  private readonly concurrency: number
  private readonly random: () => number
  private readonly now: () => number
  private readonly heap: Entry[] = []
  private readonly entries = new Map<string, Entry>()
  /** Runs waiting for a slot, first come first served. */
  private readonly queue = new RunQueue()
  /** First runs of jobs added with `ahead`, started before any run of `queue`. */
  private readonly urgent = new RunQueue()
  private waitingCount = 0
  private readonly inFlight = new Set<Promise<unknown>>()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Number.POSITIVE_INFINITY
  private started = false
  private counts = { started: 0, skipped: 0 }
  /** When a run last started more than `BEHIND_MS` late (`behind`). */
  private lateAt = Number.NEGATIVE_INFINITY
  /** How late runs started after they were due, in seconds. */
  private readonly delayCounts = new Histogram(DEFAULT_BUCKETS_S)

  constructor(options: SchedulerOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 256)
    this.random = options.random ?? Math.random
    this.now = options.now ?? (() => performance.now())
  }

  /**
   * Schedules `run` every `intervalMs`, the first time at a random point within the first
   * interval (or after `firstDelayMs`, when given). Replaces a job with the same id. With
   * `ahead`, the first run, once due, starts before every run already waiting for a slot.
   * With `thenDelayMs` (later than the first run), the second run is due then and the
   * rhythm goes on from it: a first run out of step (a check taken over), then back in step.
   * Delays count from `fromMs` (this scheduler's clock, see `clock()`), by default now: jobs
   * added in one long loop keep the order their delays give them.
   */
  add(
    id: string,
    intervalMs: number,
    run: (timing: RunTiming) => Promise<unknown>,
    firstDelayMs?: number,
    ahead = false,
    thenDelayMs?: number,
    fromMs?: number,
  ): void {
    this.remove(id)
    const now = fromMs ?? this.now()
    const dueAt = now + (firstDelayMs ?? this.random() * intervalMs)
    const entry: Entry = {
      id,
      intervalMs,
      run,
      dueAt,
      running: false,
      waiting: false,
      removed: false,
      waitingDueAt: 0,
      ahead,
      thenDueAt: thenDelayMs !== undefined && now + thenDelayMs > dueAt ? now + thenDelayMs : undefined,
    }
    this.entries.set(id, entry)
    this.push(entry)
    if (this.started) this.arm()
  }

  /** Unschedules a job; a run in flight finishes, and is not followed by another. */
  remove(id: string): void {
    const entry = this.entries.get(id)
    if (!entry) return
    entry.removed = true
    this.entries.delete(id)
    if (entry.waiting) {
      entry.waiting = false
      this.waitingCount--
    }
  }

  /** This scheduler's clock (monotonic, ms): the `fromMs` of `add`. */
  clock(): number {
    return this.now()
  }

  has(id: string): boolean {
    return this.entries.has(id)
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.arm()
  }

  /** Stops scheduling and waits for the runs in flight (they end at their deadlines). */
  async stop(): Promise<void> {
    this.started = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
    this.queue.clear()
    this.urgent.clear()
    this.waitingCount = 0
    await Promise.allSettled([...this.inFlight])
  }

  /**
   * Whether runs are late now: some are due and wait for a slot, or a run started in the
   * last second began more than `BEHIND_MS` after it was due (a busy event loop). Long work
   * that can wait (a reload) gives way while this holds.
   */
  behind(): boolean {
    return this.waitingCount > 0 || this.now() - this.lateAt < 1000
  }

  get stats(): SchedulerStats {
    return { ...this.counts, running: this.inFlight.size, waiting: this.waitingCount }
  }

  /** How late runs started after they were due, in seconds (Prometheus' default buckets). */
  get delays(): HistogramCounts {
    return this.delayCounts
  }

  private arm(): void {
    if (!this.started) return
    const next = this.peek()
    if (!next) return
    if (this.timer && next.dueAt >= this.timerAt) return
    clearTimeout(this.timer)
    // A job due more than MAX_TIMER_MS away (an interval of 30 days) is looked at again then.
    const now = this.now()
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next.dueAt - now))
    this.timerAt = Math.min(next.dueAt, now + delay)
    this.timer = setTimeout(() => this.tick(), delay)
  }

  private tick(): void {
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
    if (!this.started) return
    const now = this.now()
    // Timers may fire a hair early; a millisecond of slack keeps a due job from waiting a whole turn.
    for (let entry = this.peek(); entry && entry.dueAt <= now + 1; entry = this.peek()) {
      this.pop()
      if (entry.removed) continue
      const dueAt = entry.dueAt
      if (entry.running || entry.waiting) this.counts.skipped++
      else {
        entry.waiting = true
        entry.waitingDueAt = dueAt
        if (entry.ahead) {
          entry.ahead = false
          this.urgent.push(entry)
        } else this.queue.push(entry)
        this.waitingCount++
      }
      // Fixed rate: the next run is one interval after this one was due, not after it ends.
      if (entry.thenDueAt === undefined) entry.dueAt += entry.intervalMs
      else {
        entry.dueAt = entry.thenDueAt
        entry.thenDueAt = undefined
      }
      if (entry.dueAt <= now) {
        // Fell more than an interval behind (a stalled event loop): skip to the next slot.
        const behind = Math.floor((now - entry.dueAt) / entry.intervalMs) + 1
        this.counts.skipped += behind
        entry.dueAt += behind * entry.intervalMs
      }
      this.push(entry)
    }
    this.drain()
    this.arm()
  }

  private drain(): void {
    while (this.inFlight.size < this.concurrency) {
      const entry = this.urgent.shift() ?? this.queue.shift()
      if (!entry) break
      if (!entry.waiting) continue
      entry.waiting = false
      this.waitingCount--
      entry.running = true
      this.counts.started++
      const dueAt = entry.waitingDueAt
      const now = this.now()
      const lateMs = Math.max(0, now - dueAt)
      this.delayCounts.observe(lateMs / 1000)
      if (lateMs > BEHIND_MS) this.lateAt = now
      let promise: Promise<unknown>
      try {
        promise = Promise.resolve(entry.run({ dueAt, lateMs }))
      } catch (error) {
        promise = Promise.reject(error)
      }
      // One settle handler per run (not a catch and a finally): thousands of runs a second.
      const settled = (): void => {
        entry.running = false
        this.inFlight.delete(tracked)
        if (this.started) this.drain()
      }
      const tracked: Promise<unknown> = promise.then(settled, settled)
      this.inFlight.add(tracked)
    }
    this.urgent.compact()
    this.queue.compact()
  }

  // A binary min-heap on dueAt.
  private peek(): Entry | undefined {
    while (this.heap.length > 0 && (this.heap[0] as Entry).removed) this.pop()
    return this.heap[0]
  }

  private push(entry: Entry): void {
    const heap = this.heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as Entry).dueAt <= entry.dueAt) break
      heap[i] = heap[parent] as Entry
      i = parent
    }
    heap[i] = entry
  }

  private pop(): Entry | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last) {
      let i = 0
      const n = heap.length
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let smallest = i
        let smallestDue = last.dueAt
        if (l < n && (heap[l] as Entry).dueAt < smallestDue) {
          smallest = l
          smallestDue = (heap[l] as Entry).dueAt
        }
        if (r < n && (heap[r] as Entry).dueAt < smallestDue) smallest = r
        if (smallest === i) break
        heap[i] = heap[smallest] as Entry
        i = smallest
      }
      heap[i] = last
    }
    return top
  }
}

/**
 * Runs waiting for a slot, taken from `head` on: a backlog of 40,000 runs (a fleet loaded
 * at once, a stalled loop) must not cost a shift of the whole array per run started. A
 * removed job's slot stays behind, no longer `waiting`.
 */
class RunQueue {
  private readonly items: (Entry | undefined)[] = []
  private head = 0

  push(entry: Entry): void {
    this.items.push(entry)
  }

  /** The oldest run waiting, or undefined when none is. */
  shift(): Entry | undefined {
    if (this.head === this.items.length) return undefined
    const entry = this.items[this.head]
    this.items[this.head++] = undefined
    return entry
  }

  /** Gives back the room of what was taken: all of it when empty, else once it is half the array. */
  compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head)
      this.head = 0
    }
  }

  /** Empties the queue; what waited is no longer `waiting`. */
  clear(): void {
    for (let i = this.head; i < this.items.length; i++) {
      const entry = this.items[i]
      if (entry) entry.waiting = false
    }
    this.items.length = 0
    this.head = 0
  }
}
