import { MAX_TIMER_MS } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import { nonEmptyString, optionKeys, rejectUnknownKeys } from '../core/options.js'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_LIVENESS_FILE } from './defaults.js'
import { fileToucher } from './touch.js'

export interface HeartbeatOptions {
  /** The liveness file. Default `/tmp/probekit-worker.live`. */
  file?: string
  /**
   * How often to touch it, in ms. Default 60 000 (Celery's event-loop probe interval); the
   * health check's `--max-age` must be longer (the CLI default of 70 s leaves 10 s of slack).
   */
  intervalMs?: number
  /** Where a failure to write the file is reported (once per run of failures). Default `console`; `false` for silence. */
  logger?: Logger | false
}

const HEARTBEAT_OPTION_KEYS = optionKeys<HeartbeatOptions>()({ file: true, intervalMs: true, logger: true })

/** A running heartbeat. */
export interface Heartbeat {
  readonly file: string
  readonly intervalMs: number
  /** Touches the file now (the timer does this every `intervalMs`). */
  beat(): void
  /** Stops the timer. The file stays, and goes stale: a stopped worker is not alive. */
  stop(): void
}

/**
 * Touches a liveness file now and then every `intervalMs` from an unreferenced timer on the
 * main event loop. A timer callback can only run when the loop is free, so a job that blocks
 * the loop (a synchronous loop, a huge JSON.parse) lets the file go stale, and
 * `probekit worker --max-age` reports it. The timer never keeps the process alive.
 *
 * @example
 * import { startHeartbeat } from 'probekit/worker'
 *
 * const heartbeat = startHeartbeat({ file: '/tmp/worker.live', intervalMs: 10_000 })
 * // health check: probekit worker --skip-ping --liveness-file /tmp/worker.live --max-age 20s
 * process.once('SIGTERM', () => heartbeat.stop())
 */
export function startHeartbeat(options: HeartbeatOptions = {}): Heartbeat {
  rejectUnknownKeys('startHeartbeat', options, HEARTBEAT_OPTION_KEYS)
  const file = nonEmptyString(
    options.file,
    DEFAULT_LIVENESS_FILE,
    'startHeartbeat: file',
    "a file path, e.g. '/tmp/worker.live'",
  )
  const intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
  // Past what one timer holds, Node warns and fires the interval every millisecond: a
  // heartbeat of a month would become a synchronous touch a thousand times a second.
  if (!Number.isFinite(intervalMs) || intervalMs <= 0 || intervalMs > MAX_TIMER_MS) {
    throw new TypeError(
      `heartbeat intervalMs must be a positive number of milliseconds, at most ${MAX_TIMER_MS} (24.8 days), got ${String(options.intervalMs)}`,
    )
  }
  const beat = fileToucher(file, 'liveness', options.logger === undefined ? console : options.logger)

  beat()
  const timer = setInterval(beat, intervalMs)
  timer.unref()
  return {
    file,
    intervalMs,
    beat,
    stop: () => clearInterval(timer),
  }
}
