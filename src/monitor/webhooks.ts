/**
 * Webhooks on state change. Each transition of a check becomes one JSON notification to
 * every configured URL, with three guards: a minimum interval between two notifications
 * of the same check (transitions inside it are coalesced into the next notification), a
 * timeout per request, and a bounded number of retries with exponential backoff.
 *
 * The monitor's `change` listener only records the transition; sending happens on timers
 * and sockets of its own, so a slow or dead receiver never delays a check.
 */

import { setMaxListeners } from 'node:events'
import { hostname } from 'node:os'
import { jsonSafe, lineSafe } from '../core/inert.js'
import { limitedLog } from '../core/log-limiter.js'
import type { Logger } from '../core/logger.js'
import { nonNegative, optionKeys, positive, rejectUnknownKeys } from '../core/options.js'
import { redactUrl, type SecretSet } from '../core/redact.js'
import { sleep } from '../core/sleep.js'
import {
  type PendingDeliveries,
  readReceiverAnswer,
  receiverEndpoint,
  receiverUrl,
  senderDeliveries,
} from './deliveries.js'
import { registerReceiverSecrets } from './secrets.js'
import type { CheckKind, CheckState, HealthState, Transition } from './types.js'

/** What the webhooks need of a monitor (the Monitor class has it). */
export interface TransitionSource {
  on(event: 'change', listener: (transition: Transition, state: CheckState) => void): unknown
  off(event: 'change', listener: (transition: Transition, state: CheckState) => void): unknown
  /** When the source has it (the Monitor does), its `stop()` drains the webhooks within its shutdown timeout. */
  addDeliveries?(sender: PendingDeliveries): () => void
  /** When the source has it (the Monitor does), the secrets of the notifiers' URLs (`registerReceiverSecrets`) are masked in all it logs, stores and serves. */
  secrets?: SecretSet
}

export interface WebhookOptions {
  /** Where to POST notifications (http or https). */
  urls: readonly string[]
  /** Least time between two notifications of one check, ms. Default 30 000. 0 sends every transition at once. */
  minIntervalMs?: number
  /** Deadline of one request, ms. Default 5000. */
  timeoutMs?: number
  /** Retries after a failed attempt (network error, timeout, 408, 429, 5xx). Default 5. */
  retries?: number
  /** First backoff, ms; it doubles per retry (with jitter) up to `maxBackoffMs`. Default 1000. */
  backoffMs?: number
  /** Longest backoff, ms. Default 60 000. */
  maxBackoffMs?: number
  /** Notifications waiting per URL beyond this are dropped, oldest first, with a log line. Default 1000. */
  maxQueue?: number
  /** Extra request headers (e.g. an Authorization token for the receiver). */
  headers?: Record<string, string>
  /** The monitor's name in the notification. Default this host's name. */
  monitorName?: string
  /** Where delivery failures are logged; `false` for silence. Default console. */
  logger?: Logger | false
  /**
   * Whether a check's notifications are held back now (a silence, a maintenance window).
   * Its transitions are held; when it is no longer muted and still failing, they go out
   * as one notification (a check that recovered meanwhile sends none).
   */
  muted?: (id: string) => boolean
}

const WEBHOOK_OPTION_KEYS = optionKeys<WebhookOptions>()({
  urls: true,
  minIntervalMs: true,
  timeoutMs: true,
  retries: true,
  backoffMs: true,
  maxBackoffMs: true,
  maxQueue: true,
  headers: true,
  monitorName: true,
  logger: true,
  muted: true,
})

/** The JSON body of a notification. */
export interface WebhookNotification {
  event: 'transition'
  id: string
  pod: string
  node: string
  check: string
  kind: CheckKind
  target: string
  /** State before the first and after the last coalesced transition. */
  from: HealthState
  to: HealthState
  /** When the last transition happened (ISO 8601). */
  at: string
  output: string
  /** The monitor's change index of the last transition: receivers order notifications by it. */
  index: number
  /** Every transition this notification carries, oldest first (more than one when coalesced). */
  transitions: { from: HealthState; to: HealthState; at: string; output: string; index: number }[]
  monitor: string
  /** One human line, so chat webhooks (Slack, Mattermost) show something useful as they are. */
  text: string
}

export interface Webhooks extends PendingDeliveries {
  /** Notifications waiting or being delivered. */
  readonly pending: number
  /** Stops listening, sends what is coalesced once, and waits for requests in flight. */
  close(): Promise<void>
}

interface CheckEntry {
  lastSentAt: number
  /** The state the last notification of this check left it in. */
  lastTo: HealthState | undefined
  pending: Transition[]
  state: CheckState | undefined
  timer: NodeJS.Timeout | undefined
}

interface Target {
  /** The URL without its userinfo (fetch refuses URLs with credentials). */
  url: string
  /** `Basic …` from the URL's userinfo, if it has one. */
  authorization: string | undefined
  /**
   * How logs name it: scheme://host[:port]/… — the path of a webhook is often its secret —
   * and, when another URL reads the same, its place in the list (`… (#2)`).
   */
  shown: string
  queue: WebhookNotification[]
  active: number
}

/** Per URL, this many notifications are delivered at once. */
const CONCURRENCY_PER_URL = 4
/** A notification carries at most this many coalesced transitions (the latest). */
const MAX_COALESCED = 50

/**
 * Sends a notification to every URL on each state change of the monitor's checks.
 *
 * @example
 * const webhooks = startWebhooks(monitor, { urls: ['https://hooks.example.com/probekit'], minIntervalMs: 60_000 })
 * // … on shutdown
 * await webhooks.close()
 */
export function startWebhooks(monitor: TransitionSource, options: WebhookOptions): Webhooks {
  rejectUnknownKeys('startWebhooks', options, WEBHOOK_OPTION_KEYS)
  const minIntervalMs = nonNegative(options.minIntervalMs, 30_000, 'webhooks: minIntervalMs', 'milliseconds')
  const timeoutMs = positive(options.timeoutMs, 5000, 'webhooks: timeoutMs', 'milliseconds')
  const retries = nonNegative(options.retries, 5, 'webhooks: retries')
  const backoffMs = positive(options.backoffMs, 1000, 'webhooks: backoffMs', 'milliseconds')
  const maxBackoffMs = positive(options.maxBackoffMs, 60_000, 'webhooks: maxBackoffMs', 'milliseconds')
  const maxQueue = positive(options.maxQueue, 1000, 'webhooks: maxQueue')
  const logger = options.logger === undefined ? console : options.logger
  const monitorName = options.monitorName ?? hostname()
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'probekit-monitor',
    ...options.headers,
  }
  const targets: Target[] = options.urls.map((url) => {
    const parsed = receiverUrl(url, 'webhook URL', 'https://hooks.example.com/probekit')
    if (monitor.secrets) registerReceiverSecrets(parsed, monitor.secrets, 'webhook')
    return {
      ...receiverEndpoint(parsed),
      shown: shownWebhookUrl(parsed),
      queue: [],
      active: 0,
    }
  })
  // Chat webhooks of one service share their host (hooks.slack.com/…): without its place in
  // the list, a log line would not say which one fails, and the log limiter would fold one
  // receiver's failures into another's count.
  const shownCount = new Map<string, number>()
  for (const target of targets) shownCount.set(target.shown, (shownCount.get(target.shown) ?? 0) + 1)
  targets.forEach((target, i) => {
    if ((shownCount.get(target.shown) as number) > 1) target.shown += ` (#${i + 1})`
  })
  const checks = new Map<string, CheckEntry>()
  const closing = new AbortController()
  // Aborted when a shutdown deadline passes: requests in flight end, nothing more is sent.
  const abandoning = new AbortController()
  // Every request in flight listens to `abandoning`, every retry's wait to `closing`: up to
  // four per URL, by design, so Node's "possible memory leak" warning past ten would be false.
  setMaxListeners(0, closing.signal, abandoning.signal)
  const inFlight = new Set<Promise<void>>()
  let closed: Promise<void> | undefined
  const held = new Map<string, { transitions: Transition[]; state: CheckState }>()
  // Held transitions are looked at again once a second: a silence's end needs no event.
  const release = setInterval(() => {
    for (const [id, h] of held) {
      if (options.muted?.(id)) continue
      held.delete(id)
      const last = h.transitions[h.transitions.length - 1] as Transition
      if (last.to !== 'warning' && last.to !== 'critical') continue
      // One notification for all that happened while muted, at once.
      const entry = entryOf(id)
      entry.pending.push(...h.transitions)
      entry.pending.splice(0, Math.max(0, entry.pending.length - MAX_COALESCED))
      entry.state = h.state
      clearTimeout(entry.timer)
      dispatch(entry)
    }
  }, 1000)
  release.unref()

  const onChange = (transition: Transition, state: CheckState): void => {
    if (options.muted?.(transition.id)) {
      const h = held.get(transition.id) ?? { transitions: [], state }
      h.transitions.push(transition)
      if (h.transitions.length > MAX_COALESCED) h.transitions.shift()
      h.state = state
      held.set(transition.id, h)
      return
    }
    // A check's first result when it passes (the monitor starting, a check added) is no news:
    // a fleet of a thousand checks would send a thousand "unknown → passing" at every start.
    // Coming back from an unknown this sender announced is news, and so is any failure.
    if (transition.from === 'unknown' && transition.to === 'passing') {
      const known = checks.get(transition.id)
      if (!known || (known.pending.length === 0 && known.lastTo !== 'unknown')) return
    }
    const entry = entryOf(transition.id)
    entry.pending.push(transition)
    if (entry.pending.length > MAX_COALESCED) entry.pending.shift()
    entry.state = state
    if (entry.timer) return
    const wait = entry.lastSentAt + minIntervalMs - Date.now()
    if (wait <= 0) dispatch(entry)
    else {
      const scheduled = entry
      entry.timer = setTimeout(() => dispatch(scheduled), wait)
      entry.timer.unref()
    }
  }
  monitor.on('change', onChange)
  const unregister = monitor.addDeliveries?.(webhooksDeliveries())

  function entryOf(id: string): CheckEntry {
    let entry = checks.get(id)
    if (!entry)
      checks.set(id, (entry = { lastSentAt: 0, lastTo: undefined, pending: [], state: undefined, timer: undefined }))
    return entry
  }

  function dispatch(entry: CheckEntry): void {
    entry.timer = undefined
    const transitions = entry.pending
    if (transitions.length === 0) return
    entry.pending = []
    entry.lastSentAt = Date.now()
    entry.lastTo = (transitions[transitions.length - 1] as Transition).to
    const notification = toNotification(transitions, entry.state, monitorName)
    for (const target of targets) {
      if (target.queue.length >= maxQueue) {
        const dropped = target.queue.shift() as WebhookNotification
        limitedLog(logger).write(
          'warn',
          { cause: 'queue full', subject: `webhook ${target.shown}` },
          `webhook ${target.shown}: queue full, dropped the notification for ${dropped.id}`,
        )
      }
      target.queue.push(notification)
      pump(target)
    }
  }

  function pump(target: Target): void {
    if (abandoning.signal.aborted) target.queue.length = 0
    while (target.active < CONCURRENCY_PER_URL && target.queue.length > 0) {
      const notification = target.queue.shift() as WebhookNotification
      target.active++
      const delivery = deliver(target, notification).finally(() => {
        target.active--
        inFlight.delete(delivery)
        pump(target)
      })
      inFlight.add(delivery)
    }
  }

  async function deliver(target: Target, notification: WebhookNotification): Promise<void> {
    const body = jsonSafe(JSON.stringify(notification))
    let lastError = ''
    let retryAfterMs = 0
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        if (closing.signal.aborted) break
        const exponential = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1))
        // Jitter keeps many monitors (or many checks) from retrying in lockstep.
        const wait = Math.max(exponential * (0.5 + Math.random() * 0.5), retryAfterMs)
        await sleep(Math.min(wait, maxBackoffMs), closing.signal)
        if (closing.signal.aborted) break
      }
      const outcome = await attemptOnce(target, body)
      // Abandoned at the shutdown deadline: the drain logs one line for all of them.
      if (abandoning.signal.aborted) return
      if (outcome.ok) {
        if (attempt > 0) {
          limitedLog(logger).write(
            'info',
            { cause: 'delivered after retries', subject: `webhook ${target.shown}` },
            `webhook ${target.shown}: delivered ${notification.id} after ${attempt} retries`,
          )
        }
        return
      }
      lastError = outcome.reason
      if (!outcome.retry) break
      retryAfterMs = outcome.retryAfterMs
    }
    limitedLog(logger).write(
      'error',
      { cause: 'gave up', subject: `webhook ${target.shown}` },
      `webhook ${target.shown}: gave up on the notification for ${notification.id} (${notification.from} -> ${notification.to}): ${lastError}`,
      { webhook: { url: target.shown, id: notification.id, reason: lastError } },
    )
  }

  async function attemptOnce(
    target: Target,
    body: string,
  ): Promise<{ ok: true } | { ok: false; retry: boolean; reason: string; retryAfterMs: number }> {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), timeoutMs)
    const abandon = () => abort.abort()
    abandoning.signal.addEventListener('abort', abandon, { once: true })
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: target.authorization ? { ...headers, authorization: target.authorization } : headers,
        body,
        signal: abort.signal,
        redirect: 'manual',
      })
      // The body is not needed; reading a short one frees the connection for reuse, and a
      // long one is cut off at a few KB (the connection closes) instead of read whole.
      await readReceiverAnswer(res)
      if (res.status >= 200 && res.status < 300) return { ok: true }
      const retry = res.status === 408 || res.status === 429 || res.status >= 500
      return {
        ok: false,
        retry,
        // A redirect is not followed (it would resend the body, the URL's secret path aside):
        // the fix is the URL it names, which is not logged, as it may hold a secret.
        reason:
          res.status >= 300 && res.status < 400
            ? `answered ${res.status}, a redirect, which is not followed; give the URL it redirects to`
            : `answered ${res.status}`,
        retryAfterMs: retryAfter(res.headers.get('retry-after')),
      }
    } catch (error) {
      const reason = abort.signal.aborted
        ? `timed out after ${timeoutMs} ms`
        : redactUrl(
            String((error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message),
            monitor.secrets,
          )
      return { ok: false, retry: true, reason, retryAfterMs: 0 }
    } finally {
      clearTimeout(timer)
      abandoning.signal.removeEventListener('abort', abandon)
    }
  }

  function pending(): number {
    let n = inFlight.size
    for (const target of targets) n += target.queue.length
    for (const entry of checks.values()) if (entry.pending.length > 0) n++
    return n
  }

  /** Stops listening, sends what is coalesced once (no retries), and waits for what is in flight. */
  function finish(): Promise<void> {
    closed ??= (async () => {
      monitor.off('change', onChange)
      clearInterval(release)
      unregister?.()
      closing.abort()
      for (const entry of checks.values()) {
        clearTimeout(entry.timer)
        dispatch(entry)
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    })()
    return closed
  }

  function webhooksDeliveries(): PendingDeliveries {
    return senderDeliveries('webhooks', pending, abandoning, finish)
  }

  const deliveries = webhooksDeliveries()
  return {
    name: deliveries.name,
    get pending() {
      return pending()
    },
    drain: deliveries.drain,
    close: finish,
  }
}

function toNotification(
  transitions: Transition[],
  state: CheckState | undefined,
  monitorName: string,
): WebhookNotification {
  const first = transitions[0] as Transition
  const last = transitions[transitions.length - 1] as Transition
  const output = last.output
  const line = headline(state?.kind, output)
  const flaps = transitions.length > 1 ? ` (${transitions.length} changes)` : ''
  return {
    event: 'transition',
    id: last.id,
    pod: last.pod,
    node: last.node,
    check: last.check,
    kind: state?.kind ?? 'http',
    target: state?.target ?? '',
    from: first.from,
    to: last.to,
    at: last.at,
    output,
    index: last.index,
    transitions: transitions.map((t) => ({ from: t.from, to: t.to, at: t.at, output: t.output, index: t.index })),
    monitor: monitorName,
    // One line for a chat message: what the target said cannot add lines or escapes to it.
    text: lineSafe(
      `${last.pod} on ${last.node}: ${last.check} ${first.from} → ${last.to}${flaps}${line ? `: ${line.slice(0, 200)}` : ''}`,
    ),
  }
}

/**
 * The line of an output a chat message shows. A program's output (exec, push) ends with
 * what went wrong, so its last line; a checker's (http, tcp, grpc, probe) starts with its
 * verdict — the worse reason first when a certificate warning joins the response's — so
 * its first.
 */
function headline(kind: CheckKind | undefined, output: string): string {
  const lines = output.trim().split('\n')
  return (kind === 'exec' || kind === 'push' ? lines.pop() : lines[0]) ?? ''
}

function retryAfter(header: string | null): number {
  if (!header) return 0
  if (/^\d+$/.test(header)) return Number(header) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now())
}

/** `https://hooks.example.com/…`: where notifications go, without the path that may be their secret. */
export function shownWebhookUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' && !url.search ? '/' : '/…'}`
}
