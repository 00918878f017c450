import { cutShort, jsonSafe, terminalSafe } from '../core/inert.js'
import { httpStatusFor } from '../core/status.js'
import type { Group, Report } from '../core/types.js'
import { formatHealthJson, HEALTH_JSON_TYPE } from '../format/health-json.js'
import { formatPrometheus, PROMETHEUS_TYPE } from '../format/prometheus.js'
import { formatText } from '../format/text.js'
import type { HealthRequest, HttpHealth } from './surface.js'

/** A response every adapter can write: status, headers and body. */
export interface HealthResponse {
  statusCode: number
  headers: Record<string, string>
  body: string
}

const TEXT_TYPE = 'text/plain; charset=utf-8'
const COMMON = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const

function headersFor(type: string, body: string): Record<string, string> {
  return { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...COMMON }
}

/** The passing plain answer, shared by every request that gets it. */
const OK: HealthResponse = Object.freeze({
  statusCode: 200,
  headers: Object.freeze(headersFor(TEXT_TYPE, 'ok')),
  body: 'ok',
}) as HealthResponse
const METHOD_NOT_ALLOWED: HealthResponse = Object.freeze({
  statusCode: 405,
  headers: Object.freeze({ ...headersFor(TEXT_TYPE, 'method not allowed: use GET or HEAD\n'), allow: 'GET, HEAD' }),
  body: 'method not allowed: use GET or HEAD\n',
}) as HealthResponse

interface Match {
  group: Group
  /** The request path's last segment, for the `<label> check passed` line. */
  label: string
  /** A single check requested as `/<group path>/<name>`. */
  only?: string
  metrics?: boolean
}

/**
 * Answers a request if it is for a health path, or returns undefined so the caller passes
 * it on. Synchronous when nothing needs I/O, so `/livez` costs one Map lookup and no promise.
 * The node:http handler and every framework adapter go through here, so they cannot drift.
 */
export function respond(
  health: HttpHealth,
  request: HealthRequest,
): HealthResponse | Promise<HealthResponse> | undefined {
  const url = request.url
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const match = matchPath(health, path)
  if (!match) return undefined
  if (request.method !== 'GET' && request.method !== 'HEAD') return METHOD_NOT_ALLOWED

  // Hot path: plain GET of a group with no probes of its own and a passing lifecycle.
  if (q < 0 && !match.only && !match.metrics && !health.hasProbes(match.group) && !wantsJson(request)) {
    if (health.lifecycle.verdict(match.group).status === 'pass') return OK
  }

  const query = q < 0 ? undefined : new URLSearchParams(url.slice(q + 1))
  const exclude = query
    ?.getAll('exclude')
    .flatMap((v) => v.split(','))
    .filter(Boolean)
  if (match.only !== undefined && !health.checkNames(match.group).includes(match.only)) {
    const body = terminalSafe(`not found: no check named ${JSON.stringify(echoed(match.only))} in ${match.label}\n`)
    return { statusCode: 404, headers: headersFor(TEXT_TYPE, body), body }
  }
  const report = health.evaluate(match.group, {
    ...(exclude?.length ? { exclude } : {}),
    ...(match.only !== undefined ? { only: match.only } : {}),
  })
  const render = (r: Report) => renderReport(health, request, match, query, r)
  return report instanceof Promise ? report.then(render) : render(report)
}

function renderReport(
  health: HttpHealth,
  request: HealthRequest,
  match: Match,
  query: URLSearchParams | undefined,
  evaluated: Report,
): HealthResponse {
  // The names of `?exclude=` that matched nothing come from the URL: repeated cut short.
  const report = evaluated.unmatchedExcludes
    ? { ...evaluated, unmatchedExcludes: evaluated.unmatchedExcludes.map(echoed) }
    : evaluated
  const statusCode = httpStatusFor(report.status)
  const format = query?.get('format')
  if (match.metrics || format === 'prometheus' || format === 'metrics' || wantsOpenMetrics(request)) {
    const body = formatPrometheus(report)
    // Metrics are data, not a verdict: a scrape must succeed even when checks fail.
    return { statusCode: match.metrics ? 200 : statusCode, headers: headersFor(PROMETHEUS_TYPE, body), body }
  }
  const showReasons = health.mayShowDetails(request)
  if (format === 'json' || wantsJson(request)) {
    // jsonSafe: the same document to a parser, inert when `curl` prints it to a terminal
    // (a dependency's status text may hold C1 or bidirectional controls).
    const body = jsonSafe(JSON.stringify(formatHealthJson(report, showReasons, health.service)))
    return { statusCode, headers: headersFor(HEALTH_JSON_TYPE, body), body }
  }
  const verbose = query?.has('verbose') === true && query.get('verbose') !== 'false'
  // Reasons are already one inert line each; this covers the rest, such as an excluded
  // name from the URL (`JSON.stringify` quotes it, but leaves C1 and bidi controls raw).
  const body = terminalSafe(formatText(report, { label: match.label, verbose, showReasons }))
  if (body === 'ok' && statusCode === 200) return OK
  return { statusCode, headers: headersFor(TEXT_TYPE, body), body }
}

/** The longest name from the URL an answer repeats, in characters; a longer one is cut. */
const ECHOED_NAME_MAX = 64

/** `name` (from the request URL) as an answer repeats it: at most ECHOED_NAME_MAX characters. */
function echoed(name: string): string {
  return cutShort(name, ECHOED_NAME_MAX)
}

function matchPath(health: HttpHealth, path: string): Match | undefined {
  const group = health.paths.get(path)
  if (group) return { group, label: labelOf(path) }
  if (health.metricsPath !== undefined && path === health.metricsPath)
    return { group: 'startup', label: 'metrics', metrics: true }
  // `/<group path>/<check name>`, with or without a trailing slash.
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path
  const slash = trimmed.lastIndexOf('/')
  if (slash <= 0) return undefined
  const name = decodeName(trimmed.slice(slash + 1))
  if (name === undefined) return undefined
  const parent = trimmed.slice(0, slash)
  const parentGroup = health.paths.get(parent) ?? health.paths.get(`${parent}/`)
  if (!parentGroup) return undefined
  return { group: parentGroup, label: labelOf(parent), only: name }
}

function decodeName(segment: string): string | undefined {
  if (!segment) return undefined
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

const labels = new Map<string, string>()

/** The last path segment (`/_healthz/readyz/` → `readyz`), memoised: it is on the hot path. */
function labelOf(path: string): string {
  let label = labels.get(path)
  if (label === undefined) {
    label = lastSegment(path)
    // Only configured paths reach here, so the map stays as small as the configuration.
    labels.set(path, label)
  }
  return label
}

function lastSegment(path: string): string {
  const parts = path.split('/').filter(Boolean)
  return parts[parts.length - 1] ?? 'health'
}

function header(request: HealthRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

function wantsJson(request: HealthRequest): boolean {
  const accept = header(request, 'accept')
  return accept?.includes(HEALTH_JSON_TYPE) === true
}

function wantsOpenMetrics(request: HealthRequest): boolean {
  const accept = header(request, 'accept')
  return accept?.includes('application/openmetrics-text') === true
}
