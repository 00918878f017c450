import { MAX_TIMER_MS } from '../core/clock.js'
import { jsonSafe, lineSafe } from '../core/inert.js'
import { addHeaderSecrets, addUrlSecrets, redactUrl } from '../core/redact.js'
import { runProbe } from '../core/run-probe.js'
import { caPemProblem, fileProblem, readSmallFileSync, SmallFileError } from '../core/small-file.js'
import type { CheckResult, Probe } from '../core/types.js'
import { probeForTarget, schemeOf, TargetError, type TargetOptions } from '../probes/url.js'
import { parseCommandArgs, parseDuration } from './args.js'
import { writeStdout } from './stdout.js'
import { parseHeaderFlag, UsageError } from './usage-error.js'

export const HELP = `Usage: probekit check [options] <target>…

Checks every target in parallel and prints one line per target: "ok <target> …" or
"failed <target>: <reason>", credentials redacted. Exits 0 when every target passed,
1 otherwise (never 2, which Docker reserves). Made for Docker HEALTHCHECK and
Kubernetes exec probes: no curl, redis-cli or pg_isready needed in the image.

Targets:
  http://host:port/path, https://…   a 2xx or 3xx answer (see --expect-status)
  tcp://host:port                    the port accepts a connection
  redis://[:password@]host:port/db, rediss://…   PING answers PONG
    its Unix socket: redis://localhost/db?socket=/run/redis/redis-server.sock
  postgres://user:password@host:port/db (postgresql://)   SELECT 1
    its Unix socket: postgres://user@/db?host=/var/run/postgresql
  mysql://user:password@host:port/db SELECT 1
    its Unix socket: mysql://user@localhost/db?socket=/run/mysqld/mysqld.sock
  memcached://host:port[,host:port…] every listed server answers
  amqp://user:password@host:port/vhost, amqps://…   the broker accepts a connection
  nats://host:port                   the server answers
  mqtt://host:port, mqtts://…        the broker accepts a connection
  grpc://host:port[/service], grpcs://…   grpc.health.v1 Check answers SERVING
  file:///path                       the file exists (and is fresh, with --max-age)

Options:
  --timeout DURATION       deadline per target (default 5s): seconds (3) or 500ms, 2s
  --header 'Name: value'   http(s): a request header (repeatable)
  --expect-status STATUS   http(s): statuses that pass: 204, 200,204, 200-299 or 2xx (default 200-399)
  --ca FILE                TLS: trust this CA certificate (PEM)
  --insecure               TLS: accept any server certificate
  --max-age DURATION       file: fail when the file was last modified longer ago
  --json                   print the results as a JSON array instead of lines
  -q, --quiet              print nothing; the exit status says it all
  -h, --help               show this help
  -V, --version            print the version

Examples:
  probekit check http://127.0.0.1:8080/readyz
  probekit check --timeout 2 redis://127.0.0.1:6379 postgres://app:secret@db:5432/app
  probekit check --header 'Host: app.example' --expect-status 204 https://127.0.0.1:8443/healthz
  probekit check --max-age 70s file:///app/tmp/worker.live
  probekit check grpc://127.0.0.1:50051/ready

Dockerfile:
  HEALTHCHECK --interval=10s --timeout=3s CMD ["probekit", "check", "http://127.0.0.1:8080/readyz"]
`

/** The default deadline per target, in ms. */
export const DEFAULT_TIMEOUT_MS = 5000

/** Docker keeps 4 KB of a health check's output; every line together stays inside it. */
const OUTPUT_BUDGET = 3800
const MIN_LINE = 160

/** One target's outcome, as `--json` prints it. */
export interface TargetResult extends CheckResult {
  /** The target as given, credentials redacted. */
  target: string
}

interface Parsed {
  targets: string[]
  options: TargetOptions
  timeoutMs: number
  quiet: boolean
  json: boolean
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parse(argv)
  if (!parsed) return 0
  const { targets, timeoutMs, quiet, json } = parsed
  // The credentials given on the command line are masked by value in every line printed,
  // also where a server or a driver quotes them back.
  for (const target of targets) addUrlSecrets(target)
  addHeaderSecrets(parsed.options.headers)

  const probes = await Promise.all(targets.map((target) => createProbe(target, parsed.options)))
  const results = await Promise.all(
    probes.map(async (probe, i): Promise<TargetResult> => {
      const result = await runProbe(probe, { timeoutMs })
      // A tenth of a millisecond, as the text line prints it: finer digits are timer noise.
      const rounded = { ...result, durationMs: Math.round(result.durationMs * 10) / 10 }
      if (rounded.output !== undefined) rounded.output = asFlags(rounded.output)
      return { target: redactUrl(targets[i] as string), ...rounded }
    }),
  )
  if (!quiet) {
    // What a server said (a status text, a body excerpt) is made inert before it reaches a terminal.
    if (json) writeStdout(`${jsonSafe(JSON.stringify(results, null, 2))}\n`)
    else {
      const cap = Math.max(MIN_LINE, Math.floor(OUTPUT_BUDGET / results.length))
      writeStdout(results.map((r) => `${capLine(lineSafe(formatLine(r)), cap)}\n`).join(''))
    }
  }
  return results.every((r) => r.status === 'pass') ? 0 : 1
}

async function createProbe(target: string, options: TargetOptions): Promise<Probe> {
  try {
    return await probeForTarget(target, options)
  } catch (error) {
    // A target the probe itself rejects (a bad port, a missing host) is the user's input too.
    if (error instanceof TargetError || error instanceof TypeError) throw new UsageError(error.message)
    throw error
  }
}

/** Probes name their options (`the ca option`); on the command line they are flags. */
function asFlags(reason: string): string {
  return reason.replace('with the ca option, or set insecure', 'with --ca FILE, or pass --insecure')
}

/** `ok redis://127.0.0.1:6379 PONG in 1.1 ms` or `failed postgres://app:***@db:5432/app: timed out after 3000 ms`. */
export function formatLine(result: TargetResult): string {
  if (result.status === 'pass') {
    const message = result.output ? ` ${withoutTarget(result.output, result.target)}` : ''
    return `ok ${result.target}${message} in ${result.durationMs.toFixed(1)} ms`
  }
  return `failed ${result.target}: ${withoutTarget(result.output ?? 'failed', result.target)}`
}

/**
 * Probes start their reasons with what they checked (`tcp 127.0.0.1:5432: connection
 * refused`), which the line already names: drop that prefix so the reason comes first.
 */
function withoutTarget(reason: string, target: string): string {
  const forms = [target]
  try {
    const url = new URL(target)
    forms.push(redactUrl(url.href))
    if (url.host) forms.push(`${url.host}${url.pathname}`, url.host)
    else if (url.protocol === 'file:') forms.push(decodeURIComponent(url.pathname))
    // A Unix socket the URL names (`?socket=/run/redis/redis.sock`), which a reason names instead of the host.
    const socket = url.searchParams.get('socket')
    if (socket?.startsWith('/')) forms.push(`${socket}${url.pathname}`, socket)
  } catch {}
  for (const form of forms) {
    const at = reason.indexOf(form)
    // Only as the reason's subject: at the very start, or after one word naming the kind of check.
    if (at === -1 || (at > 0 && !/^[a-z]+ $/i.test(reason.slice(0, at)))) continue
    const rest = reason.slice(at + form.length)
    if (rest.startsWith(': ')) return rest.slice(2)
    if (rest.startsWith(' ')) return rest.slice(1)
  }
  return withoutDefaultPort(reason, target) ?? reason
}

/**
 * A URL without a port (`mysql://app@db/shop`) is named by its probe with the scheme's
 * default port (`mysql db:3306/shop: …`), which no form above matches: the subject with any
 * port, then the URL's path, is the target too.
 */
function withoutDefaultPort(reason: string, target: string): string | undefined {
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return undefined
  }
  if (!url.hostname || url.port) return undefined
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const path = url.pathname && url.pathname !== '/' ? `(?:${literal(url.pathname)})?` : '/?'
  const subject = new RegExp(`^(?:[a-z]+ )?${literal(url.hostname)}:\\d{1,5}${path}(?:: | )`, 'i')
  const match = subject.exec(reason)
  return match ? reason.slice(match[0].length) : undefined
}

function capLine(line: string, cap: number): string {
  return line.length <= cap ? line : `${line.slice(0, cap - 1)}…`
}

/** Schemes whose checks may speak TLS, and so take --ca and --insecure (postgres as its sslmode says, nats as the server asks). */
const TLS_SCHEMES = ['https', 'rediss', 'postgres', 'postgresql', 'amqps', 'mqtts', 'nats', 'tls', 'grpcs']

/** A value of each flag that takes one, for a usage error's example. */
const FLAG_EXAMPLES: Record<string, string> = {
  timeout: '2s',
  'expect-status': '2xx',
  'max-age': '5m',
  ca: 'ca.pem',
}

function parse(argv: string[]): Parsed | undefined {
  const line = parseCommandArgs(argv, {
    flags: {
      timeout: { type: 'string' },
      header: { type: 'string', multiple: true },
      'expect-status': { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      'max-age': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
    help: HELP,
    positionals: true,
    otherTools: {
      '--endpoint':
        "the URL is an argument of its own here: maykin-common's health-check --endpoint=URL --timeout=3 is probekit check --timeout 3 URL",
    },
  })
  if (!line) return undefined
  const { values, positionals } = line
  // `--timeout http://…` (the value forgotten) takes the target as the flag's value.
  for (const [flag, value] of Object.entries(values)) {
    if (typeof value === 'string' && /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
      throw new UsageError(
        `--${flag} took a target as its value; give the flag its value first, e.g. probekit check --${flag} ${FLAG_EXAMPLES[flag] ?? 'VALUE'} http://127.0.0.1:8080/readyz`,
      )
    }
  }
  if (positionals.length === 0) {
    throw new UsageError('name at least one target, e.g. probekit check http://127.0.0.1:8080/readyz')
  }
  if (values.json && values.quiet) throw new UsageError('--json and --quiet contradict each other; choose one')

  const schemes = positionals.map((target) => {
    try {
      return schemeOf(target)
    } catch (error) {
      if (error instanceof TargetError) throw new UsageError(error.message)
      throw error
    }
  })
  const has = (...names: string[]) => schemes.some((s) => names.includes(s))
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(values.timeout, '--timeout')
  // The connect phase waits as long as the whole check, up to what one timer holds (24.8 days).
  const options: TargetOptions = { timeout: timeoutMs, connectTimeout: Math.min(timeoutMs, MAX_TIMER_MS) }

  const headers = values.header
  const expectStatus = values['expect-status']
  if ((headers || expectStatus !== undefined) && !has('http', 'https')) {
    throw new UsageError(
      `${headers ? '--header' : '--expect-status'} applies to http:// and https:// targets, and none was given`,
    )
  }
  if (headers) {
    options.headers = {}
    for (const header of headers) {
      const { name, value } = parseHeaderFlag(header)
      options.headers[name] = value
    }
  }
  if (expectStatus !== undefined) {
    const text = expectStatus.trim()
    if (/^\d{3}(,\d{3})*$/.test(text)) {
      const codes = text.split(',').map(Number)
      options.expectStatus = codes.length === 1 ? (codes[0] as number) : codes
    } else if (/^(\d{3}-\d{3}|[1-5]xx)$/i.test(text)) options.expectStatus = text
    else {
      throw new UsageError(
        `--expect-status ${JSON.stringify(expectStatus)} is not a status; use a code (204), a list (200,204), a range (200-299) or a class (2xx)`,
      )
    }
  }
  if ((values.ca !== undefined || values.insecure) && !has(...TLS_SCHEMES)) {
    throw new UsageError(
      `${values.ca !== undefined ? '--ca' : '--insecure'} applies to TLS targets (${TLS_SCHEMES.filter(
        (s) => s !== 'postgresql' && s !== 'tls',
      )
        .map((s) => `${s}://`)
        .join(', ')}), and none was given`,
    )
  }
  if (values.ca !== undefined) {
    let ca: Buffer
    try {
      ca = readSmallFileSync(values.ca)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const reason =
        code === 'ENOENT'
          ? 'does not exist'
          : error instanceof SmallFileError
            ? `is ${error.message}`
            : `cannot be read (${fileProblem(error)})`
      throw new UsageError(`--ca ${values.ca}: the CA certificate file ${reason}; pass a PEM file`)
    }
    const notPem = caPemProblem(ca)
    if (notPem) throw new UsageError(`--ca ${values.ca}: the CA certificate file ${notPem}`)
    options.ca = ca
  }
  if (values.insecure) options.insecure = true
  if (values['max-age'] !== undefined) {
    if (!has('file')) throw new UsageError('--max-age applies to file:// targets, and none was given')
    options.maxAge = parseDuration(values['max-age'], '--max-age')
  }
  return {
    targets: positionals,
    options,
    timeoutMs,
    quiet: values.quiet === true,
    json: values.json === true,
  }
}
