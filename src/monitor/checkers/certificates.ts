/**
 * The certificates a TLS check saw, and the verdict on their dates: https and grpcs checks
 * warn `cert_expiry_warning` days before the earliest certificate of the chain expires and
 * are critical while one is expired or not yet valid — whatever the check's TLS settings
 * accept (`insecure`, a private CA). The earliest-expiring certificate is also what the
 * state records (`sslEarliestExpiry`, `sslSubject`) and what `probe_ssl_earliest_cert_expiry`
 * reports.
 */
import { type ConnectionOptions, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { lineSafe } from '../../core/inert.js'
import { worse } from '../../core/status.js'
import type { Status } from '../../core/types.js'
import { type CheckerResult, keepTail, MAX_OUTPUT_BYTES } from './checker.js'

/** Days before a certificate's expiry from which its check warns, unless the manifest says otherwise. */
export const DEFAULT_CERT_EXPIRY_WARNING_DAYS = 14

/**
 * Room an HTTPS check's own output leaves for the certificate verdict's line, so that both
 * fit in the kept 4 KB (a line is well under this: the subject is cut at `MAX_SUBJECT`).
 */
export const CERTIFICATE_LINE_ROOM = 384

const MAX_SUBJECT = 200
const DAY_MS = 86_400_000

/** One certificate of a peer's chain: who it names and when it is valid (Unix ms). */
export interface ChainCertificate {
  /** `CN=api.example`, or the whole subject (`O=Example, OU=Ops`) when it has no common name. */
  subject: string
  notBefore: number
  notAfter: number
}

/**
 * The certificates the server sent. Node's peer chain also holds the self-signed root that
 * completed it from the local trust store; that root is ours, not the server's, so it is
 * left out (unless the server's own certificate is self-signed), as the blackbox exporter
 * does.
 */
export function peerCertificates(socket: TLSSocket): ChainCertificate[] {
  let cert = socket.getPeerCertificate(true) as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | null
  const chain: ChainCertificate[] = []
  const seen = new Set<unknown>()
  while (cert && Object.keys(cert).length > 0 && !seen.has(cert)) {
    const issuer = (cert.issuerCertificate ?? null) as typeof cert
    const trustedRoot = seen.size > 0 && issuer === cert
    seen.add(cert)
    const notBefore = Date.parse(cert.valid_from)
    const notAfter = Date.parse(cert.valid_to)
    if (!trustedRoot && Number.isFinite(notBefore) && Number.isFinite(notAfter))
      chain.push({ subject: subjectOf(cert), notBefore, notAfter })
    cert = issuer
  }
  return chain
}

/** The common name alone when there is one (it names the certificate); else the whole subject. */
function subjectOf(cert: PeerCertificate): string {
  const subject = (cert.subject ?? {}) as unknown as Record<string, string | string[]>
  const value = (v: string | string[]) => (Array.isArray(v) ? v.join('+') : v)
  const cn = subject.CN
  let text =
    cn !== undefined
      ? `CN=${value(cn)}`
      : Object.entries(subject)
          .map(([k, v]) => `${k}=${value(v)}`)
          .join(', ')
  if (!text) text = cert.serialNumber ? `serial ${cert.serialNumber}` : 'with an empty subject'
  // The subject is the target's word: shown inert, and short.
  text = lineSafe(text)
  return text.length > MAX_SUBJECT ? `${text.slice(0, MAX_SUBJECT)}…` : text
}

/** The certificate of the chain that expires first. */
export function earliestExpiring(chain: readonly ChainCertificate[]): ChainCertificate | undefined {
  let earliest: ChainCertificate | undefined
  for (const cert of chain) if (!earliest || cert.notAfter < earliest.notAfter) earliest = cert
  return earliest
}

/** What the dates of a chain say now: nothing while they are fine, else a status and one line. */
export function certificateVerdict(
  chain: readonly ChainCertificate[],
  warningDays: number,
  now = Date.now(),
): { status: Status; line: string } | undefined {
  const expired = chain.filter((c) => c.notAfter <= now).sort((a, b) => a.notAfter - b.notAfter)[0]
  if (expired)
    return {
      status: 'fail',
      line: `certificate ${expired.subject} expired on ${isoSeconds(expired.notAfter)} (${span(now - expired.notAfter)} ago)`,
    }
  const early = chain.find((c) => c.notBefore > now)
  if (early)
    return {
      status: 'fail',
      line: `certificate ${early.subject} is not valid yet: not before ${isoSeconds(early.notBefore)} (in ${span(early.notBefore - now)})`,
    }
  const earliest = earliestExpiring(chain)
  if (earliest && warningDays > 0 && earliest.notAfter - now <= warningDays * DAY_MS)
    return {
      status: 'warn',
      line: `certificate ${earliest.subject} expires in ${span(earliest.notAfter - now)} (${isoSeconds(earliest.notAfter)})`,
    }
  return undefined
}

/**
 * A check's result with what its certificates say: the earliest expiry and its subject as
 * facts, and — when the dates are not fine — the worse of the two statuses, with both
 * reasons in the output. The worse reason leads (its first line is what logs and alert
 * summaries show); on a tie the check's own comes first.
 */
export function withCertificateVerdict(
  result: CheckerResult,
  chain: readonly ChainCertificate[] | undefined,
  warningDays: number,
  now = Date.now(),
): CheckerResult {
  const earliest = chain ? earliestExpiring(chain) : undefined
  if (!chain || !earliest) return result
  const facts = {
    ...result.facts,
    sslEarliestExpiry: earliest.notAfter / 1000,
    sslSubject: earliest.subject,
    sslWarningDays: warningDays,
  }
  const verdict = certificateVerdict(chain, warningDays, now)
  if (!verdict) return { ...result, facts }
  const status = worse(result.status, verdict.status)
  const own = result.output
  const leads = verdict.status !== result.status && status === verdict.status
  const room = MAX_OUTPUT_BYTES - Buffer.byteLength(verdict.line) - 1
  const kept = Buffer.byteLength(own) > room ? keepTail(own, room) : own
  const output = leads ? `${verdict.line}\n${kept}` : `${kept}\n${verdict.line}`
  return { ...result, status, output, facts }
}

/** Whether a TLS handshake was refused for a certificate's dates (so fetching the chain can say which). */
export function isCertificateDateError(error: unknown): boolean {
  // Clients wrap the socket's error (http2 in a session error, gRPC in a GrpcCallError): look along the causes.
  let cause = error
  for (let depth = 0; depth < 5 && cause && typeof cause === 'object'; depth++) {
    const code = (cause as { code?: unknown }).code
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return true
    cause = (cause as { cause?: unknown }).cause
  }
  return false
}

/**
 * The chain a server sends, from one handshake that accepts any certificate and sends no
 * request: only called after verification refused the server's certificate for its dates,
 * to say which certificate and when. Ends with `signal` (the check's deadline).
 */
export function fetchPeerCertificates(options: ConnectionOptions, signal: AbortSignal): Promise<ChainCertificate[]> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const socket = tlsConnect({ ...options, rejectUnauthorized: false })
    const done = (error: unknown, chain?: ChainCertificate[]) => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      if (chain) resolve(chain)
      else reject(error)
    }
    const onAbort = () => done(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('secureConnect', () => done(undefined, peerCertificates(socket)))
    socket.once('error', (error) => done(error))
  })
}

/** `2026-12-07T10:00:00Z`: certificates have no milliseconds. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z')
}

/** `3 days`, `1 day`, `5 hours`, `12 minutes`: the nearest whole unit. */
function span(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  if (ms >= DAY_MS) return unit(Math.round(ms / DAY_MS), 'day')
  if (ms >= 3_600_000) return unit(Math.round(ms / 3_600_000), 'hour')
  return unit(Math.max(1, Math.round(ms / 60_000)), 'minute')
}
