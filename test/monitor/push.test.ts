import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type CheckerResult, MAX_OUTPUT_BYTES } from '../../src/monitor/checkers/checker.js'
import { type PushCheckSpec, parseManifest } from '../../src/monitor/manifest.js'
import { assertPushKind, PushWatch, parsePushReport } from '../../src/monitor/push.js'
import { sleep, waitFor } from '../support/server-process.js'

function pushSpec(period: string, grace: string): PushCheckSpec {
  const [check] = parseManifest(
    `id: jobs\nchecks:\n  - name: nightly\n    period: ${period}\n    grace: ${grace}\n`,
    'p.yaml',
    {
      node: 'n',
    },
  ).flatMap((p) => p.checks)
  assert.ok(check && check.kind === 'push')
  return check
}

describe("push checks (dead man's switch)", () => {
  it('turn critical when no push arrives within the period plus the grace time', async () => {
    const outcomes: CheckerResult[] = []
    const watch = new PushWatch(pushSpec('200ms', '100ms'), undefined, (o) => outcomes.push(o))
    try {
      await sleep(150)
      assert.equal(outcomes.length, 0, 'nothing before period + grace')
      await waitFor('the missed push', () => outcomes.length > 0, 2000, 10)
      assert.equal(outcomes[0]?.status, 'fail')
      assert.equal(outcomes[0]?.output, 'no push within the period of 200ms plus the grace time of 100ms')
    } finally {
      watch.stop()
    }
  })

  it('pass on success (or exit status 0) and restart the period', async () => {
    const outcomes: CheckerResult[] = []
    const watch = new PushWatch(pushSpec('300ms', '100ms'), undefined, (o) => outcomes.push(o))
    try {
      for (let i = 0; i < 4; i++) {
        await sleep(150)
        watch.push(i % 2 === 0 ? 'success' : 0, `run ${i}`)
      }
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['pass', 'pass', 'pass', 'pass'],
        'pushed every 150 ms: never missed',
      )
      assert.equal(outcomes[0]?.output, 'push success: run 0')
      assert.equal(outcomes[1]?.output, 'push exit status 0: run 1')
    } finally {
      watch.stop()
    }
  })

  it('turn critical on fail or a non-zero exit status, with the body as output', () => {
    const outcomes: CheckerResult[] = []
    const watch = new PushWatch(pushSpec('1h', '1m'), undefined, (o) => outcomes.push(o))
    try {
      watch.push('fail', 'disk full\n')
      watch.push(3, 'password=hunter2 rejected')
      assert.deepEqual(
        outcomes.map((o) => [o.status, o.output]),
        [
          ['fail', 'push fail: disk full'],
          ['fail', 'push exit status 3: password=*** rejected'],
        ],
      )
    } finally {
      watch.stop()
    }
  })

  it('keep the exit status at the head of the output when the body is longer than the output keeps', () => {
    const outcomes: CheckerResult[] = []
    const watch = new PushWatch(pushSpec('1h', '1m'), undefined, (o) => outcomes.push(o))
    try {
      watch.push(3, `${'log line\n'.repeat(800)}password=hunter2 last line`)
      const output = outcomes[0]?.output ?? ''
      assert.match(output, /^push exit status 3: \[captured 7222 bytes, showing the last \d+\]\n/)
      assert.match(output, /password=\*\*\* last line$/)
      assert.ok(Buffer.byteLength(output) <= MAX_OUTPUT_BYTES, `${Buffer.byteLength(output)} bytes`)
    } finally {
      watch.stop()
    }
  })

  it('turn critical when a started run does not finish within the grace time', async () => {
    const outcomes: CheckerResult[] = []
    const watch = new PushWatch(pushSpec('1h', '150ms'), undefined, (o) => outcomes.push(o))
    try {
      watch.push('start')
      assert.equal(outcomes.length, 0, 'start alone changes nothing')
      await waitFor('the unfinished run', () => outcomes.length > 0, 2000, 10)
      assert.equal(outcomes[0]?.status, 'fail')
      assert.match(outcomes[0]?.output ?? '', /^started \d+ms ago and did not finish within the grace time of 150ms$/)
    } finally {
      watch.stop()
    }
  })

  it('say how long a started run took when it succeeds', () => {
    const outcomes: CheckerResult[] = []
    let now = 1_000_000
    const watch = new PushWatch(
      pushSpec('1h', '10m'),
      undefined,
      (o) => outcomes.push(o),
      () => now,
    )
    try {
      watch.push('start')
      now += 90_000
      watch.push('success')
      assert.equal(outcomes[0]?.output, 'push success after 90s')
    } finally {
      watch.stop()
    }
  })

  it('notice at once, after a restart, a job that is already overdue', async () => {
    const outcomes: CheckerResult[] = []
    const lastPush = Date.now() - 10_000
    const watch = new PushWatch(pushSpec('2s', '1s'), lastPush, (o) => outcomes.push(o))
    try {
      await waitFor('the overdue job', () => outcomes.length > 0, 1000, 10)
      assert.equal(outcomes[0]?.status, 'fail')
    } finally {
      watch.stop()
    }
  })
})

describe('push reports', () => {
  it('are start, fail or an exit status 0–255; other numbers are out of range, other words not reports', () => {
    assert.deepEqual(parsePushReport('start'), { kind: 'start' })
    assert.deepEqual(parsePushReport('fail'), { kind: 'fail' })
    assert.deepEqual(parsePushReport('0'), { kind: 0 })
    assert.deepEqual(parsePushReport('255'), { kind: 255 })
    for (const part of ['256', '-1', '99999999999']) {
      const report = parsePushReport(part)
      assert.ok(report && 'problem' in report, part)
      assert.ok(report.problem.startsWith(`exit status ${part} is out of range 0–255; `), report.problem)
    }
    for (const part of ['success', 'ok', 'nightly', '3.5', '+3']) assert.equal(parsePushReport(part), undefined, part)
  })

  it('from code are checked too: a TypeError names what is allowed', () => {
    for (const kind of ['success', 'start', 'fail', 0, 3, 255]) assertPushKind(kind)
    for (const kind of [256, -1, 1.5, 'ok', '3', undefined]) {
      assert.throws(() => assertPushKind(kind), {
        name: 'TypeError',
        message: /is not a push report; use 'success', 'start', 'fail' or an exit status from 0 to 255$/,
      })
    }
  })
})
