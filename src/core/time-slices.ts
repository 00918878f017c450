import { setImmediate as nextTurn } from 'node:timers/promises'
import { sleep } from './sleep.js'

/** How long a pause waits at most for other work that is behind, ms (see `timeSlices`). */
export const MAX_BACKOFF_MS = 100
const BACKOFF_STEP_MS = 5

/**
 * Long work in slices: `await pause()` in a loop lets the event loop run (timers, sockets,
 * other requests) once `sliceMs` of work has gone by since it last did, and costs a
 * microtask otherwise. With `behind` (other work that is late: checks due and not started),
 * a pause then waits, a few milliseconds at a time and `MAX_BACKOFF_MS` at most, until that
 * work has caught up: the long work takes the time the rest leaves, not the other way round.
 *
 * @example
 * const pause = timeSlices(10, () => scheduler.behind())
 * for (const spec of specs) {
 *   prepare(spec)
 *   await pause()
 * }
 */
export function timeSlices(sliceMs: number, behind?: () => boolean): () => Promise<void> | undefined {
  let sliceStart = performance.now()
  const rest = async () => {
    await nextTurn()
    if (behind) {
      for (let waited = 0; waited < MAX_BACKOFF_MS && behind(); waited += BACKOFF_STEP_MS) await sleep(BACKOFF_STEP_MS)
    }
    sliceStart = performance.now()
  }
  return () => (performance.now() - sliceStart < sliceMs ? undefined : rest())
}
