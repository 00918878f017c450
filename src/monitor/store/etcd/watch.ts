/**
 * One etcd watch on the store's prefix, kept open for the store's life: it starts after
 * the last revision read, and when it breaks (etcd away, the revision compacted, a failure
 * the store saw elsewhere) the store reads the prefix again and a fresh watch starts.
 */
import { sleep } from '../../../core/sleep.js'
import { b64, type EtcdGateway, isStaleToken, prefixEnd, type WatchResult } from './gateway.js'

/** What the watch needs from its store. */
export interface WatchHooks {
  /** Reads the whole prefix again (and sets `revision` to what it read). */
  resync(): Promise<void>
  /** Changes etcd reported. */
  changed(result: WatchResult): void
  /** etcd answered again after a resync, asked for at `sentAt` (performance.now()). */
  answered(sentAt: number): void
  failed(error: unknown): void
  /** Whether etcd answered the latest request: a break is retried sooner when it did. */
  available(): boolean
}

export class PrefixWatch {
  /** The latest revision seen (read or watched). */
  revision = 0
  /** When the current watch was asked for (performance.now()): its events are answers from then. */
  startedAt = Number.NEGATIVE_INFINITY
  private abort: AbortController | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly gateway: EtcdGateway,
    private readonly prefix: string,
    /** Aborted when the store closes: ends the watch for good. */
    private readonly closing: AbortSignal,
    private readonly hooks: WatchHooks,
  ) {}

  start(): void {
    this.running = this.loop()
  }

  /** Ends the current watch; the loop re-syncs and watches again (or stops, once closing). */
  restart(): void {
    this.abort?.abort()
  }

  /** Resolves when the loop has ended (after `closing` aborts). */
  async stopped(): Promise<void> {
    await this.running?.catch(() => {})
  }

  private async loop(): Promise<void> {
    let needResync = false
    while (!this.closing.aborted) {
      this.abort = new AbortController()
      const signal = AbortSignal.any([this.abort.signal, this.closing])
      try {
        if (needResync) {
          const sentAt = performance.now()
          await this.hooks.resync()
          this.hooks.answered(sentAt)
        }
        needResync = true
        this.startedAt = performance.now()
        await this.gateway.watch(
          {
            create_request: {
              key: b64(`${this.prefix}/`),
              range_end: prefixEnd(`${this.prefix}/`),
              start_revision: String(this.revision + 1),
            },
          },
          (result) => this.onResult(result),
          signal,
        )
      } catch (error) {
        if (this.closing.aborted) return
        // A watch refused for an expired token: the resync above logs in again; nothing to report.
        if (!this.abort.signal.aborted && !isStaleToken(error)) this.hooks.failed(error)
      }
      await sleep(this.hooks.available() ? 200 : 1000, this.closing)
    }
  }

  private onResult(result: WatchResult): void {
    if (result.canceled || result.compact_revision) {
      // The revision we asked for was compacted away: end this watch, the loop re-syncs.
      this.abort?.abort()
      return
    }
    if (result.header?.revision) this.revision = Math.max(this.revision, Number(result.header.revision))
    this.hooks.changed(result)
  }
}
