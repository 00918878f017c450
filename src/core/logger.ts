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
 * already carries the fields a person needs.
 */
export function writeLog(logger: Logger | false | undefined, level: LogLevel, message: string, fields: object): void {
  if (!logger) return
  if (typeof (logger as { child?: unknown }).child === 'function') logger[level](fields, message)
  else logger[level](message)
}
