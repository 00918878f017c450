import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isoTime } from '../../src/core/clock.js'

describe('isoTime, the time of a result', () => {
  it('writes what toISOString writes, for every field width and for years outside 1000–9999', () => {
    const times = [
      0,
      -1,
      Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(1999, 8, 9, 10, 11, 12, 40),
      Date.UTC(1000, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10_000, 0, 1),
      -62_198_755_200_000,
    ]
    for (let ms = Date.UTC(2024, 1, 28, 22); ms < Date.UTC(2024, 2, 1, 2); ms += 3_600_007) times.push(ms)
    for (const ms of times) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
  })

  it('throws for a time that is not one, as toISOString does', () => {
    assert.throws(() => isoTime(Number.NaN), RangeError)
  })
})
