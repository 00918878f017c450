/**
 * Push checks, the dead man's switch: a job reports in (`success`, `start`, `fail`, or its
 * exit status) and the check turns critical when no report arrives within its period plus
 * a grace time, or when a started run does not finish within the grace time — the rules
 * of healthchecks.io and Consul's TTL checks.
 */
import { MAX_TIMER_MS } from '../core/clock.js'
import { redact } from '../core/redact.js'
import type { Status } from '../core/types.js'
import { type CheckerResult, headAndTail } from './checkers/checker.js'
import { formatDuration, type PushCheckSpec } from './manifest.js'

/** What a job reports: `success`, `start` (a run began), `fail`, or its exit status (0–255; 0 is success). */
export type PushKind = 'success' | 'start' | 'fail' | number

/** What the last part of `/v1/push/<check>/<report>` may be, in words for error messages. */
export const PUSH_REPORTS = '/start, /fail or an exit status from 0 to 255 (nothing after the name is success)'

/**
 * The report a path part names: `start`, `fail`, or an exit status 0–255. `problem` for a
 * number outside that range; undefined for anything else (it may be part of the name).
 */
export function parsePushReport(part: string): { kind: PushKind } | { problem: string } | undefined {
  if (part === 'start' || part === 'fail') return { kind: part }
  if (!/^-?\d+$/.test(part)) return undefined
  const status = Number(part)
  if (status < 0 || status > 255)
    return { problem: `exit status ${part} is out of range 0–255; a job reports ${PUSH_REPORTS}` }
  return { kind: status }
}

/** Throws a TypeError for a report that is not one of the documented kinds. */
export function assertPushKind(kind: unknown): asserts kind is PushKind {
  if (kind === 'success' || kind === 'start' || kind === 'fail') return
  if (typeof kind === 'number' && Number.isInteger(kind) && kind >= 0 && kind <= 255) return
  throw new TypeError(
    `monitor.push: ${JSON.stringify(kind)} is not a push report; use 'success', 'start', 'fail' or an exit status from 0 to 255`,
  )
}

/** The switch of one push check. Reports outcomes through `onOutcome`. */
export class PushWatch {
  private timer: NodeJS.Timeout | undefined
  private deadlineAt: number
  private startedAt: number | undefined
  private stopped = false

  /**
   * @param lastPushAt the latest report before a restart (epoch ms), so an overdue job is
   *   noticed at once; undefined for a new check, which gets a full period plus grace.
   */
  constructor(
    readonly spec: PushCheckSpec,
    lastPushAt: number | undefined,
    private readonly onOutcome: (result: CheckerResult) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.deadlineAt = (lastPushAt ?? this.now()) + spec.periodMs + spec.graceMs
    this.arm()
  }

  /** Applies one report from the job. */
  push(kind: PushKind, body?: string): void {
    if (this.stopped) return
    const at = this.now()
    const text = body?.trim() ? redact(body.trim()) : undefined
    if (kind === 'start') {
      this.startedAt = at
      this.arm()
      return
    }
    const ok = kind === 'success' || kind === 0
    const what = typeof kind === 'number' ? `exit status ${kind}` : kind
    const ran =
      this.startedAt !== undefined ? ` after ${formatDuration(Math.max(0, Math.round(at - this.startedAt)))}` : ''
    this.startedAt = undefined
    this.deadlineAt = at + this.spec.periodMs + this.spec.graceMs
    this.arm()
    this.onOutcome(pushResult(this.spec.id, ok ? 'pass' : 'fail', headAndTail(`push ${what}${ran}`, text), at))
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private arm(): void {
    clearTimeout(this.timer)
    if (this.stopped) return
    const due =
      this.startedAt !== undefined ? Math.min(this.deadlineAt, this.startedAt + this.spec.graceMs) : this.deadlineAt
    const wait = Math.max(0, due - this.now())
    this.timer = setTimeout(() => this.expire(due), Math.min(wait, MAX_TIMER_MS))
  }

  private expire(due: number): void {
    const at = this.now()
    if (at < due) {
      this.arm() // a long deadline, re-armed in steps
      return
    }
    let output: string
    if (this.startedAt !== undefined && at >= this.startedAt + this.spec.graceMs) {
      output = `started ${formatDuration(Math.round(at - this.startedAt))} ago and did not finish within the grace time of ${formatDuration(this.spec.graceMs)}`
      this.startedAt = undefined
    } else {
      output = `no push within the period of ${formatDuration(this.spec.periodMs)} plus the grace time of ${formatDuration(this.spec.graceMs)}`
    }
    // Report once; the next report (or the next missed period) is what matters after this.
    this.deadlineAt = at + this.spec.periodMs
    this.arm()
    this.onOutcome(pushResult(this.spec.id, 'fail', output, at))
  }
}

/** A push report (or its absence) as a check result: it took none of the monitor's time. */
export function pushResult(id: string, status: Status, output: string, at: number = Date.now()): CheckerResult {
  return { name: id, status, output, time: new Date(at).toISOString(), durationMs: 0, critical: true, facts: {} }
}
