/**
 * The monitor's store for fleets beyond one machine: current states live in etcd, bound to
 * the writing replica's lease, so a monitor that dies takes its results with it (readers
 * then see `unknown`) and the other replicas take over its checks (see ../replicas.ts).
 *
 * The `MonitorStore` interface is synchronous and the checking path must never wait on a
 * network, so this store keeps an in-memory view of the whole prefix (kept current by one
 * etcd watch) and writes behind: every save lands in the view at once and in a bounded
 * queue that one writer drains in transactions of at most 128 operations. When etcd is
 * frozen or down the monitor keeps checking; the store logs once, keeps the latest value
 * of every key, and re-syncs (a fresh range, a fresh watch, a new lease if the old one
 * expired, every state of this replica written again) when etcd answers again.
 *
 * It talks to etcd's v3 JSON gateway over HTTP with undici: every request has a deadline
 * and is cancelled at close; no gRPC stack is loaded.
 *
 * Layout under the prefix (keys are UTF-8, values JSON):
 *
 *     <prefix>/replicas/<replica>            { id, host, pid, startedAt }       lease
 *     <prefix>/state/<node>/<pod>/<check>    { replica, state: CheckState }     lease
 *     <prefix>/transitions/<at>/<replica>/<n> Transition                        bounded
 *
 * History is not written to etcd (it would be most of the traffic): each replica keeps
 * the bounded history of the checks it ran in memory.
 */
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { connect as tlsConnect } from 'node:tls'
import { Agent, type Dispatcher, request } from 'undici'
import { type Logger, writeLog } from '../../core/logger.js'
import { addSecret, redact, redactUrl } from '../../core/redact.js'
import { describeNetworkError } from '../../probes/network-error.js'
import type { CheckState, HistoryPoint, HistoryQuery, HistorySample, MonitorStore, Transition } from '../types.js'
import { StoreError } from './errors.js'
import { MemoryStore } from './memory.js'
import { DEFAULT_RETENTION, type Retention } from './retention.js'

export interface EtcdStoreOptions {
  /** Client URLs of etcd members, e.g. `http://10.0.0.1:2379`; tried in turn. */
  endpoints: string[]
  /** Key prefix, e.g. `/probekit` (a leading `/` is added, a trailing one dropped). */
  prefix: string
  /** This replica's id (unique in the fleet). Default `<hostname>-<pid>`. */
  replicaId?: string
  /** Read only: no lease, no registration, no writes (what `probekit inspect` opens). */
  readonly?: boolean
  /** TTL of this replica's lease, seconds: how long a dead monitor's results outlive it. Default 15. */
  leaseTtlSeconds?: number
  /** Deadline of each request to etcd, ms. Default 2000. */
  requestTimeoutMs?: number
  /** Transitions kept in etcd for the whole fleet. Default 10,000 (oldest dropped). */
  maxTransitions?: number
  /** Transitions waiting to be written while etcd is away, at most (oldest dropped). Default 10,000. */
  maxPendingTransitions?: number
  /** Retention of the in-memory history and of transitions (`transitionsMs`). */
  retention?: Partial<Retention>
  /** Where "etcd unreachable" and "etcd back" are logged; `false` for silence. Default console. */
  logger?: Logger | false
  /**
   * PEM file of the CA that signed etcd's server certificate (`--etcd-ca`); default: the
   * CAs Node trusts. TLS needs `https://` endpoints (`etcd+tls://` in a store address).
   */
  caFile?: string
  /** PEM files of this monitor's client certificate and key, for etcd's `--client-cert-auth` (`--etcd-cert`, `--etcd-key`). */
  certFile?: string
  keyFile?: string
  /**
   * etcd user, for a cluster with authentication on (`--etcd-user`). The store logs in
   * (`/v3/auth/authenticate`), sends the token with every request, and logs in again
   * whenever etcd says the token expired.
   */
  user?: string
  /** The user's password; or `passwordFile` (`--etcd-password-file`: its first line). */
  password?: string
  passwordFile?: string
}

/** What the store knows about its link to etcd, for readiness checks and tests. */
export interface EtcdStoreStatus {
  /** etcd answered the latest request. */
  available: boolean
  /** The reason of the latest failure, while unavailable. */
  lastError?: string
  /** This replica's lease (hex), if it holds one. */
  lease?: string
  /** Keys waiting to be written (or deleted). */
  pendingWrites: number
  /** Transitions dropped because etcd was away longer than the queue holds. */
  droppedTransitions: number
}

/** A registered monitor replica. */
export interface ReplicaInfo {
  id: string
  host: string
  pid: number
  startedAt: string
}

/** What an `etcd://…` store address says: the members, the prefix, and optionally a user. */
export interface EtcdSpec {
  endpoints: string[]
  prefix: string
  /** From `etcd://USER:PASSWORD@…` (percent-decoded). */
  user?: string
  password?: string
}

const ETCD_SCHEME = /^(etcd|etcd\+tls|etcds):\/\//i

/**
 * A store address fit to print: the password of `etcd://USER:PASSWORD@…` masked, also when
 * it holds `@`, `:` or `/` (the userinfo ends at the last `@` before the members).
 */
export function shownEtcdSpec(spec: string): string {
  const scheme = ETCD_SCHEME.exec(spec.trim())
  if (!scheme) return redactUrl(spec)
  const { userinfo, rest } = splitUserinfo(spec.trim().slice(scheme[0].length))
  if (userinfo === undefined) return spec.trim()
  const colon = userinfo.indexOf(':')
  return `${scheme[0]}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@${rest}`
}

/** `HOST:PORT[,HOST:PORT…]` up to the prefix: what follows the userinfo. */
const MEMBER_LIST = /^[A-Za-z0-9._\-[\]:, ]*:\d+(\/|$)/

/**
 * Splits `USER:PASSWORD@MEMBERS/PREFIX` at the "@" that ends the userinfo: the last one
 * followed by a member list (a password may hold "@", ":" or "/"; a prefix may hold "@").
 * When no "@" is followed by a member list and the address does not start with one (a
 * typo in the members), the last "@" ends it: an error then masks too much, never too little.
 */
function splitUserinfo(text: string): { userinfo?: string; rest: string } {
  for (let at = text.lastIndexOf('@'); at > 0; at = text.lastIndexOf('@', at - 1)) {
    if (MEMBER_LIST.test(text.slice(at + 1))) return { userinfo: text.slice(0, at), rest: text.slice(at + 1) }
  }
  const at = text.lastIndexOf('@')
  if (at < 0 || MEMBER_LIST.test(text)) return { rest: text }
  return { userinfo: text.slice(0, at), rest: text.slice(at + 1) }
}

/**
 * Parses `etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX` (`etcd+tls://` or
 * `etcds://` for TLS); errors are one sentence naming the fix, with the password masked.
 */
export function parseEtcdSpec(spec: string): EtcdSpec {
  const value = spec.trim()
  const shown = JSON.stringify(shownEtcdSpec(value))
  const scheme = ETCD_SCHEME.exec(value)
  const example = 'use etcd://HOST:PORT[,HOST:PORT…]/PREFIX (etcd+tls:// for TLS), e.g. etcd://127.0.0.1:2379/probekit'
  if (!scheme) throw new StoreError(`--store ${shown} is not an etcd address; ${example}`)
  const tls = (scheme[1] as string).toLowerCase() !== 'etcd'
  const { userinfo, rest } = splitUserinfo(value.slice(scheme[0].length))
  let user: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    try {
      user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon))
      if (colon >= 0) password = decodeURIComponent(userinfo.slice(colon + 1))
    } catch {
      throw new StoreError(
        `--store ${shown}: the user name or password is not valid percent-encoding; encode "%" as %25, or give the password with --etcd-password-file`,
      )
    }
    if (!user)
      throw new StoreError(`--store ${shown} names no user before its "@"; write etcd://USER:PASSWORD@HOST:PORT/PREFIX`)
  }
  const match = /^([^/?#]*)(\/[^?#]*)?$/.exec(rest)
  if (!match) throw new StoreError(`--store ${shown} is not an etcd address; ${example}`)
  const endpoints: string[] = []
  for (const part of (match[1] as string).split(',')) {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(part.trim())
    const port = hostPort ? Number(hostPort[2]) : 0
    if (!hostPort || port < 1 || port > 65535)
      throw new StoreError(
        `--store ${shown}: ${JSON.stringify(part)} is not HOST:PORT (etcd's client port is usually 2379); ${example}`,
      )
    endpoints.push(`${tls ? 'https' : 'http'}://${hostPort[1]}:${port}`)
  }
  let prefix: string
  try {
    prefix = normalizePrefix(decodeURIComponent(match[2] ?? ''))
  } catch {
    throw new StoreError(`--store ${shown}: the prefix is not valid percent-encoding; encode "%" as %25`)
  }
  if (prefix === '')
    throw new StoreError(
      `--store ${shown} names no key prefix; add one so probekit's keys stay apart, e.g. ${scheme[0]}${match[1]}/probekit`,
    )
  const parsed: EtcdSpec = { endpoints, prefix }
  if (user !== undefined) parsed.user = user
  if (password !== undefined) {
    parsed.password = password
    addSecret(password)
  }
  return parsed
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '').replace(/^\/+/, '')
  return trimmed ? `/${trimmed}` : ''
}

/**
 * Reads the TLS files and the password the options name; every mistake is one sentence
 * naming the flag. The password is registered with `addSecret`, so no log line can show it.
 */
function connectionOf(options: EtcdStoreOptions): EtcdConnection {
  const tls = options.endpoints.length > 0 && options.endpoints.every((e) => e.startsWith('https:'))
  const connection: EtcdConnection = {}
  const read = (file: string, flag: string, what: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new StoreError(
        code === 'ENOENT'
          ? `${flag} ${file} does not exist; give the PEM file of ${what}`
          : `cannot read ${flag} ${file} (${code ?? String(error)}); check its permissions`,
      )
    }
  }
  const tlsFiles: [keyof EtcdConnection, string | undefined, string, string][] = [
    ['ca', options.caFile, '--etcd-ca', "the CA that signed etcd's certificate"],
    ['cert', options.certFile, '--etcd-cert', "this monitor's client certificate"],
    ['key', options.keyFile, '--etcd-key', "the client certificate's private key"],
  ]
  for (const [field, file, flag, what] of tlsFiles) {
    if (file === undefined) continue
    if (!tls)
      throw new StoreError(`${flag} is for etcd over TLS; use --store etcd+tls://HOST:PORT/PREFIX (https:// endpoints)`)
    ;(connection as Record<string, Buffer>)[field] = read(file, flag, what)
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined))
    throw new StoreError('--etcd-cert and --etcd-key go together; give both, the certificate and its private key')
  let password = options.password
  if (options.passwordFile !== undefined) {
    if (password !== undefined)
      throw new StoreError('the etcd password is given twice (in --store and --etcd-password-file); give it once')
    const text = read(options.passwordFile, '--etcd-password-file', 'a file whose first line is the etcd password')
      .toString('utf8')
      .split(/\r?\n/)[0] as string
    if (text === '')
      throw new StoreError(
        `--etcd-password-file ${options.passwordFile} is empty; write the password on its first line`,
      )
    password = text
  }
  if (password !== undefined && options.user === undefined)
    throw new StoreError('an etcd password needs a user; give --etcd-user NAME (or etcd://USER:PASSWORD@… in --store)')
  if (options.user !== undefined) {
    if (!options.user.trim()) throw new StoreError('--etcd-user needs a name, e.g. --etcd-user probekit')
    if (password === undefined)
      throw new StoreError(
        `etcd user ${options.user} needs a password; give it with --etcd-password-file FILE (or etcd://USER:PASSWORD@… in --store)`,
      )
    connection.user = options.user
    connection.password = password
    addSecret(password)
  }
  return connection
}

const MAX_TXN_OPS = 128
/** Deadline of the requests `open()` makes; a refused connection still fails at once. */
const OPEN_TIMEOUT_MS = 5000

interface PutOp {
  kind: 'put'
  value: string
  /** Bound to this replica's lease (states, the registration) or not (transitions). */
  leased: boolean
}
interface DeleteOp {
  kind: 'delete'
}
type PendingOp = PutOp | DeleteOp

interface RawKv {
  key: string
  value?: string
  lease?: string
}
interface WatchEvent {
  type?: 'PUT' | 'DELETE'
  kv: RawKv
}

/** An etcd request that failed because etcd did not answer (down, frozen, unreachable). */
class EtcdUnavailable extends Error {
  override name = 'EtcdUnavailable'
}

/**
 * etcd (or the TLS layer in front of it) refused this monitor: an untrusted certificate, a
 * missing client certificate, a wrong password. Retrying does not help; the message is one
 * sentence naming the flag that fixes it.
 */
class EtcdRefused extends Error {
  override name = 'EtcdRefused'
}

/** An error etcd answered with (`{ error, code }`), e.g. "requested lease not found". */
class EtcdAnswerError extends Error {
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
const PERMISSION_DENIED = /permission denied/i

function isStaleToken(error: unknown): boolean {
  return error instanceof EtcdAnswerError && (error.statusCode === 401 || STALE_TOKEN.test(error.message))
}

/** What the gateway needs to reach etcd: TLS material and a user, both optional. */
interface EtcdConnection {
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
class EtcdGateway {
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
        headers: token
          ? { 'content-type': 'application/json', authorization: token }
          : { 'content-type': 'application/json' },
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
        headers: token
          ? { 'content-type': 'application/json', authorization: token }
          : { 'content-type': 'application/json' },
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
      return new EtcdRefused(
        `etcd at ${endpoint} does not speak TLS on that port; use --store etcd://… for plain HTTP, or point at its TLS client port`,
      )
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
      socket.on('error', (error: NodeJS.ErrnoException) =>
        done(
          CLIENT_CERT_ALERTS.test(error.code ?? '')
            ? this.clientCertRefused(endpoint, error.code as string)
            : undefined,
        ),
      )
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

interface WatchResult {
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

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')
const unb64 = (text: string | undefined): string => (text ? Buffer.from(text, 'base64').toString('utf8') : '')

/** The first key after every key that starts with `prefix` (etcd's `range_end` for a prefix). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8')
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      bytes[i] = (bytes[i] as number) + 1
      return bytes.subarray(0, i + 1).toString('base64')
    }
  }
  return Buffer.from([0]).toString('base64')
}

const sleepUnref = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/**
 * A `MonitorStore` in etcd. Open it with `EtcdStore.open()` (or `openStoreAsync('etcd://…')`),
 * which fails with one sentence naming the address when etcd does not answer.
 *
 * @example
 * import { EtcdStore } from 'probekit/monitor'
 * const store = await EtcdStore.open({ endpoints: ['http://127.0.0.1:2379'], prefix: '/probekit' })
 * console.log(store.loadStates().length, 'checks in the fleet')
 * await store.shutdown()
 */
export class EtcdStore extends EventEmitter<{ states: []; members: []; available: [boolean] }> implements MonitorStore {
  /** `etcd://host:port,…/prefix`, for messages. */
  readonly spec: string
  readonly prefix: string
  readonly replicaId: string
  readonly readonly: boolean
  readonly leaseTtlSeconds: number

  private readonly gateway: EtcdGateway
  private readonly logger: Logger | false
  private readonly retention: Retention
  private readonly maxTransitions: number
  private readonly maxPendingTransitions: number
  private readonly closing = new AbortController()
  private closed = false

  /** Every replica's states, by check id: what `loadStates()` returns. */
  private readonly view = new Map<string, CheckState>()
  /** Which replica published each state in the view. */
  private readonly publishers = new Map<string, string>()
  /** States this replica published and still holds: written again under a new lease. */
  private readonly own = new Map<string, CheckState>()
  private readonly transitionMap = new Map<string, Transition>()
  /** The keys of each check's transitions in the view, for the per-check cap. */
  private readonly transitionKeysById = new Map<string, Set<string>>()
  private transitionKeys: string[] = []
  private transitionKeysDirty = false
  private readonly memberMap = new Map<string, ReplicaInfo>()
  private readonly localHistory: MemoryStore
  private readonly registration: ReplicaInfo

  private readonly pending = new Map<string, PendingOp>()
  /** Keys of the transaction being written now. */
  private inFlight: ReadonlySet<string> = new Set()
  private pendingTransitions = 0
  private droppedTransitions = 0
  private writing: Promise<void> | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private keepaliveTimer: NodeJS.Timeout | undefined
  private lease: string | undefined
  private revision = 0
  private watchAbort: AbortController | undefined
  private watching: Promise<void> | undefined
  private available = true
  /**
   * etcd refused a write (no permission, say): only a write it accepts ends that. A read
   * or a keepalive that works meanwhile proves nothing, and must not log "answers again".
   */
  private writeRefused = false
  private lastError: string | undefined
  private transitionSeq = 0
  private keepaliveInFlight = false
  /** While `open()` runs: a fresh etcd's first write (an fsync) may take longer than a request deadline. */
  private opening = true

  private constructor(options: EtcdStoreOptions) {
    super()
    this.prefix = normalizePrefix(options.prefix)
    const tls = options.endpoints.some((e) => e.startsWith('https:'))
    this.spec = `${tls ? 'etcd+tls' : 'etcd'}://${options.endpoints.map((e) => redactUrl(e).replace(/^https?:\/\//, '')).join(',')}${this.prefix}`
    this.replicaId = options.replicaId ?? `${hostname()}-${process.pid}`
    if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(this.replicaId))
      throw new StoreError(
        `replica id ${JSON.stringify(this.replicaId)} is not usable; use letters, digits, ".", "_", "-", ":" or "@" (at most 128)`,
      )
    this.readonly = options.readonly === true
    this.leaseTtlSeconds = Math.max(2, Math.round(options.leaseTtlSeconds ?? 15))
    this.gateway = new EtcdGateway(options.endpoints, options.requestTimeoutMs ?? 2000, connectionOf(options))
    this.logger = options.logger === undefined ? console : options.logger
    this.retention = { ...DEFAULT_RETENTION, ...options.retention }
    this.localHistory = new MemoryStore(this.retention)
    this.maxTransitions = options.maxTransitions ?? 10_000
    this.maxPendingTransitions = options.maxPendingTransitions ?? 10_000
    this.registration = { id: this.replicaId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() }
  }

  /**
   * Connects: reads the prefix, and unless read-only takes a lease and registers this
   * replica; then watches the prefix. Throws a `StoreError` naming the address when etcd
   * does not answer, and when another live monitor uses the same replica id.
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(options)
    try {
      // Each endpoint in turn: one member down must not stop a monitor from starting.
      for (let attempt = 1; ; attempt++) {
        try {
          await store.resync()
          break
        } catch (error) {
          if (!(error instanceof EtcdUnavailable) || attempt >= store.gateway.endpoints.length) throw error
        }
      }
      if (!store.readonly) {
        const existing = store.memberMap.get(store.replicaId)
        if (existing && existing.host !== store.registration.host)
          throw new StoreError(
            `replica id ${JSON.stringify(store.replicaId)} is in use by a live monitor on ${existing.host} (pid ${existing.pid}); give each replica its own --replica-id`,
          )
        await store.grantLease()
        await store.call('/v3/kv/put', {
          key: b64(store.key('replicas', store.replicaId)),
          value: b64(JSON.stringify(store.registration)),
          lease: store.lease,
        })
        // grantLease queued the registration too; it was just written.
        store.pending.delete(store.key('replicas', store.replicaId))
        store.memberMap.set(store.replicaId, store.registration)
        store.keepaliveTimer = setInterval(() => void store.keepalive(), (store.leaseTtlSeconds * 1000) / 3)
        store.keepaliveTimer.unref()
      }
    } catch (error) {
      await store.shutdown({ flushTimeoutMs: 0 })
      if (error instanceof StoreError) throw error
      const refusal = store.refusal(error)
      if (refusal) throw new StoreError(refusal)
      const reason = error instanceof Error ? error.message : String(error)
      throw new StoreError(
        `cannot reach etcd at ${store.gateway.endpoints.map((e) => redactUrl(e)).join(', ')} (${redact(reason)}); start etcd there, or fix the address in --store ${store.spec}`,
      )
    }
    store.opening = false
    store.watching = store.watchLoop()
    return store
  }

  /** The live replicas (registered under a lease that has not expired), sorted. */
  members(): string[] {
    const ids = new Set(this.memberMap.keys())
    if (!this.readonly && !this.closed) ids.add(this.replicaId)
    return [...ids].sort()
  }

  /** The registration of a live replica. */
  member(id: string): ReplicaInfo | undefined {
    return this.memberMap.get(id)
  }

  /** The state a replica published for a check, and which replica it was. */
  published(id: string): { state: CheckState; replica: string } | undefined {
    const state = this.view.get(id)
    const replica = this.publishers.get(id)
    return state && replica !== undefined ? { state: { ...state }, replica } : undefined
  }

  status(): EtcdStoreStatus {
    const status: EtcdStoreStatus = {
      available: this.available,
      pendingWrites: this.pending.size,
      droppedTransitions: this.droppedTransitions,
    }
    if (!this.available && this.lastError) status.lastError = this.lastError
    if (this.lease) status.lease = BigInt(this.lease).toString(16)
    return status
  }

  // ---- MonitorStore ----

  loadStates(): CheckState[] {
    return [...this.view.values()].map((s) => ({ ...s }))
  }

  saveStates(states: readonly CheckState[]): void {
    this.assertWritable()
    for (const state of states) {
      const copy = { ...state }
      this.own.set(state.id, copy)
      this.view.set(state.id, copy)
      this.publishers.set(state.id, this.replicaId)
      this.enqueue(this.key('state', state.id), { kind: 'put', value: this.stateValue(copy), leased: true })
    }
    this.kick()
  }

  /** Removes states this replica published; states of other replicas are theirs to remove. */
  removeStates(ids: readonly string[]): void {
    this.assertWritable()
    for (const id of ids) {
      this.localHistory.removeStates([id])
      if (!this.own.delete(id)) continue
      this.view.delete(id)
      this.publishers.delete(id)
      this.enqueue(this.key('state', id), { kind: 'delete' })
    }
    this.kick()
  }

  addTransitions(transitions: readonly Transition[]): void {
    this.assertWritable()
    const ids = new Set<string>()
    for (const t of transitions) {
      const key = this.key('transitions', `${t.at}/${this.replicaId}/${t.index}.${++this.transitionSeq}`)
      const copy = { ...t }
      this.insertTransition(key, copy)
      this.enqueue(key, { kind: 'put', value: JSON.stringify(copy), leased: false })
      ids.add(t.id)
    }
    // Each check keeps its newest `transitionsPerCheck` now, not at the next prune: a
    // check flapping or pushed in a flood cannot crowd the others out of the fleet's bound.
    const cap = Math.max(0, Math.floor(this.retention.transitionsPerCheck))
    for (const id of ids) {
      const keys = this.transitionKeysById.get(id)
      if (!keys || keys.size <= cap) continue
      const oldest = [...keys].sort().slice(0, keys.size - cap)
      for (const key of oldest) this.dropTransition(key)
      this.transitionKeysDirty = true
    }
    this.kick()
  }

  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[] {
    const limit = query.limit ?? 100
    const keys = this.sortedTransitionKeys()
    const out: Transition[] = []
    for (let i = keys.length - 1; i >= 0 && out.length < limit; i--) {
      const t = this.transitionMap.get(keys[i] as string) as Transition
      if (query.id !== undefined && t.id !== query.id) continue
      if (query.pod !== undefined && t.pod !== query.pod) continue
      if (query.since !== undefined && t.at < query.since) break
      out.push({ ...t })
    }
    return out.reverse()
  }

  /** History stays in this replica's memory (bounded by the retention); etcd holds no history. */
  addSamples(samples: readonly HistorySample[]): void {
    this.localHistory.addSamples(samples)
  }

  history(id: string, query?: HistoryQuery): HistoryPoint[] {
    return this.localHistory.history(id, query)
  }

  /** Starts `shutdown()` without waiting for it; prefer `await store.shutdown()`. */
  close(): void {
    void this.shutdown()
  }

  /**
   * Writes what is pending (waiting at most `flushTimeoutMs`, default 2 s), then revokes
   * this replica's lease — its states and registration disappear at once, so the other
   * replicas take its checks over now rather than after the lease TTL — and closes every
   * connection. Safe to call more than once.
   */
  async shutdown(options: { flushTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.keepaliveTimer)
    clearTimeout(this.retryTimer)
    this.watchAbort?.abort()
    const flushTimeoutMs = options.flushTimeoutMs ?? 2000
    if (!this.readonly && flushTimeoutMs > 0 && this.available) {
      const deadline = Date.now() + flushTimeoutMs
      while (this.pending.size > 0 && this.lease && this.available && Date.now() < deadline) {
        this.kick()
        await this.writing
      }
      if (this.lease && this.available) await this.call('/v3/lease/revoke', { ID: this.lease }).catch(() => {})
    }
    this.lease = undefined
    this.closing.abort()
    await this.watching?.catch(() => {})
    await this.writing?.catch(() => {})
    await this.gateway.close().catch(() => {})
    this.removeAllListeners()
  }

  // ---- internals ----

  private key(kind: 'state' | 'transitions' | 'replicas', rest: string): string {
    return `${this.prefix}/${kind}/${rest}`
  }

  private stateValue(state: CheckState): string {
    return JSON.stringify({ replica: this.replicaId, state })
  }

  private assertWritable(): void {
    if (this.readonly) throw new Error(`the etcd store ${this.spec} is open read-only`)
  }

  private call<T>(path: string, body: unknown): Promise<T> {
    return this.gateway.call<T>(path, body, this.closing.signal, this.opening ? OPEN_TIMEOUT_MS : undefined)
  }

  private enqueue(key: string, op: PendingOp): void {
    const before = this.pending.get(key)
    // Re-inserting moves the key to the end: the queue stays in the order of the latest change.
    this.pending.delete(key)
    this.pending.set(key, op)
    if (!before && key.startsWith(`${this.prefix}/transitions/`) && op.kind === 'put') {
      this.pendingTransitions++
      if (this.pendingTransitions > this.maxPendingTransitions) this.dropOldestPendingTransition()
    }
  }

  private dropOldestPendingTransition(): void {
    const transitionsPrefix = `${this.prefix}/transitions/`
    for (const [key, op] of this.pending) {
      if (op.kind === 'put' && key.startsWith(transitionsPrefix)) {
        this.pending.delete(key)
        this.pendingTransitions--
        this.droppedTransitions++
        return
      }
    }
  }

  /** Starts the writer if it is idle and there is something to write. */
  private kick(): void {
    if (this.writing || this.pending.size === 0 || this.closing.signal.aborted || this.readonly) return
    if (!this.available && this.retryTimer) return
    this.writing = this.writeLoop().finally(() => {
      this.writing = undefined
    })
  }

  private async writeLoop(): Promise<void> {
    while (this.pending.size > 0 && !this.closing.signal.aborted) {
      if (!this.lease) {
        // Leased keys wait for a lease; the keepalive loop grants one and kicks again.
        if (!(await this.ensureLease())) return
      }
      const lease = this.lease as string
      const batch: [string, PendingOp][] = []
      for (const entry of this.pending) {
        batch.push(entry)
        if (batch.length === MAX_TXN_OPS) break
      }
      const ops = batch.map(([key, op]) =>
        op.kind === 'delete'
          ? { requestDeleteRange: { key: b64(key) } }
          : { requestPut: { key: b64(key), value: b64(op.value), ...(op.leased ? { lease } : {}) } },
      )
      this.inFlight = new Set(batch.map(([key]) => key))
      try {
        await this.call('/v3/kv/txn', { success: ops })
      } catch (error) {
        this.inFlight = new Set()
        if (error instanceof EtcdAnswerError && /lease not found/.test(error.message)) {
          this.leaseLost()
          continue
        }
        this.failed(error, { write: true })
        this.retryLater()
        return
      }
      this.inFlight = new Set()
      const transitionsPrefix = `${this.prefix}/transitions/`
      for (const [key, op] of batch) {
        if (this.pending.get(key) !== op) continue
        this.pending.delete(key)
        if (op.kind === 'put' && key.startsWith(transitionsPrefix)) this.pendingTransitions--
      }
      this.succeeded({ write: true })
      this.pruneTransitions()
    }
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.kick()
    }, 1000)
    this.retryTimer.unref()
  }

  /** Drops the oldest transitions beyond the count and age bounds (any replica may; deletes are idempotent). */
  private pruneTransitions(): void {
    const keys = this.sortedTransitionKeys()
    const cutoff = new Date(Date.now() - this.retention.transitionsMs).toISOString()
    let drop = Math.max(0, keys.length - this.maxTransitions)
    while (drop < keys.length && (this.transitionMap.get(keys[drop] as string)?.at ?? '') < cutoff) drop++
    if (drop === 0) return
    for (const key of keys.slice(0, drop)) this.dropTransition(key)
    this.transitionKeys = keys.slice(drop)
  }

  /**
   * Removes a transition from the view and from etcd: one not written yet is simply never
   * written; one written (or being written now) is deleted.
   */
  private dropTransition(key: string): void {
    this.forgetTransition(key)
    const op = this.pending.get(key)
    if (op?.kind === 'put' && !this.inFlight.has(key)) {
      this.pending.delete(key)
      this.pendingTransitions--
      return
    }
    if (op?.kind === 'put') this.pendingTransitions--
    this.enqueue(key, { kind: 'delete' })
  }

  private forgetTransition(key: string): void {
    const t = this.transitionMap.get(key)
    if (!t) return
    this.transitionMap.delete(key)
    const keys = this.transitionKeysById.get(t.id)
    keys?.delete(key)
    if (keys?.size === 0) this.transitionKeysById.delete(t.id)
  }

  private async ensureLease(): Promise<boolean> {
    if (this.lease) return true
    try {
      await this.grantLease()
      return true
    } catch (error) {
      this.failed(error)
      this.retryLater()
      return false
    }
  }

  private async grantLease(): Promise<void> {
    const answer = await this.call<{ ID: string; TTL: string }>('/v3/lease/grant', { TTL: this.leaseTtlSeconds })
    this.lease = answer.ID
    // Everything bound to the old lease is gone: the registration and every state we hold are written again.
    this.enqueue(this.key('replicas', this.replicaId), {
      kind: 'put',
      value: JSON.stringify(this.registration),
      leased: true,
    })
    for (const state of this.own.values())
      this.enqueue(this.key('state', state.id), { kind: 'put', value: this.stateValue(state), leased: true })
  }

  private leaseLost(): void {
    this.lease = undefined
  }

  private async keepalive(): Promise<void> {
    if (this.closed || this.keepaliveInFlight) return
    this.keepaliveInFlight = true
    try {
      await this.renewLease()
    } finally {
      this.keepaliveInFlight = false
    }
  }

  private async renewLease(): Promise<void> {
    if (!this.lease) {
      if (await this.ensureLease()) {
        this.succeeded()
        this.kick()
      }
      return
    }
    const lease = this.lease
    try {
      const answer = await this.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: lease })
      if (this.lease !== lease) return
      if (!answer.result?.TTL || Number(answer.result.TTL) <= 0) {
        // etcd let the lease expire (it was frozen, or away longer than the TTL): take a new one.
        this.leaseLost()
        if (await this.ensureLease()) this.kick()
      }
      this.succeeded()
    } catch (error) {
      this.failed(error)
    }
  }

  /**
   * The sentence for an error that retrying will not fix (TLS, login, permissions), naming
   * the flag or the grant that fixes it; undefined for "etcd did not answer".
   */
  private refusal(error: unknown): string | undefined {
    if (error instanceof EtcdRefused) return error.message
    if (!(error instanceof EtcdAnswerError)) return undefined
    const endpoint = redactUrl(this.gateway.endpoint)
    const user = this.gateway.user
    const access = this.readonly ? 'read' : 'readwrite'
    if (error.code === 7 || PERMISSION_DENIED.test(error.message))
      return user === undefined
        ? `etcd at ${endpoint} refused access to the prefix ${this.prefix}/ (permission denied): it has authentication on; give --etcd-user NAME and --etcd-password-file FILE for a user whose role may ${access} ${this.prefix}/`
        : `etcd refused user ${user} access to the prefix ${this.prefix}/ (permission denied); grant its role ${access} on it: etcdctl role grant-permission ROLE --prefix=true ${access} ${this.prefix}/`
    if (user === undefined && /user name is empty/i.test(error.message))
      return `etcd at ${endpoint} has authentication on; give --etcd-user NAME and --etcd-password-file FILE (or etcd://USER:PASSWORD@… in --store)`
    return undefined
  }

  private failed(error: unknown, options: { write?: boolean } = {}): void {
    if (this.closed) return
    const refusal = this.refusal(error)
    if (refusal && options.write) this.writeRefused = true
    const reason = refusal ?? redact(error instanceof Error ? error.message : String(error))
    this.lastError = reason
    if (!this.available) return
    this.available = false
    writeLog(
      this.logger,
      'error',
      refusal
        ? `monitor store: ${refusal}; checks go on and their results are kept in memory until etcd accepts them`
        : `monitor store: etcd at ${redactUrl(this.gateway.endpoint)} is not answering (${reason}); checks go on and their results are kept in memory until etcd answers again`,
      { store: this.spec },
    )
    // The watch may sit on a dead connection: restart it, it re-syncs once etcd answers.
    this.watchAbort?.abort()
    this.safeEmit('available', false)
  }

  private succeeded(options: { write?: boolean } = {}): void {
    if (this.writeRefused && !options.write) return
    const wasRefused = this.writeRefused
    this.writeRefused = false
    if (this.available || this.closed) return
    this.available = true
    this.lastError = undefined
    writeLog(
      this.logger,
      'info',
      `monitor store: etcd at ${redactUrl(this.gateway.endpoint)} ${wasRefused ? 'accepts writes' : 'answers'} again; writing ${this.pending.size} pending key(s)`,
      { store: this.spec },
    )
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.kick()
    this.safeEmit('available', true)
  }

  private safeEmit(event: 'states' | 'members' | 'available', ...args: unknown[]): void {
    try {
      ;(this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (error) {
      writeLog(this.logger, 'error', `a "${event}" listener of the etcd store threw: ${String(error)}`, {})
    }
  }

  /** Reads the whole prefix and rebuilds the view from it (this replica's own states win). */
  private async resync(): Promise<void> {
    const answer = await this.call<{ header?: { revision?: string }; kvs?: RawKv[] }>('/v3/kv/range', {
      key: b64(`${this.prefix}/`),
      range_end: prefixEnd(`${this.prefix}/`),
    })
    this.revision = Number(answer.header?.revision ?? 0)
    const membersBefore = this.members().join('\n')
    this.view.clear()
    this.publishers.clear()
    this.transitionMap.clear()
    this.transitionKeysById.clear()
    this.transitionKeys = []
    this.memberMap.clear()
    for (const kv of answer.kvs ?? []) this.applyPut(kv)
    this.transitionKeysDirty = true
    for (const [id, state] of this.own) {
      this.view.set(id, state)
      this.publishers.set(id, this.replicaId)
    }
    // Our registration or states may have gone with an expired lease: make sure they are written.
    if (!this.readonly && this.lease) {
      const present = new Set((answer.kvs ?? []).map((kv) => unb64(kv.key)))
      for (const [id, state] of this.own)
        if (!present.has(this.key('state', id)))
          this.enqueue(this.key('state', id), { kind: 'put', value: this.stateValue(state), leased: true })
      this.kick()
    }
    this.safeEmit('states')
    if (this.members().join('\n') !== membersBefore) this.safeEmit('members')
  }

  private async watchLoop(): Promise<void> {
    let needResync = false
    while (!this.closing.signal.aborted) {
      this.watchAbort = new AbortController()
      const signal = AbortSignal.any([this.watchAbort.signal, this.closing.signal])
      try {
        if (needResync) {
          await this.resync()
          this.succeeded()
        }
        needResync = true
        await this.gateway.watch(
          {
            create_request: {
              key: b64(`${this.prefix}/`),
              range_end: prefixEnd(`${this.prefix}/`),
              start_revision: String(this.revision + 1),
            },
          },
          (result) => this.onWatch(result),
          signal,
        )
      } catch (error) {
        if (this.closing.signal.aborted) return
        // A watch refused for an expired token: the resync above logs in again; nothing to report.
        if (!this.watchAbort.signal.aborted && !isStaleToken(error)) this.failed(error)
      }
      await sleepUnref(this.available ? 200 : 1000, this.closing.signal)
    }
  }

  private onWatch(result: WatchResult): void {
    if (result.canceled || result.compact_revision) {
      // The revision we asked for was compacted away: end this watch, the loop re-syncs.
      this.watchAbort?.abort()
      return
    }
    if (result.header?.revision) this.revision = Math.max(this.revision, Number(result.header.revision))
    if (!result.events?.length) return
    this.succeeded()
    let statesChanged = false
    let membersChanged = false
    for (const event of result.events) {
      const key = unb64(event.kv.key)
      const kind = this.kindOf(key)
      if (event.type === 'DELETE') {
        if (kind === 'state') {
          const id = key.slice(`${this.prefix}/state/`.length)
          const mine = this.own.get(id)
          if (mine) {
            // Our key went with an expired lease: we still check this; write it again.
            if (!this.readonly) {
              this.enqueue(key, { kind: 'put', value: this.stateValue(mine), leased: true })
              this.kick()
            }
            continue
          }
          statesChanged = this.view.delete(id) || statesChanged
          this.publishers.delete(id)
        } else if (kind === 'transitions') {
          this.forgetTransition(key)
          this.transitionKeysDirty = true
        } else if (kind === 'replicas') {
          const id = key.slice(`${this.prefix}/replicas/`.length)
          if (id === this.replicaId && !this.readonly && !this.closed) {
            this.enqueue(key, { kind: 'put', value: JSON.stringify(this.registration), leased: true })
            this.kick()
            continue
          }
          membersChanged = this.memberMap.delete(id) || membersChanged
        }
      } else {
        const changed = this.applyPut(event.kv)
        if (kind === 'state' && changed) statesChanged = true
        if (kind === 'replicas' && changed) membersChanged = true
      }
    }
    if (statesChanged) this.safeEmit('states')
    if (membersChanged) this.safeEmit('members')
  }

  private kindOf(key: string): 'state' | 'transitions' | 'replicas' | undefined {
    const rest = key.slice(this.prefix.length + 1)
    const slash = rest.indexOf('/')
    const kind = rest.slice(0, slash)
    return kind === 'state' || kind === 'transitions' || kind === 'replicas' ? kind : undefined
  }

  /** Applies a key read or watched; true when it changed what readers see (not our own echo). */
  private applyPut(kv: RawKv): boolean {
    const key = unb64(kv.key)
    const kind = this.kindOf(key)
    let value: unknown
    try {
      value = JSON.parse(unb64(kv.value))
    } catch {
      return false // not ours to read; a stray key under the prefix is ignored
    }
    if (kind === 'state') {
      const envelope = value as { replica?: unknown; state?: CheckState }
      if (typeof envelope.replica !== 'string' || typeof envelope.state?.id !== 'string') return false
      const id = key.slice(`${this.prefix}/state/`.length)
      if (envelope.replica === this.replicaId && !this.readonly) {
        // Our own write coming back; what we hold is at least as new.
        return false
      }
      // Another replica took this check over: it is theirs now, not ours to write again.
      this.own.delete(id)
      this.view.set(id, { ...envelope.state, id })
      this.publishers.set(id, envelope.replica)
      return true
    }
    if (kind === 'transitions') {
      const t = value as Transition
      if (typeof t?.id !== 'string' || typeof t.at !== 'string') return false
      if (this.transitionMap.has(key)) return false
      this.insertTransition(key, t)
      return true
    }
    if (kind === 'replicas') {
      const info = value as ReplicaInfo
      if (typeof info?.id !== 'string') return false
      const id = key.slice(`${this.prefix}/replicas/`.length)
      const had = this.memberMap.has(id)
      this.memberMap.set(id, info)
      return !had
    }
    return false
  }

  private insertTransition(key: string, t: Transition): void {
    const last = this.transitionKeys[this.transitionKeys.length - 1]
    if (!this.transitionMap.has(key)) {
      if (last !== undefined && key < last) this.transitionKeysDirty = true
      this.transitionKeys.push(key)
    }
    this.transitionMap.set(key, t)
    let keys = this.transitionKeysById.get(t.id)
    if (!keys) this.transitionKeysById.set(t.id, (keys = new Set()))
    keys.add(key)
  }

  private sortedTransitionKeys(): string[] {
    if (this.transitionKeysDirty || this.transitionKeys.length !== this.transitionMap.size) {
      this.transitionKeys = [...this.transitionMap.keys()].sort()
      this.transitionKeysDirty = false
    }
    return this.transitionKeys
  }
}
