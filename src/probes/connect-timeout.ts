/**
 * URL-mode probes open one short-lived connection. Its connect phase has its own limit
 * (`connectTimeout`, default 2000 ms) so an unreachable address fails with a reason that
 * says so; the probe's deadline, enforced by runProbe through the AbortSignal, still caps
 * everything.
 */
import { MAX_TIMER_MS } from '../core/clock.js'
import { NotReady } from '../core/errors.js'
import type { EveryKey } from '../core/options.js'

export const DEFAULT_CONNECT_TIMEOUT_MS = 2000

/** Options shared by every probe that accepts a URL. */
export interface ConnectOptions {
  /** How long URL mode may take to connect, in ms. Default 2000; the probe's deadline caps it. */
  connectTimeout?: number
}

/** The keys of `ConnectOptions`, to spread into those of a probe's options. */
export const CONNECT_OPTIONS: EveryKey<ConnectOptions> = { connectTimeout: true }

/**
 * The connect limit to use: `connectTimeout` (validated), capped by the probe's own
 * `timeout` when one was given, since the deadline would end the attempt anyway and a
 * driver that cannot be aborted should not keep trying past it.
 */
export function connectTimeoutMs(
  options: { connectTimeout?: number; timeout?: number } | undefined,
  what: string,
): number {
  const value = options?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new TypeError(
      `${what}: connectTimeout must be a positive number of ms, at most ${MAX_TIMER_MS} (24.8 days), got ${String(value)}`,
    )
  }
  const deadline = options?.timeout
  return typeof deadline === 'number' && deadline > 0 ? Math.min(value, deadline) : value
}

/** The failure when a connect phase exceeds its limit. */
export function connectTimedOut(what: string, ms: number): NotReady {
  return new NotReady(`${what}: connect timed out after ${ms} ms`)
}
