import type { CheckResult, Report, ServiceInfo, Status } from '../core/types.js'
import { WITHHELD } from './text.js'

/** Fields of the IETF health-check response (draft-inadarei-api-health-check). */
export interface HealthJsonCheck {
  status: Status
  time: string
  componentType?: string
  componentId?: string
  observedValue?: number | string | boolean
  observedUnit?: string
  output?: string
}

export interface HealthJson {
  status: Status
  version?: string
  releaseId?: string
  serviceId?: string
  description?: string
  output?: string
  checks: Record<string, HealthJsonCheck[]>
  notes?: string[]
}

export const HEALTH_JSON_TYPE = 'application/health+json'

/**
 * The IETF health-check JSON: overall `status`, and `checks` keyed by component, each an
 * array of objects. `output` is present for warn and fail only, as the draft asks.
 */
export function formatHealthJson(report: Report, showReasons: boolean, service: ServiceInfo = {}): HealthJson {
  const body: HealthJson = { status: report.status, ...service, checks: {} }
  let firstFailure: CheckResult | undefined
  for (const check of report.checks) {
    const entry: HealthJsonCheck = { status: check.status, time: check.time }
    if (check.componentType) entry.componentType = check.componentType
    if (check.componentId && showReasons) entry.componentId = check.componentId
    if (check.observedValue !== undefined) {
      entry.observedValue = check.observedValue
      if (check.observedUnit) entry.observedUnit = check.observedUnit
    }
    if (check.status !== 'pass') {
      entry.output = showReasons ? (check.output ?? 'failed') : WITHHELD
      if (check.status === 'fail' && !firstFailure) firstFailure = check
    }
    // A check's name is the app's to choose, and `constructor` or `__proto__` is one: only
    // own keys are looked up, and a new key is defined: assigning `__proto__` sets the prototype.
    const list = Object.hasOwn(body.checks, check.name) ? body.checks[check.name] : undefined
    if (list) list.push(entry)
    else {
      Object.defineProperty(body.checks, check.name, {
        value: [entry],
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
  }
  if (firstFailure) body.output = `${firstFailure.name}: ${showReasons ? (firstFailure.output ?? 'failed') : WITHHELD}`
  if (report.unmatchedExcludes && report.unmatchedExcludes.length > 0) {
    body.notes = [`no checks match the excluded names ${report.unmatchedExcludes.join(', ')}`]
  }
  return body
}
