/**
 * Alerts to a Prometheus Alertmanager (API v2). A check in warning or critical is one
 * firing alert, re-sent while it fails so Alertmanager never resolves it on its own; its
 * recovery is the same alert with `endsAt` now. Alertmanager does the rest (grouping,
 * dedup, inhibition, silences of its own, routing to Slack, email, PagerDuty …).
 *
 * What is sent is derived from the monitor's states, not from a log of transitions: a
 * transition only makes a check's alert go out at once. So nothing is lost across a
 * restart of the monitor (firing alerts go out again at start), of Alertmanager (the
 * next re-send brings them back), or across a takeover between replicas (the new owner
 * sends them on its next round). Every URL gets every alert (an HA pair dedups itself).
 *
 * A silence (`muted`) is mirrored: the check's alert is silenced in Alertmanager too, by
 * a silence of Alertmanager's own matching the check (alertname, pod, node, check),
 * created when ours begins, renewed while it lasts (`endsAt` a few resend periods past the
 * alerts it covers, so one outlives a stopped monitor's alerts by minutes, not by the
 * silence's length) and expired when
 * it ends. An alert firing before stays firing (see `held`), so no recovery is announced
 * while the check still fails.
 */

import { cutShort, jsonSafe, lineSafe } from '../core/inert.js'
import { limitedLog } from '../core/log-limiter.js'
import type { Logger } from '../core/logger.js'
import { optionKeys, positive, rejectUnknownKeys } from '../core/options.js'
import { redactCut, redactUrl } from '../core/redact.js'
import {
  type PendingDeliveries,
  readReceiverAnswer,
  receiverEndpoint,
  receiverUrl,
  senderDeliveries,
  shownReceiverUrl,
} from './deliveries.js'
import { registerReceiverSecrets } from './secrets.js'
import type { CheckState, HealthState, SilenceMark } from './types.js'
import type { TransitionSource } from './webhooks.js'

/** What the sender needs of a monitor (the Monitor class has it). */
export interface AlertSource extends TransitionSource {
  states(): CheckState[]
  /** Whether this monitor speaks for the check (with replicas, only its owner does). */
  owns(id: string): boolean
  labels(id: string): Readonly<Record<string, string>>
  redact(text: string): string
}

export interface AlertmanagerOptions {
  /**
   * Alertmanager base URLs (`http://am:9093`); each gets every alert. Userinfo
   * (`http://user:password@am:9093`) is sent as `Authorization: Basic`, as webhooks send it,
   * and the URL's secrets join the monitor's (`registerReceiverSecrets`).
   */
  urls: readonly string[]
  /** How often a firing alert is sent again, ms. Default 60 000 (below Alertmanager's resolve_timeout of 5 m). */
  resendMs?: number
  /** The dashboard's address as people reach it, for the link in each alert. */
  externalUrl?: string
  /** The `alertname` label. Default `ProbekitCheckFailing`. */
  alertname?: string
  /** Deadline of one request, ms. Default 10 000. */
  timeoutMs?: number
  /** First retry after a failed request, ms; it doubles (with jitter) up to the resend period. Default 1000. */
  backoffMs?: number
  /** Alerts waiting per URL beyond this are dropped, oldest first. Default 10 000. */
  maxQueue?: number
  /**
   * Whether a check's notifications are held back now (a silence), and by what: the
   * monitor's `silenced(id)` (its comment and author go into Alertmanager's silence). Its
   * alert reaches Alertmanager silenced there, and notifies once the silence ends if the
   * check still fails; one already firing stays firing (see above).
   */
  muted?: (state: CheckState) => boolean | SilenceMark | undefined
  /** Where reachability changes are logged; `false` for none. Default console. */
  logger?: Logger | false
}

const ALERTMANAGER_OPTION_KEYS = optionKeys<AlertmanagerOptions>()({
  urls: true,
  resendMs: true,
  externalUrl: true,
  alertname: true,
  timeoutMs: true,
  backoffMs: true,
  maxQueue: true,
  muted: true,
  logger: true,
})

/** One alert as Alertmanager's API v2 takes it. */
export interface PostableAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL?: string
}

/**
 * The running sender. It registers with the monitor's shutdown (`addDeliveries`), so
 * `monitor.stop()` drains it within `--shutdown-timeout`; `close()` does the same at once.
 */
export interface AlertmanagerSender extends PendingDeliveries {
  /** Stops listening and re-sending; what is queued gets one more try (no retries). */
  close(): Promise<void>
}

export const DEFAULT_ALERTNAME = 'ProbekitCheckFailing'
/** A firing alert ends this many resend periods after it was sent, unless sent again. */
const RESEND_PERIODS_VALID = 4
/** Alerts per request. */
const BATCH = 500

/** What the silences API answers about a silence id it does not hold (404). */
const NOT_FOUND = Symbol('not found')

/**
 * Alertmanager's silences of a check end this many resend periods beyond the endsAt of the
 * alerts they cover (renewed once half of that margin has passed), so they always outlast
 * the alerts: a monitor that stops leaves its alerts to resolve while still silenced, not
 * to notify in the gap between the silence's end and theirs.
 */
const MIRROR_PERIODS = 4

interface Mirror {
  matchers: { name: string; value: string; isRegex: false; isEqual: true }[]
  /** Per URL, in the order of the targets. */
  at: MirrorAt[]
}

interface MirrorAt {
  /** Alertmanager's silence id, once it answered. */
  id: string | undefined
  /** Its start as Alertmanager holds it, which a renewal must repeat. */
  startsAt: string | undefined
  /** When that silence ends (ms). */
  endsAt: number
  /** A request about it is in flight. */
  busy: boolean
  /** Ended meanwhile: expire the silence once the request in flight answers. */
  released: boolean
}

interface Queued {
  alert: PostableAlert
  /** A firing alert gets its endsAt when it is sent, so one delayed by an outage is not born resolved. */
  firing: boolean
}

interface Target {
  /** The alerts endpoint without userinfo (fetch refuses URLs with credentials). */
  url: string
  /** The silences endpoint beside it (`…/api/v2/silences`). */
  silencesUrl: string
  /** `Basic …` from the URL's userinfo, as webhooks send it. */
  authorization: string | undefined
  /** How logs name it: no userinfo, no query, secret-looking path segments as `***`. */
  shown: string
  queue: Map<string, Queued>
  inFlight: Promise<void> | undefined
  inFlightCount: number
  retryTimer: NodeJS.Timeout | undefined
  failures: number
  down: boolean
  dropped: number
}

/**
 * Keeps Alertmanager told about every failing check this monitor owns.
 *
 * @example
 * const alerts = startAlertmanager(monitor, { urls: ['http://alertmanager:9093'], externalUrl: 'https://probekit.example.com' })
 * // … on shutdown
 * await alerts.close()
 */
export function startAlertmanager(monitor: AlertSource, options: AlertmanagerOptions): AlertmanagerSender {
  rejectUnknownKeys('startAlertmanager', options, ALERTMANAGER_OPTION_KEYS)
  const resendMs = positive(options.resendMs, 60_000, 'alertmanager: resendMs', 'milliseconds')
  const timeoutMs = positive(options.timeoutMs, 10_000, 'alertmanager: timeoutMs', 'milliseconds')
  const backoffMs = positive(options.backoffMs, 1000, 'alertmanager: backoffMs', 'milliseconds')
  const maxQueue = positive(options.maxQueue, 10_000, 'alertmanager: maxQueue')
  const alertname = options.alertname ?? DEFAULT_ALERTNAME
  const dashboard = options.externalUrl === undefined ? undefined : dashboardBase(options.externalUrl)
  const logger = options.logger === undefined ? console : options.logger
  const targets: Target[] = options.urls.map((url) => {
    const parsed = receiverUrl(url, 'Alertmanager URL', 'http://alertmanager:9093')
    if (monitor.secrets) registerReceiverSecrets(parsed, monitor.secrets, 'alertmanager')
    const endpoint = receiverEndpoint(alertsUrl(parsed))
    return {
      ...endpoint,
      silencesUrl: receiverEndpoint(apiUrl(parsed, 'silences')).url,
      shown: shownReceiverUrl(parsed),
      queue: new Map(),
      inFlight: undefined,
      inFlightCount: 0,
      retryTimer: undefined,
      failures: 0,
      down: false,
      dropped: 0,
    }
  })
  /** Per check id, the labels of the alert Alertmanager was last told is firing. */
  const firing = new Map<string, { key: string; alert: PostableAlert }>()
  let closing = false
  const abandoning = new AbortController()

  function sync(state: CheckState, now: number): void {
    const told = firing.get(state.id)
    const failing = state.state === 'warning' || state.state === 'critical'
    const owned = monitor.owns(state.id)
    const mute = owned ? options.muted?.(state) || undefined : undefined
    if (mute !== undefined) {
      held(state, told, failing, mute === true ? undefined : mute, now)
      return
    }
    if (mirrors.has(state.id)) unmirror(state.id)
    quiet.delete(state.id)
    const wanted = owned && failing ? toAlert(state) : undefined
    if (told && told.key !== wanted?.key) {
      firing.delete(state.id)
      // Another replica speaks for it now: no word from here. Otherwise it recovered, or
      // its state label changed: that alert is over.
      if (owned) enqueue(told.key, resolved(told.alert, now), false)
    }
    if (wanted) {
      firing.set(state.id, wanted)
      enqueue(wanted.key, wanted.alert, true)
    }
  }

  /** Checks whose alert was first sent while muted: it goes only where Alertmanager silences it. */
  const quiet = new Set<string>()

  /**
   * A muted check: its alert goes to Alertmanager with a silence of Alertmanager's own
   * beside it. One Alertmanager had firing before the silence stays firing as it was (left
   * alone, Alertmanager would resolve it at its endsAt and announce a recovery). One that
   * fails meanwhile goes only where that silence is in place, so nothing notifies, and
   * notifies once, when the silence ends, if it still fails. A monitor that restarted, or
   * a replica that took the check over, sends what fails the same way, not knowing what
   * Alertmanager had: an alert it had gets its silence in time, not a recovery.
   */
  function held(
    state: CheckState,
    told: { key: string; alert: PostableAlert } | undefined,
    failing: boolean,
    mark: SilenceMark | undefined,
    now: number,
  ): void {
    const id = state.id
    if (failing || told || mirrors.has(id)) mirror(state, mark, now)
    if (failing && told && !quiet.has(id)) {
      enqueue(told.key, told.alert, true)
      return
    }
    const silencedAt = (i: number) => mirrored(id, i, now)
    if (failing) {
      const wanted = toAlert(state)
      if (told && told.key !== wanted.key) enqueue(told.key, resolved(told.alert, now), false, silencedAt)
      firing.set(id, wanted)
      quiet.add(id)
      enqueue(wanted.key, wanted.alert, true, silencedAt)
    } else if (told) {
      firing.delete(id)
      quiet.delete(id)
      enqueue(told.key, resolved(told.alert, now), false)
    }
  }

  /** Whether Alertmanager number `i` holds a silence of the check now. */
  function mirrored(id: string, i: number, now: number): boolean {
    const at = mirrors.get(id)?.at[i]
    return at?.id !== undefined && at.endsAt > now
  }

  /** Per check id, Alertmanager's silences of it (one per URL) while a silence of ours lasts. */
  const mirrors = new Map<string, Mirror>()

  /** Creates or renews the Alertmanager silences of a muted check. */
  function mirror(state: CheckState, mark: SilenceMark | undefined, now: number): void {
    let held = mirrors.get(state.id)
    if (!held) {
      held = {
        matchers: [
          { name: 'alertname', value: alertname, isRegex: false, isEqual: true },
          { name: 'pod', value: state.pod, isRegex: false, isEqual: true },
          { name: 'node', value: state.node, isRegex: false, isEqual: true },
          { name: 'check', value: state.check, isRegex: false, isEqual: true },
        ],
        at: targets.map(() => ({ id: undefined, startsAt: undefined, endsAt: 0, busy: false, released: false })),
      }
      mirrors.set(state.id, held)
    }
    const until = mark ? Date.parse(mark.until) : Number.POSITIVE_INFINITY
    // Beyond the alert's own endsAt (sent at most a round from now: four periods and the
    // timeout after it) by the margin.
    const alertEnds = now + RESEND_PERIODS_VALID * resendMs + timeoutMs
    const ahead = Math.min(until, alertEnds + MIRROR_PERIODS * resendMs)
    // Ours ends now: Alertmanager refuses a silence that ends in the past, and there is
    // nothing left to hold (the next round finds the check no longer muted).
    if (ahead <= now) return
    let said: { comment: string; createdBy: string } | undefined
    for (const [i, target] of targets.entries()) {
      const at = held.at[i] as MirrorAt
      // Renewed once half of its margin beyond the alert has passed (or sooner, for a
      // silence that ends earlier): at every round it still ends a period or more after an
      // alert sent before the next one would.
      if (at.busy || at.endsAt - alertEnds > (MIRROR_PERIODS * resendMs) / 2 || (at.id && at.endsAt >= until)) continue
      at.busy = true
      // Cut by characters, marked: a cut inside a surrogate pair showed as U+FFFD there.
      said ??= {
        comment: cutShort(
          lineSafe(monitor.redact(mark ? `probekit silence ${mark.id}: ${mark.comment}` : 'silenced in probekit')),
          500,
        ),
        createdBy: cutShort(lineSafe(monitor.redact(mark?.author || 'probekit')), 100),
      }
      const body: Record<string, unknown> = {
        matchers: held.matchers,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(ahead).toISOString(),
        ...said,
      }
      // The same silence, longer: Alertmanager updates an active one in place when its id,
      // matchers and start are the ones it holds (another start would replace it, leaving
      // an expired one behind at every renewal).
      if (at.id && at.startsAt) {
        body.id = at.id
        body.startsAt = at.startsAt
      }
      void renew(target, at, body, ahead)
    }
  }

  async function renew(target: Target, at: MirrorAt, body: Record<string, unknown>, ahead: number): Promise<void> {
    let answer = await silenceCall(
      target,
      'POST',
      target.silencesUrl,
      jsonSafe(JSON.stringify(body)),
      body.id !== undefined,
    )
    if (answer === NOT_FOUND) {
      // Alertmanager no longer knows the silence it was renewing (restarted with empty
      // storage, or its data lost): a new one, or its alerts would notify for the rest of
      // ours and one that stopped being sent would announce a recovery.
      at.id = undefined
      at.startsAt = undefined
      const { id: _gone, ...fresh } = body
      answer = await silenceCall(
        target,
        'POST',
        target.silencesUrl,
        jsonSafe(JSON.stringify({ ...fresh, startsAt: new Date().toISOString() })),
      )
    }
    const id = (answer as { silenceID?: unknown } | undefined)?.silenceID
    if (typeof id === 'string' && id !== '') {
      if (id !== at.id) {
        at.id = id
        // The start Alertmanager keeps (it moves one in the past to its now).
        const held = (await silenceCall(target, 'GET', silenceUrl(target, id))) as { startsAt?: unknown } | undefined
        at.startsAt = typeof held?.startsAt === 'string' ? held.startsAt : undefined
      }
      at.endsAt = ahead
    }
    at.busy = false
    if (at.released) expireMirror(target, at)
  }

  /** The check is no longer muted (or gone, or another replica's): Alertmanager's silences of it end now. */
  function unmirror(id: string): void {
    const held = mirrors.get(id)
    if (!held) return
    mirrors.delete(id)
    for (const [i, target] of targets.entries()) {
      const at = held.at[i] as MirrorAt
      at.released = true
      if (!at.busy) expireMirror(target, at)
    }
  }

  function expireMirror(target: Target, at: MirrorAt): void {
    if (at.id === undefined) return
    const leftover = { target, id: at.id, endsAt: at.endsAt }
    at.id = undefined
    void expire(leftover)
  }

  /** Silences of Alertmanager's that could not be expired yet: tried again each round until they end. */
  const leftovers = new Set<{ target: Target; id: string; endsAt: number }>()

  async function expire(leftover: { target: Target; id: string; endsAt: number }): Promise<void> {
    leftovers.delete(leftover)
    // One Alertmanager no longer knows (it lost its storage) needs no ending.
    const done = await silenceCall(leftover.target, 'DELETE', silenceUrl(leftover.target, leftover.id))
    if (done === undefined && leftover.endsAt > Date.now() && !closing) leftovers.add(leftover)
  }

  /** `…/api/v2/silence/ID`, beside the silences endpoint, with the base URL's query (a proxy's token) kept. */
  function silenceUrl(target: Target, id: string): string {
    const url = new URL(target.silencesUrl)
    url.pathname = `${url.pathname.replace(/s$/, '')}/${encodeURIComponent(id)}`
    return url.href
  }

  /**
   * One request to Alertmanager's silences API; its JSON answer, or undefined after a
   * failure, logged through the limiter. No retries: the next round asks again. A 404
   * ("silence not found": it names a silence Alertmanager does not hold) is `NOT_FOUND`,
   * not logged: the caller knows what to do about it.
   */
  async function silenceCall(
    target: Target,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: string,
    /** A POST that names a silence by its id (a renewal). */
    names = false,
  ): Promise<unknown> {
    const { status, text, reason } = await request(target, method, url, body)
    if (status === 404 && (method !== 'POST' || names)) return NOT_FOUND
    if (status !== undefined && status >= 200 && status < 300) {
      try {
        return text ? JSON.parse(text) : {}
      } catch {
        return {}
      }
    }
    limitedLog(logger).write(
      'warn',
      { cause: 'alertmanager silence', subject: target.shown },
      method === 'DELETE'
        ? `alertmanager ${target.shown}: could not end its silence of a check whose silence ended (${reason}); tried again each round until it ends on its own, within ${RESEND_PERIODS_VALID + MIRROR_PERIODS} resend periods`
        : `alertmanager ${target.shown}: could not silence a check there (${reason}); its firing alert goes on being sent, so Alertmanager does not resolve it, and may repeat it`,
      { alertmanager: { url: target.shown, reason } },
    )
    return undefined
  }

  function toAlert(state: CheckState): { key: string; alert: PostableAlert } {
    const labels: Record<string, string> = {
      ...monitor.labels(state.id),
      alertname,
      pod: state.pod,
      node: state.node,
      check: state.check,
      state: state.state,
      severity: severity(state.state),
    }
    const link = dashboard ? podLink(dashboard, state.pod) : undefined
    const annotations: Record<string, string> = {
      summary: lineSafe(`${state.pod} on ${state.node}: ${state.check} is ${state.state}`),
      description: monitor.redact(state.output),
      target: state.target,
    }
    if (link) annotations.dashboard = link
    const alert: PostableAlert = { labels, annotations, startsAt: state.since, endsAt: '' }
    if (link) alert.generatorURL = link
    // Alertmanager identifies an alert by its label set; so does this sender.
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    return { key, alert }
  }

  function round(): void {
    const now = Date.now()
    const seen = new Set<string>()
    for (const state of monitor.states()) {
      seen.add(state.id)
      sync(state, now)
    }
    // A check no manifest names any more: its alert is over.
    for (const [id, told] of firing) {
      if (seen.has(id)) continue
      firing.delete(id)
      enqueue(told.key, resolved(told.alert, now), false)
    }
    for (const id of mirrors.keys()) if (!seen.has(id)) unmirror(id)
    for (const id of quiet) if (!seen.has(id)) quiet.delete(id)
    for (const leftover of leftovers) if (leftover.endsAt > now) void expire(leftover)
    for (const leftover of leftovers) if (leftover.endsAt <= now) leftovers.delete(leftover)
  }

  /** Queues the alert for every Alertmanager, or for those `only` names (by index). */
  function enqueue(key: string, alert: PostableAlert, isFiring: boolean, only?: (i: number) => boolean): void {
    for (const [i, target] of targets.entries()) {
      if (only && !only(i)) continue
      target.queue.delete(key) // the newest word on an alert replaces a waiting one, and goes last
      if (target.queue.size >= maxQueue) {
        const oldest = target.queue.keys().next().value as string
        target.queue.delete(oldest)
        if (target.dropped++ === 0)
          limitedLog(logger).write(
            'warn',
            { cause: 'alertmanager queue full', subject: target.shown },
            `alertmanager ${target.shown}: more than ${maxQueue} alerts waiting; dropping the oldest`,
          )
      }
      target.queue.set(key, { alert, firing: isFiring })
      flush(target)
    }
  }

  function flush(target: Target): void {
    if (target.inFlight || target.retryTimer || target.queue.size === 0) return
    const batch: [string, Queued][] = []
    for (const entry of target.queue) {
      batch.push(entry)
      if (batch.length === BATCH) break
    }
    for (const [key] of batch) target.queue.delete(key)
    target.inFlightCount = batch.length
    target.inFlight = post(target, batch).finally(() => {
      target.inFlight = undefined
      target.inFlightCount = 0
      if (abandoning.signal.aborted) target.queue.clear()
      flush(target)
    })
  }

  async function post(target: Target, batch: [string, Queued][]): Promise<void> {
    const now = Date.now()
    const endsAt = new Date(now + RESEND_PERIODS_VALID * resendMs + timeoutMs).toISOString()
    const body = jsonSafe(JSON.stringify(batch.map(([, q]) => (q.firing ? { ...q.alert, endsAt } : q.alert))))
    const outcome = await attempt(target, body)
    if (outcome.ok) {
      if (target.down)
        limitedLog(logger).write(
          'info',
          { cause: 'alertmanager reachable', subject: target.shown },
          `alertmanager ${target.shown}: reachable again; sent the alerts that waited`,
        )
      target.down = false
      target.failures = 0
      target.dropped = 0
      return
    }
    if (!outcome.retry) {
      // Bounded like every line of the monitor: an Alertmanager that refuses every post
      // while a check flaps would otherwise log one line per post.
      limitedLog(logger).write(
        'error',
        { cause: 'alertmanager refused', subject: target.shown },
        `alertmanager ${target.shown}: refused ${batch.length} alert${batch.length === 1 ? '' : 's'}: ${outcome.reason}`,
        { alertmanager: { url: target.shown, reason: outcome.reason } },
      )
      return
    }
    if (closing) return // stopping: one try, no retries (the next monitor re-sends what fires)
    // Back in the queue unless something newer about the same alert came meanwhile.
    for (const [key, queued] of batch) if (!target.queue.has(key)) target.queue.set(key, queued)
    target.failures++
    if (!target.down) {
      target.down = true
      limitedLog(logger).write(
        'error',
        { cause: 'alertmanager unreachable', subject: target.shown },
        `alertmanager ${target.shown}: unreachable (${outcome.reason}); alerts wait and are retried with backoff`,
        { alertmanager: { url: target.shown, reason: outcome.reason } },
      )
    }
    const exponential = Math.min(resendMs, backoffMs * 2 ** (target.failures - 1))
    // Jitter keeps replicas (and an HA pair's two queues) from retrying in lockstep.
    target.retryTimer = setTimeout(
      () => {
        target.retryTimer = undefined
        flush(target)
      },
      exponential * (0.5 + Math.random() * 0.5),
    )
    target.retryTimer.unref()
  }

  async function attempt(
    target: Target,
    body: string,
  ): Promise<{ ok: true } | { ok: false; retry: boolean; reason: string }> {
    const { status, reason } = await request(target, 'POST', target.url, body)
    if (status === undefined) return { ok: false, retry: true, reason }
    if (status >= 200 && status < 300) return { ok: true }
    return { ok: false, retry: status === 408 || status === 429 || status >= 500, reason }
  }

  /**
   * One request to Alertmanager (alerts and silences alike): its status and answer, or no
   * status and why none came. Past a 2xx, `reason` says the answer in one line: redacted as
   * read, then cut (an answer may echo what was sent, and one cut at the read bound may end
   * inside a credential).
   */
  async function request(
    target: Target,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body?: string,
  ): Promise<{ status: number | undefined; text: string; reason: string }> {
    const headers: Record<string, string> = { 'user-agent': 'probekit-monitor' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (target.authorization) headers.authorization = target.authorization
    try {
      const res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), abandoning.signal]),
      })
      const answer = await readReceiverAnswer(res)
      if (res.status >= 200 && res.status < 300) return { status: res.status, text: answer.text, reason: '' }
      const shown = answer.truncated
        ? monitor.redact(redactCut(answer.text, { end: true }, monitor.secrets))
        : monitor.redact(answer.text)
      const said = shown ? `: ${lineSafe(shown.slice(0, 200))}` : ''
      return { status: res.status, text: answer.text, reason: `answered ${res.status}${said}` }
    } catch (error) {
      return { status: undefined, text: '', reason: fetchFailure(error) }
    }
  }

  /** Why a request to Alertmanager got no answer, in words, redacted. */
  function fetchFailure(error: unknown): string {
    const name = (error as Error).name
    return abandoning.signal.aborted
      ? 'abandoned at the shutdown timeout'
      : name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : monitor.redact(String((error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message))
  }

  const onChange = (_transition: unknown, state: CheckState) => sync(state, Date.now())
  monitor.on('change', onChange)
  round()
  const timer = setInterval(round, resendMs)
  timer.unref()

  const pending = () => {
    let n = 0
    for (const target of targets) n += target.queue.size + target.inFlightCount
    return n
  }
  let closed: Promise<void> | undefined
  function finish(): Promise<void> {
    closed ??= (async () => {
      closing = true
      clearInterval(timer)
      monitor.off('change', onChange)
      unregister?.()
      for (const target of targets) {
        clearTimeout(target.retryTimer)
        target.retryTimer = undefined
        flush(target)
      }
      while (targets.some((t) => t.inFlight)) await Promise.allSettled(targets.map((t) => t.inFlight))
    })()
    return closed
  }
  const deliveries = senderDeliveries('Alertmanager', pending, abandoning, finish)
  const sender: AlertmanagerSender = {
    name: deliveries.name,
    get pending() {
      return pending()
    },
    drain: deliveries.drain,
    close: finish,
  }
  const unregister = monitor.addDeliveries?.(sender)
  return sender
}

function severity(state: HealthState): string {
  return state === 'critical' ? 'critical' : 'warning'
}

function resolved(alert: PostableAlert, now: number): PostableAlert {
  return { ...alert, endsAt: new Date(now).toISOString() }
}

/**
 * The dashboard's address as alerts link it. One with a user or password is refused: every
 * alert carries the link to Alertmanager and on to Slack, email and whatever it routes to.
 */
function dashboardBase(externalUrl: string): URL {
  const shown = JSON.stringify(redactUrl(externalUrl))
  let url: URL
  try {
    url = new URL(externalUrl)
  } catch {
    throw new TypeError(`alertmanager: externalUrl ${shown} is not a URL; use e.g. https://probekit.example.com`)
  }
  if (url.username || url.password)
    throw new TypeError(
      `alertmanager: externalUrl ${shown} holds a user or password, which every alert would carry to wherever Alertmanager sends it; give the address without them`,
    )
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/`
  url.hash = ''
  return url
}

/** A pod's page on the dashboard: its route in the fragment, after the base's path and query. */
function podLink(base: URL, pod: string): string {
  const link = new URL(base.href)
  link.hash = `/pod/${encodeURIComponent(pod)}`
  return link.href
}

/** The v2 alerts endpoint under a base URL (which may carry a path prefix, as behind a proxy). */
function alertsUrl(base: URL): URL {
  return apiUrl(base, 'alerts')
}

/**
 * An endpoint of the v2 API under a base URL (which may carry a path prefix, as behind a
 * proxy, or name the alerts endpoint itself), its query kept: a proxy in front of
 * Alertmanager may want its token there, for silences as for alerts.
 */
function apiUrl(base: URL, endpoint: 'alerts' | 'silences'): URL {
  const url = new URL(base.href)
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v2\/alerts$/, '')
  url.pathname = `${path}/api/v2/${endpoint}`
  return url
}
