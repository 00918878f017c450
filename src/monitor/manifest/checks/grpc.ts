/** A `grpc`/`grpcs` check: a `grpc://host:port/service` url, or `host`, `port` (default the pod's `status_port`) and `service`; TLS for grpcs. */
import { type CheckInput, formatHost, type ManifestReader } from '../reader.js'
import type { GrpcCheckSpec } from '../types.js'

/** The keys of a grpc check, besides the ones every check has. */
export const GRPC_KEYS = ['url', 'host', 'port', 'service', 'tls', 'cert_expiry_warning']

export function readGrpcCheck(
  r: ManifestReader,
  { raw, path, type, common, statusPort, podHost }: CheckInput,
): GrpcCheckSpec {
  let host: string
  let port: number
  let service = ''
  let secure = type === 'grpcs'
  const url = r.str(raw, [...path, 'url'], false)
  if (url !== undefined) {
    const parsed = new URL(r.url(url, [...path, 'url'], ['grpc:', 'grpcs:']))
    host = parsed.hostname.replace(/^\[|\]$/g, '')
    port = Number(parsed.port)
    if (!port) r.fail([...path, 'url'], `needs a port, as in ${parsed.protocol}//orders.internal:50051`)
    if (type === 'grpc' && parsed.protocol === 'grpcs:') secure = true
    if (type === 'grpcs' && parsed.protocol === 'grpc:')
      r.fail([...path, 'url'], 'is grpc:// but the check type is grpcs; make them agree')
    service = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''))
  } else {
    if (raw.port === undefined && statusPort === undefined)
      r.fail(path, "a grpc check needs a `url` (grpc://host:port/service), or a `port` (or the pod's `status_port`)")
    port = raw.port !== undefined ? r.port(raw, [...path, 'port']) : (statusPort as number)
    host = r.host(raw, [...path, 'host']) ?? podHost
  }
  const named = r.str(raw, [...path, 'service'], false)
  if (named !== undefined) service = named
  if (raw.tls !== undefined && !secure)
    r.fail([...path, 'tls'], 'applies to grpcs checks; use type grpcs or a grpcs:// url')
  const address = `${formatHost(host)}:${port}`
  const spec: GrpcCheckSpec = {
    ...common,
    kind: 'grpc',
    host,
    port,
    service,
    target: `${secure ? 'grpcs' : 'grpc'}://${address}${service ? `/${service}` : ''}`,
  }
  if (secure) spec.tls = r.tls(raw, path)
  const warningDays = r.certExpiryWarning(raw, [...path, 'cert_expiry_warning'])
  if (warningDays !== undefined) {
    if (!secure) r.fail([...path, 'cert_expiry_warning'], 'applies to grpcs checks; use type grpcs or a grpcs:// url')
    spec.certExpiryWarningDays = warningDays
  }
  return spec
}
