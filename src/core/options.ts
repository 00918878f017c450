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

/** The check of a probe's options, as `health.add` makes it: no unknown key, and each value of its kind. */
export function checkProbeOptions(where: string, options: ProbeOptions | undefined, known: readonly string[]): void {
  rejectUnknownKeys(where, options, known)
  if (options === undefined || options === null) return
  for (const [key, value] of Object.entries(options)) {
    const kind = Object.hasOwn(PROBE_OPTION_VALUES, key) ? PROBE_OPTION_VALUES[key] : undefined
    if (kind === undefined || value === undefined) continue
    if (kind.allowed) oneOf(`${where}: ${key}`, value, kind.allowed)
    else if (kind.unquoted && typeof value === 'string' && !kind.test(value))
      // Text that may hold a credential (a header line given as a string) is not echoed.
      throw new TypeError(`${where}: ${key} must be ${kind.words}, got a string`)
    else oneOf(`${where}: ${key}`, value, [], kind)
    if (key === 'ca') checkCaPem(`${where}: ca`, value)
  }
}

/**
 * A `ca` that holds no certificate would replace Node's CA list with nothing, and every
 * check would then fail with "certificate not trusted" as though the CA were wrong. The
 * usual slip is the file's path (`ca: '/etc/ssl/ca.pem'`, `ca: process.env.CA_FILE`) where
 * its content belongs. The value is shown only when it reads as a path: any other text
 * might be a private key given by mistake.
 */
function checkCaPem(where: string, value: unknown): void {
  const items = Array.isArray(value) ? value : [value]
  items.forEach((item, index) => {
    const text = Buffer.isBuffer(item) ? item.toString('latin1') : String(item)
    if (PEM_CERTIFICATE.test(text)) return
    const which = Array.isArray(value) ? `${where}[${index}]` : where
    if (typeof item === 'string' && /^[^\n]{1,200}$/.test(item) && !item.includes('-----') && /[/\\.]/.test(item)) {
      throw new TypeError(
        `${which} must be PEM text, not a file's path: pass its content, readFileSync(${JSON.stringify(item)})`,
      )
    }
    if (Buffer.isBuffer(item) && item[0] === 0x30) {
      throw new TypeError(
        `${which} is DER (binary), not PEM; convert it with "openssl x509 -inform der -in FILE -out ca.pem"`,
      )
    }
    throw new TypeError(`${which} holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)`)
  })
}

const PEM_CERTIFICATE = /-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----/

const isString = (value: unknown): boolean => typeof value === 'string'
const isStrings = (value: unknown): boolean => Array.isArray(value) && value.every(isString)
const isPem = (value: unknown): boolean => typeof value === 'string' || Buffer.isBuffer(value)
const isWhole = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0

/**
 * What a probe option's value may be, by its name: an option means the same in every probe
 * that takes it (a `ca` is PEM wherever it appears), so one table serves them all. A
 * setting of the wrong kind is a TypeError, not a default: `insecure: 'false'` (an
 * environment variable's text) would otherwise turn certificate checks off, and
 * `followRedirects: true` follow none. Durations and sizes are checked where they are
 * read, with their units in the message.
 */
const PROBE_OPTION_VALUES: Record<
  string,
  | { allowed: readonly boolean[] }
  | { allowed?: undefined; test: (value: unknown) => boolean; words: string; unquoted?: true }
> = {
  name: { test: (value) => typeof value === 'string' && value !== '', words: 'a non-empty string' },
  componentType: { test: isString, words: 'a string' },
  groups: { test: isStrings, words: "an array of groups, e.g. ['ready']" },
  critical: { allowed: [true, false] },
  insecure: { allowed: [true, false] },
  regularFile: { allowed: [true, false] },
  quickCheck: { allowed: [true, false] },
  ca: {
    test: (value) => isPem(value) || (Array.isArray(value) && value.length > 0 && value.every(isPem)),
    words: 'PEM text, a Buffer or an array of them',
  },
  // An empty name is no queue: RabbitMQ reads it as the channel's last declared queue.
  queue: { test: (value) => typeof value === 'string' && value !== '', words: 'a queue name' },
  service: { test: isString, words: "a service name ('' for the whole server)" },
  method: {
    test: (value) => typeof value === 'string' && ['GET', 'HEAD'].includes(value.toUpperCase()),
    words: "'GET' or 'HEAD'",
  },
  expectBody: { test: (value) => isString(value) || value instanceof RegExp, words: 'a string or a RegExp' },
  headers: {
    // Its values are checked with its names (http-head.ts), saying which one is wrong.
    test: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    words: "an object of header names and values, e.g. { accept: 'application/json' }",
    unquoted: true,
  },
  maxBodyBytes: { test: (value) => isWhole(value) && (value as number) > 0, words: 'a whole number of bytes above 0' },
  followRedirects: { test: isWhole, words: 'a whole number of redirects (0 for none)' },
  servers: { test: isStrings, words: "an array of DNS servers, e.g. ['10.0.0.2']" },
  expect: { test: (value) => isString(value) || isStrings(value), words: 'a string or an array of strings' },
  family: { test: (value) => value === 4 || value === 6, words: '4 or 6' },
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
 * `value` when it is a non-empty string (a file path, a host), `fallback` when it is
 * undefined; anything else is a TypeError naming `what` and the `example`.
 */
export function nonEmptyString(value: unknown, fallback: string, what: string, example: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new TypeError(`${what} must be ${example}, got ${describeArgument(value)}`)
  }
  return value
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
