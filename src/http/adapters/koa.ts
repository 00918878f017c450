/**
 * probekit for Koa: middleware that answers the health paths and awaits `next()` for every
 * other request.
 *
 * @example
 * import Koa from 'koa'
 * import { createHealth } from 'probekit'
 * import probekit from 'probekit/koa'
 *
 * const health = createHealth()
 * const app = new Koa()
 * app.use(probekit(health)) // first: before sessions, auth, body parsers and routers
 * app.use(session(app))
 * app.use((ctx) => { ctx.body = 'hello' })
 * app.listen(3000)
 */
import type { Health } from '../../health.js'
import { type HealthResponse, respond } from '../respond.js'

/** The parts of Koa's context the adapter reads and writes (Koa 2 and 3). */
export interface KoaContext {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  req: { socket: { remoteAddress?: string | undefined } }
  status: number
  body: unknown
  set(field: Record<string, string>): void
}

export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<unknown> | undefined

/**
 * Koa middleware answering the health paths exactly as `health.handler()` does. Mount it
 * first, so nothing downstream (sessions, auth, ORMs) runs for a probe.
 */
export default function probekit(health: Health): KoaMiddleware {
  const write = (ctx: KoaContext, response: HealthResponse) => {
    ctx.status = response.statusCode
    ctx.set(response.headers)
    // Koa leaves the body out of HEAD responses itself and keeps the Content-Length set here.
    ctx.body = response.body
  }
  return (ctx, next) => {
    const response = respond(health, {
      method: ctx.method,
      url: ctx.url,
      headers: ctx.headers,
      remoteAddress: ctx.req.socket.remoteAddress,
    })
    if (response === undefined) return next()
    if (response instanceof Promise) return response.then((r) => write(ctx, r))
    write(ctx, response)
    return undefined
  }
}
