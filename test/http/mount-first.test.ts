/**
 * Why every adapter's documentation mounts it before any other middleware: an app whose
 * session middleware throws, or hangs on a frozen Redis, still answers its probes
 * correctly when probekit comes first — and does not when it comes after.
 */
import 'reflect-metadata'
import assert from 'node:assert/strict'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { serve } from '@hono/node-server'
import { Controller, Get, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { Redis } from 'ioredis'
import Koa from 'koa'
import { createHealth, type Health } from '../../src/health.js'
import expressProbekit from '../../src/http/adapters/express.js'
import fastifyProbekit from '../../src/http/adapters/fastify.js'
import honoProbekit from '../../src/http/adapters/hono.js'
import koaProbekit from '../../src/http/adapters/koa.js'
import { ProbekitModule } from '../../src/http/adapters/nest.js'
import { nestMajor, onlyNestCases } from '../support/nest.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'

/** How long a client waits before calling a request hung. */
const HUNG_AFTER_MS = 1500
const PROBE_TIMEOUT_MS = 400

let redisServer: RedisServer
let redis: Redis
let health: Health
/** What the app's session middleware does: fail outright, or read the session from Redis. */
let sessionMode: 'throws' | 'reads redis' = 'throws'

async function loadSession(): Promise<void> {
  if (sessionMode === 'throws') throw new Error('session store unavailable')
  await redis.get('session:4f2a')
}

interface App {
  url: string
  close(): Promise<void>
}

function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function listenOn(server: Server): Promise<App> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: urlOf(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return 'hello'
  }
}

/** Each framework's app: the probekit adapter mounted first, or after the session middleware. */
const allFrameworks: Record<string, (probesFirst: boolean) => Promise<App>> = {
  Express: (probesFirst) => {
    const app = express()
    app.set('env', 'test') // the default error handler stays quiet about the session error
    const session: express.RequestHandler = async (_req, _res, next) => {
      await loadSession()
      next()
    }
    if (probesFirst) app.use(expressProbekit(health), session)
    else app.use(session, expressProbekit(health))
    app.get('/hello', (_req, res) => {
      res.send('hello')
    })
    return listenOn(createServer(app))
  },
  Koa: (probesFirst) => {
    const app = new Koa()
    const session: Koa.Middleware = async (_ctx, next) => {
      await loadSession()
      await next()
    }
    app.silent = true
    if (probesFirst) app.use(koaProbekit(health)).use(session)
    else app.use(session).use(koaProbekit(health))
    app.use((ctx) => {
      if (ctx.path === '/hello') ctx.body = 'hello'
    })
    return listenOn(createServer(app.callback()))
  },
  Fastify: async (probesFirst) => {
    const app = Fastify()
    // Await the registration: a root-level addHook runs at once, a plugin only when loaded.
    if (probesFirst) await app.register(fastifyProbekit(health))
    app.addHook('onRequest', async () => {
      await loadSession()
    })
    if (!probesFirst) await app.register(fastifyProbekit(health))
    app.get('/hello', async () => 'hello')
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: urlOf(app.server), close: () => app.close() }
  },
  Hono: async (probesFirst) => {
    const app = new Hono()
    app.onError((_error, c) => c.text('internal server error', 500))
    const session = async (_c: unknown, next: () => Promise<void>) => {
      await loadSession()
      await next()
    }
    if (probesFirst) app.use(honoProbekit(health), session)
    else app.use(session, honoProbekit(health))
    app.get('/hello', (c) => c.text('hello'))
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    await new Promise((resolve) => (server.listening ? resolve(undefined) : server.once('listening', resolve)))
    return {
      url: urlOf(server),
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    }
  },
  [`NestJS ${nestMajor()}`]: async (probesFirst) => {
    @Module({
      imports: probesFirst ? [ProbekitModule.forRoot(health)] : [],
      controllers: [HelloController],
    })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false })
    // What main.ts typically does after create(): the module has mounted the probes already.
    app.use(async (_req: unknown, _res: unknown, next: (error?: unknown) => void) => {
      try {
        await loadSession()
        next()
      } catch (error) {
        next(error)
      }
    })
    if (!probesFirst) app.use(health.handler())
    await app.listen(0, '127.0.0.1')
    return { url: urlOf(app.getHttpServer()), close: () => app.close() }
  },
}

/** test/http/nest11-mount-first.test.ts runs the NestJS app only, against Nest 11. */
const frameworks = onlyNestCases()
  ? Object.fromEntries(Object.entries(allFrameworks).filter(([name]) => name.startsWith('NestJS')))
  : allFrameworks

interface Answer {
  status: number | 'hung'
  body: string
}

function get(base: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.setTimeout(HUNG_AFTER_MS, () => {
      req.destroy()
      resolve({ status: 'hung', body: '' })
    })
    req.on('error', reject)
    req.end()
  })
}

const apps = new Map<string, { first: App; after: App }>()

before(async () => {
  redisServer = await startRedis()
  redis = new Redis(redisServer.port, '127.0.0.1', { maxRetriesPerRequest: null, lazyConnect: false })
  await redis.ping()
  health = createHealth({ logger: false, timeout: PROBE_TIMEOUT_MS })
  health.add('redis', async () => {
    await redis.ping()
  })
  for (const [name, build] of Object.entries(frameworks)) {
    apps.set(name, { first: await build(true), after: await build(false) })
  }
})

after(async () => {
  redisServer?.process.thaw()
  for (const { first, after } of apps.values()) await Promise.all([first.close(), after.close()])
  await health?.close()
  redis?.disconnect()
  await redisServer?.stop()
})

describe('session middleware that throws', () => {
  before(() => {
    sessionMode = 'throws'
  })

  for (const name of Object.keys(frameworks)) {
    it(`${name}: probes mounted first answer 200 while every app route fails with 500`, async () => {
      const { first } = apps.get(name)!
      assert.equal((await get(first.url, '/hello')).status, 500)
      assert.deepEqual(await get(first.url, '/livez'), { status: 200, body: 'ok' })
      assert.deepEqual(await get(first.url, '/readyz'), { status: 200, body: 'ok' })
    })

    it(`${name}: probes mounted after it fail with the app's 500`, async () => {
      const { after } = apps.get(name)!
      assert.equal((await get(after.url, '/livez')).status, 500)
    })
  }
})

describe('session middleware that hangs on a frozen Redis', () => {
  before(() => {
    sessionMode = 'reads redis'
    redisServer.process.freeze()
  })

  for (const name of Object.keys(frameworks)) {
    it(`${name}: probes mounted first keep liveness at 200 and fail readiness with the probe's timeout`, async () => {
      const { first } = apps.get(name)!
      const [hello, livez, readyz] = await Promise.all([
        get(first.url, '/hello'),
        get(first.url, '/livez'),
        get(first.url, '/readyz'),
      ])
      assert.equal(hello.status, 'hung')
      assert.deepEqual(livez, { status: 200, body: 'ok' })
      assert.equal(readyz.status, 503)
      assert.match(readyz.body, new RegExp(`^\\[-\\]redis failed: timed out after ${PROBE_TIMEOUT_MS} ms$`, 'm'))
    })

    it(`${name}: probes mounted after it hang, so the orchestrator would restart a healthy process`, async () => {
      const { after } = apps.get(name)!
      assert.equal((await get(after.url, '/livez')).status, 'hung')
    })
  }
})
