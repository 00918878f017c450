/**
 * Graceful shutdown against a real server in a child process (test/fixtures/shutdown-app.ts)
 * that receives a real SIGTERM or SIGINT. The app prints JSON events on stdout; the tests
 * check what clients saw and in which order the app did things.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { serve } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { createHealth, type Health } from '../../src/health.js'
import expressProbekit from '../../src/http/adapters/express.js'
import fastifyProbekit from '../../src/http/adapters/fastify.js'
import honoProbekit from '../../src/http/adapters/hono.js'
import koaProbekit from '../../src/http/adapters/koa.js'
import { gracefulShutdown } from '../../src/http/shutdown.js'
import { activeResources } from '../support/faults.js'
import { sleep, waitFor } from '../support/server-process.js'

const FIXTURE = new URL('../fixtures/shutdown-app.ts', import.meta.url).pathname
const SLOW_BODY_LENGTH = 200_003
const DELAY_MS = 1500

interface AppEvent {
  event: string
  t: number
  /** The structured fields of the helper's log lines. */
  shutdown?: { step: string; name?: string; [field: string]: unknown }
  [field: string]: unknown
}

interface LogEvent extends AppEvent {
  level: string
  msg: string
}

/** The fixture app in a child process, with the events it printed. */
class ShutdownApp {
  readonly events: AppEvent[] = []
  readonly exited: Promise<number | null>
  private stderr = ''
  port = 0

  private constructor(readonly child: ChildProcess) {
    let buffer = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk
      let newline = buffer.indexOf('\n')
      while (newline >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        if (line.startsWith('{')) this.events.push(JSON.parse(line) as AppEvent)
        newline = buffer.indexOf('\n')
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }

  static async start(config: object): Promise<ShutdownApp> {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, SHUTDOWN_APP: JSON.stringify(config), KUBERNETES_SERVICE_HOST: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const app = new ShutdownApp(child)
    const listening = await app.waitFor((e) => e.event === 'listening', 'the app to listen')
    app.port = listening.port as number
    return app
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal)
  }

  waitFor(match: (event: AppEvent) => boolean, what: string): Promise<AppEvent> {
    return waitFor(
      what,
      () => {
        if (this.child.exitCode !== null && !this.events.some(match)) {
          throw new Error(`the app exited with ${this.child.exitCode}: ${this.stderr.slice(-2000)}`)
        }
        return this.events.find(match)
      },
      20_000,
      10,
    )
  }

  step(step: string): Promise<LogEvent> {
    return this.waitFor((e) => (e as LogEvent).shutdown?.step === step, `shutdown step ${step}`) as Promise<LogEvent>
  }

  logs(step: string): LogEvent[] {
    return (this.events as LogEvent[]).filter((e) => e.shutdown?.step === step)
  }

  indexOf(match: (event: AppEvent) => boolean): number {
    return this.events.findIndex(match)
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

function get(port: number, path: string, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error)
}

interface Outcome {
  t: number
  ok: boolean
  code?: string
}

/** Sends requests one after another until stopped, recording when each succeeded or failed. */
function continuousClient(port: number, agent: Agent | false) {
  const outcomes: Outcome[] = []
  let running = true
  const done = (async () => {
    while (running) {
      try {
        const answer = await get(port, '/hello', agent)
        outcomes.push({ t: Date.now(), ok: answer.status === 200 && answer.body === 'hello' })
      } catch (error) {
        outcomes.push({ t: Date.now(), ok: false, code: errorCode(error) })
      }
      await sleep(10)
    }
  })()
  return {
    outcomes,
    stop: async () => {
      running = false
      await done
    },
  }
}

describe('graceful shutdown on SIGTERM, everything finishing in time', () => {
  let app: ShutdownApp
  let exitCode: number | null
  let beforeSignal: Answer
  let during: { readyz: Answer; livez: Answer; hello: Answer }
  let slow: Answer
  let stream: Answer
  let afterDelay: string
  let clients: ReturnType<typeof continuousClient>[]
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 })

  before(async () => {
    app = await ShutdownApp.start({
      delayMs: DELAY_MS,
      drainTimeoutMs: 5000,
      workTimeoutMs: 5000,
      hookTimeoutMs: 1000,
      hooks: [
        { name: 'postgres pool', ms: 50 },
        { name: 'queue', ms: 50 },
        { name: 'cache', ms: 50 },
      ],
    })
    const { port } = app
    beforeSignal = await get(port, '/hello', keepAlive)
    clients = [continuousClient(port, new Agent({ keepAlive: true, maxSockets: 2 })), continuousClient(port, false)]
    const slowRequest = get(port, '/slow?ms=2500')
    slowRequest.catch(() => {})
    await app.waitFor((e) => e.event === 'slow-start', 'the slow request to arrive')
    const streamRequest = get(port, '/stream?ms=2200', new Agent({ keepAlive: true }))
    streamRequest.catch(() => {})
    await app.waitFor((e) => e.event === 'stream-start', 'the streamed response to start')
    await get(port, '/job?name=report&ms=3500')

    app.signal('SIGTERM')
    await app.step('begin')
    during = {
      readyz: await get(port, '/readyz?verbose'),
      livez: await get(port, '/livez'),
      hello: await get(port, '/hello', keepAlive),
    }
    app.signal('SIGTERM')
    await app.step('repeat')

    await app.step('drain')
    afterDelay = await get(port, '/hello').then(
      (answer) => `answered ${answer.status}`,
      (error: unknown) => errorCode(error),
    )
    slow = await slowRequest
    stream = await streamRequest
    exitCode = await app.exited
    await Promise.all(clients.map((c) => c.stop()))
    keepAlive.destroy()
  })

  after(() => app?.stop())

  it('fails readiness with "shutting down" during the delay while liveness and other routes still work', () => {
    assert.equal(during.readyz.status, 503)
    assert.match(during.readyz.body, /^\[-\]lifecycle failed: shutting down$/m)
    assert.equal(during.livez.status, 200)
    assert.equal(during.livez.body, 'ok')
    assert.equal(during.hello.status, 200)
    assert.equal(during.hello.body, 'hello')
  })

  it('tells a keep-alive client to close its connection', () => {
    assert.equal(beforeSignal.headers.connection, 'keep-alive')
    assert.equal(during.hello.headers.connection, 'close')
    assert.equal(slow.headers.connection, 'close')
  })

  it('completes a request in flight when the signal arrives, with its full body', () => {
    assert.equal(slow.status, 200)
    assert.equal(slow.body.length, SLOW_BODY_LENGTH)
    assert.ok(slow.body.endsWith('END'))
    assert.ok(app.indexOf((e) => e.event === 'slow-end') < app.indexOf((e) => e.shutdown?.step === 'drained'))
  })

  it('closes a keep-alive connection whose response started before the signal once that response ends', () => {
    assert.equal(stream.headers.connection, 'keep-alive')
    assert.equal(stream.body, 'first last')
    // With a 60 s keep-alive timeout nothing else would close that socket: the drain would
    // time out and be forced (exit 1) had the helper not closed it.
    assert.equal(app.logs('drain').filter((e) => e.shutdown?.forced).length, 0)
  })

  it('refuses connections once the delay is over', () => {
    assert.equal(afterDelay, 'ECONNREFUSED')
  })

  it('gives a client sending requests continuously no failed request before the delay ends', () => {
    const begin = app.logs('begin')[0]!.t
    // The servers close no earlier than this (the log line of the drain comes after the close).
    const delayEnd = begin + DELAY_MS
    for (const client of clients) {
      const early = client.outcomes.filter((o) => o.t < delayEnd)
      const failed = early.filter((o) => !o.ok).map((o) => `${o.code} at ${o.t - begin} ms after the signal`)
      assert.deepEqual(failed, [])
      assert.ok(early.filter((o) => o.t > begin).length > 5, 'requests were served during the delay')
    }
  })

  it('waits for tracked work before running the hooks', () => {
    const jobDone = app.indexOf((e) => e.event === 'job-done' && e.name === 'report')
    assert.ok(jobDone > app.indexOf((e) => e.shutdown?.step === 'work'))
    assert.ok(jobDone < app.indexOf((e) => e.event === 'hook-start'))
    assert.equal(app.logs('work-done').length, 1)
  })

  it('runs the cleanup hooks in reverse order of registration, each to its end', () => {
    const hookEvents = app.events.filter((e) => e.event === 'hook-start' || e.event === 'hook-end')
    assert.deepEqual(
      hookEvents.map((e) => `${e.event} ${e.name}`),
      [
        'hook-start cache',
        'hook-end cache',
        'hook-start queue',
        'hook-end queue',
        'hook-start postgres pool',
        'hook-end postgres pool',
      ],
    )
  })

  it('runs the sequence once although a second SIGTERM arrived', () => {
    assert.equal(app.logs('begin').length, 1)
    assert.equal(app.logs('repeat').length, 1)
    assert.equal(app.logs('done').length, 1)
  })

  it('exits 0 when everything finished in time', () => {
    assert.equal(exitCode, 0)
    const done = app.logs('done')[0]!
    assert.equal(done.shutdown?.exitCode, 0)
    assert.deepEqual(done.shutdown?.forced, [])
    assert.equal(app.events.at(-1)?.event, 'exit')
  })
})

describe('graceful shutdown on SIGINT, with steps that must be forced', () => {
  let app: ShutdownApp
  let exitCode: number | null
  let hanging: string

  before(async () => {
    app = await ShutdownApp.start({
      delayMs: 200,
      drainTimeoutMs: 600,
      workTimeoutMs: 600,
      hookTimeoutMs: 400,
      hooks: [
        { name: 'first', ms: 20 },
        { name: 'stuck', hang: true },
        { name: 'last', ms: 20 },
      ],
    })
    const hangingRequest = get(app.port, '/hang').then(
      (answer) => `answered ${answer.status}`,
      (error: unknown) => errorCode(error),
    )
    await app.waitFor((e) => e.event === 'hang-start', 'the hanging request to arrive')
    await get(app.port, '/job?name=endless-export&ms=60000')
    app.signal('SIGINT')
    exitCode = await app.exited
    hanging = await hangingRequest
  })

  after(() => app?.stop())

  it('destroys a connection whose request is still in flight after the drain timeout', () => {
    assert.equal(hanging, 'ECONNRESET')
    const forced = app.logs('drain').find((e) => e.shutdown?.forced)
    assert.match(
      String(forced?.shutdown?.forced),
      /1 request\(s\) still in flight after 600 ms.*destroyed 1 connection/,
    )
  })

  it('stops waiting for tracked work at its timeout and names it', () => {
    const forced = app.logs('work').find((e) => e.shutdown?.forced)
    assert.match(String(forced?.shutdown?.forced), /tracked work still running after 600 ms: endless-export/)
    assert.equal(
      app.indexOf((e) => e.event === 'job-done'),
      -1,
    )
  })

  it('cuts off a hook that hangs at its deadline and still runs the hooks after it', () => {
    assert.deepEqual(
      app.events.filter((e) => e.event === 'hook-start').map((e) => e.name),
      ['last', 'stuck', 'first'],
    )
    assert.equal(
      app.indexOf((e) => e.event === 'hook-end' && e.name === 'stuck'),
      -1,
    )
    const cutOff = app.indexOf((e) => e.shutdown?.step === 'hook' && e.shutdown.name === 'stuck')
    assert.match(String((app.events[cutOff] as LogEvent).msg), /cleanup hook "stuck" cut off: timed out after 400 ms/)
    assert.ok(cutOff < app.indexOf((e) => e.event === 'hook-start' && e.name === 'first'))
    assert.ok(app.indexOf((e) => e.event === 'hook-end' && e.name === 'first') > cutOff)
  })

  it('exits 1 and logs every step that was forced', () => {
    assert.equal(exitCode, 1)
    const done = app.logs('done')[0]!
    assert.equal(done.level, 'error')
    assert.equal(done.shutdown?.exitCode, 1)
    assert.equal((done.shutdown?.forced as string[] | undefined)?.length, 3)
    assert.match(done.msg, /forced 3 step\(s\)/)
  })
})

describe('gracefulShutdown in-process (exit: false)', () => {
  it('runs the sequence once when shutdown() is called twice, and returns the same result', async () => {
    const health = createHealth({ logger: false })
    const shutdown = gracefulShutdown(health, { exit: false, signals: [], delayMs: 0 })
    let hookRuns = 0
    shutdown.onShutdown('count', () => {
      hookRuns++
    })
    const first = shutdown.shutdown('test')
    const second = shutdown.shutdown('again')
    assert.equal(first, second)
    const result = await first
    assert.deepEqual(result.forced, [])
    assert.equal(result.exitCode, 0)
    assert.equal(result.trigger, 'test')
    assert.equal(hookRuns, 1)
    assert.equal(health.phase, 'shutting down')
    assert.equal(shutdown.signal.aborted, true)
  })

  it('closes the servers, the management listener and background probes, leaving nothing behind', async () => {
    await sleep(50)
    const baseline = activeResources()
    const health = createHealth({ logger: false })
    let probeRuns = 0
    health.add('background', () => void probeRuns++, { interval: 20 })
    const management = await health.listen({ port: 0, host: '127.0.0.1' })
    const server = createServer(health.handler((_req, res) => res.end('hello')))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const agent = new Agent({ keepAlive: true })
    assert.equal((await get(port, '/hello', agent)).body, 'hello')
    assert.equal((await get(management.port, '/readyz')).status, 200)

    const result = await gracefulShutdown(health, {
      servers: [server],
      exit: false,
      signals: [],
      delayMs: 0,
    }).shutdown()
    assert.equal(result.exitCode, 0)
    assert.equal(server.listening, false)
    assert.equal(management.server.listening, false)
    const runsAtEnd = probeRuns
    await sleep(100)
    assert.equal(probeRuns, runsAtEnd, 'background probes stopped')
    agent.destroy()
    await sleep(50)
    assert.deepEqual(activeResources().byType, baseline.byType)
  })

  it('removes its signal handlers when it is done', async () => {
    const before = process.listenerCount('SIGTERM')
    const shutdown = gracefulShutdown(createHealth({ logger: false }), { exit: false, delayMs: 0 })
    assert.equal(process.listenerCount('SIGTERM'), before + 1)
    await shutdown.shutdown()
    assert.equal(process.listenerCount('SIGTERM'), before)
    assert.equal(process.listenerCount('SIGINT'), 0)
  })

  it('counts a hook that throws as a failure, with its message', async () => {
    const shutdown = gracefulShutdown(createHealth({ logger: false }), { exit: false, signals: [], delayMs: 0 })
    shutdown.onShutdown('pool', () => {
      throw new Error('pool already closed')
    })
    const result = await shutdown.shutdown()
    assert.equal(result.exitCode, 1)
    assert.deepEqual(result.forced, ['cleanup hook "pool" failed: pool already closed'])
  })

  it('goes on to the end when a hook rejects with what cannot be read, or the logger throws', async () => {
    const boom = () => {
      throw new Error('logger stream closed')
    }
    const health = createHealth({ logger: false })
    const shutdown = gracefulShutdown(health, {
      exit: false,
      signals: [],
      delayMs: 0,
      logger: { info: boom, warn: boom, error: boom },
    })
    const ran: string[] = []
    shutdown.onShutdown('last', () => {
      ran.push('last')
    })
    shutdown.onShutdown('odd', () => {
      ran.push('odd')
      const unreadable = new Error('')
      Object.defineProperty(unreadable, 'message', {
        get() {
          throw new Error('getter boom')
        },
      })
      throw unreadable
    })
    // Each ended the sequence with a rejection: the hooks after it never ran, nor did the exit.
    const result = await shutdown.shutdown()
    assert.deepEqual(ran, ['odd', 'last'])
    assert.equal(result.exitCode, 1)
    assert.match(result.forced[0] ?? '', /^cleanup hook "odd" failed: failed \(what was thrown cannot be read/)
  })

  it('waits 5 s by default when running in Kubernetes, and not at all elsewhere', async () => {
    const messages: string[] = []
    const logger = {
      info: (m: string) => (m.startsWith('shutdown:') ? messages.push(m) : 0),
      warn: () => {},
      error: () => {},
    }
    const saved = process.env.KUBERNETES_SERVICE_HOST
    try {
      process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1'
      const inKubernetes = gracefulShutdown(createHealth({ logger }), { exit: false, signals: [] })
      delete process.env.KUBERNETES_SERVICE_HOST
      const elsewhere = gracefulShutdown(createHealth({ logger }), { exit: false, signals: [] })
      const runs = [inKubernetes.shutdown('k8s'), elsewhere.shutdown('local')]
      assert.match(messages[0] ?? '', /^shutdown: k8s; .*closing servers in 5000 ms$/)
      assert.match(messages[1] ?? '', /^shutdown: local; .*closing servers in 0 ms$/)
      await Promise.all(runs)
    } finally {
      if (saved === undefined) delete process.env.KUBERNETES_SERVICE_HOST
      else process.env.KUBERNETES_SERVICE_HOST = saved
    }
  })

  it('rejects a bad option with one sentence naming it', () => {
    assert.throws(
      () => gracefulShutdown(createHealth({ logger: false }), { delayMs: -1, signals: [] }),
      /gracefulShutdown: delayMs must be zero or a positive number of milliseconds, at most 2147483647 \(24\.8 days\), got -1/,
    )
    // Node would fire a longer timer after 1 ms: the delay would be skipped.
    assert.throws(
      () => gracefulShutdown(createHealth({ logger: false }), { delayMs: 3_000_000_000, signals: [] }),
      /delayMs must be .*at most 2147483647 \(24\.8 days\), got 3000000000/,
    )
    assert.throws(
      () => gracefulShutdown(createHealth({ logger: false }), { servers: [{} as never], signals: [] }),
      /a server must be a node HTTP server/,
    )
  })

  it('refuses a second helper for the same health instance, which would run the sequence twice', () => {
    const health = createHealth({ logger: false })
    const shutdown = gracefulShutdown(health, { signals: [] })
    assert.throws(() => gracefulShutdown(health, { signals: [] }), /has a shutdown helper already/)
    shutdown.dispose()
    gracefulShutdown(health, { signals: [] }).dispose()
  })
})

describe("gracefulShutdown with each framework's server", () => {
  const frameworks: Record<string, (health: Health) => Promise<Server>> = {
    Express: async (health) => {
      const app = express()
      app.use(expressProbekit(health))
      app.get('/hello', (_req, res) => {
        res.send('hello')
      })
      return listening(createServer(app))
    },
    Fastify: async (health) => {
      const app = Fastify()
      await app.register(fastifyProbekit(health))
      app.get('/hello', async () => 'hello')
      await app.listen({ port: 0, host: '127.0.0.1' })
      return app.server
    },
    Koa: async (health) => {
      const app = new Koa()
      app.use(koaProbekit(health))
      app.use((ctx) => {
        ctx.body = 'hello'
      })
      return listening(createServer(app.callback()))
    },
    Hono: async (health) => {
      const app = new Hono()
      app.use(honoProbekit(health))
      app.get('/hello', (c) => c.text('hello'))
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
      await new Promise((resolve) => (server.listening ? resolve(undefined) : server.once('listening', resolve)))
      return server
    },
  }

  async function listening(server: Server): Promise<Server> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return server
  }

  for (const [name, start] of Object.entries(frameworks)) {
    it(`${name}: fails readiness, tells keep-alive clients to close, then drains and closes the server`, async () => {
      const health = createHealth({ logger: false })
      const server = await start(health)
      const port = (server.address() as AddressInfo).port
      const agent = new Agent({ keepAlive: true })
      assert.equal((await get(port, '/hello', agent)).headers.connection, 'keep-alive')
      const shutdown = gracefulShutdown(health, { servers: [server], exit: false, signals: [], delayMs: 300 })
      const result = shutdown.shutdown()
      const [readyz, livez, hello] = await Promise.all([
        get(port, '/readyz'),
        get(port, '/livez'),
        get(port, '/hello', agent),
      ])
      assert.equal(readyz.status, 503)
      assert.equal(livez.status, 200)
      assert.equal(hello.body, 'hello')
      assert.equal(hello.headers.connection, 'close')
      assert.deepEqual((await result).forced, [])
      assert.equal(server.listening, false)
      agent.destroy()
    })
  }
})
