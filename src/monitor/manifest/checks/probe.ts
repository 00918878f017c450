/** A check run by one of the library's typed probes: `redis://…`, `postgres://…` and the other schemes of `probekit check`. */
import { redactUrl } from '../../../core/redact.js'
import { mysql } from '../../../probes/mysql.js'
import { postgres } from '../../../probes/postgres.js'
import { redis } from '../../../probes/redis.js'
import { SCHEMES } from '../../../probes/url.js'
import type { CheckInput, ManifestReader } from '../reader.js'
import type { ProbeCheckSpec } from '../types.js'

/** Schemes run by the library's typed probes (the targets of `probekit check`, `mariadb` too). */
export const PROBE_SCHEMES: readonly string[] = SCHEMES.filter(
  (s) => !['http', 'https', 'tcp', 'grpc', 'grpcs'].includes(s),
)

/** The probes whose URLs say more than `ManifestReader.url` checks: made once at load to hear their objections. */
const VALIDATED: Record<string, (url: string) => unknown> = {
  postgres: (url) => postgres(url),
  postgresql: (url) => postgres(url),
  mysql: (url) => mysql(url),
  mariadb: (url) => mysql(url),
  redis: (url) => redis(url),
  rediss: (url) => redis(url),
}

/** The schemes a check `type` takes: its own, its TLS form and its other name (`type: postgres` takes postgresql://). */
const FAMILIES: Record<string, string[]> = {
  postgres: ['postgres', 'postgresql'],
  postgresql: ['postgres', 'postgresql'],
  mysql: ['mysql', 'mariadb'],
  mariadb: ['mysql', 'mariadb'],
  redis: ['redis', 'rediss'],
  rediss: ['redis', 'rediss'],
  amqp: ['amqp', 'amqps'],
  amqps: ['amqp', 'amqps'],
  mqtt: ['mqtt', 'mqtts'],
  mqtts: ['mqtt', 'mqtts'],
}

/** The keys of a probe check, besides the ones every check has. */
export const PROBE_KEYS = ['url', 'target']

export function readProbeCheck(r: ManifestReader, { raw, path, type, common }: CheckInput): ProbeCheckSpec {
  const value = r.str(raw, [...path, 'url'], false) ?? r.str(raw, [...path, 'target'], false)
  const keyOf = raw.url !== undefined ? 'url' : 'target'
  if (value === undefined)
    r.fail(path, `a ${type} check needs a \`url\`, as in ${type === 'probe' ? 'redis' : type}://host:port`)
  const schemes = type === 'probe' ? PROBE_SCHEMES.map((s) => `${s}:`) : (FAMILIES[type] ?? [type]).map((s) => `${s}:`)
  const url = r.url(value, [...path, keyOf], schemes)
  // What the probe itself refuses when it is made (a port parameter that is no number, two
  // hosts, a relative socket path) is a mistake of the manifest, said at load, not a
  // failure of every run.
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase()
  const make = VALIDATED[scheme]
  if (make) {
    try {
      make(url)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      r.fail([...path, keyOf], message.replace(/^[a-z]+: /, ''))
    }
  }
  return { ...common, kind: 'probe', url, target: redactUrl(url) }
}
