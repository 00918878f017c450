import type { ClientRequest, IncomingMessage } from 'node:http'
import type { RequestOptions } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { decodeLoose, redact, redactCut, redactUrl, SecretSet, userinfoEscapeProblem } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { CONNECT_OPTIONS, type ConnectOptions, connectTimeoutMs } from './connect-timeout.js'
import { headerProblem, notAStatus, PLAIN_HINT, reasonPhrase, requestHead } from './http-head.js'
import { describeNetworkError, errorCode, isTlsTrustError } from './network-error.js'
import { discard, settleOnce } from './socket.js'
import { timed, type UntimedDetails } from './timed.js'

/** An inclusive range of status codes. */
export interface StatusRange {
  min: number
  max: number
}

export interface HttpProbeOptions extends ProbeOptions, ConnectOptions {
  /** Check name. Default `http`. */
  name?: string
  /** `GET` (default) or `HEAD`. */
  method?: 'GET' | 'HEAD'
  /**
   * Statuses that pass: a code, a list of codes, a range `{ min, max }` or a string such as
   * `'200-299'` or `'2xx'`. Default 200–399, as the kubelet counts.
   */
  expectStatus?: number | readonly number[] | StatusRange | string
  /** The body must contain this string, or match this pattern (read up to `maxBodyBytes`). */
  expectBody?: string | RegExp
  /** Request headers, e.g. `{ host: 'app.example' }` or an authorization header. */
  headers?: Record<string, string>
  /** Extra trusted CA certificates (PEM) for https, e.g. a private CA. */
  ca?: string | Buffer | readonly (string | Buffer)[]
  /** Accept any server certificate (self-signed, wrong name). Default false. */
  insecure?: boolean
  /** The most body bytes read for `expectBody`. Default 65536. */
  maxBodyBytes?: number
  /** Redirects to follow before judging the status. Default 0: a 3xx is itself the answer. */
  followRedirects?: number
}

const HTTP_OPTION_KEYS = optionKeys<HttpProbeOptions>()({
  name: true,
  method: true,
  expectStatus: true,
  expectBody: true,
  headers: true,
  ca: true,
  insecure: true,
  maxBodyBytes: true,
  followRedirects: true,
  ...PROBE_OPTIONS,
  ...CONNECT_OPTIONS,
})

const DEFAULT_MAX_BODY = 64 * 1024
const DEFAULT_RANGE: StatusRange = { min: 200, max: 399 }

/**
 * Passes when an HTTP(S) endpoint answers with an expected status (200–399 by default,
 * like the kubelet) and, optionally, an expected body. One fresh connection per check,
 * destroyed when the answer is known or the deadline fires; redirects are not followed
 * unless asked.
 *
 * @example
 * health.add(http('https://search.internal/health', { name: 'search', ca: readFileSync('ca.pem'), critical: false }))
 */
export function http(url: string | URL, options: HttpProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('http', url, 'url'), options, HTTP_OPTION_KEYS)
  const target = parseHttpUrl(url)
  const shown = redactUrl(target.href)
  const limitMs = connectTimeoutMs(options, `http ${shown}`)
  const accept = statusMatcher(options.expectStatus)
  // GET or HEAD in any case: checkProbeOptions holds it to that.
  const method = (options.method ?? 'GET').toUpperCase()
  if (options.expectBody !== undefined && method === 'HEAD') {
    throw new TypeError(`http ${shown}: expectBody needs method GET (a HEAD response has no body)`)
  }
  const problem = options.headers === undefined ? undefined : headerProblem(options.headers)
  if (problem) throw new TypeError(`http ${shown}: ${problem}`)
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY
  const redirects = options.followRedirects ?? 0
  const {
    name = 'http',
    connectTimeout: _ct,
    method: _m,
    expectStatus: _es,
    expectBody,
    headers,
    ca,
    insecure,
    maxBodyBytes: _mb,
    followRedirects: _fr,
    ...probeOptions
  } = options
  // The probe's own credentials (URL userinfo, secret headers) are masked by value in what
  // it says: a target that echoes its request cannot hand them back through a reason.
  const secrets = new SecretSet()
  secrets.addUrl(target)
  secrets.addHeaders(headers)
  const settings: RequestSettings = {
    method,
    headers: headers ?? {},
    ca: ca === undefined ? undefined : Array.isArray(ca) ? [...ca] : (ca as string | Buffer),
    insecure: insecure === true,
    limitMs,
    maxBodyBytes: expectBody === undefined ? 0 : maxBodyBytes,
    secrets,
  }
  return {
    componentType: 'component',
    ...probeOptions,
    name,
    check: async ({ signal }) => {
      try {
        return await timed(() => check(signal))
      } catch (error) {
        if (error instanceof NotReady) throw new NotReady(secrets.redact(error.message))
        throw error
      }
    },
  }

  async function check(signal: AbortSignal): Promise<UntimedDetails> {
    let current = target
    let hopSettings = settings
    let answer = await exchange(current, settings, signal)
    for (let hop = 0; hop < redirects && isRedirect(answer.status) && answer.location; hop++) {
      const next = new URL(answer.location, current)
      if (next.protocol !== 'http:' && next.protocol !== 'https:') break
      // Credentials are for the origin they were given for, never for where it redirects.
      if (next.origin !== current.origin) hopSettings = withoutCredentials(hopSettings)
      current = next
      answer = await exchange(current, hopSettings, signal)
    }
    const where = redactUrl(current.href)
    const statusText = `${answer.status} ${answer.statusMessage || reasonPhrase(answer.status)}`.trim()
    if (!accept.test(answer.status)) {
      const hint =
        answer.status === 401 || answer.status === 407 ? ' (authentication failed: check the credentials)' : ''
      throw new NotReady(`${where} answered ${statusText}${hint}, expected ${accept.text}`)
    }
    if (expectBody !== undefined) checkBody(answer, expectBody, where, secrets)
    return { message: secrets.redact(statusText), componentId: shown }
  }
}

interface RequestSettings {
  method: string
  headers: Record<string, string>
  ca: string | Buffer | (string | Buffer)[] | undefined
  insecure: boolean
  limitMs: number
  /** 0: do not read the body. */
  maxBodyBytes: number
  /** After a redirect to another origin: send no credentials from the URL either. */
  dropUrlCredentials?: boolean
  /** The probe's credentials, masked in any part of an answer a reason quotes. */
  secrets: SecretSet
}

interface Answer {
  status: number
  statusMessage: string
  location: string | undefined
  body: string
  truncated: boolean
}

/** The headers every request sends: probekit's defaults, the caller's, and the URL's credentials. */
function requestHeaders(url: URL, settings: RequestSettings): Record<string, string> {
  // A default the caller also gives (in any case) is left out: one User-Agent on the wire.
  const headers: Record<string, string> = {}
  if (!hasHeader(settings.headers, 'user-agent')) headers['user-agent'] = 'probekit'
  if (!hasHeader(settings.headers, 'accept')) headers.accept = '*/*'
  Object.assign(headers, settings.headers)
  if ((url.username || url.password) && !settings.dropUrlCredentials && !hasHeader(headers, 'authorization')) {
    const credentials = `${decodeLoose(url.username)}:${decodeLoose(url.password)}`
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`
  }
  return headers
}

/** One request on its own connection (no agent, no keep-alive): nothing outlives the check. */
async function exchange(url: URL, settings: RequestSettings, signal: AbortSignal): Promise<Answer> {
  const shown = redactUrl(url.href)
  if (url.protocol === 'http:' && settings.maxBodyBytes === 0) {
    // Only the status is judged: the head is read off a plain socket (see http-head.ts).
    const head = await requestHead(
      {
        host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: Number(url.port || 80),
        hostHeader: url.host,
        path: `${url.pathname}${url.search}`,
        method: settings.method as 'GET' | 'HEAD',
        headers: requestHeaders(url, settings),
        limitMs: settings.limitMs,
        shown,
        what: `http ${shown}`,
        secrets: settings.secrets,
      },
      signal,
    )
    return { ...head, body: '', truncated: false }
  }
  // node:http(s) (and for https tls and crypto) load only when a check needs them, and
  // without the ESM loader that import() would start.
  const send = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http').request
  let req: ClientRequest | undefined
  let response: IncomingMessage | undefined
  // Whatever the outcome, the connection ends here: no keep-alive, no half-read body.
  const release = () => {
    discard(response)
    discard(req)
  }
  return settleOnce<Answer>({ signal, what: `http ${shown}`, limitMs: settings.limitMs }, release, (settle) => {
    const secure = url.protocol === 'https:'
    const headers = requestHeaders(url, settings)
    const requestOptions: RequestOptions = {
      protocol: url.protocol,
      // An IPv6 host is always bracketed in a URL, never in request options.
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: settings.method,
      headers,
      agent: false,
    }
    if (secure) {
      if (settings.ca !== undefined) requestOptions.ca = settings.ca
      requestOptions.rejectUnauthorized = !settings.insecure
    }
    const fail = (error: unknown) => {
      const code = errorCode(error)
      const hint = !secure && !response && (code === 'ECONNRESET' || code === 'EPIPE') ? PLAIN_HINT : ''
      settle.reject(new NotReady(`${shown}: ${describeHttpError(error)}${hint}`))
    }
    const sent = send(requestOptions)
    req = sent
    sent.once('socket', (socket) => {
      socket.once(secure ? 'secureConnect' : 'connect', settle.connected)
      // The socket may already be connected in principle (never with agent: false).
      if (!socket.connecting && (!secure || (socket as TLSSocket).encrypted)) settle.connected()
    })
    sent.on('error', fail)
    // A 101 Switching Protocols comes as 'upgrade', never as 'response': it is the answer.
    sent.once('upgrade', (res, socket) => {
      socket.destroy()
      settle.resolve({
        status: 101,
        statusMessage: res.statusMessage ?? '',
        location: undefined,
        body: '',
        truncated: false,
      })
    })
    sent.once('response', (res) => {
      response = res
      settle.connected()
      // node:http would then wait for a body that never ends.
      const noStatus = notAStatus(res.statusCode ?? 0)
      if (noStatus) return settle.reject(new NotReady(`${shown}: ${noStatus}`))
      const answer: Answer = {
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
        body: '',
        truncated: false,
      }
      if (settings.maxBodyBytes === 0 || settings.method === 'HEAD') return settle.resolve(answer)
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        const room = settings.maxBodyBytes - size
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk)
        size += Math.min(chunk.length, room)
        if (size >= settings.maxBodyBytes) {
          answer.truncated = true
          answer.body = Buffer.concat(chunks).toString('utf8')
          settle.resolve(answer)
        }
      })
      res.on('end', () => {
        answer.body = Buffer.concat(chunks).toString('utf8')
        settle.resolve(answer)
      })
      res.on('error', fail)
    })
    sent.end()
  })
}

function describeHttpError(error: unknown): string {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return `not a valid HTTP response (${code}: ${(error as Error).message})`
  }
  const reason = describeNetworkError(error)
  return isTlsTrustError(error) ? `${reason}; trust the server's CA with the ca option, or set insecure` : reason
}

function checkBody(answer: Answer, expected: string | RegExp, where: string, secrets: SecretSet): void {
  const ok = typeof expected === 'string' ? answer.body.includes(expected) : expected.test(answer.body)
  if (ok) return
  const scope = answer.truncated ? ` (in its first ${answer.body.length} bytes)` : ''
  const wanted = typeof expected === 'string' ? `contain ${JSON.stringify(expected)}` : `match ${String(expected)}`
  // Redacted before it is cut to an excerpt; a body cut at maxBodyBytes may end inside a credential.
  const flat = answer.body.replace(/\s+/g, ' ').trim()
  const excerpt = (answer.truncated ? redactCut(flat, { end: true }, secrets) : redact(flat, secrets)).slice(0, 80)
  throw new NotReady(`${where}: the body did not ${wanted}${scope}; it began ${JSON.stringify(excerpt)}`)
}

function withoutCredentials(settings: RequestSettings): RequestSettings {
  const headers: Record<string, string> = {}
  for (const [key, value] of Object.entries(settings.headers)) {
    if (!/^(authorization|cookie|proxy-authorization)$/i.test(key)) headers[key] = value
  }
  return { ...settings, headers, dropUrlCredentials: true }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name)
}

function parseHttpUrl(url: string | URL): URL {
  let parsed: URL
  try {
    parsed = new URL(String(url))
  } catch {
    throw new TypeError(`http: "${redactUrl(String(url))}" is not a URL; write it as http://host:port/path`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`http: "${redactUrl(parsed.href)}" must start with http:// or https://`)
  }
  const badEscape = userinfoEscapeProblem(parsed)
  if (badEscape) throw new TypeError(`http: "${redactUrl(parsed.href)}": ${badEscape}`)
  return parsed
}

interface StatusMatcher {
  test(status: number): boolean
  /** For reasons: `200-399`, `200`, `200, 204`. */
  text: string
}

/** Builds the status test from `expectStatus`; bad input fails at creation, not per check. */
export function statusMatcher(expect: HttpProbeOptions['expectStatus']): StatusMatcher {
  if (expect === undefined) return rangeMatcher(DEFAULT_RANGE)
  if (typeof expect === 'number') {
    checkCode(expect)
    return { test: (s) => s === expect, text: String(expect) }
  }
  if (Array.isArray(expect)) {
    const codes = (expect as readonly number[]).map(checkCode)
    return { test: (s) => codes.includes(s), text: codes.join(', ') }
  }
  if (typeof expect === 'string') {
    const text = expect.trim().toLowerCase()
    const family = /^([1-5])xx$/.exec(text)
    if (family) return rangeMatcher({ min: Number(family[1]) * 100, max: Number(family[1]) * 100 + 99 })
    const range = /^(\d{3})\s*-\s*(\d{3})$/.exec(text)
    if (range) return rangeMatcher({ min: checkCode(Number(range[1])), max: checkCode(Number(range[2])) })
    if (/^\d{3}$/.test(text)) return statusMatcher(Number(text))
    throw new TypeError(`http: expectStatus "${expect}" is not a status; use e.g. 200, [200, 204], "200-299" or "2xx"`)
  }
  if (expect && typeof expect === 'object' && 'min' in expect && 'max' in expect) {
    return rangeMatcher({ min: checkCode(expect.min), max: checkCode(expect.max) })
  }
  throw new TypeError('http: expectStatus must be a status code, a list of codes, { min, max } or a string like "2xx"')
}

function rangeMatcher({ min, max }: StatusRange): StatusMatcher {
  if (min > max) throw new TypeError(`http: expectStatus range ${min}-${max} is empty; put the smaller code first`)
  return { test: (s) => s >= min && s <= max, text: `${min}-${max}` }
}

function checkCode(code: number): number {
  if (!Number.isInteger(code) || code < 100 || code > 599) {
    throw new TypeError(`http: expectStatus ${code} is not an HTTP status code (100-599)`)
  }
  return code
}
