/**
 * A probe that uses the app's own client must not let commands pile up behind a hung
 * server: most drivers queue a command until it is answered, and the app's client is
 * shared, so the probe may not destroy it. Each check therefore joins the command still
 * in flight from an earlier check instead of sending another one — against a frozen
 * server the client holds at most one probe command, however many checks time out.
 */
export class InFlight<T> {
  private current: Promise<T> | undefined

  /** The pending operation, or a new one from `start` when none is pending. */
  run(start: () => Promise<T>): Promise<T> {
    if (this.current) return this.current
    let operation: Promise<T>
    try {
      operation = start()
    } catch (error) {
      return Promise.reject(error)
    }
    const settled = () => {
      if (this.current === tracked) this.current = undefined
    }
    const tracked = operation.finally(settled)
    // Whoever awaited it may have given up at a deadline: never an unhandled rejection.
    tracked.catch(() => {})
    this.current = tracked
    return tracked
  }

  /** Whether an operation is still waiting for its answer. */
  get pending(): boolean {
    return this.current !== undefined
  }
}

/** One `InFlight` per client object, without keeping the client alive. */
export class InFlightPerClient<K extends object, T> {
  private readonly byClient = new WeakMap<K, InFlight<T>>()

  for(client: K): InFlight<T> {
    let inFlight = this.byClient.get(client)
    if (!inFlight) {
      inFlight = new InFlight<T>()
      this.byClient.set(client, inFlight)
    }
    return inFlight
  }
}
