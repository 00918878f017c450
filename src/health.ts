/**
 * The package's `Health`: the core (probes, groups, lifecycle, runs; src/core/health.ts)
 * with its HTTP surface (paths, details policy, `handler()`, `listen()`; src/http/). The
 * two meet here, so the core never imports HTTP.
 */
import { HealthCore, type HealthCoreOptions } from './core/health.js'
import { optionKeys } from './core/options.js'
import type { Group } from './core/types.js'
import { createHandler, type Fallback, type HealthHandler } from './http/handler.js'
import { type Listening, type ListenOptions, listen } from './http/listen.js'
import {
  type DetailsPolicy,
  type HealthRequest,
  type HttpHealth,
  type HttpOptions,
  httpSurface,
  mayShowDetails,
} from './http/surface.js'

export interface HealthOptions extends HealthCoreOptions, HttpOptions {}

/** Every key `createHealth` accepts, in the order its "unknown option" error lists them. */
const HEALTH_OPTION_KEYS = optionKeys<HealthOptions>()({
  timeout: true,
  cacheTtl: true,
  details: true,
  paths: true,
  extraPaths: true,
  metricsPath: true,
  logger: true,
  service: true,
  initiallyReady: true,
})

/**
 * A health instance: the probes of one process, their groups, the process's lifecycle
 * state, and the HTTP surface over them (see `handler()` and `listen()`).
 */
export class Health extends HealthCore implements HttpHealth {
  readonly details: DetailsPolicy
  /** Path → group, for exact matches (the hot path: one Map lookup). */
  readonly paths: ReadonlyMap<string, Group>
  readonly metricsPath: string | undefined

  constructor(options: HealthOptions = {}) {
    super(options, HEALTH_OPTION_KEYS)
    const surface = httpSurface(options)
    this.details = surface.details
    this.paths = surface.paths
    this.metricsPath = surface.metricsPath
  }

  /**
   * The node:http handler: answers health paths and passes anything else to `fallback`
   * (or `next` as middleware). Mount it before everything else:
   * `http.createServer(health.handler(app))`.
   */
  handler(fallback?: Fallback): HealthHandler {
    return createHandler(this, fallback)
  }

  /**
   * Starts a separate management listener (recommended). Default port 9000, bound to
   * `0.0.0.0`, with limits for a port anyone on the pod network can reach: a request's
   * head within 5 s, idle connections closed after 5 s, at most 256 connections at once
   * (see `ListenOptions`).
   */
  listen(options?: ListenOptions): Promise<Listening> {
    return listen(this, options)
  }

  /** Whether a caller may read failure reasons. */
  mayShowDetails(request: HealthRequest): boolean {
    return mayShowDetails(this.details, request)
  }
}

/** Creates a health instance. See `HealthOptions` for the defaults. */
export function createHealth(options?: HealthOptions): Health {
  return new Health(options)
}
