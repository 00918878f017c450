/**
 * The monitor's own view of its schedule and process, from `GET /metrics/monitor`: read
 * before and after a window, the difference says how late runs started in it, how many
 * were skipped and how long the garbage collector paused — beside what the targets' access
 * log says from outside, it tells a stalled monitor from a stalled machine or target.
 */

/** Parses the Prometheus text of /metrics/monitor into plain numbers. */
export async function readOwnMetrics(baseUrl) {
  const res = await fetch(`${baseUrl}/metrics/monitor`)
  if (!res.ok) throw new Error(`GET /metrics/monitor answered ${res.status}`)
  const own = { runs: 0, skipped: 0, delay: new Map(), gc: new Map(), heapUsed: 0, heapTotal: 0 }
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) continue
    const [, name, labelText = '', valueText] = m
    const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    const value = Number(valueText)
    if (name === 'probekit_monitor_check_runs_total') own.runs = value
    else if (name === 'probekit_monitor_check_runs_skipped_total') own.skipped = value
    else if (name === 'probekit_monitor_check_run_delay_seconds_bucket') own.delay.set(labels.le, value)
    else if (name === 'nodejs_heap_size_used_bytes') own.heapUsed = value
    else if (name === 'nodejs_heap_size_total_bytes') own.heapTotal = value
    else if (name.startsWith('nodejs_gc_duration_seconds_')) {
      const kind = own.gc.get(labels.kind) ?? { buckets: new Map(), sum: 0, count: 0 }
      own.gc.set(labels.kind, kind)
      if (name.endsWith('_bucket')) kind.buckets.set(labels.le, value)
      else if (name.endsWith('_sum')) kind.sum = value
      else if (name.endsWith('_count')) kind.count = value
    }
  }
  return own
}

/** The upper bound (ms) of the bucket holding quantile `q` of a cumulative histogram's difference. */
function quantileBoundMs(before, after, q) {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0)
  if (total <= 0) return Number.NaN
  for (const [le, cumulative] of after) {
    if (cumulative - (before.get(le) ?? 0) >= q * total)
      return le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) * 1000
  }
  return Number.POSITIVE_INFINITY
}

/** What happened between two readings: runs, skipped, delay p99 bound, share over 250 ms, GC pauses. */
export function ownDelta(before, after) {
  const runs = after.runs - before.runs
  const over250 = runs - ((after.delay.get('0.25') ?? 0) - (before.delay.get('0.25') ?? 0))
  let gcCount = 0
  let gcMs = 0
  let majorCount = 0
  let longestBoundMs = 0
  for (const [kind, a] of after.gc) {
    const b = before.gc.get(kind) ?? { buckets: new Map(), sum: 0, count: 0 }
    const count = a.count - b.count
    gcCount += count
    gcMs += (a.sum - b.sum) * 1000
    if (kind === 'major') majorCount += count
    // The smallest bound every pause of the window fits under.
    for (const [le, cumulative] of a.buckets) {
      if (cumulative - (b.buckets.get(le) ?? 0) >= count) {
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) * 1000
        if (count > 0 && bound > longestBoundMs) longestBoundMs = bound
        break
      }
    }
  }
  return {
    runs,
    skipped: after.skipped - before.skipped,
    delayP99BoundMs: quantileBoundMs(before.delay, after.delay, 0.99),
    lateOver250Ms: over250,
    gcCount,
    gcMs,
    majorGcCount: majorCount,
    longestGcBoundMs: longestBoundMs,
    /** The V8 heap at the end of the window, MB: used, and what the heap holds (used + free). */
    heapUsedMb: after.heapUsed / 1024 / 1024,
    heapTotalMb: after.heapTotal / 1024 / 1024,
  }
}
