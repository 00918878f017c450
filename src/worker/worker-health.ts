import type { Logger } from '../core/logger.js'
import { type EveryKey, optionKeys, rejectUnknownKeys } from '../core/options.js'
import { DEFAULT_LIVENESS_FILE, DEFAULT_READINESS_FILE } from './defaults.js'
import { type Heartbeat, startHeartbeat } from './heartbeat.js'
import { createLastWorkFile, type LastWorkFile } from './last-work.js'
import { createReadinessFile, type ReadinessFile } from './readiness.js'

export interface WorkerHealthOptions {
  /** The liveness file the heartbeat touches. Default `/tmp/probekit-worker.live`; `false` for no heartbeat. */
  livenessFile?: string | false
  /** How often the heartbeat touches it, in ms. Default 60 000; keep the check's `--max-age` above it. */
  heartbeatIntervalMs?: number
  /** The readiness file. Default `/tmp/probekit-worker.ready`; `false` for none. */
  readinessFile?: string | false
  /** The last-work file, touched by `workDone()`. No default: opt-in. */
  lastWorkFile?: string
  /** Signals on which the readiness file is removed at once. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[]
  /** Where failures to write the files are reported. Default `console`; `false` for silence. */
  logger?: Logger | false
}

/** The keys of `WorkerHealthOptions`, to spread into those of `watchBullmqWorker`. */
export const WORKER_HEALTH_OPTIONS: EveryKey<WorkerHealthOptions> = {
  livenessFile: true,
  heartbeatIntervalMs: true,
  readinessFile: true,
  lastWorkFile: true,
  signals: true,
  logger: true,
}

const WORKER_HEALTH_OPTION_KEYS = optionKeys<WorkerHealthOptions>()(WORKER_HEALTH_OPTIONS)

/** The files a worker keeps for its health check (`probekit worker`). */
export interface WorkerHealth {
  readonly livenessFile: string | undefined
  readonly readinessFile: string | undefined
  readonly lastWorkFile: string | undefined
  /** Whether the readiness file currently exists (by this handle's doing). */
  readonly isReady: boolean
  /** The worker is ready to take work: creates the readiness file. */
  ready(): void
  /** The worker stopped taking work (paused, draining): removes the readiness file. */
  notReady(): void
  /** A unit of work was completed: touches the last-work file. */
  workDone(): void
  /** Stops the heartbeat, removes the readiness file and detaches from the process. Idempotent. */
  close(): void
}

/**
 * The worker kit for any non-HTTP process: a heartbeat on the main event loop (liveness),
 * a readiness file that exists only while the worker takes work, and an optional last-work
 * file. The heartbeat starts at once; call `ready()` when the worker can take work.
 * For a BullMQ `Worker`, `watchBullmqWorker` does all of this in one call.
 *
 * @example
 * import { createWorkerHealth } from 'probekit/worker'
 *
 * const health = createWorkerHealth({ lastWorkFile: '/tmp/probekit-worker.last-work' })
 * await consumer.connect()
 * health.ready()
 * consumer.on('message', async (message) => {
 *   await handle(message)
 *   health.workDone()
 * })
 * process.once('SIGTERM', async () => {
 *   health.notReady()
 *   await consumer.close()
 *   health.close()
 * })
 * // Dockerfile: HEALTHCHECK CMD ["npx", "probekit", "worker", "--skip-ping"]
 */
export function createWorkerHealth(options: WorkerHealthOptions = {}): WorkerHealth {
  rejectUnknownKeys('createWorkerHealth', options, WORKER_HEALTH_OPTION_KEYS)
  const logger = options.logger === undefined ? console : options.logger
  const livenessFile = options.livenessFile === false ? undefined : (options.livenessFile ?? DEFAULT_LIVENESS_FILE)
  const readinessFile = options.readinessFile === false ? undefined : (options.readinessFile ?? DEFAULT_READINESS_FILE)

  let heartbeat: Heartbeat | undefined
  let readiness: ReadinessFile | undefined
  let lastWork: LastWorkFile | undefined
  try {
    if (options.lastWorkFile !== undefined) lastWork = createLastWorkFile({ file: options.lastWorkFile, logger })
    if (readinessFile !== undefined) {
      readiness = createReadinessFile({ file: readinessFile, ...(options.signals ? { signals: options.signals } : {}) })
    }
    if (livenessFile !== undefined) {
      heartbeat = startHeartbeat({
        file: livenessFile,
        logger,
        ...(options.heartbeatIntervalMs !== undefined ? { intervalMs: options.heartbeatIntervalMs } : {}),
      })
    }
  } catch (error) {
    readiness?.close()
    heartbeat?.stop()
    throw error
  }

  let closed = false
  return {
    livenessFile,
    readinessFile,
    lastWorkFile: lastWork?.file,
    get isReady() {
      return readiness?.isReady ?? false
    },
    ready() {
      if (closed) return
      readiness?.ready()
    },
    notReady() {
      readiness?.notReady()
    },
    workDone() {
      if (closed) return
      lastWork?.touch()
    },
    close() {
      if (closed) return
      closed = true
      heartbeat?.stop()
      readiness?.close()
    },
  }
}
