/**
 * Long polls of the monitor's API (Consul's blocking queries): a `watch` route answers
 * with `produce(states)`, and with `?index=N` waits first until the monitor's index passes
 * N (or `wait` runs out). Every answer carries the index the client passes back next time.
 * Watchers woken by one change share its snapshot, and the answer for each variant (path
 * and filters) is serialised — and compressed — once.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { durationMs } from '../../core/duration.js'
import { jsonSafe } from '../../core/inert.js'
import type { Access } from '../auth.js'
import type { Monitor, StateScope } from '../monitor.js'
import { Slots } from '../rate-limit.js'
import type { CheckState } from '../types.js'
import { type ApiCall, acceptsGzip, busy, gzipParts, HttpError, JSON_TYPE, sendWithin } from './call.js'

export const DEFAULT_WAIT_MS = 5 * 60_000
const INDEX_HEADER = 'x-probekit-index'
/** Answers smaller than this are not worth compressing. */
const GZIP_MIN_BYTES = 1024

/** Items (checks) of an answer rendered at a time: a few milliseconds of the event loop. */
export const JSON_PART_ITEMS = 500

/** A cached answer to watchers: its JSON bytes and, once a client asked for it, their gzip. */
interface Answer {
  /** The monitor's index when the states were read, when it is not the snapshot's. */
  index?: number
  body: Promise<Buffer[]>
  gzip?: Promise<Buffer>
}

/**
 * Which states a watched route answers from: one check (`id`), or a pod, node and states. The
 * monitor copies only those for a plain GET, and a long poll's snapshot is narrowed to them
 * before the route's `produce` sees it.
 */
export interface WatchScope extends StateScope {
  id?: string | undefined
}

export interface LongPollOptions {
  /** Longest wait a client may ask for, ms. */
  maxWaitMs: number
  /** Watchers waiting at once at most; more are answered 503 with Retry-After. */
  maxWatchers: number
  /** Ms an answer may take to be written from its first byte; then its connection is closed. */
  writeDeadlineMs: number
  /** Bytes of distinct answers being written at once at most (`MAX_ANSWER_BYTES`). */
  maxAnswerBytes?: number
}

/**
 * Plain GETs of different things rendered at once at most; one more is answered 503 with
 * Retry-After. Each holds a rendering in memory (15 MB for 50,000 checks) and takes turns
 * with the checks on the event loop; GETs of the same thing share one (see `fresh`).
 */
export const MAX_RENDERINGS = 8

/**
 * Bytes of answers being written at once, each distinct answer counted once however many
 * clients it goes to (2,000 watchers woken by one change share one). A client that does not
 * read pins what it was sent until the write deadline; past this, a request whose answer
 * would add to it is answered 503 with Retry-After. One answer alone always goes out.
 */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024

export class LongPoll {
  private readonly closing = new AbortController()
  // Watchers waiting now, ended together on close (one set, not a listener each:
  // EventTarget listeners cost O(n) to add and remove).
  private readonly waiting = new Set<AbortController>()
  private readonly watchers: Slots
  // Answers to woken watchers, serialised once per change snapshot and per variant.
  private readonly answers = new WeakMap<CheckState[], Map<string, Answer>>()
  // Answers to plain GETs being rendered now, by variant (see `fresh`).
  private readonly rendering = new Map<string, Answer>()
  private readonly writing: AnswersInFlight

  constructor(
    private readonly monitor: Monitor,
    private readonly access: Access,
    private readonly options: LongPollOptions,
  ) {
    this.watchers = new Slots(options.maxWatchers)
    this.writing = new AnswersInFlight(options.maxAnswerBytes ?? MAX_ANSWER_BYTES)
  }

  /** Answers the call with `produce(states)`, after waiting when it asks `?index=`. */
  async answer(
    { req, res, url, query }: Pick<ApiCall, 'req' | 'res' | 'url' | 'query'>,
    produce: (states: CheckState[]) => unknown,
    scope: WatchScope = {},
  ): Promise<void> {
    const monitor = this.monitor
    const variant = `${url.pathname}?${variantOf(query)}`
    const rawIndex = query.get('index')
    let index = monitor.index
    let states: CheckState[] | undefined
    if (rawIndex !== null) {
      const after = parseIndex(rawIndex)
      const waitMs = parseWait(query.get('wait'), this.options.maxWaitMs)
      // An index above the monitor's means it restarted: answer at once, as Consul does.
      // Below it, the monitor answers from its latest snapshot, shared by every watcher.
      const release = after <= index ? this.watchers.acquire() : undefined
      if (after < index && !release) {
        const snapshot = await monitor.waitForChange(after, 0)
        index = snapshot.index
        states = snapshot.states
      } else if (after <= index) {
        if (!release) throw busy(`${this.watchers.max} watchers are waiting, the most this monitor serves at once`)
        const abort = new AbortController()
        const onClose = () => abort.abort()
        res.on('close', onClose)
        this.waiting.add(abort)
        if (this.closing.signal.aborted) abort.abort()
        try {
          // Jitter spreads the wake-ups of many watchers whose waits end together.
          const jittered = waitMs + Math.floor(Math.random() * (waitMs / 16))
          const changed = await monitor.waitForChange(after, jittered, abort.signal)
          index = changed.index
          states = changed.states
        } finally {
          release()
          res.off('close', onClose)
          this.waiting.delete(abort)
        }
        if (res.destroyed) return
        // The token may have been revoked (SIGHUP) during the wait.
        this.access.admit(req, 'api')
      }
    }
    let answer: Answer
    if (!states) {
      answer = this.fresh(variant, produce, scope)
    } else {
      let bodies = this.answers.get(states)
      if (!bodies) this.answers.set(states, (bodies = new Map()))
      let cached = bodies.get(variant)
      if (cached === undefined) {
        // Bytes, so 2,000 answers write the same bytes instead of encoding the text 2,000 times.
        // The snapshot is sorted, and so is what is kept of it.
        cached = { body: jsonParts(produce(inScope(states, scope))) }
        bodies.set(variant, cached)
      }
      answer = cached
    }
    const body = await answer.body
    if (res.destroyed) return
    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      [INDEX_HEADER]: String(answer.index ?? index),
      vary: 'accept-encoding',
    }
    // Compressed once per snapshot for every watcher that accepts it (by zlib's threads, off
    // the event loop): 2,000 watchers of a large fleet cost a few megabytes per change
    // instead of a few hundred.
    if (byteLength(body) >= GZIP_MIN_BYTES && acceptsGzip(req)) {
      answer.gzip ??= gzipParts(body)
      const compressed = await answer.gzip
      if (!res.destroyed) this.write(req, res, compressed, { ...headers, 'content-encoding': 'gzip' })
      return
    }
    this.write(req, res, body, headers)
  }

  /** Sends `body` within the write deadline, if the answers being written leave room for it. */
  private write(req: IncomingMessage, res: ServerResponse, body: Buffer | Buffer[], headers: Record<string, string>) {
    if (req.method !== 'HEAD' && !this.writing.hold(body, res)) {
      throw busy(
        `the answers being written to clients hold ${Math.round(this.writing.bytes / 1024 / 1024)} MB, the most this monitor keeps for them (slow readers)`,
      )
    }
    sendWithin(this.options.writeDeadlineMs, req, res, 200, Array.isArray(body) ? body : [body], headers)
  }

  /**
   * The answer to a plain GET (no `?index=`): rendered from the states in scope now, or, while
   * an answer to the same variant is still being rendered, that one. A list of 50,000 checks
   * takes a few hundred milliseconds to render a part at a time; 100 clients asking for it
   * meanwhile share one rendering, its bytes and its gzip, instead of holding 100 copies of
   * 15 MB. What they get was read when that rendering began, a moment before they asked, and
   * carries the index of that moment: a client passing it back as `?index=` misses nothing.
   */
  private fresh(variant: string, produce: (states: CheckState[]) => unknown, scope: WatchScope): Answer {
    const rendering = this.rendering.get(variant)
    if (rendering) return rendering
    if (this.rendering.size >= MAX_RENDERINGS) {
      throw busy(`${MAX_RENDERINGS} answers are being rendered, the most this monitor renders at once`)
    }
    // The states in scope only: one check's answer from a 50,000-check monitor copies one.
    const { id, ...within } = scope
    const monitor = this.monitor
    const current = id === undefined ? monitor.states(within) : [monitor.state(id)].filter((s) => s !== undefined)
    const answer: Answer = { index: monitor.index, body: jsonParts(produce(current)) }
    this.rendering.set(variant, answer)
    const done = () => {
      if (this.rendering.get(variant) === answer) this.rendering.delete(variant)
    }
    answer.body.then(done, done)
    return answer
  }

  /** Ends every wait now (each watcher answers with what it has); later ones end at once. */
  close(): void {
    this.closing.abort()
    for (const abort of this.waiting) abort.abort()
  }
}

/**
 * The answers being written, each distinct body counted once (see `MAX_ANSWER_BYTES`): held
 * from its write to the end of its response, whichever way that ends.
 */
class AnswersInFlight {
  private readonly held = new Map<object, { bytes: number; answers: number }>()
  private total = 0

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.total
  }

  /** Holds `body` until `res` closes; false (nothing held) when it would pass the bound. */
  hold(body: Buffer | Buffer[], res: ServerResponse): boolean {
    let entry = this.held.get(body)
    if (!entry) {
      const bytes = Array.isArray(body) ? byteLength(body) : body.length
      if (this.total > 0 && this.total + bytes > this.maxBytes) return false
      entry = { bytes, answers: 0 }
      this.held.set(body, entry)
      this.total += bytes
    }
    const held = entry
    held.answers++
    res.once('close', () => {
      if (--held.answers > 0) return
      this.held.delete(body)
      this.total -= held.bytes
    })
    return true
  }
}

function inScope(states: CheckState[], { id, pod, node, state }: WatchScope): CheckState[] {
  if (id === undefined && pod === undefined && node === undefined && state === undefined) return states
  return states.filter(
    (s) =>
      (id === undefined || s.id === id) &&
      (pod === undefined || s.pod === pod) &&
      (node === undefined || s.node === node) &&
      (state === undefined || state.includes(s.state)),
  )
}

function byteLength(parts: readonly Buffer[]): number {
  return parts.reduce((n, part) => n + part.length, 0)
}

/**
 * The bytes of `jsonText(value)`, rendered `JSON_PART_ITEMS` items at a time with the event
 * loop free between parts, so that checks due meanwhile start on time: the list of 50,000
 * checks is 15 MB of JSON, and `/v1/inspect` of them as much. Collections are opened (arrays,
 * and objects whose values are all objects: pods, nodes, checks by name), and their items
 * are rendered whole, by JSON.stringify; the bytes are the same.
 */
export async function jsonParts(value: unknown): Promise<Buffer[]> {
  const out = new JsonParts()
  await out.value(value, '')
  return out.end()
}

/** What `jsonParts` writes to: the text of the part being filled, and the parts done. */
class JsonParts {
  private readonly parts: Buffer[] = []
  private text = ''
  private items = 0

  /** `value` as JSON.stringify(value, null, 2) writes it at `indent`. */
  async value(value: unknown, indent: string): Promise<void> {
    if (Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function')
      return this.container(value, undefined, indent)
    if (isCollection(value)) {
      const keys = Object.keys(value)
      return this.container(
        keys.map((key) => value[key]),
        keys,
        indent,
      )
    }
    this.text += (JSON.stringify(value, null, 2) ?? 'null').replaceAll('\n', `\n${indent}`)
    if (++this.items % JSON_PART_ITEMS === 0) {
      this.parts.push(Buffer.from(jsonSafe(this.text)))
      this.text = ''
      await nextTurn()
    }
  }

  /** An array (`keys` undefined) or an object's `values` under their `keys`, an item at a time. */
  private async container(values: readonly unknown[], keys: readonly string[] | undefined, indent: string) {
    const [open, close] = keys ? ['{', '}'] : ['[', ']']
    if (values.length === 0) {
      this.text += open + close
      return
    }
    const inner = `${indent}  `
    this.text += open
    for (let i = 0; i < values.length; i++) {
      this.text += `${i > 0 ? ',' : ''}\n${inner}${keys ? `${JSON.stringify(keys[i])}: ` : ''}`
      const item = values[i]
      // As JSON.stringify writes what JSON cannot hold in an array (a collection's values are objects).
      await this.value(
        item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : item,
        inner,
      )
    }
    this.text += `\n${indent}${close}`
  }

  end(): Buffer[] {
    this.parts.push(Buffer.from(`${jsonSafe(this.text)}\n`))
    return this.parts
  }
}

/**
 * A plain object whose values are all objects (a map of named things), without `toJSON`:
 * opened by `jsonParts`. Others (a check's state, with its strings and numbers) are items.
 */
function isCollection(value: unknown): value is Record<string, object> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  if ((proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return false
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const child = (value as Record<string, unknown>)[key]
    if (typeof child !== 'object' || child === null) return false
  }
  return true
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

/**
 * What a watched answer depends on, of a request's query: `pod`, `node` and the set of
 * `state`s. Requests that differ in nothing else share an answer, whatever other parameters
 * they carry (a cache-buster `?_=<time>` must not cost a rendering of its own).
 */
function variantOf(query: URLSearchParams): string {
  const states = [...new Set(query.getAll('state').flatMap((v) => v.split(',')))].sort()
  return JSON.stringify([query.getAll('pod'), query.getAll('node'), states])
}
