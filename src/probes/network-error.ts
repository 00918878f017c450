/**
 * Turns the errors that sockets, TLS, resolvers and undici throw into one readable reason,
 * so every network probe, the monitor's checks and its etcd client say "connection refused"
 * the same way. Internal to probekit.
 */
import { lineSafe } from '../core/inert.js'

const codes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EAI_NONAME: 'host not found',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed certificate in the chain)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate not trusted (unknown issuer)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS',
  UND_ERR_SOCKET: 'connection closed by the server',
}

/** An excerpt of what a peer sent, control and non-ASCII bytes as dots: one safe line. */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '.')
}

/** undici's and AbortSignal.timeout()'s ways of saying a request's own time limit passed. */
const ANSWER_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** The error's code, looking inside AggregateError (dual-stack connects) and `cause`. */
export function errorCode(error: unknown): string | undefined {
  if (!error || typeof error !== 'object') return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') return code
  if (error instanceof AggregateError) for (const inner of error.errors) if (errorCode(inner)) return errorCode(inner)
  const cause = (error as { cause?: unknown }).cause
  return cause ? errorCode(cause) : undefined
}

/**
 * One line: a plain-words reason plus the code, e.g. `connection refused (ECONNREFUSED)`.
 * `timeoutMs` is the time limit of a request that enforces its own (an HTTP client's): its
 * timeouts then read `no answer within N ms` or `could not connect within N ms`.
 */
export function describeNetworkError(error: unknown, timeoutMs?: number): string {
  const code = errorCode(error)
  if (timeoutMs !== undefined) {
    const name = error instanceof Error ? error.name : undefined
    if (name === 'TimeoutError' || (code && ANSWER_TIMEOUTS.has(code))) return `no answer within ${timeoutMs} ms`
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return `could not connect within ${timeoutMs} ms`
    if (name === 'AbortError' && !code) return 'the request was cancelled'
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return hostNameMismatch(error)
  const words = code ? codes[code] : undefined
  if (words) return `${words} (${code})`
  const message = error instanceof Error ? error.message : String(error)
  const tls = openSslReason(message, code)
  if (tls) return tls
  if (message) return code && !message.includes(code) ? `${message} (${code})` : message
  return code ?? 'failed'
}

/**
 * OpenSSL's own reason in a message such as node:https gives for a TLS failure (`write
 * EPROTO 40BD…:error:0A00010B:SSL routines:tls_validate_record_header:wrong version
 * number:../deps/openssl/…/tlsany_meth.c:77:`), in words: the library's internals (the
 * address, the function, its source file) tell a user nothing.
 */
export function openSslReason(message: string, code: string | undefined): string | undefined {
  const reason = /error:[0-9A-Fa-f]+:[^:\n]*:[^:\n]*:([^:\n]+):/.exec(message)?.[1]?.trim()
  if (!reason) return undefined
  const suffix = code ? ` (${code})` : ''
  // A plain-text server answering the TLS hello: its first bytes read as no TLS record.
  if (/wrong version number|packet length too long|http request|record layer failure/i.test(reason))
    return `the server does not speak TLS${suffix}`
  if (/protocol version|unsupported protocol/i.test(reason))
    return `the server and probekit share no TLS version (${lineSafe(reason)})${suffix}`
  return `TLS failed: ${lineSafe(reason)}${suffix}`
}

/** Names a certificate holds, shown at most this many. */
const SHOWN_NAMES = 4

/**
 * `TLS certificate does not match the host name localhost: it is for DNS:example.com,
 * DNS:www.example.com (ERR_TLS_CERT_ALTNAME_INVALID)`: what the certificate names is the
 * fix (connect by one of them), not trusting its CA.
 */
function hostNameMismatch(error: unknown): string {
  const code = 'ERR_TLS_CERT_ALTNAME_INVALID'
  const e = (error && typeof error === 'object' ? error : {}) as {
    host?: unknown
    cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } }
    cause?: unknown
  }
  if (e.host === undefined && e.cause) return hostNameMismatch(e.cause)
  const host = typeof e.host === 'string' ? ` ${lineSafe(e.host.slice(0, 255))}` : ''
  const altNames = typeof e.cert?.subjectaltname === 'string' ? e.cert.subjectaltname.split(/,\s*/) : []
  const names =
    altNames.length > 0 ? altNames : typeof e.cert?.subject?.CN === 'string' ? [`CN=${e.cert.subject.CN}`] : []
  const shown = names.slice(0, SHOWN_NAMES).map((n) => lineSafe(n.slice(0, 100)))
  const more = names.length > SHOWN_NAMES ? ` and ${names.length - SHOWN_NAMES} more` : ''
  const holds = shown.length > 0 ? `: it is for ${shown.join(', ')}${more}` : ''
  return `TLS certificate does not match the host name${host}${holds} (${code})`
}

/** Whether the error says the peer is not who it claims to be, so the fix is `ca` or `insecure`. */
export function isTlsTrustError(error: unknown): boolean {
  const code = errorCode(error) ?? ''
  return /CERT|SELF_SIGNED|UNABLE_TO/.test(code) && !isTlsNameError(error)
}

/** Whether the certificate is trusted but made out for other names than the one connected to. */
export function isTlsNameError(error: unknown): boolean {
  return errorCode(error) === 'ERR_TLS_CERT_ALTNAME_INVALID'
}

/** A Unix-domain socket's connect error in words: most often, no server has made the socket. */
export function describeSocketError(error: unknown, path: string): string {
  const code = errorCode(error)
  if (code === 'ENOENT') return `no socket at ${lineSafe(path)}: is the server running, with its socket there? (ENOENT)`
  if (code === 'ECONNREFUSED') return `connection refused at ${lineSafe(path)}: no server listens on it (ECONNREFUSED)`
  if (code === 'EACCES') return `permission denied at ${lineSafe(path)} (EACCES)`
  if (code === 'ENOTSOCK') return `${lineSafe(path)} is not a socket (ENOTSOCK)`
  if (code === 'ENOTDIR') return `no socket at ${lineSafe(path)}: a part of its path is not a directory (ENOTDIR)`
  return describeNetworkError(error)
}

/**
 * What is wrong with a URL's `socket=` value (mysql://, redis://), said after the URL:
 * ` has socket="rel.sock"; write the socket's absolute path, e.g. socket=EXAMPLE`, or
 * `: the socket path … is 132 bytes, …`; undefined for an absolute path that fits.
 */
export function socketParamProblem(path: string, example: string): string | undefined {
  if (!path.startsWith('/'))
    return ` has socket=${JSON.stringify(path.slice(0, 100))}; write the socket's absolute path, e.g. socket=${example}`
  const tooLong = socketPathProblem(path)
  return tooLong && `: ${tooLong}`
}

/**
 * Why a Unix-domain socket path cannot be connected to, before trying: longer than a socket
 * address holds (107 bytes on Linux, 103 on macOS; the kernel would say only ENOENT or cut
 * it short). Undefined when it fits.
 */
export function socketPathProblem(path: string): string | undefined {
  const limit = process.platform === 'darwin' ? 103 : 107
  const bytes = Buffer.byteLength(path)
  if (bytes <= limit) return undefined
  return `the socket path ${lineSafe(path)} is ${bytes} bytes, more than a Unix socket address holds (${limit}); use a shorter directory, or a symbolic link to it`
}
