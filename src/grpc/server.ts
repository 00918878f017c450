/**
 * `grpc.health.v1.Health` on an app's own `@grpc/grpc-js` server, answered from the same
 * `Health` instance as the HTTP paths: the same probes, runner, deadlines, single-flight and
 * caches. Kubernetes' native `grpc:` probes, Envoy and service meshes then read probekit's
 * model.
 *
 * | service name | answers from |
 * |---|---|
 * | `""`, `ready` | the ready group |
 * | `live`, `startup` | that group |
 * | a check's name | that check alone |
 * | anything else | `NOT_FOUND` (Check), `SERVICE_UNKNOWN` (Watch) |
 *
 * `pass` and `warn` are `SERVING`, `fail` is `NOT_SERVING`; once shutdown begins every
 * service answers `NOT_SERVING`, as the gRPC health protocol recommends. Watch streams stay
 * open while the server serves; they end (after `NOT_SERVING`) when `gracefulShutdown`
 * closes the servers, so the app's own `server.tryShutdown()` in a cleanup hook does not
 * wait for them.
 *
 * Callers are untrusted: open Watch streams are capped (`maxWatchStreams`, beyond it
 * `RESOURCE_EXHAUSTED`), a service name longer than `maxServiceNameBytes` is refused with
 * `INVALID_ARGUMENT` and never kept, a stream whose client does not read holds at most one
 * pending status (the latest), and a name quoted in an error is cut and escaped.
 *
 * @example
 * import { Server, ServerCredentials } from '@grpc/grpc-js'
 * import { createHealth, gracefulShutdown } from 'probekit'
 * import { addHealthService } from 'probekit/grpc'
 *
 * const health = createHealth()
 * const server = new Server()
 * addHealthService(server, health)
 * server.bindAsync('0.0.0.0:50051', ServerCredentials.createInsecure(), () => {})
 * gracefulShutdown(health).onShutdown('grpc', () => new Promise((resolve) => server.tryShutdown(resolve)))
 */
import { reasonOf } from '../core/errors.js'
import { type ChangeEvent, type HealthCore, LIFECYCLE_CHECK } from '../core/health.js'
import { cutShort, jsonSafe } from '../core/inert.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { isNotRunYet } from '../core/probe-runner.js'
import { worstStatus } from '../core/status.js'
import type { Group, Report, Status } from '../core/types.js'
import { closeWithServers } from '../http/shutdown.js'
import {
  CHECK_PATH,
  decodeCheckRequest,
  encodeCheckResponse,
  encodeListResponse,
  GrpcCode,
  LIST_PATH,
  ServingStatus,
  WATCH_PATH,
} from './protocol.js'

/** The part of a grpc-js `Server` this needs: `addService`. */
export interface GrpcServerLike {
  addService(service: Record<string, unknown>, implementation: Record<string, (...args: never[]) => void>): void
}

export interface HealthServiceOptions {
  /**
   * More service names, each answered from a group or a check: e.g.
   * `{ 'orders.v1.Orders': 'ready' }` for a mesh that asks by the app's own service name.
   */
  aliases?: Record<string, string>
  /**
   * Most Watch streams open at once on this service; a Watch call beyond it ends at once
   * with `RESOURCE_EXHAUSTED`, and a slot frees when a stream is cancelled. Each stream
   * costs a few kilobytes whatever its client does. Default 1000.
   */
  maxWatchStreams?: number
  /**
   * Longest service name Check and Watch accept, in UTF-8 bytes; a longer one is answered
   * `INVALID_ARGUMENT` and never kept. Names that are groups, checks and aliases are short;
   * raise it only if one of yours is longer. Default 512.
   */
  maxServiceNameBytes?: number
}

const HEALTH_SERVICE_OPTION_KEYS = optionKeys<HealthServiceOptions>()({
  aliases: true,
  maxWatchStreams: true,
  maxServiceNameBytes: true,
})

const DEFAULT_MAX_WATCH_STREAMS = 1000
const DEFAULT_MAX_SERVICE_NAME_BYTES = 512
/** How much of a caller's service name an error message quotes, in characters. */
const QUOTED_NAME_CHARS = 40

/** The service added to the server; `close()` ends every Watch stream. */
export interface HealthService {
  /**
   * Ends the Watch streams (each after its last status, then status OK) and stops following
   * the health instance; a Watch call from then on gets one status and ends. The shutdown
   * helper and `health.close()` call it; call it yourself before `server.tryShutdown()`
   * when shutting down without them.
   */
  close(): void
}

/** What a service name stands for: a group, or one check. */
type Target = { group: Group; check?: undefined } | { group: 'startup'; check: string }

interface ServerCallLike<Req> {
  request: Req
  cancelled?: boolean
  getDeadline?(): Date | number
  on(event: 'cancelled', listener: () => void): unknown
}

interface WritableCallLike<Req> extends ServerCallLike<Req> {
  /** false once the stream's buffer is full: wait for 'drain' before writing more. */
  write(message: { status: number }): boolean
  end(): void
  once(event: 'drain', listener: () => void): unknown
  /** grpc-js ends a server stream with this status. */
  emit(event: 'error', error: GrpcError): boolean
}

type GrpcError = { code: number; details: string }
type UnaryCallback<T> = (error: GrpcError | null, value?: T) => void

interface Watcher {
  service: string
  target: Target | undefined
  /** Its first status is sent: until then changes are not sent (the first one says them). */
  started: boolean
  /** The last status written to the stream. */
  sent: number | undefined
  /** write() returned false and 'drain' has not come yet: nothing more is written. */
  blocked: boolean
  /** The latest status while blocked, written at 'drain': updates collapse into one. */
  pending: number | undefined
  call: WritableCallLike<{ service: string }>
}

const GROUP_NAMES: Record<string, Group> = { '': 'ready', ready: 'ready', live: 'live', startup: 'startup' }

/** Evaluates a whole group: one options object for every call. */
const WHOLE_GROUP = Object.freeze({})

/**
 * The four serving statuses, encoded once: grpc-js copies a serialized message into its
 * frame and never writes to it, so every answer can share these bytes.
 */
const ENCODED_STATUS = [0, 1, 2, 3].map((status) => encodeCheckResponse(status))

function encodedStatus(status: number): Buffer {
  return ENCODED_STATUS[status] ?? encodeCheckResponse(status)
}

/**
 * Adds `grpc.health.v1.Health` (Check, Watch, List) to `server`, answered from `health`.
 * Call it before `server.bindAsync`/`start`, as for any grpc-js service.
 */
export function addHealthService(
  server: GrpcServerLike,
  health: HealthCore,
  options: HealthServiceOptions = {},
): HealthService {
  if (!server || typeof server.addService !== 'function') {
    throw new TypeError('addHealthService(server, health): server must be a @grpc/grpc-js Server')
  }
  rejectUnknownKeys('addHealthService', options, HEALTH_SERVICE_OPTION_KEYS)
  const maxWatchStreams = positiveInteger(options.maxWatchStreams, 'maxWatchStreams', DEFAULT_MAX_WATCH_STREAMS)
  const maxServiceNameBytes = positiveInteger(
    options.maxServiceNameBytes,
    'maxServiceNameBytes',
    DEFAULT_MAX_SERVICE_NAME_BYTES,
  )
  const aliases = new Map(Object.entries(options.aliases ?? {}))
  for (const alias of aliases.keys()) {
    if (Buffer.byteLength(alias) > maxServiceNameBytes) {
      throw new RangeError(
        `addHealthService: alias ${quotedName(alias)} is longer than maxServiceNameBytes (${maxServiceNameBytes}); shorten it or raise the option`,
      )
    }
  }
  const watchers = new Set<Watcher>()
  let closed = false
  // Last known status of each check, from reports and change events: what Watch streams
  // are computed from, so a change costs no probe run. Never the lifecycle check: its verdict
  // depends on the group (a draining process fails ready, passes live), so it is asked for
  // each group afresh, never carried over from a report of another.
  const known = new Map<string, Status>()

  const resolve = (service: string): Target | undefined => {
    const name = aliases.get(service) ?? service
    // A caller's name: only the table's own keys, never what every object inherits (constructor).
    const group = Object.hasOwn(GROUP_NAMES, name) ? GROUP_NAMES[name] : undefined
    if (group) return { group }
    if (health.checkNames('startup').includes(name)) return { group: 'startup', check: name }
    return undefined
  }

  /** Keeps a report's statuses, and tells the streams what they change. */
  const remember = (report: Report): void => {
    let changed = false
    for (const check of report.checks) {
      if (check.name === LIFECYCLE_CHECK || known.get(check.name) === check.status) continue
      known.set(check.name, check.status)
      changed = true
      if (isNotRunYet(check)) followFirstResults(report.group)
    }
    if (changed) update()
  }

  /** Sends every stream its status as now known (a stream has a status once, not twice). */
  const update = (): void => {
    for (const watcher of watchers) {
      if (!watcher.started) continue
      // A name unknown so far may have become a check since (health.add after start).
      watcher.target ??= resolve(watcher.service)
      send(watcher, watcher.target ? knownStatus(watcher.target) : ServingStatus.SERVICE_UNKNOWN)
    }
  }

  // A background probe that has not run yet counts as failing, and its first result is no
  // transition when it passes (health emits none for a first pass): without this, a stream
  // opened before that run would say NOT_SERVING until the probe next changed.
  const awaitingFirstResults = new Set<Group>()
  const followFirstResults = (group: Group): void => {
    if (closed || awaitingFirstResults.has(group)) return
    awaitingFirstResults.add(group)
    health.firstResults(group).then(() => {
      awaitingFirstResults.delete(group)
      if (closed) return
      // Background probes answer from their latest result: reading it runs nothing.
      for (const { name } of health.deadlines(group, 'background')) {
        const report = health.evaluate(group, { only: name })
        if (!(report instanceof Promise)) remember(report)
      }
    }, noop)
  }

  // As the model says, shutdown included: from beginShutdown() "" and ready (and startup)
  // fail with the lifecycle check, live passes (a draining process is not broken), as
  // /readyz and /livez answer over HTTP.
  const servingOf = (status: Status): number => (status === 'fail' ? ServingStatus.NOT_SERVING : ServingStatus.SERVING)

  /** Runs what `target` needs (sharing runs and caches with every other caller). */
  const evaluate = (target: Target): number | Promise<number> => {
    const report = health.evaluate(target.group, target.check === undefined ? WHOLE_GROUP : { only: target.check })
    const settle = (r: Report): number => {
      remember(r)
      return servingOf(r.status)
    }
    return report instanceof Promise ? report.then(settle) : settle(report)
  }

  /** The status from what is known, without running anything. */
  const knownStatus = (target: Target): number => {
    if (target.check !== undefined) {
      if (target.check === LIFECYCLE_CHECK) return servingOf(health.lifecycleResult('startup').status)
      const status = known.get(target.check)
      return status === undefined ? ServingStatus.UNKNOWN : servingOf(status)
    }
    const statuses: Status[] = [health.lifecycleResult(target.group).status]
    for (const name of health.checkNames(target.group)) {
      if (name === LIFECYCLE_CHECK) continue
      const status = known.get(name)
      if (status !== undefined) statuses.push(status)
    }
    return servingOf(worstStatus(statuses))
  }

  /**
   * Writes `status` unless the stream has it already. While the client does not read (the
   * buffer is full), only the latest status is remembered and written at 'drain': the
   * protocol asks for the current status, not every step, and a stalled client must not
   * grow the server's memory with each change.
   */
  const send = (watcher: Watcher, status: number): void => {
    if (watcher.call.cancelled) return
    if (watcher.blocked) {
      watcher.pending = status
      return
    }
    if (watcher.sent === status) return
    watcher.sent = status
    if (watcher.call.write({ status })) return
    watcher.blocked = true
    watcher.call.once('drain', () => {
      watcher.blocked = false
      const pending = watcher.pending
      watcher.pending = undefined
      if (pending !== undefined) send(watcher, pending)
    })
  }

  /** Sends the watcher its last status (NOT_SERVING once shutdown has begun), then status OK. */
  const finish = (watcher: Watcher): void => {
    watcher.target ??= resolve(watcher.service)
    // The last message goes behind whatever is buffered, full or not: end() flushes it, and
    // nothing is written after it (a 'drain' then finds nothing pending).
    watcher.blocked = false
    watcher.pending = undefined
    send(watcher, watcher.target ? knownStatus(watcher.target) : ServingStatus.SERVICE_UNKNOWN)
    if (!watcher.call.cancelled) watcher.call.end()
  }

  /** INVALID_ARGUMENT for a name over the limit, quoting only its start; undefined if it fits. */
  const nameTooLong = (service: string): GrpcError | undefined => {
    // A name of at most max/3 characters fits whatever it holds (3 bytes a UTF-16 unit at most).
    if (service.length * 3 <= maxServiceNameBytes) return undefined
    const bytes = Buffer.byteLength(service)
    if (bytes <= maxServiceNameBytes) return undefined
    return {
      code: GrpcCode.INVALID_ARGUMENT,
      details: `service name ${quotedName(service)} is ${bytes} bytes long; this server accepts at most ${maxServiceNameBytes}`,
    }
  }

  const onChange = (event: ChangeEvent): void => {
    if (event.kind === 'check') known.set(event.name, event.current as Status)
    update()
  }
  health.on('change', onChange)

  const check = (call: ServerCallLike<{ service: string }>, callback: UnaryCallback<{ status: number }>): void => {
    const service = call.request.service
    const tooLong = nameTooLong(service)
    if (tooLong) {
      callback(tooLong)
      return
    }
    const target = resolve(service)
    if (!target) {
      callback({ code: GrpcCode.NOT_FOUND, details: `unknown service ${quotedName(service)}` })
      return
    }
    let status: number | Promise<number>
    try {
      status = evaluate(target)
    } catch (error) {
      callback({ code: GrpcCode.INTERNAL, details: reasonOf(error) })
      return
    }
    if (typeof status === 'number') {
      callback(null, { status })
      return
    }
    // A probe still running: answer when it settles, but never past the caller's deadline.
    let answered = false
    let timer: NodeJS.Timeout | undefined
    const answer = (error: GrpcError | null, value?: { status: number }): void => {
      if (answered) return
      answered = true
      if (timer) clearTimeout(timer)
      callback(error, value)
    }
    const remainingMs = deadlineMs(call)
    if (remainingMs !== undefined) {
      timer = setTimeout(
        () => answer({ code: GrpcCode.DEADLINE_EXCEEDED, details: 'the health check outlasted the call deadline' }),
        remainingMs,
      )
    }
    call.on('cancelled', () => {
      answered = true
      if (timer) clearTimeout(timer)
    })
    status.then(
      (value) => answer(null, { status: value }),
      (error: unknown) => answer({ code: GrpcCode.INTERNAL, details: reasonOf(error) }),
    )
  }

  const watch = (call: WritableCallLike<{ service: string }>): void => {
    const service = call.request.service
    // Refused before anything holds the name: an over-long name is never kept per stream.
    const tooLong = nameTooLong(service)
    if (tooLong) {
      call.emit('error', tooLong)
      return
    }
    // After close() a call is answered once and ended at once, so it takes no slot.
    if (!closed && watchers.size >= maxWatchStreams) {
      call.emit('error', {
        code: GrpcCode.RESOURCE_EXHAUSTED,
        details: `this server has ${maxWatchStreams} Watch streams open, its limit (maxWatchStreams); retry later, or poll with Check`,
      })
      return
    }
    const watcher: Watcher = {
      service,
      target: resolve(service),
      started: false,
      sent: undefined,
      blocked: false,
      pending: undefined,
      call,
    }
    if (closed) {
      // The servers are closing: a stream held open now would hold their shutdown open.
      finish(watcher)
      return
    }
    watchers.add(watcher)
    call.on('cancelled', () => watchers.delete(watcher))
    const target = watcher.target
    if (!target) {
      watcher.started = true
      send(watcher, ServingStatus.SERVICE_UNKNOWN)
      return
    }
    // The first status is what is known once the evaluation settles: its report, and what
    // changed while it ran (shutdown begun, a check's transition), which it did not see.
    const start = (): void => {
      if (!watchers.has(watcher)) return
      watcher.started = true
      send(watcher, knownStatus(target))
    }
    const first = evaluate(target)
    if (typeof first === 'number') start()
    else first.then(start, noop)
  }

  const list = (_call: unknown, callback: UnaryCallback<Map<string, number>>): void => {
    const groups: Group[] = ['ready', 'live', 'startup']
    const reports = groups.map((group) => health.evaluate(group))
    Promise.all(reports).then(
      ([ready, live, startup]) => {
        const statuses = new Map<string, number>()
        statuses.set('', servingOf((ready as Report).status))
        statuses.set('ready', servingOf((ready as Report).status))
        statuses.set('live', servingOf((live as Report).status))
        statuses.set('startup', servingOf((startup as Report).status))
        for (const result of (startup as Report).checks) statuses.set(result.name, servingOf(result.status))
        for (const report of [ready, live, startup]) remember(report as Report)
        for (const [alias, name] of aliases) {
          const target = resolve(name)
          if (target) statuses.set(alias, knownStatus(target))
        }
        callback(null, statuses)
      },
      (error: unknown) => callback({ code: GrpcCode.INTERNAL, details: reasonOf(error) }),
    )
  }

  server.addService(SERVICE_DEFINITION, { Check: check, Watch: watch, List: list } as Record<
    string,
    (...args: never[]) => void
  >)

  const close = (): void => {
    if (closed) return
    closed = true
    health.off('change', onChange)
    stopClosingWithServers()
    stopClosingWithHealth()
    for (const watcher of watchers) finish(watcher)
    watchers.clear()
  }
  // Watch streams end when the shutdown helper closes the servers (before its cleanup hooks,
  // where the app's tryShutdown() runs), or at the latest with the health instance.
  const stopClosingWithServers = closeWithServers(health, close)
  const stopClosingWithHealth = health.onClose(async () => close())

  return { close }
}

/** The service definition grpc-js takes: paths and (de)serializers of the three methods. */
const SERVICE_DEFINITION = {
  Check: {
    path: CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: (bytes: Buffer) => decodeCheckRequest(bytes),
    responseSerialize: (value: { status: number }) => encodedStatus(value.status),
    responseDeserialize: () => ({}),
    originalName: 'check',
  },
  Watch: {
    path: WATCH_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: (bytes: Buffer) => decodeCheckRequest(bytes),
    responseSerialize: (value: { status: number }) => encodedStatus(value.status),
    responseDeserialize: () => ({}),
    originalName: 'watch',
  },
  List: {
    path: LIST_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: () => ({}),
    responseSerialize: (value: Map<string, number>) => encodeListResponse(value),
    responseDeserialize: () => ({}),
    originalName: 'list',
  },
}

/** Milliseconds left before the caller's deadline, or undefined without one. */
function deadlineMs(call: ServerCallLike<unknown>): number | undefined {
  const deadline = call.getDeadline?.()
  if (deadline === undefined) return undefined
  const at = deadline instanceof Date ? deadline.getTime() : deadline
  if (!Number.isFinite(at)) return undefined
  return Math.max(0, at - Date.now())
}

/**
 * A caller's service name as an error message quotes it: its first few dozen characters
 * (a name can be megabytes, and an HTTP/2 trailer holds little), as a JSON string with
 * every control character escaped (`jsonSafe`), so a terminal or log that shows the message
 * shows the name inert.
 */
function quotedName(service: string): string {
  return jsonSafe(JSON.stringify(cutShort(service, QUOTED_NAME_CHARS)))
}

function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`addHealthService: ${name} must be a whole number of at least 1, not ${String(value)}`)
  }
  return value
}

function noop(): void {}
