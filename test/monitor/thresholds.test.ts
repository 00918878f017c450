import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyThresholds, NO_THRESHOLDS, type Thresholds } from '../../src/monitor/thresholds.js'
import type { HealthState } from '../../src/monitor/types.js'

/** Feeds outcomes one by one and returns the state after each. */
function run(
  thresholds: Thresholds,
  outcomes: Exclude<HealthState, 'unknown'>[],
  start: HealthState = 'unknown',
): string[] {
  let state = start
  let streaks = { successes: 0, failures: 0 }
  const seen: string[] = []
  for (const outcome of outcomes) {
    const next = applyThresholds(state, streaks, outcome, thresholds)
    state = next.state
    streaks = { successes: next.successes, failures: next.failures }
    seen.push(state)
  }
  return seen
}

describe('thresholds (Consul semantics)', () => {
  it('apply every outcome at once by default', () => {
    assert.deepEqual(run(NO_THRESHOLDS, ['passing', 'critical', 'warning', 'passing']), [
      'passing',
      'critical',
      'warning',
      'passing',
    ])
  })

  it('need success_before_passing passes in a row before passing', () => {
    const t = { ...NO_THRESHOLDS, successBeforePassing: 3 }
    assert.deepEqual(run(t, ['passing', 'passing', 'critical', 'passing', 'passing', 'passing']), [
      'unknown',
      'unknown',
      'critical',
      'critical',
      'critical',
      'passing',
    ])
  })

  it('turn warning after failures_before_warning and critical after failures_before_critical', () => {
    const t = { successBeforePassing: 0, failuresBeforeWarning: 1, failuresBeforeCritical: 3 }
    assert.deepEqual(run(t, ['passing', 'critical', 'critical', 'critical', 'critical', 'passing']), [
      'passing',
      'warning',
      'warning',
      'critical',
      'critical',
      'passing',
    ])
  })

  it('stay where they were while a failure streak is below both thresholds', () => {
    // failures_before_warning defaults to failures_before_critical (set by the manifest).
    const t = { successBeforePassing: 0, failuresBeforeWarning: 2, failuresBeforeCritical: 2 }
    assert.deepEqual(run(t, ['passing', 'critical', 'passing', 'critical', 'critical']), [
      'passing',
      'passing',
      'passing',
      'passing',
      'critical',
    ])
  })

  it('count a warning outcome as a success that resets the failures', () => {
    const t = { successBeforePassing: 0, failuresBeforeWarning: 2, failuresBeforeCritical: 2 }
    assert.deepEqual(run(t, ['critical', 'warning', 'critical', 'critical']), [
      'unknown',
      'warning',
      'warning',
      'critical',
    ])
  })

  it('stop counting past the largest threshold, so a steady check does not change', () => {
    const t = { successBeforePassing: 2, failuresBeforeWarning: 0, failuresBeforeCritical: 0 }
    let streaks = { successes: 0, failures: 0 }
    let state: HealthState = 'unknown'
    for (let i = 0; i < 10; i++) {
      const next = applyThresholds(state, streaks, 'passing', t)
      state = next.state
      streaks = next
    }
    assert.equal(streaks.successes, 2)
    assert.equal(state, 'passing')
  })
})
