import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Report } from '../../src/core/types.js'
import { formatHealthJson } from '../../src/format/health-json.js'
import { escapeLabelValue, formatPrometheus, Histogram, MetricsWriter } from '../../src/format/prometheus.js'
import { formatText } from '../../src/format/text.js'

const time = '2026-01-01T00:00:00.000Z'
const report: Report = {
  group: 'ready',
  status: 'fail',
  checks: [
    { name: 'db', status: 'pass', time, durationMs: 1.5, critical: true, observedValue: 1.5, observedUnit: 'ms' },
    { name: 'cache', status: 'fail', time, durationMs: 900, critical: true, output: 'timed out after 900 ms' },
    { name: 'search', status: 'warn', time, durationMs: 3, critical: false, output: 'yellow' },
  ],
}

describe('text format', () => {
  it('is plain ok when passing and not verbose', () => {
    assert.equal(
      formatText({ ...report, status: 'pass', checks: [] }, { label: 'readyz', verbose: false, showReasons: true }),
      'ok',
    )
  })

  it('shows a reason inert: escape sequences and newlines cannot reach a terminal or forge a line', () => {
    const hostile: Report = {
      group: 'ready',
      status: 'fail',
      checks: [
        {
          name: 'cache',
          status: 'fail',
          time,
          durationMs: 1,
          critical: true,
          output: 'ERR \u001b]52;c;cHduZWQ=\u0007\u001b[2J\n[+]db ok\u009b31m',
        },
      ],
    }
    const text = formatText(hostile, { label: 'readyz', verbose: true, showReasons: true })
    assert.equal(
      text,
      '[-]cache failed: ERR \\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\n[+]db ok\\x9b31m\nreadyz check failed\n',
    )
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
  })

  it('lists checks Kubernetes-style when failing, even without verbose', () => {
    assert.equal(
      formatText(report, { label: 'readyz', verbose: false, showReasons: true }),
      '[+]db ok\n[-]cache failed: timed out after 900 ms\n[!]search warn: yellow\nreadyz check failed\n',
    )
  })

  it('withholds reasons', () => {
    assert.match(
      formatText(report, { label: 'readyz', verbose: true, showReasons: false }),
      /\[-\]cache failed: reason withheld\n\[!\]search warn: reason withheld/,
    )
  })
})

describe('health+json format', () => {
  it('follows the IETF draft: checks keyed by component, arrays of objects, output only when not passing', () => {
    const body = formatHealthJson(report, true, { serviceId: 'orders', version: '1' })
    assert.equal(body.status, 'fail')
    assert.equal(body.serviceId, 'orders')
    assert.deepEqual(body.checks.db, [{ status: 'pass', time, observedValue: 1.5, observedUnit: 'ms' }])
    assert.deepEqual(body.checks.cache, [{ status: 'fail', time, output: 'timed out after 900 ms' }])
    assert.equal(body.output, 'cache: timed out after 900 ms')
  })

  it('keys checks named like what every object inherits (constructor, __proto__, toString) as any other', () => {
    const names = ['constructor', '__proto__', 'toString', 'db']
    const body = formatHealthJson(
      {
        group: 'ready',
        status: 'pass',
        checks: names.map((name) => ({ name, status: 'pass', time, durationMs: 1, critical: true })),
      },
      true,
    )
    // These threw "list.push is not a function", and /readyz?format=json answered 503 with text.
    const parsed = JSON.parse(JSON.stringify(body)) as { checks: Record<string, unknown> }
    assert.deepEqual(Object.keys(parsed.checks), names)
    for (const name of names) assert.deepEqual(parsed.checks[name], [{ status: 'pass', time }])
    assert.equal(Object.getPrototypeOf(body.checks), Object.prototype)
  })
})

describe('Prometheus format', () => {
  it('escapes label values', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd')
    // Control characters reach a terminal reading the scrape as text: \x1b, read back as such.
    assert.equal(escapeLabelValue('sh -c "printf \u001b[2J"'), 'sh -c \\"printf \\\\x1b[2J\\"')
  })

  it('has HELP and TYPE once per family and one series per check', () => {
    const text = formatPrometheus(report)
    assert.equal(text.match(/^# TYPE probekit_check_up gauge$/gm)?.length, 1)
    assert.match(text, /^probekit_check_up\{group="ready",check="cache"\} 0$/m)
    assert.match(text, /^probekit_check_duration_seconds\{group="ready",check="cache"\} 0.9$/m)
    assert.match(text, /^probekit_group_up\{group="ready"\} 0$/m)
  })
})

describe('Prometheus histograms', () => {
  it('count a value equal to a bound in that bucket and render cumulative buckets, sum and count', () => {
    const h = new Histogram([0.1, 1])
    for (const v of [0.05, 0.1, 0.5, 1, 3]) h.observe(v)
    assert.deepEqual(h.counts, [2, 2, 1])
    const w = new MetricsWriter()
    w.histogram('x_seconds', 'How long.', { kind: 'a"b' }, h)
    assert.equal(
      w.toString(),
      [
        '# HELP x_seconds How long.',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{kind="a\\"b",le="0.1"} 2',
        'x_seconds_bucket{kind="a\\"b",le="1"} 4',
        'x_seconds_bucket{kind="a\\"b",le="+Inf"} 5',
        'x_seconds_sum{kind="a\\"b"} 4.65',
        'x_seconds_count{kind="a\\"b"} 5',
        '',
      ].join('\n'),
    )
  })

  it('refuse bounds that do not ascend', () => {
    assert.throws(() => new Histogram([1, 1]), /ascend/)
    assert.throws(() => new Histogram([2, 1]), /ascend/)
  })
})
