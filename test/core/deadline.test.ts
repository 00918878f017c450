import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { MAX_TIMER_MS } from '../../src/core/clock.js'
import { withDeadline } from '../../src/core/deadline.js'
import { DeadlineExceeded } from '../../src/core/errors.js'

describe('withDeadline', () => {
  it('waits out a deadline longer than one timer holds (24.8 days), then fires once with it', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') warnings.push(warning.message)
    }
    process.on('warning', onWarning)
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const timeoutMs = 30 * 86_400_000
      // Set by the rejection; read through a call, as TypeScript cannot see the ticks change it.
      const outcome: { settled?: unknown } = {}
      const settled = (): unknown => outcome.settled
      const run = withDeadline(() => new Promise(() => {}), { timeoutMs }).catch((error: unknown) => {
        outcome.settled = error
      })
      mock.timers.tick(1)
      await Promise.resolve()
      assert.equal(settled(), undefined, 'not at once, as a timer past 2^31 - 1 ms would fire')
      mock.timers.tick(MAX_TIMER_MS)
      await Promise.resolve()
      assert.equal(settled(), undefined, 'not after the first timer either')
      // 1 + MAX_TIMER_MS ticked so far; the second timer is due at timeoutMs + 1.
      mock.timers.tick(timeoutMs - MAX_TIMER_MS)
      await run
      assert.ok(settled() instanceof DeadlineExceeded)
      assert.equal((settled() as DeadlineExceeded).timeoutMs, timeoutMs)
    } finally {
      mock.timers.reset()
      process.off('warning', onWarning)
    }
    assert.deepEqual(warnings, [], 'no TimeoutOverflowWarning')
  })

  it('a task that ends in time clears its long deadline', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const value = await withDeadline(async () => 'done', { timeoutMs: 60 * 86_400_000 })
      assert.equal(value, 'done')
      // Nothing left to fire: ticking past the deadline changes nothing and throws nothing.
      mock.timers.tick(61 * 86_400_000)
    } finally {
      mock.timers.reset()
    }
  })
})
