/**
 * addHealthService answers the official grpc-health-check package's client (an
 * independent implementation of grpc.health.v1) from probekit's own Health instance.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import * as grpcJs from '@grpc/grpc-js'
import { addHealthService, type HealthService } from '../../src/grpc/server.js'
import { createHealth, type Health } from '../../src/health.js'
import { gracefulShutdown } from '../../src/http/shutdown.js'
import { redis } from '../../src/probes/redis.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources } from '../support/leaks.js'
import { sleep, waitFor } from '../support/server-process.js'
import { startRedis } from '../support/servers/redis.js'

const require = createRequire(import.meta.url)
const { service: healthServiceDefinition } = require('grpc-health-check') as {
  service: grpcJs.ServiceDefinition
}
const HealthClient = grpcJs.makeGenericClientConstructor(healthServiceDefinition, 'Health')
const SHUTDOWN_APP = new URL('../support/grpc-shutdown-app.ts', import.meta.url).pathname

interface CheckReply {
  status: string
}
type Client = grpcJs.Client & {
  check(
    req: { service: string },
    options: grpcJs.CallOptions,
    cb: (e: grpcJs.ServiceError | null, r?: CheckReply) => void,
  ): void
  list(
    req: object,
    options: grpcJs.CallOptions,
    cb: (e: grpcJs.ServiceError | null, r?: { statuses: Record<string, CheckReply> }) => void,
  ): void
  watch(req: { service: string }): grpcJs.ClientReadableStream<CheckReply>
}

async function serve(health: Health): Promise<{ client: Client; service: HealthService; close: () => Promise<void> }> {
  const server = new grpcJs.Server()
  const service = addHealthService(server, health)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  )
  const client = new HealthClient(`127.0.0.1:${port}`, grpcJs.credentials.createInsecure()) as unknown as Client
  return {
    client,
    service,
    close: async () => {
      client.close()
      service.close()
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()))
    },
  }
}

function check(client: Client, service: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, { deadline: Date.now() + timeoutMs }, (error, reply) =>
      error ? reject(error) : resolve(reply?.status ?? 'none'),
    ),
  )
}

/**
 * Collects a Watch stream's statuses; `next()` waits for the next one, `ended` for the
 * call's gRPC status (when the server ends the stream), with the statuses seen before it.
 */
function watch(client: Client, service: string) {
  const stream = client.watch({ service })
  const seen: string[] = []
  const waiting: ((status: string) => void)[] = []
  stream.on('data', (reply: CheckReply) => {
    seen.push(reply.status)
    waiting.shift()?.(reply.status)
  })
  stream.on('error', () => {})
  const ended = new Promise<{ code: grpcJs.status; seenBefore: string[]; at: number }>((resolve) =>
    stream.on('status', (status: grpcJs.StatusObject) =>
      resolve({ code: status.code, seenBefore: [...seen], at: performance.now() }),
    ),
  )
  return {
    seen,
    ended,
    next: (): Promise<string> => new Promise((resolve) => waiting.push(resolve)),
    cancel: () => stream.cancel(),
  }
}

describe('addHealthService (grpc.health.v1) with the grpc-health-check client', () => {
  let health: Health
  let served: Awaited<ReturnType<typeof serve>>
  let failing = false

  before(async () => {
    health = createHealth({ logger: false, timeout: 500 })
    health.add('db', () => {
      if (failing) throw new Error('db is down')
    })
    health.add(
      'search',
      () => {
        throw new Error('search is slow')
      },
      { critical: false },
    )
    health.add('heartbeat', () => {}, { groups: ['live'] })
    served = await serve(health)
  })

  after(async () => {
    await served.close()
    await health.close()
  })

  it('answers Check for "", ready, live, startup and each check name; warn is SERVING', async () => {
    for (const service of ['', 'ready', 'live', 'startup', 'db', 'search', 'heartbeat']) {
      assert.equal(await check(served.client, service), 'SERVING', service)
    }
  })

  it('answers NOT_SERVING for a failing check and the groups it is in, not for live', async () => {
    failing = true
    try {
      assert.equal(await check(served.client, 'db'), 'NOT_SERVING')
      assert.equal(await check(served.client, ''), 'NOT_SERVING')
      assert.equal(await check(served.client, 'startup'), 'NOT_SERVING')
      assert.equal(await check(served.client, 'live'), 'SERVING')
    } finally {
      failing = false
    }
  })

  it('answers NOT_FOUND for a name that is neither a group nor a check', async () => {
    await assert.rejects(check(served.client, 'orders.v1.Orders'), (error: grpcJs.ServiceError) => {
      assert.equal(error.code, grpcJs.status.NOT_FOUND)
      assert.match(error.details, /unknown service "orders.v1.Orders"/)
      return true
    })
    // Names every object inherits are unknown services too, not a broken lookup.
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      await assert.rejects(check(served.client, name), (error: grpcJs.ServiceError) => {
        assert.equal(error.code, grpcJs.status.NOT_FOUND, `${name}: ${error.details}`)
        assert.equal(error.details, `unknown service ${JSON.stringify(name)}`)
        return true
      })
    }
  })

  it('lists every group and check', async () => {
    const reply = await new Promise<{ statuses: Record<string, CheckReply> }>((resolve, reject) =>
      served.client.list({}, { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r as never))),
    )
    const statuses = Object.fromEntries(Object.entries(reply.statuses).map(([k, v]) => [k, v.status]))
    assert.deepEqual(statuses, {
      '': 'SERVING',
      ready: 'SERVING',
      live: 'SERVING',
      startup: 'SERVING',
      lifecycle: 'SERVING',
      db: 'SERVING',
      search: 'SERVING',
      heartbeat: 'SERVING',
    })
  })

  it('Watch sends the current status, then each change as health emits it', async () => {
    const stream = watch(served.client, 'ready')
    try {
      assert.equal(await stream.next(), 'SERVING')
      const changed = new Promise<number>((resolve) => health.once('change', () => resolve(performance.now())))
      const next = stream.next()
      health.notReady('maintenance')
      const emittedAt = await changed
      assert.equal(await next, 'NOT_SERVING')
      // The change is pushed from the 'change' event, not found by polling.
      assert.ok(performance.now() - emittedAt < 500, 'the Watch update follows the change event')
      const back = stream.next()
      health.ready()
      assert.equal(await back, 'SERVING')
      assert.deepEqual(stream.seen, ['SERVING', 'NOT_SERVING', 'SERVING'])
    } finally {
      stream.cancel()
    }
  })

  it('Watch on an unknown name sends SERVICE_UNKNOWN and keeps the stream open until the check exists', async () => {
    const stream = watch(served.client, 'late')
    try {
      assert.equal(await stream.next(), 'SERVICE_UNKNOWN')
      const next = stream.next()
      health.add(
        'late',
        () => {
          throw new Error('not yet')
        },
        { interval: 50 },
      )
      assert.equal(await next, 'NOT_SERVING')
    } finally {
      stream.cancel()
    }
  })
})

describe('addHealthService under faults and shutdown', () => {
  it('answers NOT_SERVING by the probe deadline when Redis is frozen with SIGSTOP', async () => {
    const server = await startRedis()
    const health = createHealth({ logger: false, timeout: 300 })
    health.add(redis(`redis://127.0.0.1:${server.port}`))
    const served = await serve(health)
    try {
      assert.equal(await check(served.client, 'ready'), 'SERVING')
      await freezeFully(server.process)
      const started = performance.now()
      assert.equal(await check(served.client, 'redis', 5000), 'NOT_SERVING')
      assert.ok(performance.now() - started < 2000, 'answered by the probe deadline, not the call deadline')
    } finally {
      await served.close()
      await health.close()
      await server.stop()
    }
  })

  it('never keeps a call past the caller deadline (grpc-timeout) while a probe runs longer', async () => {
    const health = createHealth({ logger: false, timeout: 3000 })
    health.add(
      'slow',
      ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
    )
    const served = await serve(health)
    try {
      const started = performance.now()
      await assert.rejects(check(served.client, 'slow', 200), (error: grpcJs.ServiceError) => {
        assert.equal(error.code, grpcJs.status.DEADLINE_EXCEEDED)
        return true
      })
      assert.ok(performance.now() - started < 1500)
    } finally {
      await served.close()
      await health.close()
    }
  })

  it('flips every service, live included, to NOT_SERVING once shutdown begins', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health)
    const stream = watch(served.client, 'live')
    try {
      assert.equal(await stream.next(), 'SERVING')
      const next = stream.next()
      health.beginShutdown()
      assert.equal(await next, 'NOT_SERVING')
      for (const service of ['', 'live', 'startup', 'db'])
        assert.equal(await check(served.client, service), 'NOT_SERVING')
    } finally {
      stream.cancel()
      await served.close()
      await health.close()
    }
  })

  it('rejects a server that is not a grpc-js server, in one sentence', () => {
    assert.throws(
      () => addHealthService({} as never, createHealth({ logger: false })),
      /must be a @grpc\/grpc-js Server/,
    )
  })
})

/** The app of test/support/grpc-shutdown-app.ts in a child process, with what it printed. */
async function startShutdownApp(config: { delayMs?: number; workMs?: number }) {
  const child = spawn(process.execPath, ['--import', 'tsx', SHUTDOWN_APP], {
    env: { ...process.env, GRPC_SHUTDOWN_APP: JSON.stringify(config), KUBERNETES_SERVICE_HOST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  )
  const printed = (text: string) =>
    waitFor(`the app to print "${text}"`, () => {
      if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}: ${stderr}`)
      return stdout.includes(text)
    })
  await printed('listening ')
  const port = Number(/listening (\d+)/.exec(stdout)?.[1])
  return {
    child,
    port,
    exited,
    printed,
    output: () => ({ stdout, stderr }),
    stop: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'),
  }
}

describe('addHealthService under gracefulShutdown (the recipe of docs/grpc.md)', () => {
  it('SIGTERM with a Watch stream open: the client gets NOT_SERVING, its stream ends at the drain, the process exits 0 unforced', async () => {
    const delayMs = 600
    const workMs = 800
    const app = await startShutdownApp({ delayMs, workMs })
    const client = new HealthClient(`127.0.0.1:${app.port}`, grpcJs.credentials.createInsecure()) as unknown as Client
    try {
      const stream = watch(client, 'ready')
      assert.equal(await stream.next(), 'SERVING')
      const notServing = stream.next()
      const signalledAt = performance.now()
      app.child.kill('SIGTERM')
      assert.equal(await notServing, 'NOT_SERVING')
      assert.ok(
        performance.now() - signalledAt < delayMs,
        'told NOT_SERVING when the shutdown begins, not at the drain',
      )

      // The stream stays open through the delay (the client knows; nothing for it to reconnect
      // to yet), and ends with status OK when the servers close.
      const ended = await stream.ended
      assert.equal(ended.code, grpcJs.status.OK)
      assert.deepEqual(ended.seenBefore, ['SERVING', 'NOT_SERVING'])
      assert.ok(ended.at - signalledAt >= delayMs - 50, `ended ${Math.round(ended.at - signalledAt)} ms after SIGTERM`)

      // Between the drain and the hooks (tracked work runs): a new Watch is answered and ended at once.
      await app.printed('shutdown: servers closed')
      const late = watch(client, 'ready')
      const lateEnded = await late.ended
      assert.equal(lateEnded.code, grpcJs.status.OK)
      assert.deepEqual(lateEnded.seenBefore, ['NOT_SERVING'])
      const unknown = await watch(client, 'no-such-service').ended
      assert.deepEqual(unknown.seenBefore, ['SERVICE_UNKNOWN'])

      const exited = await app.exited
      const { stdout, stderr } = app.output()
      assert.equal(exited.code, 0, stdout + stderr)
      assert.doesNotMatch(stdout + stderr, /forced/)
      assert.match(stdout, /cleanup hook "grpc" done in \d+ ms/)
      // Well inside the hook's 5 s deadline: tryShutdown waited for nothing of probekit's.
      assert.ok(
        exited.at - signalledAt < delayMs + workMs + 2000,
        `exited ${Math.round(exited.at - signalledAt)} ms after SIGTERM`,
      )
    } finally {
      client.close()
      app.stop()
    }
  })

  it('keeps Watch streams open while serving, ends them at the drain before any hook, and leaves nothing behind', async () => {
    await expectNoLeakedResources(async () => {
      const health = createHealth({ logger: false })
      health.add('db', () => {})
      const server = new grpcJs.Server()
      addHealthService(server, health)
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (error, p) =>
          error ? reject(error) : resolve(p),
        ),
      )
      const client = new HealthClient(`127.0.0.1:${port}`, grpcJs.credentials.createInsecure()) as unknown as Client
      const steps: string[] = []
      const logger = { info: (m: string) => steps.push(m), warn: () => {}, error: (m: string) => steps.push(m) }
      const shutdown = gracefulShutdown(health, { exit: false, signals: [], delayMs: 300, logger })
      shutdown.onShutdown('grpc', () => new Promise((r) => server.tryShutdown(r)))

      const streams = [watch(client, ''), watch(client, 'live'), watch(client, 'db')]
      for (const stream of streams) assert.equal(await stream.next(), 'SERVING')
      let endedEarly = false
      for (const stream of streams) void stream.ended.then(() => (endedEarly ||= !shutdown.shuttingDown))
      // Healthy, then unhealthy and back: the streams carry each change and stay open.
      health.notReady('maintenance')
      health.ready()
      await sleep(100)
      assert.equal(endedEarly, false, 'no Watch stream ends while the server serves')

      const result = shutdown.shutdown('test')
      for (const stream of streams) {
        const ended = await stream.ended
        assert.equal(ended.code, grpcJs.status.OK)
        assert.equal(ended.seenBefore.at(-1), 'NOT_SERVING')
      }
      const { exitCode, forced } = await result
      assert.deepEqual({ exitCode, forced }, { exitCode: 0, forced: [] })
      const drainAt = steps.findIndex((m) => m.startsWith('shutdown: stopped accepting connections'))
      const hookAt = steps.findIndex((m) => m.startsWith('shutdown: cleanup hook "grpc" done'))
      assert.ok(drainAt >= 0 && hookAt > drainAt, steps.join('\n'))
      client.close()
    })
  })

  it('ends Watch streams with health.close() and answers a Watch after close() once, then ends it', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health)
    try {
      const stream = watch(served.client, 'db')
      assert.equal(await stream.next(), 'SERVING')
      await health.close()
      assert.deepEqual((await stream.ended).seenBefore, ['SERVING'])
      const late = await watch(served.client, 'db').ended
      assert.equal(late.code, grpcJs.status.OK)
      assert.deepEqual(late.seenBefore, ['SERVING'])
    } finally {
      await served.close()
    }
  })
})
