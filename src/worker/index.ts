/**
 * probekit/worker — health for processes that serve no HTTP, such as queue workers: a
 * heartbeat (liveness) file, a readiness file and a last-work file, BullMQ wiring, and the
 * `probekit worker` command that checks them, mirroring maykin-common's `worker-health-check`.
 *
 * @example
 * import { Worker } from 'bullmq'
 * import { watchBullmqWorker, workerName } from 'probekit/worker'
 *
 * const worker = new Worker('emails', sendEmail, { connection, name: workerName() })
 * watchBullmqWorker(worker)
 * // HEALTHCHECK CMD ["npx", "probekit", "worker", "--broker", "redis://redis:6379/0"]
 */

export {
  type BullmqWorkerLike,
  type WatchBullmqWorkerOptions,
  type WatchedBullmqWorker,
  watchBullmqWorker,
} from './bullmq.js'
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_LIVENESS_FILE,
  DEFAULT_READINESS_FILE,
  WORKER_NAME_ENV,
  workerName,
} from './defaults.js'
export { type Heartbeat, type HeartbeatOptions, startHeartbeat } from './heartbeat.js'
export { createLastWorkFile, type LastWorkFile, type LastWorkFileOptions } from './last-work.js'
export { createReadinessFile, type ReadinessFile, type ReadinessFileOptions } from './readiness.js'
export { createWorkerHealth, type WorkerHealth, type WorkerHealthOptions } from './worker-health.js'
