import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Scheduler } from '../../src/monitor/scheduler.js'
import { sleep } from '../support/server-process.js'

describe('scheduler', () => {
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
    assert.ok(starts[0] !== undefined && starts[0] - t0 < 100 + 50, 'first run inside the first interval')
    assert.ok(starts.length >= 7 && starts.length <= 12, `${starts.length} runs`)
    // Due times stay on the grid of the first one, whatever the runs took (a tick that found
    // the previous run still going on a loaded machine is skipped, not shifted).
    for (let i = 1; i < dues.length; i++) {
      const gap = Math.round((dues[i] as number) - (dues[i - 1] as number))
      assert.ok(gap >= 100 && gap % 100 === 0, `gap ${gap}`)
    }
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

  it('spreads the first runs of many jobs across the first interval', async () => {
    const scheduler = new Scheduler({ concurrency: 1000 })
    const firstAt = new Map<string, number>()
    const t0 = performance.now()
    for (let i = 0; i < 200; i++) {
      const id = `j${i}`
      scheduler.add(id, 400, async () => {
        if (!firstAt.has(id)) firstAt.set(id, performance.now() - t0)
      })
    }
    scheduler.start()
    await sleep(450)
    await scheduler.stop()
    assert.equal(firstAt.size, 200)
    const early = [...firstAt.values()].filter((t) => t < 200).length
    // Uniform jitter: about half in the first half of the interval (generous bounds).
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
    let finished = false
    scheduler.add('flaky', 30, async () => {
      runs++
      if (runs === 1) throw new Error('boom')
      await sleep(40)
      finished = true
    })
    scheduler.start()
    await sleep(100)
    await scheduler.stop()
    assert.ok(runs >= 2)
    assert.ok(finished, 'stop waited for the run in flight')
  })
})
