/**
 * Bounded logging: at most `burst` lines (default one) per cause and subject (usually a
 * check) per window, default 10 s. What is held back is counted and reported once the
 * window ends, on a line of its own, so a flood of 80,000 state changes writes two lines,
 * not 80,000, and nothing goes unmentioned.
 *
 * Every log line of the monitor, its API and its notifiers goes through `limitedLog`,
 * which keeps one limiter per logger: the bound holds whichever part of the monitor logs.
 * A health instance's transitions go through one of their own (`burst` 5: a check that
 * fails and recovers is told both ways at once; one flapping on every run is not).
 */
import { lineSafe } from './inert.js'
import { type Logger, type LogLevel, writeLog } from './logger.js'

export interface LogLimiterOptions {
  /** The window, ms. Default 10 000. */
  windowMs?: number
  /** Causes × subjects remembered at most; beyond that the oldest is forgotten (after reporting what it held back). Default 10 000. */
  maxKeys?: number
  /** Lines written per cause and subject in a window before the rest are held back. Default 1. */
  burst?: number
  now?: () => number
}

/** One kind of line: `cause` names what happened (e.g. `transition`), `subject` what it happened to (e.g. a check id). */
export interface LogCause {
  cause: string
  subject?: string
  /**
   * What the subject is after this line (e.g. a check's state): the summary line names the
   * latest, so a recovery held back in the window is still told (`… now passing`).
   */
  now?: string
}

interface Window {
  startedAt: number
  /** Lines written in this window. */
  written: number
  level: LogLevel | 'debug'
  suppressed: number
  /** What the held-back lines were about, for the summary line. */
  label: string
  /** The subject's `now` as of the latest line, held back or not. */
  now: string | undefined
}

export class LogLimiter {
  private readonly windowMs: number
  private readonly maxKeys: number
  private readonly burst: number
  private readonly now: () => number
  private readonly windows = new Map<string, Window>()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly logger: Logger | false,
    options: LogLimiterOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 10_000
    this.maxKeys = Math.max(1, options.maxKeys ?? 10_000)
    this.burst = Math.max(1, options.burst ?? 1)
    this.now = options.now ?? Date.now
  }

  /** Writes the line unless its cause and subject already had one in this window; then counts it. */
  write(level: LogLevel | 'debug', cause: LogCause, message: string, fields: object = {}): void {
    if (!this.logger) return
    if (level === 'debug' && typeof (this.logger as { debug?: unknown }).debug !== 'function') return
    const key = cause.subject === undefined ? cause.cause : `${cause.cause}\u0000${cause.subject}`
    const now = this.now()
    const window = this.windows.get(key)
    if (window && now - window.startedAt < this.windowMs) {
      if (window.written < this.burst && window.suppressed === 0) {
        window.written++
        if (cause.now !== undefined) window.now = cause.now
        this.emit(level, message, fields)
        return
      }
      window.suppressed++
      if (cause.now !== undefined) window.now = cause.now
      // The summary keeps the most severe level held back.
      if (RANK[level] > RANK[window.level]) window.level = level
      return
    }
    if (window) {
      this.windows.delete(key)
      this.summarize(window)
    }
    if (this.windows.size >= this.maxKeys) {
      const [oldestKey, oldest] = this.windows.entries().next().value as [string, Window]
      this.windows.delete(oldestKey)
      this.summarize(oldest)
    }
    this.windows.set(key, {
      startedAt: now,
      written: 1,
      level,
      suppressed: 0,
      label: cause.subject === undefined ? cause.cause : `${cause.subject}: ${cause.cause}`,
      now: cause.now,
    })
    this.emit(level, message, fields)
    this.arm()
  }

  /** Reports what every window held back and forgets them (on stop). */
  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const windows = [...this.windows.values()]
    this.windows.clear()
    for (const window of windows) this.summarize(window)
  }

  /** Causes × subjects remembered now (bounded by `maxKeys`). */
  get size(): number {
    return this.windows.size
  }

  private summarize(window: Window): void {
    if (window.suppressed === 0) return
    const seconds = Math.round(this.windowMs / 1000)
    const now = window.now === undefined ? '' : `; now ${window.now}`
    this.emit(
      window.level,
      `${window.label}: … (and ${window.suppressed.toLocaleString('en-US')} more like this in the last ${seconds} s${now})`,
      window.now === undefined ? { suppressed: window.suppressed } : { suppressed: window.suppressed, now: window.now },
    )
  }

  /** One timer for all windows: ends the expired ones, reporting what they held back. */
  private arm(): void {
    if (this.timer || this.windows.size === 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const now = this.now()
      for (const [key, window] of this.windows) {
        if (now - window.startedAt < this.windowMs) continue
        this.windows.delete(key)
        this.summarize(window)
      }
      this.arm()
    }, this.windowMs)
    this.timer.unref()
  }

  private emit(level: LogLevel | 'debug', message: string, fields: object): void {
    if (level === 'debug') {
      const logger = this.logger as Logger & { debug?: (...args: unknown[]) => void }
      // Inert like every other line (writeLog does the same for the other levels).
      const line = lineSafe(message)
      if (typeof (logger as { child?: unknown }).child === 'function') logger.debug?.(fields, line)
      else logger.debug?.(line)
      return
    }
    writeLog(this.logger, level, message, fields)
  }
}

const RANK = { debug: 0, info: 1, warn: 2, error: 3 } as const

const limiters = new WeakMap<object, LogLimiter>()

/**
 * The limiter of a logger: one per logger object, shared by everything that logs to it
 * (the monitor, its API, webhooks), so the bound holds for the process's output as a whole.
 */
export function limitedLog(logger: Logger | false): LogLimiter {
  if (!logger) return SILENT
  let limiter = limiters.get(logger)
  if (!limiter) {
    limiter = new LogLimiter(logger)
    limiters.set(logger, limiter)
  }
  return limiter
}

const SILENT = new LogLimiter(false)
