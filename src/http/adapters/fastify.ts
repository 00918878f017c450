/**
 * probekit for Fastify 5: a plugin whose `onRequest` hook answers the health paths before
 * routing, body parsing and every hook registered after it.
 *
 * @example
 * import Fastify from 'fastify'
 * import { createHealth } from 'probekit'
 * import probekit from 'probekit/fastify'
 *
 * const health = createHealth()
 * const app = Fastify()
 * await app.register(probekit(health)) // first: before session, auth and other plugins
 * await app.register(session, { ... })
 * app.get('/', async () => 'hello')
 * await app.listen({ port: 3000 })
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Health } from '../../health.js'
import { toHealthRequest, writeResponse } from '../handler.js'
import { respond } from '../respond.js'

const HOOK_FAILED = {
  statusCode: 503,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  body: 'health check error\n',
}

/** The parts of Fastify's request and reply the hook uses. */
export interface FastifyRequestLike {
  raw: IncomingMessage
}
export interface FastifyReplyLike {
  raw: ServerResponse
  hijack(): unknown
}

export type OnRequestHook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  addHook(name: 'onRequest', hook: OnRequestHook): unknown
}

/** A Fastify plugin, already marked the way `fastify-plugin` marks one (not encapsulated). */
export type FastifyProbekitPlugin = ((instance: FastifyInstanceLike, options: unknown, done: () => void) => void) & {
  [key: symbol]: unknown
}

/**
 * The `onRequest` hook answering health paths. A probe's answer is written straight to
 * node's response (the reply is hijacked), so no later hook, `onSend` handler or
 * serializer of the app runs for it — a session store that hangs cannot hang a probe.
 */
export function healthHook(health: Health): OnRequestHook {
  return (request, reply, done) => {
    const req = request.raw
    const response = respond(health, toHealthRequest(req))
    if (response === undefined) {
      done()
      return
    }
    reply.hijack()
    if (response instanceof Promise) {
      response.then(
        (r) => writeResponse(req, reply.raw, r),
        // respond() never rejects by design; if it ever does, fail closed rather than hang.
        () => writeResponse(req, reply.raw, HOOK_FAILED),
      )
      done()
    } else {
      writeResponse(req, reply.raw, response)
      done()
    }
  }
}

/**
 * A Fastify plugin answering the health paths exactly as `health.handler()` does.
 * Register it first: hooks run in registration order, and this one answers probes before
 * anything registered later runs.
 */
export default function probekit(health: Health): FastifyProbekitPlugin {
  const hook = healthHook(health)
  const plugin = (instance: FastifyInstanceLike, _options: unknown, done: () => void) => {
    instance.addHook('onRequest', hook)
    done()
  }
  // What fastify-plugin does, without importing it: the hook applies to the whole app,
  // not only to routes inside this plugin's encapsulated context.
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'probekit',
    [Symbol.for('plugin-meta')]: { name: 'probekit', fastify: '>=4' },
  })
}
