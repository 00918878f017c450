/** An `http`/`https` check: a `url`, or `scheme`, `host`, `port` (default the pod's `status_port`) and `path`; method, headers, expected statuses, TLS. */
import { redactUrl } from '../../../core/redact.js'
import { type CheckInput, formatHost, type ManifestReader } from '../reader.js'
import type { HttpCheckSpec } from '../types.js'

/** The keys of a http check, besides the ones every check has. */
export const HTTP_KEYS = [
  'url',
  'scheme',
  'host',
  'port',
  'path',
  'method',
  'headers',
  'expect_status',
  'tls',
  'cert_expiry_warning',
]

export function readHttpCheck(
  r: ManifestReader,
  { raw, path, type, common, statusPort, podHost }: CheckInput,
): HttpCheckSpec {
  let url = r.str(raw, [...path, 'url'], false)
  if (url === undefined) {
    const scheme = (r.str(raw, [...path, 'scheme'], false) ?? (type === 'https' ? 'https' : 'http')).toLowerCase()
    if (scheme !== 'http' && scheme !== 'https') r.fail([...path, 'scheme'], 'must be http or https')
    const port = raw.port !== undefined ? r.port(raw, [...path, 'port']) : statusPort
    if (port === undefined)
      r.fail(path, "an http check needs a `url`, or a `port` (or the pod's `status_port`) and a `path`")
    let p = r.str(raw, [...path, 'path'], false) ?? '/'
    if (!p.startsWith('/')) p = `/${p}`
    const host = r.host(raw, [...path, 'host']) ?? podHost
    url = `${scheme}://${formatHost(host)}:${port}${p}`
  } else {
    url = r.url(url, [...path, 'url'], ['http:', 'https:'])
    if (type === 'https' && url.startsWith('http:'))
      r.fail([...path, 'url'], 'is http:// but the check type is https; make them agree')
  }
  const written = r.str(raw, [...path, 'method'], false) ?? 'GET'
  const method = written.toUpperCase()
  if (!/^[A-Z]+$/.test(method)) r.fail([...path, 'method'], `"${written}" is not an HTTP method`)
  const spec: HttpCheckSpec = {
    ...common,
    kind: 'http',
    url,
    target: redactUrl(url),
    method,
    headers: r.headers(raw, [...path, 'headers']),
    ...r.expectStatus(raw, [...path, 'expect_status']),
    tls: r.tls(raw, path),
  }
  const warningDays = r.certExpiryWarning(raw, [...path, 'cert_expiry_warning'])
  if (warningDays !== undefined) {
    if (!url.startsWith('https:'))
      r.fail([...path, 'cert_expiry_warning'], 'applies to https checks; this one is plain http')
    spec.certExpiryWarningDays = warningDays
  }
  return spec
}
