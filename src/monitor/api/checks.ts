/**
 * The read side of the monitor's API: checks, one check and its history and transitions,
 * a pod, recent transitions, p2-inspect JSON, and `/v1` itself (the list of routes). Only
 * reads the monitor's state and store.
 */
import { calendarProblem } from '../../core/clock.js'
import { matchesFilter, toInspect } from '../inspect.js'
import type { Monitor } from '../monitor.js'
import { checkId, HEALTH_STATES, type HealthState } from '../types.js'
import { type ApiCall, HttpError, sendJson, unknownParameter } from './call.js'

/** What `GET /v1` answers: the routes, with their query parameters. */
const ENDPOINTS = [
  'GET /v1/checks?state=&pod=&node=&index=&wait=',
  'GET /v1/checks/<node>/<pod>/<check>',
  'GET /v1/checks/<node>/<pod>/<check>/history?since=&limit=',
  'GET /v1/checks/<node>/<pod>/<check>/transitions?since=&limit=',
  'GET /v1/pods/<pod>?node=&index=&wait=',
  'GET /v1/transitions?pod=&id=&since=&limit=',
  'GET /v1/inspect?pod=&node=&index=&wait=',
  'POST /v1/push/<check>[/start|/fail|/<exit status>]',
  'GET /v1/silences',
  'POST /v1/silences {pod, node?, check?, for|until, comment, author?}',
  'DELETE /v1/silences/<id>',
  'GET /v1/events',
  'GET /metrics',
  'GET /metrics/monitor',
  'GET /livez',
  'GET /readyz',
]

/** The handlers of the read routes, over one monitor. */
export function checkHandlers(monitor: Monitor) {
  return {
    /** `GET /v1` */
    endpoints({ req, res }: ApiCall): void {
      sendJson(req, res, 200, { endpoints: ENDPOINTS })
    },

    /** `GET /v1/checks?state=&pod=&node=` (watch) */
    list(call: ApiCall): Promise<void> {
      const { query } = call
      const scope = {
        pod: query.get('pod') ?? undefined,
        node: query.get('node') ?? undefined,
        state: statesAsked(query),
      }
      return call.watch((states) => states, scope)
    },

    /**
     * `GET /v1/checks/<node>/<pod>/<check>[/history|/transitions]` (watch for the check
     * itself); the id may also be one segment with encoded slashes.
     */
    async check(call: ApiCall): Promise<void> {
      const { req, res, query } = call
      const rest = [...call.rest]
      const tail = rest.length === 4 || (rest.length === 2 && rest[0]?.includes('/')) ? rest.pop() : undefined
      const id = idFrom(rest)
      // One route serves the three: what only another of them reads is refused, not ignored.
      if (tail === undefined) {
        refuseOthers(query, ['since', 'limit'], '', WATCH_TAKES, ' (since and limit are for /history and /transitions)')
        return call.watch(
          (states) => {
            const state = states.find((s) => s.id === id)
            if (!state) throw unknownCheck(id)
            return state
          },
          { id },
        )
      }
      if (tail === 'history' || tail === 'transitions')
        refuseOthers(query, ['index', 'wait'], `/${tail}`, ['since', 'limit'])
      if (!monitor.state(id)) throw unknownCheck(id)
      if (tail === 'history') {
        const points = monitor.history(id, { ...since(query), limit: limit(query, 1000, 100_000) })
        sendJson(req, res, 200, { id, history: points })
        return
      }
      if (tail === 'transitions') {
        sendJson(req, res, 200, {
          id,
          transitions: monitor.store.transitions({ id, ...since(query), limit: limit(query) }),
        })
        return
      }
      throw new HttpError(404, `unknown part "${tail}" of check ${id}; use /history or /transitions`)
    },

    /** `GET /v1/pods/<pod>?node=` (watch) */
    pod(call: ApiCall): Promise<void> {
      const pod = call.params.pod as string
      const node = call.query.get('node') ?? undefined
      // In scope: the pod's checks on every node, so that a pod on another node is told
      // apart from no pod at all.
      return call.watch(
        (states) => {
          const found = states.filter((s) => matchesFilter(s, { pod, node }))
          if (found.length === 0 && states.length === 0) {
            throw new HttpError(
              404,
              `no pod named ${JSON.stringify(pod)}; GET /v1/checks lists the pods the monitor knows`,
            )
          }
          return found
        },
        { pod },
      )
    },

    /** `GET /v1/transitions?pod=&id=&since=&limit=` */
    transitions({ req, res, query }: ApiCall): void {
      const id = query.get('id') ?? undefined
      const pod = query.get('pod') ?? undefined
      const transitions = monitor.store.transitions({
        ...(id !== undefined ? { id } : {}),
        ...(pod !== undefined ? { pod } : {}),
        ...since(query),
        limit: limit(query),
      })
      sendJson(req, res, 200, { transitions })
    },

    /** `GET /v1/inspect?pod=&node=` (watch) */
    inspect(call: ApiCall): Promise<void> {
      const filter = { pod: call.query.get('pod') ?? undefined, node: call.query.get('node') ?? undefined }
      return call.watch((states) => toInspect(states, filter), filter)
    },
  }
}

/** `node/pod/check` from three path segments, or from one segment with encoded slashes. */
function idFrom(parts: string[]): string {
  if (parts.length === 3)
    return checkId({ node: parts[0] as string, pod: parts[1] as string, check: parts[2] as string })
  if (parts.length === 1 && (parts[0] as string).split('/').length === 3) return parts[0] as string
  throw new HttpError(404, 'address a check as /v1/checks/<node>/<pod>/<check> (each part URL-encoded)')
}

/** 400 for the first of `names` in `query`: a parameter of the route's other forms, which this one does not read. */
function refuseOthers(
  query: URLSearchParams,
  names: readonly string[],
  tail: string,
  takes: readonly string[],
  aside?: string,
): void {
  const name = names.find((n) => query.has(n))
  if (name !== undefined) throw unknownParameter(name, `GET /v1/checks/<node>/<pod>/<check>${tail}`, takes, aside)
}

/** What the check's own (watched) form reads. */
const WATCH_TAKES = ['index', 'wait']

function unknownCheck(id: string): HttpError {
  return new HttpError(404, `no check ${JSON.stringify(id)}; GET /v1/checks lists the checks the monitor knows`)
}

/** The states `?state=` asks for (repeated or comma-separated, each once); undefined for all. */
function statesAsked(query: URLSearchParams): HealthState[] | undefined {
  const wanted = [...new Set(query.getAll('state').flatMap((v) => v.split(',')))]
  for (const state of wanted) {
    if (!HEALTH_STATES.includes(state as HealthState)) {
      throw new HttpError(
        400,
        `state ${JSON.stringify(state)} is not a health state; use passing, warning, critical or unknown`,
      )
    }
  }
  return wanted.length === 0 ? undefined : (wanted as HealthState[])
}

/** `2026-01-31`, `2026-01-31T12:00`, `2026-01-31T12:00:00.5+01:00`, … (a date, or a date and time with an optional zone). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i

function since(query: URLSearchParams): { since?: string } {
  const raw = query.get('since')
  if (raw === null) return {}
  // ISO 8601 only, with a four-digit year: the stores compare times as ISO strings, where
  // `+275760-…` (what Date makes of a later year) sorts before every stored time, and
  // Date.parse's other forms (`0`, `Dec 25 2030`) read as surprising times.
  const iso = ISO_TIME.test(raw)
  // Date.parse rolls 2026-02-30 over to March 2: a query for another day than was asked.
  const impossible = iso ? calendarProblem(raw) : undefined
  if (impossible) throw new HttpError(400, `since ${JSON.stringify(raw)} is not a time: ${impossible}`)
  const ms = iso ? Date.parse(raw) : Number.NaN
  if (Number.isNaN(ms))
    throw new HttpError(
      400,
      `since ${JSON.stringify(raw.slice(0, 100))} is not a time; use ISO 8601 such as 2026-01-31T12:00:00Z`,
    )
  return { since: new Date(ms).toISOString() }
}

function limit(query: URLSearchParams, fallback = 100, max = 10_000): number {
  const raw = query.get('limit')
  if (raw === null) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new HttpError(400, `limit ${JSON.stringify(raw)} must be a whole number of at least 1`)
  return Math.min(Number(raw), max)
}
