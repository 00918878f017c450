/**
 * The core of a health instance: probes, their groups, the lifecycle state, runs and
 * change events. It knows nothing of HTTP; the paths, the details policy, `handler()` and
 * `listen()` are added by src/health.ts, where the package's `Health` is assembled.
 */
import { EventEmitter } from 'node:events'
import { isoTime } from './clock.js'
import { reasonOf } from './errors.js'
import { Lifecycle, type LifecyclePhase } from './lifecycle.js'
import { LogLimiter } from './log-limiter.js'
import type { Logger } from './logger.js'
import {
  checkProbeOptions,
  nonNegative,
  oneOf,
  optionKeys,
  PROBE_OPTIONS,
  positive,
  rejectUnknownKeys,
} from './options.js'
import { ProbeRunner } from './probe-runner.js'
import { worse } from './status.js'
import {
  type CheckFn,
  type CheckResult,
  GROUPS,
  type Group,
  type Probe,
  type ProbeOptions,
  type Report,
  type ServiceInfo,
  type Status,
} from './types.js'

/** The options of the core; `HealthOptions` (src/health.ts) adds the HTTP ones. */
export interface HealthCoreOptions {
  /** Default deadline of every probe, in ms. Default 900, inside Kubernetes' default 1 s probe timeout. */
  timeout?: number
  /** Default time-to-live of a probe's result, in ms. Default 0 (single-flight only). */
  cacheTtl?: number
  /** Where transitions are logged (console or pino-compatible); `false` for silence. Default console. */
  logger?: Logger | false
  /** IETF health+json service fields (`serviceId`, `version`, `releaseId`, `description`). */
  service?: ServiceInfo
  /** Start ready (default) or not ready until `health.ready()` is called. */
  initiallyReady?: boolean
}

/** What `health.on('change', …)` receives, once per transition. */
export interface ChangeEvent {
  kind: 'check' | 'group' | 'lifecycle'
  /** Check name, group name, or `lifecycle`. */
  name: string
  previous: Status | LifecyclePhase | undefined
  current: Status | LifecyclePhase
  reason?: string
}

export interface RunOptions {
  /** Check names to skip. */
  exclude?: readonly string[]
  /** Run only this check (it must belong to the group). */
  only?: string
}

export const LIFECYCLE_CHECK = 'lifecycle'

const MS = 'milliseconds'

export const HEALTH_CORE_OPTION_KEYS = optionKeys<HealthCoreOptions>()({
  timeout: true,
  cacheTtl: true,
  logger: true,
  service: true,
  initiallyReady: true,
})

const SERVICE_INFO_KEYS = optionKeys<ServiceInfo>()({
  serviceId: true,
  version: true,
  releaseId: true,
  description: true,
})

/**
 * The probes of one process, their groups and the process's lifecycle state. Every face
 * reads it: the HTTP paths, the gRPC health service, `probekit probe` and `probekit gen`.
 */
/** Transition lines a check (a group, the lifecycle) writes in 10 s before the rest are counted. */
const TRANSITION_BURST = 5

export class HealthCore extends EventEmitter<{ change: [ChangeEvent] }> {
  readonly timeoutMs: number
  readonly cacheTtlMs: number
  readonly logger: Logger | false
  readonly service: ServiceInfo
  readonly lifecycle: Lifecycle
  private readonly runners = new Map<string, ProbeRunner>()
  private readonly byGroup: Record<Group, ProbeRunner[]> = { live: [], ready: [], startup: [] }
  private readonly lastCheckStatus = new Map<string, Status>()
  private readonly lastGroupStatus = new Map<Group, Status>()
  private lastPhase: LifecyclePhase
  private readonly closing = new AbortController()
  private readonly closers = new Set<() => Promise<void>>()
  /** Transition lines, bounded per subject (see `transition`). */
  private readonly transitionLog: LogLimiter

  /**
   * `knownKeys` are the keys `options` may have: a subclass that takes more options
   * (src/health.ts) lists all of them, so a misspelt one is caught once, with the closest.
   */
  constructor(options: HealthCoreOptions = {}, knownKeys: readonly string[] = HEALTH_CORE_OPTION_KEYS) {
    super()
    checkCoreOptions(options, knownKeys)
    this.timeoutMs = positive(options.timeout, 900, 'probekit: timeout', MS)
    this.cacheTtlMs = nonNegative(options.cacheTtl, 0, 'probekit: cacheTtl', MS)
    this.logger = options.logger === undefined ? console : options.logger
    this.transitionLog = new LogLimiter(this.logger, { burst: TRANSITION_BURST })
    this.service = options.service ?? {}
    this.lifecycle = new Lifecycle(() => this.lifecycleChanged(), options.initiallyReady !== false)
    this.lastPhase = this.lifecycle.phase
  }

  /**
   * Adds a probe: `add(name, check, options)` or `add(probe, overrides)`.
   * Without `groups` a probe is in `ready`; every probe is in `startup`.
   */
  add(name: string, check: CheckFn, options?: ProbeOptions): this
  add(probe: Probe, options?: ProbeOptions): this
  add(nameOrProbe: string | Probe, checkOrOptions?: CheckFn | ProbeOptions, maybeOptions?: ProbeOptions): this {
    let probe: Probe
    if (typeof nameOrProbe === 'string') {
      if (typeof checkOrOptions !== 'function') {
        // A built-in probe given a name of its own: add(name, postgres(pool)).
        const named =
          checkOrOptions && typeof checkOrOptions === 'object' && typeof (checkOrOptions as Probe).check === 'function'
        throw new TypeError(
          named
            ? `health.add(${JSON.stringify(nameOrProbe)}, probe): a probe object carries its own name; give it where the probe is made, e.g. postgres(pool, { name: ${JSON.stringify(nameOrProbe)} }), then health.add(probe)`
            : `health.add("${nameOrProbe}", check): check must be a function`,
        )
      }
      checkProbeOptions(`health.add("${nameOrProbe}", check, options)`, maybeOptions, PROBE_OPTION_KEYS)
      probe = { ...maybeOptions, name: nameOrProbe, check: checkOrOptions }
    } else if (nameOrProbe && typeof nameOrProbe === 'object' && typeof nameOrProbe.check === 'function') {
      checkProbeOptions(
        `health.add(probe "${String(nameOrProbe.name)}", options)`,
        checkOrOptions as ProbeOptions | undefined,
        PROBE_OPTION_KEYS,
      )
      probe = { ...nameOrProbe, ...(checkOrOptions as ProbeOptions | undefined) }
    } else {
      throw new TypeError('health.add(probe): expected a probe object { name, check } or add(name, check, options)')
    }
    validateName(probe.name)
    if (this.runners.has(probe.name) || probe.name === LIFECYCLE_CHECK) {
      throw new Error(
        `health.add: a check named "${probe.name}" exists already; give each probe a unique name${
          typeof nameOrProbe === 'string'
            ? ''
            : ' (a built-in probe takes one where it is made: postgres(pool, { name: "reporting-db" }))'
        }`,
      )
    }
    const groups = new Set<Group>(probe.groups ?? ['ready'])
    for (const group of groups) {
      if (!GROUPS.includes(group))
        throw new Error(`health.add("${probe.name}"): unknown group "${group}" (use live, ready or startup)`)
    }
    groups.add('startup')
    const runner = new ProbeRunner(probe, {
      timeoutMs: positive(probe.timeout, this.timeoutMs, `probekit: timeout of "${probe.name}"`, MS),
      cacheTtlMs: nonNegative(probe.cacheTtl, this.cacheTtlMs, `probekit: cacheTtl of "${probe.name}"`, MS),
      intervalMs: nonNegative(probe.interval, 0, `probekit: interval of "${probe.name}"`, MS),
      groups,
      signal: this.closing.signal,
      onResult: (result) => this.checkFinished(result),
    })
    this.runners.set(probe.name, runner)
    for (const group of groups) this.byGroup[group].push(runner)
    runner.start()
    const close = probe.close
    if (typeof close === 'function') this.onClose(async () => close.call(probe))
    return this
  }

  /** Names of the checks in a group (the built-in `lifecycle` first). */
  checkNames(group: Group): string[] {
    return [LIFECYCLE_CHECK, ...this.byGroup[group].map((r) => r.name)]
  }

  /** Whether a group has probes of its own besides the lifecycle state. */
  hasProbes(group: Group): boolean {
    return this.byGroup[group].length > 0
  }

  /**
   * The deadline (ms) of each probe a request for `group` runs and waits on; background
   * probes are left out, since a request only reads their latest result. With
   * `'background'`, those of the background probes instead, whose first run a fresh
   * process (`probekit probe`) waits for first. `probekit gen` sizes the orchestrator's
   * `timeoutSeconds` from the slowest of these.
   */
  deadlines(group: Group, which: 'on request' | 'background' = 'on request'): { name: string; timeoutMs: number }[] {
    const background = which === 'background'
    return this.byGroup[group]
      .filter((runner) => runner.background === background)
      .map((runner) => ({ name: runner.name, timeoutMs: runner.probe.timeout ?? this.timeoutMs }))
  }

  /**
   * Resolves once every background probe of `group` has a first result, so a fresh
   * process (`probekit probe`) does not report them as `not checked yet`.
   */
  async firstResults(group: Group): Promise<void> {
    await Promise.all(this.byGroup[group].filter((r) => r.background && !r.latest).map((r) => r.run()))
  }

  /** Runs a group and returns its report. */
  async run(group: Group, options: RunOptions = {}): Promise<Report> {
    if (!GROUPS.includes(group)) throw new Error(`health.run: unknown group "${group}" (use live, ready or startup)`)
    return this.evaluate(group, options)
  }

  /**
   * Like `run`, but synchronous when nothing needs I/O (cached, background or no probes),
   * which keeps the hot path of `/livez` free of promises.
   */
  evaluate(group: Group, options: RunOptions = {}): Report | Promise<Report> {
    const exclude = options.exclude
    const results: (CheckResult | Promise<CheckResult>)[] = []
    let pending = false
    let excluded: string[] | undefined
    if (options.only === undefined || options.only === LIFECYCLE_CHECK) {
      if (exclude?.includes(LIFECYCLE_CHECK)) (excluded ??= []).push(LIFECYCLE_CHECK)
      else results.push(this.lifecycleResult(group))
    }
    for (const runner of this.byGroup[group]) {
      if (options.only !== undefined && runner.name !== options.only) continue
      if (exclude?.includes(runner.name)) {
        ;(excluded ??= []).push(runner.name)
        continue
      }
      const result = runner.result()
      if (result instanceof Promise) pending = true
      results.push(result)
    }
    let unmatched: string[] | undefined
    if (exclude) {
      const known = this.checkNames(group)
      for (const name of exclude) if (!known.includes(name)) (unmatched ??= []).push(name)
    }
    const finish = (checks: CheckResult[]): Report => {
      let status: Status = 'pass'
      for (const check of checks) status = worse(status, check.status)
      const report: Report = { group, status, checks }
      if (excluded) report.excluded = excluded
      if (unmatched) report.unmatchedExcludes = unmatched
      if (options.only === undefined && !exclude) this.groupEvaluated(group, report)
      return report
    }
    if (!pending) return finish(results as CheckResult[])
    return Promise.all(results).then(finish)
  }

  /** The lifecycle verdict as a check result. */
  lifecycleResult(group: Group): CheckResult {
    const verdict = this.lifecycle.verdict(group)
    const result: CheckResult = {
      name: LIFECYCLE_CHECK,
      status: verdict.status,
      time: isoTime(Date.now()),
      durationMs: 0,
      critical: true,
      componentType: 'system',
    }
    if (verdict.reason) result.output = verdict.reason
    return result
  }

  /** Marks the app ready (clears `notReady`). Shutdown, once begun, cannot be undone. */
  ready(): void {
    this.lifecycle.ready()
  }

  /** Fails readiness with `reason` until `ready()` is called. Liveness is unaffected. */
  notReady(reason?: string): void {
    this.lifecycle.notReady(reason)
  }

  /** Declares the process broken: liveness (and readiness) fail, so the orchestrator restarts it. */
  broken(reason?: string): void {
    this.lifecycle.broken(reason)
  }

  /** Readiness fails with `shutting down` from now on; liveness keeps passing. */
  beginShutdown(): void {
    this.lifecycle.beginShutdown()
  }

  /** Keeps readiness at `starting` until `task` settles. Returns the task's promise. */
  startupTask<T>(name: string, task: Promise<T> | (() => Promise<T>)): Promise<T> {
    return this.lifecycle.startupTask(name, task)
  }

  /** The process's lifecycle phase. */
  get phase(): LifecyclePhase {
    return this.lifecycle.phase
  }

  /** Registers something to close with `close()` (listeners do this themselves). */
  onClose(closer: () => Promise<void>): () => void {
    this.closers.add(closer)
    return () => this.closers.delete(closer)
  }

  /** Stops background probes, aborts runs in flight and closes management listeners. */
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort(new Error('health instance closed'))
    for (const runner of this.runners.values()) runner.stop()
    // What the window held back is told now, not never.
    this.transitionLog.flush()
    const closers = [...this.closers]
    this.closers.clear()
    await Promise.all(closers.map((close) => close()))
  }

  private checkFinished(result: CheckResult): void {
    // A run that close() cut off says nothing about the dependency: no "pass -> fail" for it.
    if (this.closing.signal.aborted) return
    const previous = this.lastCheckStatus.get(result.name)
    if (previous === result.status) return
    this.lastCheckStatus.set(result.name, result.status)
    // The first result is news only when it is bad; a check passing from the start is the norm.
    if (previous === undefined && result.status === 'pass') return
    this.transition({ kind: 'check', name: result.name, previous, current: result.status, reason: result.output })
  }

  private groupEvaluated(group: Group, report: Report): void {
    if (this.closing.signal.aborted) return
    const previous = this.lastGroupStatus.get(group)
    if (previous === report.status) return
    this.lastGroupStatus.set(group, report.status)
    if (previous === undefined && report.status === 'pass') return
    // The checks that gave the group its status are its reason; a non-critical check that
    // warns beside a failing one is not a cause, and is named after them as a warning.
    const said = (c: Report['checks'][number]) => `${c.name}: ${c.output ?? c.status}`
    const causes = report.checks.filter((c) => c.status === report.status && c.status !== 'pass')
    const warnings = report.status === 'fail' ? report.checks.filter((c) => c.status === 'warn') : []
    const reason =
      [
        causes.map(said).join('; '),
        warnings.length > 0 ? `warning${warnings.length > 1 ? 's' : ''}: ${warnings.map(said).join('; ')}` : '',
      ]
        .filter(Boolean)
        .join('; also ') || undefined
    this.transition({ kind: 'group', name: group, previous, current: report.status, reason })
  }

  private lifecycleChanged(): void {
    const phase = this.lifecycle.phase
    const previous = this.lastPhase
    if (phase === previous) return
    this.lastPhase = phase
    const reason = this.lifecycle.verdict('ready').reason
    this.transition({ kind: 'lifecycle', name: LIFECYCLE_CHECK, previous, current: phase, reason })
  }

  private transition(event: ChangeEvent): void {
    const level =
      event.current === 'fail' || event.current === 'broken' ? 'error' : event.current === 'warn' ? 'warn' : 'info'
    const what =
      event.kind === 'group'
        ? `health group ${event.name}`
        : event.kind === 'check'
          ? `health check ${event.name}`
          : 'health lifecycle'
    const from = event.previous === undefined ? '' : `${event.previous} -> `
    const reason = event.reason ? `: ${event.reason}` : ''
    // Bounded per check (group, lifecycle): a dependency that flaps on every run, under a
    // flood of /readyz requests, writes five lines per 10 s and a count, not one per run.
    this.transitionLog.write(
      level,
      { cause: 'transition', subject: what, now: event.current },
      `${what} ${from}${event.current}${reason}`,
      {
        health: {
          kind: event.kind,
          name: event.name,
          previous: event.previous,
          current: event.current,
          reason: event.reason,
        },
      },
    )
    // A listener is the app's observer (metrics, alerts), called from inside a probe's run or
    // a request's evaluation: its exception must not become that request's 503, nor crash the
    // process from a request handler. It is logged, bounded like the transitions, instead.
    try {
      this.emit('change', event)
    } catch (error) {
      this.transitionLog.write(
        'error',
        { cause: 'listener', subject: what },
        `health: a 'change' listener threw on "${what} ${from}${event.current}": ${reasonOf(error)}`,
      )
    }
  }
}

function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('health.add: a probe needs a non-empty name')
  if (/[/?#\s]/.test(name)) {
    throw new TypeError(`health.add: probe name "${name}" may not contain "/", "?", "#" or spaces (it is used in URLs)`)
  }
}

const PROBE_OPTION_KEYS = optionKeys<ProbeOptions>()(PROBE_OPTIONS)

/** Misspelt keys and values outside the allowed ones fail here, not silently later. */
function checkCoreOptions(options: HealthCoreOptions, knownKeys: readonly string[]): void {
  rejectUnknownKeys('createHealth', options, knownKeys)
  rejectUnknownKeys('createHealth: service', options.service, SERVICE_INFO_KEYS)
  oneOf('createHealth: initiallyReady', options.initiallyReady, [true, false])
  oneOf('createHealth: logger', options.logger, [false], {
    test: (value) => typeof value === 'object' && value !== null,
    words: 'a logger (console, pino, …)',
  })
}
