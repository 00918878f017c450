import { type FSWatcher, readdirSync, statSync, watch } from 'node:fs'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { lineSafe } from '../core/inert.js'
import type { Logger } from '../core/logger.js'
import { redact as redactText, redactUrl } from '../core/redact.js'
import { fileProblem, readSmallFileSync } from '../core/small-file.js'
import { isLoopbackHost, TokenError, TokenFile } from '../monitor/auth.js'
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../monitor/deliveries.js'
import type { Monitor } from '../monitor/monitor.js'
import type { ReplicaShare } from '../monitor/replicas.js'
import { registerReceiverSecrets, registerSecrets } from '../monitor/secrets.js'
import type { EtcdStore } from '../monitor/store/etcd.js'
import { isEtcdAddress, openStoreAsync, SqliteMissingError, SqliteStore, StoreError } from '../monitor/store/index.js'
import type { MonitorStore } from '../monitor/types.js'
import { parseCommandArgs, parseDuration } from './args.js'
import { readCaFileFlag } from './ca-file.js'
import { ETCD_FLAG_OPTIONS, etcdFlags, etcdFlagsHelp } from './etcd-flags.js'
import { UsageError } from './usage-error.js'

/**
 * Turns off V8's allocation-site pretenuring for this process (the monitor's own), unless
 * the node command line says otherwise. A monitor loading a large fleet has a burst of
 * long-lived allocations at start (every check's first result, transition and store write
 * at once); V8 learns from it to allocate the objects of every later check — results,
 * requests, response headers — straight in the old generation, and that decision sticks.
 * A check's objects live for a millisecond, so they then fill the old generation with
 * garbage: measured with 50,000 HTTP targets at 10,000 checks/s, ~36 MB/s promoted, the
 * heap swinging between 0.2 and 0.8 GB, and ~80 µs of CPU per check instead of ~52.
 * Flags set after start-up are applied by V8 from then on (tested on Node 20 to 26).
 */
function tuneHeap(): void {
  const flag = heapFlag(process.execArgv)
  if (flag) setFlagsFromString(flag)
}

/** The V8 flag `probekit monitor` sets for itself, or undefined when node's own command line decides. */
export function heapFlag(execArgv: readonly string[]): string | undefined {
  return execArgv.some((arg) => /^--(no-)?allocation[-_]site[-_]pretenuring(=|$)/.test(arg))
    ? undefined
    : '--no-allocation-site-pretenuring'
}

export const DEFAULT_LISTEN = '127.0.0.1:8008'
export const DEFAULT_STORE = 'sqlite:probekit-monitor.sqlite'

export const HELP = `Usage: probekit monitor [options] MANIFEST_OR_DIR…

Watches a fleet: every check of every pod manifest (YAML files, or directories of them)
runs on its interval, and what it sees is kept in an embedded store. p2 pod manifests
work unchanged (id, status_port, status_http, status); a manifest may also list checks
(http, https, tcp, redis://…, postgres://…, exec, push). See docs/monitor.md.

Serves the HTTP API, /metrics, push endpoints, the dashboard and its own /livez and
/readyz on --listen. Reloads the manifests on SIGHUP and when a manifest file changes
(a bad manifest is reported and the running checks are kept). Stops cleanly on SIGTERM
and SIGINT, writing everything pending to the store.

Options:
  --store sqlite:FILE|memory  where states, transitions and history are kept
                              (default ${DEFAULT_STORE}, in the current directory)
  --store etcd://HOST:PORT[,HOST:PORT…]/PREFIX
                              keep current states in etcd, bound to this monitor's lease,
                              and share the checks with the other monitors on that prefix
                              (etcd+tls:// for TLS; see docs/etcd.md)
  --replica-id ID             this monitor's id among its replicas (etcd only; default
                              HOSTNAME-PID; give each replica a stable, unique one)
  --lease-ttl DURATION        how long a dead replica's results outlive it (etcd only;
                              default 15s)
${etcdFlagsHelp(30)}
  --listen HOST:PORT          the API's address (default ${DEFAULT_LISTEN}); "none" for no API;
                              beyond loopback it needs --auth-token-file (or --insecure-no-auth)
  --auth-token-file FILE      bearer tokens, one a line ("#" comments): every write, and every
                              read of /v1, /metrics and the event stream, needs
                              "Authorization: Bearer TOKEN"; reread on SIGHUP
  --public-read               with --auth-token-file: reads need no token, writes still do
  --allowed-host NAME         a host name the API answers to besides IP addresses and
                              localhost, e.g. the name a proxy serves it under (repeatable;
                              *.example.com for a domain); other names get 421
  --insecure-no-auth          listen beyond loopback without any credential (only behind
                              something that checks who may read and write)
  --node NAME                 node name for manifests that name none (default: this host)
  --concurrency N             checks in flight at most (default 256)
  --connections-per-origin N  connections HTTP checks open to one host:port at most
                              (default 64); more checks of it wait for a free one
  --ca-file FILE              trust this CA for HTTPS checks that name none (p2's ca_path)
  --no-watch                  reload on SIGHUP only, not when a manifest file changes
  --webhook URL               POST a JSON notification to URL on every state change
                              (repeatable; retried with backoff; see docs/api.md)
  --webhook-file FILE         the same, for each URL in FILE (one a line; # comments):
                              a URL that holds a secret stays out of the process list
  --webhook-min-interval DURATION
                              least time between two notifications of one check;
                              changes inside it are coalesced (default 30s; 0 for none)
  --push-rate N               pushes accepted per push check per second (default 10);
                              more are answered 429 with Retry-After
  --max-watchers N            long-poll watchers waiting at once (default 1000); more
                              are answered 503 with Retry-After
  --max-streams N             event streams (/v1/events) open at once (default 1000)
  --max-connections N         client connections open at once (default 4096); more are
                              closed as they arrive
  --shutdown-timeout DURATION on SIGTERM, how long pending webhooks may take before they
                              are abandoned with one log line (default 10s)
  --alertmanager URL          send failing checks as alerts to this Prometheus Alertmanager
                              (API v2; repeatable, e.g. both of an HA pair; see docs/alerting.md)
  --alertmanager-file FILE    the same, for each URL in FILE (one a line; # comments)
  --alert-resend DURATION     how often a firing alert is sent again (default 1m; keep it
                              below Alertmanager's resolve_timeout)
  --alert-name NAME           the alerts' alertname label (default ProbekitCheckFailing)
  --external-url URL          the dashboard's address as people reach it, linked in alerts
  -q, --quiet                 do not print transitions (errors, warnings and recoveries
                              are still printed); without it, at most one line per check
                              and cause per 10 s
  -h, --help                  show this help

Examples:
  probekit monitor /etc/probekit/pods
  probekit monitor --store sqlite:/var/lib/probekit/monitor.sqlite --listen 0.0.0.0:8008 \\
    --auth-token-file /etc/probekit/tokens pods/
  probekit monitor --store memory --node web-1 carsales.yaml
  probekit monitor --webhook https://hooks.example.com/probekit pods/
  probekit monitor --alertmanager http://alertmanager:9093 --external-url https://probekit.example.com pods/
  probekit monitor --store etcd://10.0.0.1:2379,10.0.0.2:2379/probekit --replica-id mon-a pods/
  probekit monitor --store etcd+tls://10.0.0.1:2379/probekit --etcd-ca ca.pem \\
    --etcd-cert client.pem --etcd-key client-key.pem \\
    --etcd-user probekit --etcd-password-file /run/secrets/etcd-password pods/
  pkill -HUP -f 'probekit(\\.js)? monitor'   # reload the manifests and the token file now (the process is node)
  probekit inspect --store sqlite:/var/lib/probekit/monitor.sqlite --pod carsales.com
`

interface Parsed {
  paths: string[]
  store: string
  listen: { host: string; port: number } | undefined
  node?: string
  concurrency?: number
  connectionsPerOrigin?: number
  caFile?: string
  watch: boolean
  quiet: boolean
  webhooks: string[]
  webhookMinIntervalMs?: number
  alertmanagers: string[]
  alertResendMs?: number
  alertName?: string
  externalUrl?: string
  replicaId?: string
  leaseTtlSeconds?: number
  tokenFile?: TokenFile
  publicRead: boolean
  allowedHosts: string[]
  insecureNoAuth: boolean
  etcd: ReturnType<typeof etcdFlags>
  pushRatePerSecond?: number
  maxWatchers?: number
  maxStreams?: number
  maxConnections?: number
  shutdownTimeoutMs: number
}

function parse(argv: string[]): Parsed | undefined {
  const line = parseCommandArgs(argv, {
    flags: {
      store: { type: 'string' },
      listen: { type: 'string' },
      node: { type: 'string' },
      concurrency: { type: 'string' },
      'connections-per-origin': { type: 'string' },
      'ca-file': { type: 'string' },
      watch: { type: 'boolean', negatable: true, default: true },
      webhook: { type: 'string', multiple: true },
      'webhook-file': { type: 'string', multiple: true },
      'webhook-min-interval': { type: 'string' },
      alertmanager: { type: 'string', multiple: true },
      'alertmanager-file': { type: 'string', multiple: true },
      'alert-resend': { type: 'string' },
      'alert-name': { type: 'string' },
      'external-url': { type: 'string' },
      'replica-id': { type: 'string' },
      'lease-ttl': { type: 'string' },
      'auth-token-file': { type: 'string' },
      'public-read': { type: 'boolean' },
      'allowed-host': { type: 'string', multiple: true },
      'insecure-no-auth': { type: 'boolean' },
      'push-rate': { type: 'string' },
      'max-watchers': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-streams': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      ...ETCD_FLAG_OPTIONS,
      quiet: { type: 'boolean', short: 'q' },
    },
    help: HELP,
    positionals: true,
  })
  if (!line) return undefined
  const { values, positionals } = line
  if (positionals.length === 0)
    throw new UsageError('name at least one manifest file or directory, e.g. "probekit monitor /etc/probekit/pods"')
  const parsed: Parsed = {
    paths: positionals,
    store: values.store ?? DEFAULT_STORE,
    listen: parseListen(values.listen ?? DEFAULT_LISTEN),
    watch: values.watch !== false,
    quiet: values.quiet === true,
    webhooks: [
      ...parseHttpUrls(values.webhook, '--webhook'),
      ...urlsFromFiles(values['webhook-file'], '--webhook-file'),
    ],
    alertmanagers: [
      ...parseHttpUrls(values.alertmanager, '--alertmanager'),
      ...urlsFromFiles(values['alertmanager-file'], '--alertmanager-file'),
    ],
    publicRead: values['public-read'] === true,
    allowedHosts: parseAllowedHosts(values['allowed-host']),
    insecureNoAuth: values['insecure-no-auth'] === true,
    etcd: etcdFlags(values, (values.store as string | undefined) ?? DEFAULT_STORE),
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
  }
  if (values['push-rate'] !== undefined) {
    const raw = String(values['push-rate'])
    const rate = Number(raw)
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(rate > 0) || rate > 1_000_000)
      throw new UsageError(
        `--push-rate ${JSON.stringify(raw)} is not a rate; use a number of pushes per second above 0, e.g. --push-rate 10`,
      )
    parsed.pushRatePerSecond = rate
  }
  if (values['max-watchers'] !== undefined) parsed.maxWatchers = count(values['max-watchers'], '--max-watchers')
  if (values['max-streams'] !== undefined) parsed.maxStreams = count(values['max-streams'], '--max-streams')
  if (values['max-connections'] !== undefined)
    parsed.maxConnections = count(values['max-connections'], '--max-connections')
  if (values['shutdown-timeout'] !== undefined) {
    const raw = String(values['shutdown-timeout'])
    const ms = raw === '0' ? 0 : parseDuration(raw, '--shutdown-timeout')
    if (ms > 3_600_000)
      throw new UsageError(`--shutdown-timeout ${raw} is out of range; use from 0 to 1h (default 10s)`)
    parsed.shutdownTimeoutMs = ms
  }
  parseAccess(parsed, values['auth-token-file'])
  if (values['webhook-min-interval'] !== undefined) {
    const raw = String(values['webhook-min-interval'])
    parsed.webhookMinIntervalMs = raw === '0' ? 0 : parseDuration(raw, '--webhook-min-interval')
  }
  parseAlerting(parsed, values)
  const etcd = isEtcdAddress(parsed.store)
  if (values['replica-id'] !== undefined) {
    const id = String(values['replica-id']).trim()
    if (!etcd)
      throw new UsageError('--replica-id is for monitor replicas on an etcd store; add --store etcd://HOST:PORT/PREFIX')
    if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(id))
      throw new UsageError(
        `--replica-id ${JSON.stringify(id)} is not usable; use letters, digits, ".", "_", "-", ":" or "@" (at most 128), e.g. --replica-id monitor-a`,
      )
    parsed.replicaId = id
  }
  if (values['lease-ttl'] !== undefined) {
    if (!etcd)
      throw new UsageError('--lease-ttl is for monitor replicas on an etcd store; add --store etcd://HOST:PORT/PREFIX')
    const ms = parseDuration(String(values['lease-ttl']), '--lease-ttl')
    if (ms < 2000 || ms > 3_600_000)
      throw new UsageError(`--lease-ttl ${values['lease-ttl']} is out of range; use from 2s to 1h (default 15s)`)
    parsed.leaseTtlSeconds = Math.round(ms / 1000)
  }
  if (values.node !== undefined) {
    const node = String(values.node).trim()
    if (!node) throw new UsageError('--node needs a name, e.g. --node web-1')
    parsed.node = node
  }
  if (values.concurrency !== undefined) {
    const n = Number(values.concurrency)
    if (!Number.isInteger(n) || n < 1 || n > 100_000)
      throw new UsageError(
        `--concurrency ${JSON.stringify(values.concurrency)} is not a count; use a whole number from 1 to 100000`,
      )
    parsed.concurrency = n
  }
  if (values['connections-per-origin'] !== undefined) {
    const n = Number(values['connections-per-origin'])
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw new UsageError(
        `--connections-per-origin ${JSON.stringify(values['connections-per-origin'])} is not a count; use a whole number from 1 to 10000`,
      )
    parsed.connectionsPerOrigin = n
  }
  if (values['ca-file'] !== undefined) parsed.caFile = readCaFileFlag(String(values['ca-file'])).file
  return parsed
}

/** The access flags; beyond loopback a credential (or an explicit --insecure-no-auth) is required. */
function parseAccess(parsed: Parsed, tokenFile: string | undefined): void {
  if (tokenFile !== undefined) {
    if (parsed.insecureNoAuth)
      throw new UsageError('--auth-token-file and --insecure-no-auth contradict each other; choose one')
    try {
      parsed.tokenFile = new TokenFile(resolve(tokenFile))
    } catch (error) {
      if (error instanceof TokenError) throw new UsageError(`--auth-token-file ${error.message}`)
      throw error
    }
  } else if (parsed.publicRead) {
    throw new UsageError(
      '--public-read opens reads of a monitor that has --auth-token-file; add --auth-token-file FILE',
    )
  }
  const listen = parsed.listen
  if (listen && !isLoopbackHost(listen.host) && !parsed.tokenFile && !parsed.insecureNoAuth) {
    const shown = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`
    throw new UsageError(
      `--listen ${shown} reaches beyond this machine and no credential is configured; add --auth-token-file FILE (one token a line), or --insecure-no-auth if something in front already checks who may read and write`,
    )
  }
}

function parseAllowedHosts(names: string[] | undefined): string[] {
  return (names ?? []).map((raw) => {
    const name = raw.trim().toLowerCase().replace(/\.$/, '')
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name))
      throw new UsageError(
        `--allowed-host ${JSON.stringify(raw)} is not a host name; give a name such as monitor.example.com (no port, no scheme) or *.example.com`,
      )
    return name
  })
}

function count(value: unknown, flag: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a count; use a whole number from 1 to 1000000`)
  return n
}

function parseAlerting(parsed: Parsed, values: Record<string, unknown>): void {
  const needsAlertmanager = (flag: string) => {
    if (parsed.alertmanagers.length === 0)
      throw new UsageError(`${flag} is for alerts; add --alertmanager URL (e.g. http://alertmanager:9093)`)
  }
  if (values['alert-resend'] !== undefined) {
    needsAlertmanager('--alert-resend')
    parsed.alertResendMs = parseDuration(String(values['alert-resend']), '--alert-resend')
  }
  if (values['alert-name'] !== undefined) {
    needsAlertmanager('--alert-name')
    const name = String(values['alert-name'])
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new UsageError(
        `--alert-name ${JSON.stringify(name)} is not usable as a label value here; use letters, digits and "_", e.g. ProbekitCheckFailing`,
      )
    parsed.alertName = name
  }
  if (values['external-url'] !== undefined) {
    const url = parseHttpUrls([String(values['external-url'])], '--external-url')[0] as string
    // Every alert carries this link on to Slack, email …: a credential in it would travel too.
    const { username, password } = new URL(url)
    if (username || password)
      throw new UsageError(
        `--external-url ${JSON.stringify(redactUrl(url))} holds a user or password, which every alert would carry to wherever Alertmanager sends it; give the address without them`,
      )
    parsed.externalUrl = url
  }
}

/**
 * The receiver URLs in each file: one a line, blank lines and `#` comments skipped. A URL
 * on the command line is in the process list (`ps`) for anyone on the machine to read; one
 * in a file is not. Read once, at start.
 */
function urlsFromFiles(files: string[] | undefined, flag: string): string[] {
  const urls: string[] = []
  for (const file of files ?? []) {
    let text: string
    try {
      text = readSmallFileSync(file).toString('utf8')
    } catch (error) {
      throw new UsageError(`${flag} ${file}: ${fileProblem(error)}`)
    }
    const before = urls.length
    for (const [i, raw] of text.split(/\r?\n/).entries()) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      urls.push(...parseHttpUrls([line], `${flag} ${file}:${i + 1}:`))
    }
    if (urls.length === before)
      throw new UsageError(`${flag} ${file} holds no URL; write one a line, e.g. https://hooks.example.com/probekit`)
  }
  return urls
}

function parseHttpUrls(urls: string[] | undefined, flag: string): string[] {
  return (urls ?? []).map((url) => {
    let parsed: URL | undefined
    try {
      parsed = new URL(url)
    } catch {}
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      throw new UsageError(`${flag} ${JSON.stringify(redactUrl(url))} is not an http:// or https:// URL`)
    return url
  })
}

function parseListen(value: string): { host: string; port: number } | undefined {
  if (value === 'none' || value === 'off') return undefined
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value)
  const port = match ? Number(match[3]) : Number.NaN
  // Port 0 listens on a free port the system picks.
  if (match && port > 65535) throw new UsageError(`--listen ${value}: port ${port} is out of range 0–65535`)
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(
      `--listen ${JSON.stringify(value)} is not HOST:PORT; use e.g. 127.0.0.1:8008, 0.0.0.0:8008 or none`,
    )
  return { host: match[1] || match[2] || '127.0.0.1', port }
}

/**
 * Prints one line per event, prefixed with the time, as a long-running command should.
 * This is where a line is finally written, so it is made safe here: the manifests'
 * secrets masked (`redact`, once the monitor exists), control characters and newlines
 * shown as escapes, so a target's words can neither drive the terminal nor forge a line.
 */
function lineLogger(redact: () => ((text: string) => string) | undefined): Logger {
  const line = (level: string, args: unknown[]) => {
    const text = args.filter((a) => typeof a === 'string').join(' ')
    const masked = redact()?.(text) ?? redactText(text)
    process.stdout.write(`${new Date().toISOString()} ${level}${lineSafe(masked)}\n`)
  }
  return {
    info: (...args) => line('', args),
    warn: (...args) => line('', args),
    error: (...args) => line('error: ', args),
  }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parse(argv)
  if (!parsed) return 0
  tuneHeap()
  let monitor: Monitor | undefined
  const logger = lineLogger(() => monitor?.redact)
  // Starting takes seconds with a large fleet (loading 50,000 checks): a signal meanwhile
  // must not kill the process as Node's default would. A SIGHUP reloads once it runs; a
  // SIGTERM or SIGINT ends the start-up cleanly (the load stops where it is, exit 0).
  // The monitor's stop once a start-up signal asked for it: awaited where the start-up ends.
  let startupStop: Promise<void> | undefined
  const stopMonitor = (): Promise<void> | undefined => {
    if (monitor) startupStop ??= monitor.stop()
    return startupStop
  }
  const early = startupSignals(() => void stopMonitor())

  let store: MonitorStore
  try {
    store = await openStoreAsync(parsed.store, {
      etcd: {
        logger,
        // Registered once the checks are loaded, just before they run (below).
        registerLater: true,
        ...parsed.etcd,
        ...(parsed.replicaId ? { replicaId: parsed.replicaId } : {}),
        ...(parsed.leaseTtlSeconds ? { leaseTtlSeconds: parsed.leaseTtlSeconds } : {}),
      },
    })
  } catch (error) {
    early.release()
    // No SQLite in this installation is not a mistake in the command line.
    if (error instanceof SqliteMissingError) throw new Error(error.message)
    if (error instanceof StoreError) throw new UsageError(error.message)
    throw error
  }
  const etcdStore = 'replicaId' in store ? (store as EtcdStore) : undefined
  // Replicas on one etcd prefix divide the checks; loaded only with an etcd store.
  let share: ReplicaShare | undefined
  if (etcdStore) share = new (await import('../monitor/replicas.js')).ReplicaShare(etcdStore)
  const closeStore = async () => {
    share?.close()
    if (etcdStore) await etcdStore.shutdown()
    else store.close()
  }
  if (early.stopped) {
    await closeStore()
    return early.end(logger)
  }
  // Loaded once the command line is good: `--help` and a usage error answer without it.
  const { Monitor } = await import('../monitor/monitor.js')
  monitor = new Monitor({
    store,
    logger,
    logTransitions: !parsed.quiet,
    ...(share ? { share } : {}),
    ...(parsed.node ? { node: parsed.node } : {}),
    ...(parsed.concurrency ? { concurrency: parsed.concurrency } : {}),
    ...(parsed.connectionsPerOrigin ? { connectionsPerOrigin: parsed.connectionsPerOrigin } : {}),
    ...(parsed.caFile ? { caFile: parsed.caFile } : {}),
    shutdownTimeoutMs: parsed.shutdownTimeoutMs,
  })
  // The notifiers' URLs hold secrets too: masked before anything is loaded, logged or
  // served (what an earlier run stored is redacted again as it loads).
  for (const url of parsed.webhooks) registerReceiverSecrets(url, monitor.secrets, 'webhook')
  for (const url of parsed.alertmanagers) registerReceiverSecrets(url, monitor.secrets, 'alertmanager')
  try {
    await monitor.load(parsed.paths)
  } catch (error) {
    early.release()
    await closeStore()
    throw error
  }
  if (early.stopped) {
    await stopMonitor()
    await closeStore()
    return early.end(logger)
  }
  // The API's bearer tokens are masked like the manifests' secrets (and again after SIGHUP).
  const maskTokens = () => {
    if (parsed.tokenFile && monitor) registerSecrets({ tokenFile: parsed.tokenFile.file }, monitor.secrets)
  }
  maskTokens()
  parsed.tokenFile?.onReload(maskTokens)
  share?.attach(monitor, { logger })

  // Loaded only when asked for; notifications go out on their own timers, never on the checking path.
  // Subscribed before the API opens: a push it accepts at once must not change a state unnoticed.
  const webhooks = parsed.webhooks.length
    ? (await import('../monitor/webhooks.js')).startWebhooks(monitor, {
        urls: parsed.webhooks,
        logger,
        muted: (id) => monitor.silenced(id) !== undefined,
        ...(parsed.webhookMinIntervalMs !== undefined ? { minIntervalMs: parsed.webhookMinIntervalMs } : {}),
      })
    : undefined
  let api: { url: string; close(): Promise<void> } | undefined
  if (parsed.listen) {
    try {
      // Loaded only when --listen is on: a monitor without an API never loads it.
      const { startApi } = await import('../monitor/api.js')
      api = await startApi(monitor, {
        ...parsed.listen,
        logger,
        auth: {
          ...(parsed.tokenFile ? { tokens: parsed.tokenFile } : {}),
          publicRead: parsed.publicRead,
          allowedHosts: parsed.allowedHosts,
          insecureNoAuth: parsed.insecureNoAuth,
        },
        ...(parsed.pushRatePerSecond !== undefined ? { pushRatePerSecond: parsed.pushRatePerSecond } : {}),
        ...(parsed.maxWatchers !== undefined ? { maxWatchers: parsed.maxWatchers } : {}),
        ...(parsed.maxStreams !== undefined ? { maxStreams: parsed.maxStreams } : {}),
        ...(parsed.maxConnections !== undefined ? { maxConnections: parsed.maxConnections } : {}),
      })
    } catch (error) {
      early.release()
      await webhooks?.close()
      await closeStore()
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE')
        throw new UsageError(
          `--listen ${parsed.listen.host}:${parsed.listen.port} is already in use; choose another port or --listen none`,
        )
      if (code === 'EACCES' || code === 'EADDRNOTAVAIL')
        throw new UsageError(
          `cannot listen on ${parsed.listen.host}:${parsed.listen.port} (${code}); choose another address`,
        )
      throw error
    }
  }
  // Only now, with every check loaded and about to run, does this replica join the others:
  // they hand it its share as they see it, so no check of that share waits for a monitor
  // still loading its manifests (with thousands of checks, longer than their interval).
  try {
    await etcdStore?.register()
  } catch (error) {
    early.release()
    await api?.close()
    await webhooks?.close()
    await closeStore()
    throw error instanceof StoreError ? new UsageError(error.message) : error
  }
  if (early.stopped) {
    await api?.close()
    await stopMonitor()
    await webhooks?.close()
    await closeStore()
    return early.end(logger)
  }
  // Alerts are derived from the states, so the sender's first round sends what fails now;
  // started last, a monitor that fails to start (its --listen port taken, etcd refusing)
  // tells Alertmanager nothing and leaves no silence there.
  const alerts = parsed.alertmanagers.length
    ? (await import('../monitor/alertmanager.js')).startAlertmanager(monitor, {
        urls: parsed.alertmanagers,
        logger,
        muted: (state) => monitor.silenced(state.id),
        ...(parsed.alertResendMs !== undefined ? { resendMs: parsed.alertResendMs } : {}),
        ...(parsed.alertName ? { alertname: parsed.alertName } : {}),
        ...(parsed.externalUrl ? { externalUrl: parsed.externalUrl } : {}),
      })
    : undefined
  monitor.start()

  const states = monitor.states()
  const pods = new Set(states.map((s) => `${s.node}/${s.pod}`)).size
  const storeName = etcdStore
    ? `${etcdStore.spec} as replica ${etcdStore.replicaId} (${etcdStore.members().length} live, running ${states.filter((s) => share?.owns(s.id)).length} of the checks)`
    : store instanceof SqliteStore
      ? `sqlite:${store.file} (SQLite via ${store.driver})`
      : 'memory'
  process.stdout.write(
    `probekit monitor: watching ${states.length} check${states.length === 1 ? '' : 's'} of ${pods} pod${pods === 1 ? '' : 's'}${notChecked(monitor.podsWithoutChecks)}; store ${storeName}\n`,
  )
  if (api) {
    const base = api.url.replace(/\/$/, '')
    process.stdout.write(
      `probekit monitor: API ${base}/v1/checks  dashboard ${base}/  metrics ${base}/metrics  push ${base}/v1/push/<check>  health ${base}/livez ${base}/readyz\n`,
    )
    const tokens = parsed.tokenFile
    process.stdout.write(
      `probekit monitor: access: ${
        tokens
          ? `${plural(tokens.tokens.size, 'bearer token')} from ${tokens.file} for writes${parsed.publicRead ? '; reads are public' : ' and reads'}`
          : parsed.insecureNoAuth
            ? 'no credential (--insecure-no-auth); push checks with a token still need it'
            : 'no credential, loopback only; push checks with a token still need it'
      }\n`,
    )
  }

  return new Promise<number>((resolve) => {
    // A monitor runs until it is stopped, even with nothing to do yet: no checks (a manifest
    // may appear, and a reload picks it up) and no API (--listen none) hold no handle of
    // their own, and Node would otherwise end the process at once with status 0.
    const alive = setInterval(() => {}, 2 ** 30)
    const resolveExit = (code: number) => {
      clearInterval(alive)
      resolve(code)
    }
    let reloading: Promise<void> | undefined
    let again = false
    const reload = (why: string) => {
      if (reloading) {
        again = true
        return
      }
      reloading = monitor
        .reload()
        .then(() => {
          const n = monitor.states().length
          logger.info(
            `probekit monitor: reloaded the manifests (${why}); watching ${n} check${n === 1 ? '' : 's'}${notChecked(monitor.podsWithoutChecks)}`,
          )
        })
        .catch((error: unknown) => {
          const message = error instanceof Error ? error.message : String(error)
          logger.error(`probekit monitor: reload (${why}) failed, keeping the running checks: ${message}`)
        })
        .finally(() => {
          reloading = undefined
          if (again) {
            again = false
            reload(why)
          }
        })
    }
    let stopping = false
    const onHup = () => {
      // A SIGHUP while stopping is ignored (Node's default would end the process unflushed).
      if (stopping) return
      rereadTokens(parsed.tokenFile, logger)
      reload('SIGHUP')
    }

    const watchers = parsed.watch ? watchManifests(parsed.paths, () => reload('a manifest changed')) : []

    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info(`probekit monitor: ${signal}, stopping`)
      for (const w of watchers) w.close()
      // The last resort: whatever still holds the stop (a store that does not answer) past the
      // shutdown timeout is abandoned, so an orchestrator's grace period is never outrun.
      const backstop = setTimeout(() => {
        logger.error(
          `probekit monitor: still stopping ${Math.round(parsed.shutdownTimeoutMs / 1000)} s after ${signal} (--shutdown-timeout); exiting without waiting further`,
        )
        resolveExit(0)
      }, parsed.shutdownTimeoutMs + 750)
      backstop.unref()
      void (async () => {
        let code = 0
        try {
          await api?.close()
          await monitor.stop()
          await webhooks?.close()
          await alerts?.close()
          await closeStore()
        } catch (error) {
          logger.error(`probekit monitor: stopping failed: ${error instanceof Error ? error.message : String(error)}`)
          code = 1
        }
        clearTimeout(backstop)
        process.off('SIGHUP', onHup)
        process.off('SIGTERM', onTerm)
        process.off('SIGINT', onInt)
        resolveExit(code)
      })()
    }
    const onTerm = () => stop('SIGTERM')
    const onInt = () => stop('SIGINT')
    // The running handlers go on before the start-up's come off. Node closes a signal's
    // handle when its last listener goes, and a signal caught but not yet dispatched (one
    // sent just as the start line was printed) would be dropped with it: a SIGTERM lost, a
    // monitor that never stops.
    process.on('SIGHUP', onHup)
    process.on('SIGTERM', onTerm)
    process.on('SIGINT', onInt)
    early.release()
    // A SIGHUP while starting: the manifests may have changed after they were read.
    if (early.hupped) onHup()
  })
}

/**
 * SIGHUP, SIGTERM and SIGINT while the monitor starts, noted instead of ending the process
 * (Node's default for all three): `stopped` says which stop came, `hupped` whether a SIGHUP
 * did; `onStop` runs at the first stop (it stops a load in progress). `release` takes these
 * handlers off; the running monitor's are added before it is called (see `run`).
 */
function startupSignals(onStop: () => void) {
  let stopped: string | undefined
  let hupped = false
  const hup = () => {
    hupped = true
  }
  const stop = (signal: NodeJS.Signals) => {
    if (stopped) return
    stopped = signal
    onStop()
  }
  const term = () => stop('SIGTERM')
  const int = () => stop('SIGINT')
  process.on('SIGHUP', hup)
  process.on('SIGTERM', term)
  process.on('SIGINT', int)
  let released = false
  const release = () => {
    if (released) return
    released = true
    process.off('SIGHUP', hup)
    process.off('SIGTERM', term)
    process.off('SIGINT', int)
  }
  return {
    get stopped() {
      return stopped
    },
    get hupped() {
      return hupped
    },
    release,
    /** Ends a start-up a stop came during: exit 0, as a stop of the running monitor. */
    end(logger: Logger): number {
      release()
      logger.info(`probekit monitor: ${stopped} while starting, stopped`)
      return 0
    },
  }
}

/** SIGHUP: the token file again; a file that cannot be used keeps the tokens read before. */
function rereadTokens(tokenFile: TokenFile | undefined, logger: Logger): void {
  if (!tokenFile) return
  const before = tokenFile.tokens.size
  try {
    const n = tokenFile.reload()
    logger.info(`probekit monitor: reread --auth-token-file ${tokenFile.file}: ${plural(n, 'token')}`)
  } catch (error) {
    logger.error(
      `probekit monitor: rereading --auth-token-file failed, keeping the ${plural(before, 'token')} read before: ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Watches manifest files and directories; `onChange` runs once after a burst of changes.
 * A file is watched through its directory, so editors that replace the file on save
 * (write a new file, rename it over the old one) are still noticed.
 */
function watchManifests(paths: string[], onChange: () => void): { close(): void }[] {
  let timer: NodeJS.Timeout | undefined
  const changed = () => {
    clearTimeout(timer)
    timer = setTimeout(onChange, 300)
  }
  const watchers: { close(): void }[] = []
  const dirs = new Map<string, Set<string> | 'all'>()
  for (const path of paths) {
    const full = resolve(path)
    let isDir = false
    try {
      isDir = statSync(full).isDirectory()
    } catch {
      continue
    }
    if (isDir) dirs.set(full, 'all')
    else {
      const dir = dirname(full)
      const names = dirs.get(dir)
      if (names === 'all') continue
      dirs.set(dir, (names ?? new Set()).add(basename(full)))
    }
  }
  for (const [dir, names] of dirs) {
    if (names === 'all') {
      watchers.push(new TreeWatch(dir, changed))
      continue
    }
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (!name || names.has(basename(String(name)))) changed()
      })
      watcher.on('error', () => {})
      watchers.push(watcher)
    } catch {
      // A path we cannot watch is still reloaded on SIGHUP.
    }
  }
  return watchers
}

/** Directories one manifest directory's watch follows at most (one inotify watch each). */
const MAX_WATCHED_DIRS = 10_000

/**
 * A manifest directory and the directories under it, each watched on its own, as the
 * manifests are read: hidden entries and symbolic links to directories are not followed.
 * Node's `recursive` watch follows links and, on Linux, throws what it meets (a link loop's
 * ELOOP, EACCES, ENOSPC when inotify's watches run out) from inside its own handler, where
 * nothing can catch it: a link loop made in a watched directory ended the monitor. Here a
 * directory that cannot be watched is left to SIGHUP, and one that appears or goes is
 * watched or let go when its parent says so.
 */
class TreeWatch {
  private readonly watchers = new Map<string, FSWatcher>()

  constructor(
    root: string,
    private readonly changed: () => void,
  ) {
    this.add(root)
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close()
    this.watchers.clear()
  }

  private add(dir: string): void {
    if (this.watchers.has(dir) || this.watchers.size >= MAX_WATCHED_DIRS) return
    let watcher: FSWatcher
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        const entry = name === null ? '' : String(name)
        if (!entry || /\.ya?ml$/i.test(entry)) this.changed()
        else if (!entry.startsWith('.')) this.sync(dir)
      })
    } catch {
      return
    }
    watcher.on('error', () => this.drop(dir))
    this.watchers.set(dir, watcher)
    for (const sub of subdirectories(dir)) this.add(sub)
  }

  /** Something other than a manifest changed in `dir`: a directory under it may have come or gone. */
  private sync(dir: string): void {
    const present = new Set(subdirectories(dir))
    let moved = false
    for (const sub of present) {
      if (this.watchers.has(sub)) continue
      this.add(sub)
      moved = true
    }
    const prefix = `${dir}${sep}`
    for (const watched of [...this.watchers.keys()]) {
      if (!watched.startsWith(prefix) || watched.slice(prefix.length).includes(sep)) continue
      if (present.has(watched)) continue
      this.drop(watched)
      moved = true
    }
    // Manifests come and go with their directory.
    if (moved) this.changed()
  }

  /** Stops watching `dir` and everything under it. */
  private drop(dir: string): void {
    const prefix = `${dir}${sep}`
    for (const [watched, watcher] of this.watchers) {
      if (watched !== dir && !watched.startsWith(prefix)) continue
      watcher.close()
      this.watchers.delete(watched)
    }
  }
}

/** The directories right under `dir` that the manifest reader descends into (no links, no hidden ones). */
function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
      .map((entry) => join(dir, entry.name))
  } catch {
    return []
  }
}

/**
 * `, not checking pod "batch" (no status_port, as in p2)`: p2 pods that opt out of health
 * checks are read and skipped, and a pod that went missing from the count is named.
 */
function notChecked(pods: readonly string[]): string {
  if (pods.length === 0) return ''
  const named = pods
    .slice(0, 3)
    .map((id) => JSON.stringify(id))
    .join(', ')
  const more = pods.length > 3 ? ` and ${pods.length - 3} more` : ''
  return `, not checking pod${pods.length === 1 ? '' : 's'} ${named}${more} (no status_port, as in p2)`
}
