/**
 * The monitor's history: each check's outcomes are counted into one bucket per minute as
 * they come (no I/O on the checking path) and written once, as one `HistorySample`, when
 * the minute is over; until then readers get the bucket from memory (`toPoint`).
 */
import { type HealthState, type HistoryPoint, type HistorySample, stateOfRank, stateRank } from './types.js'

/** One check's outcomes in one minute. */
export class MinuteBucket {
  count = 0
  passed = 0
  durationSum = 0
  timed = 0
  /**
   * The worst state seen this minute. It starts at the lowest rank, passing: `unknown`
   * ranks above passing, so a bucket starting there would never show a passing minute.
   */
  worst: HealthState = 'passing'

  /** The minute as an ISO time starts, `2026-05-01T12:34:` (a quick test for `holds`). */
  private readonly prefix: string

  constructor(
    /** The minute's start, ms since the epoch. */
    readonly minute: number,
  ) {
    this.prefix = new Date(minute).toISOString().slice(0, 17)
  }

  /** Whether `at` (an ISO time as `toISOString` writes it) falls in this minute, without parsing it. */
  holds(at: string): boolean {
    return at.length === 24 && at.startsWith(this.prefix)
  }

  /** The start of the minute `at` (an ISO time) falls in. */
  static minuteOf(at: string): number {
    return Math.floor(Date.parse(at) / 60_000) * 60_000
  }

  /**
   * Counts a run that saw `observed`. `state` is the check's state after thresholds: a
   * passing run of a check still damped to critical counts as critical, a failing run as
   * what it saw.
   */
  add(durationMs: number, observed: HealthState, state: HealthState): void {
    this.count++
    if (observed === 'passing') this.passed++
    this.durationSum += durationMs
    this.timed++
    const seen = observed === 'passing' ? state : observed
    if (stateRank(seen) > stateRank(this.worst)) this.worst = seen
  }

  toSample(id: string): HistorySample {
    const sample: HistorySample = {
      id,
      at: new Date(this.minute).toISOString(),
      state: this.worst,
      count: this.count,
      passed: this.passed,
    }
    if (this.timed > 0) sample.durationMs = this.durationSum / this.timed
    return sample
  }

  /** The bucket as a reader of the history sees a point. */
  toPoint(): HistoryPoint {
    const point: HistoryPoint = {
      at: new Date(this.minute).toISOString(),
      state: this.worst,
      count: this.count,
      passed: this.passed,
    }
    if (this.timed > 0) point.durationMs = this.durationSum / this.timed
    return point
  }
}

/** Two points of the same minute as one: counts added, the worst state, the mean duration weighted by count. */
export function mergePoints(a: HistoryPoint, b: HistoryPoint): HistoryPoint {
  const point: HistoryPoint = {
    at: a.at,
    state: stateOfRank(Math.max(stateRank(a.state), stateRank(b.state))),
    count: a.count + b.count,
    passed: a.passed + b.passed,
  }
  const timedA = a.durationMs === undefined ? 0 : a.count
  const timedB = b.durationMs === undefined ? 0 : b.count
  if (timedA + timedB > 0)
    point.durationMs = ((a.durationMs ?? 0) * timedA + (b.durationMs ?? 0) * timedB) / (timedA + timedB)
  return point
}
