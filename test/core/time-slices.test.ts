import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_BACKOFF_MS, timeSlices } from '../../src/core/time-slices.js'

describe('timeSlices', () => {
  it('costs nothing within a slice, and lets the event loop run once a slice is over', async () => {
    const within = timeSlices(60_000)
    assert.equal(within(), undefined)
    const over = timeSlices(0)
    let ran = false
    setImmediate(() => {
      ran = true
    })
    await over()
    assert.ok(ran, 'a turn of the event loop ran during the pause')
  })

  it('waits while other work is behind, and no longer than MAX_BACKOFF_MS', async () => {
    let asked = 0
    const pause = timeSlices(0, () => ++asked <= 3)
    await pause()
    assert.equal(asked, 4, 'asked until the other work had caught up')

    let always = 0
    const stuck = timeSlices(0, () => {
      always++
      return true
    })
    await stuck()
    assert.equal(always, MAX_BACKOFF_MS / 5, 'gave up waiting at the cap, a step of 5 ms at a time')
  })
})
