import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, it } from 'node:test'
import { sleep } from '../../src/core/sleep.js'

describe('sleep', () => {
  it('resolves once the time has passed, not before', async () => {
    const started = performance.now()
    await sleep(50)
    // Timers may fire a hair early against performance.now(); never by a whole millisecond.
    assert.ok(performance.now() - started >= 49, `woke after ${performance.now() - started} ms`)
  })

  it('ends at once when the signal aborts, resolving, and leaves no listener on the signal', async () => {
    const closing = new AbortController()
    const pause = sleep(60_000, closing.signal)
    assert.equal(getEventListeners(closing.signal, 'abort').length, 1)
    closing.abort()
    await pause
    assert.equal(getEventListeners(closing.signal, 'abort').length, 0)
  })

  it('does not wait at all under a signal that has already aborted', async () => {
    const closing = new AbortController()
    closing.abort()
    await sleep(60_000, closing.signal)
  })

  it('removes its listener when the time passes first', async () => {
    const closing = new AbortController()
    await sleep(1, closing.signal)
    assert.equal(getEventListeners(closing.signal, 'abort').length, 0)
  })
})
