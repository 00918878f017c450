import { durationMs } from '../core/duration.js'
import { terminalSafe } from '../core/inert.js'
import { redactUrl } from '../core/redact.js'
import { GROUPS, type Group } from '../core/types.js'
import {
  budgetsOf,
  budgetWords,
  DEFAULT_PATHS,
  defaultBudgets,
  EXEC_MARGIN_MS,
  type GenSettings,
  type GroupBudget,
  HTTP_MARGIN_MS,
  pathsOf,
} from '../gen/settings.js'
import { portRangeProblem } from '../probes/url.js'
import { type FlagSpecs, type FlagValues, parseCommandArgs, parseDuration } from './args.js'
import { parseHeaderFlag, UsageError } from './usage-error.js'

const KINDS = ['k8s', 'docker', 'compose', 'nginx'] as const
type Kind = (typeof KINDS)[number]

export const HELP = `Usage: probekit gen <k8s|docker|compose|nginx> [options]

Writes health-check snippets for deployment files to stdout, timed to agree with the
app's own probe deadlines when --config names its health module.

  k8s       livenessProbe, readinessProbe and startupProbe (HTTP, gRPC with --grpc, or exec with --exec)
  docker    a Dockerfile HEALTHCHECK line running "probekit check" (no curl in the image)
  compose   a compose "healthcheck:" block
  nginx     "location" blocks answering the health paths for local callers only

Options:
  --config FILE             the app's health module: paths and timeouts come from its probes
  --port PORT               port of the health endpoints (default 9000; k8s also takes a port name)
  --paths LIVE,READY,STARTUP  the three paths at once (default /livez,/readyz,/healthz)
  --live-path PATH, --ready-path PATH, --startup-path PATH
  --scheme http|https       probe over TLS with https (default http)
  --header 'Name: value'    a request header (repeatable)
  --exec                    exec probes running "probekit probe --<group> --config FILE"
  --grpc PORT               k8s: native gRPC probes (service live, ready, startup) on this
                            port, served by addHealthService from probekit/grpc
  --bin PATH                the probekit command in the container (default probekit)
  --period DURATION         how often to probe (default 10s; alias --interval)
  --timeout DURATION        the orchestrator's timeout per probe (default: the slowest
                            probe deadline plus a margin, rounded up to whole seconds);
                            shorter than the probes need (without --config, probes
                            of the default 900 ms deadline) is an error
  --failure-threshold N     failures before acting (default 3; alias --retries)
  --success-threshold N     successes before ready again (default 1; readiness only)
  --initial-delay DURATION  delay before the first probe (default 0)
  --start-period DURATION   time the app may take to start (default 30s)
  --group live|ready|startup  docker, compose: the endpoint to check (default ready)
  --container NAME          k8s: emit a "containers:" entry with this name
  --name NAME               compose: nest the block under services.NAME
  --upstream URL            nginx: proxy the readiness path to the backend (see the warning)
  -h, --help                show this help

Durations are seconds (10) or values with a unit (500ms, 2s, 1m).

Examples:
  probekit gen k8s --port 9000 --config ./dist/health.js
  probekit gen k8s --exec --config /app/health.js --period 15s
  probekit gen k8s --grpc 50051 --config ./dist/health.js
  probekit gen docker --port 8080 --paths /_healthz/livez/,/_healthz/readyz/,/_healthz/
  probekit gen compose --port 8080 --name web
  probekit gen nginx --paths /_healthz/livez/,/_healthz/readyz/,/_healthz/ --upstream http://127.0.0.1:8000
`

const options = {
  config: { type: 'string' },
  port: { type: 'string' },
  paths: { type: 'string' },
  'live-path': { type: 'string' },
  'ready-path': { type: 'string' },
  'startup-path': { type: 'string' },
  scheme: { type: 'string' },
  header: { type: 'string', multiple: true },
  exec: { type: 'boolean' },
  grpc: { type: 'string' },
  bin: { type: 'string' },
  period: { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  'failure-threshold': { type: 'string' },
  retries: { type: 'string' },
  'success-threshold': { type: 'string' },
  'initial-delay': { type: 'string' },
  'start-period': { type: 'string' },
  group: { type: 'string' },
  container: { type: 'string' },
  name: { type: 'string' },
  upstream: { type: 'string' },
} as const satisfies FlagSpecs

type Values = FlagValues<typeof options>

export async function run(argv: string[]): Promise<number> {
  const line = parseCommandArgs(argv, { flags: options, help: HELP, positionals: true })
  if (!line) return 0
  const { values, positionals } = line
  const kind = positionals[0]
  if (kind === undefined) throw new UsageError(`say what to generate: one of ${KINDS.join(', ')}`)
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`cannot generate ${JSON.stringify(kind)}; choose one of ${KINDS.join(', ')}`)
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`)
  // Flags end up in the snippets and warnings: nothing in them may drive a terminal.
  process.stdout.write(terminalSafe(await generate(kind as Kind, values)))
  return 0
}

/** Builds the settings from the flags (and the config module), checks them, and renders. */
async function generate(kind: Kind, values: Values): Promise<string> {
  checkApplicable(kind, values)
  const group = parseGroup(values.group)
  let budgets = defaultBudgets()
  let appPaths: Partial<Record<Group, string>> = {}
  let configPath: string | undefined
  if (values.config !== undefined) {
    const { resolveConfigPath, loadHealthModule } = await import('./health-module.js')
    configPath = resolveConfigPath(values.config)
    const health = await loadHealthModule(configPath)
    try {
      budgets = budgetsOf(health, { exec: values.exec === true })
      appPaths = pathsOf(health)
    } finally {
      await health.close()
    }
  }
  // Groups the app serves no HTTP path for (`paths: { startup: false }`): an HTTP probe of
  // one would ask a path that answers 404 (a startup probe that never passes restarts the
  // container for ever). Exec and gRPC probes do not go through the paths.
  const unserved =
    configPath === undefined || values.exec || values.grpc !== undefined
      ? []
      : GROUPS.filter((g) => appPaths[g] === undefined && !pathGiven(values, g))
  if ((kind === 'docker' || kind === 'compose') && unserved.includes(group)) {
    throw new UsageError(
      `${configPath} serves no ${GROUP_WORDS[group]} path, so a health check of it would get 404; choose --group ${GROUPS.filter((g) => !unserved.includes(g)).join(' or ')}, give --${group}-path, or use --exec to run its probes with "probekit probe --${group}"`,
    )
  }
  // A kubelet HTTP or gRPC probe, and nginx proxying readiness to the backend, only wait for
  // the answer; a Docker health check or an exec probe starts a process first.
  const margin = (kind === 'k8s' && !values.exec) || kind === 'nginx' ? HTTP_MARGIN_MS : EXEC_MARGIN_MS
  const probed: Group[] = kind === 'k8s' ? [...GROUPS] : kind === 'nginx' ? (values.upstream ? ['ready'] : []) : [group]
  const checked = probed.filter((g) => !unserved.includes(g))
  const explicitMs = values.timeout === undefined ? undefined : flagMs(values.timeout, '--timeout', false)
  const timeoutSeconds = {} as Record<Group, number>
  const checkTimeoutMs = {} as Record<Group, number>
  const tooShortFor: Group[] = []
  for (const g of GROUPS) {
    const budget = budgets[g]
    const requiredMs = budget.deadlineMs + margin
    // Without --config the assumed default deadline binds just as the app's own would.
    if (explicitMs !== undefined && checked.includes(g) && explicitMs < requiredMs) tooShortFor.push(g)
    if (explicitMs === undefined) timeoutSeconds[g] = Math.max(1, Math.ceil(requiredMs / 1000))
    else if (kind === 'k8s' || kind === 'nginx') timeoutSeconds[g] = Math.max(1, Math.ceil(explicitMs / 1000))
    else timeoutSeconds[g] = roundUpSeconds(explicitMs / 1000)
    // probekit check answers (pass or fail) before the orchestrator's timeout kills it.
    checkTimeoutMs[g] = Math.max(CHECK_FLOOR_MS, budget.deadlineMs + HTTP_MARGIN_MS)
  }
  if (tooShortFor.length > 0) {
    throw new Error(tooShort(values.timeout as string, tooShortFor, budgets, margin, configPath))
  }

  const settings: GenSettings = {
    port: parsePort(values.port, kind),
    paths: resolvePaths(values, appPaths),
    scheme: parseScheme(values.scheme),
    headers: (values.header ?? []).map(parseHeaderFlag),
    periodSeconds: seconds(values.period ?? values.interval, values.period ? '--period' : '--interval', 10, false),
    failureThreshold: count(values['failure-threshold'] ?? values.retries, '--failure-threshold', 3),
    successThreshold: count(values['success-threshold'], '--success-threshold', 1),
    initialDelaySeconds: seconds(values['initial-delay'], '--initial-delay', 0, true),
    startPeriodSeconds: seconds(values['start-period'], '--start-period', 30, true),
    timeoutSeconds,
    checkTimeoutMs,
    bin: values.bin ?? 'probekit',
    exec: values.exec ? { config: values.config } : undefined,
    grpc: values.grpc === undefined ? undefined : { port: parseGrpcPort(values.grpc) },
    unserved,
  }
  let comment = describe(kind, settings, budgets, checked, margin, configPath, explicitMs !== undefined)
  // docker and compose check one group (a group without a path was refused above): the
  // others are not theirs to mention.
  for (const g of kind === 'docker' || kind === 'compose' ? [] : unserved) {
    const left = kind === 'k8s' ? `no ${PROBE_NAMES[g]}` : `no location for the ${GROUP_WORDS[g]} path`
    comment += `\n${left}: ${configPath} serves no ${GROUP_WORDS[g]} path.`
  }
  for (const note of timingNotes(kind, settings, checked)) comment += `\n${note}`
  switch (kind) {
    case 'k8s': {
      const { renderKubernetes } = await import('../gen/k8s.js')
      return renderKubernetes(settings, { container: values.container, comment })
    }
    case 'docker': {
      const { renderDockerfile } = await import('../gen/docker.js')
      return renderDockerfile(settings, { group, comment })
    }
    case 'compose': {
      const { renderCompose } = await import('../gen/compose.js')
      return renderCompose(settings, { group, service: values.name, comment })
    }
    case 'nginx': {
      const { renderNginx } = await import('../gen/nginx.js')
      return renderNginx(settings, { upstream: values.upstream, comment })
    }
  }
}

/** The least time `probekit check` gets inside a Docker health check, even for a group without probes. */
const CHECK_FLOOR_MS = 500

const GROUP_WORDS: Record<Group, string> = { live: 'liveness', ready: 'readiness', startup: 'startup' }
const PROBE_NAMES: Record<Group, string> = { live: 'livenessProbe', ready: 'readinessProbe', startup: 'startupProbe' }

/** Whether a flag names the group's path (`--paths` names all three). */
function pathGiven(values: Values, group: Group): boolean {
  return values.paths !== undefined || values[`${group}-path`] !== undefined
}

function tooShort(
  given: string,
  groups: Group[],
  budgets: Record<Group, GroupBudget>,
  marginMs: number,
  configPath: string | undefined,
): string {
  const neededSeconds = Math.max(...groups.map((g) => Math.ceil((budgets[g].deadlineMs + marginMs) / 1000)))
  const use = `Use --timeout ${neededSeconds} or more`
  if (configPath === undefined) {
    // Every group has the same assumed budget: one need says it all.
    const { deadlineMs } = budgets[groups[0] as Group]
    return `--timeout ${given} is too short for probes with the library's default deadline, which gen assumes without --config: they need ${deadlineMs + marginMs} ms (a ${deadlineMs} ms deadline, plus ${marginMs} ms margin). ${use}, or give --config the app's health module to time the probes by its own deadlines`
  }
  const needs = groups.map((g) => {
    const b = budgets[g]
    const words = budgetWords(b)
    const why =
      words === undefined
        ? `no ${GROUP_WORDS[g]} probes run on request, only the ${marginMs} ms margin`
        : `${words}, plus ${marginMs} ms margin`
    return `the ${GROUP_WORDS[g]} probes need ${b.deadlineMs + marginMs} ms (${why})`
  })
  return `--timeout ${given} is too short for the probes of ${configPath}: ${needs.join('; ')}. ${use}, or lower those probes' timeouts`
}

/** The header comment: where the numbers came from, so a reader of the deployment file can check them. */
function describe(
  kind: Kind,
  settings: GenSettings,
  budgets: Record<Group, GroupBudget>,
  checked: Group[],
  marginMs: number,
  configPath: string | undefined,
  explicit: boolean,
): string {
  const lines = [`Generated by probekit gen ${kind}.`]
  if (checked.length === 0) {
    lines.push('nginx answers these paths itself; only local callers get an answer.')
    return lines.join('\n')
  }
  for (const g of checked) {
    const b = budgets[g]
    const source =
      configPath === undefined
        ? `the default probe deadline of ${b.deadlineMs} ms`
        : b.firstRun
          ? `${b.deadlineMs} ms for ${budgetWords(b)}`
          : b.slowest === undefined
            ? `no ${GROUP_WORDS[g]} probes run on request`
            : `slowest ${GROUP_WORDS[g]} deadline ${b.deadlineMs} ms (${b.slowest})`
    const alone = configPath !== undefined && !b.firstRun && b.slowest === undefined
    const how = explicit
      ? 'given with --timeout'
      : alone
        ? `${source}, so the ${marginMs} ms margin alone`
        : `${source} + ${marginMs} ms margin`
    lines.push(`${GROUP_WORDS[g]} timeout ${settings.timeoutSeconds[g]} s: ${how}.`)
  }
  return lines.join('\n')
}

/**
 * What the header says about timings the output does not carry as given: a Kubernetes
 * period in whole seconds (`--period 500ms` is written `periodSeconds: 1`), and a timeout
 * longer than the period, which a reader should not find by surprise.
 */
function timingNotes(kind: Kind, settings: GenSettings, checked: Group[]): string[] {
  const notes: string[] = []
  const period = settings.periodSeconds
  const written = kind === 'k8s' ? Math.max(1, Math.ceil(period)) : period
  if (written !== period)
    notes.push(`period ${period} s written as ${written} s: Kubernetes counts probe periods in whole seconds.`)
  if (kind === 'nginx') return notes
  const over = new Map<number, string[]>()
  for (const g of checked) {
    const timeout = settings.timeoutSeconds[g]
    if (timeout > written) over.set(timeout, [...(over.get(timeout) ?? []), GROUP_WORDS[g]])
  }
  for (const [timeout, words] of over) {
    const which =
      words.length === 1
        ? `${words[0]} timeout is`
        : `${words.slice(0, -1).join(', ')} and ${words.at(-1)} timeouts are`
    notes.push(
      `note: the ${which} longer than the period (${timeout} s against ${written} s); a probe that takes that long delays the next one.`,
    )
  }
  return notes
}

/** Flags that make no sense for the kind are usage errors rather than silently ignored. */
function checkApplicable(kind: Kind, values: Values): void {
  const only: [keyof Values, Kind[]][] = [
    ['container', ['k8s']],
    ['name', ['compose']],
    ['upstream', ['nginx']],
    ['group', ['docker', 'compose']],
    ['exec', ['k8s', 'docker', 'compose']],
    ['grpc', ['k8s']],
    ['success-threshold', ['k8s']],
    ['initial-delay', ['k8s']],
    // nginx answers locally or proxies to --upstream: no port, scheme, header, command or schedule of its own.
    ['port', ['k8s', 'docker', 'compose']],
    ['scheme', ['k8s', 'docker', 'compose']],
    ['header', ['k8s', 'docker', 'compose']],
    ['bin', ['k8s', 'docker', 'compose']],
    ['period', ['k8s', 'docker', 'compose']],
    ['interval', ['k8s', 'docker', 'compose']],
    ['failure-threshold', ['k8s', 'docker', 'compose']],
    ['retries', ['k8s', 'docker', 'compose']],
    ['start-period', ['k8s', 'docker', 'compose']],
  ]
  for (const [flag, kinds] of only) {
    if (values[flag] !== undefined && !kinds.includes(kind)) {
      throw new UsageError(`--${flag} applies to gen ${kinds.join(' and ')} only, not gen ${kind}`)
    }
  }
  if (kind === 'k8s' && values.bin !== undefined && !values.exec) {
    throw new UsageError('--bin names the command of exec probes; gen k8s writes them with --exec only')
  }
  if (kind === 'nginx' && values.timeout !== undefined && values.upstream === undefined) {
    throw new UsageError('--timeout applies to gen nginx only with --upstream: the local answer waits for nothing')
  }
  if (values.exec && (values.header || values.scheme || values.port)) {
    throw new UsageError(
      '--exec runs the probes inside the container; --port, --scheme and --header apply to HTTP probes only',
    )
  }
  if (values.grpc !== undefined && (values.exec || values.header || values.scheme || values.port || values.paths)) {
    throw new UsageError(
      '--grpc makes gRPC probes on its own port; --exec, --port, --paths, --scheme and --header apply to the other kinds of probe',
    )
  }
  if (values.container !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(values.container)) {
    throw new UsageError(
      `--container ${JSON.stringify(values.container)} is not a Kubernetes container name; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. web)`,
    )
  }
  // The compose spec's service names are [a-zA-Z0-9._-]+; a name that starts with '-', '.'
  // or '_' passes the schema but reads as an option to "docker compose logs -web".
  if (values.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(values.name)) {
    throw new UsageError(
      `--name ${JSON.stringify(values.name)} is not a compose service name; use ASCII letters, digits, '.', '_' and '-', starting with a letter or digit (e.g. web)`,
    )
  }
  if (values.upstream !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(values.upstream)
    } catch {}
    const shown = JSON.stringify(redactUrl(values.upstream))
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || /[\s;{}'"]/.test(values.upstream)) {
      throw new UsageError(`--upstream ${shown} is not an http(s) URL such as http://web:8000`)
    }
    // nginx expands variables in proxy_pass: http://web:8000/$host would send each request
    // where its Host header says. A query or fragment would be dropped without a word.
    if (values.upstream.includes('$') || url.search || url.hash) {
      throw new UsageError(
        `--upstream ${shown} holds a $, a query or a fragment, which proxy_pass would expand or drop; give the backend's origin (http://web:8000), with its readiness path if it differs`,
      )
    }
    // proxy_pass has no place for them: they would be dropped without a word.
    if (url.username || url.password) {
      throw new UsageError(
        `--upstream ${shown} holds a user or password, which nginx's proxy_pass cannot send; give the URL without them (http://web:8000) and add the backend's Authorization header to the location by hand`,
      )
    }
  }
}

/** Kubernetes' `grpc.port` is a number: a named port is not allowed there. */
function parseGrpcPort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (port >= 1 && port <= 65535) return port
  throw new UsageError(
    `--grpc ${JSON.stringify(value)} is not a port; use a number from 1 to 65535 (Kubernetes gRPC probes take no port names)`,
  )
}

function parseGroup(value: string | undefined): Group {
  if (value === undefined) return 'ready'
  if ((GROUPS as readonly string[]).includes(value)) return value as Group
  throw new UsageError(`--group ${JSON.stringify(value)} is not a group; use live, ready or startup`)
}

function resolvePaths(values: Values, appPaths: Partial<Record<Group, string>>): Record<Group, string> {
  const paths: Record<Group, string> = { ...DEFAULT_PATHS, ...appPaths }
  if (values.paths !== undefined) {
    const list = values.paths.split(',').map((p) => p.trim())
    if (list.length !== 3 || list.some((p) => p === '')) {
      throw new UsageError(
        `--paths ${JSON.stringify(values.paths)} needs three comma-separated paths: live, ready, startup (e.g. /livez,/readyz,/healthz)`,
      )
    }
    ;[paths.live, paths.ready, paths.startup] = list as [string, string, string]
  }
  if (values['live-path'] !== undefined) paths.live = values['live-path']
  if (values['ready-path'] !== undefined) paths.ready = values['ready-path']
  if (values['startup-path'] !== undefined) paths.startup = values['startup-path']
  for (const g of GROUPS) {
    // Paths end up in YAML, a Dockerfile, a shell-free command and nginx config: keep them
    // plain. No `$`: nginx expands variables in proxy_pass (`/r$request_uri`).
    if (!/^\/[A-Za-z0-9._~%/:@+!*=-]*$/.test(paths[g])) {
      throw new UsageError(
        `the ${GROUP_WORDS[g]} path ${JSON.stringify(paths[g])} is not a plain URL path; it must start with / and hold only ASCII letters, digits and . _ ~ % / : @ + ! * = - (no spaces, quotes, ;, {}, $, #, ? or non-ASCII characters)`,
      )
    }
  }
  return paths
}

/**
 * A Kubernetes port name (IANA_SVC_NAME, as the API server's IsValidPortName checks it): at
 * most 15 lowercase letters, digits and '-', at least one letter, no '-' at either end and
 * no two in a row. Anything else `kubectl apply` refuses.
 */
const K8S_PORT_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/

function parsePort(value: string | undefined, kind: Kind): number | string {
  if (value === undefined) return 9000
  if (/^\d+$/.test(value)) {
    const port = Number(value)
    const problem = portRangeProblem(port)
    if (!problem) return port
    throw new UsageError(`--port: ${problem}`)
  } else if (kind === 'k8s' && K8S_PORT_NAME.test(value)) {
    return value
  }
  const names =
    kind === 'k8s'
      ? ` or a Kubernetes port name such as "management" (at most 15 lowercase letters, digits and single '-' between them, with at least one letter)`
      : ''
  throw new UsageError(`--port ${JSON.stringify(value)} is not a port; use a number from 1 to 65535${names}`)
}

function parseScheme(value: string | undefined): 'HTTP' | 'HTTPS' {
  if (value === undefined || value.toLowerCase() === 'http') return 'HTTP'
  if (value.toLowerCase() === 'https') return 'HTTPS'
  throw new UsageError(`--scheme ${JSON.stringify(value)} is not http or https`)
}

/** The most Kubernetes takes in a probe's seconds and thresholds (an int32); Docker takes more. */
const MAX_FIELD = 2 ** 31 - 1

/** A duration flag in ms: positive (or zero, where `zeroAllowed`) and short enough for the orchestrators. */
function flagMs(value: string, flag: string, zeroAllowed: boolean): number {
  if (zeroAllowed && durationMs(value) === 0) return 0
  const ms = parseDuration(value, flag)
  if (ms > MAX_FIELD * 1000) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is too long; Kubernetes takes at most ${MAX_FIELD} seconds`)
  }
  return ms
}

function seconds(value: string | undefined, flag: string, fallback: number, zeroAllowed: boolean): number {
  if (value === undefined) return fallback
  return roundUpSeconds(flagMs(value, flag, zeroAllowed) / 1000)
}

function roundUpSeconds(value: number): number {
  return Math.ceil(value * 1000) / 1000
}

function count(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_FIELD) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_FIELD}`)
  }
  return Number(value)
}
