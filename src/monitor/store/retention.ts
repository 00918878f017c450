/**
 * The shape of the bounded history, shared by every store: each outcome is counted into a
 * one-minute bucket and into a one-hour rollup at once; minute buckets are kept for six
 * hours and hourly rollups for thirty days. A reader gets hourly points for the older
 * past and minute points for the recent hours.
 */
import { optionKeys } from '../../core/options.js'
import type { HistorySample, Silence } from '../types.js'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000

export interface Retention {
  /** How long minute buckets are kept, ms. Default 6 h. */
  minutesMs: number
  /** How long hourly rollups are kept, ms. Default 30 days. */
  hoursMs: number
  /** Transitions kept per check at most. Default 1000. */
  transitionsPerCheck: number
  /** Transitions are dropped after this long, ms. Default 30 days. */
  transitionsMs: number
  /** Silences are dropped this long after they ended (`silence list` shows them until then), ms. Default 7 days. */
  endedSilencesMs: number
  /** Silences kept at most, ended or not; beyond it, those that ended (or end) first are dropped. Default 10,000. */
  maxSilences: number
}

export const DEFAULT_RETENTION: Retention = {
  minutesMs: 6 * HOUR_MS,
  hoursMs: 30 * 24 * HOUR_MS,
  transitionsPerCheck: 1000,
  transitionsMs: 30 * 24 * HOUR_MS,
  endedSilencesMs: 7 * 24 * HOUR_MS,
  maxSilences: 10_000,
}

/** The keys a `retention` option may have. */
export const RETENTION_KEYS = optionKeys<Retention>()(DEFAULT_RETENTION)

/** A sample's count, passes and total duration, with the defaults of `HistorySample`. */
export function sampleTotals(sample: HistorySample): {
  count: number
  passed: number
  durationSum: number
  timed: number
} {
  const count = sample.count ?? 1
  const passed = sample.passed ?? (sample.state === 'passing' ? count : 0)
  const timed = sample.durationMs === undefined ? 0 : count
  return { count, passed, durationSum: (sample.durationMs ?? 0) * timed, timed }
}

/** Minute buckets at or after this time are served as minutes; older history as hours. */
export function minuteCutoff(now: number, retention: Retention): number {
  return Math.floor((now - retention.minutesMs) / HOUR_MS) * HOUR_MS
}

/** Ended silences past their week are looked for at most this often (and whenever the bound is passed). */
export const SILENCE_SWEEP_MS = 60_000

/**
 * Whether a store saving a silence should look for silences to drop: when it holds more
 * than the bound, or a sweep for week-old ones is due. A flood of adds then costs one count
 * each, not a pass over every silence.
 */
export function silenceSweepDue(count: number, now: number, lastSweepMs: number, retention: Retention): boolean {
  return count > Math.max(0, Math.floor(retention.maxSilences)) || !(now - lastSweepMs < SILENCE_SWEEP_MS)
}

/**
 * The ids of the silences a store drops: those that ended longer than the retention ago,
 * then, beyond the count, those that end first. Every store prunes with this, so memory,
 * SQLite and etcd keep the same silences.
 */
export function silencesToDrop(silences: Iterable<Silence>, now: number, retention: Retention): string[] {
  const cutoff = now - retention.endedSilencesMs
  const drop: string[] = []
  const kept: Silence[] = []
  for (const s of silences) {
    const endsAt = Date.parse(s.endsAt)
    if (!(endsAt > cutoff)) drop.push(s.id)
    else kept.push(s)
  }
  const over = kept.length - Math.max(0, Math.floor(retention.maxSilences))
  if (over > 0) {
    kept.sort((a, b) => Date.parse(a.endsAt) - Date.parse(b.endsAt) || a.id.localeCompare(b.id))
    for (const s of kept.slice(0, over)) drop.push(s.id)
  }
  return drop
}
