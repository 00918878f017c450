import { setImmediate as nextTurn } from 'node:timers/promises'
import { escapeLabelValue, formatValue, MetricsWriter } from '../format/prometheus.js'
import type { ProcessMetrics } from './process-metrics.js'
import type { RunStats } from './scheduler.js'
import { type CheckState, HEALTH_STATES } from './types.js'

/** The blackbox exporter's grpc prober reports these four. */
const GRPC_SERVING_STATUSES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const

/**
 * Checks rendered in one part of the exposition. A fleet of 50,000 checks is some 30 MB of
 * text; `/metrics` renders it a part at a time with the event loop free in between, so a
 * scrape never holds the checks back for more than a few milliseconds at once.
 */
const CHECKS_PER_PART = 1000

/** The monitor's figures about itself, for the end of the exposition. */
export interface MonitorOwnMetrics {
  runs: RunStats
  process?: ProcessMetrics
}

/** One family of per-check series: the sample lines of one check, `''` when it has none. */
interface CheckFamily {
  name: string
  help: string
  /** `labels` is the check's label pairs, escaped, without braces. */
  lines(s: CheckState, labels: string): string
}

/** A family of one series per check, for the checks `figureOf` has a figure for. */
function figure(name: string, help: string, figureOf: (s: CheckState) => number | undefined): CheckFamily {
  return {
    name,
    help,
    lines: (s, labels) => {
      const value = figureOf(s)
      return value === undefined ? '' : `${name}{${labels}} ${formatValue(value)}\n`
    },
  }
}

/** A family of one series per value of `label` and check, the current value 1 (for the checks `current` has one for). */
function oneOf(
  name: string,
  help: string,
  label: string,
  values: readonly string[],
  current: (s: CheckState) => string | undefined,
): CheckFamily {
  return {
    name,
    help,
    lines: (s, labels) => {
      const now = current(s)
      if (now === undefined) return ''
      let out = ''
      for (const value of values) out += `${name}{${labels},${label}="${value}"} ${now === value ? 1 : 0}\n`
      return out
    },
  }
}

const CHECK_FAMILIES: readonly CheckFamily[] = [
  figure(
    'probe_success',
    'Whether the latest check passed (1) or not (0); warning, critical and unknown count as 0.',
    (s) => (s.state === 'passing' ? 1 : 0),
  ),
  figure('probe_duration_seconds', 'How long the latest check took, in seconds.', (s) =>
    s.durationMs === undefined ? undefined : secondsToTheMicrosecond(s.durationMs),
  ),
  figure('probe_http_status_code', 'The HTTP status code of the latest check (HTTP checks only).', (s) => s.httpStatus),
  figure(
    'probe_ssl_earliest_cert_expiry',
    'The earliest expiry of the certificates the latest TLS check saw, in Unix seconds.',
    (s) => s.sslEarliestExpiry,
  ),
  figure(
    'probe_grpc_status_code',
    'The gRPC status code the latest check ended with (gRPC checks only; 0 is OK).',
    (s) => s.grpcStatusCode,
  ),
  // Every gRPC check has one series per serving status, 0 for all when it got none (an error).
  oneOf(
    'probe_grpc_healthcheck_response',
    'The serving status the latest gRPC health check answered, one series per status; the current one is 1.',
    'serving_status',
    GRPC_SERVING_STATUSES,
    (s) => (s.grpcStatusCode === undefined ? undefined : (s.grpcServingStatus ?? '')),
  ),
  oneOf(
    'probekit_check_state',
    'The state of the check, one series per state (passing, warning, critical, unknown); the current one is 1.',
    'state',
    HEALTH_STATES,
    (s) => s.state,
  ),
]

/**
 * The monitor's checks as Prometheus metrics, named like the blackbox exporter's so
 * dashboards and alerts written for it work unchanged: `probe_success`,
 * `probe_duration_seconds`, `probe_http_status_code`, `probe_ssl_earliest_cert_expiry`,
 * `probe_grpc_status_code`, `probe_grpc_healthcheck_response`.
 * Every series carries `pod`, `node`, `check` and `instance` (the redacted target).
 * Beside them, `probekit_check_state` gives the four-valued state one series per state.
 * With `own`, the monitor's figures about itself follow: how it keeps its schedule
 * (`probekit_monitor_check_runs_*`, `probekit_monitor_check_run_delay_seconds`) and, with
 * `own.process`, the process's CPU, memory and garbage-collector pauses.
 *
 * @example
 * const text = formatMonitorMetrics(monitor.states(), { runs: monitor.runStats })
 */
export function formatMonitorMetrics(states: readonly CheckState[], own?: MonitorOwnMetrics): string {
  let out = ''
  for (const part of monitorMetricsParts(states, own)) out += part
  return out
}

/**
 * The same text as `formatMonitorMetrics`, rendered a part at a time with the event loop
 * free between parts (see `CHECKS_PER_PART`); the parts in order, encoded as UTF-8 once, so
 * each scrape that shares them only queues bytes.
 */
export async function renderMonitorMetrics(states: readonly CheckState[], own?: MonitorOwnMetrics): Promise<Buffer[]> {
  const parts: Buffer[] = []
  for (const part of monitorMetricsParts(states, own)) {
    parts.push(Buffer.from(part))
    await nextTurn()
  }
  return parts
}

/** The exposition in parts: each family's series of up to `CHECKS_PER_PART` checks, then the totals. */
function* monitorMetricsParts(states: readonly CheckState[], own: MonitorOwnMetrics | undefined): Generator<string> {
  // A check's four labels are the same in every family: escaped once.
  const labels: string[] = new Array(states.length)
  for (const family of CHECK_FAMILIES) {
    let header = `# HELP ${family.name} ${family.help}\n# TYPE ${family.name} gauge\n`
    for (let from = 0; from < states.length; from += CHECKS_PER_PART) {
      let part = ''
      const to = Math.min(states.length, from + CHECKS_PER_PART)
      for (let i = from; i < to; i++) {
        const s = states[i] as CheckState
        labels[i] ??= checkLabels(s)
        const lines = family.lines(s, labels[i] as string)
        if (lines === '') continue
        part += header + lines
        header = ''
      }
      if (part !== '') yield part
    }
  }
  const w = new MetricsWriter()
  const counts = new Map<string, number>(HEALTH_STATES.map((state) => [state, 0]))
  for (const s of states) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  for (const [state, count] of counts) {
    w.sample('probekit_checks', 'How many checks are in each state.', 'gauge', { state }, count)
  }
  if (own) writeOwn(w, own)
  yield w.toString()
}

/**
 * Only the monitor's figures about itself (`GET /metrics/monitor`): about 4–5 KB whatever
 * the fleet's size (some 3 KB until the first garbage collection adds
 * `nodejs_gc_duration_seconds`), to scrape often beside a slower scrape of every check.
 */
export function formatOwnMetrics(own: MonitorOwnMetrics): string {
  const w = new MetricsWriter()
  writeOwn(w, own)
  return w.toString()
}

/**
 * Milliseconds as seconds rounded to the microsecond: `0.000556`, not the float noise of
 * `0.556 / 1000` (`0.0005560000000000001`). A whole number of microseconds divided by 1e6
 * prints with at most six decimals.
 */
function secondsToTheMicrosecond(ms: number): number {
  return Math.round(ms * 1000) / 1e6
}

function checkLabels(s: CheckState): string {
  return `pod="${escapeLabelValue(s.pod)}",node="${escapeLabelValue(s.node)}",check="${escapeLabelValue(s.check)}",instance="${escapeLabelValue(s.target)}"`
}

function writeOwn(w: MetricsWriter, { runs, process }: MonitorOwnMetrics): void {
  w.sample(
    'probekit_monitor_check_runs_total',
    'Check runs started: every check the monitor polls (HTTP, TCP, gRPC, commands, Redis, PostgreSQL and the other probes); push checks are not runs.',
    'counter',
    {},
    runs.started,
  )
  w.sample(
    'probekit_monitor_check_runs_skipped_total',
    "Runs not started when due: the check's previous run had not finished, or the monitor fell a whole interval behind.",
    'counter',
    {},
    runs.skipped,
  )
  w.sample('probekit_monitor_check_runs_in_flight', 'Check runs in flight now.', 'gauge', {}, runs.running)
  w.sample(
    'probekit_monitor_check_runs_waiting',
    'Check runs due and waiting for a slot (the concurrency limit) now.',
    'gauge',
    {},
    runs.waiting,
  )
  w.histogram(
    'probekit_monitor_check_run_delay_seconds',
    'How late check runs started after they were due (waiting for a slot, or a busy event loop).',
    {},
    runs.delays,
  )
  process?.write(w)
}
