/**
 * A store that keeps everything in memory: nothing survives a restart. For tests, demos
 * and monitors whose history lives elsewhere (Prometheus scraping `/metrics`).
 */
import type { CheckState, HistoryPoint, HistoryQuery, HistorySample, MonitorStore, Transition } from '../types.js'
import {
  DEFAULT_RETENTION,
  HOUR_MS,
  MINUTE_MS,
  minuteCutoff,
  type Retention,
  sampleTotals,
  stateOfRank,
  stateRank,
} from './retention.js'

interface Bucket {
  at: number
  count: number
  passed: number
  durationSum: number
  timed: number
  worst: number
}

interface Series {
  minutes: Bucket[]
  hours: Bucket[]
}

export class MemoryStore implements MonitorStore {
  private readonly states = new Map<string, CheckState>()
  private transitionList: Transition[] = []
  private readonly series = new Map<string, Series>()
  private readonly retention: Retention

  constructor(retention: Partial<Retention> = {}) {
    this.retention = { ...DEFAULT_RETENTION, ...retention }
  }

  loadStates(): CheckState[] {
    return [...this.states.values()].map((s) => ({ ...s }))
  }

  saveStates(states: readonly CheckState[]): void {
    for (const state of states) this.states.set(state.id, { ...state })
  }

  removeStates(ids: readonly string[]): void {
    for (const id of ids) {
      this.states.delete(id)
      this.series.delete(id)
    }
  }

  addTransitions(transitions: readonly Transition[]): void {
    for (const t of transitions) this.transitionList.push({ ...t })
    const cutoff = new Date(Date.now() - this.retention.transitionsMs).toISOString()
    const max = this.retention.transitionsPerCheck * Math.max(1, this.states.size)
    if (this.transitionList.length > max || (this.transitionList[0] && this.transitionList[0].at < cutoff)) {
      this.transitionList = this.transitionList.filter((t) => t.at >= cutoff).slice(-max)
    }
  }

  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[] {
    const limit = query.limit ?? 100
    const out: Transition[] = []
    for (let i = this.transitionList.length - 1; i >= 0 && out.length < limit; i--) {
      const t = this.transitionList[i] as Transition
      if (query.id !== undefined && t.id !== query.id) continue
      if (query.pod !== undefined && t.pod !== query.pod) continue
      if (query.since !== undefined && t.at < query.since) continue
      out.push({ ...t })
    }
    return out.reverse()
  }

  addSamples(samples: readonly HistorySample[]): void {
    const now = Date.now()
    for (const sample of samples) {
      const at = Date.parse(sample.at)
      if (!Number.isFinite(at)) continue
      let series = this.series.get(sample.id)
      if (!series) this.series.set(sample.id, (series = { minutes: [], hours: [] }))
      const totals = sampleTotals(sample)
      const rank = stateRank(sample.state)
      addTo(series.minutes, Math.floor(at / MINUTE_MS) * MINUTE_MS, totals, rank)
      addTo(series.hours, Math.floor(at / HOUR_MS) * HOUR_MS, totals, rank)
      const minuteLimit = minuteCutoff(now, this.retention)
      while (series.minutes.length > 0 && (series.minutes[0] as Bucket).at < minuteLimit) series.minutes.shift()
      while (series.hours.length > 0 && (series.hours[0] as Bucket).at < now - this.retention.hoursMs)
        series.hours.shift()
    }
  }

  history(id: string, query: HistoryQuery = {}): HistoryPoint[] {
    const series = this.series.get(id)
    if (!series) return []
    const cutoff = minuteCutoff(Date.now(), this.retention)
    const since = query.since ? Date.parse(query.since) : Number.NEGATIVE_INFINITY
    const points = [...series.hours.filter((b) => b.at < cutoff), ...series.minutes.filter((b) => b.at >= cutoff)]
      .filter((b) => b.at >= since)
      .map(toPoint)
    return query.limit !== undefined ? points.slice(-query.limit) : points
  }

  close(): void {}
}

function addTo(
  buckets: Bucket[],
  at: number,
  totals: { count: number; passed: number; durationSum: number; timed: number },
  rank: number,
): void {
  // Samples arrive in time order almost always: look from the end.
  let i = buckets.length - 1
  while (i >= 0 && (buckets[i] as Bucket).at > at) i--
  const existing = buckets[i]
  if (existing && existing.at === at) {
    existing.count += totals.count
    existing.passed += totals.passed
    existing.durationSum += totals.durationSum
    existing.timed += totals.timed
    existing.worst = Math.max(existing.worst, rank)
    return
  }
  buckets.splice(i + 1, 0, { at, ...totals, worst: rank })
}

function toPoint(bucket: Bucket): HistoryPoint {
  const point: HistoryPoint = {
    at: new Date(bucket.at).toISOString(),
    state: stateOfRank(bucket.worst),
    count: bucket.count,
    passed: bucket.passed,
  }
  if (bucket.timed > 0) point.durationMs = bucket.durationSum / bucket.timed
  return point
}
