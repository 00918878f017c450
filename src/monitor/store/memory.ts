/**
 * A store that keeps everything in memory: nothing survives a restart. For tests, demos
 * and monitors whose history lives elsewhere (Prometheus scraping `/metrics`).
 */
import { rejectUnknownKeys } from '../../core/options.js'
import {
  type CheckState,
  type HistoryPoint,
  type HistoryQuery,
  type HistorySample,
  type MonitorStore,
  type Silence,
  stateOfRank,
  stateRank,
  type Transition,
} from '../types.js'
import {
  DEFAULT_RETENTION,
  HOUR_MS,
  MINUTE_MS,
  minuteCutoff,
  RETENTION_KEYS,
  type Retention,
  sampleTotals,
  silenceSweepDue,
  silencesToDrop,
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

/** A stored transition and its place in the order of all writes. */
interface Stored {
  seq: number
  transition: Transition
}

// Transitions older than the retention are swept out of every check at most this often.
const SWEEP_EVERY_MS = 5 * MINUTE_MS

export class MemoryStore implements MonitorStore {
  private readonly states = new Map<string, CheckState>()
  /** Per check, oldest first; each list is capped when it is written. */
  private readonly transitionsByCheck = new Map<string, Stored[]>()
  private seq = 0
  private lastSweep = 0
  private readonly series = new Map<string, Series>()
  private readonly retention: Retention

  private readonly silences = new Map<string, Silence>()
  private silencesSweptAt = Number.NEGATIVE_INFINITY

  constructor(retention: Partial<Retention> = {}) {
    rejectUnknownKeys('new MemoryStore(retention)', retention, RETENTION_KEYS)
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
    const written = new Set<Stored[]>()
    for (const t of transitions) {
      let list = this.transitionsByCheck.get(t.id)
      if (!list) this.transitionsByCheck.set(t.id, (list = []))
      list.push({ seq: ++this.seq, transition: { ...t } })
      written.add(list)
    }
    const now = Date.now()
    const cutoff = new Date(now - this.retention.transitionsMs).toISOString()
    const cap = Math.max(0, Math.floor(this.retention.transitionsPerCheck))
    for (const list of written) trim(list, cap, cutoff)
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now
      for (const [id, list] of this.transitionsByCheck) {
        trim(list, cap, cutoff)
        if (list.length === 0) this.transitionsByCheck.delete(id)
      }
    }
  }

  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[] {
    const limit = Math.max(0, Math.floor(query.limit ?? 100))
    const lists =
      query.id !== undefined ? [this.transitionsByCheck.get(query.id) ?? []] : [...this.transitionsByCheck.values()]
    // The newest `limit` matches of each check, then the newest `limit` of those.
    const found: Stored[] = []
    for (const list of lists) {
      let taken = 0
      for (let i = list.length - 1; i >= 0 && taken < limit; i--) {
        const stored = list[i] as Stored
        const t = stored.transition
        if (query.pod !== undefined && t.pod !== query.pod) continue
        if (query.since !== undefined && t.at < query.since) continue
        found.push(stored)
        taken++
      }
    }
    found.sort((a, b) => a.seq - b.seq)
    return found.slice(Math.max(0, found.length - limit)).map((s) => ({ ...s.transition }))
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

  loadSilences(): Silence[] {
    return [...this.silences.values()].map((s) => ({ ...s }))
  }

  saveSilence(silence: Silence): void {
    this.silences.set(silence.id, { ...silence })
    const now = Date.now()
    if (!silenceSweepDue(this.silences.size, now, this.silencesSweptAt, this.retention)) return
    this.silencesSweptAt = now
    for (const id of silencesToDrop(this.silences.values(), now, this.retention)) this.silences.delete(id)
  }

  close(): void {}
}

/** Drops a check's transitions beyond the newest `cap` and those older than `cutoff`. */
function trim(list: Stored[], cap: number, cutoff: string): void {
  let drop = Math.max(0, list.length - cap)
  while (drop < list.length && (list[drop] as Stored).transition.at < cutoff) drop++
  if (drop > 0) list.splice(0, drop)
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
