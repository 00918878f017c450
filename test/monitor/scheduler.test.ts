import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Scheduler } from '../../src/monitor/scheduler.js'
import { sleep, waitFor } from '../support/server-process.js'

describe('scheduler', () => {
  it('says it is behind while runs wait for a slot, and for a second after one started late', async () => {
    let now = 1_000_000
    const scheduler = new Scheduler({ concurrency: 1, now: () => now })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const started: string[] = []
    scheduler.add(
      'holds',
      60_000,
      async () => {
        started.push('holds')
        await gate
      },
      0,
    )
    scheduler.add('waits', 60_000, async () => void started.push('waits'), 0)
    assert.equal(scheduler.behind(), false, 'nothing due yet')
    scheduler.start()
    await waitFor('the first run', () => started.length === 1, 5000)
    assert.equal(scheduler.behind(), true, 'a run waits for the only slot')
    // The slot frees 200 ms (of the scheduler's clock) after both were due: the second starts late.
    now += 200
    release()
    await waitFor('the second run', () => started.length === 2, 5000)
    assert.equal(scheduler.behind(), true, 'a run started 200 ms late just now')
    now += 1001
    assert.equal(scheduler.behind(), false, 'caught up, a second later')
    await scheduler.stop()
  })

  it('waits out an interval longer than a Node timer can (24.8 days) without a busy loop or a warning', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error) => void warnings.push(warning.name)
    process.on('warning', onWarning)
    const scheduler = new Scheduler({ concurrency: 2 })
    let long = 0
    let short = 0
    try {
      // 200 days, first run now: the next is 200 days away.
      scheduler.add('long', 200 * 86_400_000, async () => void long++, 0)
      scheduler.start()
      await waitFor('the first run of the long job', () => long === 1, 5000)
      await sleep(100)
      // A job added later with a short interval still runs on time.
      scheduler.add('short', 20, async () => void short++, 0)
      await waitFor('runs of the short job', () => short >= 3, 5000)
    } finally {
      await scheduler.stop()
      process.off('warning', onWarning)
    }
    assert.equal(long, 1, 'the long job ran once, not again after a timer of 1 ms')
    assert.deepEqual(warnings, [], 'no TimeoutOverflowWarning')
  })

  it('runs each job first within its first interval, then at a fixed rate not stretched by run time', async () => {
    const scheduler = new Scheduler({ concurrency: 10 })
    const starts: number[] = []
    const dues: number[] = []
    // Each run takes 60% of the interval: a fixed-delay scheduler would manage ~6 runs in
    // the window below; a fixed-rate one ~10.
    scheduler.add('job', 100, async (timing) => {
      starts.push(performance.now())
      dues.push(timing.dueAt)
      await sleep(60)
    })
    const t0 = performance.now()
    scheduler.start()
    await sleep(1050)
    await scheduler.stop()
    assert.ok(dues[0] !== undefined && dues[0] >= t0 && dues[0] - t0 < 100, 'first run due inside the first interval')
    assert.ok(starts.length >= 7 && starts.length <= 12, `${starts.length} runs`)
    // Due times stay on the grid of the first one, whatever the runs took (a tick that found
    // the previous run still going on a loaded machine is skipped, not shifted).
    for (let i = 1; i < dues.length; i++) {
      const gap = Math.round((dues[i] as number) - (dues[i - 1] as number))
      assert.ok(gap >= 100 && gap % 100 === 0, `gap ${gap}`)
    }
  })

  it('runs a job once out of step and then in step again when told when its second run is due', async () => {
    const scheduler = new Scheduler({ concurrency: 10 })
    const dues: number[] = []
    const t0 = performance.now()
    scheduler.add('taken-over', 200, async (timing) => void dues.push(timing.dueAt - t0), 0, true, 70)
    scheduler.start()
    await waitFor('three runs', () => dues.length >= 3, 5000)
    await scheduler.stop()
    const [first, second, third] = dues.map(Math.round) as [number, number, number]
    assert.ok(first < 10, `first due at ${first}`)
    assert.ok(second >= 70 && second < 80, `second due at ${second}`)
    assert.equal(third - second, 200)
  })

  it('keeps the order of first runs added in one long loop from one time base', async () => {
    const scheduler = new Scheduler({ concurrency: 1 })
    const order: string[] = []
    const from = scheduler.clock()
    for (const [id, delay] of [
      ['a', 30],
      ['b', 20],
      ['c', 10],
    ] as const) {
      scheduler.add(id, 60_000, async () => void order.push(id), delay, true, undefined, from)
      const busyUntil = performance.now() + 40 // a loop slower than the delays differ
      while (performance.now() < busyUntil) {}
    }
    scheduler.start()
    await waitFor('three runs', () => order.length === 3, 5000)
    await scheduler.stop()
    assert.deepEqual(order, ['c', 'b', 'a'])
  })

  it('never starts a job twice: a run still going at its next tick makes the tick skip', async () => {
    const scheduler = new Scheduler({ concurrency: 10, random: () => 0 })
    let running = 0
    let maxRunning = 0
    let runs = 0
    scheduler.add('slow', 50, async () => {
      running++
      runs++
      maxRunning = Math.max(maxRunning, running)
      await sleep(170)
      running--
    })
    scheduler.start()
    await sleep(600)
    await scheduler.stop()
    assert.equal(maxRunning, 1)
    assert.ok(runs >= 2 && runs <= 4, `${runs} runs`)
    assert.ok(scheduler.stats.skipped >= 5, `${scheduler.stats.skipped} skipped ticks`)
  })

  it('keeps at most `concurrency` runs in flight and gets to every job', async () => {
    const scheduler = new Scheduler({ concurrency: 3 })
    let running = 0
    let maxRunning = 0
    const ran = new Set<string>()
    for (let i = 0; i < 20; i++) {
      scheduler.add(`job-${i}`, 200, async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        ran.add(`job-${i}`)
        await sleep(20)
        running--
      })
    }
    scheduler.start()
    await sleep(700)
    await scheduler.stop()
    assert.equal(maxRunning, 3)
    assert.equal(ran.size, 20)
  })

  it('starts the first run of a job added `ahead` before the runs already waiting for a slot', async () => {
    // One slot, held by a gate; ten jobs come due and wait behind it, then the taken-over
    // job comes due: it is next, and after its first run it queues like the others.
    const scheduler = new Scheduler({ concurrency: 1 })
    let open: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const order: string[] = []
    scheduler.add('gate', 60_000, () => gate, 0)
    for (let i = 0; i < 10; i++) scheduler.add(`queued-${i}`, 60_000, async () => void order.push(`queued-${i}`), 0)
    scheduler.start()
    await waitFor('ten runs waiting for the slot', () => scheduler.stats.waiting === 10)
    scheduler.add('taken-over', 60_000, async () => void order.push('taken-over'), 0, true)
    await waitFor('the taken-over run to wait too', () => scheduler.stats.waiting === 11)
    open()
    await waitFor('every run', () => order.length === 11)
    await scheduler.stop()
    assert.deepEqual(order, ['taken-over', ...Array.from({ length: 10 }, (_, i) => `queued-${i}`)])
  })

  it('spreads the first runs of many jobs across the first interval', async () => {
    const scheduler = new Scheduler({ concurrency: 1000 })
    // When each job's first run was due, relative to when it was added.
    const firstDue = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      const id = `j${i}`
      const addedAt = performance.now()
      scheduler.add(id, 400, async (timing) => {
        if (!firstDue.has(id)) firstDue.set(id, timing.dueAt - addedAt)
      })
    }
    scheduler.start()
    await waitFor('every job to run once', () => firstDue.size === 200, 10_000)
    await scheduler.stop()
    const offsets = [...firstDue.values()]
    assert.ok(
      offsets.every((t) => t >= 0 && t <= 401),
      'every first run is due within the first interval',
    )
    const early = offsets.filter((t) => t < 200).length
    // Uniform jitter: about half are due in the first half of the interval (generous bounds).
    assert.ok(early > 50 && early < 150, `${early} of 200 in the first half`)
  })

  it('stops a removed job and replaces a job added again under the same id', async () => {
    const scheduler = new Scheduler({ random: () => 0 })
    const seen: string[] = []
    scheduler.add('a', 40, async () => void seen.push('a1'))
    scheduler.start()
    await sleep(100)
    scheduler.add('a', 40, async () => void seen.push('a2'))
    await sleep(100)
    scheduler.remove('a')
    const count = seen.length
    await sleep(120)
    await scheduler.stop()
    assert.equal(seen.length, count, 'nothing ran after remove')
    assert.ok(seen.includes('a1') && seen.includes('a2'))
    assert.ok(seen.lastIndexOf('a1') < seen.indexOf('a2'), 'the replacement took over')
  })

  it('waits for runs in flight on stop, and a run that throws does not stop the schedule', async () => {
    const scheduler = new Scheduler({ random: () => 0 })
    let runs = 0
    let running = 0
    scheduler.add('flaky', 30, async () => {
      runs++
      if (runs === 1) throw new Error('boom')
      running++
      await sleep(100)
      running--
    })
    scheduler.start()
    await waitFor('a run after the one that threw', () => running > 0, 10_000, 5)
    await scheduler.stop()
    assert.ok(runs >= 2)
    assert.equal(running, 0, 'stop waited for the run in flight')
  })

  it('counts how late each run started in its delay histogram: a stalled event loop shows', async () => {
    const scheduler = new Scheduler({ concurrency: 10 })
    let runs = 0
    scheduler.add('late', 60_000, async () => void runs++, 20)
    scheduler.add('on-time', 60_000, async () => void runs++, 400)
    scheduler.start()
    // The loop is busy for 300 ms when the first job falls due: it starts ~280 ms late.
    const busyUntil = performance.now() + 300
    while (performance.now() < busyUntil) {}
    await waitFor('two runs', () => runs === 2, 5000)
    await scheduler.stop()
    const { delays } = scheduler
    assert.deepEqual(delays.bounds, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    assert.equal(delays.count, 2)
    assert.equal(
      delays.counts.reduce((a, b) => a + b, 0),
      2,
    )
    // The late run lies above 0.25 s (the bucket (0.25, 0.5] on a quiet machine).
    const over250ms = delays.counts.slice(6).reduce((a, b) => a + b, 0)
    assert.ok(over250ms >= 1, `buckets ${delays.counts.join(' ')}`)
    assert.ok(delays.sum > 0.25 && delays.sum < 5, `sum ${delays.sum}`)
    assert.equal(scheduler.stats.started, 2)
  })
})
