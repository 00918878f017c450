/**
 * From a target URL to a probe: the scheme picks the probe, and only that probe's module
 * is imported, so `probekit check http://…` never loads a database driver.
 */
import { fileURLToPath } from 'node:url'
import { decodeLoose, redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import { didYouMean } from '../core/suggest.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { hasEmptyHost, parsePgUrl } from './pg-url.js'

/** Options a target may use; each probe takes the ones that apply to it. Durations in ms. */
export interface TargetOptions extends ProbeOptions {
  /** Check name. Default: the target with credentials redacted. */
  name?: string
  /** Connect limit for the one short-lived connection, in ms. */
  connectTimeout?: number
  /** http(s): request headers. */
  headers?: Record<string, string>
  /** http(s): statuses that pass, e.g. `200`, `[200, 204]`, `'2xx'`, `'200-204'`. */
  expectStatus?: number | readonly number[] | string
  /** TLS: extra trusted CA certificates (PEM). */
  ca?: string | Buffer
  /** TLS: accept any server certificate. */
  insecure?: boolean
  /** file: the longest time since the file was last modified, in ms. */
  maxAge?: number
}

/** A target that is not a URL probekit can check: one sentence naming it and the fix. */
export class TargetError extends Error {
  override name = 'TargetError'
}

type Factory = (target: string, options: TargetOptions) => Promise<Probe>

// One entry per scheme; each imports only its own probe module.
const FACTORIES: Record<string, Factory> = {
  http: async (target, o) => (await import('./http.js')).http(target, httpOptions(o)),
  https: async (target, o) => (await import('./http.js')).http(target, httpOptions(o)),
  tcp: async (target, o) => (await import('./tcp.js')).tcp(target, base(o)),
  redis: async (target, o) => (await import('./redis.js')).redis(target, tlsOptions(o)),
  rediss: async (target, o) => (await import('./redis.js')).redis(target, tlsOptions(o)),
  postgres: async (target, o) => (await import('./postgres.js')).postgres(target, tlsOptions(o)),
  postgresql: async (target, o) => (await import('./postgres.js')).postgres(target, tlsOptions(o)),
  mysql: async (target, o) => (await import('./mysql.js')).mysql(target, base(o)),
  mariadb: async (target, o) => (await import('./mysql.js')).mysql(target, base(o)),
  memcached: async (target, o) => (await import('./memcached.js')).memcached(target, base(o)),
  amqp: async (target, o) => (await import('./amqp.js')).amqp(target, tlsOptions(o)),
  amqps: async (target, o) => (await import('./amqp.js')).amqp(target, tlsOptions(o)),
  nats: async (target, o) => (await import('./nats.js')).nats(target, tlsOptions(o)),
  mqtt: async (target, o) => (await import('./mqtt.js')).mqtt(target, tlsOptions(o)),
  mqtts: async (target, o) => (await import('./mqtt.js')).mqtt(target, tlsOptions(o)),
  grpc: async (target, o) => (await import('./grpc.js')).grpc(target, grpcOptions(o)),
  grpcs: async (target, o) => (await import('./grpc.js')).grpc(target, grpcOptions(o)),
  file: async (target, o) => {
    const { headers: _h, expectStatus: _e, ca: _c, insecure: _i, connectTimeout: _t, ...rest } = o
    return (await import('./file.js')).file(filePath(target), rest)
  },
}

/** `port 70000 is out of range 1–65535`, or undefined for a port that can be connected to. */
export function portRangeProblem(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? undefined : `port ${port} is out of range 1–65535`
}

/**
 * The range problem of a port written in a URL (or in each `host:port` of a list), which
 * URL parsing would only call "not a URL": `tcp://db:70000` → `port 70000 is out of range 1–65535`.
 */
export function urlPortProblem(target: string): string | undefined {
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(target)?.[1]
  if (!authority) return undefined
  for (const host of authority.split(',')) {
    const port = /\]?:(\d+)$/.exec(host)?.[1]
    const problem = port === undefined ? undefined : portRangeProblem(Number(port))
    if (problem) return problem
  }
  return undefined
}

/** The schemes `probeForTarget` understands. */
export const SCHEMES: readonly string[] = Object.keys(FACTORIES)

/** The kind of check a target needs, as its scheme without the colon (`postgresql` reads as `postgres`). */
export function schemeOf(target: string): string {
  // Letters spelled out rather than the i flag: a case-insensitive expression costs a
  // `probekit check` start several times a plain one to compile (measured on Node 24).
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(target)?.[1]?.toLowerCase()
  if (!scheme || !Object.hasOwn(FACTORIES, scheme)) {
    const shown = redactUrl(target)
    const supported = `supported schemes: ${SCHEMES.map((s) => `${s}://`).join(' ')}`
    // host:port, or host:port/path as curl takes it: the scheme left out, not an unknown one.
    if (!scheme || /^[^:/]+:\d+(?:[/?]|$)/.test(target)) {
      const hint = /^[^:/\s]+:\d+$/.test(target)
        ? `; for a port, write tcp://${shown}`
        : /^[^:/\s]+:\d+[/?]/.test(target)
          ? `; for an HTTP endpoint, write http://${shown}`
          : ''
      throw new TargetError(`${JSON.stringify(shown)} is not a URL${hint} (${supported})`)
    }
    const meant = didYouMean(scheme, SCHEMES, (s) => `${s}://`)
    throw new TargetError(`${JSON.stringify(shown)} has the unsupported scheme "${scheme}:"${meant} (${supported})`)
  }
  const portProblem = scheme === 'file' ? undefined : urlPortProblem(target)
  if (portProblem) throw new TargetError(`${JSON.stringify(redactUrl(target))}: ${portProblem}`)
  if (scheme === 'file') filePath(target)
  // A memcached target lists several servers (`memcached://a:11211,b:11211`): not one URL host.
  else if (scheme !== 'memcached') {
    let url: URL
    try {
      // libpq's postgres://user@/db?host=/run/postgresql, which WHATWG URLs refuse, too.
      url = scheme.startsWith('postgres') ? parsePgUrl(target) : new URL(target)
    } catch {
      if (hasEmptyHost(target)) {
        throw new TargetError(
          `${JSON.stringify(redactUrl(target))} names no host; write it as ${scheme}://user@host:5432/db, or name a Unix socket's directory with ?host=/run/postgresql`,
        )
      }
      const shown = redactUrl(target)
      // The mask says a password was cut out of a URL that does not parse: most often one holding a raw / ? # or @.
      const password = shown !== target && /^[^:]+:\/\/[^/?#@]*:\*\*\*@/.test(shown)
      throw new TargetError(
        password
          ? `${JSON.stringify(shown)} is not a well-formed URL; a password holding / ? # or @ must be percent-encoded (%2F %3F %23 %40), as encodeURIComponent writes it`
          : `${JSON.stringify(shown)} is not a well-formed URL; check the host, port and escaping`,
      )
    }
    // A postgres URL may name its host (a socket's directory) in a `host` parameter instead.
    if (!url.hostname && !(scheme.startsWith('postgres') && url.searchParams.get('host')))
      throw new TargetError(`${JSON.stringify(redactUrl(target))} names no host; write it as ${scheme}://host:port`)
    const badEscape = userinfoEscapeProblem(url)
    if (badEscape) throw new TargetError(`${JSON.stringify(redactUrl(target))}: ${badEscape}`)
  }
  return scheme
}

/**
 * A probe for a target URL. The scheme selects the check (`http`, `https`, `tcp`, …);
 * options that do not apply to it are ignored. Throws `TargetError` for an unknown scheme
 * or a malformed URL.
 *
 * @example
 * const probe = await probeForTarget('redis://127.0.0.1:6379', { timeout: 2000 })
 * const result = await runProbe(probe, { timeoutMs: 2000 })
 */
export async function probeForTarget(target: string, options: TargetOptions = {}): Promise<Probe> {
  const scheme = schemeOf(target)
  const factory = FACTORIES[scheme] as Factory
  const named = { ...options, name: options.name ?? redactUrl(target) }
  return factory(target, named)
}

/**
 * The path of a file target: `file:///abs/path` (or `file://localhost/abs/path`), or
 * `file:relative/path` for a path relative to the working directory.
 */
export function filePath(target: string): string {
  const shown = JSON.stringify(target)
  // A URL's scheme is case-insensitive (RFC 3986): File:// as file://.
  if (!/^[Ff][Ii][Ll][Ee]:\/\//.test(target)) {
    // A literal % in a relative path stays one (file:50%done); %20 is a space.
    const path = decodeLoose(target.slice('file:'.length))
    if (path === '') throw new TargetError(`${shown} names no file; write file:///absolute/path`)
    return path
  }
  let url: URL
  try {
    url = new URL(target)
  } catch {
    throw new TargetError(`${shown} is not a well-formed file URL; write file:///absolute/path`)
  }
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    throw new TargetError(
      `${shown} names the host "${url.hostname}"; a file target is local: write file:///absolute/path`,
    )
  }
  if (url.pathname === '/' || url.pathname === '')
    throw new TargetError(`${shown} names no file; write file:///absolute/path`)
  try {
    return fileURLToPath(url)
  } catch {
    throw new TargetError(`${shown}: the path has a malformed %-escape or an encoded /; write a literal % as %25`)
  }
}

/** The options every probe takes. */
function base(o: TargetOptions): TargetOptions {
  const { headers: _h, expectStatus: _e, ca: _c, insecure: _i, maxAge: _m, ...rest } = o
  return rest
}

/** The options of probes that speak TLS with `ca` and `insecure` (rediss, amqps, mqtts, nats with TLS, postgres with sslmode). */
function tlsOptions(o: TargetOptions): TargetOptions {
  const { headers: _h, expectStatus: _e, maxAge: _m, ...rest } = o
  return rest
}

/** The options of the gRPC probe: its one HTTP/2 connection is bounded by the deadline alone. */
function grpcOptions(o: TargetOptions): TargetOptions {
  const { connectTimeout: _t, ...rest } = tlsOptions(o)
  return rest
}

function httpOptions(o: TargetOptions): TargetOptions {
  const { maxAge: _m, ...rest } = o
  return rest
}
