import type { IncomingMessage, ServerResponse } from 'node:http'
import { type HealthResponse, respond } from './respond.js'
import type { HealthRequest, HttpHealth } from './surface.js'

/** What to do with a request that is not for a health path. */
export type Fallback = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

/** A node:http request listener, also usable as connect/Express-style middleware. */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

/** The neutral request view of a node:http request. */
export function toHealthRequest(req: IncomingMessage): HealthRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
  }
}

/** Writes a HealthResponse to a node:http response (no body for HEAD). */
export function writeResponse(req: IncomingMessage, res: ServerResponse, response: HealthResponse): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(response.statusCode, response.headers)
  res.end(req.method === 'HEAD' ? undefined : response.body)
}

/**
 * The node:http handler. Mount it first: `http.createServer(health.handler(app))`.
 * Health paths are answered here; any other request goes to `fallback`, or to `next`
 * when used as middleware, or gets a 404.
 */
export function createHandler(health: HttpHealth, fallback?: Fallback): HealthHandler {
  return (req, res, next) => {
    const response = respond(health, toHealthRequest(req))
    if (response === undefined) {
      if (fallback) fallback(req, res, next)
      else if (next) next()
      else notFound(res)
      return
    }
    if (response instanceof Promise) {
      response.then(
        (r) => writeResponse(req, res, r),
        (error: unknown) => {
          // respond() never rejects by design; if it ever does, fail closed rather than hang.
          if (!res.headersSent) {
            res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
            res.end(`health check error: ${error instanceof Error ? error.message : 'unknown'}\n`)
          }
        },
      )
    } else writeResponse(req, res, response)
  }
}

function notFound(res: ServerResponse): void {
  const body = 'not found\n'
  res.writeHead(404, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  })
  res.end(body)
}
