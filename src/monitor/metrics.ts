import { MetricsWriter } from '../format/prometheus.js'
import { type CheckState, HEALTH_STATES } from './types.js'

/** The blackbox exporter's grpc prober reports these four. */
const GRPC_SERVING_STATUSES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const

/**
 * The monitor's checks as Prometheus metrics, named like the blackbox exporter's so
 * dashboards and alerts written for it work unchanged: `probe_success`,
 * `probe_duration_seconds`, `probe_http_status_code`, `probe_ssl_earliest_cert_expiry`,
 * `probe_grpc_status_code`, `probe_grpc_healthcheck_response`.
 * Every series carries `pod`, `node`, `check` and `instance` (the redacted target).
 * Beside them, `probekit_check_state` gives the four-valued state one series per state.
 *
 * @example
 * const text = formatMonitorMetrics(monitor.states())
 */
export function formatMonitorMetrics(states: readonly CheckState[]): string {
  const w = new MetricsWriter()
  for (const s of states) {
    const base = { pod: s.pod, node: s.node, check: s.check, instance: s.target }
    w.sample(
      'probe_success',
      'Whether the latest check passed (1) or not (0); warning, critical and unknown count as 0.',
      'gauge',
      base,
      s.state === 'passing' ? 1 : 0,
    )
  }
  for (const s of states) {
    if (s.durationMs === undefined) continue
    w.sample(
      'probe_duration_seconds',
      'How long the latest check took, in seconds.',
      'gauge',
      { pod: s.pod, node: s.node, check: s.check, instance: s.target },
      s.durationMs / 1000,
    )
  }
  for (const s of states) {
    if (s.httpStatus === undefined) continue
    w.sample(
      'probe_http_status_code',
      'The HTTP status code of the latest check (HTTP checks only).',
      'gauge',
      { pod: s.pod, node: s.node, check: s.check, instance: s.target },
      s.httpStatus,
    )
  }
  for (const s of states) {
    if (s.sslEarliestExpiry === undefined) continue
    w.sample(
      'probe_ssl_earliest_cert_expiry',
      'The earliest expiry of the certificates the latest TLS check saw, in Unix seconds.',
      'gauge',
      { pod: s.pod, node: s.node, check: s.check, instance: s.target },
      s.sslEarliestExpiry,
    )
  }
  for (const s of states) {
    if (s.grpcStatusCode === undefined) continue
    w.sample(
      'probe_grpc_status_code',
      'The gRPC status code the latest check ended with (gRPC checks only; 0 is OK).',
      'gauge',
      { pod: s.pod, node: s.node, check: s.check, instance: s.target },
      s.grpcStatusCode,
    )
  }
  for (const s of states) {
    if (s.grpcStatusCode === undefined) continue
    for (const servingStatus of GRPC_SERVING_STATUSES) {
      w.sample(
        'probe_grpc_healthcheck_response',
        'The serving status the latest gRPC health check answered, one series per status; the current one is 1.',
        'gauge',
        { pod: s.pod, node: s.node, check: s.check, instance: s.target, serving_status: servingStatus },
        s.grpcServingStatus === servingStatus ? 1 : 0,
      )
    }
  }
  for (const s of states) {
    for (const state of HEALTH_STATES) {
      w.sample(
        'probekit_check_state',
        'The state of the check, one series per state (passing, warning, critical, unknown); the current one is 1.',
        'gauge',
        { pod: s.pod, node: s.node, check: s.check, instance: s.target, state },
        s.state === state ? 1 : 0,
      )
    }
  }
  const counts = new Map<string, number>(HEALTH_STATES.map((state) => [state, 0]))
  for (const s of states) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  for (const [state, count] of counts) {
    w.sample('probekit_checks', 'How many checks are in each state.', 'gauge', { state }, count)
  }
  return w.toString()
}
