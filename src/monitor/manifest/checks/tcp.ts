/** A `tcp` check: `address: host:port`, a `tcp://` url, or `host` and `port`. */
import { portRangeProblem } from '../../../probes/url.js'
import { type CheckInput, formatHost, type ManifestReader } from '../reader.js'
import type { TcpCheckSpec } from '../types.js'

/** The keys of a tcp check, besides the ones every check has. */
export const TCP_KEYS = ['url', 'address', 'host', 'port']

export function readTcpCheck(r: ManifestReader, { raw, path, common, podHost }: CheckInput): TcpCheckSpec {
  let host: string
  let port: number
  const url = r.str(raw, [...path, 'url'], false)
  const address = r.str(raw, [...path, 'address'], false)
  if (url !== undefined) {
    const parsed = new URL(r.url(url, [...path, 'url'], ['tcp:']))
    host = parsed.hostname.replace(/^\[|\]$/g, '')
    port = Number(parsed.port)
    if (!port) r.fail([...path, 'url'], 'needs a port, as in tcp://db.internal:5432')
  } else if (address !== undefined) {
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address)
    if (!match) r.fail([...path, 'address'], `"${address}" is not host:port, as in db.internal:5432`)
    host = (match[1] ?? match[2]) as string
    r.checkHost(host, [...path, 'address'])
    port = Number(match[3])
    const problem = portRangeProblem(port)
    if (problem) r.fail([...path, 'address'], problem)
  } else {
    if (raw.port === undefined) r.fail(path, 'a tcp check needs `address: host:port`, a `url` or `host` and `port`')
    port = r.port(raw, [...path, 'port'])
    host = r.host(raw, [...path, 'host']) ?? podHost
  }
  return { ...common, kind: 'tcp', host, port, target: `${formatHost(host)}:${port}` }
}
