/**
 * Pod manifests: what the monitor checks. p2 pod manifests work unchanged (`id`,
 * `status_port`, `status_http`, the `status` stanza; `launchables` and any other key are
 * ignored); a manifest may also list explicit `checks`. Every mistake is reported with the
 * file, the line and the key, in one sentence that says how to fix it.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { type Document, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml'
import { durationMs } from '../core/duration.js'
import { redact, redactUrl, SecretSet } from '../core/redact.js'
import { didYouMean } from '../core/suggest.js'
import { portRangeProblem, SCHEMES, urlPortProblem } from '../probes/url.js'
import { checkToken, readTokenFile, TokenError } from './auth.js'
import { isTimeZone, type MaintenanceWindow, WEEKDAYS, type Weekday } from './silences.js'
import { NO_THRESHOLDS, type Thresholds } from './thresholds.js'
import { type CheckKey, type CheckKind, checkId } from './types.js'

/** A manifest mistake: `file:line: key: what is wrong and how to fix it`. */
export class ManifestError extends Error {
  override name = 'ManifestError'
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string | undefined,
    readonly problem: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${key ? `${key}${keySeparator(key)}` : ''}${problem}`)
  }
}

const NO_SECRETS = new SecretSet(null)

/**
 * `: ` after a key, unless the key reads as a credential's name (`checks[0].token: a token
 * of …`): every log line is redacted as a whole, and `token: a` would lose its next word to
 * the key=value mask. Such keys are followed by ` — ` instead.
 */
function keySeparator(key: string): string {
  return redact(`${key}: x`, NO_SECRETS) === `${key}: x` ? ': ' : ' — '
}

/** TLS settings of an HTTPS check (paths are resolved against the manifest's directory). */
export interface TlsSettings {
  caFile?: string
  certFile?: string
  keyFile?: string
  serverName?: string
  /** Skip certificate verification. An explicit opt-in, never a default. */
  insecure?: boolean
}

interface CheckSpecBase extends CheckKey {
  id: string
  intervalMs: number
  /** The hard deadline of one run, always below the interval. */
  timeoutMs: number
  thresholds: Thresholds
  /** Where the check is declared, for messages. */
  source: { file: string; line?: number }
  /** What is checked, credentials redacted (a URL, `host:port`, a command). */
  target: string
  /** Alert labels from the manifest (the pod's, then the check's own over them). */
  labels?: Record<string, string>
  /** Weekly maintenance windows (the pod's and the check's own): notifications are held back inside them. */
  maintenance?: MaintenanceWindow[]
}

export interface HttpCheckSpec extends CheckSpecBase {
  kind: 'http'
  url: string
  method: string
  headers: Record<string, string>
  /** Statuses that pass; default any 2xx. */
  expectStatus?: number[]
  tls: TlsSettings
}

export interface TcpCheckSpec extends CheckSpecBase {
  kind: 'tcp'
  host: string
  port: number
}

/** A typed target of `probekit check` (`redis://…`, `postgres://…`, …), run by the library's probes. */
export interface ProbeCheckSpec extends CheckSpecBase {
  kind: 'probe'
  url: string
}

export interface ExecCheckSpec extends CheckSpecBase {
  kind: 'exec'
  /** Run directly (an argument list) — or through `sh -c` when `shell` is set. */
  command: string[]
  shell: boolean
  cwd?: string
  env?: Record<string, string>
}

export interface PushCheckSpec extends CheckSpecBase {
  kind: 'push'
  /** How often the job is expected to report. */
  periodMs: number
  /** How late a report may be before the check turns critical. */
  graceMs: number
  /**
   * The check's own secrets (manifest `token`, or the lines of `token_file`): a push
   * carrying one may report for this check, and only this one. Never served or logged.
   */
  tokens?: string[]
}

/** `grpc.health.v1.Health/Check` on `host:port` for `service` (`grpcs` with TLS). */
export interface GrpcCheckSpec extends CheckSpecBase {
  kind: 'grpc'
  host: string
  port: number
  service: string
  /** TLS settings; undefined for plain `grpc://`. */
  tls?: TlsSettings
}

export type CheckSpec = HttpCheckSpec | TcpCheckSpec | GrpcCheckSpec | ProbeCheckSpec | ExecCheckSpec | PushCheckSpec

export interface PodManifest {
  id: string
  node: string
  file: string
  checks: CheckSpec[]
}

export interface ManifestDefaults {
  /** Node name for manifests that name none. Default: this host's name. */
  node?: string
  /** CA file for HTTPS checks that name none (p2's preparer `ca_path`). */
  caFile?: string
}

/** Default interval of every check (p2 checked every 5 s). */
export const DEFAULT_INTERVAL_MS = 5000
/** Default deadline: Consul's 10 s, but always below the interval. */
const DEFAULT_TIMEOUT_MS = 10_000

/** Schemes run by the library's typed probes (the targets of `probekit check`, `mariadb` too). */
export const PROBE_SCHEMES: readonly string[] = SCHEMES.filter(
  (s) => !['http', 'https', 'tcp', 'grpc', 'grpcs'].includes(s),
)

/**
 * Schemes people write in manifests that no checker speaks: refused at load with what to
 * do instead, rather than accepted and critical on every run.
 */
const NO_CHECKER: Record<string, string> = {
  mongodb:
    'probekit has no MongoDB checker; check MongoDB from the app with a custom probe (docs/probes.md, "MongoDB: a custom probe") and watch the app\'s status endpoint, or use a tcp check on the port',
}
NO_CHECKER['mongodb+srv'] = NO_CHECKER.mongodb as string

const CHECK_TYPES = ['http', 'https', 'tcp', 'grpc', 'grpcs', 'exec', 'push', 'probe', ...PROBE_SCHEMES]

const COMMON_KEYS = [
  'name',
  'type',
  'interval',
  'timeout',
  'success_before_passing',
  'failures_before_warning',
  'failures_before_critical',
  'labels',
  'maintenance',
]

/** Labels probekit sets on every alert itself; a manifest may not set them. */
const RESERVED_LABELS = new Set(['alertname', 'pod', 'node', 'check', 'state', 'severity'])
const KEYS_BY_KIND: Record<CheckKind, string[]> = {
  http: ['url', 'scheme', 'host', 'port', 'path', 'method', 'headers', 'expect_status', 'tls'],
  tcp: ['url', 'address', 'host', 'port'],
  grpc: ['url', 'host', 'port', 'service', 'tls'],
  probe: ['url', 'target'],
  exec: ['command', 'shell', 'cwd', 'env'],
  push: ['period', 'grace', 'token', 'token_file'],
}

/**
 * Reads manifests from files and directories (every `*.yaml`/`*.yml` inside, sorted).
 * A file may hold several YAML documents, one pod each.
 *
 * @example
 * const pods = loadManifests(['/etc/probekit/pods'], { node: 'web-1' })
 * for (const pod of pods) console.log(pod.id, pod.checks.map((c) => c.target))
 */
export function loadManifests(paths: readonly string[], defaults: ManifestDefaults = {}): PodManifest[] {
  const files: string[] = []
  for (const path of paths) files.push(...manifestFiles(path))
  const pods: PodManifest[] = []
  const seen = new Map<string, string>()
  for (const file of files) {
    for (const pod of parseManifest(readFileSync(file, 'utf8'), file, defaults)) {
      const key = `${pod.node}/${pod.id}`
      const other = seen.get(key)
      if (other)
        throw new ManifestError(
          file,
          undefined,
          'id',
          `pod "${pod.id}" on node "${pod.node}" is also declared in ${other}; give each pod one manifest`,
        )
      seen.set(key, file)
      pods.push(pod)
    }
  }
  return pods
}

/** The manifest files a path names: the file itself, or the YAML files under a directory. */
export function manifestFiles(path: string): string[] {
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(path)
  } catch {
    throw new ManifestError(
      path,
      undefined,
      undefined,
      'no such file or directory; pass a manifest file or a directory of them',
    )
  }
  if (!stat.isDirectory()) return [resolve(path)]
  const out: string[] = []
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue
    const full = join(path, entry.name)
    if (entry.isDirectory()) out.push(...manifestFiles(full))
    else if (/\.ya?ml$/i.test(entry.name)) out.push(resolve(full))
  }
  return out
}

/** Parses the text of one manifest file (one pod per YAML document). */
export function parseManifest(text: string, file: string, defaults: ManifestDefaults = {}): PodManifest[] {
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false })
  if (!Array.isArray(docs)) return [] // an empty stream
  const pods: PodManifest[] = []
  for (const doc of docs) {
    const error = doc.errors[0]
    if (error) {
      const line = error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line
      const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')
      throw new ManifestError(file, line, undefined, `YAML syntax error: ${message}`)
    }
    if (doc.contents === null) continue // an empty document (e.g. a trailing `---`)
    pods.push(new ManifestReader(doc, file, lineCounter, defaults).pod())
  }
  return pods
}

type Path = (string | number)[]

function keyName(path: Path): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part
  return out
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

class ManifestReader {
  private readonly data: unknown
  private readonly dir: string

  constructor(
    private readonly doc: Document.Parsed,
    private readonly file: string,
    private readonly lines: LineCounter,
    private readonly defaults: ManifestDefaults,
  ) {
    this.data = doc.toJS({ maxAliasCount: 100 })
    this.dir = resolve(file, '..')
  }

  /** The line of the value at `path`, or of the nearest enclosing node that exists. */
  private lineOf(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true)) as YamlNode | undefined
      const offset = node?.range?.[0]
      if (typeof offset === 'number') return this.lines.linePos(offset).line
    }
    return undefined
  }

  private fail(path: Path, problem: string): never {
    throw new ManifestError(this.file, this.lineOf(path), path.length ? keyName(path) : undefined, problem)
  }

  pod(): PodManifest {
    const root = this.data
    if (!isRecord(root)) this.fail([], 'a manifest must be a YAML mapping with at least an `id` key')
    const id = this.str(root, ['id'], true)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id))
      this.fail(['id'], `"${id}" is not a usable pod id; use letters, digits, ".", "_" and "-"`)
    const node = this.str(root, ['node'], false) ?? this.defaults.node ?? hostname()
    const checks: CheckSpec[] = []

    const statusPort = root.status_port
    const status = root.status
    if (status !== undefined && status !== null && !isRecord(status))
      this.fail(['status'], 'must be a mapping with `path`, `port` and `localhost_only`')
    const stanza = isRecord(status) ? status : {}
    const port =
      stanza.port !== undefined
        ? this.port(stanza, ['status', 'port'])
        : statusPort !== undefined
          ? this.port(root, ['status_port'])
          : undefined
    if (port !== undefined) {
      const plain = this.bool(root, ['status_http']) ?? false
      let path = this.str(stanza, ['status', 'path'], false) ?? '/_status'
      if (!path.startsWith('/')) path = `/${path}`
      const localhostOnly = this.bool(stanza, ['status', 'localhost_only']) ?? false
      // p2's preparer checked the pod on its own node; a named node is reached by name.
      const host =
        this.str(stanza, ['status', 'host'], false) ?? (localhostOnly || root.node === undefined ? 'localhost' : node)
      const url = `${plain ? 'http' : 'https'}://${formatHost(host)}:${port}${path}`
      const base = this.common(stanza, ['status'], { pod: id, node, check: 'health_check' })
      checks.push({
        ...base,
        kind: 'http',
        url,
        target: redactUrl(url),
        method: 'GET',
        headers: {},
        tls: this.tls(stanza, ['status']),
      })
    }

    const list = root.checks
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list)) this.fail(['checks'], 'must be a list of checks, each a mapping with a `name`')
      const names = new Set(checks.map((c) => c.check))
      list.forEach((_, i) => {
        const check = this.check(root, ['checks', i], { pod: id, node }, port, localhostOnlyHost(stanza, root, node))
        if (names.has(check.check))
          this.fail(
            ['checks', i, 'name'],
            `"${check.check}" is used twice in pod "${id}"; give each check its own name`,
          )
        names.add(check.check)
        checks.push(check)
      })
    }
    if (checks.length === 0)
      this.fail([], `pod "${id}" has nothing to check; add \`status_port\` (p2) or a \`checks\` list`)
    const podLabels = this.labels(root, ['labels'])
    if (podLabels) for (const check of checks) check.labels = { ...podLabels, ...check.labels }
    const podWindows = this.maintenance(root, ['maintenance'])
    if (podWindows) for (const check of checks) check.maintenance = [...podWindows, ...(check.maintenance ?? [])]
    return { id, node, file: this.file, checks }
  }

  private check(
    root: Record<string, unknown>,
    path: Path,
    pod: { pod: string; node: string },
    statusPort: number | undefined,
    podHost: string,
  ): CheckSpec {
    const raw = (root.checks as unknown[])[path[1] as number]
    if (!isRecord(raw)) this.fail(path, 'each check must be a mapping with a `name` and a `type` (or a `url`)')
    const name = this.str(raw, [...path, 'name'], true)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
      this.fail([...path, 'name'], `"${name}" is not a usable check name; use letters, digits, ".", "_" and "-"`)
    const type = this.checkType(raw, path)
    const kind: CheckKind =
      type === 'http' || type === 'https'
        ? 'http'
        : type === 'grpc' || type === 'grpcs'
          ? 'grpc'
          : type === 'tcp' || type === 'exec' || type === 'push'
            ? type
            : 'probe'
    const allowed = new Set([...COMMON_KEYS, ...KEYS_BY_KIND[kind]])
    for (const key of Object.keys(raw)) {
      if (!allowed.has(key))
        this.fail(
          [...path, key],
          `unknown key for a ${type} check${didYouMean(key, allowed)}; the keys are ${[...allowed].join(', ')}`,
        )
    }
    const key: CheckKey = { ...pod, check: name }
    const common = this.common(raw, path, key, kind === 'push')

    switch (kind) {
      case 'http': {
        let url = this.str(raw, [...path, 'url'], false)
        if (url === undefined) {
          const scheme = (
            this.str(raw, [...path, 'scheme'], false) ?? (type === 'https' ? 'https' : 'http')
          ).toLowerCase()
          if (scheme !== 'http' && scheme !== 'https') this.fail([...path, 'scheme'], 'must be http or https')
          const port = raw.port !== undefined ? this.port(raw, [...path, 'port']) : statusPort
          if (port === undefined)
            this.fail(path, "an http check needs a `url`, or a `port` (or the pod's `status_port`) and a `path`")
          let p = this.str(raw, [...path, 'path'], false) ?? '/'
          if (!p.startsWith('/')) p = `/${p}`
          const host = this.str(raw, [...path, 'host'], false) ?? podHost
          url = `${scheme}://${formatHost(host)}:${port}${p}`
        } else {
          url = this.url(url, [...path, 'url'], ['http:', 'https:'])
          if (type === 'https' && url.startsWith('http:'))
            this.fail([...path, 'url'], 'is http:// but the check type is https; make them agree')
        }
        const method = (this.str(raw, [...path, 'method'], false) ?? 'GET').toUpperCase()
        if (!/^[A-Z]+$/.test(method)) this.fail([...path, 'method'], `"${method}" is not an HTTP method`)
        return {
          ...common,
          kind,
          url,
          target: redactUrl(url),
          method,
          headers: this.headers(raw, [...path, 'headers']),
          ...this.expectStatus(raw, [...path, 'expect_status']),
          tls: this.tls(raw, path),
        }
      }
      case 'tcp': {
        let host: string
        let port: number
        const url = this.str(raw, [...path, 'url'], false)
        const address = this.str(raw, [...path, 'address'], false)
        if (url !== undefined) {
          const parsed = new URL(this.url(url, [...path, 'url'], ['tcp:']))
          host = parsed.hostname.replace(/^\[|\]$/g, '')
          port = Number(parsed.port)
          if (!port) this.fail([...path, 'url'], 'needs a port, as in tcp://db.internal:5432')
        } else if (address !== undefined) {
          const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address)
          if (!match) this.fail([...path, 'address'], `"${address}" is not host:port, as in db.internal:5432`)
          host = (match[1] ?? match[2]) as string
          port = Number(match[3])
          const problem = portRangeProblem(port)
          if (problem) this.fail([...path, 'address'], problem)
        } else {
          if (raw.port === undefined)
            this.fail(path, 'a tcp check needs `address: host:port`, a `url` or `host` and `port`')
          port = this.port(raw, [...path, 'port'])
          host = this.str(raw, [...path, 'host'], false) ?? podHost
        }
        return { ...common, kind, host, port, target: `${formatHost(host)}:${port}` }
      }
      case 'grpc': {
        let host: string
        let port: number
        let service = ''
        let secure = type === 'grpcs'
        const url = this.str(raw, [...path, 'url'], false)
        if (url !== undefined) {
          const parsed = new URL(this.url(url, [...path, 'url'], ['grpc:', 'grpcs:']))
          host = parsed.hostname.replace(/^\[|\]$/g, '')
          port = Number(parsed.port)
          if (!port) this.fail([...path, 'url'], `needs a port, as in ${parsed.protocol}//orders.internal:50051`)
          if (type === 'grpc' && parsed.protocol === 'grpcs:') secure = true
          if (type === 'grpcs' && parsed.protocol === 'grpc:')
            this.fail([...path, 'url'], 'is grpc:// but the check type is grpcs; make them agree')
          service = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''))
        } else {
          if (raw.port === undefined && statusPort === undefined)
            this.fail(
              path,
              "a grpc check needs a `url` (grpc://host:port/service), or a `port` (or the pod's `status_port`)",
            )
          port = raw.port !== undefined ? this.port(raw, [...path, 'port']) : (statusPort as number)
          host = this.str(raw, [...path, 'host'], false) ?? podHost
        }
        const named = this.str(raw, [...path, 'service'], false)
        if (named !== undefined) service = named
        if (raw.tls !== undefined && !secure)
          this.fail([...path, 'tls'], 'applies to grpcs checks; use type grpcs or a grpcs:// url')
        const address = `${formatHost(host)}:${port}`
        const spec: GrpcCheckSpec = {
          ...common,
          kind,
          host,
          port,
          service,
          target: `${secure ? 'grpcs' : 'grpc'}://${address}${service ? `/${service}` : ''}`,
        }
        if (secure) spec.tls = this.tls(raw, path)
        return spec
      }
      case 'probe': {
        const value = this.str(raw, [...path, 'url'], false) ?? this.str(raw, [...path, 'target'], false)
        const keyOf = raw.url !== undefined ? 'url' : 'target'
        if (value === undefined)
          this.fail(path, `a ${type} check needs a \`url\`, as in ${type === 'probe' ? 'redis' : type}://host:port`)
        const schemes = type === 'probe' ? PROBE_SCHEMES.map((s) => `${s}:`) : [`${type}:`]
        const url = this.url(value, [...path, keyOf], schemes)
        return { ...common, kind, url, target: redactUrl(url) }
      }
      case 'exec': {
        const command = raw.command
        const shell = this.bool(raw, [...path, 'shell'])
        let argv: string[]
        if (typeof command === 'string' && command.trim()) argv = [command]
        else if (
          Array.isArray(command) &&
          command.length > 0 &&
          command.every((c) => typeof c === 'string' || typeof c === 'number')
        )
          argv = command.map(String)
        else this.fail([...path, 'command'], 'must be a command line (run with sh -c) or a list of arguments')
        const env = raw.env === undefined ? undefined : this.stringMap(raw, [...path, 'env'])
        const cwdValue = this.str(raw, [...path, 'cwd'], false)
        const spec: ExecCheckSpec = {
          ...common,
          kind,
          command: argv,
          // A single string is a shell command line, as Consul's `script`; a list runs directly, as its `args`.
          shell: shell ?? typeof command === 'string',
          target: argv.join(' '),
        }
        if (cwdValue !== undefined) spec.cwd = resolve(this.dir, cwdValue)
        if (env) spec.env = env
        return spec
      }
      case 'push': {
        if (raw.period === undefined) this.fail(path, 'a push check needs a `period`, as in `period: 1h`')
        const periodMs = this.duration(raw, [...path, 'period'])
        const graceMs =
          raw.grace === undefined
            ? Math.min(Math.max(periodMs * 0.1, 1000), 3_600_000)
            : this.duration(raw, [...path, 'grace'], true)
        const tokens = this.pushTokens(raw, path)
        return {
          ...common,
          kind,
          periodMs,
          graceMs,
          intervalMs: periodMs,
          target: `push every ${formatDuration(periodMs)}`,
          ...(tokens ? { tokens } : {}),
        }
      }
    }
  }

  /** A push check's `token` or `token_file` (read now, and again on every reload). */
  private pushTokens(raw: Record<string, unknown>, path: Path): string[] | undefined {
    if (raw.token !== undefined && raw.token_file !== undefined)
      this.fail([...path, 'token_file'], 'give `token` or `token_file`, not both')
    try {
      if (raw.token !== undefined) {
        // The value is never echoed: a message names the key only.
        if (typeof raw.token !== 'string') this.fail([...path, 'token'], 'must be a string (quote it)')
        checkToken(raw.token.trim())
        return [raw.token.trim()]
      }
      const file = this.str(raw, [...path, 'token_file'], false)
      if (file !== undefined) return readTokenFile(resolve(this.dir, file))
    } catch (error) {
      if (error instanceof TokenError)
        this.fail([...path, raw.token !== undefined ? 'token' : 'token_file'], error.message)
      throw error
    }
    return undefined
  }

  private checkType(raw: Record<string, unknown>, path: Path): string {
    if (raw.type !== undefined) {
      const type = String(raw.type).toLowerCase()
      const instead = NO_CHECKER[type]
      if (instead) this.fail([...path, 'type'], `"${type}" cannot be checked: ${instead}`)
      if (!CHECK_TYPES.includes(type))
        this.fail(
          [...path, 'type'],
          `unknown check type "${String(raw.type)}"${didYouMean(type, CHECK_TYPES)}; the types are ${CHECK_TYPES.join(', ')}`,
        )
      return type
    }
    const url = typeof raw.url === 'string' ? raw.url : typeof raw.target === 'string' ? raw.target : undefined
    if (url) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
      const where = [...path, raw.url !== undefined ? 'url' : 'target']
      const instead = scheme === undefined ? undefined : NO_CHECKER[scheme]
      if (instead) this.fail(where, `${scheme}:// cannot be checked: ${instead}`)
      if (scheme && CHECK_TYPES.includes(scheme) && scheme !== 'exec' && scheme !== 'push') return scheme
      this.fail(
        [...path, raw.url !== undefined ? 'url' : 'target'],
        `cannot tell the check type from "${redactUrl(url)}"; add a \`type\``,
      )
    }
    if (raw.command !== undefined) return 'exec'
    if (raw.period !== undefined) return 'push'
    this.fail(path, `check "${String(raw.name)}" needs a \`type\` (${CHECK_TYPES.join(', ')}) or a \`url\``)
  }

  private common(raw: Record<string, unknown>, path: Path, key: CheckKey, push = false): CheckSpecBase {
    const intervalMs = raw.interval === undefined ? DEFAULT_INTERVAL_MS : this.duration(raw, [...path, 'interval'])
    let timeoutMs: number
    if (raw.timeout === undefined) timeoutMs = Math.min(DEFAULT_TIMEOUT_MS, Math.max(1, Math.floor(intervalMs * 0.8)))
    else {
      timeoutMs = this.duration(raw, [...path, 'timeout'])
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
  private maintenance(raw: Record<string, unknown>, path: Path): MaintenanceWindow[] | undefined {
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
  private labels(raw: Record<string, unknown>, path: Path): Record<string, string> | undefined {
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

  private tls(raw: Record<string, unknown>, path: Path): TlsSettings {
    const tls: TlsSettings = {}
    if (this.defaults.caFile) tls.caFile = this.defaults.caFile
    const value = raw.tls
    if (value === undefined || value === null) return tls
    const p = [...path, 'tls']
    if (!isRecord(value)) this.fail(p, 'must be a mapping with ca_file, cert_file, key_file, server_name or insecure')
    const known = ['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure']
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

  private headers(raw: Record<string, unknown>, path: Path): Record<string, string> {
    if (raw.headers === undefined) return {}
    const out = this.stringMap(raw, path)
    for (const name of Object.keys(out))
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) this.fail([...path, name], 'is not a valid HTTP header name')
    return out
  }

  private stringMap(raw: Record<string, unknown>, path: Path): Record<string, string> {
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

  private expectStatus(raw: Record<string, unknown>, path: Path): { expectStatus?: number[] } {
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

  private str(raw: Record<string, unknown>, path: Path, required: true): string
  private str(raw: Record<string, unknown>, path: Path, required: false): string | undefined
  private str(raw: Record<string, unknown>, path: Path, required: boolean): string | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) {
      if (required) this.fail(path.slice(0, -1), `\`${String(path[path.length - 1])}\` is required`)
      return undefined
    }
    if (typeof value === 'number') return String(value)
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, 'must be a non-empty string')
    return value.trim()
  }

  private bool(raw: Record<string, unknown>, path: Path): boolean | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'boolean') return value
    if (value === 'true' || value === 'false') return value === 'true'
    this.fail(path, `${JSON.stringify(value)} is not true or false`)
  }

  private port(raw: Record<string, unknown>, path: Path): number {
    const value = raw[path[path.length - 1] as string]
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value
    if (typeof n !== 'number' || !Number.isInteger(n))
      this.fail(path, `${JSON.stringify(value)} is not a port; use a number from 1 to 65535`)
    const problem = portRangeProblem(n)
    if (problem) this.fail(path, problem)
    return n
  }

  private count(raw: Record<string, unknown>, path: Path): number | undefined {
    const value = raw[path[path.length - 1] as string]
    if (value === undefined || value === null) return undefined
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000)
      this.fail(path, `${JSON.stringify(value)} is not a count; use a whole number from 0 to 1000`)
    return value
  }

  private duration(raw: Record<string, unknown>, path: Path, allowZero = false): number {
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

  private url(value: string, path: Path, schemes: string[]): string {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
    const instead = scheme === undefined ? undefined : NO_CHECKER[scheme]
    if (instead) this.fail(path, `${scheme}:// cannot be checked: ${instead}`)
    const portProblem = urlPortProblem(value)
    if (portProblem) this.fail(path, `"${redactUrl(value)}": ${portProblem}`)
    let parsed: URL
    try {
      parsed = new URL(value)
    } catch {
      this.fail(path, `"${redactUrl(value)}" is not a URL, as in ${schemes[0]}//host:port`)
    }
    if (!schemes.includes(parsed.protocol))
      this.fail(
        path,
        `"${redactUrl(value)}" has the wrong scheme for this check; use ${schemes.map((s) => `${s}//`).join(' or ')}`,
      )
    return parsed.href
  }
}

function localhostOnlyHost(stanza: Record<string, unknown>, root: Record<string, unknown>, node: string): string {
  if (typeof stanza.host === 'string') return stanza.host
  return stanza.localhost_only === true || root.node === undefined ? 'localhost' : node
}

function formatHost(host: string): string {
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

/**
 * What a check does (its target and options) as a string: a reload keeps the state of a
 * check whose fingerprint did not change.
 */
export function checkFingerprint(spec: CheckSpec): string {
  const { source: _source, ...rest } = spec
  return JSON.stringify(rest)
}
