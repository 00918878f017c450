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
  const words = code ? codes[code] : undefined
  if (words) return `${words} (${code})`
  const message = error instanceof Error ? error.message : String(error)
  if (message) return code && !message.includes(code) ? `${message} (${code})` : message
  return code ?? 'failed'
}

/** Whether the error says the peer is not who it claims to be, so the fix is `ca` or `insecure`. */
export function isTlsTrustError(error: unknown): boolean {
  const code = errorCode(error) ?? ''
  return /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME/.test(code)
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
