import assert from 'node:assert/strict'
import { existsSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { run } from '../../src/cli/worker.js'
import { parseWorkerConnections } from '../../src/worker/broker.js'
import { watchBullmqWorker, workerName } from '../../src/worker/index.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'

const dir = makeTempDir('worker-bullmq')
let redis: RedisServer
let admin: Redis
let n = 0

function files() {
  const i = ++n
  return {
    livenessFile: join(dir, `w${i}.live`),
    readinessFile: join(dir, `w${i}.ready`),
    lastWorkFile: join(dir, `w${i}.last-work`),
    heartbeatIntervalMs: 100,
    logger: false as const,
  }
}

function makeWorker(queue: string, options: { name?: string; autorun?: boolean } = {}) {
  return new Worker(queue, async () => 'done', {
    connection: { url: redis.url },
    drainDelay: 1,
    ...options,
  })
}

async function clientNames(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string
  return list
    .split('\n')
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
    .filter(Boolean)
}

describe('watchBullmqWorker against a real Redis', () => {
  before(async () => {
    redis = await startRedis()
    admin = new Redis(redis.url)
  })
  after(async () => {
    admin?.disconnect()
    await redis?.stop()
  })

  it('creates the readiness file once the worker is connected, and BullMQ names its connection for probekit', async () => {
    const worker = makeWorker('emails', { name: 'worker@test-a' })
    const f = files()
    const watched = watchBullmqWorker(worker, f)
    try {
      assert.equal(watched.workerName, 'worker@test-a')
      assert.equal(watched.clientName, `bull:${Buffer.from('emails').toString('base64')}:w:worker@test-a`)
      await waitFor('the readiness file', () => existsSync(f.readinessFile), 10_000)
      assert.ok(
        (await clientNames()).includes(watched.clientName),
        'the name probekit worker looks for is on the broker',
      )
      assert.equal(existsSync(f.livenessFile), true)
      assert.equal(existsSync(f.lastWorkFile), true, 'touched at ready as the baseline for --last-work-max-age')
    } finally {
      await worker.close()
    }
    assert.equal(existsSync(f.readinessFile), false, 'removed when the worker closes')
  })

  it('touches the last-work file when a job completes', async () => {
    const worker = makeWorker('reports', { name: 'worker@test-b' })
    const queue = new Queue('reports', { connection: { url: redis.url } })
    const f = files()
    watchBullmqWorker(worker, f)
    try {
      await waitFor('the readiness file', () => existsSync(f.readinessFile), 10_000)
      const old = new Date(Date.now() - 3_600_000)
      utimesSync(f.lastWorkFile, old, old)
      const completed = new Promise((resolve) => worker.once('completed', resolve))
      await queue.add('report', { n: 1 })
      await completed
      assert.ok(Date.now() - statSync(f.lastWorkFile).mtimeMs < 10_000, 'the last-work file is fresh again')
    } finally {
      await worker.close()
      await queue.close()
    }
  })

  it('removes the readiness file while the worker is paused and restores it on resume', async () => {
    const worker = makeWorker('paused', { name: 'worker@test-c' })
    const f = files()
    watchBullmqWorker(worker, f)
    try {
      await waitFor('the readiness file', () => existsSync(f.readinessFile), 10_000)
      await worker.pause(true)
      assert.equal(existsSync(f.readinessFile), false)
      worker.resume()
      await waitFor('the readiness file after resume', () => existsSync(f.readinessFile), 10_000)
    } finally {
      await worker.close()
    }
  })

  it('waits for run() when the worker was created with autorun: false', async () => {
    const worker = makeWorker('manual', { name: 'worker@test-d', autorun: false })
    const f = files()
    watchBullmqWorker(worker, f)
    try {
      await worker.waitUntilReady()
      await sleep(300)
      assert.equal(existsSync(f.readinessFile), false, 'connected but not taking jobs: not ready')
      const running = worker.run()
      await waitFor('the readiness file after run()', () => existsSync(f.readinessFile), 10_000)
      await worker.close()
      await running
    } finally {
      await worker.close()
    }
  })

  it('stops the heartbeat and lets go of the worker when it is closed', async () => {
    const worker = makeWorker('closing', { name: 'worker@test-e' })
    const f = files()
    const listenersBefore = worker.listenerCount('completed') + worker.listenerCount('error')
    watchBullmqWorker(worker, f)
    await waitFor('the readiness file', () => existsSync(f.readinessFile), 10_000)
    await worker.close()
    assert.equal(worker.listenerCount('completed') + worker.listenerCount('error'), listenersBefore)
    const old = new Date(Date.now() - 60_000)
    utimesSync(f.livenessFile, old, old)
    await sleep(300)
    assert.ok(Date.now() - statSync(f.livenessFile).mtimeMs > 50_000, 'no beat after the worker closed')
  })

  it('keeps a worker whose readiness file cannot be written running, and says why it is not ready', async () => {
    const worker = makeWorker('unwritable', { name: 'worker@test-f' })
    const f = files()
    const lines: string[] = []
    const log = (...args: unknown[]) => lines.push(args.map(String).join(' '))
    const readinessFile = join(dir, 'unwritable-dir', 'w.ready')
    watchBullmqWorker(worker, { ...f, readinessFile, logger: { info: log, warn: log, error: log } })
    // Its directory becomes a regular file before the worker is ready: unwritable for every user, root included.
    writeFileSync(join(dir, 'unwritable-dir'), '')
    const queue = new Queue('unwritable', { connection: { url: redis.url } })
    try {
      await waitFor('the log line', () => lines.length > 0, 10_000)
      assert.equal(lines.length, 1, lines.join('\n'))
      assert.match(
        lines[0] as string,
        /cannot create the readiness file .*unwritable-dir\/w\.ready: .*(ENOTDIR|EEXIST)/,
      )
      assert.match(lines[0] as string, /health check will report it not ready/)
      const completed = new Promise((resolve) => worker.once('completed', resolve))
      await queue.add('job', {})
      await completed
    } finally {
      await worker.close()
      await queue.close()
    }
  })

  it('refuses a worker without a name, saying how to give it one', async () => {
    const worker = makeWorker('nameless', { autorun: false })
    try {
      assert.throws(
        () => watchBullmqWorker(worker, files()),
        /worker of queue "nameless" has no name, so "probekit worker" cannot find it on the broker; create it with the option name: workerName\(\)/,
      )
    } finally {
      await worker.close()
    }
  })

  it('refuses a name Redis would refuse for the connection, which BullMQ would leave unnamed', async () => {
    const worker = makeWorker('unicode', { name: 'wörker@pod', autorun: false })
    try {
      assert.throws(
        () => watchBullmqWorker(worker, files()),
        /the worker name "wörker@pod" has a character Redis client names cannot hold/,
      )
    } finally {
      await worker.close()
    }
  })

  it('refuses a name that differs from the one the worker has on the broker', async () => {
    const worker = makeWorker('mismatch', { name: 'worker@one', autorun: false })
    try {
      assert.throws(
        () => watchBullmqWorker(worker, { ...files(), name: 'worker@two' }),
        /given the name "worker@two" but the worker's name is "worker@one"/,
      )
    } finally {
      await worker.close()
    }
  })

  it('is found by probekit worker also under a custom key prefix with colons in it', async () => {
    const worker = new Worker('billing', async () => 'done', {
      connection: { url: redis.url },
      prefix: 'acme:jobs',
      name: 'worker@prefixed',
    })
    const f = files()
    const watched = watchBullmqWorker(worker, f)
    try {
      assert.equal(watched.clientName, `acme:jobs:${Buffer.from('billing').toString('base64')}:w:worker@prefixed`)
      await waitFor('the readiness file', () => existsSync(f.readinessFile), 10_000)
      let line = ''
      const code = await run(
        ['--skip-event-loop-liveness', '--broker', redis.url, '--worker-name', 'worker@prefixed', '--queue', 'billing'],
        { write: (t: string) => (line += t) },
      )
      assert.equal(code, 0, line)
      assert.match(line, /worker worker@prefixed is connected \(queue billing\)/)
    } finally {
      await worker.close()
    }
  })

  it('workerName() is $PROBEKIT_WORKER_NAME, else worker@<hostname>', () => {
    assert.equal(workerName({ PROBEKIT_WORKER_NAME: 'emails@pod-7' }), 'emails@pod-7')
    assert.match(workerName({}), /^worker@.+/)
  })
})

describe('the worker connections in CLIENT LIST', () => {
  const queue = Buffer.from('emails').toString('base64')
  const list = [
    `id=1 addr=127.0.0.1:1 name=bull:${queue}:w:a:w:b db=0`,
    `id=2 addr=127.0.0.1:2 name=my:app:bull:${queue}:w:w:1 db=2`,
    `id=3 addr=127.0.0.1:3 name=bull:${queue}:w:plain db=0`,
    'id=4 addr=127.0.0.1:4 name=bull:not-base64!:w:x db=0',
    'id=5 addr=127.0.0.1:5 name= db=0',
  ].join('\n')

  it('reads a worker name holding ":w:" or starting "w:", and a prefix holding colons', () => {
    assert.deepEqual(parseWorkerConnections(list), [
      { prefix: 'bull', queue: 'emails', worker: 'a:w:b', db: 0 },
      { prefix: 'my:app:bull', queue: 'emails', worker: 'w:1', db: 2 },
      { prefix: 'bull', queue: 'emails', worker: 'plain', db: 0 },
    ])
  })

  it('reads a connection named for the worker asked for as that worker’s, whatever its name holds', () => {
    const named = `id=6 addr=127.0.0.1:6 name=bull:${queue}:w:x:w:y db=0`
    assert.deepEqual(parseWorkerConnections(named, 'x:w:y'), [
      { prefix: 'bull', queue: 'emails', worker: 'x:w:y', db: 0 },
    ])
  })
})
