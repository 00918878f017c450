/**
 * What every route handler of the monitor's API works with: the call (request, response,
 * the route's parameters), the error that answers a refusal, and the one way answers are
 * written (no-store, nosniff, inert JSON, no body for HEAD).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { jsonSafe } from '../../core/inert.js'
import { didYouMean } from '../../core/suggest.js'
import type { RouteClass } from '../auth.js'
import type { CheckState } from '../types.js'
import type { RouteSpec } from './routes.js'
import type { WatchScope } from './watch.js'

/** One request as a handler sees it. */
export interface ApiCall {
  req: IncomingMessage
  res: ServerResponse
  /** The request URL (pathname as sent, `searchParams` parsed). */
  url: URL
  query: URLSearchParams
  /** The route's `:name` parameters, percent-decoded. */
  params: Readonly<Record<string, string>>
  /** What the route's trailing `*` matched, one decoded segment each. */
  rest: readonly string[]
  /**
   * Answers with `produce(states)`, first waiting for a change when the client asks
   * `?index=` (see watch.ts). `states` are sorted, and only those in `scope` (one check, or
   * a pod and node) when it is given. Only a route whose policy is `hold: 'watch'` may.
   */
  watch(produce: (states: CheckState[]) => unknown, scope?: WatchScope): Promise<void>
}

export type ApiHandler = (call: ApiCall) => void | Promise<void>

/** A route of the table: where, and its policy; the dispatcher applies the policy, the handler answers. */
export interface ApiRoute extends RouteSpec {
  /**
   * The auth gate's class (see auth.ts): `api` needs a credential for reads and writes as
   * configured, `push` is decided by the handler once the check is known (`admitPush`),
   * `asset` (the dashboard's files) is public.
   */
  access: RouteClass
  /**
   * Requests held open: `stream` takes one of the `maxStreams` slots for its life (503
   * with Retry-After at the cap); `watch` may long-poll with `?index=`, taking one of the
   * `maxWatchers` slots while it waits.
   */
  hold?: 'stream' | 'watch'
  /**
   * The query parameters the route reads (`index` and `wait` come with `hold: 'watch'`).
   * Any other, except the cache-buster `_`, is answered 400 with the ones it takes, so a
   * typo (`?states=critical`) is not quietly an unfiltered answer. Routes without the list
   * (`/metrics`, the push route, the dashboard's files) take any, as their clients add
   * their own (Prometheus' `params`, a cron job's).
   */
  query?: readonly string[]
  /** How messages name the route, when its `path` pattern (`/v1/checks/*`) says too little. */
  shown?: string
  handler: ApiHandler
}

export const JSON_TYPE = 'application/json; charset=utf-8'
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const
/** Seconds a client refused at the watcher or stream cap is asked to wait. */
const BUSY_RETRY_AFTER_SECONDS = 5

/** A request whose client went away before its body arrived: nothing to answer, nothing to log as an error. */
export class ClientGone extends Error {}

/** A request the API refuses, with the status and the one sentence it answers. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/**
 * The 400 for a query parameter a route does not read: `unknown query parameter "states"
 * for GET /v1/checks; it takes state, …; did you mean "state"?`. `aside` follows the list.
 */
export function unknownParameter(name: string, where: string, takes: readonly string[], aside = ''): HttpError {
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
  const known = takes.length === 0 ? 'it takes none' : `it takes ${takes.join(', ')}`
  return new HttpError(400, `unknown query parameter ${shown} for ${where}; ${known}${aside}${didYouMean(name, takes)}`)
}

/** 503 for a client refused at a cap, with the seconds to wait. */
export function busy(what: string): HttpError {
  return new HttpError(503, `${what}; retry after ${BUSY_RETRY_AFTER_SECONDS} s`, {
    'retry-after': String(BUSY_RETRY_AFTER_SECONDS),
  })
}

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  body: string | Buffer | readonly Buffer[],
  headers: Record<string, string>,
): void {
  if (res.headersSent || res.destroyed) return
  const parts = typeof body === 'string' || Buffer.isBuffer(body) ? [body] : body
  // An answer given before the body was read (401, 403, 429, …) ends the connection: the
  // rest of the body is never read, so a client cannot hold the socket by trickling it.
  const unread = req.complete ? {} : { connection: 'close' }
  res.writeHead(statusCode, {
    ...COMMON_HEADERS,
    'content-length': String(parts.reduce((n, part) => n + Buffer.byteLength(part), 0)),
    ...headers,
    ...unread,
  })
  if (req.method === 'HEAD') res.end()
  else if (parts.length === 1) res.end(parts[0])
  else {
    for (const part of parts) res.write(part)
    res.end()
  }
}

/**
 * `send`, with a deadline for the last byte: an answer not written `deadlineMs` after it
 * started is cut, its connection closed (so 'close' frees what the answer held). The timer
 * ends with the response, whichever way it ends.
 */
export function sendWithin(
  deadlineMs: number,
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  body: readonly Buffer[],
  headers: Record<string, string>,
): void {
  send(req, res, statusCode, body, headers)
  if (res.writableFinished || res.destroyed) return
  const timer = setTimeout(() => res.destroy(), deadlineMs)
  // The server keeps the process alive, not a timer of one of its answers.
  timer.unref()
  const clear = () => clearTimeout(timer)
  res.once('finish', clear)
  res.once('close', clear)
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  statusCode: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(req, res, statusCode, jsonText(value), { 'content-type': JSON_TYPE, ...headers })
}

const gzipAsync = promisify(gzip)

/** `parts` gzip-compressed (level 1) by zlib's threads, off the event loop. */
export function gzipParts(parts: readonly Buffer[]): Promise<Buffer> {
  return gzipAsync(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), { level: 1 })
}

/** Whether the request takes `Content-Encoding: gzip` (`Accept-Encoding` lists it with a q above 0). */
export function acceptsGzip(req: IncomingMessage): boolean {
  const accepted = req.headers['accept-encoding']
  return typeof accepted === 'string' && /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*(,|$))[\d.]+)?\s*(,|$)/i.test(accepted)
}

export function jsonText(value: unknown): string {
  // jsonSafe: the same JSON to a parser, inert when `curl` prints it to a terminal.
  return `${jsonSafe(JSON.stringify(value, null, 2))}\n`
}

/** How the 413 for a body over its route's limit names the body and what to send instead. */
export interface BodyLimit {
  /** Bytes beyond which the body is refused. */
  maxBytes: number
  /** What the body is, e.g. `push body`. */
  name: string
  /** What to send instead, e.g. `send the log's tail`. */
  fix: string
}

/**
 * Reads a body, keeping at most `keep` bytes (its tail: a log's end says why it failed);
 * one over `limit.maxBytes` is refused with 413 and the sentence `limit` words.
 */
export function readBodyTail(
  req: IncomingMessage,
  keep: number,
  limit: BodyLimit,
): Promise<{ text: string; cut: boolean }> {
  const max = limit.maxBytes
  // A refused body is not read on: the 413 goes out and the connection closes after it.
  const tooLarge = (size: string) =>
    new HttpError(413, `${limit.name}${size} is over ${max} bytes; ${limit.fix}`, { connection: 'close' })
  const declared = Number(req.headers['content-length'])
  if (declared > max) return Promise.reject(tooLarge(` of ${declared} bytes`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let kept = 0
    let total = 0
    req.on('data', (chunk: Buffer) => {
      total += chunk.length
      if (total > max) {
        req.removeAllListeners('data')
        req.pause()
        reject(tooLarge(''))
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
