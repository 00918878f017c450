/**
 * HTTP and HTTPS checks, as Consul ran p2's status checks: 2xx passes, 429 warns, anything
 * else (or an error) is critical. Connections are pooled and kept alive (undici), so a
 * fleet checked every few seconds does not pile up TIME-WAIT sockets. The body is read up
 * to 10 KB and the connection dropped after that; redirects are reported, never followed.
 */
import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { isIP } from 'node:net'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { Agent, buildConnector } from 'undici'
import { reasonOf } from '../../core/errors.js'
import { redact, redactCut, redactUrl, type SecretSet } from '../../core/redact.js'
import { isTlsTrustError } from '../../probes/network-error.js'
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

/** How much of a body is read; the rest is never downloaded. */
export const MAX_BODY_BYTES = 10 * 1024

const USER_AGENT = 'probekit-monitor/0.1'

interface SharedAgent {
  agent: Agent
  /** The certificates each `host:port` sent in the latest TLS handshake. */
  certificates: Map<string, ChainCertificate[]>
  /** What a handshake that only reads the certificates presents and trusts (the agent's own settings). */
  tlsOptions: ConnectionOptions
  users: number
  /** Set when a TLS file could not be read: every check using it fails with this. */
  error?: string
}

// One agent per TLS configuration, shared by every check that uses it: connections to the
// same origin are reused across checks and runs.
const agents = new Map<string, SharedAgent>()

function tlsKey(tls: TlsSettings): string {
  return JSON.stringify([tls.caFile, tls.certFile, tls.keyFile, tls.serverName, tls.insecure === true])
}

function acquireAgent(tls: TlsSettings): SharedAgent {
  const key = tlsKey(tls)
  let shared = agents.get(key)
  if (shared) {
    shared.users++
    return shared
  }
  const connectOptions: buildConnector.BuildOptions = { rejectUnauthorized: tls.insecure !== true }
  let error: string | undefined
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined
    try {
      return readFileSync(file)
    } catch (e) {
      error ??= `cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; fix the manifest's tls settings`
      return undefined
    }
  }
  const ca = read(tls.caFile, 'CA file')
  const cert = read(tls.certFile, 'client certificate')
  const keyPem = read(tls.keyFile, 'client key')
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
      if (err && isTlsTrustError(err)) certificates.delete(origin)
      ;(callback as (e: Error | null, s: typeof socket) => void)(err, socket)
    })
  }
  shared = {
    agent: new Agent({
      connect,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
      // No cap per origin: many targets often share one host:port (a fleet behind a few
      // processes), and the scheduler's concurrency already bounds what is in flight.
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

async function releaseAgent(tls: TlsSettings, shared: SharedAgent): Promise<void> {
  if (--shared.users > 0) return
  if (agents.get(tlsKey(tls)) === shared) agents.delete(tlsKey(tls))
  // destroy, not close: an in-flight check has already been answered at its deadline.
  await shared.agent.destroy().catch(() => {})
}

/** Builds the checker of one HTTP(S) check. */
export function httpChecker(spec: HttpCheckSpec, secrets?: SecretSet): Checker {
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
    headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  }
  const shown = redactUrl(spec.url, secrets)
  const head = `HTTP ${spec.method} ${shown}`
  const secure = url.protocol === 'https:'
  const warningDays = spec.certExpiryWarningDays ?? DEFAULT_CERT_EXPIRY_WARNING_DAYS
  // The certificate's verdict may need a line beside the kept output.
  const maxOutputBytes = secure ? MAX_OUTPUT_BYTES - CERTIFICATE_LINE_ROOM : MAX_OUTPUT_BYTES
  const shared = acquireAgent(spec.tls)
  let closed = false

  const attempt = async (signal: AbortSignal, partial: Learnt): Promise<Verdict> => {
    if (shared.error) throw new Error(shared.error)
    let response: Awaited<ReturnType<Agent['request']>>
    try {
      response = await shared.agent.request({
        origin,
        path,
        method: spec.method as 'GET',
        headers,
        signal,
        // The check's own deadline governs; undici's 300 s defaults would only get in the way.
        headersTimeout: 0,
        bodyTimeout: 0,
      })
    } catch (error) {
      if (signal.aborted) throw signal.reason
      // Verification refused the certificate for its dates: one more handshake reads the
      // chain, so the output says which certificate and when (see run()).
      if (secure && isCertificateDateError(error)) await readChain(signal).catch(() => {})
      throw new Error(`${head}: ${reasonOf(error, secrets)}`)
    }
    const status = response.statusCode
    partial.httpStatus = status
    let body: { text: string; bytesRead: number; more: boolean }
    try {
      body = await readBounded(response.body, MAX_BODY_BYTES)
    } catch (error) {
      if (signal.aborted) throw signal.reason
      throw new Error(
        `${head}: ${status} ${STATUS_CODES[status] ?? ''}, then reading the body failed: ${reasonOf(error, secrets)}`,
      )
    }
    const { text, bytesRead, more } = body
    const statusLine = `${status} ${STATUS_CODES[status] ?? ''}`.trim()
    let verdictStatus: Verdict['status']
    if (spec.expectStatus ? spec.expectStatus.includes(status) : status >= 200 && status < 300) verdictStatus = 'pass'
    else if (status === 429) verdictStatus = 'warn'
    else verdictStatus = 'fail'
    let summary = `${head}: ${statusLine}`
    if (status >= 300 && status < 400 && verdictStatus === 'fail') {
      const location = response.headers.location
      const target = Array.isArray(location) ? location[0] : location
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
    async run(signal?: AbortSignal): Promise<CheckerResult> {
      const result = await runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
      if (!secure) return result
      // What the latest handshake with this origin saw: this run's, or an earlier one on a
      // kept-alive connection (a run that ended before its answer still reports it).
      return withCertificateVerdict(result, shared.certificates.get(hostKey), warningDays)
    },
    async close() {
      if (closed) return
      closed = true
      await releaseAgent(spec.tls, shared)
    },
  }
}

/**
 * Reads at most `limit` bytes of a body, then destroys it: a 1 GB body costs 10 KB and
 * one connection, not a download. A body read to its end leaves the connection reusable.
 */
async function readBounded(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  limit: number,
): Promise<{ text: string; bytesRead: number; more: boolean }> {
  const chunks: Buffer[] = []
  let bytesRead = 0
  let more = false
  for await (const chunk of body) {
    const room = limit - bytesRead
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room))
      bytesRead += room
      more = true
      break
    }
    chunks.push(chunk)
    bytesRead += chunk.length
    if (bytesRead === limit) {
      more = true
      break
    }
  }
  if (more) body.destroy()
  return { text: Buffer.concat(chunks).toString('utf8'), bytesRead, more }
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
