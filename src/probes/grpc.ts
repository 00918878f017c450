import { NotReady } from '../core/errors.js'
import { checkProbeOptions, describeArgument, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import { redactUrl } from '../core/redact.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { checkHealth, describeGrpcError, GrpcCallError, type GrpcEndpoint } from '../grpc/client.js'
import {
  CHECK_PATH,
  decodeCheckResponse,
  encodeCheckRequest,
  GrpcCode,
  ServingStatus,
  servingStatusName,
} from '../grpc/protocol.js'
import { timed, type UntimedDetails } from './timed.js'
import { TLS_OPTIONS, type TlsProbeOptions } from './tls-options.js'

/** The part of a `@grpc/grpc-js` Client this needs (any generated client, or `new grpc.Client(…)`). */
export interface GrpcClientLike {
  makeUnaryRequest(
    method: string,
    serialize: (value: string) => Buffer,
    deserialize: (bytes: Buffer) => { status: number },
    argument: string,
    options: { deadline?: Date },
    callback: (error: (Error & { code?: number; details?: string }) | null, value?: { status: number }) => void,
  ): { cancel(): void }
}

export interface GrpcProbeOptions extends ProbeOptions, TlsProbeOptions {
  /** Check name. Default `grpc`. */
  name?: string
  /** The service to ask about. Default: the URL's path without its `/`, else `""` (the whole server). */
  service?: string
}

const GRPC_OPTION_KEYS = optionKeys<GrpcProbeOptions>()({ name: true, service: true, ...PROBE_OPTIONS, ...TLS_OPTIONS })

/**
 * Passes when another service's `grpc.health.v1.Health/Check` answers `SERVING`, so one
 * service can depend on another's health. The target is a URL (`grpc://host:port[/service]`,
 * `grpcs://…` for TLS) checked over one short HTTP/2 connection, or an app's own
 * `@grpc/grpc-js` client, whose channel is reused.
 *
 * @example
 * health.add(grpc('grpc://payments:50051/payments.v1.Payments', { name: 'payments' }))
 * health.add(grpc(paymentsClient, { service: 'payments.v1.Payments', critical: false }))
 */
export function grpc(target: string | URL | GrpcClientLike, options: GrpcProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('grpc', target, 'client'), options, GRPC_OPTION_KEYS)
  const { name = 'grpc', service: serviceOption, ca, insecure, ...probeOptions } = options
  if (target && typeof target === 'object' && !(target instanceof URL)) {
    if (typeof (target as GrpcClientLike).makeUnaryRequest !== 'function') {
      throw new TypeError('grpc(client): expected a grpc:// URL or a @grpc/grpc-js client')
    }
    const client = target as GrpcClientLike
    const service = serviceOption ?? ''
    return {
      componentType: 'component',
      ...probeOptions,
      name,
      check: ({ signal }) =>
        timed(async () => {
          const status = await callWithClient(client, service, signal, probeOptions.timeout)
          return verdict(status, `grpc service ${JSON.stringify(service)}`)
        }),
    }
  }
  if (typeof target !== 'string' && !(target instanceof URL))
    throw new TypeError(`grpc: expected a grpc:// URL or a @grpc/grpc-js client, got ${describeArgument(target)}`)
  const endpoint = parseGrpcTarget(target)
  if (ca !== undefined) endpoint.ca = ca
  if (insecure !== undefined) endpoint.insecure = insecure
  const service = serviceOption ?? endpoint.service
  const address = endpoint.host.includes(':')
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`
  const what = `grpc ${address}${service ? ` service ${JSON.stringify(service)}` : ''}`
  return {
    componentType: 'component',
    ...probeOptions,
    name,
    check: ({ signal }) =>
      timed(async () => {
        let status: number
        try {
          const callOptions: { signal: AbortSignal; timeoutMs?: number } = { signal }
          if (probeOptions.timeout !== undefined) callOptions.timeoutMs = probeOptions.timeout
          status = await checkHealth(endpoint, service, callOptions)
        } catch (error) {
          if (signal.aborted) throw error
          if (error instanceof GrpcCallError) throw new NotReady(`${what}: ${describeGrpcError(error, service)}`)
          throw error
        }
        return { ...verdict(status, what), componentId: address }
      }),
  }
}

/** A parsed `grpc://` / `grpcs://` target. */
export interface GrpcTarget extends GrpcEndpoint {
  service: string
}

/** Parses `grpc://host:port[/service]` or `grpcs://…`; throws one sentence naming the fix. */
export function parseGrpcTarget(target: string | URL): GrpcTarget {
  const shown = redactUrl(typeof target === 'string' ? target : target.href)
  let url: URL
  try {
    url = typeof target === 'string' ? new URL(target) : target
  } catch {
    throw new TypeError(`grpc: ${JSON.stringify(shown)} is not a URL; write grpc://host:port[/service]`)
  }
  const scheme = url.protocol.slice(0, -1)
  if (scheme !== 'grpc' && scheme !== 'grpcs') {
    throw new TypeError(`grpc: ${JSON.stringify(shown)} is not a grpc:// or grpcs:// URL`)
  }
  if (!url.hostname) throw new TypeError(`grpc: ${JSON.stringify(shown)} names no host; write ${scheme}://host:port`)
  if (!url.port) {
    throw new TypeError(
      `grpc: ${JSON.stringify(shown)} names no port; write ${scheme}://host:port (gRPC has no default port)`,
    )
  }
  const path = url.pathname.replace(/^\/+|\/+$/g, '')
  let service: string
  try {
    service = decodeURIComponent(path)
  } catch {
    throw new TypeError(`grpc: the service in ${JSON.stringify(shown)} is not valid percent-encoding`)
  }
  if (service.includes('/')) {
    throw new TypeError(
      `grpc: ${JSON.stringify(shown)} has more than one path segment; write ${scheme}://host:port/service`,
    )
  }
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port),
    tls: scheme === 'grpcs',
    service,
  }
}

function verdict(status: number, what: string): UntimedDetails {
  if (status !== ServingStatus.SERVING) throw new NotReady(`${what}: ${servingStatusName(status)}`)
  return { message: 'SERVING' }
}

function callWithClient(
  client: GrpcClientLike,
  service: string,
  signal: AbortSignal,
  timeoutMs: number | undefined,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    let done = false
    const options: { deadline?: Date } = {}
    if (timeoutMs !== undefined) options.deadline = new Date(Date.now() + timeoutMs)
    const call = client.makeUnaryRequest(
      CHECK_PATH,
      (value) => encodeCheckRequest(value),
      (bytes) => decodeCheckResponse(bytes),
      service,
      options,
      (error, value) => {
        if (done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        if (error) {
          const code = typeof error.code === 'number' ? error.code : GrpcCode.UNKNOWN
          const cause = new GrpcCallError(code, error.details || error.message)
          reject(new NotReady(`grpc service ${JSON.stringify(service)}: ${describeGrpcError(cause, service)}`))
        } else resolve(value?.status ?? ServingStatus.UNKNOWN)
      },
    )
    const onAbort = (): void => {
      if (done) return
      done = true
      call.cancel()
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
