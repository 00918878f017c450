import { DeadlineExceeded } from './errors.js'

export interface DeadlineOptions {
  /** The deadline, in ms. */
  timeoutMs: number
  /** Aborts the task early; the task's signal fires with this signal's reason. */
  signal?: AbortSignal
}

const noop = () => {}

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
  let onParentAbort: (() => void) | undefined
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
      else {
        onParentAbort = () => fire(parent.reason ?? new Error('aborted'))
        parent.addEventListener('abort', onParentAbort, { once: true })
      }
    }
  })
  deadline.catch(noop)

  try {
    const outcome = Promise.resolve().then(() => task(controller.signal))
    // A task that ignores its signal may settle long after the deadline: swallow that.
    outcome.catch(noop)
    return await Promise.race([outcome, deadline])
  } finally {
    clearTimeout(timer)
    if (onParentAbort) parent?.removeEventListener('abort', onParentAbort)
  }
}
