/**
 * The value readers every part of a manifest uses (strings, ports, durations, URLs, TLS
 * settings, the keys every check shares), and the defaults they apply.
 */
import { isIPv6 } from 'node:net'
import { resolve } from 'node:path'
import { type Document, isAlias, type LineCounter, visit, type Node as YamlNode } from 'yaml'
import { durationMs } from '../../core/duration.js'
import { redactUrl, userinfoEscapeProblem } from '../../core/redact.js'
import { parsePgUrl, writtenAs } from '../../probes/pg-url.js'
import { portRangeProblem, urlPortProblem } from '../../probes/url.js'
import { isTimeZone, type MaintenanceWindow, WEEKDAYS, type Weekday } from '../silences.js'
import { NO_THRESHOLDS, type Thresholds } from '../thresholds.js'
import { type CheckKey, checkId } from '../types.js'
import { type CheckSpecBase, type ManifestDefaults, ManifestError, type TlsSettings } from './types.js'

/** Default interval of every check (p2 checked every 5 s). */
export const DEFAULT_INTERVAL_MS = 5000
/** Default deadline: Consul's 10 s, but always below the interval. */
const DEFAULT_TIMEOUT_MS = 10_000
/** The longest `timeout` a check may have: a day (a run's deadline is one timer, 24.8 days at most). */
const MAX_TIMEOUT_MS = 86_400_000

/** The longest `cert_expiry_warning`: ten years is longer than any certificate a browser accepts. */
const MAX_CERT_EXPIRY_WARNING_DAYS = 3650

/** How far YAML aliases may expand (in the yaml package's measure) before a manifest is refused. */
const MAX_ALIAS_COUNT = 100

/**
 * A node name or host name as DNS, /etc/hosts, Kubernetes and p2 write them: letters,
 * digits, ".", "_" and "-", starting with a letter or digit (an IPv4 address is one).
 */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/

export function isHostName(name: string): boolean {
  return HOST_NAME.test(name)
}

/** Labels probekit sets on every alert itself; a manifest may not set them. */
const RESERVED_LABELS = new Set(['alertname', 'pod', 'node', 'check', 'state', 'severity'])

/**
 * Schemes people write in manifests that no checker speaks: refused at load with what to
 * do instead, rather than accepted and critical on every run.
 */
export const NO_CHECKER: Record<string, string> = {
  mongodb:
    'probekit has no MongoDB checker; check MongoDB from the app with a custom probe (docs/probes.md, "MongoDB: a custom probe") and watch the app\'s status endpoint, or use a tcp check on the port',
}
NO_CHECKER['mongodb+srv'] = NO_CHECKER.mongodb as string

export type Path = (string | number)[]

function keyName(path: Path): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part
  return out
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Reads the values of one YAML document, each kind of value one way: every mistake ends in
 * a `ManifestError` naming the file, the line and the key.
 */
/** The settings a check's `tls:` mapping takes. */
export const TLS_KEYS: readonly string[] = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure']

/**
 * The words YAML 1.1 reads as booleans, as go-yaml v2 (p2's parser) does: a p2 manifest with
 * `status_http: yes` meant true there. The yaml package reads YAML 1.2, where only true and
 * false are, so these arrive as strings.
 */
const YAML_1_1_BOOLEANS = new Map<string, boolean>(
  ['y', 'yes', 'on', 'true', 'n', 'no', 'off', 'false'].flatMap((word) => {
    const value = word === 'y' || word === 'yes' || word === 'on' || word === 'true'
    const capital = word.charAt(0).toUpperCase() + word.slice(1)
    return [word, capital, word.toUpperCase()].map((spelling) => [spelling, value] as const)
  }),
)

export class ManifestReader {
  /** The document as plain data. */
  readonly data: unknown
  /** The manifest's directory: relative file names resolve against it. */
  readonly dir: string
  /**
   * Set when what the document says depends on another file too (a push check's
   * `token_file`): a reload reads such a document again even when it is unchanged.
   */
  readsOtherFiles = false

  /** `firstLine`: the line of the file that `lines` counts as its first (a piece of a file, documents.ts). */
  constructor(
    private readonly doc: Document.Parsed,
    readonly file: string,
    private readonly lines: LineCounter,
    readonly defaults: ManifestDefaults,
    private readonly firstLine = 1,
  ) {
    this.dir = resolve(file, '..')
    try {
      this.data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
    } catch (error) {
      // The yaml package refuses aliases that expand too far ("billion laughs") in words
      // of its own; the line of the first alias says where.
      let alias: YamlNode | undefined
      visit(doc, {
        Alias(_, node) {
          alias = node
          return visit.BREAK
        },
      })
      const offset = (alias ?? doc.contents)?.range?.[0]
      const line = typeof offset === 'number' ? this.lineAt(offset) : undefined
      const message = (error as Error).message
      throw new ManifestError(
        file,
        line,
        undefined,
        /alias/i.test(message) && alias && isAlias(alias)
          ? `YAML aliases (*${alias.source} and others) expand to too much data; write the values out instead of nesting aliases`
          : `YAML cannot be read: ${message}`,
      )
    }
  }

  /** The line of the value at `path`, or of the nearest enclosing node that exists. */
  private lineOf(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true)) as YamlNode | undefined
      const offset = node?.range?.[0]
      if (typeof offset === 'number') return this.lineAt(offset)
    }
    return undefined
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line + this.firstLine - 1
  }

  fail(path: Path, problem: string): never {
    throw new ManifestError(this.file, this.lineOf(path), path.length ? keyName(path) : undefined, problem)
  }

  common(raw: Record<string, unknown>, path: Path, key: CheckKey, push = false): CheckSpecBase {
    const intervalMs = raw.interval === undefined ? DEFAULT_INTERVAL_MS : this.duration(raw, [...path, 'interval'])
    let timeoutMs: number
    if (raw.timeout === undefined) timeoutMs = Math.min(DEFAULT_TIMEOUT_MS, Math.max(1, Math.floor(intervalMs * 0.8)))
    else {
      timeoutMs = this.duration(raw, [...path, 'timeout'])
      if (!push && timeoutMs > MAX_TIMEOUT_MS)
        this.fail(
          [...path, 'timeout'],
          `${formatDuration(timeoutMs)} is longer than a check may take, ${formatDuration(MAX_TIMEOUT_MS)}; a health check that needs longer is a job (watch it with a push check)`,
        )
      if (!push && timeoutMs >= intervalMs)
        this.fail(
          [...path, 'timeout'],
          `${formatDuration(timeoutMs)} is not below the interval (${formatDuration(intervalMs)}); a check must end before its next run`,
        )
    }
    const critical = this.count(raw, [...path, 'failures_before_critical']) ?? 0
    const thresholds: Thresholds = {
      ...NO_THRESHOLDS,
      successBeforePassing: this.count(raw, [...path, 'success_before_passing']) ?? 0,
      failuresBeforeCritical: critical,
      // Consul: failures_before_warning defaults to failures_before_critical.
      failuresBeforeWarning: this.count(raw, [...path, 'failures_before_warning']) ?? critical,
    }
    const source: { file: string; line?: number } = { file: this.file }
    const line = this.lineOf(path)
    if (line !== undefined) source.line = line
    const labels = this.labels(raw, [...path, 'labels'])
    const maintenance = this.maintenance(raw, [...path, 'maintenance'])
    return {
      ...key,
      id: checkId(key),
      intervalMs,
      timeoutMs,
      thresholds,
      source,
      target: '',
      ...(labels ? { labels } : {}),
      ...(maintenance ? { maintenance } : {}),
    }
  }

  /** `maintenance:`, a list of weekly windows: `{ days: [sat, sun], from: "02:00", to: "04:00", tz: Europe/Berlin }`. */
  maintenance(raw: Record<string, unknown>, path: Path): MaintenanceWindow[] | undefined {
    const value = raw.maintenance
    if (value === undefined || value === null) return undefined
    const example = 'e.g. [{ days: [sat], from: "02:00", to: "04:00", tz: Europe/Berlin }]'
    if (!Array.isArray(value)) this.fail(path, `must be a list of weekly windows, ${example}`)
    return value.map((item, i) => {
      const at = [...path, i]
      if (!isRecord(item)) this.fail(at, `must be a mapping with days, from, to and tz, ${example}`)
      for (const key of Object.keys(item))
        if (!['days', 'from', 'to', 'tz'].includes(key))
          this.fail([...at, key], 'unknown key; the keys are days, from, to, tz')
      const rawDays = Array.isArray(item.days) ? item.days : item.days === undefined ? [...WEEKDAYS] : [item.days]
      const days = rawDays.map((d, j) => {
        const day = String(d).toLowerCase().slice(0, 3) as Weekday
        if (!WEEKDAYS.includes(day) || !/^[a-z]+$/i.test(String(d)))
          this.fail([...at, 'days', j], `${JSON.stringify(d)} is not a weekday; use ${WEEKDAYS.join(', ')}`)
        return day
      })
      const minute = (key: 'from' | 'to') => {
        const text = this.str(item, [...at, key], true)
        const match = /^(\d{1,2}):(\d{2})$/.exec(text)
        const m = match ? Number(match[1]) * 60 + Number(match[2]) : Number.NaN
        if (!match || Number(match[2]) > 59 || m > 24 * 60)
          this.fail([...at, key], `${JSON.stringify(text)} is not a time of day; use HH:MM, e.g. "02:00"`)
        return m % (24 * 60)
      }
      const fromMinute = minute('from')
      const toMinute = minute('to')
      const tz = this.str(item, [...at, 'tz'], false) ?? 'UTC'
      if (!isTimeZone(tz))
        this.fail([...at, 'tz'], `${JSON.stringify(tz)} is not a time zone; use e.g. Europe/Berlin or UTC`)
      return { days, fromMinute, toMinute, tz }
    })
  }

  /** `labels:`, Prometheus label names to values, as Alertmanager takes them. */
  labels(raw: Record<string, unknown>, path: Path): Record<string, string> | undefined {
    if (raw.labels === undefined || raw.labels === null) return undefined
    const out = this.stringMap(raw, path)
    for (const name of Object.keys(out)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        this.fail([...path, name], 'is not a label name; use letters, digits and "_", not starting with a digit')
      if (RESERVED_LABELS.has(name))
        this.fail(
          [...path, name],
          `is set by probekit on every alert; the manifest may not set ${[...RESERVED_LABELS].join(', ')}`,
        )
    }
    return out
  }

  tls(raw: Record<string, unknown>, path: Path): TlsSettings {
    const tls: TlsSettings = {}
    if (this.defaults.caFile) tls.caFile = this.defaults.caFile
    const value = raw.tls
    if (value === undefined || value === null) return tls
    const p = [...path, 'tls']
    if (!isRecord(value)) this.fail(p, 'must be a mapping with ca_file, cert_file, key_file, server_name or insecure')
    const known = TLS_KEYS
    for (const k of Object.keys(value))
      if (!known.includes(k)) this.fail([...p, k], `unknown TLS setting; the settings are ${known.join(', ')}`)
    const file = (k: string) => {
      const f = this.str(value, [...p, k], false)
      return f === undefined ? undefined : resolve(this.dir, f)
    }
    const ca = file('ca_file')
    if (ca) tls.caFile = ca
    const cert = file('cert_file')
    const key = file('key_file')
    if ((cert === undefined) !== (key === undefined))
      this.fail([...p, cert ? 'key_file' : 'cert_file'], 'a client certificate needs both cert_file and key_file')
    if (cert) tls.certFile = cert
    if (key) tls.keyFile = key
    const serverName = this.str(value, [...p, 'server_name'], false)
    if (serverName) tls.serverName = serverName
    if (this.bool(value, [...p, 'insecure'])) tls.insecure = true
    return tls
  }

  headers(raw: Record<string, unknown>, path: Path): Record<string, string> {
    if (raw.headers === undefined) return {}
    const out = this.stringMap(raw, path)
    for (const [name, value] of Object.entries(out)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) this.fail([...path, name], 'is not a valid HTTP header name')
      // What HTTP refuses in a value (a line break would start another header): said at load,
      // with the line, not by every run as the HTTP client's "invalid header".
      if (/[^\t\x20-\x7e\x80-\xff]/.test(value))
        this.fail(
          [...path, name],
          'holds a character an HTTP header value cannot: a line break, another control character, or one beyond Latin-1',
        )
    }
    return out
  }

  stringMap(raw: Record<string, unknown>, path: Path): Record<string, string> {
    const value = raw[path[path.length - 1] as string]
    if (!isRecord(value)) this.fail(path, 'must be a mapping of names to values')
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        this.fail([...path, k], 'must be a string')
      out[k] = String(v)
    }
    return out
  }

  expectStatus(raw: Record<string, unknown>, path: Path): { expectStatus?: number[] } {
    const value = raw.expect_status
    if (value === undefined) return {}
    const list = Array.isArray(value) ? value : [value]
    const out: number[] = []
    list.forEach((v, i) => {
      if (!Number.isInteger(v) || (v as number) < 100 || (v as number) > 599)
        this.fail(
          Array.isArray(value) ? [...path, i] : path,
          `${JSON.stringify(v)} is not an HTTP status; use a number from 100 to 599`,
        )
      out.push(v as number)
    })
    return { expectStatus: out }
  }

  str(raw: Record<string, unknown>, path: Path, required: true): string
  str(raw: Record<string, unknown>, path: Path, required: false): string | undefined
  str(raw: Record<string, unknown>, path: Path, required: boolean): string | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) {
      if (required) this.fail(path.slice(0, -1), `\`${String(path[path.length - 1])}\` is required`)
      return undefined
    }
    if (typeof value === 'number') return String(value)
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, 'must be a non-empty string')
    return value.trim()
  }

  /** A `host`: a host name, an IPv4 address or an IPv6 address (in brackets or not). */
  host(raw: Record<string, unknown>, path: Path): string | undefined {
    const value = this.str(raw, path, false)
    if (value !== undefined) this.checkHost(value, path)
    return value
  }

  /** Fails at `path` unless `host` is a host name or an IP address (a `host` key, the host of an `address`). */
  checkHost(host: string, path: Path): void {
    if (!isHostName(host) && !isIPv6(host.replace(/^\[(.*)\]$/, '$1')))
      this.fail(
        path,
        `${JSON.stringify(host)} is not a host name; use letters, digits, ".", "_" and "-" (db-7.internal), or an IP address`,
      )
  }

  bool(raw: Record<string, unknown>, path: Path): boolean | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'boolean') return value
    if (typeof value === 'string') {
      const word = YAML_1_1_BOOLEANS.get(value)
      if (word !== undefined) return word
    }
    this.fail(path, `${JSON.stringify(value)} is not true or false`)
  }

  port(raw: Record<string, unknown>, path: Path): number {
    const value = raw[path[path.length - 1] as string]
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value
    if (typeof n !== 'number' || !Number.isInteger(n))
      this.fail(path, `${JSON.stringify(value)} is not a port; use a number from 1 to 65535`)
    const problem = portRangeProblem(n)
    if (problem) this.fail(path, problem)
    return n
  }

  /**
   * `cert_expiry_warning`: whole days before a certificate expires from which its https or
   * grpcs check warns; 0 turns the warning off.
   */
  certExpiryWarning(raw: Record<string, unknown>, path: Path): number | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_CERT_EXPIRY_WARNING_DAYS)
      this.fail(
        path,
        `${JSON.stringify(value)} is not a number of days; use a whole number from 0 (no warning) to ${MAX_CERT_EXPIRY_WARNING_DAYS}, e.g. 14`,
      )
    return value
  }

  count(raw: Record<string, unknown>, path: Path): number | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000)
      this.fail(path, `${JSON.stringify(value)} is not a count; use a whole number from 0 to 1000`)
    return value
  }

  duration(raw: Record<string, unknown>, path: Path, allowZero = false): number {
    const value = raw[path[path.length - 1] as string]
    let ms: number | undefined
    if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000
    else if (typeof value === 'string') ms = durationMs(value)
    if ((ms !== undefined && ms < 0) || (typeof value === 'string' && /^\s*-/.test(value)))
      this.fail(path, `must be a positive duration such as 5s or 500ms, got ${String(value)}`)
    if (ms === undefined || (ms === 0 && !allowZero))
      this.fail(
        path,
        `${JSON.stringify(value)} is not a duration; use seconds (5) or a value with a unit (500ms, 5s, 1m, 1h, 1d)`,
      )
    if (!allowZero && ms < 10) this.fail(path, `${JSON.stringify(value)} is too short; use at least 10ms`)
    return ms
  }

  url(value: string, path: Path, schemes: string[]): string {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
    const instead = scheme === undefined ? undefined : NO_CHECKER[scheme]
    if (instead) this.fail(path, `${scheme}:// cannot be checked: ${instead}`)
    const portProblem = urlPortProblem(value)
    if (portProblem) this.fail(path, `"${redactUrl(value)}": ${portProblem}`)
    let parsed: URL
    try {
      // libpq's postgres://user@/db?host=/run/postgresql too, which WHATWG URLs refuse.
      parsed = scheme?.startsWith('postgres') ? parsePgUrl(value) : new URL(value)
    } catch {
      this.fail(path, `"${redactUrl(value)}" is not a URL, as in ${schemes[0]}//host:port`)
    }
    if (!schemes.includes(parsed.protocol))
      this.fail(
        path,
        `"${redactUrl(value)}" has the wrong scheme for this check; use ${schemes.map((s) => `${s}//`).join(' or ')}`,
      )
    const badEscape = userinfoEscapeProblem(parsed)
    if (badEscape) this.fail(path, `"${redactUrl(value)}": ${badEscape}`)
    // As written when only parsePgUrl could read it: its href would name a host it has not.
    return writtenAs(parsed) === parsed.href ? parsed.href : value
  }
}

export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** `5s`, `1.5m`, `250ms`: a duration as a person writes it. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

/** What the reader of one check kind is given: the check's mapping, where it is, and what the pod says. */
export interface CheckInput {
  raw: Record<string, unknown>
  path: Path
  /** The check type as written (`https`, `grpcs`, `redis`, …), not only its kind. */
  type: string
  /** The keys every check has, read already. */
  common: CheckSpecBase
  /** The pod's `status_port`, the default port of http and grpc checks. */
  statusPort: number | undefined
  /** The host a check that names none reaches. */
  podHost: string
}
