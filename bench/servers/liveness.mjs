/**
 * One /livez server per variant, for the liveness throughput comparison:
 *   node bench/servers/liveness.mjs <variant>
 * Listens on a free loopback port and prints `{"port":…,"path":…}` when ready, or
 * `{"unavailable":"…"}` when the variant cannot run here (e.g. an adapter not built yet).
 * Every probekit variant uses the BUILT package (`probekit` resolves to dist/).
 */
import { createServer } from 'node:http'
import { loadAdapter } from './load-adapter.mjs'

const variant = process.argv[2]
// Exit normally on SIGTERM so `node --cpu-prof bench/servers/liveness.mjs …` writes its profile.
process.on('SIGTERM', () => process.exit(0))
const HOST = '127.0.0.1'

/** A realistic instance: nothing in live, a readiness probe that is never asked here. */
async function makeHealth() {
  const { createHealth } = await import('probekit')
  const health = createHealth({ logger: false })
  health.add('database', () => {}, { groups: ['ready'] })
  return health
}

function listening(server, path = '/livez') {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve({ port: server.address().port, path })))
}

const notFound = (_req, res) => {
  res.statusCode = 404
  res.end()
}

const variants = {
  async bare() {
    const server = createServer((req, res) => {
      if (req.url === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end('ok')
      } else notFound(req, res)
    })
    return listening(server)
  },
  // The bare server with the headers every probekit answer carries (content-length,
  // cache-control: no-store, nosniff): separates their cost from probekit's own code.
  async 'bare-same-headers'() {
    const headers = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': '2',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    }
    const server = createServer((req, res) => {
      if (req.url === '/livez') {
        res.writeHead(200, headers)
        res.end('ok')
      } else notFound(req, res)
    })
    return listening(server)
  },
  async 'probekit-handler'() {
    const health = await makeHealth()
    return listening(createServer(health.handler()))
  },
  async 'probekit-listen'() {
    const health = await makeHealth()
    const { port } = await health.listen({ port: 0, host: HOST })
    return { port, path: '/livez' }
  },
  async terminus() {
    const { createTerminus } = await import('@godaddy/terminus')
    const server = createServer(notFound)
    createTerminus(server, { healthChecks: { '/livez': async () => {} } })
    return listening(server)
  },
  async lightship() {
    // lightship@7's npm tarball ships TypeScript sources only; tsx (the --import in the
    // command line) compiles them once at start-up, so the running code is plain JS.
    const url = new URL('../../node_modules/lightship/src/index.ts', import.meta.url)
    const { createLightship } = await import(url.href)
    const lightship = await createLightship({ detectKubernetes: false, port: 0, signals: [] })
    lightship.signalReady()
    return { port: lightship.server.address().port, path: '/live' }
  },
  async 'express-plain'() {
    const { default: express } = await import('express')
    const app = express()
    app.get('/livez', (_req, res) => res.send('ok'))
    return listening(createServer(app))
  },
  async 'express-probekit'() {
    const adapter = await loadAdapter('express')
    const { default: express } = await import('express')
    const app = express()
    app.use(adapter(await makeHealth()))
    app.get('/', (_req, res) => res.send('app'))
    return listening(createServer(app))
  },
  async 'fastify-plain'() {
    const { default: Fastify } = await import('fastify')
    const app = Fastify({ logger: false })
    app.get('/livez', async () => 'ok')
    await app.listen({ port: 0, host: HOST })
    return { port: app.server.address().port, path: '/livez' }
  },
  async 'fastify-probekit'() {
    const adapter = await loadAdapter('fastify')
    const { default: Fastify } = await import('fastify')
    const app = Fastify({ logger: false })
    await app.register(adapter(await makeHealth()))
    app.get('/', async () => 'app')
    await app.listen({ port: 0, host: HOST })
    return { port: app.server.address().port, path: '/livez' }
  },
  async 'koa-plain'() {
    const { default: Koa } = await import('koa')
    const app = new Koa()
    app.use((ctx) => {
      if (ctx.path === '/livez') ctx.body = 'ok'
    })
    return listening(createServer(app.callback()))
  },
  async 'koa-probekit'() {
    const adapter = await loadAdapter('koa')
    const { default: Koa } = await import('koa')
    const app = new Koa()
    app.use(adapter(await makeHealth()))
    app.use((ctx) => {
      ctx.body = 'app'
    })
    return listening(createServer(app.callback()))
  },
  async 'hono-plain'() {
    const { Hono } = await import('hono')
    const { getRequestListener } = await import('@hono/node-server')
    const app = new Hono()
    app.get('/livez', (c) => c.text('ok'))
    return listening(createServer(getRequestListener(app.fetch)))
  },
  async 'hono-probekit'() {
    const adapter = await loadAdapter('hono')
    const { Hono } = await import('hono')
    const { getRequestListener } = await import('@hono/node-server')
    const app = new Hono()
    app.use(adapter(await makeHealth()))
    app.get('/', (c) => c.text('app'))
    return listening(createServer(getRequestListener(app.fetch)))
  },
}

const start = variants[variant]
if (!start) {
  console.error(`unknown variant "${variant}"; use one of: ${Object.keys(variants).join(', ')}`)
  process.exit(1)
}
try {
  const info = await start()
  process.stdout.write(`${JSON.stringify(info)}\n`)
} catch (error) {
  if (error?.unavailable) {
    process.stdout.write(`${JSON.stringify({ unavailable: error.message })}\n`)
    process.exit(0)
  }
  throw error
}
