/**
 * The monitor's HTTP API, metrics, push endpoint, event stream and dashboard, on one
 * listener. Everything here only reads the monitor's in-memory state or its store and
 * answers; nothing sits on the checking path.
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
 * | `GET /metrics` | Prometheus text, blackbox exporter names |
 * | `GET /livez`, `/readyz`, `/healthz` | the monitor's own health, through probekit |
 * | `GET /` | the dashboard |
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { durationMs } from '../core/duration.js'
import { jsonSafe } from '../core/inert.js'
import type { Logger } from '../core/logger.js'
import { redactCut } from '../core/redact.js'
import { PROMETHEUS_TYPE } from '../format/prometheus.js'
import { createHealth } from '../health.js'
import { Access, AccessRefused, checkToken, isLoopbackHost, TokenError, TokenFile, TokenSet } from './auth.js'
import { dashboardAsset } from './dashboard/index.js'
import { matchesFilter, sortStates, toInspect } from './inspect.js'
import { limitedLog } from './log-limiter.js'
import { formatMonitorMetrics } from './metrics.js'
import type { Monitor } from './monitor.js'
import { PUSH_REPORTS, type PushKind, parsePushReport } from './push.js'
import { Slots, TokenBuckets } from './rate-limit.js'
import { SILENCE_BODY_MAX_BYTES, silencesRoute } from './silences-api.js'
import { EventStream } from './sse.js'
import { type CheckState, checkId, HEALTH_STATES, type HealthState } from './types.js'

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

export interface Api {
  /** e.g. `http://127.0.0.1:8008` */
  url: string
  /** Ends event streams and long polls, stops listening and closes every connection. */
  close(): Promise<void>
}

/** Largest push body kept; the rest of a longer body is read and dropped (its tail is kept). */
export const PUSH_BODY_KEPT_BYTES = 10 * 1024
/** A push body beyond this is refused with 413. */
const PUSH_BODY_MAX_BYTES = 1024 * 1024
const DEFAULT_WAIT_MS = 5 * 60_000
/**
 * A request's headers and body must arrive within this, or the socket is answered 408 and
 * closed: a client that sends 3 bytes of a 100 KB body and then nothing holds a descriptor
 * for 10 s, not forever. Long polls and event streams are GETs without a body, complete the
 * moment their headers arrive, and are not affected.
 */
export const REQUEST_DEADLINE_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 4096
/** Wrong credentials tried per client address per second; past that, its next tries get 429 with Retry-After. */
const REFUSALS_PER_SECOND = 20
const JSON_TYPE = 'application/json; charset=utf-8'
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const
const INDEX_HEADER = 'x-probekit-index'
export const DEFAULT_PUSH_RATE_PER_SECOND = 10
export const DEFAULT_MAX_WATCHERS = 1000
export const DEFAULT_MAX_STREAMS = 1000
/** Seconds a client refused at the watcher or stream cap is asked to wait. */
const BUSY_RETRY_AFTER_SECONDS = 5

/** A cached answer to watchers: its JSON bytes and, once a client asked for it, their gzip. */
interface Answer {
  body: Buffer
  gzip?: Buffer
}

/** Answers smaller than this are not worth compressing. */
const GZIP_MIN_BYTES = 1024

function acceptsGzip(req: IncomingMessage): boolean {
  const accepted = req.headers['accept-encoding']
  return typeof accepted === 'string' && /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*(,|$))[\d.]+)?\s*(,|$)/i.test(accepted)
}

/** A request whose client went away before its body arrived: nothing to answer, nothing to log as an error. */
class ClientGone extends Error {}

/** A request the API refuses, with the status and the one sentence it answers. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
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
  const auth = options.auth ?? {}
  if (!isLoopbackHost(options.host) && auth.tokens === undefined && !auth.insecureNoAuth) {
    throw new Error(
      `listening on ${options.host} reaches beyond this machine and no credential is configured; give auth.tokens (probekit monitor --auth-token-file FILE), or auth.insecureNoAuth (--insecure-no-auth) when something in front checks who may read and write`,
    )
  }
  const logger = options.logger === undefined ? console : options.logger
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_WAIT_MS
  const closing = new AbortController()
  // Watchers waiting now, ended together when the API closes (one set, not a listener each:
  // EventTarget listeners cost O(n) to add and remove).
  const waiting = new Set<AbortController>()
  const events = new EventStream(monitor)
  const access = accessFor(options)
  // Open event streams were admitted under the old tokens: end them, and they reconnect
  // with a token that is valid now (or get 401).
  const stopDroppingStreams = auth.tokens instanceof TokenFile ? auth.tokens.onReload(() => events.close()) : undefined
  const pushRate = options.pushRatePerSecond ?? DEFAULT_PUSH_RATE_PER_SECOND
  const pushBuckets = new TokenBuckets({ ratePerSecond: pushRate })
  // Refused credentials per client address: guessing tokens is slowed to this rate.
  const refusals = new TokenBuckets({ ratePerSecond: REFUSALS_PER_SECOND, maxKeys: 10_000 })
  const watchers = new Slots(options.maxWatchers ?? DEFAULT_MAX_WATCHERS)
  const streams = new Slots(options.maxStreams ?? DEFAULT_MAX_STREAMS)
  const log = limitedLog(logger)
  // Answers to woken watchers, serialised once per change snapshot and per kind of request.
  const answers = new WeakMap<CheckState[], Map<string, Answer>>()

  // The monitor's own health, served by the library it ships. Readiness proves the
  // store answers a query; liveness is the library's lifecycle state.
  const health = createHealth({ logger, timeout: 2000 })
  health.add('store', () => {
    monitor.store.transitions({ limit: 1 })
    return { observedValue: monitor.states().length, observedUnit: 'checks' }
  })

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof AccessRefused && error.statusCode === 401 && carriesCredential(req))
        refusals.take(peerOf(req))
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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', 'http://monitor.invalid')
    const segments = pathSegments(url.pathname)
    const [first, second] = segments
    const asset = method === 'GET' || method === 'HEAD' ? dashboardAsset(url.pathname) : undefined
    // Only a request that tries a credential is held back: the address's other requests
    // (and a missing credential, which guesses nothing) go on as usual.
    const waitSeconds = carriesCredential(req) ? refusals.wait(peerOf(req)) : 0
    if (waitSeconds > 0)
      throw new HttpError(
        429,
        `too many wrong credentials from this address: at most ${REFUSALS_PER_SECOND} a second are tried; retry after ${waitSeconds} s`,
        { 'retry-after': String(waitSeconds) },
      )
    // Every route passes the gate, by its class: reads and writes by method (see auth.ts).
    access.admit(req, asset ? 'asset' : first === 'v1' && second === 'push' ? 'push' : 'api')

    if (first === 'v1' && second === 'push') {
      // HEAD never writes: a push by HEAD (`curl -I …?token=`) is refused, not half-done.
      allow(method, ['POST', 'PUT', 'GET'])
      return push(req, res, url.searchParams, segments.slice(2))
    }
    if (first === 'v1' && second === 'events' && segments.length === 2) {
      allow(method, ['GET'])
      const release = streams.acquire()
      if (!release) throw busy(`${streams.max} event streams are open, the most this monitor serves at once`)
      res.once('close', release)
      events.attach(req, res)
      return
    }
    if (asset) {
      send(req, res, 200, asset.body, { 'content-type': asset.type, ...asset.headers })
      return
    }
    if (url.pathname === '/metrics') {
      allow(method, ['GET', 'HEAD'])
      send(req, res, 200, formatMonitorMetrics(sortStates(monitor.states())), { 'content-type': PROMETHEUS_TYPE })
      return
    }
    if (first !== 'v1') throw notFound(method, url.pathname)
    if (second === 'silences') {
      const body =
        method === 'POST' ? (await readBodyTail(req, SILENCE_BODY_MAX_BYTES, SILENCE_BODY_MAX_BYTES)).text : ''
      const answer = await silencesRoute(monitor.silences, method, segments.slice(2), body, access.guarded)
      sendJson(req, res, answer.status, answer.body)
      return
    }
    allow(method, ['GET', 'HEAD'])
    const query = url.searchParams

    if (segments.length === 1) {
      sendJson(req, res, 200, { endpoints: ENDPOINTS })
      return
    }
    const variant = `${url.pathname}?${variantOf(query)}`
    if (second === 'checks' && segments.length === 2) {
      const filter = stateFilter(query)
      return blocking(req, res, query, variant, (states) => states.filter(filter))
    }
    if (second === 'checks') {
      const rest = segments.slice(2)
      const tail = rest.length === 4 || (rest.length === 2 && rest[0]?.includes('/')) ? rest.pop() : undefined
      const id = idFrom(rest)
      if (tail === undefined) {
        return blocking(req, res, query, variant, (states) => {
          const state = states.find((s) => s.id === id)
          if (!state) throw unknownCheck(id)
          return state
        })
      }
      if (!monitor.state(id)) throw unknownCheck(id)
      if (tail === 'history') {
        const points = monitor.store.history(id, { ...since(query), limit: limit(query, 1000, 100_000) })
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
    }
    if (second === 'pods' && segments.length === 3) {
      const pod = segments[2] as string
      const node = query.get('node') ?? undefined
      return blocking(req, res, query, variant, (states) => {
        const found = states.filter((s) => matchesFilter(s, { pod, node }))
        if (found.length === 0 && !states.some((s) => s.pod === pod)) {
          throw new HttpError(
            404,
            `no pod named ${JSON.stringify(pod)}; GET /v1/checks lists the pods the monitor knows`,
          )
        }
        return found
      })
    }
    if (second === 'transitions' && segments.length === 2) {
      const id = query.get('id') ?? undefined
      const pod = query.get('pod') ?? undefined
      const transitions = monitor.store.transitions({
        ...(id !== undefined ? { id } : {}),
        ...(pod !== undefined ? { pod } : {}),
        ...since(query),
        limit: limit(query),
      })
      sendJson(req, res, 200, { transitions })
      return
    }
    if (second === 'inspect' && segments.length === 2) {
      const filter = { pod: query.get('pod') ?? undefined, node: query.get('node') ?? undefined }
      return blocking(req, res, query, variant, (states) => toInspect(states, filter))
    }
    throw notFound(method, url.pathname)
  }

  /**
   * Answers with `produce(states)`, and with `?index=N` waits first until the monitor's
   * index passes N (or `wait` runs out), as Consul's blocking queries do. Every answer
   * carries the index the client passes back next time. Watchers woken by one change share
   * its snapshot, and the answer for each `variant` (path and filters) is serialised once.
   */
  async function blocking(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    variant: string,
    produce: (states: CheckState[]) => unknown,
  ): Promise<void> {
    const rawIndex = query.get('index')
    let index = monitor.index
    let states: CheckState[] | undefined
    if (rawIndex !== null) {
      const after = parseIndex(rawIndex)
      const waitMs = parseWait(query.get('wait'), maxWaitMs)
      // An index above the monitor's means it restarted: answer at once, as Consul does.
      // Below it, the monitor answers from its latest snapshot, shared by every watcher.
      const release = after <= index ? watchers.acquire() : undefined
      if (after < index && !release) {
        const snapshot = await monitor.waitForChange(after, 0)
        index = snapshot.index
        states = snapshot.states
      } else if (after <= index) {
        if (!release) throw busy(`${watchers.max} watchers are waiting, the most this monitor serves at once`)
        const abort = new AbortController()
        const onClose = () => abort.abort()
        res.on('close', onClose)
        waiting.add(abort)
        if (closing.signal.aborted) abort.abort()
        try {
          // Jitter spreads the wake-ups of many watchers whose waits end together.
          const jittered = waitMs + Math.floor(Math.random() * (waitMs / 16))
          const changed = await monitor.waitForChange(after, jittered, abort.signal)
          index = changed.index
          states = changed.states
        } finally {
          release()
          res.off('close', onClose)
          waiting.delete(abort)
        }
        if (res.destroyed) return
        // The token may have been revoked (SIGHUP) during the wait.
        access.admit(req, 'api')
      }
    }
    if (!states) {
      sendJson(req, res, 200, produce(sortStates(monitor.states())), { [INDEX_HEADER]: String(index) })
      return
    }
    let bodies = answers.get(states)
    if (!bodies) answers.set(states, (bodies = new Map()))
    let answer = bodies.get(variant)
    if (answer === undefined) {
      // Bytes, so 2,000 answers write the same bytes instead of encoding the text 2,000 times.
      answer = { body: Buffer.from(jsonText(produce(sortStates([...states])))) }
      bodies.set(variant, answer)
    }
    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      [INDEX_HEADER]: String(index),
      vary: 'accept-encoding',
    }
    // Compressed once per snapshot for every watcher that accepts it: 2,000 watchers of a
    // large fleet cost a few megabytes per change instead of a few hundred.
    if (answer.body.length >= GZIP_MIN_BYTES && acceptsGzip(req)) {
      answer.gzip ??= gzipSync(answer.body, { level: 1 })
      send(req, res, 200, answer.gzip, { ...headers, 'content-encoding': 'gzip' })
      return
    }
    send(req, res, 200, answer.body, headers)
  }

  /**
   * `/v1/push/<name>[/<action>]`: the name is `check`, `pod/check` or `node/pod/check`
   * (as the monitor resolves it), the optional action `start`, `fail` or an exit status.
   */
  async function push(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    rest: string[],
  ): Promise<void> {
    let kind: PushKind = 'success'
    const last = rest[rest.length - 1]
    const report = rest.length >= 2 && last !== undefined ? parsePushReport(last) : undefined
    if (report && 'problem' in report) throw new HttpError(400, report.problem)
    if (report) {
      rest = rest.slice(0, -1)
      kind = report.kind
    }
    const name = rest.join('/')
    if (rest.length === 0 || rest.length > 3 || rest.some((part) => part === '')) {
      throw new HttpError(
        404,
        'push to /v1/push/<check> (or <pod>/<check>), optionally followed by /start, /fail or /<exit status>',
      )
    }
    const pushCheck = monitor.pushCheck(name)
    const { secret } = access.admitPush(req, query, name, pushCheck)
    // A GET can be sent cross-site by any page (an <img>); it changes state only with a secret.
    if (req.method === 'GET' && !secret) {
      throw new HttpError(
        405,
        `a GET does not change a push check's state; POST to this URL (curl -X POST), or give the check a token and add ?token=TOKEN`,
        { allow: 'POST, PUT' },
      )
    }
    const unknown = (): HttpError => {
      // `/v1/push/backup/finished`: the name before the last part is a push check, so the
      // last part was meant as a report.
      const before = rest.slice(0, -1).join('/')
      if (rest.length >= 2 && monitor.pushCheck(before))
        return new HttpError(400, `${JSON.stringify(last)} is not a push report for ${before}; use ${PUSH_REPORTS}`)
      return new HttpError(
        404,
        `no push check named ${JSON.stringify(name)}; declare it in a manifest (type: push) or check the name`,
      )
    }
    const id = pushCheck?.id
    if (id === undefined) throw unknown()
    // Refused before the body is read: a flood costs the monitor as little as possible.
    const retryAfterSeconds = pushBuckets.take(id)
    if (retryAfterSeconds > 0) {
      throw new HttpError(
        429,
        `too many pushes for ${id}: at most ${pushRate} a second are accepted (--push-rate); retry after ${retryAfterSeconds} s`,
        { 'retry-after': String(retryAfterSeconds) },
      )
    }
    const { text, cut } = await readBodyTail(req, PUSH_BODY_KEPT_BYTES, PUSH_BODY_MAX_BYTES)
    // Only the tail was kept: a credential may straddle where it starts, so that is masked too.
    const body = cut ? redactCut(text, { start: true }, monitor.secrets) : text
    if (!monitor.push(id, kind, body || undefined)) throw unknown()
    const exitStatus = typeof kind === 'number' ? { exitStatus: kind } : {}
    const reported = typeof kind === 'number' ? (kind === 0 ? 'success' : 'fail') : kind
    sendJson(req, res, 200, { ok: true, check: name, kind: reported, ...exitStatus })
  }

  const server = createServer(
    {
      keepAliveTimeout: 5000,
      requestTimeout: REQUEST_DEADLINE_MS,
      headersTimeout: REQUEST_DEADLINE_MS,
      // How often Node looks for requests past the deadline (its default, 30 s, would let
      // a stalled body hold its socket for up to 40 s).
      connectionsCheckingInterval: 1000,
    },
    health.handler(route),
  )
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const failure: NodeJS.ErrnoException = new Error(
        error.code === 'EADDRINUSE'
          ? `${options.host}:${options.port} is already in use; choose another address to listen on`
          : `cannot listen on ${options.host}:${options.port}: ${error.message}`,
      )
      // The code lets the monitor command turn it into its own usage error.
      if (error.code !== undefined) failure.code = error.code
      reject(failure)
    }
    server.once('error', onError)
    server.listen(options.port, options.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host =
    address.address === '0.0.0.0' || address.address === '::'
      ? '127.0.0.1'
      : address.family === 'IPv6'
        ? `[${address.address}]`
        : address.address
  let closed: Promise<void> | undefined
  return {
    url: `http://${host}:${address.port}`,
    close: () => {
      closed ??= (async () => {
        closing.abort()
        stopDroppingStreams?.()
        for (const abort of waiting) abort.abort()
        events.close()
        await health.close()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
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
  'GET /livez',
  'GET /readyz',
]

function pathSegments(pathname: string): string[] {
  const raw = pathname.split('/').filter((s) => s !== '')
  try {
    return raw.map((s) => decodeURIComponent(s))
  } catch {
    throw new HttpError(400, `the path ${JSON.stringify(pathname)} is not valid percent-encoding`)
  }
}

/** `node/pod/check` from three path segments, or from one segment with encoded slashes. */
function idFrom(parts: string[]): string {
  if (parts.length === 3)
    return checkId({ node: parts[0] as string, pod: parts[1] as string, check: parts[2] as string })
  if (parts.length === 1 && (parts[0] as string).split('/').length === 3) return parts[0] as string
  throw new HttpError(404, 'address a check as /v1/checks/<node>/<pod>/<check> (each part URL-encoded)')
}

function unknownCheck(id: string): HttpError {
  return new HttpError(404, `no check ${JSON.stringify(id)}; GET /v1/checks lists the checks the monitor knows`)
}

function carriesCredential(req: IncomingMessage): boolean {
  return req.headers.authorization !== undefined || /[?&]token=/.test(req.url ?? '')
}

function peerOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? ''
}

function notFound(method: string, path: string): HttpError {
  return new HttpError(404, `no route for ${method} ${path}; GET /v1 lists the API's routes`)
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `method ${method} is not allowed here; use ${methods.join(' or ')}`, {
      allow: methods.join(', '),
    })
  }
}

function stateFilter(query: URLSearchParams): (s: CheckState) => boolean {
  const wanted = query.getAll('state').flatMap((v) => v.split(','))
  for (const state of wanted) {
    if (!HEALTH_STATES.includes(state as HealthState)) {
      throw new HttpError(
        400,
        `state ${JSON.stringify(state)} is not a health state; use passing, warning, critical or unknown`,
      )
    }
  }
  const pod = query.get('pod')
  const node = query.get('node')
  return (s) =>
    (wanted.length === 0 || wanted.includes(s.state)) &&
    (pod === null || s.pod === pod) &&
    (node === null || s.node === node)
}

function parseIndex(raw: string): number {
  if (!/^\d+$/.test(raw))
    throw new HttpError(400, `index ${JSON.stringify(raw)} must be a whole number from X-Probekit-Index`)
  return Number(raw)
}

/** Consul's wait syntax: `30s`, `5m`, `500ms`, or a bare number of seconds; capped. */
export function parseWait(raw: string | null, maxMs: number): number {
  if (raw === null || raw === '') return maxMs
  const ms = durationMs(raw)
  if (ms === undefined)
    throw new HttpError(400, `wait ${JSON.stringify(raw)} is not a duration; use e.g. 30s, 5m or 500ms`)
  return Math.min(ms, maxMs)
}

function since(query: URLSearchParams): { since?: string } {
  const raw = query.get('since')
  if (raw === null) return {}
  const ms = Date.parse(raw)
  if (Number.isNaN(ms))
    throw new HttpError(400, `since ${JSON.stringify(raw)} is not a time; use ISO 8601 such as 2026-01-31T12:00:00Z`)
  return { since: new Date(ms).toISOString() }
}

function limit(query: URLSearchParams, fallback = 100, max = 10_000): number {
  const raw = query.get('limit')
  if (raw === null) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new HttpError(400, `limit ${JSON.stringify(raw)} must be a whole number of at least 1`)
  return Math.min(Number(raw), max)
}

/** Reads a body, keeping at most `keep` bytes (its tail: a log's end says why it failed). */
function readBodyTail(req: IncomingMessage, keep: number, max: number): Promise<{ text: string; cut: boolean }> {
  // A refused body is not read on: the 413 goes out and the connection closes after it.
  const tooLarge = (what: string) =>
    new HttpError(413, `${what} is over ${max} bytes; send the log's tail`, { connection: 'close' })
  const declared = Number(req.headers['content-length'])
  if (declared > max) return Promise.reject(tooLarge(`push body of ${declared} bytes`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let kept = 0
    let total = 0
    req.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > max) {
        req.removeAllListeners('data')
        req.pause()
        reject(tooLarge('push body'))
        return
      }
      chunks.push(chunk)
      kept += chunk.length
      while (kept - (chunks[0]?.length ?? 0) >= keep) kept -= (chunks.shift() as Buffer).length
    })
    let ended = false
    req.on('end', () => {
      ended = true
      const body = Buffer.concat(chunks)
      resolve({ text: body.subarray(Math.max(0, body.length - keep)).toString('utf8'), cut: total > keep })
    })
    // A client that disconnects mid-body is gone, not a failure of the monitor.
    const gone = () => reject(new ClientGone('the client went away before sending the whole body'))
    req.on('error', gone)
    req.on('close', () => {
      if (!ended) gone()
    })
  })
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  body: string | Buffer,
  headers: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return
  // An answer given before the body was read (401, 403, 429, …) ends the connection: the
  // rest of the body is never read, so a client cannot hold the socket by trickling it.
  const unread = req.complete ? {} : { connection: 'close' }
  res.writeHead(statusCode, {
    ...COMMON_HEADERS,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
    ...unread,
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(req, res, statusCode, jsonText(value), { 'content-type': JSON_TYPE, ...headers })
}

function jsonText(value: unknown): string {
  // jsonSafe: the same JSON to a parser, inert when `curl` prints it to a terminal.
  return `${jsonSafe(JSON.stringify(value, null, 2))}\n`
}

/** 503 for a client refused at a cap, with the seconds to wait. */
function busy(what: string): HttpError {
  return new HttpError(503, `${what}; retry after ${BUSY_RETRY_AFTER_SECONDS} s`, {
    'retry-after': String(BUSY_RETRY_AFTER_SECONDS),
  })
}

/** The query of a request without its long-poll parameters: requests that get the same answer. */
function variantOf(query: URLSearchParams): string {
  const kept = [...query].filter(([key]) => key !== 'index' && key !== 'wait')
  return new URLSearchParams(kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toString()
}

/** A request's route for log lines, at most two path segments (log causes stay few). */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0] as string
  return path.split('/').slice(0, 3).join('/') || '/'
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
