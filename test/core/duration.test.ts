import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { durationMs } from '../../src/core/duration.js'

describe('durationMs', () => {
  it('reads a bare number as seconds and knows ms, s, m, h and d', () => {
    assert.equal(durationMs('3'), 3000)
    assert.equal(durationMs('500ms'), 500)
    assert.equal(durationMs('1.5m'), 90_000)
    assert.equal(durationMs(' 2 s '), 2000)
    assert.equal(durationMs('1h'), 3_600_000)
    assert.equal(durationMs('1d'), 86_400_000)
  })

  it('is undefined for what is not a duration', () => {
    for (const text of ['', 'soon', '-1s', '5 minutes', '1e3', '2w']) assert.equal(durationMs(text), undefined, text)
  })
})
