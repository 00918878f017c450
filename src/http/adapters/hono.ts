/**
 * probekit for Hono on @hono/node-server: middleware that answers the health paths with a
 * `Response` and calls `next()` for every other request.
 *
 * @example
 * import { serve } from '@hono/node-server'
 * import { Hono } from 'hono'
 * import { createHealth } from 'probekit'
 * import probekit from 'probekit/hono'
 *
 * const health = createHealth()
 * const app = new Hono()
 * app.use(probekit(health)) // first: before sessions, auth and routes
 * app.use(session())
 * app.get('/', (c) => c.text('hello'))
 * serve({ fetch: app.fetch, port: 3000 })
 */
import type { IncomingMessage } from 'node:http'
import type { Health } from '../../health.js'
import { type HealthResponse, respond } from '../respond.js'
import type { HealthRequest } from '../surface.js'

/** What @hono/node-server puts in `c.env`: node's request (directly, or under `server`). */
interface NodeBindings {
  incoming?: IncomingMessage
  server?: { incoming?: IncomingMessage }
}

/** The parts of Hono's context the middleware reads. */
export interface HonoContextLike {
  req: { raw: Request; method: string; url: string }
  env: unknown
}

export type HonoMiddleware = (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined>

/**
 * Hono middleware answering the health paths exactly as `health.handler()` does. On
 * @hono/node-server it reads node's request (headers and the caller's address, which decides
 * whether reasons are shown). On other runtimes the caller's address is unknown, so the
 * default `details: 'local'` policy withholds reasons; pass a `details` predicate to decide.
 */
export default function probekit(health: Health): HonoMiddleware {
  return async (c, next) => {
    const response = respond(health, toHealthRequest(c))
    if (response === undefined) {
      await next()
      return undefined
    }
    return toWebResponse(response instanceof Promise ? await response : response)
  }
}

function toHealthRequest(c: HonoContextLike): HealthRequest {
  const env = c.env as NodeBindings | undefined
  const incoming = env?.incoming ?? env?.server?.incoming
  if (incoming) {
    return {
      method: incoming.method ?? c.req.method,
      url: incoming.url ?? '/',
      headers: incoming.headers,
      remoteAddress: incoming.socket?.remoteAddress,
    }
  }
  const url = new URL(c.req.url)
  return {
    method: c.req.method,
    url: url.pathname + url.search,
    headers: Object.fromEntries(c.req.raw.headers),
  }
}

function toWebResponse(response: HealthResponse): Response {
  // Hono drops the body of a HEAD response itself and keeps the headers, Content-Length included.
  return new Response(response.body, { status: response.statusCode, headers: response.headers })
}
