/**
 * One suite, the same assertions, against node:http `health.handler()`, `health.listen()`
 * and every framework adapter: they translate requests and responses and nothing else, so
 * they must answer exactly alike.
 */
import 'reflect-metadata'
import assert from 'node:assert/strict'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { serve } from '@hono/node-server'
import { Controller, Get, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify'
import express from 'express'
// @ts-expect-error express4 is Express 4 installed under an alias; its types are Express 5's.
import express4 from 'express4'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { NotReady } from '../../src/core/errors.js'
import { createHealth, Health } from '../../src/health.js'
import expressProbekit from '../../src/http/adapters/express.js'
import fastifyProbekit from '../../src/http/adapters/fastify.js'
import honoProbekit from '../../src/http/adapters/hono.js'
import koaProbekit from '../../src/http/adapters/koa.js'
import { ProbekitModule } from '../../src/http/adapters/nest.js'
import { isLoopback } from '../../src/http/surface.js'
import { nestMajor, onlyNestCases } from '../support/nest.js'

const health = createHealth({
  logger: false,
  timeout: 1000,
  // The tests run on loopback; a caller sending x-public-caller plays one from outside.
  details: (request) => isLoopback(request.remoteAddress) && request.headers['x-public-caller'] === undefined,
  extraPaths: { '/_healthz/readyz/': 'ready', '/_status': 'ready' },
})
health.add('db', () => ({ message: 'SELECT 1', observedValue: 1, observedUnit: 'ms', componentType: 'datastore' }))
health.add('cache', async () => {})
health.add(
  'migrations',
  () => {
    throw new NotReady('3 migrations pending')
  },
  { groups: ['startup'] },
)

const HELLO = 'hello from the app'

interface Target {
  name: string
  /** Whether the target has app routes behind the health paths. */
  app: boolean
  /** A NestJS target: test/http/nest11-conformance.test.ts runs these against Nest 11 too. */
  nest?: boolean
  start(): Promise<{ url: string; close(): Promise<void> }>
}

function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function listenOn(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: urlOf(server),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      }),
    )
  })
}

@Controller()
class HelloController {
  @Get('hello')
  hello() {
    return HELLO
  }
}

@Module({ imports: [ProbekitModule.forRoot(health)], controllers: [HelloController] })
class NestAppModule {}

const NEST = `NestJS ${nestMajor()}`

const allTargets: Target[] = [
  {
    name: 'node:http health.handler()',
    app: true,
    start: () =>
      listenOn(
        createServer(
          health.handler((req, res) => {
            if (req.url === '/hello') res.end(HELLO)
            else {
              res.statusCode = 404
              res.end('no such page')
            }
          }),
        ),
      ),
  },
  {
    name: 'health.listen()',
    app: false,
    start: async () => {
      const listening = await health.listen({ port: 0, host: '127.0.0.1' })
      return { url: listening.url, close: () => listening.close() }
    },
  },
  {
    name: 'Express 5',
    app: true,
    start: () => {
      const app = express()
      app.use(expressProbekit(health))
      app.get('/hello', (_req, res) => {
        res.send(HELLO)
      })
      return listenOn(createServer(app))
    },
  },
  {
    name: 'Express 4',
    app: true,
    start: () => {
      const app = express4()
      app.use(expressProbekit(health))
      app.get('/hello', (_req: unknown, res: { send(body: string): void }) => {
        res.send(HELLO)
      })
      return listenOn(createServer(app))
    },
  },
  {
    name: 'Fastify',
    app: true,
    start: async () => {
      const app = Fastify()
      await app.register(fastifyProbekit(health))
      app.get('/hello', async () => HELLO)
      await app.listen({ port: 0, host: '127.0.0.1' })
      return { url: urlOf(app.server), close: () => app.close() }
    },
  },
  {
    name: 'Koa',
    app: true,
    start: () => {
      const app = new Koa()
      app.use(koaProbekit(health))
      app.use((ctx) => {
        if (ctx.path === '/hello') ctx.body = HELLO
      })
      return listenOn(createServer(app.callback()))
    },
  },
  {
    name: 'Hono (@hono/node-server)',
    app: true,
    start: async () => {
      const app = new Hono()
      app.use(honoProbekit(health))
      app.get('/hello', (c) => c.text(HELLO))
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
      await new Promise((resolve) => (server.listening ? resolve(undefined) : server.once('listening', resolve)))
      return {
        url: urlOf(server),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      }
    },
  },
  {
    name: `${NEST} (ProbekitModule, Express platform)`,
    app: true,
    nest: true,
    start: async () => {
      const app = await NestFactory.create(NestAppModule, { logger: false })
      await app.listen(0, '127.0.0.1')
      return { url: urlOf(app.getHttpServer()), close: () => app.close() }
    },
  },
  {
    name: `${NEST} (ProbekitModule, Fastify platform)`,
    app: true,
    nest: true,
    start: async () => {
      const app = await NestFactory.create<NestFastifyApplication>(NestAppModule, new FastifyAdapter(), {
        logger: false,
      })
      await app.listen(0, '127.0.0.1')
      return { url: urlOf(app.getHttpServer()), close: () => app.close() }
    },
  },
]

/** The first target, node:http's handler, is the reference every other one is compared with. */
const targets = onlyNestCases() ? allTargets.filter((target, i) => i === 0 || target.nest) : allTargets

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function fetchRaw(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(options.method === 'POST' ? '{"x":1}' : undefined)
  })
}

/** What must be identical between an adapter and the node:http handler. */
function comparable(answer: Answer) {
  let body = answer.body
  if (answer.headers['content-type']?.includes('json')) {
    body = JSON.stringify(JSON.parse(body), (key, value) => (key === 'time' ? '<time>' : value))
  } else body = body.replace(/probekit_check_duration_seconds\{[^}]*\} \S+/g, 'duration')
  return {
    status: answer.status,
    body,
    'content-type': answer.headers['content-type'],
    // Prometheus durations vary in length from run to run; every other body is fixed.
    'content-length': answer.body.includes('duration_seconds') ? 'varies' : answer.headers['content-length'],
    'cache-control': answer.headers['cache-control'],
    'x-content-type-options': answer.headers['x-content-type-options'],
    allow: answer.headers.allow,
  }
}

const TABLE: { path: string; method?: string; headers?: Record<string, string> }[] = [
  { path: '/livez' },
  { path: '/readyz' },
  { path: '/healthz' },
  { path: '/readyz?verbose' },
  { path: '/healthz?exclude=migrations&exclude=nope&verbose' },
  { path: '/readyz/db' },
  { path: '/readyz/nope' },
  { path: '/healthz', headers: { accept: 'application/health+json' } },
  { path: '/readyz?format=json' },
  { path: '/healthz?format=prometheus' },
  { path: '/healthz', headers: { 'x-public-caller': '1' } },
  { path: '/readyz', method: 'HEAD' },
  { path: '/healthz', method: 'HEAD' },
  { path: '/readyz', method: 'POST' },
  { path: '/_healthz/readyz/?verbose' },
  { path: '/_status' },
]

let reference: Map<string, ReturnType<typeof comparable>> | undefined

after(() => health.close())

for (const target of targets) {
  describe(`HTTP conformance: ${target.name}`, () => {
    let base = ''
    let close: () => Promise<void> = async () => {}
    before(async () => {
      const started = await target.start()
      base = started.url
      close = started.close
    })
    after(() => close())

    it('answers /livez, /readyz and /healthz with a plain ok when passing, and /healthz 503 when a check fails', async () => {
      for (const path of ['/livez', '/readyz']) {
        const answer = await fetchRaw(base, path)
        assert.equal(answer.status, 200, path)
        assert.equal(answer.body, 'ok', path)
        assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8', path)
      }
      const failing = await fetchRaw(base, '/healthz')
      assert.equal(failing.status, 503)
    })

    it('lists every check with ?verbose, the Kubernetes way', async () => {
      const answer = await fetchRaw(base, '/readyz?verbose')
      assert.equal(answer.status, 200)
      assert.equal(answer.body, '[+]lifecycle ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n')
    })

    it('makes a failing response verbose, with the reason for a loopback caller', async () => {
      const answer = await fetchRaw(base, '/healthz')
      assert.equal(answer.status, 503)
      assert.equal(
        answer.body,
        '[+]lifecycle ok\n[+]db ok\n[+]cache ok\n[-]migrations failed: 3 migrations pending\nhealthz check failed\n',
      )
    })

    it('withholds reasons from callers the details policy does not trust', async () => {
      const text = await fetchRaw(base, '/healthz', { headers: { 'x-public-caller': '1' } })
      assert.equal(text.status, 503)
      assert.match(text.body, /\[-\]migrations failed: reason withheld\n/)
      assert.doesNotMatch(text.body, /pending/)
      const json = await fetchRaw(base, '/healthz?format=json', { headers: { 'x-public-caller': '1' } })
      assert.equal(JSON.parse(json.body).checks.migrations[0].output, 'reason withheld')
      assert.doesNotMatch(json.body, /pending/)
    })

    it('skips checks named in ?exclude= and warns about names that match none', async () => {
      const plain = await fetchRaw(base, '/healthz?exclude=migrations')
      assert.equal(plain.status, 200)
      assert.equal(plain.body, 'ok')
      const answer = await fetchRaw(base, '/healthz?exclude=migrations&exclude=nope&verbose')
      assert.equal(answer.status, 200)
      assert.equal(
        answer.body,
        '[+]lifecycle ok\n[+]db ok\n[+]cache ok\n[+]migrations excluded: ok\n' +
          'warn: some health checks cannot be excluded: no matches for "nope"\nhealthz check passed\n',
      )
    })

    it('runs one check at /readyz/<name> and answers 404 for an unknown name', async () => {
      const one = await fetchRaw(base, '/readyz/db?verbose')
      assert.equal(one.status, 200)
      assert.equal(one.body, '[+]db ok\nreadyz check passed\n')
      const failing = await fetchRaw(base, '/healthz/migrations')
      assert.equal(failing.status, 503)
      assert.equal(failing.body, '[-]migrations failed: 3 migrations pending\nhealthz check failed\n')
      const unknown = await fetchRaw(base, '/readyz/nope')
      assert.equal(unknown.status, 404)
      assert.equal(unknown.body, 'not found: no check named "nope" in readyz\n')
    })

    it('answers IETF health+json for Accept: application/health+json and ?format=json', async () => {
      const byAccept = await fetchRaw(base, '/healthz', { headers: { accept: 'application/health+json' } })
      assert.equal(byAccept.status, 503)
      assert.equal(byAccept.headers['content-type'], 'application/health+json')
      const failing = JSON.parse(byAccept.body)
      assert.equal(failing.status, 'fail')
      assert.equal(failing.checks.migrations[0].status, 'fail')
      assert.equal(failing.checks.migrations[0].output, '3 migrations pending')
      const byQuery = await fetchRaw(base, '/readyz?format=json')
      assert.equal(byQuery.status, 200)
      const passing = JSON.parse(byQuery.body)
      assert.equal(passing.status, 'pass')
      assert.deepEqual(Object.keys(passing.checks), ['lifecycle', 'db', 'cache'])
      assert.equal(passing.checks.db[0].observedValue, 1)
      assert.equal(passing.checks.db[0].observedUnit, 'ms')
      assert.equal(passing.checks.db[0].componentType, 'datastore')
    })

    it('answers Prometheus text for ?format=prometheus', async () => {
      const answer = await fetchRaw(base, '/healthz?format=prometheus')
      assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/)
      assert.match(answer.body, /^probekit_check_up\{[^}]*check="migrations"[^}]*\} 0$/m)
      assert.match(answer.body, /^probekit_check_up\{[^}]*check="db"[^}]*\} 1$/m)
    })

    it('sends Cache-Control: no-store and X-Content-Type-Options: nosniff on every answer', async () => {
      for (const path of ['/livez', '/readyz?verbose', '/healthz', '/readyz?format=json', '/readyz/nope']) {
        const answer = await fetchRaw(base, path)
        assert.equal(answer.headers['cache-control'], 'no-store', path)
        assert.equal(answer.headers['x-content-type-options'], 'nosniff', path)
      }
    })

    it('answers HEAD with the status and headers of GET and no body', async () => {
      const passing = await fetchRaw(base, '/readyz', { method: 'HEAD' })
      assert.equal(passing.status, 200)
      assert.equal(passing.body, '')
      assert.equal(passing.headers['content-length'], '2')
      const failing = await fetchRaw(base, '/healthz', { method: 'HEAD' })
      assert.equal(failing.status, 503)
      assert.equal(failing.body, '')
    })

    it('answers 405 with Allow: GET, HEAD to other methods', async () => {
      const answer = await fetchRaw(base, '/readyz', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(answer.status, 405)
      assert.equal(answer.headers.allow, 'GET, HEAD')
    })

    it('serves the configured extra paths for their groups', async () => {
      const readyz = await fetchRaw(base, '/_healthz/readyz/?verbose')
      assert.equal(readyz.status, 200)
      assert.equal(readyz.body, '[+]lifecycle ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n')
      const status = await fetchRaw(base, '/_status')
      assert.equal(status.status, 200)
      assert.equal(status.body, 'ok')
    })

    if (target.app) {
      it("passes every other request through to the app's own routes", async () => {
        const hello = await fetchRaw(base, '/hello')
        assert.equal(hello.status, 200)
        assert.equal(hello.body, HELLO)
        const lookalike = await fetchRaw(base, '/readyzz')
        assert.equal(lookalike.status, 404)
        assert.notEqual(lookalike.body, 'ok')
      })
    } else {
      it('answers 404 to every other path', async () => {
        const answer = await fetchRaw(base, '/hello')
        assert.equal(answer.status, 404)
      })
    }

    it('answers every request of the table exactly as the node:http handler does', async () => {
      const answers = new Map<string, ReturnType<typeof comparable>>()
      for (const entry of TABLE) {
        const key = `${entry.method ?? 'GET'} ${entry.path} ${JSON.stringify(entry.headers ?? {})}`
        answers.set(key, comparable(await fetchRaw(base, entry.path, entry)))
      }
      if (!reference) reference = answers
      else for (const [key, answer] of answers) assert.deepEqual(answer, reference.get(key), key)
    })
  })
}

if (!onlyNestCases()) {
  describe('Hono without @hono/node-server (app.request, as on other runtimes)', () => {
    const app = new Hono()
    app.use(honoProbekit(health))
    app.get('/hello', (c) => c.text(HELLO))

    it('answers the health paths from the web Request, withholding reasons from a caller of unknown address', async () => {
      const ok = await app.request('/readyz?verbose')
      assert.equal(ok.status, 200)
      assert.equal(await ok.text(), '[+]lifecycle ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n')
      assert.equal(ok.headers.get('cache-control'), 'no-store')
      const failing = await app.request('/healthz', { headers: { accept: 'application/health+json' } })
      assert.equal(failing.status, 503)
      const body = (await failing.json()) as { checks: Record<string, { output?: string }[]> }
      assert.equal(body.checks.migrations?.[0]?.output, 'reason withheld')
      assert.equal(await (await app.request('/hello')).text(), HELLO)
    })
  })
}

describe(`${NEST} ProbekitModule`, () => {
  it('makes the health instance injectable in every module', async () => {
    class QueueConsumer {
      constructor(readonly health: Health) {}
    }
    @Module({
      providers: [{ provide: QueueConsumer, inject: [Health], useFactory: (h: Health) => new QueueConsumer(h) }],
    })
    class FeatureModule {}
    @Module({ imports: [ProbekitModule.forRoot(health), FeatureModule] })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false })
    try {
      assert.equal(app.get(QueueConsumer).health, health)
    } finally {
      await app.close()
    }
  })
})
