import { formatAge } from '../core/age.js'
import { lineSafe } from '../core/inert.js'
import { redact, redactUrl } from '../core/redact.js'
import { runProbe } from '../core/run-probe.js'
import { file, futureDated } from '../probes/file.js'
import { DEFAULT_LIVENESS_FILE, DEFAULT_READINESS_FILE, WORKER_NAME_ENV, workerName } from '../worker/defaults.js'
import { type FlagSpecs, parseCommandArgs, parseDuration } from './args.js'
import { UsageError } from './usage-error.js'

const DEFAULT_BROKER = 'redis://localhost:6379/0'
const BROKER_ENV = 'PROBEKIT_BROKER'
const DEFAULT_MAX_AGE_MS = 70_000
const DEFAULT_PING_TIMEOUT_MS = 3_000
/** A stat that takes longer (a hung network file system) fails the check instead of hanging it. */
const FILE_TIMEOUT_MS = 5_000

export const help = `probekit worker — health check for a queue worker (the Node counterpart of maykin-common's
worker-health-check). Runs these checks in order and stops at the first failure:

  1. event-loop liveness  the liveness file was touched within --max-age
  2. ping                 the broker answers PING and the named worker is connected to it
  3. readiness            the readiness file exists (opt-in: --no-skip-readiness)
  4. last work            the last-work file was touched within --last-work-max-age (opt-in)

Usage: probekit worker [options]

Options:
  --liveness-file FILE          heartbeat file (default ${DEFAULT_LIVENESS_FILE})
  --max-age DURATION            how old the liveness file may be (default 70: a 60 s heartbeat plus slack)
  --skip-event-loop-liveness    do not check the liveness file
  --broker URL                  redis:// or rediss:// broker (default $${BROKER_ENV}, else ${DEFAULT_BROKER})
  --worker-name NAME            the worker to find on the broker (default $${WORKER_NAME_ENV}, else worker@<hostname>)
  --queue NAME                  only count the worker when it consumes this queue
  --ping-timeout DURATION       deadline of the broker check (default 3)
  --skip-ping                   do not contact the broker
  --readiness-file FILE         readiness file (default ${DEFAULT_READINESS_FILE})
  --no-skip-readiness           check the readiness file (it is skipped unless asked for)
  --last-work-file FILE         last-work file, touched when a job completes
  --last-work-max-age DURATION  how old the last-work file may be (required with --last-work-file)
  -h, --help                    show this help
  -V, --version                 show the version

Durations are seconds (70) or a number with a unit (500ms, 2s, 10m, 1h). The --skip-… and --no-skip-…
flags come in both forms, as in maykin-common. Names and files match what probekit/worker writes:
watchBullmqWorker(worker) and createWorkerHealth() use the same defaults.

Output: one line on stdout, "ok …" or "failed <check>: <reason>". Exit status 0 when healthy, 1 when
unhealthy or on a usage error (never 2, which Docker reserves).

Examples:
  # liveness probe: event loop and broker round trip (the defaults)
  probekit worker --broker redis://redis:6379/0 --worker-name worker@$(hostname)

  # readiness probe for rolling deployments: only the readiness file
  probekit worker --skip-ping --skip-event-loop-liveness --no-skip-readiness

  # also prove the worker consumes work
  probekit worker --skip-ping --last-work-file /tmp/probekit-worker.last-work --last-work-max-age 15m

  # Dockerfile
  HEALTHCHECK --interval=30s --timeout=5s CMD ["npx", "probekit", "worker", "--broker", "redis://redis:6379/0"]
`

interface WorkerOptions {
  livenessFile: string
  maxAgeMs: number
  skipLiveness: boolean
  broker: string
  workerName: string
  queue: string | undefined
  pingTimeoutMs: number
  skipPing: boolean
  readinessFile: string
  skipReadiness: boolean
  lastWorkFile: string | undefined
  lastWorkMaxAgeMs: number | undefined
}

type Outcome = { ok: true; note: string } | { ok: false; reason: string }

/**
 * `probekit worker`: 0 when every check that is not skipped passes, 1 otherwise. Writes one
 * line to `out` (stdout); throws UsageError for a bad command line.
 */
export async function run(argv: string[], out: { write(text: string): unknown } = process.stdout): Promise<number> {
  const options = parse(argv, out)
  if (!options) return 0
  const notes: string[] = []
  const checks: [string, () => Outcome | Promise<Outcome>][] = []
  if (!options.skipLiveness) checks.push(['liveness', () => checkLiveness(options)])
  if (!options.skipPing) checks.push(['ping', () => checkBroker(options)])
  if (!options.skipReadiness) checks.push(['readiness', () => checkReadiness(options)])
  if (options.lastWorkFile !== undefined) checks.push(['last work', () => checkLastWork(options)])

  for (const [name, check] of checks) {
    const outcome = await check()
    if (!outcome.ok) {
      // The reason may quote the broker's words: one inert, redacted line.
      out.write(`failed ${name}: ${lineSafe(redact(outcome.reason))}\n`)
      return 1
    }
    notes.push(outcome.note)
  }
  out.write(
    notes.length === 0
      ? 'ok: every check is skipped, nothing was checked\n'
      : `ok ${lineSafe(redact(notes.join('; ')))}\n`,
  )
  return 0
}

async function checkLiveness(options: WorkerOptions): Promise<Outcome> {
  const age = await fileAge(options.livenessFile)
  if (!age.ok) {
    return {
      ok: false,
      reason: age.notAFile
        ? `${age.reason}; the worker cannot write its heartbeat there: remove it`
        : `${age.reason}; the worker has not started its heartbeat, or writes it elsewhere (see --liveness-file)`,
    }
  }
  const ahead = futureDated(age.ageMs)
  if (ahead) return { ok: false, reason: `${options.livenessFile} ${ahead}` }
  if (age.ageMs > options.maxAgeMs) {
    return {
      ok: false,
      reason: `${options.livenessFile} was last touched ${formatAge(age.ageMs)} ago (max age ${formatAge(options.maxAgeMs)}): the worker's event loop is blocked or the worker has stopped`,
    }
  }
  return { ok: true, note: `event loop alive (heartbeat ${formatAge(age.ageMs)} ago)` }
}

async function checkBroker(options: WorkerOptions): Promise<Outcome> {
  // Loaded only when the ping runs, so --skip-ping never pays for the driver.
  const [{ brokerWorkerProbe }, { loadDriver }, { reasonOf }] = await Promise.all([
    import('../worker/broker.js'),
    import('../probes/load-driver.js'),
    import('../core/errors.js'),
  ])
  // Load the driver before the deadline starts: --ping-timeout is about the broker, and a
  // slow disk or a busy machine loading code must not count against it.
  try {
    await loadDriver('ioredis', 'The broker ping')
  } catch (error) {
    return { ok: false, reason: reasonOf(error) }
  }
  const probe = brokerWorkerProbe({
    url: options.broker,
    workerName: options.workerName,
    timeoutMs: options.pingTimeoutMs,
    ...(options.queue !== undefined ? { queue: options.queue } : {}),
  })
  const result = await runProbe(probe, { timeoutMs: options.pingTimeoutMs })
  if (result.status !== 'pass') {
    const reason = result.output ?? 'failed'
    // Name the broker unless the reason already does (the driver's own errors do not).
    const shown = redactUrl(options.broker)
    return { ok: false, reason: reason.includes(shown) ? reason : `${shown}: ${reason}` }
  }
  return { ok: true, note: `broker ${result.output ?? 'answered'}` }
}

async function checkReadiness(options: WorkerOptions): Promise<Outcome> {
  const age = await fileAge(options.readinessFile)
  if (!age.ok) {
    if (age.notAFile) return { ok: false, reason: `${age.reason}; the worker cannot write it there: remove it` }
    return { ok: false, reason: `${age.reason}: the worker is not ready (starting, paused or stopped)` }
  }
  return { ok: true, note: 'ready' }
}

async function checkLastWork(options: WorkerOptions): Promise<Outcome> {
  const file = options.lastWorkFile as string
  const maxAgeMs = options.lastWorkMaxAgeMs as number
  const age = await fileAge(file)
  if (!age.ok) {
    if (age.notAFile) return { ok: false, reason: `${age.reason}; the worker cannot write it there: remove it` }
    return { ok: false, reason: `${age.reason}; the worker has not become ready or writes it elsewhere` }
  }
  const ahead = futureDated(age.ageMs)
  if (ahead) return { ok: false, reason: `${file} ${ahead}` }
  if (age.ageMs > maxAgeMs) {
    return {
      ok: false,
      reason: `${file} was last touched ${formatAge(age.ageMs)} ago (max age ${formatAge(maxAgeMs)}): the worker has completed no job since`,
    }
  }
  return { ok: true, note: `last work ${formatAge(age.ageMs)} ago` }
}

/**
 * The age of a worker file (negative when it is dated in the future), by the library's
 * `file()` probe run through the runner (as the broker ping is). The age is compared here,
 * not by the probe's `maxAge`, so the lines keep maykin-common's wording ("was last touched
 * … ago (max age …)"); a file dated in the future fails by the probe's own rule, futureDated.
 */
async function fileAge(
  path: string,
): Promise<{ ok: true; ageMs: number } | { ok: false; reason: string; notAFile: boolean }> {
  const result = await runProbe(file(path, { regularFile: true }), { timeoutMs: FILE_TIMEOUT_MS })
  if (result.status === 'pass' && typeof result.observedValue === 'number') {
    return { ok: true, ageMs: result.observedValue }
  }
  // The probe says `file <path> does not exist`; these lines name the path alone.
  const reason = result.output ?? `${path} cannot be read`
  return {
    ok: false,
    reason: reason.startsWith('file ') ? reason.slice('file '.length) : reason,
    // Something else is in the file's place: no worker wrote it, and none can.
    notAFile: reason.endsWith(' not a file'),
  }
}

// --- arguments ---

// Flag names and both forms of every switch as in maykin-common's worker-health-check
// (typer), so its documentation translates one to one.
const FLAGS = {
  'liveness-file': { type: 'string' },
  'max-age': { type: 'string' },
  'skip-event-loop-liveness': { type: 'boolean', negatable: true, default: false },
  broker: { type: 'string' },
  'worker-name': { type: 'string' },
  queue: { type: 'string' },
  'ping-timeout': { type: 'string' },
  'skip-ping': { type: 'boolean', negatable: true, default: false },
  'readiness-file': { type: 'string' },
  'skip-readiness': { type: 'boolean', negatable: true, default: true },
  'last-work-file': { type: 'string' },
  'last-work-max-age': { type: 'string' },
} as const satisfies FlagSpecs

function parse(argv: string[], out: { write(text: string): unknown }): WorkerOptions | undefined {
  const line = parseCommandArgs(argv, {
    flags: FLAGS,
    help,
    out,
    positionals: (arg) => `unexpected argument ${JSON.stringify(arg)}; "probekit worker" takes only options`,
  })
  if (!line) return undefined
  const { values } = line
  const switches = {
    skipLiveness: values['skip-event-loop-liveness'] === true,
    skipPing: values['skip-ping'] === true,
    skipReadiness: values['skip-readiness'] === true,
  }
  const nonEmpty = (flag: string, fallback: string): string => {
    const value = values[flag.slice(2) as keyof typeof FLAGS] ?? fallback
    if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} must not be empty`)
    return value
  }
  const broker = nonEmpty('--broker', process.env[BROKER_ENV]?.trim() || DEFAULT_BROKER)
  // A value from the environment is named as such: the user typed no --broker to fix.
  const brokerSource = values.broker !== undefined ? '--broker' : `$${BROKER_ENV}`
  if (!switches.skipPing) checkBrokerUrl(broker, brokerSource)
  const name = nonEmpty('--worker-name', workerName())
  const nameSource = values['worker-name'] !== undefined ? '--worker-name' : `$${WORKER_NAME_ENV}`
  if (/\s/.test(name)) {
    throw new UsageError(
      `${nameSource} ${JSON.stringify(name)} contains whitespace, which a Redis client name cannot hold`,
    )
  }
  // No worker can have such a name on the broker: Redis refuses it.
  if (/[^!-~]/.test(name)) {
    throw new UsageError(
      `${nameSource} ${JSON.stringify(name)} has a character a Redis client name cannot hold; use ASCII letters, digits and punctuation (e.g. worker@pod-7)`,
    )
  }

  const lastWorkFile = values['last-work-file']
  const lastWorkMaxAge = values['last-work-max-age']
  if (lastWorkFile !== undefined && lastWorkMaxAge === undefined) {
    throw new UsageError('--last-work-file needs --last-work-max-age, e.g. --last-work-max-age 15m')
  }
  if (lastWorkFile === undefined && lastWorkMaxAge !== undefined) {
    throw new UsageError('--last-work-max-age needs --last-work-file, the file the worker touches when a job completes')
  }
  if (lastWorkFile === '') throw new UsageError('--last-work-file must not be empty')

  return {
    livenessFile: nonEmpty('--liveness-file', DEFAULT_LIVENESS_FILE),
    maxAgeMs: values['max-age'] !== undefined ? parseDuration(values['max-age'], '--max-age') : DEFAULT_MAX_AGE_MS,
    skipLiveness: switches.skipLiveness,
    broker,
    workerName: name,
    queue: values.queue !== undefined ? nonEmpty('--queue', '') : undefined,
    pingTimeoutMs:
      values['ping-timeout'] !== undefined
        ? parseDuration(values['ping-timeout'], '--ping-timeout')
        : DEFAULT_PING_TIMEOUT_MS,
    skipPing: switches.skipPing,
    readinessFile: nonEmpty('--readiness-file', DEFAULT_READINESS_FILE),
    skipReadiness: switches.skipReadiness,
    lastWorkFile,
    lastWorkMaxAgeMs: lastWorkMaxAge === undefined ? undefined : parseDuration(lastWorkMaxAge, '--last-work-max-age'),
  }
}

function checkBrokerUrl(broker: string, source: string): void {
  let url: URL
  try {
    url = new URL(broker)
  } catch {
    throw new UsageError(`${source} ${JSON.stringify(redactUrl(broker))} is not a URL; use e.g. redis://redis:6379/0`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(
      `${source} ${redactUrl(broker)} is not a Redis URL; the worker check speaks to BullMQ's Redis (redis:// or rediss://), or use --skip-ping`,
    )
  }
  // ioredis would send SELECT with whatever the path holds, and the failure would read as a
  // broker that refuses CLIENT LIST.
  if (!/^\/?(\d+)?$/.test(url.pathname)) {
    throw new UsageError(
      `${source} ${redactUrl(broker)} names the database ${JSON.stringify(url.pathname.slice(1))}; the path of a Redis URL is the database number, e.g. redis://redis:6379/0`,
    )
  }
}
