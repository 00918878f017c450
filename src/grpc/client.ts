/**
 * A minimal `grpc.health.v1.Health/Check` client over `node:http2`: one unary call, no
 * dependency. The CLI checks `grpc://` targets with it, so `probekit check` loads no gRPC
 * library; the probe and the monitor use it for URL targets too.
 */
import { type ClientHttp2Session, connect, type IncomingHttpHeaders, type SecureClientSessionOptions } from 'node:http2'
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { cutShort, jsonSafe } from '../core/inert.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { describeNetworkError, errorCode } from '../probes/network-error.js'
import {
  CHECK_PATH,
  decodeCheckResponse,
  encodeCheckRequest,
  frame,
  GrpcCode,
  grpcCodeName,
  ProtocolError,
  servingStatusName,
} from './protocol.js'

export interface GrpcEndpoint {
  host: string
  port: number
  /** TLS (`grpcs://`). */
  tls?: boolean
  /** TLS: extra trusted CA certificates (PEM). */
  ca?: string | Buffer | readonly (string | Buffer)[]
  /** TLS: accept any server certificate. */
  insecure?: boolean
  /** TLS: client certificate and key (PEM), for servers that ask for one. */
  cert?: string | Buffer
  key?: string | Buffer
  /** TLS: the name to verify the certificate against. Default: the host. */
  servername?: string
}

/** How `checkHealth` makes its call. */
export interface CheckHealthOptions {
  /** Ends the call (and its connection) when it fires. */
  signal: AbortSignal
  /** The call's gRPC deadline (`grpc-timeout`), in ms. */
  timeoutMs?: number
  /** TLS: handed the socket once its handshake succeeded, to read the server's certificates. */
  onSecureConnect?: (socket: TLSSocket) => void
}

const CHECK_HEALTH_OPTION_KEYS = optionKeys<CheckHealthOptions>()({
  signal: true,
  timeoutMs: true,
  onSecureConnect: true,
})

/** A call that ended with a gRPC status other than OK, or never reached one. */
export class GrpcCallError extends Error {
  override name = 'GrpcCallError'
  constructor(
    /** The gRPC status code (`GrpcCode`). */
    readonly code: number,
    message: string,
    /** The transport's own error (a refused connect, a TLS verification error), when there was one. */
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The largest response kept; a health response is a few bytes. */
const MAX_RESPONSE_BYTES = 64 * 1024

/**
 * Calls `Check` for `service` and resolves with the serving status number
 * (`ServingStatus`). Rejects with `GrpcCallError` for a gRPC error status or a transport
 * failure, and with `signal.reason` at abort, after closing the connection.
 * `onSecureConnect` (TLS) is handed the socket once its handshake succeeded, to read the
 * server's certificates.
 */
export function checkHealth(endpoint: GrpcEndpoint, service: string, options: CheckHealthOptions): Promise<number> {
  rejectUnknownKeys('checkHealth', options, CHECK_HEALTH_OPTION_KEYS)
  const { signal } = options
  return new Promise<number>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host
    const authority = `${endpoint.tls ? 'https' : 'http'}://${host}:${endpoint.port}`
    const tlsOptions: SecureClientSessionOptions = {}
    if (endpoint.tls) {
      if (endpoint.ca !== undefined) tlsOptions.ca = endpoint.ca as string | Buffer | (string | Buffer)[]
      if (endpoint.insecure) tlsOptions.rejectUnauthorized = false
      if (endpoint.cert !== undefined) tlsOptions.cert = endpoint.cert
      if (endpoint.key !== undefined) tlsOptions.key = endpoint.key
      if (endpoint.servername !== undefined) tlsOptions.servername = endpoint.servername
    }
    let session: ClientHttp2Session
    let socket: Socket | undefined
    let settled = false
    const finish = (error: unknown, status?: number): void => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) resolve(status as number)
      else reject(error)
      // In the next turn of the event loop: the answer does not wait for the teardown, and
      // `probekit check`, which exits once it has printed the verdict, skips it (destroying
      // a session and its socket cost it ~0.7 ms). Events until then find the call settled.
      setImmediate(release)
    }
    const release = (): void => {
      // destroy, not close: a server that stopped answering would hold a graceful close open.
      // The socket too: a session destroyed while its socket still connects leaves it behind.
      session.destroy()
      socket?.destroy()
    }
    const onAbort = (): void => finish(signal.reason)
    try {
      session = connect(authority, {
        ...tlsOptions,
        createConnection: () => {
          if (endpoint.tls) {
            const tlsSocket = tlsConnect({
              host: endpoint.host,
              port: endpoint.port,
              ALPNProtocols: ['h2'],
              ...tlsSni(endpoint),
              ...tlsOptions,
            })
            const { onSecureConnect } = options
            if (onSecureConnect) tlsSocket.once('secureConnect', () => onSecureConnect(tlsSocket))
            socket = tlsSocket
          } else socket = netConnect({ host: endpoint.host, port: endpoint.port })
          return socket
        },
      })
    } catch (error) {
      return reject(new GrpcCallError(GrpcCode.UNAVAILABLE, describeNetworkError(error)))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    session.on('error', (error) =>
      finish(new GrpcCallError(GrpcCode.UNAVAILABLE, describeTransportError(error, endpoint.tls), { cause: error })),
    )

    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'probekit',
    }
    if (options.timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(options.timeoutMs))}m`
    const request = session.request(headers)
    // A graceful GOAWAY that covers the call (a server's max connection age, a proxy serving
    // one call per connection, grpc-js's tryShutdown) still lets it finish: the answer
    // follows. Only one that leaves the call out, or ends with an error, ends it here.
    session.on('goaway', (errorCode: number, lastStreamID: number) => {
      const covered = errorCode === NGHTTP2_NO_ERROR && request.id !== undefined && request.id <= lastStreamID
      if (!covered) finish(new GrpcCallError(GrpcCode.UNAVAILABLE, 'the server closed the connection'))
    })
    let response: IncomingHttpHeaders | undefined
    let trailers: IncomingHttpHeaders | undefined
    const chunks: Buffer[] = []
    let size = 0
    request.on('response', (h) => {
      response = h
    })
    request.on('trailers', (h) => {
      trailers = h
    })
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_RESPONSE_BYTES) {
        finish(
          new GrpcCallError(GrpcCode.RESOURCE_EXHAUSTED, `the response is larger than ${MAX_RESPONSE_BYTES} bytes`),
        )
        return
      }
      chunks.push(chunk)
    })
    request.on('error', (error) =>
      finish(new GrpcCallError(GrpcCode.UNAVAILABLE, describeTransportError(error, endpoint.tls), { cause: error })),
    )
    request.on('end', () => {
      // A TLS-only port ends the session at the first byte of a plain one: no answer at all.
      if (!response && !endpoint.tls)
        return finish(new GrpcCallError(GrpcCode.UNAVAILABLE, `${NO_ANSWER}; if the port takes TLS, write grpcs://`))
      try {
        finish(undefined, readResponse(response, trailers, Buffer.concat(chunks)))
      } catch (error) {
        finish(error)
      }
    })
    request.end(frame(encodeCheckRequest(service)))
  })
}

const NO_ANSWER = 'the server closed the stream without answering'
const NGHTTP2_NO_ERROR = 0

/** SNI carries a host name, never an IP address (RFC 6066). */
function tlsSni(endpoint: GrpcEndpoint): { servername?: string } {
  const name = endpoint.servername ?? endpoint.host
  return isIP(name) ? {} : { servername: name }
}

/**
 * http2 wraps the socket's error (a refused connect) in a stream error: the cause says more.
 * What says "this port is not gRPC" is put in words: nghttp2's "Protocol error" when the
 * server answered the HTTP/2 preface with something else (an HTTP/1.1 server, an SSH
 * banner), a TLS server that offers no HTTP/2 (ALPN), and a plain connection a TLS-only
 * port hung up on.
 */
function describeTransportError(error: unknown, tls: boolean | undefined): string {
  const cause = (error as { cause?: unknown }).cause ?? error
  const code = errorCode(cause)
  const words = describeNetworkError(cause)
  if (code === 'ERR_HTTP2_ERROR' && /protocol error/i.test(String((cause as Error).message)))
    return `the server does not speak HTTP/2, as a gRPC server does: it answered with something else (${code})`
  if (code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL')
    return `the server offers no HTTP/2 over TLS (ALPN "h2"), as a gRPC server does (${code})`
  if (!tls && (code === 'ECONNRESET' || code === 'EPIPE')) return `${words}; if the port takes TLS, write grpcs://`
  return words
}

/** The serving status from a finished call, or the `GrpcCallError` it ended with. */
function readResponse(
  response: IncomingHttpHeaders | undefined,
  trailers: IncomingHttpHeaders | undefined,
  body: Buffer,
): number {
  if (!response) throw new GrpcCallError(GrpcCode.UNAVAILABLE, NO_ANSWER)
  const httpStatus = Number(response[':status'])
  // A trailers-only response carries grpc-status in its headers.
  const grpcStatus = header(trailers, 'grpc-status') ?? header(response, 'grpc-status')
  if (grpcStatus === undefined) {
    if (httpStatus !== 200) throw new GrpcCallError(codeForHttpStatus(httpStatus), `HTTP status ${httpStatus}`)
    throw new GrpcCallError(GrpcCode.INTERNAL, 'the response has no grpc-status; is this a gRPC server?')
  }
  // A status is a decimal number (gRPC over HTTP/2); anything else is UNKNOWN, as grpc-js
  // reads it, never a NaN that would print as a code.
  if (!/^\d{1,3}$/.test(grpcStatus.trim()))
    throw new GrpcCallError(
      GrpcCode.UNKNOWN,
      `the server sent grpc-status ${jsonSafe(JSON.stringify(cutShort(grpcStatus, 40)))}, which is not a status code`,
    )
  const code = Number(grpcStatus)
  if (code !== GrpcCode.OK) {
    const message = header(trailers, 'grpc-message') ?? header(response, 'grpc-message')
    throw new GrpcCallError(code, message ? decodeMessage(message) : grpcCodeName(code))
  }
  if (body.length < 5) throw new GrpcCallError(GrpcCode.INTERNAL, 'the response has no message')
  if (body[0] !== 0) throw new GrpcCallError(GrpcCode.INTERNAL, 'the response is compressed, which was not asked for')
  const length = body.readUInt32BE(1)
  if (body.length < 5 + length) throw new GrpcCallError(GrpcCode.INTERNAL, 'the response message is cut short')
  try {
    return decodeCheckResponse(body.subarray(5, 5 + length)).status
  } catch (error) {
    // A GrpcCallError, so the probe's line names the target before the protobuf's words.
    if (error instanceof ProtocolError)
      throw new GrpcCallError(GrpcCode.INTERNAL, `the response is not a HealthCheckResponse: ${error.message}`)
    throw error
  }
}

function header(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name]
  return Array.isArray(value) ? value[0] : value
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The gRPC spec's mapping of HTTP statuses from a non-gRPC answer. */
function codeForHttpStatus(status: number): number {
  if (status === 400) return GrpcCode.INTERNAL
  if (status === 401) return GrpcCode.UNAUTHENTICATED
  if (status === 403) return GrpcCode.PERMISSION_DENIED
  if (status === 404) return GrpcCode.UNIMPLEMENTED
  if (status === 429 || status === 502 || status === 503 || status === 504) return GrpcCode.UNAVAILABLE
  return GrpcCode.UNKNOWN
}

/** One readable line for a failed call: what the code means here, then the server's words. */
export function describeGrpcError(error: GrpcCallError, service: string): string {
  const name = grpcCodeName(error.code)
  if (error.code === GrpcCode.UNIMPLEMENTED) return `the server has no health service (UNIMPLEMENTED)`
  if (error.code === GrpcCode.NOT_FOUND)
    return service === ''
      ? 'the server has no overall health status (NOT_FOUND)'
      : 'the server does not know this service (NOT_FOUND)'
  if (error.message === name) return name
  return `${name}: ${error.message}`
}

export { servingStatusName }
