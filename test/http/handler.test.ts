import assert from 'node:assert/strict'
import { once } from 'node:events'
import http, { type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isLoopback } from '../../src/http/surface.js'
import { createHealth, type Health, type HealthOptions, NotReady } from '../../src/index.js'

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

function request(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      { method: init.method ?? 'GET', headers: init.headers, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

async function serve(
  health: Health,
  fallback?: http.RequestListener,
  onRequest?: () => void,
): Promise<{ base: string; close: () => Promise<void> }> {
  const handler = health.handler(fallback)
  const server = http.createServer((req, res) => {
    onRequest?.()
    handler(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

function app(options: HealthOptions = {}): Health {
  const health = createHealth({ logger: false, timeout: 300, ...options })
  health.add('db', () => ({ message: 'SELECT 1', observedValue: 0.4, observedUnit: 'ms', componentType: 'datastore' }))
  health.add(
    'cache',
    () => {
      throw new NotReady('cannot reach redis://:hunter2@cache:6379')
    },
    { critical: false },
  )
  health.add('loop', () => {}, { groups: ['live'] })
  return health
}

describe('node:http handler', () => {
  let health: Health
  let base: string
  let close: () => Promise<void>
  before(async () => {
    health = app({
      extraPaths: {
        '/_healthz/livez/': 'live',
        '/_healthz/readyz/': 'ready',
        '/_healthz/': 'startup',
        '/_status': 'ready',
        '/readiness': 'ready',
      },
    })
    ;({ base, close } = await serve(health, (_req, res) => res.end('app route')))
  })
  after(async () => {
    await close()
    await health.close()
  })

  it('answers ok with 200 and the probe headers', async () => {
    const r = await request(base, '/livez')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'ok')
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.equal(r.headers['x-content-type-options'], 'nosniff')
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
  })

  it('lists every check with ?verbose the way the API server does', async () => {
    const r = await request(base, '/readyz?verbose')
    assert.equal(r.status, 200)
    assert.equal(
      r.body,
      '[+]lifecycle ok\n[+]db ok\n[!]cache warn: cannot reach redis://:***@cache:6379\nreadyz check passed\n',
    )
  })

  it('maps the extra paths to their groups', async () => {
    assert.equal(
      (await request(base, '/_healthz/livez/?verbose')).body,
      '[+]lifecycle ok\n[+]loop ok\nlivez check passed\n',
    )
    assert.match((await request(base, '/_healthz/readyz/?verbose')).body, /\[\+\]db ok\n.*readyz check passed\n$/s)
    assert.match((await request(base, '/_healthz/?verbose')).body, /\[\+\]loop ok\n_healthz check passed\n$/)
    assert.match((await request(base, '/_status?verbose')).body, /_status check passed/)
    assert.match((await request(base, '/readiness?verbose')).body, /readiness check passed/)
  })

  it('passes any other request on to the app', async () => {
    const r = await request(base, '/api/orders')
    assert.equal(r.body, 'app route')
  })

  it('runs a single check under its group path, and 404s an unknown one', async () => {
    const one = await request(base, '/readyz/db?verbose')
    assert.equal(one.body, '[+]db ok\nreadyz check passed\n')
    const trailing = await request(base, '/_healthz/readyz/db/?verbose')
    assert.equal(trailing.body, '[+]db ok\nreadyz check passed\n')
    const missing = await request(base, '/readyz/nope')
    assert.equal(missing.status, 404)
    assert.match(missing.body, /no check named "nope"/)
    const wrongGroup = await request(base, '/livez/db')
    assert.equal(wrongGroup.status, 404)
  })

  it('excludes checks, warning about names that match nothing', async () => {
    const r = await request(base, '/readyz?verbose&exclude=cache&exclude=typo')
    assert.equal(
      r.body,
      '[+]lifecycle ok\n[+]db ok\n[+]cache excluded: ok\nwarn: some health checks cannot be excluded: no matches for "typo"\nreadyz check passed\n',
    )
  })

  it('answers health+json via Accept and ?format=json', async () => {
    for (const r of [
      await request(base, '/readyz', { headers: { accept: 'application/health+json' } }),
      await request(base, '/readyz?format=json'),
    ]) {
      assert.equal(r.headers['content-type'], 'application/health+json')
      const body = JSON.parse(r.body)
      assert.equal(body.status, 'warn')
      assert.deepEqual(Object.keys(body.checks), ['lifecycle', 'db', 'cache'])
      assert.equal(body.checks.db[0].status, 'pass')
      assert.equal(body.checks.db[0].observedValue, 0.4)
      assert.equal(body.checks.db[0].observedUnit, 'ms')
      assert.equal(body.checks.db[0].componentType, 'datastore')
      assert.equal(body.checks.db[0].output, undefined, 'no output for a passing check')
      assert.equal(body.checks.cache[0].status, 'warn')
      assert.equal(body.checks.cache[0].output, 'cannot reach redis://:***@cache:6379')
      assert.ok(Date.parse(body.checks.db[0].time))
    }
  })

  it('answers Prometheus text with each check status and duration', async () => {
    const r = await request(base, '/readyz?format=prometheus')
    assert.match(r.headers['content-type'] ?? '', /^text\/plain; version=0.0.4/)
    assert.match(r.body, /^probekit_check_up\{group="ready",check="db"\} 1$/m)
    assert.match(r.body, /^probekit_check_status\{group="ready",check="cache",status="warn"\} 1$/m)
    assert.match(r.body, /^probekit_check_duration_seconds\{group="ready",check="db"\} [0-9.e-]+$/m)
    assert.match(r.body, /^probekit_group_up\{group="ready"\} 1$/m)
  })

  it('answers HEAD with headers and no body, and 405 to other methods', async () => {
    const head = await request(base, '/readyz', { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.body, '')
    assert.equal(head.headers['content-length'], '2')
    const post = await request(base, '/readyz', { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.allow, 'GET, HEAD')
  })
})

describe('failing responses', () => {
  it('are always verbose, 503, and withhold reasons from callers not allowed to see them', async (t) => {
    const health = createHealth({ logger: false, details: 'never' })
    health.add('db', () => {
      throw new Error('password authentication failed for user "app"')
    })
    const { base, close } = await serve(health)
    t.after(async () => {
      await close()
      await health.close()
    })
    const r = await request(base, '/readyz')
    assert.equal(r.status, 503)
    assert.equal(r.body, '[+]lifecycle ok\n[-]db failed: reason withheld\nreadyz check failed\n')
    const json = JSON.parse((await request(base, '/readyz?format=json')).body)
    assert.equal(json.checks.db[0].output, 'reason withheld')
    assert.equal(json.output, 'db: reason withheld')
  })

  it('show reasons to loopback callers by default, and follow a details predicate', async (t) => {
    const health = createHealth({ logger: false, details: (req) => req.headers['x-debug'] === 'yes' })
    health.add('db', () => {
      throw new Error('refused')
    })
    const { base, close } = await serve(health)
    t.after(async () => {
      await close()
      await health.close()
    })
    assert.match((await request(base, '/readyz')).body, /reason withheld/)
    assert.match((await request(base, '/readyz', { headers: { 'x-debug': 'yes' } })).body, /\[-\]db failed: refused/)
    const local = createHealth({ logger: false })
    local.add('db', () => {
      throw new Error('refused')
    })
    const served = await serve(local)
    t.after(async () => {
      await served.close()
      await local.close()
    })
    assert.match((await request(served.base, '/readyz')).body, /\[-\]db failed: refused/)
  })

  it('answer 503 within the deadline when a probe never resolves', async (t) => {
    const health = createHealth({ logger: false, timeout: 200 })
    health.add('frozen', () => new Promise(() => {}))
    const { base, close } = await serve(health)
    t.after(async () => {
      await close()
      await health.close()
    })
    const started = performance.now()
    const r = await request(base, '/readyz')
    const elapsed = performance.now() - started
    assert.equal(r.status, 503)
    assert.match(r.body, /\[-\]frozen failed: timed out after 200 ms/)
    assert.ok(elapsed < 200 + 150, `answered after ${elapsed.toFixed(0)} ms`)
  })

  it('fail readiness with shutting down while liveness passes', async (t) => {
    const health = createHealth({ logger: false })
    const { base, close } = await serve(health)
    t.after(async () => {
      await close()
      await health.close()
    })
    health.beginShutdown()
    const ready = await request(base, '/readyz')
    assert.equal(ready.status, 503)
    assert.match(ready.body, /\[-\]lifecycle failed: shutting down/)
    assert.equal((await request(base, '/livez')).status, 200)
    health.broken('wedged')
    const live = await request(base, '/livez')
    assert.equal(live.status, 503)
    assert.match(live.body, /\[-\]lifecycle failed: broken: wedged/)
  })
})

describe('under load', () => {
  it('runs a slow probe once for 1,000 concurrent requests', async (t) => {
    const health = createHealth({ logger: false, timeout: 60_000 })
    let runs = 0
    let arrived = 0
    let allArrived!: () => void
    const gate = new Promise<void>((r) => (allArrived = r))
    // The probe stays in flight until every request has reached the server, however slow the machine.
    health.add('slow', async () => {
      runs++
      await gate
    })
    const { base, close } = await serve(health, undefined, () => {
      if (++arrived === 1000) allArrived()
    })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 })
    t.after(async () => {
      agent.destroy()
      await close()
      await health.close()
    })
    const replies = await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<number>((resolve, reject) => {
            http
              .get(`${base}/readyz`, { agent }, (res) => {
                res.resume()
                res.on('end', () => resolve(res.statusCode ?? 0))
              })
              .on('error', reject)
          }),
      ),
    )
    assert.equal(arrived, 1000)
    assert.ok(replies.every((s) => s === 200))
    assert.equal(runs, 1)
  })
})

describe('listen', () => {
  it('serves only health paths on a management port and closes cleanly', async () => {
    const health = createHealth({ logger: false })
    const listening = await health.listen({ port: 0, host: '127.0.0.1' })
    assert.match(listening.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal((await request(listening.url, '/livez')).body, 'ok')
    assert.equal((await request(listening.url, '/')).status, 404)
    await listening.close()
    await assert.rejects(request(listening.url, '/livez'), /ECONNREFUSED/)
  })

  it('says which port is busy', async () => {
    const health = createHealth({ logger: false })
    const first = await health.listen({ port: 0, host: '127.0.0.1' })
    await assert.rejects(
      health.listen({ port: first.port, host: '127.0.0.1' }),
      new RegExp(`port ${first.port} on 127.0.0.1 is already in use`),
    )
    await health.close()
  })

  it('serves metrics at a configured path with 200 even when checks fail', async () => {
    const health = createHealth({ logger: false, metricsPath: '/metrics' })
    health.add('db', () => {
      throw new Error('down')
    })
    const listening = await health.listen({ port: 0, host: '127.0.0.1' })
    const r = await request(listening.url, '/metrics')
    assert.equal(r.status, 200)
    assert.match(r.body, /probekit_check_up\{group="startup",check="db"\} 0/)
    await health.close()
  })
})

describe('isLoopback', () => {
  it('knows loopback peers from others', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a)
    for (const a of ['10.0.0.1', '192.168.1.1', '::ffff:10.1.1.1', 'fe80::1', undefined])
      assert.ok(!isLoopback(a), String(a))
  })
})
