/**
 * The answer's head to one plain-HTTP request, read off a socket the probe owns: status,
 * reason phrase and `Location`, nothing of the body. This is all an `http://` check asks
 * when it judges only the status (the default, and every `probekit check http://…`), and
 * it spares a check that starts a process of its own loading node:http and compiling its
 * first request (~5 ms of a ~30 ms start). A check that reads the body, or speaks TLS,
 * goes through node:http(s).
 *
 * What Node's parser (llhttp) refuses in a head, this refuses too, so a server gets the
 * same verdict either way: an answer that does not begin `HTTP/` (at its first bytes, not
 * at a blank line that a greeting server never sends), a malformed status line, lines not
 * ended by CRLF, a header line that is not `token: value`, a `Content-Length` that is not
 * a number or comes twice or beside `Transfer-Encoding`, headers over 16 KB. Interim 1xx
 * answers are skipped. The first characters of what came are quoted, redacted before
 * they are cut.
 */
import { Socket } from 'node:net'
import { NotReady } from '../core/errors.js'
import { describeArgument } from '../core/options.js'
import { redact, redactCut, type SecretSet } from '../core/redact.js'
import { describeNetworkError, errorCode } from './network-error.js'
import { discard, settleOnce } from './socket.js'

/** Node's default `--max-http-header-size`, counted after the status line as Node counts it. */
const MAX_HEADER_BYTES = 16 * 1024
// The reason phrase may hold any byte but CR and LF (llhttp's rule); what it says is made inert where shown.
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?$/
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t\x20-\x7e\x80-\xff]*$/
/** What node:http refuses in a header value it sends (ERR_INVALID_CHAR). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/
const HTTP = Buffer.from('HTTP/')
const CRLF = Buffer.from('\r\n')
const BLANK_LINE = Buffer.from('\r\n\r\n')
/** Characters of a wrong answer quoted in a reason. */
const EXCERPT = 40

/**
 * `not a valid HTTP response (status 099)` for a three-digit status below 100, which is no
 * HTTP status (RFC 9110: 100–599) and no interim answer either: nothing the server sends
 * after it is an answer. Undefined for any other.
 */
export function notAStatus(status: number): string | undefined {
  return status < 100 ? `not a valid HTTP response (status ${String(status).padStart(3, '0')})` : undefined
}

/** Node's own reason phrases (`http.STATUS_CODES`) for the statuses a health check meets; the rest come from node:http. */
export const COMMON_REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** The reason phrase Node gives `status`, without loading node:http for the common ones. */
export function reasonPhrase(status: number): string {
  return COMMON_REASONS[status] ?? process.getBuiltinModule('node:http').STATUS_CODES[status] ?? ''
}

export interface HeadRequest {
  host: string
  port: number
  /** The `Host` header: the URL's host, with the port when it is not 80. */
  hostHeader: string
  /** Path and query, as the URL spells them. */
  path: string
  method: 'GET' | 'HEAD'
  /** Sent as given; a `host` or `connection` among them replaces the default. */
  headers: Record<string, string>
  limitMs: number
  /** The prefix of reasons: the URL, redacted. */
  shown: string
  /** The prefix of the connect limit's reason, as settleOnce words it. */
  what: string
  /** The probe's credentials: masked in what the server's answer is quoted by, before it is cut. */
  secrets: SecretSet
}

export interface HeadAnswer {
  status: number
  statusMessage: string
  location: string | undefined
}

/**
 * Added when a plain `http://` connection is reset or closed before the server sent a byte,
 * which is how a TLS-only port meets a client that does not speak TLS (the redis, mqtt and
 * grpc probes say the same for theirs).
 */
export const PLAIN_HINT = '; if the port takes TLS, write https://'

/** Whether these headers can be sent as they are: one sentence naming the first that cannot, else undefined. */
export function headerProblem(headers: Readonly<Record<string, unknown>>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return `header name ${JSON.stringify(name)} is not a token`
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value)))
      return `header ${JSON.stringify(name)} must be a string, got ${describeArgument(value)}`
    if (INVALID_VALUE.test(String(value))) {
      return `header ${JSON.stringify(name)} holds a character a header may not (a line break or a control character)`
    }
  }
  return undefined
}

/** Sends one request (`Connection: close` unless the headers say otherwise) and resolves with the final answer's head. */
export function requestHead(request: HeadRequest, signal: AbortSignal): Promise<HeadAnswer> {
  const socket = new Socket()
  return settleOnce<HeadAnswer>(
    { signal, what: request.what, limitMs: request.limitMs },
    () => discard(socket),
    (settle) => {
      const fail = (reason: string) => settle.reject(new NotReady(`${request.shown}: ${reason}`))
      let buffered: Buffer = Buffer.alloc(0)
      let received = false
      socket.on('error', (error) => {
        const code = errorCode(error)
        fail(
          `${describeNetworkError(error)}${!received && (code === 'ECONNRESET' || code === 'EPIPE') ? PLAIN_HINT : ''}`,
        )
      })
      socket.on('close', () =>
        fail(
          received
            ? 'the server closed the connection in the middle of its answer'
            : `the server closed the connection without answering${PLAIN_HINT}`,
        ),
      )
      socket.on('data', (chunk: Buffer) => {
        if (settle.settled) return
        received = true
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
        for (;;) {
          const step = readHead(buffered, request.secrets)
          if (step === undefined) return // more bytes to come
          if (typeof step === 'string') return fail(`not a valid HTTP response: ${step}`)
          const noStatus = notAStatus(step.head.status)
          if (noStatus) return fail(noStatus)
          // 100 Continue, 102 Processing, 103 Early Hints: interim; the answer follows.
          if (step.head.status < 200 && step.head.status !== 101) {
            buffered = buffered.subarray(step.length)
            if (buffered.length === 0) return
            continue
          }
          return settle.resolve(step.head)
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
  const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()))
  let text = `${method} ${path} HTTP/1.1\r\n`
  if (!names.has('host')) text += `Host: ${hostHeader}\r\n`
  if (!names.has('connection')) text += 'Connection: close\r\n'
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`
  return `${text}\r\n`
}

/**
 * One head from the start of `bytes`: the head and its length with the blank line, what is
 * wrong with it (a sentence), or undefined while it may still become a valid one.
 */
function readHead(bytes: Buffer, secrets: SecretSet): { head: HeadAnswer; length: number } | string | undefined {
  // Node fails at the first byte that cannot begin `HTTP/`; so does this, not at a blank
  // line that a server greeting with its own protocol (SMTP, SSH) never sends.
  const start = Math.min(bytes.length, HTTP.length)
  if (bytes.compare(HTTP, 0, start, 0, start) !== 0) return `it began ${quoted(bytes, secrets)}`
  const lineEnd = bytes.indexOf(CRLF)
  const bareLf = bytes.indexOf(0x0a)
  if (bareLf !== -1 && (lineEnd === -1 || bareLf < lineEnd + 1)) return 'its status line does not end in CRLF'
  if (lineEnd === -1)
    return bytes.length > MAX_HEADER_BYTES ? `its status line is over ${MAX_HEADER_BYTES / 1024} KB` : undefined
  const statusLine = bytes.toString('latin1', 0, lineEnd)
  const status = STATUS_LINE.exec(statusLine)
  if (!status) return `it began ${quoted(bytes, secrets)}`
  const headersStart = lineEnd + CRLF.length
  // The head is the status line alone when the blank line follows it at once.
  const end = bytes.indexOf(BLANK_LINE, lineEnd)
  const headerBytes = (end === -1 ? bytes.length : end) - headersStart
  // Before the blank line has arrived, up to three of its bytes may be there already.
  if (headerBytes > MAX_HEADER_BYTES + (end === -1 ? 3 : 0)) return `its headers are over ${MAX_HEADER_BYTES / 1024} KB`
  if (end === -1) return hasBareLf(bytes, headersStart) ? 'its header lines do not end in CRLF' : undefined
  let location: string | undefined
  let contentLengths = 0
  let transferEncoding = false
  const text = end > lineEnd ? bytes.toString('latin1', headersStart, end) : ''
  const lines = text === '' ? [] : text.split('\r\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.includes('\n')) return `header line ${i + 1} does not end in CRLF`
    const header = HEADER_LINE.exec(line)
    if (!header) return `header line ${i + 1} is ${quoted(Buffer.from(line, 'latin1'), secrets, true)}`
    const name = (header[1] as string).toLowerCase()
    const value = line.slice(line.indexOf(':') + 1).trim()
    if (name === 'content-length') {
      if (!/^\d+$/.test(value))
        return `its Content-Length ${quoted(Buffer.from(value, 'latin1'), secrets, true)} is not a number`
      if (++contentLengths > 1) return 'it has two Content-Length headers'
    } else if (name === 'transfer-encoding') transferEncoding = true
    // A repeated Location: the first counts, as in node:http.
    else if (name === 'location') location ??= value
  }
  if (transferEncoding && contentLengths > 0) return 'it has both Transfer-Encoding and Content-Length'
  return {
    head: { status: Number(status[1]), statusMessage: (status[2] ?? '').trim(), location },
    length: end + BLANK_LINE.length,
  }
}

/** Whether a line feed without its carriage return comes at or after `from`. */
function hasBareLf(bytes: Buffer, from: number): boolean {
  for (let i = bytes.indexOf(0x0a, from); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 0x0d) return true
  }
  return false
}

/**
 * The first line of `bytes` (its first 40 characters), JSON-quoted. The probe's credentials
 * are masked before the cut, and a line that may go on past what arrived (unless `whole`)
 * is masked as cut: a server echoing the request cannot hand back part of a password.
 */
function quoted(bytes: Buffer, secrets: SecretSet, whole = false): string {
  const text = bytes.toString('latin1', 0, Math.min(bytes.length, 1024))
  const lineEnd = text.search(/[\r\n]/)
  const line = lineEnd === -1 ? text : text.slice(0, lineEnd)
  const cut = lineEnd === -1 && !(whole && bytes.length <= 1024)
  const masked = cut ? redactCut(line, { end: true }, secrets) : redact(line, secrets)
  return JSON.stringify(masked.length > EXCERPT ? `${masked.slice(0, EXCERPT)}…` : masked)
}
