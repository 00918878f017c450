import { runProbe } from './run-probe.js'
import type { CheckResult, Group, Probe } from './types.js'

export interface ProbeRunnerOptions {
  timeoutMs: number
  cacheTtlMs: number
  intervalMs: number
  groups: ReadonlySet<Group>
  /** Called after every run with the new result. */
  onResult: (result: CheckResult) => void
  /** Aborts any run in flight when the health instance closes. */
  signal: AbortSignal
}

/**
 * One registered probe and the load rules around it: single-flight (concurrent callers
 * share one run), an optional time-to-live for the last result, or a background interval
 * in which callers only ever read the latest result.
 */
export class ProbeRunner {
  readonly name: string
  readonly groups: ReadonlySet<Group>
  readonly critical: boolean
  readonly background: boolean
  private last: CheckResult | undefined
  private lastAt = 0
  private inFlight: Promise<CheckResult> | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    readonly probe: Probe,
    private readonly options: ProbeRunnerOptions,
  ) {
    this.name = probe.name
    this.groups = options.groups
    this.critical = probe.critical !== false
    this.background = options.intervalMs > 0
  }

  /** The latest result, if any run has finished. */
  get latest(): CheckResult | undefined {
    return this.last
  }

  /**
   * The result a request should see: in background mode the latest result (no I/O);
   * otherwise a cached result within its TTL, the run already in flight, or a new run.
   */
  result(): CheckResult | Promise<CheckResult> {
    if (this.background) return this.last ?? this.notRunYet()
    if (this.last && this.options.cacheTtlMs > 0 && performance.now() - this.lastAt < this.options.cacheTtlMs) {
      return this.last
    }
    return this.run()
  }

  /** Starts the background loop (first run at once). Timers never keep the process alive. */
  start(): void {
    if (!this.background || this.timer) return
    const tick = () => {
      void this.run().finally(() => {
        if (this.options.signal.aborted) return
        this.timer = setTimeout(tick, this.options.intervalMs)
        this.timer.unref()
      })
    }
    tick()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Runs now, joining a run already in flight. */
  run(): Promise<CheckResult> {
    if (this.inFlight) return this.inFlight
    const run = runProbe(this.probe, { timeoutMs: this.options.timeoutMs, signal: this.options.signal }).then(
      (result) => {
        this.last = result
        this.lastAt = performance.now()
        this.inFlight = undefined
        this.options.onResult(result)
        return result
      },
      (error: unknown) => {
        // runProbe turns every outcome into a result; should that ever break, this run fails
        // alone: a rejection kept as `inFlight` would be every later caller's answer, for good.
        this.inFlight = undefined
        throw error
      },
    )
    this.inFlight = run
    return run
  }

  private notRunYet(): CheckResult {
    const result: CheckResult = {
      name: this.name,
      status: this.critical ? 'fail' : 'warn',
      output: 'not checked yet',
      time: new Date().toISOString(),
      durationMs: 0,
      critical: this.critical,
      ...(this.probe.componentType ? { componentType: this.probe.componentType } : {}),
    }
    notRunYetResults.add(result)
    return result
  }
}

/** The stand-ins that `result()` gives for background probes that have not run yet. */
const notRunYetResults = new WeakSet<CheckResult>()

/**
 * Whether `result` stands in for a background probe that had not run yet. Its first real
 * result is no transition when it passes (health reports a first pass as the norm), so
 * whoever keeps statuses from reports (the gRPC Watch streams) learns of it this way.
 */
export function isNotRunYet(result: CheckResult): boolean {
  return notRunYetResults.has(result)
}
