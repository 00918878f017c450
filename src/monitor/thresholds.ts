import type { HealthState } from './types.js'

/**
 * Consul's flap damping. A check's outcome changes its state only once enough outcomes
 * of the same kind arrived in a row; until then the state stays where it was (the output
 * is still updated).
 */
export interface Thresholds {
  /** Consecutive passing (or warning) outcomes needed before the state follows them. Default 0: at once. */
  successBeforePassing: number
  /** Consecutive failures before the state turns `warning`. Default: `failuresBeforeCritical`. */
  failuresBeforeWarning: number
  /** Consecutive failures before the state turns `critical`. Default 0: at once. */
  failuresBeforeCritical: number
}

export interface Streaks {
  successes: number
  failures: number
}

export interface ThresholdOutcome extends Streaks {
  /** The state after this outcome (may be the previous one while a streak builds). */
  state: HealthState
}

/** The defaults Consul uses: every outcome applies at once. */
export const NO_THRESHOLDS: Thresholds = {
  successBeforePassing: 0,
  failuresBeforeWarning: 0,
  failuresBeforeCritical: 0,
}

/**
 * Applies one outcome to the current state and streak counters, exactly as Consul's
 * `StatusHandler` does: passing and warning count as successes (and reset the failures),
 * critical counts as a failure (and resets the successes). Counters stop growing past the
 * largest threshold, so a steady check does not change (and is not rewritten) on every run.
 *
 * @example
 * applyThresholds('passing', { successes: 5, failures: 0 }, 'critical',
 *   { successBeforePassing: 0, failuresBeforeWarning: 1, failuresBeforeCritical: 3 })
 * // → { state: 'warning', successes: 0, failures: 1 }
 */
export function applyThresholds(
  current: HealthState,
  streaks: Streaks,
  outcome: Exclude<HealthState, 'unknown'>,
  thresholds: Thresholds,
): ThresholdOutcome {
  const cap = Math.max(
    1,
    thresholds.successBeforePassing,
    thresholds.failuresBeforeWarning,
    thresholds.failuresBeforeCritical,
  )
  if (outcome === 'passing' || outcome === 'warning') {
    const successes = Math.min(streaks.successes + 1, cap)
    const state = successes >= thresholds.successBeforePassing ? outcome : current
    return { state, successes, failures: 0 }
  }
  const failures = Math.min(streaks.failures + 1, cap)
  let state = current
  if (failures >= thresholds.failuresBeforeCritical) state = 'critical'
  else if (failures >= thresholds.failuresBeforeWarning) state = 'warning'
  return { state, successes: 0, failures }
}
