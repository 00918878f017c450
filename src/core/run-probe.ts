import { isoTime, monotonicMs } from './clock.js'
import { withDeadline } from './deadline.js'
import { reasonOf } from './errors.js'
import { redact, type SecretSet } from './redact.js'
import type { CheckDetails, CheckResult, Probe } from './types.js'

export interface RunProbeOptions {
  /** The deadline for this run, in ms. */
  timeoutMs: number
  /** Aborts the run early (e.g. the health instance is closing). */
  signal?: AbortSignal
  /** Secrets masked by value in the result's output (besides those of `addSecret`), e.g. a monitor's manifest credentials. */
  secrets?: SecretSet
}

/**
 * Runs one probe under its deadline and turns whatever happens into a CheckResult.
 * It never throws and never outlives the deadline: a check that ignores its signal is
 * left behind (its eventual outcome is swallowed) and the result says it timed out.
 * Deadlines are enforced by `withDeadline` (deadline.ts); the library, CLI and monitor all run probes here.
 */
export async function runProbe(probe: Probe, options: RunProbeOptions): Promise<CheckResult> {
  const critical = probe.critical !== false
  const startedAt = Date.now()
  const started = monotonicMs()
  let details: CheckDetails | undefined
  let error: unknown
  let failed = false
  try {
    details = (await withDeadline((signal) => probe.check({ signal }), options)) ?? undefined
  } catch (err) {
    failed = true
    error = err
  }

  const result: CheckResult = {
    name: probe.name,
    status: failed ? (critical ? 'fail' : 'warn') : 'pass',
    time: isoTime(startedAt),
    durationMs: monotonicMs() - started,
    critical,
  }
  if (probe.componentType) result.componentType = probe.componentType
  if (failed) result.output = reasonOf(error, options.secrets)
  else if (details && typeof details === 'object') applyDetails(result, details, options.secrets)
  return result
}

function applyDetails(result: CheckResult, details: CheckDetails, secrets: SecretSet | undefined): void {
  if (details.message !== undefined) result.output = redact(String(details.message), secrets)
  if (details.observedValue !== undefined) result.observedValue = details.observedValue
  if (details.observedUnit !== undefined) result.observedUnit = details.observedUnit
  if (details.componentType !== undefined) result.componentType = details.componentType
  if (details.componentId !== undefined) result.componentId = redact(details.componentId, secrets)
}
