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

/** Schemes that name the same check: a check `type` takes each of its family (`type: postgres` takes postgresql://). */
const FAMILIES: readonly (readonly string[])[] = [
  ['postgres', 'postgresql'],
  ['mysql', 'mariadb'],
  ['redis', 'rediss'],
  ['amqp', 'amqps'],
  ['mqtt', 'mqtts'],
]

function familyOf(scheme: string): readonly string[] {
  return FAMILIES.find((family) => family.includes(scheme)) ?? [scheme]
}

/**
 * The probes whose URLs say more than `ManifestReader.url` checks, by the first scheme of
 * their family: made once at load to hear their objections.
 */
const VALIDATED: Record<string, (url: string) => unknown> = { postgres, mysql, redis }

/** The keys of a probe check, besides the ones every check has. */
export const PROBE_KEYS = ['url', 'target']

export function readProbeCheck(r: ManifestReader, { raw, path, type, common }: CheckInput): ProbeCheckSpec {
  const value = r.str(raw, [...path, 'url'], false) ?? r.str(raw, [...path, 'target'], false)
  const keyOf = raw.url !== undefined ? 'url' : 'target'
  if (value === undefined)
    r.fail(path, `a ${type} check needs a \`url\`, as in ${type === 'probe' ? 'redis' : type}://host:port`)
  const schemes = (type === 'probe' ? PROBE_SCHEMES : familyOf(type)).map((s) => `${s}:`)
  const url = r.url(value, [...path, keyOf], schemes)
  // What the probe itself refuses when it is made (a port parameter that is no number, two
  // hosts, a relative socket path) is a mistake of the manifest, said at load, not a
  // failure of every run.
  const make = VALIDATED[familyOf(url.slice(0, url.indexOf(':')).toLowerCase())[0] as string]
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
