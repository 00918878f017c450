/**
 * probekit for Express 4 and 5: middleware that answers the health paths and passes every
 * other request on with `next()`.
 *
 * @example
 * import express from 'express'
 * import { createHealth } from 'probekit'
 * import probekit from 'probekit/express'
 *
 * const health = createHealth()
 * const app = express()
 * app.use(probekit(health)) // first: before sessions, auth, body parsers and routes
 * app.use(session(...))
 * app.get('/', (req, res) => res.send('hello'))
 * app.listen(3000)
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Health } from '../../health.js'
import { createHandler } from '../handler.js'

/**
 * Express-compatible middleware. Typed over node's request and response, which Express's
 * extend, so `app.use()` accepts it in Express 4 and 5 without importing Express.
 */
export type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/**
 * Middleware answering `/livez`, `/readyz`, `/healthz` (and the instance's other paths)
 * exactly as `health.handler()` does. Mount it before any other middleware, so session,
 * auth or ORM middleware cannot turn a probe into a 500 or a hang.
 */
export default function probekit(health: Health): ExpressMiddleware {
  // Express's req and res are node's, so the node:http handler is the adapter: a request
  // that is not for a health path goes to `next()`.
  return createHandler(health)
}
