/**
 * Graceful shutdown: take the pod out of the load balancer, finish what is in flight, clean
 * up, and exit with a status that says whether anything had to be forced.
 *
 * @example
 * import http from 'node:http'
 * import { createHealth, gracefulShutdown } from 'probekit'
 *
 * const health = createHealth()
 * const server = http.createServer(health.handler(app)).listen(3000)
 * const shutdown = gracefulShutdown(health, { servers: [server] })
 * shutdown.onShutdown('postgres pool', () => pool.end())   // runs last: registered first
 * shutdown.onShutdown('queue consumer', () => consumer.close())
 * // in a job handler:
 * const done = shutdown.begin('report 42')
 * try { await buildReport() } finally { done() }
 */
import { MAX_TIMER_MS } from '../core/clock.js'
import { withDeadline } from '../core/deadline.js'
import { DeadlineExceeded, reasonOf } from '../core/errors.js'
import type { HealthCore } from '../core/health.js'
import { type Logger, type LogLevel, writeLog } from '../core/logger.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { signalList } from '../core/signals.js'
import { sleep } from '../core/sleep.js'
import type { Health } from '../health.js'
import { ServerDrain, type ShutdownServer } from './server-drain.js'

export type { ShutdownServer }

export interface ShutdownOptions {
  /** The servers to drain. More can be added with `addServer`. */
  servers?: readonly ShutdownServer[]
  /** Signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`; `[]` to only call `shutdown()`. */
  signals?: readonly NodeJS.Signals[]
  /**
   * How long to keep serving, with readiness failing, before closing the servers, in ms: the
   * time endpoint controllers and load balancers need to stop routing here. Default 5000
   * when running in Kubernetes (`KUBERNETES_SERVICE_HOST` is set), 0 elsewhere.
   */
  delayMs?: number
  /** How long requests in flight may take to finish once the servers close, in ms. Default 10000. */
  drainTimeoutMs?: number
  /** How long to wait for tracked background work, in ms. Default 10000. */
  workTimeoutMs?: number
  /** The deadline of each cleanup hook that sets none of its own, in ms. Default 5000. */
  hookTimeoutMs?: number
  /** Call `process.exit()` at the end (default). `false` for tests and embedding: `shutdown()` resolves instead. */
  exit?: boolean
  /** Where the steps are logged. Default: the health instance's logger. */
  logger?: Logger | false
}

export interface ShutdownHookOptions {
  /** This hook's deadline, in ms. Default: the helper's `hookTimeoutMs`. */
  timeoutMs?: number
}

const SHUTDOWN_OPTION_KEYS = optionKeys<ShutdownOptions>()({
  servers: true,
  signals: true,
  delayMs: true,
  drainTimeoutMs: true,
  workTimeoutMs: true,
  hookTimeoutMs: true,
  exit: true,
  logger: true,
})

const HOOK_OPTION_KEYS = optionKeys<ShutdownHookOptions>()({ timeoutMs: true })

/** A cleanup hook. Its signal fires at the hook's deadline; a hook that ignores it is left behind. */
export type ShutdownHook = (ctx: { signal: AbortSignal }) => unknown

/** How a shutdown ended. */
export interface ShutdownResult {
  /** 0 when everything finished in time, 1 when anything was forced or failed. */
  exitCode: 0 | 1
  /** One sentence per step that was forced or failed. */
  forced: string[]
  /** What started it: a signal name or the reason given to `shutdown()`. */
  trigger: string
  durationMs: number
}

/** The helper `gracefulShutdown()` returns. */
export interface GracefulShutdown {
  /** Fires when the shutdown begins: stop taking new work (e.g. pause queue consumers). */
  readonly signal: AbortSignal
  /** Whether the shutdown has begun. */
  readonly shuttingDown: boolean
  /** Drains this server too. */
  addServer(server: ShutdownServer): this
  /** Registers a cleanup hook. Hooks run in reverse order of registration, each under its own deadline. */
  onShutdown(name: string, hook: ShutdownHook, options?: ShutdownHookOptions): this
  /** Keeps the shutdown waiting (up to `workTimeoutMs`) until `work` settles. Returns `work`. */
  track<T>(work: Promise<T>, name?: string): Promise<T>
  /** Marks work in progress until the returned function is called (like lightship's beacons). */
  begin(name: string): () => void
  /**
   * Runs the sequence now (what a signal does). Calling it again returns the same promise:
   * the sequence runs once.
   */
  shutdown(reason?: string): Promise<ShutdownResult>
  /** Removes the signal handlers and server listeners without shutting down. */
  dispose(): void
}

const KUBERNETES_DELAY_MS = 5000

/** Health instances with a helper: two helpers would each run the sequence on one signal. */
const helpers = new WeakSet<Health>()

/** What ends with the servers, per health instance: see `closeWithServers`. */
const serverClosers = new WeakMap<HealthCore, Set<() => void>>()

/**
 * Runs `close` when the shutdown helper of `health` closes its servers (step 3), before the
 * tracked work and the cleanup hooks. For what probekit serves from the health instance on a
 * server the app closes itself: the gRPC health service's Watch streams never end on their
 * own, so a grpc-js `tryShutdown()` in a cleanup hook would wait for them until its
 * deadline. `close` must not throw. Returns the function that unregisters it.
 */
export function closeWithServers(health: HealthCore, close: () => void): () => void {
  const closers = serverClosers.get(health) ?? new Set()
  serverClosers.set(health, closers)
  closers.add(close)
  return () => closers.delete(close)
}

/**
 * Owns the whole shutdown of a process that serves HTTP, on SIGTERM and SIGINT:
 *
 * 1. readiness fails at once with `shutting down` (liveness keeps passing), and every
 *    response from then on carries `Connection: close`, so keep-alive clients reconnect
 *    elsewhere;
 * 2. keeps serving for `delayMs`, while load balancers stop routing here;
 * 3. stops accepting connections, closes idle keep-alive sockets, waits up to
 *    `drainTimeoutMs` for requests in flight, then destroys what is left; the gRPC health
 *    service ends its Watch streams here too (`closeWithServers`);
 * 4. waits up to `workTimeoutMs` for tracked background work;
 * 5. runs the cleanup hooks in reverse order of registration, each under its own deadline,
 *    then closes the health instance (background probes, management listener);
 * 6. exits 0 when everything finished in time, 1 when anything was forced (and logs what).
 */
export function gracefulShutdown(health: Health, options: ShutdownOptions = {}): GracefulShutdown {
  rejectUnknownKeys('gracefulShutdown', options, SHUTDOWN_OPTION_KEYS)
  if (helpers.has(health)) {
    throw new Error(
      'gracefulShutdown: this health instance has a shutdown helper already; add servers to it with shutdown.addServer(server)',
    )
  }
  const shutdown = new Shutdown(health, options)
  helpers.add(health)
  return shutdown
}

interface Hook {
  name: string
  run: ShutdownHook
  timeoutMs: number
}

class Shutdown implements GracefulShutdown {
  private readonly controller = new AbortController()
  private readonly delayMs: number
  private readonly drainTimeoutMs: number
  private readonly workTimeoutMs: number
  private readonly hookTimeoutMs: number
  private readonly exit: boolean
  private readonly logger: Logger | false
  private readonly signals: readonly NodeJS.Signals[]
  private readonly drains = new Map<ShutdownServer, ServerDrain>()
  private readonly hooks: Hook[] = []
  private readonly work = new Map<number, string>()
  private nextWorkId = 0
  private workSettled: (() => void) | undefined
  private running: Promise<ShutdownResult> | undefined

  constructor(
    private readonly health: Health,
    options: ShutdownOptions,
  ) {
    this.delayMs = duration(options.delayMs, process.env.KUBERNETES_SERVICE_HOST ? KUBERNETES_DELAY_MS : 0, 'delayMs')
    this.drainTimeoutMs = duration(options.drainTimeoutMs, 10_000, 'drainTimeoutMs')
    this.workTimeoutMs = duration(options.workTimeoutMs, 10_000, 'workTimeoutMs')
    this.hookTimeoutMs = duration(options.hookTimeoutMs, 5000, 'hookTimeoutMs')
    this.exit = options.exit !== false
    this.logger = options.logger === undefined ? health.logger : options.logger
    this.signals = signalList('gracefulShutdown', options.signals, ['SIGTERM', 'SIGINT'])
    for (const server of options.servers ?? []) this.addServer(server)
    for (const signal of this.signals) process.on(signal, this.onSignal)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  get shuttingDown(): boolean {
    return this.running !== undefined
  }

  addServer(server: ShutdownServer): this {
    if (!server || typeof server.close !== 'function' || typeof server.prependListener !== 'function') {
      throw new TypeError(
        'gracefulShutdown: a server must be a node HTTP server (what http.createServer() or app.listen() returns; for Fastify, app.server)',
      )
    }
    if (!this.drains.has(server)) this.drains.set(server, new ServerDrain(server, this.shuttingDown))
    return this
  }

  onShutdown(name: string, hook: ShutdownHook, options: ShutdownHookOptions = {}): this {
    if (typeof hook !== 'function') throw new TypeError(`shutdown.onShutdown("${name}", hook): hook must be a function`)
    rejectUnknownKeys(`shutdown.onShutdown("${name}", hook, options)`, options, HOOK_OPTION_KEYS)
    this.hooks.push({
      name,
      run: hook,
      timeoutMs: duration(options.timeoutMs, this.hookTimeoutMs, `timeoutMs of "${name}"`),
    })
    return this
  }

  track<T>(work: Promise<T>, name = 'background work'): Promise<T> {
    const done = this.begin(name)
    work.then(done, done)
    return work
  }

  begin(name: string): () => void {
    const id = this.nextWorkId++
    this.work.set(id, name)
    return () => {
      if (!this.work.delete(id)) return
      if (this.work.size === 0) this.workSettled?.()
    }
  }

  shutdown(reason = 'shutdown() called'): Promise<ShutdownResult> {
    return this.start(reason, reason)
  }

  dispose(): void {
    for (const signal of this.signals) process.off(signal, this.onSignal)
    for (const drain of this.drains.values()) drain.detach()
    helpers.delete(this.health)
  }

  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.running) {
      this.log(
        'warn',
        `shutdown: ${signal} received again; the shutdown is already under way (SIGKILL stops at once)`,
        {
          step: 'repeat',
          trigger: signal,
        },
      )
      return
    }
    void this.start(signal, `${signal} received`)
  }

  private start(trigger: string, message: string): Promise<ShutdownResult> {
    this.running ??= this.run(trigger, message)
    return this.running
  }

  private async run(trigger: string, message: string): Promise<ShutdownResult> {
    const started = performance.now()
    const forced: string[] = []
    this.health.beginShutdown()
    for (const drain of this.drains.values()) drain.closeConnectionsAfterResponses()
    this.controller.abort(new Error('shutting down'))
    this.log(
      'info',
      `shutdown: ${message}; readiness fails with "shutting down" from now on; closing servers in ${this.delayMs} ms`,
      { step: 'begin', trigger, delayMs: this.delayMs },
    )

    if (this.delayMs > 0) await sleep(this.delayMs)

    // 3. Drain the servers together: each stops listening now and waits for its own requests.
    // What ends with them ends first, so no cleanup hook waits for it.
    for (const close of serverClosers.get(this.health) ?? []) close()
    const inFlight = [...this.drains.values()].reduce((n, d) => n + d.inFlight, 0)
    const draining = [...this.drains.values()].map((d) => d.drain(this.drainTimeoutMs))
    this.log(
      'info',
      `shutdown: stopped accepting connections; waiting for ${inFlight} request(s) in flight (up to ${this.drainTimeoutMs} ms)`,
      { step: 'drain', inFlight, timeoutMs: this.drainTimeoutMs },
    )
    const drained = await Promise.all(draining)
    for (const note of drained) if (note) forced.push(note)
    for (const note of drained)
      if (note) this.log('error', `shutdown: forced: ${note}`, { step: 'drain', forced: note })
    this.log('info', 'shutdown: servers closed', { step: 'drained' })

    // 4. Background work the app tracked.
    if (this.work.size > 0) {
      const names = [...new Set(this.work.values())]
      this.log('info', `shutdown: waiting for tracked work: ${names.join(', ')} (up to ${this.workTimeoutMs} ms)`, {
        step: 'work',
        pending: names,
        timeoutMs: this.workTimeoutMs,
      })
      try {
        await withDeadline(() => new Promise<void>((resolve) => (this.workSettled = resolve)), {
          timeoutMs: this.workTimeoutMs,
        })
        this.log('info', 'shutdown: tracked work finished', { step: 'work-done' })
      } catch {
        const note = `tracked work still running after ${this.workTimeoutMs} ms: ${[...new Set(this.work.values())].join(', ')}`
        forced.push(note)
        this.log('error', `shutdown: forced: ${note}`, { step: 'work', forced: note })
      } finally {
        this.workSettled = undefined
      }
    }

    // 5. Cleanup hooks, last registered first: what was opened last depends on what came before.
    for (let i = this.hooks.length - 1; i >= 0; i--) {
      const note = await this.runHook(this.hooks[i] as Hook)
      if (note) forced.push(note)
    }
    const closeNote = await this.runHook({
      name: 'health',
      run: () => this.health.close(),
      timeoutMs: this.hookTimeoutMs,
    })
    if (closeNote) forced.push(closeNote)

    const exitCode = forced.length === 0 ? 0 : 1
    const durationMs = Math.round(performance.now() - started)
    const summary =
      exitCode === 0
        ? `shutdown: complete in ${durationMs} ms; exiting with 0`
        : `shutdown: complete in ${durationMs} ms, forced ${forced.length} step(s) (${forced.join('; ')}); exiting with 1`
    this.log(exitCode === 0 ? 'info' : 'error', summary, { step: 'done', exitCode, forced, durationMs })
    const result: ShutdownResult = { exitCode, forced, trigger, durationMs }
    if (this.exit) process.exit(exitCode)
    this.dispose()
    return result
  }

  /** Runs one hook under its deadline; returns what went wrong, if anything. */
  private async runHook(hook: Hook): Promise<string | undefined> {
    const started = performance.now()
    try {
      await withDeadline((signal) => hook.run({ signal }), { timeoutMs: hook.timeoutMs })
      const durationMs = Math.round(performance.now() - started)
      this.log('info', `shutdown: cleanup hook "${hook.name}" done in ${durationMs} ms`, {
        step: 'hook',
        name: hook.name,
        durationMs,
      })
      return undefined
    } catch (error) {
      const note =
        error instanceof DeadlineExceeded
          ? `cleanup hook "${hook.name}" cut off: ${reasonOf(error)}`
          : `cleanup hook "${hook.name}" failed: ${reasonOf(error)}`
      const prefix = error instanceof DeadlineExceeded ? 'forced: ' : ''
      this.log('error', `shutdown: ${prefix}${note}`, { step: 'hook', name: hook.name, forced: note })
      return note
    }
  }

  private log(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    writeLog(this.logger, level, message, { shutdown: fields })
  }
}

function duration(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  // Past what one timer holds, Node fires a timer after 1 ms: a longer delay would be none.
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(
      `gracefulShutdown: ${what} must be zero or a positive number of milliseconds, at most ${MAX_TIMER_MS} (24.8 days), got ${String(value)}`,
    )
  }
  return value
}
