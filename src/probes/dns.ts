import type { LookupAddress } from 'node:dns'
import { lookup, Resolver } from 'node:dns/promises'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, oneOf, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { untilAborted } from './abortable.js'
import { InFlight } from './in-flight.js'
import { timed } from './timed.js'

const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SRV', 'TXT', 'CAA', 'NAPTR', 'SOA'] as const
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number]

export interface DnsProbeOptions extends ProbeOptions {
  /** Check name. Default `dns`. */
  name?: string
  /**
   * Query this record type from DNS servers directly (cancellable at the deadline). Without
   * it, the name is resolved the way the app's own connections resolve it: the system
   * resolver (`/etc/hosts`, then DNS), addresses only.
   */
  type?: DnsRecordType
  /** DNS servers to ask (`'10.0.0.2'`, `'10.0.0.2:5353'`); implies a DNS query (type A by default). */
  servers?: readonly string[]
  /** Pass only when one of these values is among the answers (e.g. an expected address). */
  expect?: string | readonly string[]
  /** System-resolver mode only: 4 or 6 to ask for one address family. */
  family?: 4 | 6
}

const DNS_OPTION_KEYS = optionKeys<DnsProbeOptions>()({
  name: true,
  type: true,
  servers: true,
  expect: true,
  family: true,
  ...PROBE_OPTIONS,
})

/**
 * Passes when `name` resolves (and, with `expect`, to an expected value). Observed value:
 * the resolution time in ms.
 *
 * The system resolver (getaddrinfo) cannot be cancelled: at the deadline the probe stops
 * waiting, and the next check joins the lookup still in flight instead of starting
 * another, so a hung resolver never fills libuv's small thread pool. DNS queries (with
 * `type` or `servers`) are cancelled at the deadline.
 *
 * @example
 * health.add(dns('db.internal', { expect: '10.0.0.5' }))
 */
export function dns(name: string, options: DnsProbeOptions = {}): Probe {
  const where = probeCall('dns', name, 'name')
  checkProbeOptions(where, options, DNS_OPTION_KEYS)
  oneOf(`${where}: type`, options.type, DNS_RECORD_TYPES)
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError('dns(name): name must be a host name')
  const { name: checkName = 'dns', type, servers, expect, family, ...probeOptions } = options
  if (servers) checkServers(where, servers)
  const expected = expect === undefined ? undefined : typeof expect === 'string' ? [expect] : [...expect]
  const query = type ?? (servers ? 'A' : undefined)
  const lookups = new InFlight<string[]>()
  const resolveOnce = () => lookups.run(() => systemLookup(name, family))
  return {
    componentType: 'component',
    ...probeOptions,
    name: checkName,
    check: ({ signal }) =>
      timed(async () => {
        let answers: string[]
        try {
          answers = query ? await dnsQuery(name, query, servers, signal) : await untilAborted(resolveOnce(), signal)
        } catch (error) {
          if (signal.aborted) throw signal.reason
          throw new NotReady(`dns ${name}: ${describeDnsError(error, query)}`)
        }
        const shown =
          answers.length > 3 ? `${answers.slice(0, 3).join(', ')} (+${answers.length - 3})` : answers.join(', ')
        if (expected && !answers.some((answer) => expected.includes(answer))) {
          throw new NotReady(`dns ${name} resolved to ${shown}, not ${expected.join(' or ')}`)
        }
        return { message: `${name} → ${shown}`, componentId: name }
      }),
  }
}

/**
 * A server c-ares cannot use ('dns.internal', 'not an ip') failed every check with "Invalid
 * IP address: …", as if DNS were down: it is refused when the probe is made, as a
 * misspelt option is.
 */
function checkServers(where: string, servers: readonly string[]): void {
  if (servers.length === 0) {
    throw new TypeError(`${where}: servers is empty; name at least one DNS server, e.g. ['10.0.0.2'], or leave it out`)
  }
  for (const server of servers) {
    try {
      new Resolver().setServers([server])
    } catch {
      throw new TypeError(
        `${where}: servers: ${JSON.stringify(server)} is not an IP address (with an optional port: '10.0.0.2:5353', '[fd00::2]:53')`,
      )
    }
  }
}

async function systemLookup(name: string, family: 4 | 6 | undefined): Promise<string[]> {
  const found: LookupAddress[] = await lookup(name, { all: true, ...(family ? { family } : {}) })
  return found.map((entry) => entry.address)
}

async function dnsQuery(
  name: string,
  type: DnsRecordType,
  servers: readonly string[] | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  // One resolver per check, so `cancel()` at the deadline ends exactly this query.
  const resolver = new Resolver({ tries: 2 })
  if (servers) resolver.setServers([...servers])
  const onAbort = () => resolver.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const records: unknown = await resolver.resolve(name, type)
    return (Array.isArray(records) ? records : [records]).map(formatRecord)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function formatRecord(record: unknown): string {
  if (typeof record === 'string') return record
  if (Array.isArray(record)) return record.join('')
  if (record && typeof record === 'object') {
    const r = record as Record<string, unknown>
    if (typeof r.exchange === 'string') return r.exchange
    if (typeof r.name === 'string' && typeof r.port === 'number') return `${r.name}:${r.port}`
    if (typeof r.nsname === 'string') return r.nsname
    if (typeof r.value === 'string') return r.value
    if (typeof r.replacement === 'string') return r.replacement
  }
  return JSON.stringify(record)
}

function describeDnsError(error: unknown, query: string | undefined): string {
  const code = (error as { code?: unknown })?.code
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
      return `no such name (${code})`
    case 'ENODATA':
    case 'EAI_NODATA':
      return `the name exists but has no ${query ?? 'address'} records (${code})`
    case 'EAI_AGAIN':
      return `temporary failure: the DNS server did not answer in time (${code})`
    case 'ETIMEOUT':
      return `the DNS server did not answer (${code})`
    case 'ESERVFAIL':
      return `the DNS server failed to answer (${code})`
    case 'EREFUSED':
      return `the DNS server refused the query (${code})`
    case 'ECONNREFUSED':
      return `could not reach the DNS server (${code})`
    case 'EBADRESP':
    case 'EFORMERR':
      return `the DNS server's answer is not DNS, or is malformed (${code})`
    default:
      return error instanceof Error ? error.message : String(error)
  }
}
