import { reasonOf } from './errors.js'
import { lineSafe } from './inert.js'

/** Anything shaped like `console` or a pino logger. */
export interface Logger {
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

export type LogLevel = 'info' | 'warn' | 'error'

/**
 * Writes one line with structured fields. pino-style loggers (they have `child`) take the
 * fields first and the message second; console-style loggers get the message alone, which
 * already carries the fields a person needs. What a target said may be in the message, so
 * it is made inert here, where the line is written: control characters and newlines are
 * shown as escapes (`\x1b`, `\n`), and one call is one line.
 */
export function writeLog(logger: Logger | false | undefined, level: LogLevel, message: string, fields: object): void {
  if (!logger) return
  const line = lineSafe(message)
  try {
    if (typeof (logger as { child?: unknown }).child === 'function') logger[level](safeFields(fields), line)
    else logger[level](line)
  } catch (error) {
    loggerFailed(logger, error)
  }
}

/** Loggers that have thrown once: each is warned about once. */
const failedLoggers = new WeakSet<object>()

/**
 * A logger that throws (a pino destination already ended, a broken transport) loses that
 * line and nothing else: lines are written from inside probe runs, request evaluations and
 * the shutdown sequence, where its exception turned every answer into a 503, made
 * `health.notReady()` throw, or cut the shutdown short. Node's process warning says so once.
 */
function loggerFailed(logger: object, error: unknown): void {
  if (failedLoggers.has(logger)) return
  failedLoggers.add(logger)
  process.emitWarning(
    `probekit: the logger threw (${reasonOf(error)}); the lines it refuses are dropped, and probekit goes on`,
    { code: 'PROBEKIT_LOGGER_FAILED' },
  )
}

/** How deep `safeFields` walks: the fields probekit writes nest two levels (`{ health: { reason } }`). */
const MAX_FIELD_DEPTH = 4

/**
 * `fields` with every string in it made inert, in plain objects and arrays nested up to
 * `MAX_FIELD_DEPTH` (a reason sits in `{ health: { reason } }`); the same object when
 * nothing needed it, copies only along the paths that changed.
 */
function safeFields<T>(fields: T, depth = 0): T {
  if (typeof fields === 'string') return lineSafe(fields) as T
  if (fields === null || typeof fields !== 'object' || depth >= MAX_FIELD_DEPTH) return fields
  if (Array.isArray(fields)) {
    let out: unknown[] | undefined
    for (let i = 0; i < fields.length; i++) {
      const safe = safeFields(fields[i], depth + 1)
      if (safe === fields[i]) continue
      out ??= [...fields]
      out[i] = safe
    }
    return (out ?? fields) as T
  }
  const proto = Object.getPrototypeOf(fields)
  if (proto !== Object.prototype && proto !== null) return fields
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(fields)) {
    const safe = safeFields(value, depth + 1)
    if (safe === value) continue
    out ??= { ...(fields as Record<string, unknown>) }
    out[key] = safe
  }
  return (out ?? fields) as T
}
