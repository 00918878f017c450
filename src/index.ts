/**
 * probekit — health checks that tell the orchestrator the truth.
 *
 * @example
 * import http from 'node:http'
 * import { createHealth, NotReady } from 'probekit'
 *
 * const health = createHealth({ timeout: 1000 })
 * health.add('search', async ({ signal }) => {
 *   const res = await fetch('http://search:9200/_cluster/health', { signal })
 *   if (!res.ok) throw new NotReady(`search answered ${res.status}`)
 * }, { critical: false })
 * await health.listen({ port: 9000 })
 */

export { NotReady } from './core/errors.js'
export type { ChangeEvent, HealthCore, RunOptions } from './core/health.js'
export type { LifecyclePhase } from './core/lifecycle.js'
export type { Logger } from './core/logger.js'
export type {
  CheckContext,
  CheckDetails,
  CheckFn,
  CheckResult,
  Group,
  Probe,
  ProbeOptions,
  Report,
  ServiceInfo,
  Status,
} from './core/types.js'
export type { HealthJson, HealthJsonCheck } from './format/health-json.js'
export { createHealth, Health, type HealthOptions } from './health.js'
export type { Fallback, HealthHandler } from './http/handler.js'
export type { Listening, ListenOptions } from './http/listen.js'
export type { HealthResponse } from './http/respond.js'
export {
  type GracefulShutdown,
  gracefulShutdown,
  type ShutdownHook,
  type ShutdownOptions,
  type ShutdownResult,
  type ShutdownServer,
} from './http/shutdown.js'
export type { DetailsPolicy, HealthRequest } from './http/surface.js'
