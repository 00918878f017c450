import { durationMs } from '../core/duration.js'
import { UsageError } from './usage-error.js'

/**
 * Parses a duration flag into milliseconds: a bare number is seconds (`--timeout 3`, as
 * in Docker and maykin-common), or a number with a unit: `500ms`, `2s`, `1.5m`, `1h`.
 */
export function parseDuration(value: string | undefined, flag: string): number {
  if (value === undefined || value === '') throw new UsageError(`${flag} needs a value such as 3, 500ms or 2s`)
  const ms = durationMs(value)
  if (ms === undefined)
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} is not a duration; use a number of seconds (3) or a value with a unit (500ms, 2s, 1m)`,
    )
  if (ms <= 0) throw new UsageError(`${flag} must be more than zero, got ${JSON.stringify(value)}`)
  return ms
}
