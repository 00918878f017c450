import { EventEmitter } from 'node:events'
import type { ServiceInfo } from '../format/health-json.js'
import { createHandler, type Fallback, type HealthHandler } from '../http/handler.js'
import { type Listening, type ListenOptions, listen } from '../http/listen.js'
import { Lifecycle, type LifecyclePhase } from './lifecycle.js'
import { type Logger, writeLog } from './logger.js'
import { oneOf, rejectUnknownKeys } from './options.js'
import { ProbeRunner } from './probe-runner.js'
import { worstStatus } from './status.js'
import {
  type CheckFn,
  type CheckResult,
  GROUPS,
  type Group,
  type Probe,
  type ProbeOptions,
  type Report,
  type Status,
} from './types.js'

/** The framework-neutral view of a request that probekit needs. */
export interface HealthRequest {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  remoteAddress?: string | undefined
}

/** Who may read failure reasons: nobody, loopback peers (default), everyone, or a predicate. */
export type DetailsPolicy = 'never' | 'local' | 'always' | ((request: HealthRequest) => boolean)

export interface HealthOptions {
  /** Default deadline of every probe, in ms. Default 900, inside Kubernetes' default 1 s probe timeout. */
  timeout?: number
  /** Default time-to-live of a probe's result, in ms. Default 0 (single-flight only). */
  cacheTtl?: number
  /** Who sees reasons in responses. Default `'local'`. Logs always get them (redacted). */
  details?: DetailsPolicy
  /**
   * Paths of the three groups; `false` disables one. An array gives several paths.
   * Defaults: `/livez`, `/readyz`, `/healthz`.
   */
  paths?: Partial<Record<Group, string | readonly string[] | false>>
  /** Extra paths mapped to groups, e.g. `{ '/_healthz/livez/': 'live', '/_status': 'ready' }`. */
  extraPaths?: Record<string, Group>
  /** Serve every check as Prometheus metrics at this path (e.g. `/metrics`). Off by default. */
  metricsPath?: string
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

const DEFAULT_PATHS: Record<Group, string> = { live: '/livez', ready: '/readyz', startup: '/healthz' }

/**
 * A health instance: the probes of one process, their groups, the process's lifecycle
 * state, and the HTTP surface over them (see `handler()` and `listen()`).
 */
export class Health extends EventEmitter<{ change: [ChangeEvent] }> {
  readonly timeoutMs: number
  readonly cacheTtlMs: number
  readonly details: DetailsPolicy
  readonly logger: Logger | false
  readonly service: ServiceInfo
  /** Path → group, for exact matches (the hot path: one Map lookup). */
  readonly paths: ReadonlyMap<string, Group>
  readonly metricsPath: string | undefined
  readonly lifecycle: Lifecycle
  private readonly runners = new Map<string, ProbeRunner>()
  private readonly byGroup: Record<Group, ProbeRunner[]> = { live: [], ready: [], startup: [] }
  private readonly lastCheckStatus = new Map<string, Status>()
  private readonly lastGroupStatus = new Map<Group, Status>()
  private lastPhase: LifecyclePhase
  private readonly closing = new AbortController()
  private readonly closers = new Set<() => Promise<void>>()

  constructor(options: HealthOptions = {}) {
    super()
    checkHealthOptions(options)
    this.timeoutMs = positive(options.timeout, 900, 'timeout')
    this.cacheTtlMs = nonNegative(options.cacheTtl, 0, 'cacheTtl')
    this.details = options.details ?? 'local'
    this.logger = options.logger === undefined ? console : options.logger
    this.service = options.service ?? {}
    this.metricsPath = options.metricsPath
    this.paths = buildPaths(options.paths, options.extraPaths)
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
        throw new TypeError(`health.add("${nameOrProbe}", check): check must be a function`)
      }
      checkProbeOptions(`health.add("${nameOrProbe}", check, options)`, maybeOptions)
      probe = { ...maybeOptions, name: nameOrProbe, check: checkOrOptions }
    } else if (nameOrProbe && typeof nameOrProbe === 'object' && typeof nameOrProbe.check === 'function') {
      checkProbeOptions(
        `health.add(probe "${String(nameOrProbe.name)}", options)`,
        checkOrOptions as ProbeOptions | undefined,
      )
      probe = { ...nameOrProbe, ...(checkOrOptions as ProbeOptions | undefined) }
    } else {
      throw new TypeError('health.add(probe): expected a probe object { name, check } or add(name, check, options)')
    }
    validateName(probe.name)
    if (this.runners.has(probe.name) || probe.name === LIFECYCLE_CHECK) {
      throw new Error(`health.add: a check named "${probe.name}" exists already; give each probe a unique name`)
    }
    const groups = new Set<Group>(probe.groups ?? ['ready'])
    for (const group of groups) {
      if (!GROUPS.includes(group))
        throw new Error(`health.add("${probe.name}"): unknown group "${group}" (use live, ready or startup)`)
    }
    groups.add('startup')
    const runner = new ProbeRunner(probe, {
      timeoutMs: positive(probe.timeout, this.timeoutMs, `timeout of "${probe.name}"`),
      cacheTtlMs: nonNegative(probe.cacheTtl, this.cacheTtlMs, `cacheTtl of "${probe.name}"`),
      intervalMs: nonNegative(probe.interval, 0, `interval of "${probe.name}"`),
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
   * probes are left out, since a request only reads their latest result. `probekit gen`
   * sizes the orchestrator's `timeoutSeconds` from the slowest of these.
   */
  deadlines(group: Group): { name: string; timeoutMs: number }[] {
    return this.byGroup[group]
      .filter((runner) => !runner.background)
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
      const report: Report = { group, status: worstStatus(checks.map((c) => c.status)), checks }
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
      time: new Date().toISOString(),
      durationMs: 0,
      critical: true,
      componentType: 'system',
    }
    if (verdict.reason) result.output = verdict.reason
    return result
  }

  /**
   * The node:http handler: answers health paths and passes anything else to `fallback`
   * (or `next` as middleware). Mount it before everything else:
   * `http.createServer(health.handler(app))`.
   */
  handler(fallback?: Fallback): HealthHandler {
    return createHandler(this, fallback)
  }

  /** Starts a separate management listener (recommended). Default port 9000. */
  listen(options?: ListenOptions): Promise<Listening> {
    return listen(this, options)
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

  /** Whether a caller may read failure reasons. */
  mayShowDetails(request: HealthRequest): boolean {
    const policy = this.details
    if (policy === 'local') return isLoopback(request.remoteAddress)
    if (policy === 'always') return true
    if (policy === 'never') return false
    try {
      return policy(request) === true
    } catch {
      return false
    }
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
    const closers = [...this.closers]
    this.closers.clear()
    await Promise.all(closers.map((close) => close()))
  }

  private checkFinished(result: CheckResult): void {
    const previous = this.lastCheckStatus.get(result.name)
    if (previous === result.status) return
    this.lastCheckStatus.set(result.name, result.status)
    // The first result is news only when it is bad; a check passing from the start is the norm.
    if (previous === undefined && result.status === 'pass') return
    this.transition({ kind: 'check', name: result.name, previous, current: result.status, reason: result.output })
  }

  private groupEvaluated(group: Group, report: Report): void {
    const previous = this.lastGroupStatus.get(group)
    if (previous === report.status) return
    this.lastGroupStatus.set(group, report.status)
    if (previous === undefined && report.status === 'pass') return
    const failing = report.checks.filter((c) => c.status !== 'pass')
    const reason = failing.map((c) => `${c.name}: ${c.output ?? c.status}`).join('; ') || undefined
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
    writeLog(this.logger, level, `${what} ${from}${event.current}${reason}`, {
      health: {
        kind: event.kind,
        name: event.name,
        previous: event.previous,
        current: event.current,
        reason: event.reason,
      },
    })
    this.emit('change', event)
  }
}

/** Creates a health instance. See `HealthOptions` for the defaults. */
export function createHealth(options?: HealthOptions): Health {
  return new Health(options)
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}

function buildPaths(paths: HealthOptions['paths'], extra: HealthOptions['extraPaths']): Map<string, Group> {
  const map = new Map<string, Group>()
  for (const group of GROUPS) {
    const configured = paths?.[group]
    if (configured === false) continue
    const list =
      configured === undefined ? [DEFAULT_PATHS[group]] : typeof configured === 'string' ? [configured] : configured
    for (const path of list) addPath(map, path, group)
  }
  if (extra) for (const [path, group] of Object.entries(extra)) addPath(map, path, group)
  return map
}

function addPath(map: Map<string, Group>, path: string, group: Group): void {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new Error(`createHealth: path "${String(path)}" must start with "/"`)
  }
  if (!GROUPS.includes(group))
    throw new Error(`createHealth: path "${path}" maps to unknown group "${group}" (use live, ready or startup)`)
  map.set(path, group)
}

function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('health.add: a probe needs a non-empty name')
  if (/[/?#\s]/.test(name)) {
    throw new TypeError(`health.add: probe name "${name}" may not contain "/", "?", "#" or spaces (it is used in URLs)`)
  }
}

const HEALTH_OPTION_KEYS = [
  'timeout',
  'cacheTtl',
  'details',
  'paths',
  'extraPaths',
  'metricsPath',
  'logger',
  'service',
  'initiallyReady',
] as const satisfies readonly (keyof HealthOptions)[]

const PROBE_OPTION_KEYS = [
  'groups',
  'critical',
  'timeout',
  'cacheTtl',
  'interval',
  'componentType',
] as const satisfies readonly (keyof ProbeOptions)[]

/** Misspelt keys and values outside the allowed ones fail here, not silently later. */
function checkHealthOptions(options: HealthOptions): void {
  rejectUnknownKeys('createHealth', options, HEALTH_OPTION_KEYS)
  oneOf('createHealth: details', options.details, ['never', 'local', 'always'], {
    test: (value) => typeof value === 'function',
    words: 'a function (request) => boolean',
  })
  oneOf('createHealth: initiallyReady', options.initiallyReady, [true, false])
  oneOf('createHealth: logger', options.logger, [false], {
    test: (value) => typeof value === 'object' && value !== null,
    words: 'a logger (console, pino, …)',
  })
  if (
    options.metricsPath !== undefined &&
    (typeof options.metricsPath !== 'string' || !options.metricsPath.startsWith('/'))
  )
    throw new TypeError(
      `createHealth: metricsPath must be a path starting with "/", got ${String(options.metricsPath)}`,
    )
}

function checkProbeOptions(where: string, options: ProbeOptions | undefined): void {
  rejectUnknownKeys(where, options, PROBE_OPTION_KEYS)
  oneOf(`${where}: critical`, options?.critical, [true, false])
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`probekit: ${what} must be a positive number of milliseconds, got ${String(value)}`)
  }
  return value
}

function nonNegative(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`probekit: ${what} must be zero or a positive number of milliseconds, got ${String(value)}`)
  }
  return value
}
