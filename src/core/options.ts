/**
 * Checks of what a caller passes to `createHealth` and `health.add`: a misspelt key or a
 * value outside the allowed ones is a TypeError at once, naming the key and what fits,
 * instead of a setting that silently does nothing.
 */
import { didYouMean } from './suggest.js'

/** Throws a TypeError for the first key of `options` that is not in `known`, with the closest known key. */
export function rejectUnknownKeys(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined || options === null) return
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object such as { ${known[0]}: … }, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    throw new TypeError(
      `${where}: unknown option ${JSON.stringify(key)}${didYouMean(key, known)}; the options are ${known.join(', ')}`,
    )
  }
}

/** Throws a TypeError unless `value` is undefined or one of `allowed` (or passes `alsoAllowed`). */
export function oneOf(
  where: string,
  value: unknown,
  allowed: readonly (string | boolean)[],
  alsoAllowed?: { test: (value: unknown) => boolean; words: string },
): void {
  if (value === undefined || allowed.includes(value as string | boolean) || alsoAllowed?.test(value)) return
  const words = allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a)))
  if (alsoAllowed) words.push(alsoAllowed.words)
  const list = words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0]
  throw new TypeError(`${where} must be ${list}, got ${describe(value)}`)
}

/**
 * What a wrong argument was, for an error message: the kind of value (a string is quoted;
 * callers pass none that may hold a secret), and for undefined the usual cause.
 */
export function describeArgument(value: unknown): string {
  return value === undefined ? 'undefined (an environment variable that is not set?)' : describe(value)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  return String(value)
}

/**
 * `value` when it is a number above zero, `fallback` when it is undefined; anything else is
 * a RangeError naming `what` (e.g. `probekit: timeout`) and its `unit` when it has one.
 */
export function positive(value: number | undefined, fallback: number, what: string, unit?: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive number${ofUnit(unit)}, got ${String(value)}`)
  }
  return value
}

/** Like `positive`, but zero is allowed too (an interval of 0 means "off"). */
export function nonNegative(value: number | undefined, fallback: number, what: string, unit?: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${what} must be zero or a positive number${ofUnit(unit)}, got ${String(value)}`)
  }
  return value
}

function ofUnit(unit: string | undefined): string {
  return unit === undefined ? '' : ` of ${unit}`
}
