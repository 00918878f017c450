import { UsageError } from './usage-error.js'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses a duration flag into milliseconds: a bare number is seconds (`--timeout 3`, as
 * in Docker and maykin-common), or a number with a unit: `500ms`, `2s`, `1.5m`, `1h`.
 */
export function parseDuration(value: string | undefined, flag: string): number {
  if (value === undefined || value === '') throw new UsageError(`${flag} needs a value such as 3, 500ms or 2s`)
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim())
  if (!match)
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} is not a duration; use a number of seconds (3) or a value with a unit (500ms, 2s, 1m)`,
    )
  const ms = Number(match[1]) * (UNITS[match[2] ?? 's'] as number)
  if (ms <= 0) throw new UsageError(`${flag} must be more than zero, got ${JSON.stringify(value)}`)
  return ms
}
