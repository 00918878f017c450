import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LogLimiter } from '../../src/core/log-limiter.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { Slots, TokenBuckets } from '../../src/monitor/rate-limit.js'
import { MemoryStore } from '../../src/monitor/store/index.js'
import { lineLogger } from '../support/line-logger.js'
import { makeTempDir } from '../support/server-process.js'

describe('LogLimiter', () => {
  it('writes one line per cause and subject per window, then the count of the rest', () => {
    const { lines, logger } = lineLogger()
    let now = 0
    const limiter = new LogLimiter(logger, { windowMs: 10_000, now: () => now })
    for (let i = 0; i < 8313; i++) limiter.write('info', { cause: 'state changes', subject: 'web/db' }, `flip ${i}`)
    limiter.write('warn', { cause: 'state changes', subject: 'web/cache' }, 'cache flip')
    assert.deepEqual(lines, ['info flip 0', 'warn cache flip'])
    now = 10_000
    limiter.write('info', { cause: 'state changes', subject: 'web/db' }, 'flip again')
    assert.deepEqual(lines.slice(2), [
      'info web/db: state changes: … (and 8,312 more like this in the last 10 s)',
      'info flip again',
    ])
  })

  it('reports what it held back on flush, at the most severe level held back', () => {
    const { lines, logger } = lineLogger()
    const limiter = new LogLimiter(logger, { now: () => 0 })
    limiter.write('info', { cause: 'failed', subject: 'GET /v1' }, 'first')
    limiter.write('error', { cause: 'failed', subject: 'GET /v1' }, 'second')
    limiter.flush()
    assert.deepEqual(lines, ['info first', 'error GET /v1: failed: … (and 1 more like this in the last 10 s)'])
    assert.equal(limiter.size, 0)
  })

  it('remembers a bounded number of causes, reporting what a forgotten one held back', () => {
    const { lines, logger } = lineLogger()
    const limiter = new LogLimiter(logger, { maxKeys: 100, now: () => 0 })
    limiter.write('info', { cause: 'c', subject: 'first' }, 'first')
    limiter.write('info', { cause: 'c', subject: 'first' }, 'first again')
    for (let i = 0; i < 10_000; i++) limiter.write('info', { cause: 'c', subject: `s${i}` }, `line ${i}`)
    assert.equal(limiter.size, 100)
    assert.ok(lines.includes('info first: c: … (and 1 more like this in the last 10 s)'))
  })

  it('names what the subject is now in the summary, so a recovery held back is still told', () => {
    const { lines, logger } = lineLogger()
    const limiter = new LogLimiter(logger, { now: () => 0 })
    limiter.write('warn', { cause: 'state changes', subject: 'c', now: 'critical' }, 'unknown → critical: push fail')
    limiter.write('info', { cause: 'state changes', subject: 'c', now: 'passing' }, 'critical → passing: ok')
    limiter.flush()
    assert.deepEqual(lines, [
      'warn unknown → critical: push fail',
      'warn c: state changes: … (and 1 more like this in the last 10 s; now passing)',
    ])
  })

  it("a monitor's summary of a flapping check ends in the state the check is in", async () => {
    const dir = makeTempDir('bounds-now')
    writeFileSync(join(dir, 'job.yaml'), 'id: jobs\nnode: n1\nchecks:\n  - name: job\n    type: push\n    period: 1h\n')
    const { lines, logger } = lineLogger()
    const monitor = new Monitor({ store: new MemoryStore(), logger })
    await monitor.load([dir])
    monitor.start()
    monitor.push('jobs/job', 'fail')
    monitor.push('jobs/job', 'success')
    await monitor.stop()
    const about = lines.filter((l) => l.includes('jobs/job on n1'))
    assert.match(about[0] ?? '', /^warn jobs\/job on n1: unknown → critical: /)
    assert.match(
      about.at(-1) ?? '',
      /jobs\/job on n1: state changes: … \(and 1 more like this in the last 10 s; now passing\)$/,
    )
  })

  it("a state change's line shows a multi-line output's first line and how many lines follow", async () => {
    const dir = makeTempDir('bounds-lines')
    writeFileSync(join(dir, 'job.yaml'), 'id: jobs\nnode: n1\nchecks:\n  - name: job\n    type: push\n    period: 1h\n')
    const { lines, logger } = lineLogger()
    const monitor = new Monitor({ store: new MemoryStore(), logger })
    await monitor.load([dir])
    monitor.start()
    monitor.push('jobs/job', 'fail', 'disk full\n/var at 100%\nbackup aborted\n')
    const state = monitor.states().find((s) => s.id === 'n1/jobs/job')
    await monitor.stop()
    assert.ok(
      lines.includes('warn jobs/job on n1: unknown → critical: push fail: disk full (+2 more lines)'),
      lines.join('\n'),
    )
    assert.match(state?.output ?? '', /backup aborted/)
  })

  it('writes debug lines only to a logger that has debug', () => {
    const { lines, logger } = lineLogger()
    new LogLimiter(logger).write('debug', { cause: 'client went away' }, 'gone')
    assert.deepEqual(lines, [])
    const debug: string[] = []
    new LogLimiter({ ...logger, debug: (m: string) => debug.push(m) } as typeof logger).write(
      'debug',
      { cause: 'client went away' },
      'gone',
    )
    assert.deepEqual(debug, ['gone'])
  })
})

describe('TokenBuckets', () => {
  it('grants a burst, then one per 1/rate s, and says how long to wait', () => {
    let now = 0
    const buckets = new TokenBuckets({ ratePerSecond: 10, now: () => now })
    for (let i = 0; i < 10; i++) assert.equal(buckets.take('a'), 0)
    assert.equal(buckets.take('a'), 1)
    assert.equal(buckets.take('b'), 0, 'buckets are per key')
    now = 100
    assert.equal(buckets.take('a'), 0)
    assert.equal(buckets.take('a'), 1)
  })

  it('asks for whole seconds at a slow rate', () => {
    const buckets = new TokenBuckets({ ratePerSecond: 0.2, now: () => 0 })
    assert.equal(buckets.take('a'), 0)
    assert.equal(buckets.take('a'), 5)
  })

  it('holds a refused key back for the whole wait it announced, when asked to', () => {
    let now = 0
    const buckets = new TokenBuckets({ ratePerSecond: 20, holdForAnnouncedWait: true, now: () => now })
    for (let i = 0; i < 20; i++) assert.equal(buckets.take('a'), 0)
    assert.equal(buckets.take('a'), 1, 'empty: wait a second')
    now = 200 // four tokens refilled, but the second announced has not passed
    assert.equal(buckets.take('a'), 1)
    assert.equal(buckets.take('b'), 0, 'other keys are not held')
    now = 1000
    assert.equal(buckets.take('a'), 0)
    // Without the option, a refilled token is granted at once.
    const plain = new TokenBuckets({ ratePerSecond: 20, now: () => now })
    for (let i = 0; i < 20; i++) plain.take('a')
    assert.equal(plain.take('a'), 1)
    now = 1100
    assert.equal(plain.take('a'), 0)
  })

  it('keeps a bounded number of buckets', () => {
    let now = 0
    const buckets = new TokenBuckets({ ratePerSecond: 10, maxKeys: 50, now: () => now })
    for (let i = 0; i < 1000; i++) {
      now += 1
      buckets.take(`k${i}`)
    }
    assert.ok(buckets.size <= 50)
  })

  it('makes room by forgetting refilled buckets first, and only then the least recently used busy one', () => {
    let now = 0
    const buckets = new TokenBuckets({ ratePerSecond: 10, maxKeys: 50, now: () => now })
    for (let i = 0; i < 25; i++) buckets.take(`old${i}`)
    now = 1000 // the old ones have refilled
    for (let i = 0; i < 25; i++) buckets.take(`busy${i}`)
    buckets.take('new')
    assert.equal(buckets.size, 26, 'the 25 refilled buckets are forgotten, the busy ones kept')
    for (let i = 0; i < 24; i++) buckets.take(`more${i}`)
    assert.equal(buckets.size, 50)
    // Full of busy keys: the least recently used one (busy0) goes, and its limit starts afresh.
    buckets.take('last')
    assert.equal(buckets.size, 50)
    for (let i = 0; i < 9; i++) assert.equal(buckets.take('busy1'), 0)
    assert.equal(buckets.take('busy1'), 1, 'busy1 was kept: its tenth take within 0.1 s is refused')
    for (let i = 0; i < 9; i++) assert.equal(buckets.take('busy0'), 0, 'busy0 was forgotten: a fresh bucket')
  })
})

describe('Slots', () => {
  it('refuses past the cap and takes one again when a slot is released (once)', () => {
    const slots = new Slots(2)
    const a = slots.acquire()
    const b = slots.acquire()
    assert.ok(a && b)
    assert.equal(slots.acquire(), undefined)
    a()
    a()
    assert.equal(slots.inUse, 1)
    assert.ok(slots.acquire())
    assert.equal(slots.acquire(), undefined)
  })
})

describe('Monitor wake-ups', () => {
  it('answers 2,000 watchers of one change with one shared snapshot, once per wake interval', async () => {
    const dir = makeTempDir('bounds-wake')
    writeFileSync(join(dir, 'job.yaml'), 'id: jobs\nnode: n1\nchecks:\n  - name: job\n    type: push\n    period: 1h\n')
    const monitor = new Monitor({ store: new MemoryStore(), logger: false, wakeIntervalMs: 200 })
    await monitor.load([dir])
    monitor.start()
    try {
      const index = monitor.index
      const watchers = Array.from({ length: 2000 }, () => monitor.waitForChange(index, 60_000))
      assert.equal(monitor.watcherCount, 2000)
      monitor.push('jobs/job', 'success')
      const answers = await Promise.all(watchers)
      assert.equal(new Set(answers.map((a) => a.states)).size, 1, 'one snapshot for all')
      assert.ok(answers.every((a) => a.index > index))
      assert.equal(answers[0]?.states.find((s) => s.id === 'n1/jobs/job')?.state, 'passing')

      // Back at once with the new index while the check keeps changing: they wait for the
      // next wake-up instead of being answered once per change.
      const next = answers[0]?.index as number
      const again = Array.from({ length: 100 }, () => monitor.waitForChange(next, 60_000))
      for (let i = 0; i < 20; i++) monitor.push('jobs/job', i % 2 ? 'success' : 'fail')
      assert.equal(monitor.watcherCount, 100, 'nobody is answered synchronously by a change')
      const second = await Promise.all(again)
      assert.equal(new Set(second.map((a) => a.states)).size, 1)
      assert.ok(
        second.every((a) => a.index >= next + 20),
        'one answer carries all 20 changes',
      )
    } finally {
      await monitor.stop()
    }
  })
})
