/**
 * etcd's v3 JSON gateway over HTTP with undici: every request has a deadline and is
 * cancelled at close; no gRPC stack is loaded. A failure becomes `EtcdRefused` (a setting
 * to fix, one sentence naming the flag) or `EtcdUnavailable` (etcd did not answer).
 */
import { isIP, connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { Agent, type Dispatcher, request } from 'undici'
import { describeNetworkError } from '../../../probes/network-error.js'

export interface RawKv {
  key: string
  value?: string
  lease?: string
  /** The revision of the key's latest change (a number, as a string). */
  mod_revision?: string
}
export interface WatchEvent {
  type?: 'PUT' | 'DELETE'
  kv: RawKv
}

/** An etcd request that failed because etcd did not answer (down, frozen, unreachable). */
export class EtcdUnavailable extends Error {
  override name = 'EtcdUnavailable'
}

/**
 * etcd (or the TLS layer in front of it) refused this monitor: an untrusted certificate, a
 * missing client certificate, a wrong password. Retrying does not help; the message is one
 * sentence naming the flag that fixes it.
 */
export class EtcdRefused extends Error {
  override name = 'EtcdRefused'
}

/** An error etcd answered with (`{ error, code }`), e.g. "requested lease not found". */
export class EtcdAnswerError extends Error {
  override name = 'EtcdAnswerError'
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

/** etcd's answers that mean "log in again": the token expired, or the auth store moved on. */
const STALE_TOKEN =
  /invalid auth token|auth(entication)? token .*(expired|invalid)|revision of auth store is old|user name is empty/i
export const PERMISSION_DENIED = /permission denied/i

export function isStaleToken(error: unknown): boolean {
  return error instanceof EtcdAnswerError && (error.statusCode === 401 || STALE_TOKEN.test(error.message))
}

/** What the gateway needs to reach etcd: TLS material and a user, both optional. */
export interface EtcdConnection {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  user?: string
  password?: string
}

/** Certificate verification failures: the fix is the CA the monitor trusts (`--etcd-ca`). */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
])
/**
 * TLS alerts a server sends when it does not accept the client's certificate (or its
 * absence). Matched by the alert's name, whatever OpenSSL calls the protocol: OpenSSL 3.0
 * (Node 20) says `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`, OpenSSL 3.5 (Node 22, 24)
 * `ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE`.
 */
const CLIENT_CERT_ALERTS =
  /^ERR_SSL_[A-Z0-9/]+_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA|HANDSHAKE_FAILURE)$/

/**
 * etcd's v3 JSON gateway: POST a JSON body, get JSON back; keys and values are base64,
 * 64-bit numbers are strings. Endpoints are tried in turn when one does not answer. With a
 * user, every request carries the token `/v3/auth/authenticate` gave, and a request that
 * etcd refuses for a stale token is sent once more with a fresh one.
 */
export class EtcdGateway {
  private current = 0
  private readonly agent: Agent
  /** The auth token; `''` when etcd has authentication off; undefined until logged in. */
  private token: string | undefined
  private authenticating: Promise<string> | undefined
  /** Cancels a login at close: a login is shared, so no one caller's signal may cancel it. */
  private readonly closing = new AbortController()

  constructor(
    readonly endpoints: string[],
    private readonly timeoutMs: number,
    private readonly connection: EtcdConnection = {},
  ) {
    const { ca, cert, key } = connection
    this.agent = new Agent({
      connect: { timeout: timeoutMs, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
      keepAliveTimeout: 30_000,
    })
  }

  get endpoint(): string {
    return this.endpoints[this.current] as string
  }

  get user(): string | undefined {
    return this.connection.user
  }

  async call<T>(path: string, body: unknown, signal: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    const token = await this.authToken(signal, timeoutMs)
    try {
      return await this.post<T>(path, body, token, signal, timeoutMs)
    } catch (error) {
      if (!this.connection.user || !isStaleToken(error)) throw error
      // The token expired (or the auth store changed): log in again, once, and resend.
      this.forgetToken(token)
      return this.post<T>(path, body, await this.authToken(signal, timeoutMs), signal, timeoutMs)
    }
  }

  /** Drops a token etcd no longer takes; the next request logs in again. */
  forgetToken(token: string | undefined): void {
    if (this.token === token) this.token = undefined
  }

  /** The token to send: logs in when there is none (one login for all concurrent requests). */
  private async authToken(signal: AbortSignal, timeoutMs: number): Promise<string | undefined> {
    const { user, password } = this.connection
    if (user === undefined) return undefined
    if (this.token !== undefined) return this.token || undefined
    if (signal.aborted) throw new EtcdUnavailable('the request was cancelled')
    this.authenticating ??= this.authenticate(user, password ?? '', this.closing.signal, timeoutMs).finally(() => {
      this.authenticating = undefined
    })
    return (await this.authenticating) || undefined
  }

  private async authenticate(user: string, password: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
    try {
      const answer = await this.post<{ token?: string }>(
        '/v3/auth/authenticate',
        { name: user, password },
        undefined,
        signal,
        timeoutMs,
      )
      this.token = answer.token ?? ''
    } catch (error) {
      if (!(error instanceof EtcdAnswerError)) throw error
      // A cluster with authentication off needs no token; if it is turned on later, etcd's
      // "user name is empty" sends us here again.
      if (/authentication is not enabled/i.test(error.message)) this.token = ''
      else if (/authentication failed|invalid user ID or password/i.test(error.message))
        throw new EtcdRefused(
          `etcd at ${this.endpoint} refused user ${user}: authentication failed; check --etcd-user/--etcd-password-file`,
        )
      else throw error
    }
    return this.token
  }

  private async post<T>(
    path: string,
    body: unknown,
    token: string | undefined,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<T> {
    const endpoint = this.endpoint
    let res: Dispatcher.ResponseData
    try {
      res = await request(`${endpoint}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: jsonHeaders(token),
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      })
    } catch (error) {
      throw await this.networkFailure(endpoint, error, timeoutMs)
    }
    let text: string
    try {
      text = await res.body.text()
    } catch (error) {
      throw await this.networkFailure(endpoint, error, timeoutMs)
    }
    return parseAnswer<T>(res.statusCode, text, endpoint)
  }

  /**
   * Opens a watch and feeds every result to `onResult` until the stream ends, fails, or
   * `signal` aborts. Resolves when etcd ends the stream; rejects on failure (with an
   * `EtcdAnswerError` when etcd cancels the watch for a stale token or a permission).
   */
  async watch(body: unknown, onResult: (result: WatchResult) => void, signal: AbortSignal): Promise<void> {
    const token = await this.authToken(signal, this.timeoutMs)
    const endpoint = this.endpoint
    let res: Dispatcher.ResponseData
    try {
      res = await request(`${endpoint}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: jsonHeaders(token),
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        // A watch is silent while nothing changes: no body deadline; the lease keepalive notices a dead etcd.
        bodyTimeout: 0,
        signal,
      })
    } catch (error) {
      throw await this.networkFailure(endpoint, error, this.timeoutMs)
    }
    if (res.statusCode !== 200) {
      parseAnswer(res.statusCode, await res.body.text().catch(() => ''), endpoint)
      return
    }
    let buffered = ''
    try {
      for await (const chunk of res.body) {
        buffered += (chunk as Buffer).toString('utf8')
        let newline = buffered.indexOf('\n')
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim()
          buffered = buffered.slice(newline + 1)
          newline = buffered.indexOf('\n')
          if (!line) continue
          const message = JSON.parse(line) as { result?: WatchResult; error?: { message?: string; code?: number } }
          if (message.error) throw new EtcdAnswerError(message.error.message ?? 'the watch failed', message.error.code)
          const result = message.result
          // A watch etcd would not create (the token expired, no permission) comes back cancelled with a reason.
          if (result?.canceled && !result.compact_revision && result.cancel_reason) {
            const error = new EtcdAnswerError(
              result.cancel_reason.replace(/^rpc error: code = \w+ desc = /, ''),
              undefined,
            )
            if (isStaleToken(error)) this.forgetToken(token)
            throw error
          }
          if (result) onResult(result)
        }
      }
    } catch (error) {
      if (error instanceof EtcdAnswerError) throw error
      throw await this.networkFailure(endpoint, error, this.timeoutMs)
    }
  }

  /**
   * Turns a failed request into `EtcdRefused` (a TLS setting to fix) or `EtcdUnavailable`
   * (etcd did not answer; the next endpoint gets the next request).
   */
  private async networkFailure(endpoint: string, error: unknown, timeoutMs: number): Promise<Error> {
    const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } }
    const code = err.code ?? err.cause?.code ?? ''
    const detail = err.cause?.message ?? err.message ?? String(error)
    if (UNTRUSTED_CERT_CODES.has(code) || code === 'CERT_HAS_EXPIRED')
      return new EtcdRefused(
        `etcd at ${endpoint} presented a certificate this monitor does not trust (${detail}); give the CA that signed it with --etcd-ca FILE`,
      )
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return new EtcdRefused(
        `etcd at ${endpoint} presented a certificate for other names (${detail}); address etcd by a name its certificate holds in --store`,
      )
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
      return plainHttpPort(endpoint)
    if (CLIENT_CERT_ALERTS.test(code)) return this.clientCertRefused(endpoint, code)
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') {
      // undici reports a TLS alert as "other side closed": ask the port once more, by hand, why.
      const refused = await this.diagnose(endpoint, Math.min(timeoutMs, 1000))
      if (refused) return refused
    }
    this.rotate(endpoint)
    return new EtcdUnavailable(describeNetworkError(error, timeoutMs))
  }

  private clientCertRefused(endpoint: string, alert: string): EtcdRefused {
    const reason = alert
      .replace(/^ERR_SSL_[A-Z0-9/]+_ALERT_/, '')
      .toLowerCase()
      .replace(/_/g, ' ')
    return new EtcdRefused(
      this.connection.cert
        ? `etcd at ${endpoint} refused this monitor's client certificate (${reason}); give one signed by a CA in etcd's --trusted-ca-file with --etcd-cert FILE --etcd-key FILE`
        : `etcd at ${endpoint} requires a client certificate (${reason}); give one with --etcd-cert FILE --etcd-key FILE`,
    )
  }

  /**
   * Connects once with node:tls to learn what undici could not tell: the TLS alert a
   * server sent, or that a plain-HTTP address speaks TLS. Undefined when nothing is wrong
   * with TLS (etcd went away, say).
   */
  private diagnose(endpoint: string, timeoutMs: number): Promise<EtcdRefused | undefined> {
    const url = new URL(endpoint)
    const plain = url.protocol === 'http:'
    const { ca, cert, key } = this.connection
    return new Promise((resolve) => {
      let settled = false
      const socket = tlsConnect({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port),
        ...(plain ? { rejectUnauthorized: false } : {}),
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
      })
      const done = (result: EtcdRefused | undefined) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        resolve(result)
      }
      const timer = setTimeout(() => done(undefined), timeoutMs)
      socket.on('secureConnect', () => {
        if (plain)
          return done(
            new EtcdRefused(
              `etcd at ${endpoint} speaks TLS on that port; use --store etcd+tls://… (with --etcd-ca FILE unless Node already trusts its CA)`,
            ),
          )
        // TLS 1.3 servers refuse a client certificate after the handshake: ask something and wait.
        socket.write(`POST /v3/maintenance/status HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: 2\r\n\r\n{}`)
      })
      socket.on('data', () => done(undefined))
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (CLIENT_CERT_ALERTS.test(error.code ?? ''))
          return done(this.clientCertRefused(endpoint, error.code as string))
        // etcd's plain client port resets a TLS hello rather than answering it: ask it in plain HTTP.
        if (!plain && error.code === 'ECONNRESET' && !settled) {
          clearTimeout(timer)
          settled = true
          socket.destroy()
          answersPlainHttp(url, timeoutMs).then((yes) => resolve(yes ? plainHttpPort(endpoint) : undefined))
          return
        }
        done(undefined)
      })
      socket.on('close', () => done(undefined))
    })
  }

  private rotate(failed: string): void {
    if (this.endpoint === failed) this.current = (this.current + 1) % this.endpoints.length
  }

  close(): Promise<void> {
    this.closing.abort()
    return this.agent.destroy()
  }
}

function plainHttpPort(endpoint: string): EtcdRefused {
  return new EtcdRefused(
    `etcd at ${endpoint} does not speak TLS on that port; use --store etcd://… for plain HTTP, or point at its TLS client port`,
  )
}

/**
 * Whether `url`'s host and port answer etcd's status request in plain HTTP with 200 within
 * `timeoutMs`. Not any status: a TLS port of a Go server (etcd's own) answers plain HTTP
 * with 400 "Client sent an HTTP request to an HTTPS server".
 */
function answersPlainHttp(url: URL, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) })
    let head = ''
    const done = (yes: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(yes)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.setEncoding('latin1')
    socket.on('connect', () =>
      socket.write(`POST /v3/maintenance/status HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: 2\r\n\r\n{}`),
    )
    socket.on('data', (chunk: string) => {
      head += chunk
      if (head.length >= 13) done(/^HTTP\/1\.[01] 200 /.test(head))
    })
    socket.on('error', () => done(false))
    socket.on('close', () => done(/^HTTP\/1\.[01] 200 /.test(head)))
  })
}

export interface WatchResult {
  header?: { revision?: string }
  created?: boolean
  canceled?: boolean
  cancel_reason?: string
  compact_revision?: string
  events?: WatchEvent[]
}

function parseAnswer<T>(statusCode: number, text: string, endpoint: string): T {
  let json: { error?: string; message?: string; code?: number } & Record<string, unknown>
  try {
    json = JSON.parse(text)
  } catch {
    // etcd 3.4+ refuses, with auth on, a gateway request whose client certificate has a CN.
    if (/CommonName of client sending a request against gateway/i.test(text))
      throw new EtcdRefused(
        `etcd at ${endpoint} refuses client certificates with a Common Name on its JSON gateway while authentication is on; issue --etcd-cert without a CN (e.g. subject "/O=probekit") and log in with --etcd-user`,
      )
    throw new EtcdUnavailable(
      `${endpoint} answered HTTP ${statusCode} with something other than etcd's JSON gateway; is it etcd's client port?`,
    )
  }
  if (json.error !== undefined || statusCode >= 400)
    throw new EtcdAnswerError(String(json.message ?? json.error ?? `HTTP ${statusCode}`), json.code, statusCode)
  return json as T
}

function jsonHeaders(token: string | undefined): Record<string, string> {
  return token ? { 'content-type': 'application/json', authorization: token } : { 'content-type': 'application/json' }
}

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')
export const unb64 = (text: string | undefined): string => (text ? Buffer.from(text, 'base64').toString('utf8') : '')

/** The first key after every key that starts with `prefix` (etcd's `range_end` for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8')
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      bytes[i] = (bytes[i] as number) + 1
      return bytes.subarray(0, i + 1).toString('base64')
    }
  }
  return Buffer.from([0]).toString('base64')
}
