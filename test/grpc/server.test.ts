/**
 * addHealthService answers the official grpc-health-check package's client (an
 * independent implementation of grpc.health.v1) from probekit's own Health instance.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import http2 from 'node:http2'
import { createRequire } from 'node:module'
import { after, before, describe, it } from 'node:test'
import * as grpcJs from '@grpc/grpc-js'
import { decodeCheckResponse, encodeCheckRequest, WATCH_PATH } from '../../src/grpc/protocol.js'
import {
  addHealthService,
  type GrpcServerLike,
  type HealthService,
  type HealthServiceOptions,
} from '../../src/grpc/server.js'
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

async function serve(
  health: Health,
  options?: HealthServiceOptions,
  wrap: (server: grpcJs.Server) => GrpcServerLike = (server) => server,
): Promise<{ client: Client; service: HealthService; port: number; close: () => Promise<void> }> {
  const server = new grpcJs.Server()
  const service = addHealthService(wrap(server), health, options)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  )
  const client = new HealthClient(`127.0.0.1:${port}`, grpcJs.credentials.createInsecure()) as unknown as Client
  return {
    client,
    service,
    port,
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

  it('flips "", ready and startup to NOT_SERVING once shutdown begins, and keeps live SERVING, as /readyz and /livez answer', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health)
    const ready = watch(served.client, '')
    const live = watch(served.client, 'live')
    try {
      assert.equal(await ready.next(), 'SERVING')
      assert.equal(await live.next(), 'SERVING')
      const next = ready.next()
      health.beginShutdown()
      assert.equal(await next, 'NOT_SERVING', 'a Watch of "" is told at once')
      for (const service of ['', 'ready', 'startup']) assert.equal(await check(served.client, service), 'NOT_SERVING')
      // A draining process is not broken: a liveness probe on live must not kill it mid-drain.
      assert.equal(await check(served.client, 'live'), 'SERVING')
      // A check by name answers for that check alone.
      assert.equal(await check(served.client, 'db'), 'SERVING')
      assert.equal((await health.run('live')).status, 'pass', 'the live group, as /livez reads it')
    } finally {
      ready.cancel()
      live.cancel()
      await served.close()
      await health.close()
    }
  })

  it('keeps a Watch of live SERVING through a drain in which Check calls read "" and ready, up to its last status', async () => {
    const health = createHealth({ logger: false })
    let dbFailing = false
    health.add('db', () => {
      if (dbFailing) throw new Error('db is down')
    })
    const served = await serve(health)
    const live = watch(served.client, 'live')
    try {
      assert.equal(await live.next(), 'SERVING')
      health.beginShutdown()
      // The kubelet's readiness probe and a load balancer keep calling Check while the app drains.
      assert.equal(await check(served.client, ''), 'NOT_SERVING')
      assert.equal(await check(served.client, 'ready'), 'NOT_SERVING')
      // A change of a check in the ready group reaches every stream; live has no reason to move.
      dbFailing = true
      assert.equal(await check(served.client, 'db'), 'NOT_SERVING')
      served.service.close()
      const { code, seenBefore } = await live.ended
      assert.equal(code, grpcJs.status.OK)
      assert.deepEqual(seenBefore, ['SERVING'], 'live never said NOT_SERVING, as /livez answers 200 while draining')
    } finally {
      live.cancel()
      await served.close()
      await health.close()
    }
  })

  it('Watch of ready comes back to SERVING after notReady() and ready(), though a Check read "not ready" between them', {
    timeout: 10_000,
  }, async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health)
    const ready = watch(served.client, 'ready')
    try {
      assert.equal(await ready.next(), 'SERVING')
      const down = ready.next()
      health.notReady('maintenance')
      assert.equal(await down, 'NOT_SERVING')
      assert.equal(await check(served.client, ''), 'NOT_SERVING')
      const up = ready.next()
      health.ready()
      assert.equal(await up, 'SERVING')
    } finally {
      ready.cancel()
      await served.close()
      await health.close()
    }
  })

  it('Watch of a background probe and of its group follows the probe’s first result, without a flicker at the start', async () => {
    const health = createHealth({ logger: false, timeout: 10_000 })
    let finishFirstRun!: () => void
    const firstRun = new Promise<void>((resolve) => (finishFirstRun = resolve))
    health.add('warm-up', () => firstRun, { interval: 60_000 })
    const served = await serve(health)
    const whole = watch(served.client, '')
    const byName = watch(served.client, 'warm-up')
    try {
      // Not checked yet counts as failing, as /readyz answers 503 until the first run.
      assert.equal(await whole.next(), 'NOT_SERVING')
      assert.equal(await byName.next(), 'NOT_SERVING')
      const wholeNext = whole.next()
      const byNameNext = byName.next()
      finishFirstRun()
      // The first run passes: the streams are told, though nothing else runs the probe for a minute.
      assert.equal(await wholeNext, 'SERVING')
      assert.equal(await byNameNext, 'SERVING')
      assert.equal(await check(served.client, ''), 'SERVING')
      assert.deepEqual(whole.seen, ['NOT_SERVING', 'SERVING'])
      assert.deepEqual(byName.seen, ['NOT_SERVING', 'SERVING'])
    } finally {
      whole.cancel()
      byName.cancel()
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
      const last: (string | undefined)[] = []
      for (const stream of streams) {
        const ended = await stream.ended
        assert.equal(ended.code, grpcJs.status.OK)
        last.push(ended.seenBefore.at(-1))
      }
      // Each stream's last word is its service's status in the drain: "" failed with the
      // ready group; live and the db check still pass.
      assert.deepEqual(last, ['NOT_SERVING', 'SERVING', 'SERVING'])
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

/** A stream's end if it comes within `ms`, else 'still open'. */
function endedWithin<T>(ended: Promise<T>, ms: number): Promise<T | 'still open'> {
  return Promise.race([ended, sleep(ms).then(() => 'still open' as const)])
}

/** True once a Watch stream got its first status, false if it ended first. */
function accepted(stream: ReturnType<typeof watch>): Promise<boolean> {
  return Promise.race([stream.next().then(() => true), stream.ended.then(() => false)])
}

describe('addHealthService limits: callers are untrusted', () => {
  it('refuses a Watch stream beyond maxWatchStreams with RESOURCE_EXHAUSTED, and frees a slot when one is cancelled', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health, { maxWatchStreams: 2 })
    const open = [watch(served.client, 'ready'), watch(served.client, 'db')]
    try {
      for (const stream of open) assert.equal(await stream.next(), 'SERVING')
      const refused = await endedWithin(watch(served.client, 'live').ended, 2000)
      assert.notEqual(refused, 'still open', 'a third stream is refused, not held')
      if (refused === 'still open') return
      assert.equal(refused.code, grpcJs.status.RESOURCE_EXHAUSTED)
      assert.deepEqual(refused.seenBefore, [])
      // Check still answers: the cap is on held streams only.
      assert.equal(await check(served.client, 'ready'), 'SERVING')

      open.shift()?.cancel()
      // The server learns of the cancel a moment later; then the freed slot is taken.
      const replacement = await waitFor('a Watch stream to be accepted in the freed slot', async () => {
        const stream = watch(served.client, 'live')
        if (await accepted(stream)) return stream
        return undefined
      })
      open.push(replacement)
      const again = await endedWithin(watch(served.client, 'live').ended, 2000)
      assert.equal(again === 'still open' ? again : again.code, grpcJs.status.RESOURCE_EXHAUSTED)
    } finally {
      for (const stream of open) stream.cancel()
      await served.close()
      await health.close()
    }
  })

  it('answers a Watch on an over-long name INVALID_ARGUMENT at once, holding no stream and no slot for it', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    const served = await serve(health, { maxWatchStreams: 2, maxServiceNameBytes: 512 })
    const streams: ReturnType<typeof watch>[] = []
    try {
      for (const name of ['x'.repeat(513), 'é'.repeat(257), 'y'.repeat(1_000_000)]) {
        const stream = watch(served.client, name)
        streams.push(stream)
        const ended = await endedWithin(stream.ended, 2000)
        assert.notEqual(ended, 'still open', `a ${Buffer.byteLength(name)}-byte name is not held`)
        if (ended === 'still open') return
        assert.equal(ended.code, grpcJs.status.INVALID_ARGUMENT)
        assert.deepEqual(ended.seenBefore, [])
      }
      // Both slots are still free; a name of exactly the limit is an ordinary unknown name.
      const ready = watch(served.client, 'ready')
      const atLimit = watch(served.client, 'z'.repeat(512))
      streams.push(ready, atLimit)
      assert.equal(await ready.next(), 'SERVING')
      assert.equal(await atLimit.next(), 'SERVICE_UNKNOWN')
    } finally {
      for (const stream of streams) stream.cancel()
      await served.close()
      await health.close()
    }
  })

  it('answers Check on an over-long name INVALID_ARGUMENT, quoting only its start, escaped', async () => {
    const health = createHealth({ logger: false })
    const served = await serve(health)
    try {
      for (const size of [513, 20_000, 200_000]) {
        const name = `\u001b[2J\u202e${'x'.repeat(size)}`
        await assert.rejects(check(served.client, name), (error: grpcJs.ServiceError) => {
          assert.equal(error.code, grpcJs.status.INVALID_ARGUMENT, `${size}: ${error.details.slice(0, 200)}`)
          assert.ok(error.details.length < 200, `${size}: the message is ${error.details.length} characters`)
          assert.match(
            error.details,
            new RegExp(`^service name "\\\\u001b\\[2J\\\\u202ex+…" is ${size + 7} bytes long`),
          )
          return true
        })
      }
    } finally {
      await served.close()
      await health.close()
    }
  })

  it('quotes an unknown name in NOT_FOUND cut to a few dozen characters, with control and bidi characters escaped', async () => {
    const health = createHealth({ logger: false })
    const served = await serve(health)
    try {
      const name = `\u202eevil\u001b]0;pwn\u0007\u009b31m\r\n${'m'.repeat(400)}`
      await assert.rejects(check(served.client, name), (error: grpcJs.ServiceError) => {
        assert.equal(error.code, grpcJs.status.NOT_FOUND)
        assert.ok(error.details.length < 120, `the message is ${error.details.length} characters`)
        // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
        assert.doesNotMatch(error.details, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
        assert.ok(
          error.details.startsWith('unknown service "\\u202eevil\\u001b]0;pwn\\u0007\\u009b31m\\r\\nmmm'),
          error.details,
        )
        assert.ok(error.details.endsWith('m…"'), error.details)
        return true
      })
    } finally {
      await served.close()
      await health.close()
    }
  })

  it('holds at most one pending status for a client that never reads, and sends the latest when it reads again', async () => {
    const health = createHealth({ logger: false })
    health.add('db', () => {})
    // Counts writes made while the call's buffer is full (the last write returned false
    // and no 'drain' came since): each such write is memory a stalled client makes the
    // server hold.
    let writes = 0
    let writesWhileFull = 0
    let becameFull = 0
    const counting = (server: grpcJs.Server): GrpcServerLike => ({
      addService(definition, implementation) {
        const watchImpl = implementation.Watch as unknown as (
          call: grpcJs.ServerWritableStream<unknown, unknown>,
        ) => void
        const Watch = (call: grpcJs.ServerWritableStream<unknown, unknown>) => {
          let full = false
          call.on('drain', () => (full = false))
          const write = call.write.bind(call) as (message: unknown) => boolean
          call.write = ((message: unknown) => {
            writes++
            if (full) writesWhileFull++
            const ok = write(message)
            if (!ok && !full) becameFull++
            full ||= !ok
            return ok
          }) as typeof call.write
          watchImpl(call)
        }
        server.addService(definition as grpcJs.ServiceDefinition, { ...implementation, Watch } as never)
      },
    })
    const served = await serve(health, {}, counting)
    // A client that grants the server no flow-control window: nothing it is sent arrives.
    const session = http2.connect(`http://127.0.0.1:${served.port}`, { settings: { initialWindowSize: 0 } })
    session.on('error', () => {})
    const received: number[] = []
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': WATCH_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      })
      stream.on('error', () => {})
      let pending = Buffer.alloc(0)
      stream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
          const length = pending.readUInt32BE(1)
          received.push(decodeCheckResponse(pending.subarray(5, 5 + length)).status)
          pending = pending.subarray(5 + length)
        }
      })
      const request = encodeCheckRequest('ready')
      const frame = Buffer.alloc(5)
      frame.writeUInt32BE(request.length, 1)
      stream.end(Buffer.concat([frame, request]))
      await waitFor('the first status to be written', () => writes > 0)

      for (let i = 0; i < 200; i++) {
        health.notReady('maintenance')
        health.ready()
      }
      health.notReady('maintenance')
      await sleep(50)
      assert.ok(becameFull > 0, 'the buffer filled (the test exercises backpressure)')
      assert.equal(writesWhileFull, 0, `${writesWhileFull} writes went into a full buffer`)
      assert.equal(received.length, 0, 'the client has read nothing yet')

      // The client reads again: it gets what was buffered, then only the latest status.
      session.settings({ initialWindowSize: 65_535 })
      await waitFor('the latest status to arrive', () => received.at(-1) === 2 && writes === received.length)
      await sleep(100)
      assert.equal(received.at(-1), 2, 'NOT_SERVING, the latest status, comes last')
      assert.ok(received.length <= writes && writes < 40, `${writes} writes for 401 changes`)

      // And the stream goes on carrying changes.
      health.ready()
      await waitFor('the next change to arrive', () => received.at(-1) === 1)
    } finally {
      session.destroy()
      await served.close()
      await health.close()
    }
  })

  it('rejects limits that are not whole positive numbers, and aliases longer than the name limit, in one sentence', () => {
    const server = new grpcJs.Server()
    const health = createHealth({ logger: false })
    assert.throws(
      () => addHealthService(server, health, { maxWatchStreams: 0 }),
      /maxWatchStreams must be a whole number of at least 1, not 0/,
    )
    assert.throws(
      () => addHealthService(server, health, { maxServiceNameBytes: Number.NaN }),
      /maxServiceNameBytes must be/,
    )
    assert.throws(
      () => addHealthService(server, health, { maxServiceNameBytes: 8, aliases: { 'orders.v1.Orders': 'ready' } }),
      /alias "orders.v1.Orders" is longer than maxServiceNameBytes \(8\)/,
    )
  })
})
