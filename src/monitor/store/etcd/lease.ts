/**
 * This replica's etcd lease: granted when the store opens, kept alive every third of its
 * TTL, taken anew when etcd let it expire (frozen, or away longer than the TTL), revoked at
 * shutdown. Whatever was bound to a lost lease is gone from etcd; `granted` writes it again.
 */

/** What the lease needs from its store. */
export interface LeaseHooks {
  call<T>(path: string, body: unknown): Promise<T>
  /** A new lease: the registration and every state bound to the old one are to be written again. */
  granted(): void
  /** etcd answered a renewal or a grant, asked for at `sentAt` (performance.now()). */
  answered(sentAt: number): void
  /** etcd did not answer, or refused. */
  failed(error: unknown): void
  /** A lease is there again: the writer may go on. */
  resume(): void
  /** Try again later (a grant failed). */
  retryLater(): void
}

export class EtcdLease {
  private leaseId: string | undefined
  private timer: NodeJS.Timeout | undefined
  private renewing = false
  private stopped = false

  constructor(
    readonly ttlSeconds: number,
    private readonly hooks: LeaseHooks,
  ) {}

  /** The lease's id (a decimal string, as etcd's gateway sends it), while one is held. */
  get id(): string | undefined {
    return this.leaseId
  }

  async grant(): Promise<void> {
    const answer = await this.hooks.call<{ ID: string; TTL: string }>('/v3/lease/grant', { TTL: this.ttlSeconds })
    this.leaseId = answer.ID
    this.hooks.granted()
  }

  /** Whether a lease is held, granting one if not; a failed grant is reported and retried later. */
  async ensure(): Promise<boolean> {
    if (this.leaseId) return true
    try {
      await this.grant()
      return true
    } catch (error) {
      this.hooks.failed(error)
      this.hooks.retryLater()
      return false
    }
  }

  /** etcd no longer has the lease (it said so); the next `ensure()` takes a new one. */
  lost(): void {
    this.leaseId = undefined
  }

  /** Renews the lease every third of its TTL until `stop()`. */
  keepAlive(): void {
    this.timer = setInterval(() => void this.keepalive(), (this.ttlSeconds * 1000) / 3)
    this.timer.unref()
  }

  /** Ends the renewals; the lease is held until `revoke()` or `lost()`. */
  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /** Gives the lease back: everything bound to it disappears from etcd at once. */
  async revoke(): Promise<void> {
    if (this.leaseId) await this.hooks.call('/v3/lease/revoke', { ID: this.leaseId }).catch(() => {})
  }

  private async keepalive(): Promise<void> {
    if (this.stopped || this.renewing) return
    this.renewing = true
    try {
      await this.renew()
    } finally {
      this.renewing = false
    }
  }

  private async renew(): Promise<void> {
    const sentAt = performance.now()
    if (!this.leaseId) {
      if (await this.ensure()) {
        this.hooks.answered(sentAt)
        this.hooks.resume()
      }
      return
    }
    const lease = this.leaseId
    try {
      const answer = await this.hooks.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease })
      if (this.leaseId !== lease) return
      if (!answer.result?.TTL || Number(answer.result.TTL) <= 0) {
        // etcd let the lease expire (it was frozen, or away longer than the TTL): take a new one.
        this.lost()
        if (await this.ensure()) this.hooks.resume()
      }
      this.hooks.answered(sentAt)
    } catch (error) {
      this.hooks.failed(error)
    }
  }
}
