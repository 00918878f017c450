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
  if (typeof (logger as { child?: unknown }).child === 'function') logger[level](safeFields(fields), line)
  else logger[level](line)
}

function safeFields(fields: object): object {
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue
    const safe = lineSafe(value)
    if (safe === value) continue
    out ??= { ...fields }
    out[key] = safe
  }
  return out ?? fields
}
