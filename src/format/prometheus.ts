import type { Report, Status } from '../core/types.js'

/** The content type of the Prometheus text exposition format. */
export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Escapes a label value as the exposition format requires (backslash, quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** `{a="1",b="2"}` from a record of labels, escaped. */
export function labels(record: Record<string, string>): string {
  const parts: string[] = []
  for (const key in record) parts.push(`${key}="${escapeLabelValue(record[key] as string)}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

/** Collects samples per metric family and renders them with their HELP and TYPE lines. */
export class MetricsWriter {
  private families = new Map<string, { help: string; type: string; samples: string[] }>()

  sample(name: string, help: string, type: 'gauge' | 'counter', labelSet: Record<string, string>, value: number): void {
    let family = this.families.get(name)
    if (!family) {
      family = { help, type, samples: [] }
      this.families.set(name, family)
    }
    family.samples.push(`${name}${labels(labelSet)} ${formatValue(value)}`)
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

function formatValue(value: number): string {
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
