/**
 * Checks of the options objects the public functions take (`createHealth`, `health.add`,
 * the probes, the shutdown helper, the worker kit, …): a misspelt key or a value outside the
 * allowed ones is a TypeError at once, naming the key and what fits, instead of a setting
 * that silently does nothing.
 */
import { redactUrl } from './redact.js'
import { didYouMean } from './suggest.js'
import type { ProbeOptions } from './types.js'

/**
 * An object with every key of `T`, what `optionKeys` is given: `{ name: true, … }`, or an
 * object of defaults that has them all. Its values are not read.
 */
export type EveryKey<T> = { readonly [K in keyof T]-?: unknown }

/** `never` for each key of `L` that `T` does not have, so that listing it fails to compile. */
type OnlyKeysOf<T, L> = { [K in keyof L]: K extends keyof T ? unknown : never }

/**
 * The keys `rejectUnknownKeys` takes for options of type `T`, in the order its error lists
 * them, checked by the compiler both ways: a key `T` has that the object leaves out, and a
 * key it names that `T` lacks (also one brought in by a spread), fail to compile.
 *
 * @example
 * const KEYS = optionKeys<TcpProbeOptions>()({ name: true, ...PROBE_OPTIONS, ...CONNECT_OPTIONS })
 */
export function optionKeys<T>(): <L extends EveryKey<T>>(every: L & OnlyKeysOf<T, L>) => readonly (keyof T & string)[] {
  return (every) => Object.keys(every) as (keyof T & string)[]
}

/** The keys of `ProbeOptions`, to spread into those of an options type that extends it. */
export const PROBE_OPTIONS: EveryKey<ProbeOptions> = {
  groups: true,
  critical: true,
  timeout: true,
  cacheTtl: true,
  interval: true,
  componentType: true,
}

/**
 * How an options error names a probe's call: `http("https://search/health", options)` for a
 * target given as text or a URL (credentials masked), `redis(client, options)` for another.
 */
export function probeCall(probe: string, target: unknown, placeholder: string): string {
  const shown =
    typeof target === 'string' || target instanceof URL ? JSON.stringify(redactUrl(String(target))) : placeholder
  return `${probe}(${shown}, options)`
}

/** The check of a probe's options, as `health.add` makes it: no unknown key, and `critical` a boolean. */
export function checkProbeOptions(where: string, options: ProbeOptions | undefined, known: readonly string[]): void {
  rejectUnknownKeys(where, options, known)
  oneOf(`${where}: critical`, options?.critical, [true, false])
}

/**
 * Throws a TypeError for the first key of `options` that is not in `known`, with the closest
 * known key. `hidden` keys are accepted but neither listed nor suggested (a test's knob).
 */
export function rejectUnknownKeys(
  where: string,
  options: object | undefined,
  known: readonly string[],
  hidden: readonly string[] = [],
): void {
  if (options === undefined || options === null) return
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object such as { ${known[0]}: … }, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const listed = hidden.length === 0 ? known : known.filter((k) => !hidden.includes(k))
    throw new TypeError(
      `${where}: unknown option ${JSON.stringify(key)}${didYouMean(key, listed)}; the options are ${listed.join(', ')}`,
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
