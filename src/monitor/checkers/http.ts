/**
 * HTTP and HTTPS checks, as Consul ran p2's status checks: 2xx passes, 429 warns, anything
 * else (or an error) is critical. Connections are pooled and kept alive (undici), so a
 * fleet checked every few seconds does not pile up TIME-WAIT sockets. The body is read up
 * to 10 KB and the connection dropped after that; redirects are reported, never followed.
 */

import { STATUS_CODES } from 'node:http'
import { isIP } from 'node:net'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { Agent, buildConnector, type Dispatcher } from 'undici'
import type { Deadline } from '../../core/deadline.js'
import { reasonOf } from '../../core/errors.js'
import { decodeLoose, redact, redactCut, redactUrl, type SecretSet } from '../../core/redact.js'
import {
  describeNetworkError,
  errorCode,
  isTlsNameError,
  isTlsTrustError,
  openSslReason,
} from '../../probes/network-error.js'
import type { HttpCheckSpec, TlsSettings } from '../manifest.js'
import {
  CERTIFICATE_LINE_ROOM,
  type ChainCertificate,
  DEFAULT_CERT_EXPIRY_WARNING_DAYS,
  fetchPeerCertificates,
  isCertificateDateError,
  peerCertificates,
  withCertificateVerdict,
} from './certificates.js'
import { type Checker, type CheckerResult, type Learnt, MAX_OUTPUT_BYTES, runAttempt, type Verdict } from './checker.js'
import { readTlsFiles } from './tls-files.js'

/** How much of a body is read; the rest is never downloaded. */
export const MAX_BODY_BYTES = 10 * 1024

const USER_AGENT = 'probekit-monitor/0.1'

interface SharedAgent {
  /** Its key in `agents` (TLS settings and connection cap). */
  key: string
  agent: Agent
  /** The certificates each `host:port` sent in the latest TLS handshake. */
  certificates: Map<string, ChainCertificate[]>
  /** What a handshake that only reads the certificates presents and trusts (the agent's own settings). */
  tlsOptions: ConnectionOptions
  users: number
  /** Set when a TLS file could not be read: every check using it fails with this. */
  error?: string
}

/**
 * Connections a monitor opens to one origin (`host:port`) at most, by default; more checks
 * of that origin wait for one of them (their deadlines count meanwhile).
 *
 * Measured (undici against nginx on loopback, one core, 256 requests in flight): with no
 * cap each request cost 59–70 µs of CPU over 256–512 connections, against 43–46 µs with
 * 16–128; a monitor of 50,000 targets behind one origin, once late, stayed late at its
 * higher cost per check (7,500 checks/s of 10,000 due in 4 of 6 runs) and kept up in every
 * run with the cap. A fleet's checks rarely share an origin; where they do (an ingress, a
 * load balancer), 64 connections also keep the monitor from opening hundreds to it.
 */
export const DEFAULT_CONNECTIONS_PER_ORIGIN = 64

export interface HttpCheckerOptions {
  /** Connections to one origin at most (1 or more). Default `DEFAULT_CONNECTIONS_PER_ORIGIN`. */
  connectionsPerOrigin?: number
}

/** The cap asked for, as a whole number of at least 1 (undici would read 0 as no cap at all). */
function connectionCap(asked: number | undefined): number {
  return asked === undefined || !Number.isFinite(asked)
    ? DEFAULT_CONNECTIONS_PER_ORIGIN
    : Math.max(1, Math.floor(asked))
}

// One agent per TLS configuration (and connection cap), shared by every check that uses
// it: connections to the same origin are reused across checks and runs.
const agents = new Map<string, SharedAgent>()

function agentKey(tls: TlsSettings, connections: number): string {
  return JSON.stringify([tls.caFile, tls.certFile, tls.keyFile, tls.serverName, tls.insecure === true, connections])
}

function acquireAgent(tls: TlsSettings, connections: number): SharedAgent {
  const key = agentKey(tls, connections)
  let shared = agents.get(key)
  if (shared) {
    shared.users++
    return shared
  }
  const connectOptions: buildConnector.BuildOptions = { rejectUnauthorized: tls.insecure !== true }
  const { ca, cert, key: keyPem, error } = readTlsFiles(tls)
  if (ca) connectOptions.ca = ca
  if (cert) connectOptions.cert = cert
  if (keyPem) connectOptions.key = keyPem
  if (tls.serverName) connectOptions.servername = tls.serverName
  const certificates = new Map<string, ChainCertificate[]>()
  const base = buildConnector(connectOptions)
  const connect: buildConnector.connector = (options, callback) => {
    base(options, (err, socket) => {
      // undici passes the URL's port: empty for https://host/ (443).
      const origin = `${options.hostname}:${options.port || (options.protocol === 'https:' ? 443 : 80)}`
      if (!err && socket && 'getPeerCertificate' in socket) {
        const chain = peerCertificates(socket as TLSSocket)
        if (chain.length > 0) certificates.set(origin, chain)
      }
      // The server sends certificates it did not before: what an earlier handshake saw is
      // no longer its word (a refusal for the dates reads the new chain, see readChain).
      if (err && (isTlsTrustError(err) || isTlsNameError(err))) certificates.delete(origin)
      ;(callback as (e: Error | null, s: typeof socket) => void)(err, socket)
    })
  }
  shared = {
    key,
    agent: new Agent({
      connect,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      // Checks of one origin beyond the cap queue in its pool (DEFAULT_CONNECTIONS_PER_ORIGIN).
      connections,
      pipelining: 1,
    }),
    certificates,
    tlsOptions: {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(keyPem ? { key: keyPem } : {}),
      ...(tls.serverName ? { servername: tls.serverName } : {}),
    },
    users: 1,
  }
  if (error) shared.error = error
  agents.set(key, shared)
  return shared
}

async function releaseAgent(shared: SharedAgent): Promise<void> {
  if (--shared.users > 0) return
  if (agents.get(shared.key) === shared) agents.delete(shared.key)
  // destroy, not close: an in-flight check has already been answered at its deadline.
  await shared.agent.destroy().catch(() => {})
}

/** Builds the checker of one HTTP(S) check. */
export function httpChecker(spec: HttpCheckSpec, secrets?: SecretSet, options: HttpCheckerOptions = {}): Checker {
  const url = new URL(spec.url)
  const origin = url.origin
  const path = `${url.pathname}${url.search}`
  const hostKey = `${url.hostname.replace(/^\[|\]$/g, '')}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    accept: 'text/plain, text/*, */*',
    ...lowerKeys(spec.headers),
  }
  if (url.username || url.password) {
    headers.authorization ??= `Basic ${Buffer.from(`${decodeLoose(url.username)}:${decodeLoose(url.password)}`).toString('base64')}`
  }
  const shown = redactUrl(spec.url, secrets)
  const head = `HTTP ${spec.method} ${shown}`
  const secure = url.protocol === 'https:'
  const warningDays = spec.certExpiryWarningDays ?? DEFAULT_CERT_EXPIRY_WARNING_DAYS
  // The certificate's verdict may need a line beside the kept output.
  const maxOutputBytes = secure ? MAX_OUTPUT_BYTES - CERTIFICATE_LINE_ROOM : MAX_OUTPUT_BYTES
  const shared = acquireAgent(spec.tls, connectionCap(options.connectionsPerOrigin))
  let closed = false
  // What undici is asked, built once: it reads these options, never changes them.
  const dispatchOptions: Dispatcher.DispatchOptions = {
    origin,
    path,
    method: spec.method as Dispatcher.HttpMethod,
    headers,
    // The check's own deadline governs; undici's 300 s defaults would only get in the way.
    headersTimeout: 0,
    bodyTimeout: 0,
  }
  // The last answer and the verdict built from it: a target answering the same status and
  // body run after run gets the same verdict, without decoding, redacting and composing
  // its output again (and the monitor keeps the same string, see Monitor.apply).
  let lastAnswer:
    | { status: number; location: string | undefined; body: Buffer; secrets: number; verdict: Verdict }
    | undefined
  const secretsVersion = (): number => secrets?.version ?? 0

  const attempt = async (deadline: Deadline, partial: Learnt): Promise<Verdict> => {
    if (shared.error) throw new Error(shared.error)
    let response: BoundedResponse
    try {
      response = await boundedRequest(shared.agent, dispatchOptions, deadline, MAX_BODY_BYTES, partial)
    } catch (error) {
      if (deadline.aborted) throw deadline.reason
      const status = (error as { statusCode?: number }).statusCode
      if (status === undefined) {
        // Verification refused the certificate for its dates: one more handshake reads the
        // chain, so the output says which certificate and when (see run()).
        if (secure && isCertificateDateError(error)) await readChain(deadline.signal).catch(() => {})
        throw new Error(`${head}: ${reasonOf(wordsFor(error), secrets)}`)
      }
      throw new Error(
        `${head}: ${status} ${STATUS_CODES[status] ?? ''}, then reading the body failed: ${reasonOf((error as { cause?: unknown }).cause, secrets)}`,
      )
    }
    const status = response.statusCode
    const { body, bytesRead, more } = response
    if (
      lastAnswer !== undefined &&
      !more &&
      lastAnswer.status === status &&
      lastAnswer.location === response.location &&
      lastAnswer.secrets === secretsVersion() &&
      lastAnswer.body.equals(body)
    ) {
      return lastAnswer.verdict
    }
    const text = body.toString('utf8')
    const statusLine = `${status} ${STATUS_CODES[status] ?? ''}`.trim()
    let verdictStatus: Verdict['status']
    if (spec.expectStatus ? spec.expectStatus.includes(status) : status >= 200 && status < 300) verdictStatus = 'pass'
    else if (status === 429) verdictStatus = 'warn'
    else verdictStatus = 'fail'
    let summary = `${head}: ${statusLine}`
    if (status >= 300 && status < 400 && verdictStatus === 'fail') {
      const target = response.location
      summary += target
        ? ` (redirect to ${redactUrl(String(target), secrets)} not followed)`
        : ' (redirect not followed)'
    }
    // The whole body read is redacted before composeOutput keeps its tail; a body cut at the
    // read bound may end inside a credential, which redactCut masks too.
    const shownBody = more ? redactCut(text, { end: true }, secrets) : redact(text, secrets)
    const verdict: Verdict = {
      status: verdictStatus,
      output: composeOutput(summary, shownBody, bytesRead, more, maxOutputBytes),
      httpStatus: status,
    }
    // A copy of the body (it may be a view of the socket's read buffer), up to 1 KB: a
    // larger body is not worth comparing byte by byte.
    lastAnswer =
      !more && body.length <= 1024
        ? { status, location: response.location, body: Buffer.from(body), secrets: secretsVersion(), verdict }
        : undefined
    return verdict
  }

  const readChain = async (signal: AbortSignal): Promise<void> => {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const servername = spec.tls.serverName ?? host
    const chain = await fetchPeerCertificates(
      {
        ...shared.tlsOptions,
        host,
        port: Number(url.port || 443),
        // SNI carries a host name, never an IP address (RFC 6066).
        ...(isIP(servername) ? {} : { servername }),
      },
      signal,
    )
    if (chain.length > 0) shared.certificates.set(hostKey, chain)
  }

  return {
    run(signal?: AbortSignal): Promise<CheckerResult> {
      const running = runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
      if (!secure) return running
      // What the latest handshake with this origin saw: this run's, or an earlier one on a
      // kept-alive connection (a run that ended before its answer still reports it).
      return running.then((result) => withCertificateVerdict(result, shared.certificates.get(hostKey), warningDays))
    },
    async close() {
      if (closed) return
      closed = true
      await releaseAgent(shared)
    },
  }
}

interface BoundedResponse {
  statusCode: number
  /** The Location header of a redirect, if any. */
  location: string | undefined
  body: Buffer
  bytesRead: number
  more: boolean
}

const EMPTY = Buffer.alloc(0)

/**
 * One request through undici's dispatcher, its body read into memory at most `limit`
 * bytes, then the connection dropped: a 1 GB body costs 10 KB and one connection, not a
 * download. A body read to its end leaves the connection reusable. A handler of its own,
 * not `request()`: no response stream, header object or async iterator per check — the
 * monitor runs thousands a second. Rejects with the transport error; an error after the
 * status line carries it as `statusCode` (and the error as `cause`).
 */
function boundedRequest(
  agent: Agent,
  options: Dispatcher.DispatchOptions,
  deadline: Deadline,
  limit: number,
  /** Learns the status as soon as it arrives: a body that never ends still reports it. */
  partial: Learnt,
): Promise<BoundedResponse> {
  return new Promise((resolve, reject) => {
    let statusCode = 0
    let location: string | undefined
    let first: Buffer | undefined
    let chunks: Buffer[] | undefined
    let bytesRead = 0
    let more = false
    let done = false
    let abortRequest: ((reason?: Error) => void) | undefined
    const finish = (error: unknown): void => {
      if (done) return
      done = true
      deadline.onAbort = undefined
      if (error !== undefined && !more) {
        if (statusCode === 0) reject(error)
        else reject(Object.assign(new Error('reading the body failed'), { statusCode, cause: error }))
        return
      }
      const body = chunks ? Buffer.concat(chunks, bytesRead) : (first ?? EMPTY)
      resolve({ statusCode, location, body, bytesRead, more })
    }
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        if (deadline.aborted) return abort(deadline.reason as Error)
        abortRequest = abort
      },
      onHeaders(status, rawHeaders) {
        if (status < 200) return true
        statusCode = status
        partial.httpStatus = status
        if (status >= 300 && status < 400) {
          for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
            if (String(rawHeaders[i]).toLowerCase() === 'location') {
              location = String(rawHeaders[i + 1])
              break
            }
          }
        }
        return true
      },
      onData(chunk) {
        if (more) return false
        const room = limit - bytesRead
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk
        if (first === undefined) first = part
        else {
          chunks ??= [first]
          chunks.push(part)
        }
        bytesRead += part.length
        if (bytesRead >= limit) {
          // The rest is never downloaded: the connection is dropped.
          more = true
          abortRequest?.(new Error('body read bound reached'))
          finish(undefined)
          return false
        }
        return true
      },
      onComplete() {
        finish(undefined)
      },
      onError(error) {
        finish(error)
      },
    }
    // The deadline's own listener: an AbortSignal listener per request costs more than this
    // whole function.
    deadline.onAbort = (reason) => abortRequest?.(reason as Error)
    agent.dispatch(options, handler)
  })
}

/** `HTTP GET url: 200 OK Output: body`, as Consul words it, kept within `max` bytes (the body's tail). */
function composeOutput(summary: string, body: string, bytesRead: number, more: boolean, max: number): string {
  const trimmed = body.trim()
  if (!trimmed) return summary
  const plain = `${summary} Output: ${trimmed}`
  if (!more && Buffer.byteLength(plain) <= max) return plain
  const room = max - Buffer.byteLength(summary) - 96
  let tail = Buffer.from(trimmed, 'utf8')
  if (tail.length > room) tail = tail.subarray(tail.length - Math.max(room, 0))
  let skip = 0
  while (skip < 4 && skip < tail.length && ((tail[skip] as number) & 0xc0) === 0x80) skip++
  tail = tail.subarray(skip)
  const of = more ? `the first ${bytesRead} bytes read of a longer body` : `${bytesRead} bytes`
  return `${summary} Output (last ${tail.length} bytes of ${of}): ${tail.toString('utf8')}`
}

function lowerKeys(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(record)) out[k.toLowerCase()] = v
  return out
}

/**
 * What a failed request is shown as: Node's own message where it reads well ("connect
 * ECONNREFUSED …", "certificate has expired"), the probes' words where it does not: OpenSSL's
 * internals ("801C…:error:0A00010B:SSL routines:…:wrong version number:…ssl3_record.c:350:"
 * becomes "the server does not speak TLS") and undici's "Headers Overflow Error".
 */
function wordsFor(error: unknown): unknown {
  const code = errorCode(error)
  // undici's limit is Node's --max-http-header-size (16 KB by default).
  if (code === 'UND_ERR_HEADERS_OVERFLOW')
    return `not a valid HTTP response: its headers are larger than the client accepts (${code})`
  // OpenSSL's reason read as the probes read it (network-error.ts), in their words.
  return openSslReason(error instanceof Error ? error.message : '', code) ? describeNetworkError(error) : error
}
