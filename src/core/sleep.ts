/**
 * A pause that a close can cut short. When `signal` aborts, the wait ends at once and
 * resolves rather than rejects: the caller looks at the signal next and stops, with no
 * error to catch. The timer is an ordinary one (it keeps the process alive), and nothing
 * is left on the signal once the pause ends either way.
 *
 * @example
 * await sleep(backoffMs, closing.signal)
 * if (closing.signal.aborted) return
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
