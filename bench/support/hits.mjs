/**
 * What a target server's access log says about a monitor, measured from outside: how many
 * checks ran, how far each interval between two hits of one target was from the interval
 * due, the longest a target went unchecked, and how many targets were hit more often than
 * their schedule allows (checked twice).
 */
import { percentile } from './stats.mjs'

/**
 * `log` is `{ at: number[] (ms), uri: string[] }`; only hits within [fromMs, toMs] count.
 * Returns per-target hit times (sorted) in a Map of uri → number[].
 */
export function hitsByTarget(log, fromMs = -Infinity, toMs = Infinity) {
  const byUri = new Map()
  for (let i = 0; i < log.at.length; i++) {
    const at = log.at[i]
    if (at < fromMs || at > toMs) continue
    const uri = log.uri[i]
    let list = byUri.get(uri)
    if (!list) byUri.set(uri, (list = []))
    list.push(at)
  }
  for (const list of byUri.values()) list.sort((a, b) => a - b)
  return byUri
}

/**
 * Drift figures: for every two consecutive hits of one target, |gap − interval|. A gap
 * shorter than half the interval is a check run twice (two monitors, or one run twice),
 * counted in `doubleHits` and `doubleTargets`, not as drift.
 */
export function driftOf(byUri, intervalMs) {
  const drifts = []
  let doubleHits = 0
  let doubleTargets = 0
  let maxGapMs = 0
  for (const list of byUri.values()) {
    let doubled = false
    for (let i = 1; i < list.length; i++) {
      const gap = list[i] - list[i - 1]
      if (gap < intervalMs / 2) {
        doubleHits++
        doubled = true
        continue
      }
      if (gap > maxGapMs) maxGapMs = gap
      drifts.push(Math.abs(gap - intervalMs))
    }
    if (doubled) doubleTargets++
  }
  drifts.sort((a, b) => a - b)
  return {
    intervals: drifts.length,
    p50Ms: percentile(drifts, 50),
    p99Ms: percentile(drifts, 99),
    maxMs: drifts.length ? drifts[drifts.length - 1] : Number.NaN,
    maxGapMs,
    doubleHits,
    doubleTargets,
  }
}
