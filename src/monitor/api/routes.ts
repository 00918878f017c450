/**
 * The matcher of the monitor's route table: a request's method and path against declared
 * routes, first match wins. It knows nothing of HTTP beyond that; `api.ts` turns its
 * answer into a handler call, a 405 with `Allow`, a 404 or a 400.
 *
 * Patterns are written as paths: a literal segment (`checks`), a parameter (`:pod`, one
 * segment), or a last `*` (the rest of the path, zero or more segments, in `rest`).
 * Each segment of the request is percent-decoded on its own, so `a%2Fb` is one segment
 * `a/b`; empty segments are dropped (`/v1/checks/` is `/v1/checks`) unless the route is
 * `exact`, which matches the path as it is spelled (the dashboard's files, `/metrics`).
 */

export interface RouteSpec {
  /** Methods this route answers, e.g. `['GET', 'HEAD']`; HEAD is served only where listed. */
  readonly methods: readonly string[]
  /** e.g. `/v1/pods/:pod`, `/v1/push/*` */
  readonly path: string
  /** Match the request path letter for letter (no parameters, no slash folding). */
  readonly exact?: boolean
}

export type RouteMatch<R> =
  /** A route answers this method and path; `params` has no prototype, `rest` what `*` matched. */
  | { kind: 'found'; route: R; params: Readonly<Record<string, string>>; rest: readonly string[] }
  /** Routes know the path, not the method: `allow` lists theirs in table order, `route` is the first. */
  | { kind: 'method'; route: R; allow: readonly string[] }
  | { kind: 'none' }
  /** A segment of the path is not valid percent-encoding. */
  | { kind: 'bad-encoding' }

interface Compiled<R> {
  route: R
  /** Literal segments as strings, parameters as `{ name }`. */
  segments: (string | { name: string })[]
  rest: boolean
}

export class RouteTable<R extends RouteSpec> {
  private readonly compiled: Compiled<R>[]

  constructor(readonly routes: readonly R[]) {
    this.compiled = routes.map(compile)
  }

  match(method: string, pathname: string): RouteMatch<R> {
    const segments = decodeSegments(pathname)
    if (segments === undefined) return { kind: 'bad-encoding' }
    let known: R | undefined
    const allow: string[] = []
    for (const entry of this.compiled) {
      // An exact route's path is literal: spelled the same, it has the same segments.
      const bound = entry.route.exact && pathname !== entry.route.path ? undefined : bind(entry, segments)
      if (!bound) continue
      if (entry.route.methods.includes(method)) return { kind: 'found', route: entry.route, ...bound }
      known ??= entry.route
      for (const m of entry.route.methods) if (!allow.includes(m)) allow.push(m)
    }
    return known ? { kind: 'method', route: known, allow } : { kind: 'none' }
  }
}

function compile<R extends RouteSpec>(route: R): Compiled<R> {
  const parts = route.path.split('/').filter((s) => s !== '')
  const rest = parts[parts.length - 1] === '*'
  if (rest) parts.pop()
  if (route.exact && (rest || parts.some((p) => p.startsWith(':') || p === '*')))
    throw new Error(`route ${route.path}: an exact route has no parameters`)
  const segments = parts.map((part) => {
    if (part === '*') throw new Error(`route ${route.path}: * stands only at the end`)
    return part.startsWith(':') ? { name: part.slice(1) } : part
  })
  return { route, segments, rest }
}

function bind<R>(
  entry: Compiled<R>,
  segments: readonly string[],
): { params: Record<string, string>; rest: string[] } | undefined {
  const fixed = entry.segments.length
  if (entry.rest ? segments.length < fixed : segments.length !== fixed) return undefined
  // No prototype: a parameter is only ever what the request said, never an inherited name.
  const params: Record<string, string> = Object.create(null)
  for (let i = 0; i < fixed; i++) {
    const want = entry.segments[i] as string | { name: string }
    const got = segments[i] as string
    if (typeof want === 'string') {
      if (want !== got) return undefined
    } else params[want.name] = got
  }
  return { params, rest: segments.slice(fixed) }
}

/** The path's non-empty segments, each percent-decoded; undefined for bad encoding. */
function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s))
  } catch {
    return undefined
  }
}
