/**
 * `/v1/silences` of the monitor's API: GET lists, POST adds, DELETE `/v1/silences/ID` (or
 * POST `/v1/silences/ID/expire`) ends one. Writes pass the API's auth gate like every
 * other write (their routes' class is `api`). An answer to a write comes once the store
 * holds it: 201 means the silence is durable (in etcd: written, so every replica sees it),
 * and a store that could not write it (etcd not answering) answers 503 with its sentence.
 */

import { durationMs } from '../../core/duration.js'
import { cutShort } from '../../core/inert.js'
import { didYouMean } from '../../core/suggest.js'
import { covers, MAX_COMMENT, SilenceError, type SilenceInput, type Silences } from '../silences.js'
import { StoreError } from '../store/errors.js'
import type { CheckKey } from '../types.js'
import { type ApiCall, type BodyLimit, HttpError, readBodyTail, sendJson } from './call.js'

/** A silence's JSON body is small; more is refused. */
const SILENCE_BODY_MAX_BYTES = 16 * 1024
const ADD_LIMIT = {
  maxBytes: SILENCE_BODY_MAX_BYTES,
  name: 'silence body',
  fix: `send a JSON object with pod, for or until, and a comment of at most ${MAX_COMMENT} characters`,
}
/** What a silence's body may hold; anything else is refused, not ignored. */
const SILENCE_FIELDS = ['pod', 'node', 'check', 'for', 'until', 'comment', 'author']
const EXPIRE_LIMIT = { maxBytes: SILENCE_BODY_MAX_BYTES, name: 'silence body', fix: 'ending a silence needs no body' }

/**
 * The handlers of the silence routes, over one set of silences. `tokenRequired` (whether
 * writes need a bearer token: the monitor has `--auth-token-file`) goes out with the list,
 * so the dashboard can say that adding a silence needs a token before anyone tries.
 */
export function silenceHandlers(
  silences: Silences,
  tokenRequired: () => boolean,
  /** The checks of the monitor's manifests, to say how many a new silence matches. */
  checks: () => readonly CheckKey[] = () => [],
) {
  return {
    /** `GET /v1/silences` */
    list({ req, res }: ApiCall): void {
      sendJson(req, res, 200, { silences: silences.list(), tokenRequired: tokenRequired() })
    },

    /** `POST /v1/silences {pod, node?, check?, for|until, comment, author?}` */
    async add({ req, res }: ApiCall): Promise<void> {
      const body = await readBody(req, ADD_LIMIT)
      let input: Record<string, unknown>
      try {
        input = JSON.parse(body) as Record<string, unknown>
      } catch {
        throw new HttpError(400, 'the body is not JSON; send e.g. {"pod":"web","for":"2h","comment":"deploy"}')
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        throw new HttpError(400, 'the body must be a JSON object with pod, for or until, and comment')
      refuseUnknownFields(input)
      try {
        const forText = input.for
        const request: SilenceInput = {
          pod: input.pod as string,
          comment: input.comment as string,
          ...(input.node !== undefined ? { node: input.node as string } : {}),
          ...(input.check !== undefined ? { check: input.check as string } : {}),
          ...(input.author !== undefined ? { author: input.author as string } : {}),
          ...(input.until !== undefined ? { until: String(input.until) } : {}),
          ...(forText !== undefined ? { forMs: forDuration(forText) } : {}),
        }
        const silence = await silences.add(request)
        // How many checks it holds back now: 0 is most often a typo in the pod's id, which
        // would leave the pod meant paging (it still applies to a check that appears later).
        const matching = checks().filter((c) => covers(silence, c)).length
        sendJson(req, res, 201, { silence, matching })
      } catch (error) {
        if (error instanceof SilenceError) throw new HttpError(400, error.message)
        throw storeRefusal(error)
      }
    },

    /** `DELETE /v1/silences/<id>`, and `POST /v1/silences/<id>/expire` for clients that cannot DELETE */
    async expire({ req, res, params }: ApiCall): Promise<void> {
      // A body is read and dropped, so the connection stays open for the next request.
      if (req.method === 'POST') await readBody(req, EXPIRE_LIMIT)
      const id = params.id as string
      let ended: Awaited<ReturnType<Silences['expire']>>
      try {
        ended = await silences.expire(id)
      } catch (error) {
        throw storeRefusal(error)
      }
      // Quoted short: the id is the caller's, up to the size of a request line.
      if (!ended)
        throw new HttpError(404, `no silence ${JSON.stringify(cutShort(id, 64))}; GET /v1/silences lists them`)
      sendJson(req, res, 200, { silence: ended })
    },
  }
}

async function readBody(req: ApiCall['req'], limit: BodyLimit): Promise<string> {
  return (await readBodyTail(req, SILENCE_BODY_MAX_BYTES, limit)).text
}

/** A store that could not write (etcd not answering) is 503 with its sentence; anything else stays what it was. */
function storeRefusal(error: unknown): unknown {
  return error instanceof StoreError ? new HttpError(503, error.message) : error
}

/**
 * 400 for a field a silence does not have. Ignored, a typo would widen the silence
 * (`"chek": "db"` mutes every check of the pod) and Alertmanager's `startsAt` would start
 * it now instead of later, both without a word.
 */
function refuseUnknownFields(input: Record<string, unknown>): void {
  for (const name of Object.keys(input)) {
    if (SILENCE_FIELDS.includes(name)) continue
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
    throw new HttpError(
      400,
      `unknown field ${shown} in a silence; it takes ${SILENCE_FIELDS.join(', ')}${didYouMean(name, SILENCE_FIELDS)}`,
    )
  }
}

function forDuration(value: unknown): number {
  const ms = typeof value === 'number' ? value * 1000 : durationMs(String(value))
  if (ms === undefined) throw new SilenceError(`\`for\` ${JSON.stringify(value)} is not a duration; use e.g. 30m or 2h`)
  return ms
}
