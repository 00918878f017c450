import { terminalSafe } from '../core/inert.js'
import type { Report, Status } from '../core/types.js'

/** The content type of the Prometheus text exposition format. */
export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * Escapes a label value as the exposition format requires (backslash, quote, newline),
 * with control characters first shown as `\x1b`-style text (core/inert.ts), so a scrape
 * read in a terminal stays inert: an exec check's command line can hold an ESC.
 */
export function escapeLabelValue(value: string): string {
  return terminalSafe(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** `{a="1",b="2"}` from a record of labels, escaped. */
export function labels(record: Record<string, string>): string {
  const parts: string[] = []
  for (const key in record) parts.push(`${key}="${escapeLabelValue(record[key] as string)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

/** What a histogram exposes: the buckets' upper bounds, the observations per bucket, their sum and count. */
export interface HistogramCounts {
  readonly bounds: readonly number[]
  /** Observations per bucket (not cumulative); one more than `bounds`, the last for `+Inf`. */
  readonly counts: readonly number[]
  readonly sum: number
  readonly count: number
}

/**
 * Observations counted in buckets, as a Prometheus histogram exposes them: how many were at
 * most each upper bound (`le`), their sum and their count. Observing is a few comparisons
 * and no allocation, so it can run for every check.
 */
export class Histogram implements HistogramCounts {
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly counts: number[]
  sum = 0
  count = 0

  /** `bounds`: the buckets' upper bounds, ascending. */
  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new RangeError('histogram bounds must ascend')
    }
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
}

/** Prometheus' default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS_S: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Collects samples per metric family and renders them with their HELP and TYPE lines. */
export class MetricsWriter {
  private families = new Map<string, { help: string; type: string; samples: string[] }>()

  sample(name: string, help: string, type: 'gauge' | 'counter', labelSet: Record<string, string>, value: number): void {
    this.family(name, help, type).push(`${name}${labels(labelSet)} ${formatValue(value)}`)
  }

  /** A histogram's series: `NAME_bucket{le="…"}` (cumulative), `NAME_sum` and `NAME_count`. */
  histogram(name: string, help: string, labelSet: Record<string, string>, histogram: HistogramCounts): void {
    const samples = this.family(name, help, 'histogram')
    let cumulative = 0
    histogram.bounds.forEach((bound, i) => {
      cumulative += histogram.counts[i] as number
      samples.push(`${name}_bucket${labels({ ...labelSet, le: formatValue(bound) })} ${cumulative}`)
    })
    samples.push(`${name}_bucket${labels({ ...labelSet, le: '+Inf' })} ${histogram.count}`)
    samples.push(`${name}_sum${labels(labelSet)} ${formatValue(histogram.sum)}`)
    samples.push(`${name}_count${labels(labelSet)} ${histogram.count}`)
  }

  private family(name: string, help: string, type: string): string[] {
    let family = this.families.get(name)
    if (!family) {
      family = { help, type, samples: [] }
      this.families.set(name, family)
    }
    return family.samples
  }

  toString(): string {
    let out = ''
    for (const [name, family] of this.families) {
      out += `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`
      for (const sample of family.samples) out += `${sample}\n`
    }
    return out
  }
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

const STATUSES: readonly Status[] = ['pass', 'warn', 'fail']

/** A group report as Prometheus metrics: per-check up/status/duration, and the group's verdict. */
export function formatPrometheus(report: Report): string {
  const w = new MetricsWriter()
  w.sample(
    'probekit_group_up',
    'Whether the health group passes (1) or fails (0); warnings count as passing.',
    'gauge',
    { group: report.group },
    report.status === 'fail' ? 0 : 1,
  )
  for (const check of report.checks) {
    const base = { group: report.group, check: check.name }
    w.sample(
      'probekit_check_up',
      'Whether the check passed or warned (1) or failed (0).',
      'gauge',
      base,
      check.status === 'fail' ? 0 : 1,
    )
    for (const status of STATUSES) {
      w.sample(
        'probekit_check_status',
        'The check status, one series per possible status; the current one is 1.',
        'gauge',
        { ...base, status },
        check.status === status ? 1 : 0,
      )
    }
    w.sample(
      'probekit_check_duration_seconds',
      'How long the last run of the check took.',
      'gauge',
      base,
      check.durationMs / 1000,
    )
  }
  return w.toString()
}
