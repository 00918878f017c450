import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Logger } from '../../src/core/logger.js'
import { EtcdStore, type EtcdStoreOptions, parseEtcdSpec } from '../../src/monitor/store/etcd.js'
import { openStore, openStoreAsync, StoreError } from '../../src/monitor/store/index.js'
import { tcpProxy } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources } from '../support/leaks.js'
import { makeTempDir, refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type EtcdServer, startEtcd } from '../support/servers/etcd.js'
import { silence, state, storeContract, transition } from '../support/store-contract.js'

const HOUR_MS = 3_600_000
const silenceIds = (store: EtcdStore) =>
  store
    .loadSilences()
    .map((s) => s.id)
    .sort()

/** A logger that keeps its lines, to prove what is logged (and how often). */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const keep = (...args: unknown[]) => lines.push(args.filter((a) => typeof a === 'string').join(' '))
  return { lines, info: keep, warn: keep, error: keep }
}

describe('etcd store (real etcd)', () => {
  let etcd: EtcdServer
  const open: EtcdStore[] = []
  let prefixes = 0

  /** A store on a fresh prefix per test (or the given one), closed after the file. */
  async function store(options: Partial<EtcdStoreOptions> & { prefix?: string } = {}): Promise<EtcdStore> {
    const s = await EtcdStore.open({
      endpoints: [etcd.clientUrl],
      prefix: options.prefix ?? `/t${++prefixes}`,
      leaseTtlSeconds: 2,
      requestTimeoutMs: 500,
      logger: false,
      ...options,
    })
    open.push(s)
    return s
  }

  before(async () => {
    etcd = await startEtcd()
  })
  after(async () => {
    await Promise.all(open.map((s) => s.shutdown({ flushTimeoutMs: 0 })))
    await etcd.stop()
  })

  storeContract('etcd', (options) =>
    store({
      leaseTtlSeconds: 15,
      requestTimeoutMs: 2000,
      ...(options?.retention ? { retention: options.retention } : {}),
    }),
  )

  it('probekit inspect --store etcd://… prints the fleet in p2-inspect shape without registering as a replica', async () => {
    const writer = await store({ replicaId: 'inspected' })
    writer.saveStates([state('health_check', { pod: 'carsales', id: 'n1/carsales/health_check', output: 'up' })])
    await waitFor(
      'the write to reach etcd',
      async () => {
        const reader = await store({ prefix: writer.prefix, readonly: true })
        return reader.loadStates().length === 1
      },
      5000,
    )
    const url = new URL(etcd.clientUrl)
    const spec = `etcd://${url.host}${writer.prefix}`
    const bin = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../bin/probekit.js')
    const child = spawn(process.execPath, [bin, 'inspect', '--store', spec, '--pod', 'carsales'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    const code = await new Promise<number | null>((r) => child.on('close', r))
    assert.equal(code, 0, out)
    const doc = JSON.parse(out)
    assert.deepEqual(Object.keys(doc), ['carsales'])
    assert.equal(doc.carsales.n1.health_check.status, 'passing')
    assert.equal(doc.carsales.n1.health_check.output, 'up')
    assert.deepEqual(writer.members().sort(), ['inspected'], 'inspect did not join the replicas')
  })

  it('states saved by one monitor are read back by another store instance, and kept current by its watch', async () => {
    const writer = await store({ replicaId: 'writer' })
    writer.saveStates([state('a'), state('b', { state: 'critical', output: 'HTTP 500', failures: 3, successes: 0 })])
    const reader = await store({ prefix: writer.prefix, readonly: true })
    await waitFor('the reader to see both states', () => reader.loadStates().length === 2, 5000)
    const b = reader.loadStates().find((s) => s.id === 'n1/web/b')
    assert.equal(b?.state, 'critical')
    assert.equal(b?.output, 'HTTP 500')
    assert.equal(b?.failures, 3)
    assert.equal(reader.published('n1/web/b')?.replica, 'writer')

    writer.saveStates([state('b', { state: 'passing', output: 'ok again', index: 9 })])
    await waitFor(
      'the watch to bring the change',
      () => reader.published('n1/web/b')?.state.output === 'ok again',
      5000,
    )

    // A store opened later reads what is there (not only what it watched arrive).
    const late = await store({ prefix: writer.prefix, readonly: true })
    assert.deepEqual(
      late
        .loadStates()
        .map((s) => [s.id, s.state, s.index])
        .sort(),
      [
        ['n1/web/a', 'passing', 1],
        ['n1/web/b', 'passing', 9],
      ],
    )
    assert.throws(() => late.saveStates([state('c')]), /read-only/)
  })

  it("a killed monitor's states disappear once its 2 s lease expires, and its registration with them", async () => {
    const prefix = `/killed${++prefixes}`
    const dir = makeTempDir('etcd-child')
    const script = join(dir, 'child.mts')
    const src = resolve('src/monitor/store/etcd.ts')
    writeFileSync(
      script,
      `import { EtcdStore } from ${JSON.stringify(src)}
const store = await EtcdStore.open({ endpoints: [${JSON.stringify(etcd.clientUrl)}], prefix: ${JSON.stringify(prefix)}, replicaId: 'doomed', leaseTtlSeconds: 2, logger: false })
store.saveStates([{ pod: 'web', node: 'n1', check: 'a', id: 'n1/web/a', kind: 'http', target: 'x', state: 'passing', output: 'ok', since: new Date().toISOString(), successes: 1, failures: 0, index: 1 }])
setInterval(() => {}, 1000)
`,
    )
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    try {
      const reader = await store({ prefix, readonly: true })
      await waitFor('the child monitor to publish', () => reader.loadStates().length === 1, 20_000).catch(
        (error: Error) => {
          throw new Error(`${error.message}; its stderr: ${stderr}`)
        },
      )
      assert.deepEqual(reader.members(), ['doomed'])
      // Still there after the TTL while the monitor lives: the lease is kept alive.
      await sleep(2500)
      assert.equal(reader.loadStates().length, 1)
      child.kill('SIGKILL')
      const killedAt = Date.now()
      await waitFor('the dead monitor state to expire', () => reader.loadStates().length === 0, 10_000)
      const gone = Date.now() - killedAt
      assert.ok(gone >= 1000, `expired after ${gone} ms, before the lease TTL could have run out`)
      await waitFor('the dead monitor to leave the replicas', () => reader.members().length === 0, 5000)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('a monitor that stops cleanly revokes its lease: its states disappear at once, its transitions stay', async () => {
    const writer = await store({ replicaId: 'leaving', leaseTtlSeconds: 30 })
    writer.saveStates([state('a')])
    writer.addTransitions([transition('a', 1)])
    const reader = await store({ prefix: writer.prefix, readonly: true })
    await waitFor('the reader to see the state', () => reader.loadStates().length === 1, 5000)
    await writer.shutdown()
    await waitFor('the state to be gone', () => reader.loadStates().length === 0, 3000)
    assert.deepEqual(reader.members(), [])
    assert.deepEqual(
      reader.transitions({}).map((t) => t.output),
      ['t1'],
    )
  })

  it('transitions of every replica are shared, in time order, and bounded in etcd', async () => {
    const a = await store({ replicaId: 'a', maxTransitions: 5 })
    const b = await store({ replicaId: 'b', prefix: a.prefix, maxTransitions: 5 })
    // Times from one base: each call's own clock reading would let a slow turn between the
    // two lines put y's transitions after x's later ones.
    const base = Date.now() - 60_000
    const at = (i: number) => new Date(base + i * 10).toISOString()
    a.addTransitions([transition('x', 1, at(1)), transition('x', 3, at(3))])
    b.addTransitions([transition('y', 2, at(2)), transition('y', 4, at(4))])
    await waitFor('both to see all four', () => a.transitions({}).length === 4 && b.transitions({}).length === 4, 5000)
    assert.deepEqual(
      b.transitions({}).map((t) => t.output),
      ['t1', 't2', 't3', 't4'],
    )
    assert.deepEqual(
      a.transitions({ id: 'n1/web/y' }).map((t) => t.output),
      ['t2', 't4'],
    )
    a.addTransitions([5, 6, 7, 8].map((i) => transition('x', i, at(i))))
    const reader = await waitFor(
      'etcd to hold the newest five only',
      async () => {
        const r = await EtcdStore.open({ endpoints: [etcd.clientUrl], prefix: a.prefix, readonly: true, logger: false })
        const outputs = r.transitions({}).map((t) => t.output)
        await r.shutdown()
        return outputs.length === 5 ? outputs : undefined
      },
      5000,
    )
    assert.deepEqual(reader, ['t4', 't5', 't6', 't7', 't8'])
    // Each replica deletes the excess it wrote (b its t2 above, told by the watch), and the
    // first live replica that of replicas gone: b stops, and a bounds b's t4 away.
    await b.shutdown()
    await waitFor('a to see b gone', () => a.members().join() === 'a', 5000)
    a.addTransitions([transition('x', 9, at(9))])
    const after = await waitFor(
      "etcd to drop the stopped replica's oldest",
      async () => {
        const r = await EtcdStore.open({ endpoints: [etcd.clientUrl], prefix: a.prefix, readonly: true, logger: false })
        const outputs = r.transitions({}).map((t) => t.output)
        await r.shutdown()
        return outputs[0] === 't5' ? outputs : undefined
      },
      5000,
    )
    assert.deepEqual(after, ['t5', 't6', 't7', 't8', 't9'])
  })

  it('a check flooded with 50,000 transitions keeps its newest 1,000 in the view and in etcd, and the others keep theirs', async () => {
    const a = await store({ replicaId: 'a' })
    a.addTransitions([transition('quiet', 1)])
    const batch = 100
    for (let b = 0; b < 50_000 / batch; b++) {
      a.addTransitions(Array.from({ length: batch }, (_, i) => transition('flood', 2 + b * batch + i)))
      const kept = a.transitions({ id: 'n1/web/flood', limit: 1_000_000 }).length
      if (kept > 1000 + batch) assert.fail(`after batch ${b + 1}, ${kept} transitions of the flooded check are kept`)
      // Let the writer run between batches, as it does between pushes.
      if (b % 10 === 0) await new Promise((r) => setImmediate(r))
    }
    await waitFor('the writes to drain', () => a.status().pendingWrites === 0, 20_000)
    const stored = await waitFor(
      'etcd to hold the newest 1,000 of the flooded check',
      async () => {
        const r = await EtcdStore.open({ endpoints: [etcd.clientUrl], prefix: a.prefix, readonly: true, logger: false })
        const flood = r.transitions({ id: 'n1/web/flood', limit: 1_000_000 }).map((t) => t.index)
        const quiet = r.transitions({ id: 'n1/web/quiet' }).map((t) => t.index)
        await r.shutdown()
        return flood.length <= 1000 + batch ? { flood, quiet } : undefined
      },
      10_000,
    )
    assert.ok(stored.flood.length >= 1000, `${stored.flood.length} kept in etcd`)
    assert.equal(stored.flood.at(-1), 50_001, 'the newest is kept')
    assert.deepEqual(stored.quiet, [1])
  })

  it('with registerLater, a replica is no member and writes nothing until register(); then what it kept and did not release is written', async () => {
    const a = await store({ replicaId: 'a' })
    const late = await store({ replicaId: 'late', prefix: a.prefix, registerLater: true })
    assert.deepEqual(late.members(), ['a', 'late'], 'its own share is computed as a member')
    late.saveStates([state('kept'), state('released')])
    late.release('n1/web/released')
    await sleep(300)
    assert.deepEqual(a.members(), ['a'], 'the others do not know it yet')
    assert.equal(a.published('n1/web/kept'), undefined, 'nothing is written before it registers')
    assert.equal(late.status().lease, undefined, 'no lease before it registers')
    await late.register()
    // register() returns once its registration came back through its own watch, which the
    // others' watches deliver at the same time.
    await waitFor('a to see late', () => a.members().join() === 'a,late', 1000)
    await waitFor('the kept state to be written', () => a.published('n1/web/kept')?.replica === 'late', 5000)
    await sleep(300)
    assert.equal(a.published('n1/web/released'), undefined, 'a released state is never written')
    await late.register() // a second call does nothing
    assert.deepEqual(a.members(), ['a', 'late'])
  })

  it('only the states a replica published are removed by it; history stays in memory', async () => {
    const a = await store({ replicaId: 'a' })
    const b = await store({ replicaId: 'b', prefix: a.prefix })
    a.saveStates([state('mine')])
    b.saveStates([state('theirs')])
    await waitFor('a to see both', () => a.loadStates().length === 2, 5000)
    a.removeStates(['n1/web/mine', 'n1/web/theirs'])
    await waitFor('b to see the removal', () => b.loadStates().length === 1, 5000)
    assert.deepEqual(
      b.loadStates().map((s) => s.id),
      ['n1/web/theirs'],
    )
    a.addSamples([{ id: 'n1/web/theirs', at: new Date().toISOString(), state: 'passing', durationMs: 3 }])
    assert.equal(a.history('n1/web/theirs').length, 1)
    assert.equal(b.history('n1/web/theirs').length, 0)
  })

  it('a silence saved by one replica reaches the others through the watch, and one dropped by the retention leaves etcd', async () => {
    const a = await store({ replicaId: 'a', retention: { maxSilences: 2 } })
    const b = await store({ replicaId: 'b', prefix: a.prefix })
    const told: string[][] = []
    const stop = b.watchSilences((silences) => told.push(silences.map((s) => s.id)))
    const one = silence('one', HOUR_MS)
    await a.saveSilence(one)
    // Saved means in etcd: a store opened now reads it.
    const reader = await store({ prefix: a.prefix, readonly: true })
    assert.deepEqual(reader.loadSilences(), [one])
    await waitFor('b to see the silence', () => b.loadSilences().some((s) => s.id === 'one'), 5000)
    assert.ok(
      told.some((ids) => ids.includes('one')),
      'b told its listener',
    )

    const ended = { ...one, endsAt: new Date().toISOString() }
    await a.saveSilence(ended)
    await waitFor('b to see the expiry', () => b.loadSilences()[0]?.endsAt === ended.endsAt, 5000)
    assert.deepEqual(b.loadSilences(), [ended])

    // Beyond a's count of 2, the silence that ended first goes, from etcd too.
    await a.saveSilence(silence('two', 2 * HOUR_MS))
    await a.saveSilence(silence('three', 3 * HOUR_MS))
    assert.deepEqual(silenceIds(a), ['three', 'two'])
    await waitFor('b to see "one" dropped', () => silenceIds(b).join() === 'three,two', 5000)
    const late = await store({ prefix: a.prefix, readonly: true })
    assert.deepEqual(silenceIds(late), ['three', 'two'])
    await assert.rejects(late.saveSilence(silence('x', HOUR_MS)), /read-only/)

    stop()
    const before = told.length
    await a.saveSilence(silence('four', 4 * HOUR_MS))
    await waitFor('b to see "four"', () => b.loadSilences().some((s) => s.id === 'four'), 5000)
    assert.equal(told.length, before, 'a listener that stopped is not called')
  })

  it('with etcd frozen, saving a silence fails within the request deadline in one sentence, and keeps nothing', async () => {
    const a = await store({ replicaId: 'frozen-silencer' })
    const b = await store({ replicaId: 'other', prefix: a.prefix })
    await freezeFully(etcd.process)
    try {
      await assert.rejects(a.saveSilence(silence('while-frozen', HOUR_MS)), (error: Error) => {
        assert.ok(error instanceof StoreError, String(error))
        assert.match(
          error.message,
          /^the silence was not saved: etcd at http:\/\/127\.0\.0\.1:\d+ is not answering \(no answer within 500 ms\); add it again once etcd answers/,
        )
        assert.doesNotMatch(error.message, /\n/)
        return true
      })
      assert.deepEqual(a.loadSilences(), [])
      assert.equal(a.status().available, false)
    } finally {
      etcd.process.thaw()
    }
    await waitFor('etcd to answer again', () => a.status().available, 15_000)
    const after = silence('after-thaw', HOUR_MS)
    await a.saveSilence(after)
    await waitFor('b to see it', () => b.loadSilences().some((s) => s.id === 'after-thaw'), 5000)
  })

  it('a replica cut off from etcd reads the silences afresh when it is back: one added and one deleted meanwhile', async () => {
    const proxy = await tcpProxy(etcd.clientPort)
    try {
      const a = await store({ replicaId: 'direct' })
      const b = await store({ replicaId: 'behind-proxy', prefix: a.prefix, endpoints: [`http://${proxy.address}`] })
      await a.saveSilence(silence('before', HOUR_MS))
      await waitFor('b to see "before"', () => silenceIds(b).join() === 'before', 5000)
      proxy.cut()
      await waitFor('b to notice', () => !b.status().available, 10_000)
      await a.saveSilence(silence('during', HOUR_MS))
      const deleted = await fetch(`${etcd.clientUrl}/v3/kv/deleterange`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from(`${a.prefix}/silences/before`).toString('base64') }),
      })
      assert.equal(deleted.status, 200)
      await waitFor('a to see the deletion', () => silenceIds(a).join() === 'during', 5000)
      assert.equal(silenceIds(b).join(), 'before', 'b, cut off, still holds what it saw')
      proxy.restore()
      await waitFor('b to read the silences afresh', () => silenceIds(b).join() === 'during', 20_000)
    } finally {
      await proxy.close()
    }
  })

  it('a bad address ends in one sentence naming it; an unreachable etcd in one naming the address', async () => {
    assert.throws(
      () => parseEtcdSpec('etcd://127.0.0.1:2379'),
      /names no key prefix.*etcd:\/\/127\.0\.0\.1:2379\/probekit/,
    )
    assert.throws(() => parseEtcdSpec('etcd://127.0.0.1:99999/p'), /"127\.0\.0\.1:99999" is not HOST:PORT/)
    assert.throws(
      () => parseEtcdSpec('etcd://u:s3cret@127.0.0.1:99999/p'),
      (error: Error) => {
        assert.ok(error instanceof StoreError)
        assert.doesNotMatch(error.message, /s3cret/)
        return /"etcd:\/\/u:\*\*\*@127\.0\.0\.1:99999\/p"/.test(error.message)
      },
    )
    // A typo in the members does not reveal the password either.
    for (const typo of ['etcd://u:s3cret@badhost/p', 'etcd://u:s3cr@t@badhost/p', 'etcd+tls://u:s3cret@h:1/p%zz'])
      assert.throws(
        () => parseEtcdSpec(typo),
        (error: Error) => error instanceof StoreError && !/s3cr/.test(error.message) && /u:\*\*\*@/.test(error.message),
      )
    // The userinfo ends at the last "@" before the members: a password may hold "@", ":" and "/".
    assert.deepEqual(parseEtcdSpec('etcds://probekit:p%40ss:w/rd@10.0.0.1:2379,10.0.0.2:2379/team@x'), {
      endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
      prefix: '/team@x',
      user: 'probekit',
      password: 'p@ss:w/rd',
    })
    assert.equal(parseEtcdSpec('etcd+tls://10.0.0.1:2379/p').endpoints[0], 'https://10.0.0.1:2379')
    assert.throws(() => openStore(`etcd://127.0.0.1:${etcd.clientPort}/p`), /openStoreAsync/)
    assert.deepEqual(parseEtcdSpec('etcd://10.0.0.1:2379,etcd-2.internal:2379/fleet/a/'), {
      endpoints: ['http://10.0.0.1:2379', 'http://etcd-2.internal:2379'],
      prefix: '/fleet/a',
    })

    const port = await refusedPort()
    const started = Date.now()
    await assert.rejects(openStoreAsync(`etcd://127.0.0.1:${port}/p`), (error: Error) => {
      assert.ok(error instanceof StoreError, String(error))
      assert.match(
        error.message,
        new RegExp(`cannot reach etcd at http://127\\.0\\.0\\.1:${port} \\(connection refused \\(ECONNREFUSED\\)\\)`),
      )
      assert.doesNotMatch(error.message, /\n\s+at /)
      return true
    })
    assert.ok(Date.now() - started < 3000)
    // Something that is not etcd on the port: still one sentence.
    const { createServer } = await import('node:http')
    const notEtcd = createServer((_req, res) => res.end('<html>hello</html>'))
    await new Promise<void>((r) => notEtcd.listen(0, '127.0.0.1', r))
    const other = (notEtcd.address() as { port: number }).port
    try {
      await assert.rejects(openStoreAsync(`etcd://127.0.0.1:${other}/p`), /is it etcd's client port\?/)
    } finally {
      notEtcd.close()
    }
  })

  it('holds its etcd lease 2 s under --lease-ttl from 6 s up (1 s from 3 s), so a dead replica is gone within the TTL', async () => {
    const grantedTtl = async (s: EtcdStore) => {
      const id = BigInt(`0x${s.status().lease}`).toString()
      const answer = (await (
        await fetch(`${etcd.clientUrl}/v3/lease/timetolive`, { method: 'POST', body: JSON.stringify({ ID: id }) })
      ).json()) as { grantedTTL?: string }
      return Number(answer.grantedTTL)
    }
    assert.equal(await grantedTtl(await store({ leaseTtlSeconds: 15 })), 13)
    assert.equal(await grantedTtl(await store({ leaseTtlSeconds: 6 })), 4)
    assert.equal(await grantedTtl(await store({ leaseTtlSeconds: 5 })), 4)
    assert.equal(await grantedTtl(await store({ leaseTtlSeconds: 3 })), 2)
    assert.equal(await grantedTtl(await store({ leaseTtlSeconds: 2 })), 2)
  })

  it('refuses a replica id that a live monitor on another host holds, naming it', async () => {
    const prefix = `/dup${++prefixes}`
    const post = async (path: string, body: unknown) =>
      (await fetch(`${etcd.clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body) })).json() as Promise<{
        ID?: string
      }>
    const { ID } = await post('/v3/lease/grant', { TTL: 30 })
    const b64 = (s: string) => Buffer.from(s).toString('base64')
    await post('/v3/kv/put', {
      key: b64(`${prefix}/replicas/mon-a`),
      value: b64(JSON.stringify({ id: 'mon-a', host: 'other-host', pid: 42, startedAt: new Date().toISOString() })),
      lease: ID,
    })
    await assert.rejects(
      store({ prefix, replicaId: 'mon-a' }),
      /replica id "mon-a" is in use by a live monitor on other-host \(pid 42\); give each replica its own --replica-id/,
    )
    const other = await store({ prefix, replicaId: 'mon-b' })
    assert.deepEqual(other.members(), ['mon-a', 'mon-b'])
    await post('/v3/lease/revoke', { ID })
    await waitFor('mon-a to leave', () => other.members().length === 1, 5000)
  })

  it('leaves no socket or timer behind after shutdown, also when etcd was frozen meanwhile', async () => {
    await expectNoLeakedResources(async () => {
      const s = await EtcdStore.open({
        endpoints: [etcd.clientUrl],
        prefix: `/leak${++prefixes}`,
        leaseTtlSeconds: 2,
        requestTimeoutMs: 500,
        logger: false,
      })
      const reader = await EtcdStore.open({
        endpoints: [etcd.clientUrl],
        prefix: s.prefix,
        readonly: true,
        logger: false,
      })
      s.saveStates([state('a')])
      await waitFor('the reader to see it', () => reader.loadStates().length === 1, 5000)
      etcd.process.freeze()
      try {
        s.saveStates([state('a', { output: 'while frozen' })])
        await waitFor('the store to notice', () => !s.status().available, 5000)
      } finally {
        etcd.process.thaw()
      }
      await s.shutdown()
      await reader.shutdown()
    }, 5000)
  })

  it('with etcd frozen, saves return at once, the store logs once, and catches up after the thaw', async () => {
    const logger = recordingLogger()
    const writer = await store({ replicaId: 'frozen-writer', logger, leaseTtlSeconds: 3 })
    writer.saveStates([state('a', { output: 'before' })])
    await waitFor('the first write', () => writer.status().pendingWrites === 0, 5000)
    etcd.process.freeze()
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now()
        writer.saveStates([state('a', { output: `during ${i}`, index: i + 2 })])
        writer.addTransitions([transition('a', i)])
        assert.ok(performance.now() - t0 < 50, 'a save waited on etcd')
        await sleep(100)
      }
      await waitFor('the store to notice', () => !writer.status().available, 5000)
      assert.ok(writer.status().pendingWrites > 0)
      assert.equal(writer.loadStates()[0]?.output, 'during 19')
      await sleep(1500)
    } finally {
      etcd.process.thaw()
    }
    await waitFor(
      'etcd to be written again',
      () => writer.status().available && writer.status().pendingWrites === 0,
      15_000,
    )
    const reader = await store({ prefix: writer.prefix, readonly: true })
    await waitFor('the latest state in etcd', () => reader.published('n1/web/a')?.state.output === 'during 19', 10_000)
    assert.equal(reader.transitions({ limit: 1000 }).length, 20)
    const unreachable = logger.lines.filter((l) => /is not answering/.test(l))
    assert.equal(unreachable.length, 1, logger.lines.join('\n'))
    assert.ok(logger.lines.some((l) => /answers again/.test(l)))
  })

  it('after etcd is killed and restarted, the store re-syncs: its states are written again and other replicas seen', async () => {
    const logger = recordingLogger()
    const a = await store({ replicaId: 'survivor', logger })
    a.saveStates([state('kept', { output: 'one' })])
    await waitFor('the first write', () => a.status().pendingWrites === 0, 5000)
    await etcd.process.kill()
    a.saveStates([state('kept', { output: 'written while etcd was down' })])
    await waitFor('the store to notice', () => !a.status().available, 5000)
    await etcd.process.start()
    await waitFor('the write to land', () => a.status().available && a.status().pendingWrites === 0, 20_000)
    const b = await store({ prefix: a.prefix, replicaId: 'newcomer' })
    assert.equal(b.published('n1/web/kept')?.state.output, 'written while etcd was down')
    await waitFor('the survivor to see the newcomer', () => a.members().includes('newcomer'), 10_000)
    assert.deepEqual(b.members(), ['newcomer', 'survivor'])
  })
})
