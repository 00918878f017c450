import { DeadlineExceeded } from './errors.js'

export interface DeadlineOptions {
  /** The deadline, in ms. */
  timeoutMs: number
  /** Aborts the task early; the task's signal fires with this signal's reason. */
  signal?: AbortSignal
}

const noop = () => {}

/**
 * Runs waiting on one parent signal, each with the function that aborts it. A parent (the
 * monitor's stop signal) is shared by hundreds of runs in flight: one listener per parent
 * that fans out, instead of one EventTarget listener per run — adding a listener to an
 * AbortSignal walks the listeners already there, so 256 runs in flight cost 256 steps per run.
 */
const waiting = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>()

function onParentAbort(parent: AbortSignal, fire: (reason: unknown) => void): () => void {
  let runs = waiting.get(parent)
  if (!runs) {
    const set = new Set<(reason: unknown) => void>()
    runs = set
    waiting.set(parent, set)
    parent.addEventListener(
      'abort',
      () => {
        waiting.delete(parent)
        const reason = parent.reason ?? new Error('aborted')
        for (const f of set) f(reason)
        set.clear()
      },
      { once: true },
    )
  }
  const set = runs
  set.add(fire)
  return () => set.delete(fire)
}

/**
 * Runs `task` under a deadline: its signal fires and the returned promise rejects with
 * `DeadlineExceeded` after `timeoutMs` (or with the parent signal's reason when that aborts
 * first). It never waits longer than the deadline: a task that ignores its signal is left
 * behind and its late outcome is swallowed. Probes (`runProbe`) and the graceful-shutdown
 * hooks both use this, so there is one deadline mechanism.
 */
export async function withDeadline<T>(
  task: (signal: AbortSignal) => T | Promise<T>,
  options: DeadlineOptions,
): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let stopListening: (() => void) | undefined
  const parent = options.signal

  const deadline = new Promise<never>((_, reject) => {
    const fire = (reason: unknown) => {
      controller.abort(reason)
      reject(reason)
    }
    // The error is built only when the deadline fires: an Error captures a stack, which
    // would cost every (passing) run several microseconds.
    timer = setTimeout(() => fire(new DeadlineExceeded(options.timeoutMs)), options.timeoutMs)
    if (parent) {
      if (parent.aborted) fire(parent.reason ?? new Error('aborted'))
      else stopListening = onParentAbort(parent, fire)
    }
  })
  deadline.catch(noop)

  try {
    // The task starts at once (its synchronous part runs here, after the timer is armed);
    // a synchronous throw is a rejection like any other.
    let outcome: Promise<T>
    try {
      outcome = Promise.resolve(task(controller.signal))
    } catch (error) {
      outcome = Promise.reject(error)
    }
    // A task that ignores its signal may settle long after the deadline: swallow that.
    outcome.catch(noop)
    return await Promise.race([outcome, deadline])
  } finally {
    clearTimeout(timer)
    stopListening?.()
  }
}
