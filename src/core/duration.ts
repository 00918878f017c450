const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Milliseconds of a duration written as people write them: a bare number of seconds (`3`,
 * as Docker, Consul and maykin-common take it) or a number with a unit (`500ms`, `2s`,
 * `1.5m`, `1h`, `1d`). Undefined when the text is not a duration; callers say why in their
 * own words (a usage error, a manifest line, an HTTP 400).
 */
export function durationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim())
  if (!match) return undefined
  return Number(match[1]) * (UNITS_MS[match[2] ?? 's'] as number)
}
