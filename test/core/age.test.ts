import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatAge } from '../../src/core/age.js'

describe('formatAge, the one way probekit writes an age', () => {
  it('reads in seconds up to an hour (one decimal below ten), then hours and days', () => {
    assert.deepEqual([0, 1234, 9_949, 12_400, 95_000, 600_000, 3_599_000, 7_500_000, 90_000_000].map(formatAge), [
      '0.0 s',
      '1.2 s',
      '9.9 s',
      '12 s',
      '95 s',
      '600 s',
      '3599 s',
      '2 h 5 min',
      '1 d 1 h',
    ])
  })

  it('reads a time in the future (a clock step) or nonsense as no age at all', () => {
    assert.deepEqual([-5000, Number.NaN].map(formatAge), ['0.0 s', '0.0 s'])
  })
})
