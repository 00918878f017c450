/**
 * What the monitor still owes the outside world when it stops: notifications queued or in
 * flight (webhooks, Alertmanager sends). On shutdown each sender gets until a deadline to
 * finish; then whatever is left is abandoned at once, with one log line for all of it —
 * a receiver that accepts and never answers cannot hold a stopping monitor past its
 * orchestrator's grace period.
 */

import { limitedLog } from '../core/log-limiter.js'
import type { Logger } from '../core/logger.js'
import { decodeLoose, redactUrl } from '../core/redact.js'
import { looksSecret } from './secrets.js'

/**
 * A receiver's URL (a webhook, an Alertmanager), parsed, or one sentence naming `what`
 * with `example`: not a URL, or not http(s). The URL is shown redacted.
 */
export function receiverUrl(url: string, what: string, example: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`${what} ${JSON.stringify(redactUrl(url))} is not a URL; use e.g. ${example}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error(`${what} ${JSON.stringify(redactUrl(url))} must start with http:// or https://`)
  return parsed
}

/** Where a sender POSTs, and with what credentials. */
export interface ReceiverEndpoint {
  /** The URL without its userinfo. */
  url: string
  /** `Basic …` from the URL's userinfo, if it has one. */
  authorization: string | undefined
}

/**
 * A receiver's URL as a request can carry it: fetch refuses a URL with credentials
 * ("Request cannot be constructed from a URL that includes credentials"), so the userinfo
 * (percent-decoded) goes in an `Authorization: Basic` header, as curl sends it.
 */
export function receiverEndpoint(url: URL): ReceiverEndpoint {
  const user = decodeLoose(url.username)
  const password = decodeLoose(url.password)
  const bare = new URL(url.href)
  bare.username = ''
  bare.password = ''
  return {
    url: bare.href,
    authorization: user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined,
  }
}

/**
 * How log lines name a receiver whose path is not its secret (an Alertmanager behind a
 * proxy's prefix): `scheme://host[:port]/path`, without userinfo or query, and with every
 * path segment that looks secret shown as `***`.
 */
export function shownReceiverUrl(url: URL): string {
  const path = url.pathname
    .split('/')
    .map((segment) => (looksSecret(segment) || looksSecret(decodeLoose(segment)) ? '***' : segment))
    .join('/')
  return `${url.protocol}//${url.host}${path}${url.search ? '?…' : ''}`
}

/**
 * The most of a receiver's answer a sender reads, bytes: enough for the sentence an
 * Alertmanager or a webhook receiver gives with a refusal, and no more.
 */
export const RECEIVER_ANSWER_MAX_BYTES = 4096

/** What a receiver answered, as far as it was read. */
export interface ReceiverAnswer {
  /** The first `RECEIVER_ANSWER_MAX_BYTES` of the body at most, as UTF-8; not yet redacted. */
  text: string
  /** Whether the body went on beyond what was read (redact it with `redactCut`). */
  truncated: boolean
}

/**
 * Reads at most `maxBytes` of a response's body and cancels the rest, which closes the
 * connection: a receiver may answer with gigabytes, or never stop, and each byte read
 * would cost the monitor memory and the event loop time that its checks need. A body that
 * fails midway (a reset, the request's deadline) ends the read; what came is kept.
 */
export async function readReceiverAnswer(
  res: Response,
  maxBytes: number = RECEIVER_ANSWER_MAX_BYTES,
): Promise<ReceiverAnswer> {
  if (!res.body) return { text: '', truncated: false }
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let kept = 0
  let truncated = false
  try {
    while (kept < maxBytes) {
      const { done, value } = await reader.read()
      if (done) break
      const room = maxBytes - kept
      const part = value.byteLength > room ? value.subarray(0, room) : value
      chunks.push(part)
      kept += part.byteLength
    }
    // Stopped at the bound with the body still open: whatever follows is not wanted.
    if (kept >= maxBytes) truncated = true
  } catch {
    // Cut short by the receiver or the deadline: what came is the answer.
  } finally {
    reader.cancel().catch(() => {})
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated }
}

/** A sender of notifications, as the monitor's shutdown sees it. */
export interface PendingDeliveries {
  /** What it sends, for the log line: `webhooks`, `Alertmanager`. */
  readonly name: string
  /** Notifications waiting or being delivered now. */
  readonly pending: number
  /**
   * Stops taking new work and delivers what is pending (no retries). When `abandon` is
   * aborted, drops what is left and ends every request in flight, resolving soon after.
   */
  drain(abandon: AbortSignal): Promise<void>
}

/** The default time a stopping monitor gives pending deliveries, ms (`--shutdown-timeout`). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000

/**
 * Drains every sender until `deadline` (epoch ms), then abandons what is left and logs one
 * line naming how much. Resolves with the number of notifications abandoned.
 */
export async function drainDeliveries(
  senders: Iterable<PendingDeliveries>,
  deadline: number,
  logger: Logger | false,
): Promise<number> {
  const list = [...senders]
  if (list.length === 0) return 0
  const abandon = new AbortController()
  const drained = Promise.allSettled(list.map((s) => s.drain(abandon.signal)))
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    drained.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()))
    }),
  ])
  clearTimeout(timer)
  if (!timedOut) return 0
  const left = list.map((s) => ({ name: s.name, pending: s.pending })).filter((s) => s.pending > 0)
  const total = left.reduce((sum, s) => sum + s.pending, 0)
  abandon.abort(new Error('the shutdown timeout was reached'))
  await drained
  if (total > 0) {
    limitedLog(logger).write(
      'error',
      { cause: 'shutdown abandoned deliveries' },
      `probekit monitor: the shutdown timeout was reached; abandoned ${total} pending notification${total === 1 ? '' : 's'} (${left.map((s) => `${s.name}: ${s.pending}`).join(', ')})`,
      { abandoned: total },
    )
  }
  return total
}

/**
 * A sender's side of the shutdown: `finish` stops it and delivers what is pending (no
 * retries); `abandoning` is aborted when the shutdown gives up on it.
 */
export function senderDeliveries(
  name: string,
  pending: () => number,
  abandoning: AbortController,
  finish: () => Promise<void>,
): PendingDeliveries {
  return {
    name,
    get pending() {
      return pending()
    },
    drain(abandon: AbortSignal) {
      if (abandon.aborted) abandoning.abort()
      else abandon.addEventListener('abort', () => abandoning.abort(), { once: true })
      return finish()
    },
  }
}
