/** A check run by one of the library's typed probes: `redis://…`, `postgres://…` and the other schemes of `probekit check`. */
import { redactUrl } from '../../../core/redact.js'
import { SCHEMES } from '../../../probes/url.js'
import type { CheckInput, ManifestReader } from '../reader.js'
import type { ProbeCheckSpec } from '../types.js'

/** Schemes run by the library's typed probes (the targets of `probekit check`, `mariadb` too). */
export const PROBE_SCHEMES: readonly string[] = SCHEMES.filter(
  (s) => !['http', 'https', 'tcp', 'grpc', 'grpcs'].includes(s),
)

/** The keys of a probe check, besides the ones every check has. */
export const PROBE_KEYS = ['url', 'target']

export function readProbeCheck(r: ManifestReader, { raw, path, type, common }: CheckInput): ProbeCheckSpec {
  const value = r.str(raw, [...path, 'url'], false) ?? r.str(raw, [...path, 'target'], false)
  const keyOf = raw.url !== undefined ? 'url' : 'target'
  if (value === undefined)
    r.fail(path, `a ${type} check needs a \`url\`, as in ${type === 'probe' ? 'redis' : type}://host:port`)
  const schemes = type === 'probe' ? PROBE_SCHEMES.map((s) => `${s}:`) : [`${type}:`]
  const url = r.url(value, [...path, keyOf], schemes)
  return { ...common, kind: 'probe', url, target: redactUrl(url) }
}
