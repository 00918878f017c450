/**
 * `/v1/silences` of the monitor's API: GET lists, POST adds, DELETE `/v1/silences/ID` (or
 * POST `/v1/silences/ID/expire`) ends one. Writes pass the API's auth gate like every
 * other write. Answers are plain values; api.ts sends them. An answer to a write comes
 * once the store holds it: 201 means the silence is durable (in etcd: written, so every
 * replica sees it), and a store that could not write it (etcd not answering) answers 503
 * with its sentence.
 */

import { durationMs } from '../core/duration.js'
import { SilenceError, type SilenceInput, type Silences } from './silences.js'
import { StoreError } from './store/errors.js'

export interface SilencesAnswer {
  status: number
  body: unknown
}

/** A silence's JSON body is small; more is refused. */
export const SILENCE_BODY_MAX_BYTES = 16 * 1024

/**
 * `tokenRequired` (whether writes need a bearer token: the monitor has `--auth-token-file`)
 * goes out with the list, so the dashboard can say that adding a silence needs a token
 * before anyone tries.
 */
export async function silencesRoute(
  silences: Silences,
  method: string,
  rest: string[],
  body: string,
  tokenRequired = false,
): Promise<SilencesAnswer> {
  if (rest.length === 0 && (method === 'GET' || method === 'HEAD'))
    return { status: 200, body: { silences: silences.list(), tokenRequired } }
  if (rest.length === 0 && method === 'POST') {
    let input: Record<string, unknown>
    try {
      input = JSON.parse(body) as Record<string, unknown>
    } catch {
      return problem(400, 'the body is not JSON; send e.g. {"pod":"web","for":"2h","comment":"deploy"}')
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      return problem(400, 'the body must be a JSON object with pod, for or until, and comment')
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
      return { status: 201, body: { silence: await silences.add(request) } }
    } catch (error) {
      if (error instanceof SilenceError) return problem(400, error.message)
      if (error instanceof StoreError) return problem(503, error.message)
      throw error
    }
  }
  const [id, action] = rest
  if (
    id &&
    ((rest.length === 1 && method === 'DELETE') || (rest.length === 2 && action === 'expire' && method === 'POST'))
  ) {
    let ended: Awaited<ReturnType<Silences['expire']>>
    try {
      ended = await silences.expire(id)
    } catch (error) {
      if (error instanceof StoreError) return problem(503, error.message)
      throw error
    }
    return ended
      ? { status: 200, body: { silence: ended } }
      : problem(404, `no silence ${JSON.stringify(id)}; GET /v1/silences lists them`)
  }
  return problem(405, 'use GET or POST /v1/silences, DELETE /v1/silences/ID or POST /v1/silences/ID/expire')
}

function forDuration(value: unknown): number {
  const ms = typeof value === 'number' ? value * 1000 : durationMs(String(value))
  if (ms === undefined) throw new SilenceError(`\`for\` ${JSON.stringify(value)} is not a duration; use e.g. 30m or 2h`)
  return ms
}

function problem(status: number, error: string): SilencesAnswer {
  return { status, body: { error } }
}
