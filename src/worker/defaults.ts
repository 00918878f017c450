import { hostname } from 'node:os'

/**
 * Defaults shared by the worker kit (which writes the files) and `probekit worker` (which
 * reads them), so a worker and its health check agree without any configuration.
 */

/** Where the heartbeat writes when no `livenessFile` is given. */
export const DEFAULT_LIVENESS_FILE = '/tmp/probekit-worker.live'

/** Where the readiness file lives when no `readinessFile` is given. */
export const DEFAULT_READINESS_FILE = '/tmp/probekit-worker.ready'

/** How often the heartbeat touches the liveness file: every minute, as Celery's event-loop probe does. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000

/** The environment variable that names the worker, read by both the worker kit and `probekit worker`. */
export const WORKER_NAME_ENV = 'PROBEKIT_WORKER_NAME'

/**
 * The worker's name on the broker: `$PROBEKIT_WORKER_NAME`, else `worker@<hostname>`
 * (in a container the hostname is the container or pod name, so each replica is distinct).
 */
export function workerName(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[WORKER_NAME_ENV]?.trim()
  return fromEnv ? fromEnv : `worker@${hostname()}`
}
