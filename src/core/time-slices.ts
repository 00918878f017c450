import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Long work in slices: `await pause()` in a loop lets the event loop run (timers, sockets,
 * other requests) once `sliceMs` of work has gone by since it last did, and costs a
 * microtask otherwise.
 *
 * @example
 * const pause = timeSlices(10)
 * for (const spec of specs) {
 *   prepare(spec)
 *   await pause()
 * }
 */
export function timeSlices(sliceMs: number): () => Promise<void> | undefined {
  let sliceStart = performance.now()
  return () => {
    if (performance.now() - sliceStart < sliceMs) return undefined
    return nextTurn().then(() => {
      sliceStart = performance.now()
    })
  }
}
