/**
 * The one model every face of probekit shares: probes, their results and reports.
 * The library, the CLI, the worker kit and the monitor all speak these types.
 */

/** A check's outcome. `warn` is a failure of a non-critical probe: reported, but still serving. */
export type Status = 'pass' | 'warn' | 'fail'

/** The three Kubernetes probe kinds. `startup` is the most thorough report: every probe. */
export type Group = 'live' | 'ready' | 'startup'

export const GROUPS: readonly Group[] = ['live', 'ready', 'startup']

/** What a check function receives. The signal fires at the probe's deadline. */
export interface CheckContext {
  signal: AbortSignal
}

/**
 * What a check may return when it passes. Every field is optional; the formats
 * (text, health+json, Prometheus, CLI lines, monitor output) show what is there.
 */
export interface CheckDetails {
  /** A short human message for a passing check, e.g. `PONG`. Never a secret. */
  message?: string
  /** An observed value such as a latency, free bytes or event-loop delay. */
  observedValue?: number | string | boolean
  /** The unit of `observedValue` (`ms`, `bytes`, `percent`, …). */
  observedUnit?: string
  /** IETF health-check `componentType`: `datastore`, `component`, `system`, … */
  componentType?: string
  /** IETF `componentId`, e.g. a server address (credentials are redacted). */
  componentId?: string
}

/** A check function: returns (optionally with details) to pass, throws to fail. */
export type CheckFn = (ctx: CheckContext) => void | CheckDetails | Promise<void | CheckDetails>

/** Options for one probe. All durations are milliseconds. */
export interface ProbeOptions {
  /**
   * Groups the probe belongs to. Default `['ready']`. `startup` always includes every
   * probe, whatever is listed here.
   */
  groups?: readonly Group[]
  /** `false` turns a failure into `warn`: reported, but it does not fail the group. Default true. */
  critical?: boolean
  /** Deadline for one run, in ms. Default: the health instance's `timeout`. */
  timeout?: number
  /** Reuse a result for this many ms. Default: the health instance's `cacheTtl` (0). */
  cacheTtl?: number
  /**
   * Run in the background every `interval` ms; requests then read the latest result
   * and never do I/O. A probe that has not run yet counts as failing.
   */
  interval?: number
  /** IETF `componentType` for reports. */
  componentType?: string
}

/** A named check with its options: what `health.add(probe)` and the built-in probes use. */
export interface Probe extends ProbeOptions {
  name: string
  check: CheckFn
  /**
   * Releases what the probe keeps between runs (e.g. the event-loop histogram).
   * `health.close()` calls it; probes that keep nothing omit it.
   */
  close?: () => void | Promise<void>
}

/** The result of one run of one probe. */
export interface CheckResult {
  name: string
  status: Status
  /** Why it failed or warned (redacted, never a stack), or a passing check's message. */
  output?: string
  observedValue?: number | string | boolean
  observedUnit?: string
  componentType?: string
  componentId?: string
  /** When the run started (ISO 8601). */
  time: string
  /** How long the run took, in ms. */
  durationMs: number
  critical: boolean
}

/** The result of running a group. */
export interface Report {
  group: Group
  status: Status
  checks: CheckResult[]
  /** Checks skipped because they were excluded. */
  excluded?: string[]
  /** Names given to `exclude` that matched no check. */
  unmatchedExcludes?: string[]
}

/** IETF health+json service fields, shown at the top of a JSON report. */
export interface ServiceInfo {
  serviceId?: string
  version?: string
  releaseId?: string
  description?: string
}
