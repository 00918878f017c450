import { DeadlineExceeded, reasonOf } from './errors.js'
import { redact } from './redact.js'
import type { CheckDetails, CheckResult, Probe } from './types.js'

export interface RunProbeOptions {
  /** The deadline for this run, in ms. */
  timeoutMs: number
  /** Aborts the run early (e.g. the health instance is closing). */
  signal?: AbortSignal
}

const noop = () => {}

/**
 * Runs one probe under its deadline and turns whatever happens into a CheckResult.
 * It never throws and never outlives the deadline: a check that ignores its signal is
 * left behind (its eventual outcome is swallowed) and the result says it timed out.
 * This is the one place that enforces deadlines; the library, CLI and monitor all use it.
 */
export async function runProbe(probe: Probe, options: RunProbeOptions): Promise<CheckResult> {
  const { timeoutMs } = options
  const critical = probe.critical !== false
  const startedAt = Date.now()
  const started = performance.now()
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let onParentAbort: (() => void) | undefined

  const deadline = new Promise<never>((_, reject) => {
    const fire = (reason: unknown) => {
      controller.abort(reason)
      reject(reason)
    }
    timer = setTimeout(fire, timeoutMs, new DeadlineExceeded(timeoutMs))
    const parent = options.signal
    if (parent) {
      if (parent.aborted) fire(parent.reason ?? new Error('aborted'))
      else {
        onParentAbort = () => fire(parent.reason ?? new Error('aborted'))
        parent.addEventListener('abort', onParentAbort, { once: true })
      }
    }
  })

  let details: CheckDetails | undefined
  let error: unknown
  let failed = false
  try {
    const outcome = Promise.resolve().then(() => probe.check({ signal: controller.signal }))
    // A check that ignores its signal may settle long after we answered: swallow that.
    outcome.catch(noop)
    details = (await Promise.race([outcome, deadline])) ?? undefined
  } catch (err) {
    failed = true
    error = err
  } finally {
    clearTimeout(timer)
    if (onParentAbort) options.signal?.removeEventListener('abort', onParentAbort)
  }
  deadline.catch(noop)

  const result: CheckResult = {
    name: probe.name,
    status: failed ? (critical ? 'fail' : 'warn') : 'pass',
    time: new Date(startedAt).toISOString(),
    durationMs: performance.now() - started,
    critical,
  }
  if (probe.componentType) result.componentType = probe.componentType
  if (failed) result.output = reasonOf(error)
  else if (details && typeof details === 'object') applyDetails(result, details)
  return result
}

function applyDetails(result: CheckResult, details: CheckDetails): void {
  if (details.message !== undefined) result.output = redact(String(details.message))
  if (details.observedValue !== undefined) result.observedValue = details.observedValue
  if (details.observedUnit !== undefined) result.observedUnit = details.observedUnit
  if (details.componentType !== undefined) result.componentType = details.componentType
  if (details.componentId !== undefined) result.componentId = redact(details.componentId)
}
