import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { lastPhaseAt, Monitor, nextPhaseDelayMs, phaseMs, takeoverDelayMs } from '../../src/monitor/monitor.js'
import { ReplicaShare, rendezvousOwner } from '../../src/monitor/replicas.js'
import { EtcdStore } from '../../src/monitor/store/etcd.js'
import { buildCli, cli, ROOT } from '../cli/run-cli.js'
import { makeTempDir, refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type EtcdServer, startEtcd } from '../support/servers/etcd.js'

describe('rendezvous hashing', () => {
  const ids = Array.from({ length: 3000 }, (_, i) => `node-${i % 17}/pod-${i}/health_check`)

  it('gives every check exactly one owner, the same on every replica, spread evenly', () => {
    const members = ['monitor-a', 'monitor-b', 'monitor-c']
    const counts = new Map<string, number>()
    for (const id of ids) {
      const owner = rendezvousOwner(id, members) as string
      assert.equal(rendezvousOwner(id, [...members].reverse()), owner, 'the order of members must not matter')
      counts.set(owner, (counts.get(owner) ?? 0) + 1)
    }
    for (const member of members) {
      const n = counts.get(member) ?? 0
      assert.ok(n > 850 && n < 1150, `${member} owns ${n} of 3000`)
    }
    assert.equal(rendezvousOwner('x', []), undefined)
  })

  it('moves only the leaving replica’s checks, and gives them back when it returns', () => {
    const all = ['a', 'b', 'c', 'd']
    const without = ['a', 'b', 'd']
    for (const id of ids) {
      const before = rendezvousOwner(id, all)
      const afterLeave = rendezvousOwner(id, without)
      if (before !== 'c') assert.equal(afterLeave, before, `${id} moved though its owner stayed`)
      else assert.notEqual(afterLeave, 'c')
    }
    const moved = ids.filter((id) => rendezvousOwner(id, all) === 'c')
    const spread = new Set(moved.map((id) => rendezvousOwner(id, without)))
    assert.equal(spread.size, 3, "the leaver's checks are shared by all the others, not dumped on one")
  })
})

describe('the phase of a check', () => {
  it('is fixed by its id, inside its interval, and spreads a fleet evenly', () => {
    const buckets = new Array(10).fill(0) as number[]
    for (let i = 0; i < 10_000; i++) {
      const id = `node-${i % 7}/pod-${i}/health_check`
      const phase = phaseMs(id, 5000)
      assert.equal(phaseMs(id, 5000), phase)
      assert.ok(phase >= 0 && phase < 5000)
      buckets[Math.floor(phase / 500)] = (buckets[Math.floor(phase / 500)] ?? 0) + 1
    }
    for (const n of buckets) assert.ok(n > 850 && n < 1150, `${buckets}`)
  })

  it('tells every replica when a check is next due and when it last was', () => {
    const id = 'n1/web/health_check'
    for (const now of [0, 1_733_000_000_123, 1_733_000_004_999]) {
      const next = nextPhaseDelayMs(id, 5000, now)
      const last = lastPhaseAt(id, 5000, now)
      assert.ok(next >= 0 && next < 5000)
      assert.ok(last <= now && now - last < 5000)
      assert.equal((now + next - last) % 5000, 0, 'both on the same grid')
      assert.equal(lastPhaseAt(id, 5000, last), last)
    }
  })
})

describe('a check taken over from another replica', () => {
  const interval = 5000
  const now = 1_000_000

  it('keeps its previous owner’s rhythm when that owner ran it less than an interval ago', () => {
    assert.equal(takeoverDelayMs(now - 1000, interval, now), 4000)
    assert.equal(takeoverDelayMs(now - 4999, interval, now), 1)
  })

  it('runs within a quarter second when overdue, the longest unchecked first', () => {
    const delays = [6000, 9000, 12_000, 15_000, 60_000].map((since) => takeoverDelayMs(now - since, interval, now))
    for (const d of delays) assert.ok(d > 0 && d <= 250, `${d}`)
    assert.deepEqual(
      [...delays].sort((x, y) => y - x),
      delays,
      'the longer unchecked, the sooner',
    )
    assert.ok(takeoverDelayMs(now - 200, 100, now) <= 100, 'never later than a short interval')
  })

  it('runs anywhere in the quarter second when nobody knows its last run', () => {
    for (let i = 0; i < 20; i++) {
      const d = takeoverDelayMs(Number.NaN, interval, now)
      assert.ok(d >= 0 && d < 250, `${d}`)
    }
  })
})

/** An HTTP target that counts the requests per path, and keeps when they came. */
class CountingTarget {
  readonly hits = new Map<string, number>()
  readonly times = new Map<string, number[]>()
  status = 200
  private server: Server | undefined
  port = 0

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1)
      this.times.set(path, [...(this.times.get(path) ?? []), performance.now()])
      res.writeHead(this.status, { 'content-type': 'text/plain' }).end(this.status === 200 ? 'ok' : 'failing')
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async close(): Promise<void> {
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const CHECKS = Array.from({ length: 12 }, (_, i) => `c${i}`)
const ids = CHECKS.map((c) => `n1/web/${c}`)

interface Replica {
  id: string
  store: EtcdStore
  share: ReplicaShare
  monitor: Monitor
  /** Stops as a killed process would: no lease revoke, its keys expire after the TTL. */
  crash(): Promise<void>
  stop(): Promise<void>
}

describe('monitor replicas on a real etcd', () => {
  let etcd: EtcdServer
  let target: CountingTarget
  let manifests: string
  const running = new Set<Replica>()
  let prefixes = 0

  before(async () => {
    etcd = await startEtcd()
    target = await new CountingTarget().start()
    manifests = makeTempDir('replicas')
    const checks = CHECKS.map(
      (c) => `  - name: ${c}\n    url: http://127.0.0.1:${target.port}/${c}\n    interval: 500ms\n    timeout: 400ms\n`,
    )
    writeFileSync(join(manifests, 'web.yaml'), `id: web\nnode: n1\nchecks:\n${checks.join('')}`)
  })
  after(async () => {
    for (const r of running) await r.stop()
    await target.close()
    await etcd.stop()
  })

  /** A replica started as probekit monitor starts one: it registers once its checks are loaded (after `loadingMs` more). */
  async function replica(id: string, prefix: string, loadingMs = 0): Promise<Replica> {
    const store = await EtcdStore.open({
      endpoints: [etcd.clientUrl],
      prefix,
      replicaId: id,
      leaseTtlSeconds: 2,
      requestTimeoutMs: 500,
      logger: false,
      registerLater: true,
    })
    const share = new ReplicaShare(store)
    const monitor = new Monitor({ store, share, logger: false, historyFlushMs: 200 })
    await monitor.load([manifests])
    share.attach(monitor, { logger: false })
    if (loadingMs > 0) await sleep(loadingMs)
    await store.register()
    monitor.start()
    const r: Replica = {
      id,
      store,
      share,
      monitor,
      crash: async () => {
        running.delete(r)
        share.close()
        await monitor.stop()
        await store.shutdown({ flushTimeoutMs: 0 })
      },
      stop: async () => {
        running.delete(r)
        share.close()
        await monitor.stop()
        await store.shutdown()
      },
    }
    running.add(r)
    return r
  }

  /** Whether a fresh reader of etcd sees each of `checks` published by `replica`. */
  async function allPublishedBy(prefix: string, checks: string[], replica: string): Promise<boolean> {
    const p = await publishers(prefix)
    return checks.every((id) => p.get(id) === replica)
  }

  /** Which replica published each check, as a fresh reader of etcd sees it. */
  async function publishers(prefix: string): Promise<Map<string, string>> {
    const reader = await EtcdStore.open({ endpoints: [etcd.clientUrl], prefix, readonly: true, logger: false })
    try {
      const out = new Map<string, string>()
      for (const id of ids) {
        const p = reader.published(id)
        if (p && p.state.state !== 'unknown') out.set(id, p.replica)
      }
      return out
    } finally {
      await reader.shutdown()
    }
  }

  it('two replicas divide the checks without overlap, each checking only its share', async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    const b = await replica('monitor-b', prefix)
    await waitFor(
      'both to see each other',
      () => a.share.liveMembers().length === 2 && b.share.liveMembers().length === 2,
      5000,
    )
    const ownedByA = ids.filter((id) => a.share.owns(id))
    const ownedByB = ids.filter((id) => b.share.owns(id))
    assert.deepEqual([...ownedByA, ...ownedByB].sort(), [...ids].sort(), 'every check has exactly one owner')
    assert.ok(ownedByA.length > 0 && ownedByB.length > 0, `a owns ${ownedByA.length}, b ${ownedByB.length}`)

    const published = await waitFor(
      'every check to be published',
      async () => {
        const p = await publishers(prefix)
        return p.size === ids.length ? p : undefined
      },
      10_000,
    )
    for (const id of ownedByA) assert.equal(published.get(id), 'monitor-a', id)
    for (const id of ownedByB) assert.equal(published.get(id), 'monitor-b', id)

    // Each replica's readers see the whole fleet: its own results and what the other published.
    await waitFor('a to show every check passing', () => a.monitor.states().every((s) => s.state === 'passing'), 5000)
    await waitFor('b to show every check passing', () => b.monitor.states().every((s) => s.state === 'passing'), 5000)

    // No target is checked twice: over 3 s at a 500 ms interval one checker makes about 6 requests, two would make 12.
    target.hits.clear()
    await sleep(3000)
    for (const c of CHECKS) {
      const n = target.hits.get(`/${c}`) ?? 0
      assert.ok(n >= 2 && n <= 8, `/${c} was checked ${n} times in 3 s`)
    }
    await a.stop()
    await b.stop()
  })

  it('a replica stopped cleanly hands its checks over with their states: none passes through unknown on the survivor', async () => {
    const prefix = `/handover${++prefixes}`
    const a = await replica('monitor-a', prefix)
    const b = await replica('monitor-b', prefix)
    await waitFor('both to see each other', () => a.share.liveMembers().length === 2, 5000)
    const ownedByB = ids.filter((id) => b.share.owns(id))
    assert.ok(ownedByB.length > 0)
    await waitFor(
      'every check published passing by its owner',
      async () =>
        (await allPublishedBy(prefix, ownedByB, 'monitor-b')) && a.monitor.states().every((s) => s.state === 'passing'),
      10_000,
    )
    // Each of b's checks taken over from `unknown` was a transition, and so a webhook
    // (unknown → passing) for every check of a stopped replica.
    const changes: string[] = []
    a.monitor.on('change', (t) => changes.push(`${t.id}: ${t.from} → ${t.to}`))
    await b.stop()
    await waitFor("a to publish b's share", () => allPublishedBy(prefix, ownedByB, 'monitor-a'), 5000)
    await sleep(1000) // through a's first runs of them
    assert.deepEqual(changes, [])
    for (const id of ownedByB) assert.equal(a.monitor.state(id)?.state, 'passing', id)
    await a.stop()
  })

  it("a check's owner publishes it again when another writer's state lands on it, and the other replicas show the owner's", async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    const b = await replica('monitor-b', prefix)
    await waitFor('both to see each other', () => a.share.liveMembers().length === 2, 5000)
    const id = ids.find((i) => a.share.owns(i)) as string
    await waitFor('a to publish its check', async () => (await publishers(prefix)).get(id) === 'monitor-a', 10_000)
    // Another writer (a replica whose membership lags, a stale write) puts its own state of
    // a's check, straight into etcd; a hears of it through its watch, for that check alone.
    const current = a.monitor.state(id)
    assert.ok(current)
    const b64 = (text: string) => Buffer.from(text).toString('base64')
    const put = await fetch(`${etcd.clientUrl}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({
        key: b64(`${prefix}/state/${id}`),
        value: b64(JSON.stringify({ replica: 'monitor-stray', state: { ...current, output: 'stray write' } })),
      }),
    })
    assert.equal(put.status, 200)
    await waitFor('b to see the stray write', () => b.store.published(id)?.replica === 'monitor-stray', 5000)
    await waitFor(
      'a to write its own state back',
      async () => (await publishers(prefix)).get(id) === 'monitor-a' && a.store.published(id)?.replica === 'monitor-a',
      10_000,
    )
    await waitFor('b to show what a publishes', () => b.store.published(id)?.replica === 'monitor-a', 5000)
    await a.stop()
    await b.stop()
  })

  it('a check handed to a replica that joins keeps its rhythm: it is not run twice in one interval', async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    await waitFor('a to publish every check', async () => (await publishers(prefix)).size === ids.length, 10_000)
    target.times.clear()
    await sleep(800) // a's runs of every check, before b comes
    const b = await replica('monitor-b', prefix)
    await waitFor('a to see b', () => a.share.liveMembers().length === 2, 5000)
    const movedToB = ids.filter((id) => b.share.owns(id))
    assert.ok(movedToB.length > 0)
    await waitFor('b to publish its share', () => allPublishedBy(prefix, movedToB, 'monitor-b'), 10_000)
    const timesOf = (id: string) => target.times.get(`/${id.split('/')[2]}`) ?? []
    await waitFor('five runs of each moved check', () => movedToB.every((id) => timesOf(id).length >= 5), 10_000)
    // Interval 500 ms, at a point of it fixed by the check's id: a runs a check at that point,
    // and b, from its start, at the same point, so runs stay a whole interval apart (two, when
    // a let the check go before b had started its scheduler). At random points (as before)
    // the handover would put a's last run and b's first anywhere from 0 to 1,000 ms apart.
    for (const id of movedToB) {
      const times = timesOf(id)
      const apart = times.slice(1).map((t, i) => Math.round(t - (times[i] as number)))
      const inStep = (ms: number) => {
        const intervals = Math.round(ms / 500)
        return intervals >= 1 && intervals <= 2 && Math.abs(ms - intervals * 500) < 150
      }
      assert.ok(apart.every(inStep), `${id}: runs ${apart.join(', ')} ms apart across the handover (interval 500 ms)`)
    }
    await a.stop()
    await b.stop()
  })

  it('a replica still loading its checks is not yet a member: its share goes on being checked meanwhile', async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    await waitFor('a to publish every check', async () => (await publishers(prefix)).size === ids.length, 10_000)
    target.times.clear()
    // b takes three intervals between reading the fleet and running checks (a large fleet's
    // manifests, say). Registered at open, it had taken its share from a at once.
    const joining = replica('monitor-b', prefix, 1500)
    await sleep(1200)
    assert.deepEqual(a.share.liveMembers(), ['monitor-a'], 'b is not a member while it loads')
    const b = await joining
    await waitFor('a to see b', () => a.share.liveMembers().length === 2, 5000)
    const movedToB = ids.filter((id) => b.share.owns(id))
    assert.ok(movedToB.length > 0)
    const timesOf = (id: string) => target.times.get(`/${id.split('/')[2]}`) ?? []
    await waitFor('three runs of each moved check by b', () => movedToB.every((id) => timesOf(id).length >= 7), 10_000)
    for (const id of movedToB) {
      const times = timesOf(id)
      const apart = times.slice(1).map((t, i) => Math.round(t - (times[i] as number)))
      // Every interval has its run (two apart at most, should a phase point fall in the
      // moment between a letting go and b starting): none waited for b's load.
      assert.ok(
        apart.every((ms) => ms < 1150),
        `${id}: runs ${apart.join(', ')} ms apart while b loaded and took over (interval 500 ms)`,
      )
    }
    await a.stop()
    await b.stop()
  })

  it('when a replica dies its checks move to the survivor within the lease TTL, and come back when it returns', async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    let b = await replica('monitor-b', prefix)
    await waitFor('both to see each other', () => a.share.liveMembers().length === 2, 5000)
    const ownedByB = ids.filter((id) => b.share.owns(id))
    await waitFor('every check passing in etcd', async () => (await publishers(prefix)).size === ids.length, 10_000)

    await b.crash()
    const crashedAt = Date.now()
    await waitFor('a to see b gone', () => a.share.liveMembers().length === 1, 8000)
    assert.ok(Date.now() - crashedAt >= 1000, 'b left before its lease could have expired')
    assert.ok(ownedByB.every((id) => a.share.owns(id)))
    const taken = await waitFor(
      "a to publish b's checks",
      async () => {
        const p = await publishers(prefix)
        return ownedByB.every((id) => p.get(id) === 'monitor-a') ? p : undefined
      },
      10_000,
    )
    assert.equal(taken.size, ids.length)
    await waitFor('a to show every check passing', () => a.monitor.states().every((s) => s.state === 'passing'), 5000)

    // A failing target is noticed by the survivor for the checks it took over too.
    target.status = 500
    try {
      await waitFor('every check critical on a', () => a.monitor.states().every((s) => s.state === 'critical'), 10_000)
    } finally {
      target.status = 200
    }

    b = await replica('monitor-b', prefix)
    await waitFor('a to see b back', () => a.share.liveMembers().length === 2, 5000)
    assert.deepEqual(
      ids.filter((id) => b.share.owns(id)),
      ownedByB,
      'b gets the same share back',
    )
    await waitFor(
      'b to publish its share again',
      async () => {
        const p = await publishers(prefix)
        return ownedByB.every((id) => p.get(id) === 'monitor-b') && p.size === ids.length
      },
      10_000,
    )
    await waitFor('b to show every check passing', () => b.monitor.states().every((s) => s.state === 'passing'), 5000)
    await a.stop()
    await b.stop()
  })

  it('with etcd frozen, a replica goes on checking, and etcd catches up after the thaw', async () => {
    const prefix = `/fleet${++prefixes}`
    const a = await replica('monitor-a', prefix)
    await waitFor('every check passing in etcd', async () => (await publishers(prefix)).size === ids.length, 10_000)
    etcd.process.freeze()
    try {
      target.status = 500
      await waitFor('the store to notice', () => !a.store.status().available, 5000)
      await waitFor(
        'every check critical while etcd is frozen',
        () => a.monitor.states().every((s) => s.state === 'critical'),
        10_000,
      )
      // Frozen past the lease TTL: etcd will have to be written again under a new lease.
      await sleep(2500)
    } finally {
      etcd.process.thaw()
      target.status = 200
    }
    target.status = 500
    await waitFor(
      'etcd to show every check critical',
      async () => {
        const reader = await EtcdStore.open({ endpoints: [etcd.clientUrl], prefix, readonly: true, logger: false })
        try {
          return ids.every((id) => reader.published(id)?.state.state === 'critical')
        } finally {
          await reader.shutdown()
        }
      },
      15_000,
    )
    target.status = 200
    assert.deepEqual(a.share.liveMembers(), ['monitor-a'])
    await a.stop()
  })

  it('probekit monitor: replicas on etcd share the checks, and a replica stopped with SIGTERM hands its share over at once', async () => {
    buildCli()
    const prefix = `/cli${++prefixes}`
    const spec = etcd.storeSpec(prefix)
    const children: ChildProcess[] = []
    const start = (id: string) => {
      const child = spawn(
        process.execPath,
        [
          `${ROOT}bin/probekit.js`,
          'monitor',
          '--store',
          spec,
          '--replica-id',
          id,
          '--lease-ttl',
          '30s',
          '--listen',
          'none',
          manifests,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let out = ''
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
      })
      child.stderr?.on('data', (c: Buffer) => {
        out += c.toString()
      })
      children.push(child)
      return { child, output: () => out, exited: new Promise((r) => child.once('exit', r)) }
    }
    try {
      const a = start('cli-a')
      const b = start('cli-b')
      await waitFor(
        'both to log a share of two replicas',
        () =>
          /2 live \(cli-a, cli-b\); cli-a runs/.test(a.output()) &&
          /2 live \(cli-a, cli-b\); cli-b runs/.test(b.output()),
        20_000,
      )
      const ownedByB = ids.filter((id) => rendezvousOwner(id, ['cli-a', 'cli-b']) === 'cli-b')
      await waitFor(
        'every check published by its owner',
        async () => {
          const p = await publishers(prefix)
          return p.size === ids.length && ownedByB.every((id) => p.get(id) === 'cli-b')
        },
        15_000,
      )
      b.child.kill('SIGTERM')
      assert.equal(await b.exited, 0, b.output())
      // The lease is 30 s: a handover well inside it proves the clean stop revoked it.
      await waitFor("a to publish b's share", () => allPublishedBy(prefix, ownedByB, 'cli-a'), 15_000)
      assert.match(a.output(), /1 live \(cli-a\); cli-a runs 12 of 12 checks/)
      a.child.kill('SIGTERM')
      assert.equal(await a.exited, 0, a.output())
    } finally {
      for (const child of children) child.kill('SIGKILL')
    }
  })

  it('probekit monitor: an etcd that does not answer, or a bad --store, ends in one sentence', async () => {
    buildCli()
    const port = await refusedPort()
    const down = await cli(['monitor', '--store', `etcd://127.0.0.1:${port}/probekit`, manifests])
    assert.equal(down.code, 1)
    assert.match(
      down.stdout + down.stderr,
      new RegExp(`cannot reach etcd at http://127\\.0\\.0\\.1:${port} \\(connection refused \\(ECONNREFUSED\\)\\)`),
    )
    assert.doesNotMatch(down.stdout + down.stderr, /\n\s+at /)
    const noPrefix = await cli(['monitor', '--store', `etcd://127.0.0.1:${etcd.clientPort}`, manifests])
    assert.match(noPrefix.stdout + noPrefix.stderr, /names no key prefix/)
    const stray = await cli(['monitor', '--store', 'memory', '--replica-id', 'a', manifests])
    assert.match(stray.stdout + stray.stderr, /--replica-id is for monitor replicas on an etcd store/)
  })
})
