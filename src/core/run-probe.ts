import { isoTime, monotonicMs } from './clock.js'
import { withDeadline } from './deadline.js'
import { reasonOf } from './errors.js'
import { redact, renderValue, type SecretSet } from './redact.js'
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

/**
 * Copies what a passing check returned into its result. The types ask for strings, but a
 * check written in JavaScript may return anything (`componentId: port`, a null-prototype
 * object as `message`): each text field is turned into text, and details that cannot be
 * read at all leave the check passing with a note, never a run that rejects.
 */
function applyDetails(result: CheckResult, details: CheckDetails, secrets: SecretSet | undefined): void {
  try {
    const { message, observedValue, observedUnit, componentType, componentId } = details
    if (message !== undefined) result.output = redact(textOf(message), secrets)
    if (observedValue !== undefined) {
      result.observedValue = isObservable(observedValue) ? observedValue : redact(textOf(observedValue), secrets)
    }
    if (observedUnit !== undefined) result.observedUnit = textOf(observedUnit)
    if (componentType !== undefined) result.componentType = textOf(componentType)
    if (componentId !== undefined) result.componentId = redact(textOf(componentId), secrets)
  } catch {
    result.output = 'passed; the details it returned cannot be read (a getter or proxy trap of them threw)'
  }
}

function isObservable(value: unknown): value is number | string | boolean {
  return typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean'
}

/** A detail as text: strings as they are, anything else rendered (secret keys masked). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : renderValue(value)
}
