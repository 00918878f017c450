import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatMonitorMetrics, renderMonitorMetrics } from '../../src/monitor/metrics.js'
import type { CheckState, HealthState } from '../../src/monitor/types.js'

const STATES: HealthState[] = ['passing', 'warning', 'critical', 'unknown']

/** A fleet of `n` checks with every optional figure on some of them, and labels that need escaping. */
function fleet(n: number): CheckState[] {
  return Array.from(
    { length: n },
    (_, i): CheckState => ({
      id: `n${i % 3}/pod-${i}/c`,
      pod: `pod-${i}${i % 10 === 0 ? '"quoted\\' : ''}`,
      node: `n${i % 3}${i % 13 === 0 ? '\nline' : ''}`,
      check: `c${i}`,
      kind: i % 11 === 0 ? 'grpc' : 'http',
      target: `http://10.0.0.${i % 250}:80/t/${i}`,
      state: STATES[i % 4] as HealthState,
      output: '',
      since: '2026-12-06T00:00:00.000Z',
      successes: 0,
      failures: 0,
      index: i,
      ...(i % 2 ? { durationMs: i / 7 } : {}),
      ...(i % 5 === 0 && i % 11 !== 0 ? { httpStatus: 200 + (i % 300) } : {}),
      ...(i % 7 === 0 ? { sslEarliestExpiry: 1_790_000_000 + i } : {}),
      ...(i % 11 === 0
        ? { grpcStatusCode: i % 3, grpcServingStatus: ['SERVING', 'NOT_SERVING', 'UNKNOWN'][i % 3] }
        : {}),
    }),
  )
}

describe('monitor metrics rendering', () => {
  it('renders a large fleet in parts that join to exactly the text formatMonitorMetrics gives', async () => {
    const states = fleet(4500)
    const parts = await renderMonitorMetrics(states)
    // 4,500 checks: five parts per family at least, each a whole number of lines.
    assert.ok(parts.length >= 5 * 7, `${parts.length} parts`)
    for (const part of parts) assert.ok(part.toString().endsWith('\n'), 'a part ends with a whole line')
    const text = Buffer.concat(parts).toString()
    assert.equal(text, formatMonitorMetrics(states))
    // Every family is announced once, before its first sample, and its samples stay together.
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1])
    assert.equal(new Set(families).size, families.length, `families announced twice: ${families.join(' ')}`)
    let current = ''
    const seen = new Set<string>()
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) /.exec(line)
      if (type) {
        current = type[1] as string
        seen.add(current)
        continue
      }
      if (line === '' || line.startsWith('#')) continue
      const name = /^[a-z_]+/.exec(line)?.[0] as string
      assert.equal(name, current, `${line} is outside its family`)
    }
    for (const family of ['probe_ssl_earliest_cert_expiry', 'probe_grpc_healthcheck_response', 'probekit_checks']) {
      assert.ok(seen.has(family), `${family} missing`)
    }
    assert.match(text, /probe_success\{pod="pod-10\\"quoted\\\\",node="n1",check="c10",/)
    assert.match(text, /node="n0\\nline"/)
  })

  it('prints durations in seconds rounded to the microsecond, without float noise', async () => {
    const durations = [0.556, 2.417, 1 / 7, 1234.5678, 0.0004, 0]
    const states = fleet(durations.length).map((s, i) => ({ ...s, durationMs: durations[i] }))
    const text = formatMonitorMetrics(states)
    const printed = [...text.matchAll(/^probe_duration_seconds\{[^}]*check="(c\d+)"[^}]*\} (\S+)$/gm)].map((m) => [
      m[1],
      m[2],
    ])
    // 0.556 ms / 1000 is 0.0005560000000000001 in floating point.
    assert.deepEqual(printed, [
      ['c0', '0.000556'],
      ['c1', '0.002417'],
      ['c2', '0.000143'],
      ['c3', '1.234568'],
      ['c4', '0'],
      ['c5', '0'],
    ])
    // A whole fleet's, rendered in parts: at most six decimals each.
    const values = Buffer.concat(await renderMonitorMetrics(fleet(4500)))
      .toString()
      .split('\n')
      .filter((line) => line.startsWith('probe_duration_seconds{'))
      .map((line) => line.slice(line.lastIndexOf(' ') + 1))
    assert.equal(values.length, 2250)
    for (const value of values) assert.match(value, /^\d+(\.\d{1,6})?$/)
  })

  it('leaves out a family no check has a figure for, as before', () => {
    const text = formatMonitorMetrics(
      fleet(3).map((s) => ({ ...s, grpcStatusCode: undefined, sslEarliestExpiry: undefined })),
    )
    assert.doesNotMatch(text, /probe_grpc|probe_ssl/)
    assert.match(text, /^probekit_checks\{state="unknown"\} 0$/m)
  })
})
