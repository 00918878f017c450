/**
 * The monitor's HTTP API, metrics, push endpoint, event stream and dashboard, on one
 * listener. Everything here only reads the monitor's in-memory state or its store and
 * answers; nothing sits on the checking path.
 *
 * The routes are the table in `apiRoutes` (method, path, policy, handler); the handlers
 * live by concern in `api/` (checks, push, silences, long polls), the matcher in
 * `api/routes.ts`. Every request passes, in this order: the monitor's own `/livez`,
 * `/readyz`, `/healthz` (answered before anything else), the path's percent-encoding
 * (400), the auth gate by the route's class (auth.ts; a wrong credential past the pace
 * allowed from its address is answered 429 instead of 401), then 404 or 405 with `Allow`,
 * the route's hold (stream slots), and its handler. `/metrics` takes one of its own slots
 * while it renders and writes, and is written within a deadline.
 *
 * | route | what |
 * |---|---|
 * | `GET /v1/checks` | every check; `?state=`, `?pod=`, `?node=` filter; `?index=N&wait=30s` blocks until a change |
 * | `GET /v1/checks/<node>/<pod>/<check>` | one check |
 * | `GET /v1/checks/<node>/<pod>/<check>/history` | its bounded history (`?since=`, `?limit=`) |
 * | `GET /v1/checks/<node>/<pod>/<check>/transitions` | its transitions |
 * | `GET /v1/pods/<pod>` | the checks of one pod, on every node |
 * | `GET /v1/transitions` | recent transitions (`?pod=`, `?id=`, `?since=`, `?limit=`) |
 * | `GET /v1/inspect` | p2-inspect JSON (`?pod=`, `?node=`) |
 * | `POST /v1/push/<check>[/start\|/fail\|/<exit status>]` | a push check's ping |
 * | `GET`, `POST /v1/silences`; `DELETE /v1/silences/<id>` | silences: list, add, end ([alerting](../../docs/alerting.md)) |
 * | `GET /v1/events` | server-sent events for the dashboard |
 * | `GET /metrics` | Prometheus text, blackbox exporter names; `MAX_METRICS_ANSWERS` at once, each written within 30 s |
 * | `GET /metrics/monitor` | Prometheus text: the monitor's own figures only |
 * | `GET /livez`, `/readyz`, `/healthz` | the monitor's own health, through probekit |
 * | `GET /` | the dashboard |
 *
 * The watched reads (`/v1/checks`, `/v1/checks/<id>`, `/v1/pods/<pod>`, `/v1/inspect`) are
 * long polls with `?index=` (api/watch.ts); at most `MAX_RENDERINGS` different answers are
 * rendered and `MAX_ANSWER_BYTES` written at once, each within 30 s.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { limitedLog } from '../core/log-limiter.js'
import type { Logger } from '../core/logger.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { PROMETHEUS_TYPE } from '../format/prometheus.js'
import { createHealth } from '../health.js'
import { serve } from '../http/listen.js'
import {
  type ApiCall,
  type ApiRoute,
  acceptsGzip,
  busy,
  ClientGone,
  gzipParts,
  HttpError,
  send,
  sendJson,
  sendWithin,
  unknownParameter,
} from './api/call.js'
import { checkHandlers } from './api/checks.js'
import { DEFAULT_PUSH_RATE_PER_SECOND, pushHandler } from './api/push.js'
import { RouteTable } from './api/routes.js'
import { silenceHandlers } from './api/silences.js'
import { DEFAULT_WAIT_MS, LongPoll } from './api/watch.js'
import {
  Access,
  AccessRefused,
  checkToken,
  isLoopbackHost,
  TokenError,
  TokenFile,
  TokenSet,
  WrongCredential,
} from './auth.js'
import { DASHBOARD_PATHS, type DashboardAsset, dashboardAsset } from './dashboard/index.js'
import { formatOwnMetrics, renderMonitorMetrics } from './metrics.js'
import type { Monitor } from './monitor.js'
import { ProcessMetrics } from './process-metrics.js'
import { Slots, TokenBuckets } from './rate-limit.js'
import { EventStream } from './sse.js'
import type { EtcdStoreStatus } from './store/etcd.js'

export interface ApiOptions {
  /** Interface to bind, e.g. `127.0.0.1` or `0.0.0.0`. */
  host: string
  /** Port; 0 picks a free one (see the returned `url`). */
  port: number
  /** Where the API logs (console or pino-compatible); `false` for silence. Default console. */
  logger?: Logger | false
  /** Longest long-poll wait a client may ask for, ms. Default 5 minutes. */
  maxWaitMs?: number
  /**
   * Pushes accepted per push check per second (a token bucket, bursts of as many); more
   * are answered 429 with `Retry-After` and change nothing. Default 10.
   */
  pushRatePerSecond?: number
  /** Long-poll watchers (`?index=`) waiting at once at most; more are answered 503 with `Retry-After`. Default 1000. */
  maxWatchers?: number
  /** Event streams (`/v1/events`) open at once at most; more are answered 503 with `Retry-After`. Default 1000. */
  maxStreams?: number
  /**
   * Client connections open at once at most; a connection beyond that is closed as it
   * arrives, so no client can spend the descriptors the checks need. Default 4096.
   */
  maxConnections?: number
  /** Who may read and write (see docs/api.md, Security). Default: no credential, loopback only. */
  auth?: ApiAuthOptions
  /**
   * Ms a `/metrics` answer, or an answer of a watched read route (`/v1/checks`, …), may take
   * to be written, from its first byte; a client that has not read it all by then has its
   * connection closed. Default `WRITE_DEADLINE_MS`.
   * @internal For tests, which shorten it; not a documented option.
   */
  writeDeadlineMs?: number
}

export interface ApiAuthOptions {
  /**
   * Bearer tokens that may read and write. A `TokenFile` (`--auth-token-file`) is reread
   * by its `reload()`. With tokens, every write needs one, and every read unless `publicRead`.
   */
  tokens?: readonly string[] | TokenFile
  /** Reads (the API, /metrics, the event stream) need no token; writes still do. */
  publicRead?: boolean
  /** Host names the API answers to besides IP literals, localhost and the listen host (421 otherwise). */
  allowedHosts?: readonly string[]
  /** Listen beyond loopback without tokens. Without it, that refuses to start. */
  insecureNoAuth?: boolean
}

const API_OPTION_KEYS = optionKeys<ApiOptions>()({
  host: true,
  port: true,
  logger: true,
  maxWaitMs: true,
  pushRatePerSecond: true,
  maxWatchers: true,
  maxStreams: true,
  maxConnections: true,
  auth: true,
  writeDeadlineMs: true,
})

const API_AUTH_OPTION_KEYS = optionKeys<ApiAuthOptions>()({
  tokens: true,
  publicRead: true,
  allowedHosts: true,
  insecureNoAuth: true,
})

export interface Api {
  /** e.g. `http://127.0.0.1:8008` */
  url: string
  /** Ends event streams and long polls, stops listening and closes every connection. */
  close(): Promise<void>
}

/**
 * A request's headers and body must arrive within this, or the socket is answered 408 and
 * closed: a client that sends 3 bytes of a 100 KB body and then nothing holds a descriptor
 * for 10 s, not forever. Long polls and event streams are GETs without a body, complete the
 * moment their headers arrive, and are not affected.
 */
export const REQUEST_DEADLINE_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 4096
/** Wrong credentials tried per client address per second; past that, its next wrong ones get 429 with Retry-After. */
const REFUSALS_PER_SECOND = 20
export const DEFAULT_MAX_WATCHERS = 1000
export const DEFAULT_MAX_STREAMS = 1000
/**
 * `/metrics` answers in flight at once at most, from the start of their rendering to their
 * last byte written; more are answered 503 with Retry-After. Each pins a whole rendering
 * (~30 MB with 50,000 checks) while it is written, and renderings take turns with the
 * checks on the event loop: a few scrapers (Prometheus, a second one, someone's curl) fit,
 * hundreds at once would make check runs late. `/metrics/monitor` is not limited.
 */
export const MAX_METRICS_ANSWERS = 8
/**
 * A `/metrics` answer, or a watched read route's (`/v1/checks`, `/v1/inspect`, …), not
 * written this long after its first byte is cut: its connection is closed, and what it held
 * (a slot, a rendering) is freed. A client that sends the request and never reads (or reads
 * a few bytes a minute) holds them 30 s, not until it disconnects. A scraper gives up sooner
 * anyway (Prometheus at its `scrape_timeout`, 10 s by default).
 */
export const WRITE_DEADLINE_MS = 30_000
const READ = ['GET', 'HEAD'] as const

/** A rendering of /metrics, shared by the scrapes that arrive while it runs, and its gzip once one asks. */
interface MetricsRendering {
  text: Promise<Buffer[]>
  gzip?: Promise<Buffer>
}

/** What the routes' handlers work with. */
interface RouteServices {
  monitor: Monitor
  access: Access
  events: EventStream
  /** The process's CPU, memory and GC pauses for `/metrics`, counted while the API is up. */
  processMetrics: ProcessMetrics
  pushRatePerSecond: number
  /** See `WRITE_DEADLINE_MS`. */
  writeDeadlineMs: number
}

/**
 * The API's routes, first match wins. `access` is the auth gate's class, `hold` the
 * requests held open (stream slots; long polls), both applied by the dispatcher in
 * `startApi`; methods are listed as served (HEAD only where a GET may be looked at).
 */
function apiRoutes({
  monitor,
  access,
  events,
  processMetrics,
  pushRatePerSecond,
  writeDeadlineMs,
}: RouteServices): ApiRoute[] {
  // One rendering of /metrics at a time, shared by the scrapes that arrive while it runs:
  // with 50,000 checks it is ~30 MB of text, rendered a part at a time (see metrics.ts), and
  // compressed once (on zlib's threads) for the scrapes that take gzip, as Prometheus does.
  let rendering: MetricsRendering | undefined
  const metricsRendering = (): MetricsRendering => {
    if (rendering) return rendering
    const current: MetricsRendering = {
      text: renderMonitorMetrics(monitor.states(), { runs: monitor.runStats, process: processMetrics }).finally(() => {
        if (rendering === current) rendering = undefined
      }),
    }
    rendering = current
    return current
  }
  // Answers of /metrics in flight: each holds its slot from its rendering to its last byte
  // written (or its connection's end), whatever happened.
  const scrapes = new Slots(MAX_METRICS_ANSWERS)
  const checks = checkHandlers(monitor)
  const silences = silenceHandlers(
    monitor.silences,
    () => access.guarded,
    () => monitor.specs(),
  )
  return [
    { methods: READ, path: '/v1', access: 'api', query: [], handler: checks.endpoints },
    {
      methods: READ,
      path: '/v1/checks',
      access: 'api',
      hold: 'watch',
      query: ['state', 'pod', 'node'],
      handler: checks.list,
    },
    // <node>/<pod>/<check>[/history|/transitions], or the id as one encoded segment.
    {
      methods: READ,
      path: '/v1/checks/*',
      shown: '/v1/checks/<node>/<pod>/<check>[/history|/transitions]',
      access: 'api',
      hold: 'watch',
      query: ['since', 'limit'],
      handler: checks.check,
    },
    { methods: READ, path: '/v1/pods/:pod', access: 'api', hold: 'watch', query: ['node'], handler: checks.pod },
    {
      methods: READ,
      path: '/v1/transitions',
      access: 'api',
      query: ['pod', 'id', 'since', 'limit'],
      handler: checks.transitions,
    },
    {
      methods: READ,
      path: '/v1/inspect',
      access: 'api',
      hold: 'watch',
      query: ['pod', 'node'],
      handler: checks.inspect,
    },
    // <check>, <pod>/<check> or <node>/<pod>/<check>, then /start, /fail or /<exit status>.
    // HEAD never writes: a push by HEAD (`curl -I …?token=`) is refused, not half-done.
    {
      methods: ['POST', 'PUT', 'GET'],
      path: '/v1/push/*',
      access: 'push',
      handler: pushHandler(monitor, access, pushRatePerSecond),
    },
    { methods: READ, path: '/v1/silences', access: 'api', query: [], handler: silences.list },
    { methods: ['POST'], path: '/v1/silences', access: 'api', query: [], handler: silences.add },
    { methods: ['DELETE'], path: '/v1/silences/:id', access: 'api', query: [], handler: silences.expire },
    { methods: ['POST'], path: '/v1/silences/:id/expire', access: 'api', query: [], handler: silences.expire },
    {
      methods: ['GET'],
      path: '/v1/events',
      access: 'api',
      hold: 'stream',
      query: [],
      handler: ({ req, res }) => {
        if (events.overBudget)
          throw busy('the open event streams hold as much unread output as they may (slow readers)')
        events.attach(req, res)
      },
    },
    {
      methods: READ,
      path: '/metrics',
      exact: true,
      access: 'api',
      handler: async ({ req, res }) => {
        const release = scrapes.acquire()
        if (!release) {
          throw busy(
            `${scrapes.max} answers of /metrics are being rendered or written, the most this monitor serves at once (GET /metrics/monitor, its own figures, is not limited)`,
          )
        }
        res.once('close', release)
        const answer = metricsRendering()
        const text = await answer.text
        const headers = { 'content-type': PROMETHEUS_TYPE, vary: 'accept-encoding' }
        // HEAD is answered uncompressed: its length is known without compressing 30 MB.
        if (req.method !== 'HEAD' && acceptsGzip(req)) {
          answer.gzip ??= gzipParts(text)
          const compressed = await answer.gzip
          sendWithin(writeDeadlineMs, req, res, 200, [compressed], { ...headers, 'content-encoding': 'gzip' })
          return
        }
        sendWithin(writeDeadlineMs, req, res, 200, text, headers)
      },
    },
    {
      methods: READ,
      path: '/metrics/monitor',
      exact: true,
      access: 'api',
      handler: ({ req, res }) =>
        send(req, res, 200, formatOwnMetrics({ runs: monitor.runStats, process: processMetrics }), {
          'content-type': PROMETHEUS_TYPE,
        }),
    },
    ...DASHBOARD_PATHS.map(
      (path): ApiRoute => ({ methods: READ, path, exact: true, access: 'asset', handler: dashboardFile }),
    ),
  ]
}

/** Parameters any route with a `query` list takes: the cache-buster browsers and jQuery add. */
const ANY_ROUTE_PARAMETERS = ['_']
const WATCH_PARAMETERS = ['index', 'wait']

/** Parameters that may be given more than once: `?state=critical&state=warning` reads as `critical,warning`. */
const REPEATABLE_PARAMETERS = ['state', '_']

/**
 * 400 for a query parameter `route` does not read (see `ApiRoute.query`), and for one
 * given twice that is read once (`?pod=a&pod=b` would have read as `?pod=a`).
 */
function refuseUnknownParameters(method: string, route: ApiRoute, query: URLSearchParams): void {
  if (query.size === 0) return
  const takes = [...(route.query ?? []), ...(route.hold === 'watch' ? WATCH_PARAMETERS : [])]
  const seen = new Set<string>()
  for (const name of query.keys()) {
    if (seen.has(name) && !REPEATABLE_PARAMETERS.includes(name)) {
      throw new HttpError(
        400,
        `query parameter ${JSON.stringify(name)} is given more than once; ${method} ${route.shown ?? route.path} reads one`,
      )
    }
    seen.add(name)
    if (takes.includes(name) || ANY_ROUTE_PARAMETERS.includes(name)) continue
    throw unknownParameter(name, `${method} ${route.shown ?? route.path}`, takes)
  }
}

function dashboardFile({ req, res, url }: ApiCall): void {
  const asset = dashboardAsset(url.pathname) as DashboardAsset
  send(req, res, 200, asset.body, { 'content-type': asset.type, ...asset.headers })
}

/**
 * Starts the monitor's HTTP listener: the JSON API, `/metrics`, the push endpoint, the
 * event stream, the dashboard, and the monitor's own `/livez` and `/readyz`.
 *
 * @example
 * const monitor = new Monitor({ store: openStore('sqlite:monitor.sqlite') })
 * await monitor.load(['manifests/'])
 * monitor.start()
 * const api = await startApi(monitor, { host: '127.0.0.1', port: 8008 })
 * console.log(`dashboard at ${api.url}/`)
 */
export async function startApi(monitor: Monitor, options: ApiOptions): Promise<Api> {
  rejectUnknownKeys('startApi', options, API_OPTION_KEYS, ['writeDeadlineMs'])
  rejectUnknownKeys('startApi: auth', options.auth, API_AUTH_OPTION_KEYS)
  const auth = options.auth ?? {}
  if (!isLoopbackHost(options.host) && auth.tokens === undefined && !auth.insecureNoAuth) {
    throw new Error(
      `listening on ${options.host} reaches beyond this machine and no credential is configured; give auth.tokens (probekit monitor --auth-token-file FILE), or auth.insecureNoAuth (--insecure-no-auth) when something in front checks who may read and write`,
    )
  }
  const logger = options.logger === undefined ? console : options.logger
  const events = new EventStream(monitor)
  const access = accessFor(options)
  // Open event streams were admitted under the old tokens: end them, and they reconnect
  // with a token that is valid now (or get 401).
  const stopDroppingStreams = auth.tokens instanceof TokenFile ? auth.tokens.onReload(() => events.close()) : undefined
  // Wrong credentials per client address (see `paced` below).
  const refusals = new TokenBuckets({
    ratePerSecond: REFUSALS_PER_SECOND,
    maxKeys: 10_000,
    holdForAnnouncedWait: true,
  })
  const streams = new Slots(options.maxStreams ?? DEFAULT_MAX_STREAMS)
  const longPoll = new LongPoll(monitor, access, {
    maxWaitMs: options.maxWaitMs ?? DEFAULT_WAIT_MS,
    maxWatchers: options.maxWatchers ?? DEFAULT_MAX_WATCHERS,
    writeDeadlineMs: options.writeDeadlineMs ?? WRITE_DEADLINE_MS,
  })
  const processMetrics = new ProcessMetrics()
  processMetrics.start()
  const table = new RouteTable(
    apiRoutes({
      monitor,
      access,
      events,
      processMetrics,
      pushRatePerSecond: options.pushRatePerSecond ?? DEFAULT_PUSH_RATE_PER_SECOND,
      writeDeadlineMs: options.writeDeadlineMs ?? WRITE_DEADLINE_MS,
    }),
  )
  const log = limitedLog(logger)

  // The monitor's own health, served by the library it ships. Readiness proves the
  // store answers a query; liveness is the library's lifecycle state.
  const health = createHealth({ logger, timeout: 2000 })
  health.add('store', () => {
    monitor.store.transitions({ limit: 1 })
    return { observedValue: monitor.states().length, observedUnit: 'checks' }
  })
  // An etcd store answers reads from its own copy, so the query above passes while etcd
  // does not answer. Whether etcd answers is a check of its own, and a warning only: every
  // replica shares that etcd, and a readiness that failed with it would take them all out
  // of service at once, while each still checks and serves what it holds.
  const link = (monitor.store as { status?: () => EtcdStoreStatus }).status
  if (typeof link === 'function') {
    health.add(
      'etcd',
      () => {
        const { available, lastError, pendingWrites } = link.call(monitor.store)
        if (!available)
          throw new Error(
            `${lastError ?? 'etcd is not answering'}; checks go on, and ${pendingWrites} key(s) wait in memory until etcd answers`,
          )
        return { observedValue: pendingWrites, observedUnit: 'pending writes' }
      },
      { critical: false },
    )
  }

  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((caught: unknown) => {
      const error = caught instanceof WrongCredential ? paced(caught, req) : caught
      if (error instanceof HttpError || error instanceof AccessRefused) {
        sendJson(req, res, error.statusCode, { error: error.message }, error.headers)
        return
      }
      const route = `${req.method} ${routeOf(req.url)}`
      if (error instanceof ClientGone) {
        log.write('debug', { cause: 'client went away', subject: route }, `monitor api: ${route}: ${error.message}`)
        return
      }
      log.write(
        'error',
        { cause: 'failed', subject: route },
        `monitor api: ${req.method} ${monitor.redact(req.url ?? '')} failed: ${monitor.redact(messageOf(error))}`,
      )
      sendJson(req, res, 500, { error: 'internal error; the monitor log has the details' })
    })
  }

  /**
   * A wrong credential, counted against its client address: past the pace, answered 429
   * with Retry-After instead of 401 (held for the whole wait announced).
   *
   * Only a credential that was compared and matched nothing is counted or held back, never
   * a request whose credential is valid. Holding back the right token too would let anyone
   * who shares an address with the operators lock them out: behind the documented nginx
   * every client is 127.0.0.1, so a stranger sending wrong tokens would starve Prometheus,
   * the dashboard and the pushes. Letting the right token through while held back does
   * tell a guesser which guess was right, and that is acceptable because guessing cannot
   * get there: a token is at least 16 visible ASCII characters and meant to be random
   * (`openssl rand -hex 32` is 256 bits), compared in constant time, so at any rate a
   * network carries the search outlasts the universe. What the pace bounds is the cost and
   * the noise of guessing (one hash per try, refused before a body is read), not its odds.
   */
  function paced(error: WrongCredential, req: IncomingMessage): AccessRefused | HttpError {
    const waitSeconds = refusals.take(peerKey(peerOf(req)))
    if (waitSeconds === 0) return error
    return new HttpError(
      429,
      `too many wrong credentials from this address: at most ${REFUSALS_PER_SECOND} a second are tried; retry after ${waitSeconds} s (a valid token is still accepted)`,
      { 'retry-after': String(waitSeconds) },
    )
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', 'http://monitor.invalid')
    const match = table.match(method, url.pathname)
    if (match.kind === 'bad-encoding')
      throw new HttpError(400, `the path ${JSON.stringify(url.pathname)} is not valid percent-encoding`)
    // Every request passes the gate, by its route's class; an unknown path as the API.
    access.admit(req, match.kind === 'none' ? 'api' : match.route.access)
    if (match.kind === 'none')
      throw new HttpError(404, `no route for ${method} ${url.pathname}; GET /v1 lists the API's routes`)
    if (match.kind === 'method') {
      throw new HttpError(405, `method ${method} is not allowed here; use ${match.allow.join(' or ')}`, {
        allow: match.allow.join(', '),
      })
    }
    const { route, params, rest } = match
    if (route.query) refuseUnknownParameters(method, route, url.searchParams)
    if (route.hold === 'stream') {
      const release = streams.acquire()
      if (!release) throw busy(`${streams.max} event streams are open, the most this monitor serves at once`)
      res.once('close', release)
    }
    const call: ApiCall = {
      req,
      res,
      url,
      query: url.searchParams,
      params,
      rest,
      watch: (produce, scope) => {
        if (route.hold !== 'watch') throw new Error(`route ${route.path} long-polls but does not declare hold: 'watch'`)
        return longPoll.answer(call, produce, scope)
      },
    }
    return route.handler(call)
  }

  const release = async (): Promise<void> => {
    processMetrics.stop()
    longPoll.close()
    stopDroppingStreams?.()
    events.close()
    await health.close()
  }
  const listening = await serve(health.handler(dispatch), {
    port: options.port,
    host: options.host,
    requestDeadlineMs: REQUEST_DEADLINE_MS,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    ipv6AnyAsLoopback: true,
    describeError: (error) =>
      error.code === 'EADDRINUSE'
        ? `${options.host}:${options.port} is already in use; choose another address to listen on`
        : `cannot listen on ${options.host}:${options.port}: ${error.message}`,
  }).catch(async (error: unknown) => {
    // Nothing is left behind: not the token file's reload listener, not the event stream.
    await release()
    throw error
  })
  let closed: Promise<void> | undefined
  return {
    url: listening.url,
    close: () => {
      closed ??= (async () => {
        await release()
        await listening.close()
      })()
      return closed
    },
  }
}

function accessFor(options: ApiOptions): Access {
  const auth = options.auth ?? {}
  let tokens: TokenFile | TokenSet | undefined
  if (auth.tokens instanceof TokenFile) tokens = auth.tokens
  else if (auth.tokens !== undefined) {
    if (auth.tokens.length === 0) throw new TokenError('auth.tokens is empty; give at least one token, or leave it out')
    auth.tokens.forEach((token, i) => {
      checkToken(token, `auth.tokens[${i}]`)
    })
    tokens = new TokenSet(auth.tokens)
  }
  return new Access({
    tokens,
    publicRead: auth.publicRead === true,
    allowedHosts: auth.allowedHosts ?? [],
    listenHost: options.host,
  })
}

function peerOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? ''
}

/**
 * Whose wrong credentials these are, for their pace: an IPv4 address (also written as an
 * IPv4-mapped IPv6 one), or an IPv6 address's /64 — what one host is given, and may rotate
 * through to start afresh with each guess.
 */
export function peerKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1] as string
  if (!address.includes(':')) return address
  const [head = '', tail] = (address.split('%')[0] as string).split('::')
  const first = head ? head.split(':') : []
  const last = tail ? tail.split(':') : []
  const groups =
    tail === undefined ? first : [...first, ...Array(Math.max(0, 8 - first.length - last.length)).fill('0'), ...last]
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`
}

/** A request's route for log lines, at most two path segments (log causes stay few). */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0] as string
  return path.split('/').slice(0, 3).join('/') || '/'
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
