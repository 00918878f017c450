/**
 * Deadline assertions that stay honest on a loaded machine. A check is run under runProbe
 * while a plain timer of the same length runs alongside it: when the CPU is starved, both
 * fire late alike, so the probe's own lateness is its time minus the timer's lateness.
 */
import assert from 'node:assert/strict'
import { runProbe } from '../../src/core/run-probe.js'
import type { CheckResult, Probe } from '../../src/core/types.js'

export interface TimedCheck {
  result: CheckResult
  /** Wall time of the check, ms. */
  elapsedMs: number
  /** How late a plain timer of the same length fired, ms (event-loop and CPU lag). */
  timerLateMs: number
}

export async function timedCheck(probe: Probe, timeoutMs: number): Promise<TimedCheck> {
  const started = performance.now()
  const reference = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), timeoutMs))
  const result = await runProbe(probe, { timeoutMs })
  const elapsedMs = performance.now() - started
  const timerMs = await reference
  return { result, elapsedMs, timerLateMs: Math.max(0, timerMs - timeoutMs) }
}

/** The check ended within its deadline plus `slackMs` (default 100), discounting timer lag. */
export function assertOnTime(check: TimedCheck, deadlineMs: number, slackMs = 100): void {
  const own = check.elapsedMs - check.timerLateMs
  assert.ok(
    own <= deadlineMs + slackMs,
    `took ${check.elapsedMs.toFixed(1)} ms (timers ran ${check.timerLateMs.toFixed(1)} ms late) for a ${deadlineMs} ms deadline`,
  )
}
