import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { createHealth } from '../../src/health.js'
import { eventLoop } from '../../src/probes/event-loop.js'
import { activeResources } from '../support/faults.js'
import { sleep } from '../support/server-process.js'

function busyWait(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe('eventLoop probe', () => {
  it('belongs to live by default', () => {
    const probe = eventLoop({ maxDelay: 100 })
    assert.deepEqual(probe.groups, ['live'])
    assert.equal(probe.name, 'event-loop')
    assert.equal(probe.componentType, 'system')
  })

  it('passes while the loop is idle, with the delay as observed value', async () => {
    const probe = eventLoop({ maxDelay: 200, window: 2000 })
    try {
      const first = await runProbe(probe, { timeoutMs: 1000 })
      assert.equal(first.output, 'measuring (first check)')
      await sleep(300)
      const idle = await runProbe(probe, { timeoutMs: 1000 })
      assert.equal(idle.status, 'pass', idle.output)
      assert.equal(idle.observedUnit, 'ms')
      assert.ok((idle.observedValue as number) < 200)
      assert.match(idle.output ?? '', /^event-loop delay p99 [\d.]+ ms over the last [\d.]+ s \(max [\d.]+ ms\)$/)
    } finally {
      probe.close()
    }
  })

  it('fails after the loop is blocked by a busy wait, then passes once the window has rolled past it', async () => {
    const probe = eventLoop({ maxDelay: 100, window: 1000 })
    try {
      await runProbe(probe, { timeoutMs: 1000 })
      await sleep(200)
      busyWait(400)
      await sleep(50)
      const blocked = await runProbe(probe, { timeoutMs: 1000 })
      assert.equal(blocked.status, 'fail')
      assert.match(blocked.output ?? '', /^event-loop delay p99 (\d{3}|[4-9]\d\d)[\d.]* ms .* is above 100 ms$/)
      // Keep checking while idle: the histograms rotate out the stall within a window.
      let recovered = false
      for (let i = 0; i < 30 && !recovered; i++) {
        await sleep(100)
        recovered = (await runProbe(probe, { timeoutMs: 1000 })).status === 'pass'
      }
      assert.ok(recovered, 'the probe passes again once the stall is out of the window')
    } finally {
      probe.close()
    }
  })

  it('stops measuring when its health instance closes, leaving no timer behind', async () => {
    const before = activeResources()
    const health = createHealth({ logger: false })
    const probe = eventLoop({ maxDelay: 100 })
    health.add(probe)
    await health.run('live')
    await sleep(50)
    const measuring = await health.run('live')
    assert.match(measuring.checks.find((c) => c.name === 'event-loop')?.output ?? '', /^event-loop delay p99/)
    await health.close()
    assert.deepEqual(activeResources().byType, before.byType)
    // Closed means the histograms are gone: a later check starts measuring from scratch.
    const after = await runProbe(probe, { timeoutMs: 1000 })
    assert.equal(after.output, 'measuring (first check)')
    probe.close()
  })

  it('rejects a missing or nonsense threshold in one sentence', () => {
    assert.throws(() => eventLoop({} as never), /eventLoop: maxDelay must be a positive number of ms/)
    assert.throws(() => eventLoop({ maxDelay: 10, percentile: 0 }), /percentile must be a number above 0/)
  })
})
