/**
 * Bounds on what clients of the monitor's API may ask for: a token bucket per key (pushes
 * per check per second) and a cap on requests held open at once (long-poll watchers,
 * event streams). Refusals carry the seconds to wait, for a `Retry-After` header.
 */

export interface TokenBucketOptions {
  /** Tokens added per second (the sustained rate). */
  ratePerSecond: number
  /** Tokens a bucket holds at most (the burst). Default: one second's worth, at least 1. */
  burst?: number
  /** Buckets kept at most; beyond that the fullest (least recently used) are dropped. Default 100 000. */
  maxKeys?: number
  /**
   * A refusal holds the key back for the whole wait it announced (its `Retry-After`): a
   * client that ignores it gains nothing by retrying early. Default false (a token is
   * granted as soon as one has refilled).
   */
  holdForAnnouncedWait?: boolean
  now?: () => number
}

interface Bucket {
  tokens: number
  at: number
  /** With `holdForAnnouncedWait`: refused until then, whatever refilled. */
  heldUntil?: number
}

/**
 * One token bucket per key. A full bucket is the same as no bucket, so buckets that
 * refilled are forgotten: memory follows the keys active in the last second or so.
 */
export class TokenBuckets {
  private readonly rate: number
  private readonly burst: number
  private readonly maxKeys: number
  private readonly hold: boolean
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0))
      throw new RangeError(`ratePerSecond must be above 0, got ${options.ratePerSecond}`)
    this.rate = options.ratePerSecond
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.ratePerSecond))
    this.maxKeys = options.maxKeys ?? 100_000
    this.hold = options.holdForAnnouncedWait === true
    this.now = options.now ?? (() => performance.now())
  }

  /** Takes a token for `key`: 0 when granted, else the seconds until one is available (at least 1). */
  take(key: string): number {
    const now = this.now()
    let bucket = this.buckets.get(key)
    if (bucket) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate)
      bucket.at = now
      // Most recently used last: the first entries are the ones to forget.
      this.buckets.delete(key)
      this.buckets.set(key, bucket)
    } else {
      if (this.buckets.size >= this.maxKeys) this.sweep(now)
      bucket = { tokens: this.burst, at: now }
      this.buckets.set(key, bucket)
    }
    const held = this.held(bucket, now)
    if (held > 0) return held
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return this.refuse(bucket, bucket.tokens, now)
  }

  /** Seconds left of an announced wait (with `holdForAnnouncedWait`), else 0. */
  private held(bucket: Bucket, now: number): number {
    if (bucket.heldUntil === undefined) return 0
    if (now < bucket.heldUntil) return Math.max(1, Math.ceil((bucket.heldUntil - now) / 1000))
    bucket.heldUntil = undefined
    return 0
  }

  /** A refusal: the whole seconds to wait, held to when `holdForAnnouncedWait`. */
  private refuse(bucket: Bucket, tokens: number, now: number): number {
    const seconds = Math.max(1, Math.ceil((1 - tokens) / this.rate))
    if (this.hold) bucket.heldUntil = now + seconds * 1000
    return seconds
  }

  get size(): number {
    return this.buckets.size
  }

  /**
   * Makes room: forgets refilled buckets from the least recently used on, and stops at the
   * first that is still in use. A map full of busy keys (a flood from 100,000 addresses)
   * then costs each new key one look, not a walk over the whole map; each bucket forgotten
   * was paid for when it was made.
   */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const refilled = bucket.tokens + ((now - bucket.at) / 1000) * this.rate >= this.burst
      if (!refilled || (bucket.heldUntil !== undefined && now < bucket.heldUntil)) break
      this.buckets.delete(key)
    }
    // Still full of busy keys: drop the least recently used.
    while (this.buckets.size >= this.maxKeys) {
      const first = this.buckets.keys().next().value as string
      this.buckets.delete(first)
    }
  }
}

/** A cap on things held open at once; `acquire` returns a release function, or undefined at the cap. */
export class Slots {
  private used = 0

  constructor(readonly max: number) {}

  acquire(): (() => void) | undefined {
    if (this.used >= this.max) return undefined
    this.used++
    let released = false
    return () => {
      if (released) return
      released = true
      this.used--
    }
  }

  get inUse(): number {
    return this.used
  }
}
