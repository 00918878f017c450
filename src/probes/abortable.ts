/**
 * Small pieces every probe uses to stop waiting the moment its AbortSignal fires, without
 * leaving a listener behind on the signal. The probe itself still ends its I/O.
 */

/**
 * Rejects when `signal` aborts, with the signal's reason (runProbe's `timed out after N ms`).
 * `cleanup` removes the listener once the guarded work settles.
 */
export function abortPromise(signal: AbortSignal): { promise: Promise<never>; cleanup: () => void } {
  let onAbort: (() => void) | undefined
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  promise.catch(() => {})
  return {
    promise,
    cleanup: () => {
      if (onAbort) signal.removeEventListener('abort', onAbort)
    },
  }
}

/** Races `work` against the signal, removing the abort listener whichever settles first. */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = abortPromise(signal)
  try {
    return await Promise.race([work, aborted.promise])
  } finally {
    aborted.cleanup()
  }
}
