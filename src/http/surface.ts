/**
 * The HTTP surface of a health instance: which paths answer for which group, who may read
 * failure reasons, and the metrics path. The core (src/core/health.ts) knows none of this;
 * src/health.ts joins the two into the package's `Health`.
 */
import type { HealthCore } from '../core/health.js'
import { oneOf, optionKeys, rejectUnknownKeys } from '../core/options.js'
import { GROUPS, type Group } from '../core/types.js'

/** The framework-neutral view of a request that probekit needs. */
export interface HealthRequest {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  remoteAddress?: string | undefined
}

/** Who may read failure reasons: nobody, loopback peers (default), everyone, or a predicate. */
export type DetailsPolicy = 'never' | 'local' | 'always' | ((request: HealthRequest) => boolean)

/** The options of the HTTP surface, part of `createHealth`'s options. */
export interface HttpOptions {
  /** Who sees reasons in responses. Default `'local'`. Logs always get them (redacted). */
  details?: DetailsPolicy
  /**
   * Paths of the three groups; `false` disables one. An array gives several paths.
   * Defaults: `/livez`, `/readyz`, `/healthz`.
   */
  paths?: Partial<Record<Group, string | readonly string[] | false>>
  /** Extra paths mapped to groups, e.g. `{ '/_healthz/livez/': 'live', '/_status': 'ready' }`. */
  extraPaths?: Record<string, Group>
  /** Serve every check as Prometheus metrics at this path (e.g. `/metrics`). Off by default. */
  metricsPath?: string
}

const PATHS_KEYS = optionKeys<NonNullable<HttpOptions['paths']>>()({ live: true, ready: true, startup: true })

/** A health instance with its HTTP surface: what `respond`, the handler, `listen` and the adapters read. */
export interface HttpHealth extends HealthCore {
  readonly details: DetailsPolicy
  /** Path → group, for exact matches (the hot path: one Map lookup). */
  readonly paths: ReadonlyMap<string, Group>
  readonly metricsPath: string | undefined
  /** Whether a caller may read failure reasons. */
  mayShowDetails(request: HealthRequest): boolean
}

/** The settled HTTP options: the policy, the path map and the metrics path. */
export interface HttpSurface {
  details: DetailsPolicy
  paths: ReadonlyMap<string, Group>
  metricsPath: string | undefined
}

const DEFAULT_PATHS: Record<Group, string> = { live: '/livez', ready: '/readyz', startup: '/healthz' }

/** Checks the HTTP options (values outside the allowed ones fail here) and settles them. */
export function httpSurface(options: HttpOptions): HttpSurface {
  rejectUnknownKeys('createHealth: paths', options.paths, PATHS_KEYS)
  oneOf('createHealth: details', options.details, ['never', 'local', 'always'], {
    test: (value) => typeof value === 'function',
    words: 'a function (request) => boolean',
  })
  const metricsPath = options.metricsPath
  if (metricsPath !== undefined && (typeof metricsPath !== 'string' || !metricsPath.startsWith('/'))) {
    throw new TypeError(`createHealth: metricsPath must be a path starting with "/", got ${String(metricsPath)}`)
  }
  return {
    details: options.details ?? 'local',
    paths: buildPaths(options.paths, options.extraPaths),
    metricsPath,
  }
}

/** Whether `request` may read failure reasons under `policy`; a predicate that throws says no. */
export function mayShowDetails(policy: DetailsPolicy, request: HealthRequest): boolean {
  if (policy === 'local') return isLoopback(request.remoteAddress)
  if (policy === 'always') return true
  if (policy === 'never') return false
  try {
    return policy(request) === true
  } catch {
    return false
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}

function buildPaths(paths: HttpOptions['paths'], extra: HttpOptions['extraPaths']): Map<string, Group> {
  const map = new Map<string, Group>()
  for (const group of GROUPS) {
    const configured = paths?.[group]
    if (configured === false) continue
    const list =
      configured === undefined ? [DEFAULT_PATHS[group]] : typeof configured === 'string' ? [configured] : configured
    for (const path of list) addPath(map, path, group)
  }
  if (extra) for (const [path, group] of Object.entries(extra)) addPath(map, path, group)
  return map
}

function addPath(map: Map<string, Group>, path: string, group: Group): void {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new Error(`createHealth: path "${String(path)}" must start with "/"`)
  }
  if (!GROUPS.includes(group))
    throw new Error(`createHealth: path "${path}" maps to unknown group "${group}" (use live, ready or startup)`)
  map.set(path, group)
}
