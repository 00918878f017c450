import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_TIMER_MS } from '../../src/core/clock.js'
import { connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS } from '../../src/probes/connect-timeout.js'

describe('connectTimeout', () => {
  it('defaults to 2 s, capped by the probe timeout', () => {
    assert.equal(connectTimeoutMs(undefined, 'tcp'), DEFAULT_CONNECT_TIMEOUT_MS)
    assert.equal(connectTimeoutMs({ timeout: 500 }, 'tcp'), 500)
    assert.equal(connectTimeoutMs({ connectTimeout: MAX_TIMER_MS }, 'tcp'), MAX_TIMER_MS)
  })

  it('refuses what no timer can wait for (over 24.8 days) in one sentence, as it refuses zero', () => {
    for (const connectTimeout of [MAX_TIMER_MS + 1, 25 * 86_400_000, 0, -1, Number.NaN]) {
      assert.throws(
        () => connectTimeoutMs({ connectTimeout }, 'tcp'),
        new TypeError(
          `tcp: connectTimeout must be a positive number of ms, at most ${MAX_TIMER_MS} (24.8 days), got ${String(connectTimeout)}`,
        ),
      )
    }
  })
})
