/**
 * `/v1/push/<name>[/<report>]`: a push check's ping. The name is `check`, `pod/check` or
 * `node/pod/check` (as the monitor resolves it), the report `start`, `fail` or an exit
 * status. The route's gate class is `push`: the credential is decided here, once the
 * check (and so its own secret) is known; the per-check rate limit comes after it, so a
 * stranger's flood cannot spend a check's budget.
 */
import { redactCut } from '../../core/redact.js'
import type { Access } from '../auth.js'
import type { Monitor } from '../monitor.js'
import { PUSH_REPORTS, type PushKind, parsePushReport } from '../push.js'
import { TokenBuckets } from '../rate-limit.js'
import { type ApiCall, HttpError, readBodyTail, sendJson } from './call.js'

/** Largest push body kept; the rest of a longer body is read and dropped (its tail is kept). */
export const PUSH_BODY_KEPT_BYTES = 10 * 1024
/** A push body beyond 1 MB is refused with 413. */
const PUSH_BODY_LIMIT = { maxBytes: 1024 * 1024, name: 'push body', fix: "send the log's tail" }
export const DEFAULT_PUSH_RATE_PER_SECOND = 10

/** The push route's handler over one monitor; at most `ratePerSecond` pushes per check per second. */
export function pushHandler(monitor: Monitor, access: Access, ratePerSecond: number) {
  const buckets = new TokenBuckets({ ratePerSecond })
  return async ({ req, res, query, rest: path }: ApiCall): Promise<void> => {
    let rest = [...path]
    let kind: PushKind = 'success'
    const last = rest[rest.length - 1]
    // A whole path that names a push check is that check, even when its last part reads as a
    // report (a check named `fail`, `start` or `3`: `/v1/push/backup/fail` is pod backup's
    // check fail, succeeding; its failure is `/v1/push/backup/fail/fail`).
    const whole = rest.length >= 2 && rest.length <= 3 ? monitor.pushCheck(rest.join('/')) : undefined
    const report = !whole && rest.length >= 2 && last !== undefined ? parsePushReport(last) : undefined
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
    const pushCheck = whole ?? monitor.pushCheck(name)
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
    const retryAfterSeconds = buckets.take(id)
    if (retryAfterSeconds > 0) {
      throw new HttpError(
        429,
        `too many pushes for ${id}: at most ${ratePerSecond} a second are accepted (--push-rate); retry after ${retryAfterSeconds} s`,
        { 'retry-after': String(retryAfterSeconds) },
      )
    }
    const { text, cut } = await readBodyTail(req, PUSH_BODY_KEPT_BYTES, PUSH_BODY_LIMIT)
    // Only the tail was kept: a credential may straddle where it starts, so that is masked too.
    const body = cut ? redactCut(text, { start: true }, monitor.secrets) : text
    if (!monitor.push(id, kind, body || undefined)) throw unknown()
    const exitStatus = typeof kind === 'number' ? { exitStatus: kind } : {}
    const reported = typeof kind === 'number' ? (kind === 0 ? 'success' : 'fail') : kind
    sendJson(req, res, 200, { ok: true, check: name, kind: reported, ...exitStatus })
  }
}
