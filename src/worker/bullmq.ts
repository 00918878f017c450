import { reasonOf } from '../core/errors.js'
import { writeLog } from '../core/logger.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { CANNOT_CREATE } from './readiness.js'
import {
  createWorkerHealth,
  WORKER_HEALTH_OPTIONS,
  type WorkerHealth,
  type WorkerHealthOptions,
} from './worker-health.js'

/**
 * The part of a BullMQ `Worker` this module uses. A structural type, so `probekit/worker`
 * does not need bullmq's types installed; a real `Worker` fits it.
 */
export interface BullmqWorkerLike {
  /** The queue name. */
  readonly name: string
  readonly opts: { readonly name?: string | undefined; readonly prefix?: string | undefined }
  readonly closing?: Promise<void> | undefined
  waitUntilReady(): Promise<unknown>
  isRunning(): boolean
  isPaused(): boolean
  // biome-ignore lint/suspicious/noExplicitAny: BullMQ's typed listener map varies by event; this must accept all of them.
  on(event: any, listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  off(event: any, listener: (...args: any[]) => void): unknown
  listenerCount(event: string): number
}

export interface WatchBullmqWorkerOptions extends WorkerHealthOptions {
  /**
   * The name `probekit worker --worker-name` looks for. BullMQ sets a worker's name on its
   * Redis connection from the `name` worker option, at construction; this is checked
   * against it, so a mismatch fails here and not in production. Default: the worker's own name.
   */
  name?: string
}

const WATCH_OPTION_KEYS = optionKeys<WatchBullmqWorkerOptions>()({ name: true, ...WORKER_HEALTH_OPTIONS })

/** The handle `watchBullmqWorker` returns. */
export interface WatchedBullmqWorker extends WorkerHealth {
  /** The worker's name, as `probekit worker --worker-name` finds it. */
  readonly workerName: string
  /** The Redis client name BullMQ gave the worker's connection (`<prefix>:<base64 queue>:w:<name>`). */
  readonly clientName: string
}

/**
 * Connects a BullMQ `Worker` to the worker kit's files in one call:
 *
 * - the heartbeat (liveness file) starts at once;
 * - the readiness file is created when both of the worker's Redis connections are up and
 *   its job loop runs, removed on `paused` (restored on `resumed`), on `closing`, when the
 *   job loop dies with an error, on SIGTERM/SIGINT and on exit;
 * - the last-work file (if given) is touched on every `completed` job, and once at ready
 *   so a fresh worker has its full max age before the first job is due;
 * - on `closed` the heartbeat stops too.
 *
 * The worker must have a `name` (the `name` worker option): BullMQ names the Redis
 * connection it blocks on `<prefix>:<base64 of the queue>:w:<name>`, which is how
 * `probekit worker --worker-name` finds it with CLIENT LIST. `workerName()` gives the name
 * the CLI expects by default (`$PROBEKIT_WORKER_NAME`, else `worker@<hostname>`).
 *
 * @example
 * import { Worker } from 'bullmq'
 * import { watchBullmqWorker, workerName } from 'probekit/worker'
 *
 * const worker = new Worker('emails', sendEmail, {
 *   connection: { url: process.env.REDIS_URL },
 *   name: workerName(),
 * })
 * watchBullmqWorker(worker, { lastWorkFile: '/tmp/probekit-worker.last-work' })
 * process.once('SIGTERM', () => worker.close())
 * // Kubernetes exec probe: probekit worker --broker "$REDIS_URL"
 */
export function watchBullmqWorker(
  worker: BullmqWorkerLike,
  options: WatchBullmqWorkerOptions = {},
): WatchedBullmqWorker {
  rejectUnknownKeys('watchBullmqWorker', options, WATCH_OPTION_KEYS)
  const name = worker.opts.name
  if (!name) {
    throw new Error(
      `the BullMQ worker of queue "${worker.name}" has no name, so "probekit worker" cannot find it on the broker; create it with the option name: workerName() (from probekit/worker)`,
    )
  }
  if (options.name !== undefined && options.name !== name) {
    throw new Error(
      `watchBullmqWorker was given the name "${options.name}" but the worker's name is "${name}"; pass the same name to new Worker(…, { name }) and to watchBullmqWorker, or leave the second out`,
    )
  }
  if (/\s/.test(name)) {
    throw new Error(`the worker name ${JSON.stringify(name)} contains whitespace, which Redis client names cannot hold`)
  }
  // Redis refuses any other name for the connection, and BullMQ goes on without one: the
  // worker would run, unnamed, and "probekit worker" would never find it.
  if (/[^!-~]/.test(name)) {
    throw new Error(
      `the worker name ${JSON.stringify(name)} has a character Redis client names cannot hold; use ASCII letters, digits and punctuation (e.g. worker@pod-7)`,
    )
  }
  const clientName = `${worker.opts.prefix ?? 'bull'}:${Buffer.from(worker.name).toString('base64')}:w:${name}`
  const logger = options.logger === undefined ? console : options.logger
  const { name: _name, ...healthOptions } = options
  const health = createWorkerHealth(healthOptions)

  let closed = false
  let startPoll: NodeJS.Timeout | undefined

  const takingWork = () => !closed && !worker.closing && !worker.isPaused()

  // Called from BullMQ's events and promises, where a throw would be an uncaught exception
  // or an unhandled rejection that kills a worker able to take jobs. A file that cannot be
  // written (a read-only mount, a full disk) is logged instead, like the heartbeat's, and
  // the health check reports the worker not ready, which is all it can see.
  const markReady = () => {
    try {
      health.ready()
    } catch (error) {
      const reason = reasonOf(error)
      // ready() names the file itself when it can say what is in its place.
      const said = reason.startsWith(CANNOT_CREATE) ? reason : `${CANNOT_CREATE} ${health.readinessFile}: ${reason}`
      writeLog(logger, 'error', `probekit: ${said}; the worker's health check will report it not ready`, {
        file: health.readinessFile,
        reason,
      })
    }
  }

  const becomeReady = () => {
    if (!takingWork()) return
    if (worker.isRunning()) {
      markReady()
      return
    }
    // autorun: false — the job loop starts when the app calls run(); BullMQ has no event for it.
    if (startPoll) return
    startPoll = setInterval(() => {
      if (!takingWork()) stopStartPoll()
      else if (worker.isRunning()) {
        stopStartPoll()
        markReady()
      }
    }, 100)
    startPoll.unref()
  }
  const stopStartPoll = () => {
    clearInterval(startPoll)
    startPoll = undefined
  }

  const onCompleted = () => health.workDone()
  const onPaused = () => health.notReady()
  const onResumed = () => becomeReady()
  const onClosing = () => {
    stopStartPoll()
    health.notReady()
  }
  const onClosed = () => close()
  const onError = (error: unknown) => {
    // run() rejected: the job loop is gone and no job will be taken any more.
    if (!worker.isRunning() && !worker.closing && health.isReady) health.notReady()
    // Listening for 'error' must not hide errors the app does not listen for itself.
    if (worker.listenerCount('error') === 1) {
      writeLog(logger, 'error', `probekit: BullMQ worker ${name} (queue ${worker.name}): ${reasonOf(error)}`, {
        queue: worker.name,
        worker: name,
      })
    }
  }

  worker.on('completed', onCompleted)
  worker.on('paused', onPaused)
  worker.on('resumed', onResumed)
  worker.on('closing', onClosing)
  worker.on('closed', onClosed)
  worker.on('error', onError)

  // waitUntilReady (not the 'ready' event) so a worker that is ready already still counts.
  worker.waitUntilReady().then(
    () => {
      if (!takingWork()) return
      health.workDone()
      becomeReady()
    },
    () => {
      // A connection failure is reported on 'error'; the worker just never becomes ready.
    },
  )

  function close() {
    if (closed) return
    closed = true
    stopStartPoll()
    worker.off('completed', onCompleted)
    worker.off('paused', onPaused)
    worker.off('resumed', onResumed)
    worker.off('closing', onClosing)
    worker.off('closed', onClosed)
    worker.off('error', onError)
    health.close()
  }

  return {
    workerName: name,
    clientName,
    get livenessFile() {
      return health.livenessFile
    },
    get readinessFile() {
      return health.readinessFile
    },
    get lastWorkFile() {
      return health.lastWorkFile
    },
    get isReady() {
      return health.isReady
    },
    ready: () => health.ready(),
    notReady: () => health.notReady(),
    workDone: () => health.workDone(),
    close,
  }
}
