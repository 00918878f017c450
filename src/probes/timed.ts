/**
 * Latency as a probe's observed value: how long the check's own work took, in ms, beside
 * the details that work returns. Every probe that reports a round trip (PING, SELECT 1,
 * a handshake, a request) measures it here, so they all round it the same way.
 */
import { monotonicMs } from '../core/clock.js'
import type { CheckDetails } from '../core/types.js'

/** What the timed work reports; `timed` adds the latency. */
export type UntimedDetails = Omit<CheckDetails, 'observedValue' | 'observedUnit'>

/**
 * Runs `work` and returns its details with `observedValue` (ms, rounded to 0.1 ms) and
 * `observedUnit: 'ms'`. A failure passes through untimed. Synchronous work stays
 * synchronous.
 *
 * @example
 * check: ({ signal }) =>
 *   timed(async () => {
 *     await pingOnce(target, limitMs, signal)
 *     return { message: 'PONG', componentId: target.address }
 *   }),
 */
export function timed(work: () => UntimedDetails): CheckDetails
export function timed(work: () => Promise<UntimedDetails>): Promise<CheckDetails>
export function timed(work: () => UntimedDetails | Promise<UntimedDetails>): CheckDetails | Promise<CheckDetails> {
  const started = monotonicMs()
  const details = work()
  if (details instanceof Promise) return details.then((untimed) => withLatency(untimed, started))
  return withLatency(details, started)
}

function withLatency(details: UntimedDetails, started: number): CheckDetails {
  return { ...details, observedValue: Math.round((monotonicMs() - started) * 10) / 10, observedUnit: 'ms' }
}
