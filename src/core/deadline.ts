import { MAX_TIMER_MS } from './clock.js'
import { DeadlineExceeded } from './errors.js'

export interface DeadlineOptions {
  /** The deadline, in ms. */
  timeoutMs: number
  /** Aborts the task early; the task's signal fires with this signal's reason. */
  signal?: AbortSignal
}

/**
 * Deadlines waiting on one parent signal. A parent (the monitor's stop signal) is shared by
 * hundreds of runs in flight: one listener per parent that fans out, instead of one
 * EventTarget listener per run — adding a listener to an AbortSignal walks the listeners
 * already there, so 256 runs in flight cost 256 steps per run.
 */
const waiting = new WeakMap<AbortSignal, Set<Deadline>>()

function listenToParent(parent: AbortSignal, deadline: Deadline): Set<Deadline> {
  let runs = waiting.get(parent)
  if (!runs) {
    const set = new Set<Deadline>()
    runs = set
    waiting.set(parent, set)
    parent.addEventListener(
      'abort',
      () => {
        waiting.delete(parent)
        const reason = parent.reason ?? new Error('aborted')
        for (const d of set) d.fire(reason)
        set.clear()
      },
      { once: true },
    )
  }
  runs.add(deadline)
  return runs
}

function expire(deadline: Deadline, timeoutMs: number): void {
  // The error is built only when the deadline fires: an Error captures a stack, which
  // would cost every (passing) run several microseconds.
  deadline.fire(new DeadlineExceeded(timeoutMs))
}

/** A deadline past what one timer holds (`MAX_TIMER_MS`, 24.8 days) waits in timers of that length. */
function waitLonger(deadline: Deadline, timeoutMs: number, leftMs: number): void {
  deadline.wait(timeoutMs, leftMs)
}

/**
 * One run's deadline: after `timeoutMs`, or when `parent` aborts first, it fires once —
 * `onFire` and the run's own abort listener are called with the reason (`DeadlineExceeded`
 * or the parent's). The one deadline mechanism of probekit: `withDeadline` (probes, shutdown
 * hooks) and the monitor's checkers both run under it.
 *
 * Cheap for a run that ends in time, which is nearly every run: a timer and this object.
 * An `AbortSignal` is made only when something asks for `signal` (an EventTarget costs more
 * than the rest of a monitor's HTTP check); a hot path listens with `onAbort` instead.
 */
export class Deadline {
  aborted = false
  /** Why it fired: `DeadlineExceeded`, or the parent signal's reason. */
  reason: unknown = undefined
  /** Called once when the deadline fires; one listener (the run's own cancellation). */
  onAbort: ((reason: unknown) => void) | undefined = undefined
  private controller: AbortController | undefined = undefined
  private timer: NodeJS.Timeout | undefined
  private parentRuns: Set<Deadline> | undefined = undefined

  /** Fires at once (within the constructor) when `parent` has already aborted. */
  constructor(
    timeoutMs: number,
    parent: AbortSignal | undefined,
    private readonly onFire: (reason: unknown) => void,
  ) {
    this.timer =
      timeoutMs <= MAX_TIMER_MS ? setTimeout(expire, timeoutMs, this, timeoutMs) : this.longTimer(timeoutMs, timeoutMs)
    if (parent) {
      if (parent.aborted) this.fire(parent.reason ?? new Error('aborted'))
      else this.parentRuns = listenToParent(parent, this)
    }
  }

  /** @internal The next timer of a deadline `leftMs` away (see `waitLonger`). */
  wait(timeoutMs: number, leftMs: number): void {
    if (this.aborted) return
    this.timer =
      leftMs <= MAX_TIMER_MS ? setTimeout(expire, leftMs, this, timeoutMs) : this.longTimer(timeoutMs, leftMs)
  }

  private longTimer(timeoutMs: number, leftMs: number): NodeJS.Timeout {
    return setTimeout(waitLonger, MAX_TIMER_MS, this, timeoutMs, leftMs - MAX_TIMER_MS)
  }

  /** An AbortSignal that fires with the deadline (made on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  /** Fires now with `reason` (the first call wins). */
  fire(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.clear()
    this.controller?.abort(reason)
    this.onAbort?.(reason)
    this.onFire(reason)
  }

  /** The run ended: the timer and the parent's listener are released. */
  clear(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.parentRuns?.delete(this)
    this.parentRuns = undefined
  }
}

/**
 * Runs `task` under a deadline: its signal fires and the returned promise rejects with
 * `DeadlineExceeded` after `timeoutMs` (or with the parent signal's reason when that aborts
 * first). It never waits longer than the deadline: a task that ignores its signal is left
 * behind and its late outcome is swallowed. Probes (`runProbe`) and the graceful-shutdown
 * hooks both use this.
 */
export function withDeadline<T>(task: (signal: AbortSignal) => T | Promise<T>, options: DeadlineOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const deadline = new Deadline(options.timeoutMs, options.signal, (reason) => {
      if (settled) return
      settled = true
      reject(reason)
    })
    // The task starts at once (its synchronous part runs here, after the timer is armed),
    // even under a parent already aborted: it sees its signal aborted. A synchronous throw
    // is a rejection like any other.
    let outcome: T | Promise<T>
    try {
      outcome = task(deadline.signal)
    } catch (error) {
      outcome = Promise.reject(error)
    }
    // A task that ignores its signal may settle long after the deadline: that is swallowed.
    Promise.resolve(outcome).then(
      (value) => {
        if (settled) return
        settled = true
        deadline.clear()
        resolve(value)
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        deadline.clear()
        reject(error)
      },
    )
  })
}
