/**
 * The answer's head to one plain-HTTP request, read off a socket the probe owns: status,
 * reason phrase and `Location`, nothing of the body. This is all an `http://` check asks
 * when it judges only the status (the default, and every `probekit check http://…`), and
 * it spares a check that starts a process of its own loading node:http and compiling its
 * first request (~5 ms of a ~30 ms start). A check that reads the body, or speaks TLS,
 * goes through node:http(s) as before.
 *
 * The head is read as strictly as Node's own parser reads it where a health check could
 * tell the difference: an `HTTP/1.x` status line with a three-digit code, header lines of
 * a token, a colon and a value without control characters, at most 16 KB (Node's default
 * `maxHeaderSize`), interim 1xx answers skipped. Anything else is "not a valid HTTP
 * response", with the first bytes it began with.
 */
import { Socket } from 'node:net'
import { NotReady } from '../core/errors.js'
import { describeNetworkError } from './network-error.js'
import { discard, settleOnce } from './socket.js'

/** Node's default `--max-http-header-size`: a longer head is refused, as node:http refuses it. */
const MAX_HEAD_BYTES = 16 * 1024
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: ([^\r\n]*))?$/
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/
/** What node:http refuses in a header value it sends (ERR_INVALID_CHAR). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

export interface HeadRequest {
  host: string
  port: number
  /** The `Host` header: the URL's host, with the port when it is not 80. */
  hostHeader: string
  /** Path and query, as the URL spells them. */
  path: string
  method: 'GET' | 'HEAD'
  /** Sent as given, after the defaults; a `host` among them replaces the URL's. */
  headers: Record<string, string>
  limitMs: number
  /** The prefix of reasons: the URL, redacted. */
  shown: string
  /** The prefix of the connect limit's reason, as settleOnce words it. */
  what: string
}

export interface HeadAnswer {
  status: number
  statusMessage: string
  location: string | undefined
}

/** Whether these headers can be sent as they are: one sentence naming the first that cannot, else undefined. */
export function headerProblem(headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return `header name ${JSON.stringify(name)} is not a token`
    if (INVALID_VALUE.test(String(value))) {
      return `header ${JSON.stringify(name)} holds a character a header may not (a line break or a control character)`
    }
  }
  return undefined
}

/** Sends one request with `Connection: close` and resolves with the final answer's head. */
export function requestHead(request: HeadRequest, signal: AbortSignal): Promise<HeadAnswer> {
  const socket = new Socket()
  return settleOnce<HeadAnswer>(
    { signal, what: request.what, limitMs: request.limitMs },
    () => discard(socket),
    (settle) => {
      const fail = (reason: string) => settle.reject(new NotReady(`${request.shown}: ${reason}`))
      let buffered: Buffer = Buffer.alloc(0)
      socket.on('error', (error) => fail(describeNetworkError(error)))
      socket.on('close', () =>
        fail(
          buffered.length === 0
            ? 'the server closed the connection without answering'
            : 'the server closed the connection in the middle of its answer',
        ),
      )
      socket.on('data', (chunk: Buffer) => {
        if (settle.settled) return
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
        for (;;) {
          const end = headEnd(buffered)
          if (end === undefined) {
            if (buffered.length > MAX_HEAD_BYTES)
              fail(`not a valid HTTP response: its head is over ${MAX_HEAD_BYTES / 1024} KB`)
            return
          }
          if (end.headLength > MAX_HEAD_BYTES) {
            return fail(`not a valid HTTP response: its head is over ${MAX_HEAD_BYTES / 1024} KB`)
          }
          const head = parseHead(buffered.toString('latin1', 0, end.headLength))
          if (typeof head === 'string') return fail(`not a valid HTTP response: ${head}`)
          // 100 Continue, 102 Processing, 103 Early Hints: interim; the answer follows.
          if (head.status < 200 && head.status !== 101) {
            buffered = buffered.subarray(end.headLength + end.separatorLength)
            continue
          }
          return settle.resolve(head)
        }
      })
      socket.once('connect', () => {
        settle.connected()
        socket.write(requestText(request), 'latin1')
      })
      socket.connect({ host: request.host, port: request.port })
    },
  )
}

function requestText({ method, path, hostHeader, headers }: HeadRequest): string {
  const names = Object.keys(headers).map((name) => name.toLowerCase())
  let text = `${method} ${path} HTTP/1.1\r\n`
  if (!names.includes('host')) text += `Host: ${hostHeader}\r\n`
  text += 'Connection: close\r\n'
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`
  return `${text}\r\n`
}

/** Where the head ends: its length (without the blank line) and the blank line's. */
function headEnd(buffer: Buffer): { headLength: number; separatorLength: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n')
  const lf = buffer.indexOf('\n\n')
  if (crlf === -1 && lf === -1) return undefined
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { headLength: crlf, separatorLength: 4 }
  return { headLength: lf, separatorLength: 2 }
}

/** The head's status, reason and `Location`, or what is wrong with it. */
function parseHead(text: string): HeadAnswer | string {
  const lines = text.split(/\r?\n/)
  const statusLine = lines[0] as string
  const status = STATUS_LINE.exec(statusLine)
  if (!status) return `it began ${JSON.stringify(excerpt(statusLine))}`
  let location: string | undefined
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    if (!HEADER_LINE.test(line)) return `header line ${i} is ${JSON.stringify(excerpt(line))}`
    if (line.length > 9 && line.slice(0, 9).toLowerCase() === 'location:') location = line.slice(9).trim()
  }
  return { status: Number(status[1]), statusMessage: (status[2] ?? '').trim(), location }
}

/** The first 40 characters, for a reason: what a server said is cut before anyone shows it. */
function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}
