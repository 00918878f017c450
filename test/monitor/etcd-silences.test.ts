/**
 * Silences with monitor replicas on a real etcd: a silence added through one replica's API
 * mutes the checks another replica runs (only the owner of a check sends its webhooks),
 * survives a restart of every replica, and a frozen etcd makes adding one fail in one
 * sentence within the API's deadline.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { type Api, startApi } from '../../src/monitor/api.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { ReplicaShare, rendezvousOwner } from '../../src/monitor/replicas.js'
import { EtcdStore } from '../../src/monitor/store/etcd.js'
import type { CheckState, Silence } from '../../src/monitor/types.js'
import { startWebhooks, type WebhookNotification, type Webhooks } from '../../src/monitor/webhooks.js'
import { freezeFully } from '../support/freeze.js'
import { TargetServer } from '../support/monitor-fleet.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { type EtcdServer, startEtcd } from '../support/servers/etcd.js'

const REPLICAS = ['mon-a', 'mon-b']
const CHECKS = Array.from({ length: 8 }, (_, i) => `c${i}`)
const idOf = (check: string) => `n1/web/${check}`
/** The checks mon-b runs while both replicas are live. */
const ownedByB = CHECKS.filter((c) => rendezvousOwner(idOf(c), REPLICAS) === 'mon-b')

interface Replica {
  id: string
  store: EtcdStore
  share: ReplicaShare
  monitor: Monitor
  api: Api
  webhooks: Webhooks
  stop(): Promise<void>
}

/** What the API says about one check. */
async function checkOf(replica: Replica, check: string): Promise<CheckState> {
  const res = await fetch(`${replica.api.url}/v1/checks/${idOf(check)}`)
  assert.equal(res.status, 200)
  return (await res.json()) as CheckState
}

async function listed(replica: Replica): Promise<Silence[]> {
  return ((await (await fetch(`${replica.api.url}/v1/silences`)).json()) as { silences: Silence[] }).silences
}

const root = new URL('../..', import.meta.url).pathname

describe('silences shared by monitor replicas on a real etcd', () => {
  let etcd: EtcdServer
  const target = new TargetServer()
  let manifests: string
  let receiver: Server
  let hookUrl = ''
  const received: WebhookNotification[] = []
  const running = new Set<Replica>()
  let prefixes = 0

  before(async () => {
    assert.ok(ownedByB.length >= 2, `mon-b owns ${ownedByB.length} of ${CHECKS.length} checks; the test needs two`)
    etcd = await startEtcd()
    await target.start()
    for (const c of CHECKS) target.set(`/${c}`, 200)
    manifests = makeTempDir('etcd-silences')
    const checks = CHECKS.map(
      (c) => `  - name: ${c}\n    url: ${target.url(`/${c}`)}\n    interval: 300ms\n    timeout: 250ms\n`,
    )
    writeFileSync(join(manifests, 'web.yaml'), `id: web\nnode: n1\nchecks:\n${checks.join('')}`)
    receiver = createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => {
        text += c
      })
      req.on('end', () => {
        received.push(JSON.parse(text) as WebhookNotification)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
  })

  after(async () => {
    for (const r of running) await r.stop()
    await target.close()
    receiver?.closeAllConnections()
    await new Promise((resolve) => receiver?.close(resolve))
    await etcd?.stop()
  })

  /** A replica as `probekit monitor --store etcd://… --webhook URL` runs one, with its API. */
  async function replica(id: string, prefix: string): Promise<Replica> {
    const store = await EtcdStore.open({
      endpoints: [etcd.clientUrl],
      prefix,
      replicaId: id,
      leaseTtlSeconds: 5,
      requestTimeoutMs: 1000,
      logger: false,
    })
    const share = new ReplicaShare(store)
    const monitor = new Monitor({ store, share, logger: false, historyFlushMs: 200 })
    await monitor.load([manifests])
    share.attach(monitor, { logger: false })
    const webhooks = startWebhooks(monitor, {
      urls: [hookUrl],
      minIntervalMs: 0,
      monitorName: id,
      logger: false,
      muted: (check) => monitor.silenced(check) !== undefined,
    })
    monitor.start()
    const api = await startApi(monitor, { host: '127.0.0.1', port: 0, logger: false })
    const r: Replica = {
      id,
      store,
      share,
      monitor,
      api,
      webhooks,
      stop: async () => {
        running.delete(r)
        await api.close()
        share.close()
        await webhooks.close()
        await monitor.stop()
        await store.shutdown()
      },
    }
    running.add(r)
    return r
  }

  /** Both replicas, each seeing the other, every check passing on both. */
  async function pair(prefix: string): Promise<[Replica, Replica]> {
    const a = await replica('mon-a', prefix)
    const b = await replica('mon-b', prefix)
    await waitFor(
      'both replicas to see each other',
      () => a.share.liveMembers().length === 2 && b.share.liveMembers().length === 2,
      10_000,
    )
    for (const r of [a, b])
      await waitFor(
        `every check passing on ${r.id}`,
        () => r.monitor.states().every((s) => s.state === 'passing'),
        15_000,
      )
    return [a, b]
  }

  async function addSilence(through: Replica, body: Record<string, unknown>): Promise<Response> {
    return fetch(`${through.api.url}/v1/silences`, {
      method: 'POST',
      body: JSON.stringify(body),
      // The API's own deadline: an answer must come within it, whatever etcd does.
      signal: AbortSignal.timeout(10_000),
    })
  }

  it("a silence added through A's API mutes the failing check B runs: no webhook while silenced, critical on both, one webhook when it ends", async () => {
    const [a, b] = await pair(`/shared${++prefixes}`)
    const [muted, control] = ownedByB as [string, string]
    assert.ok(b.monitor.owns(idOf(muted)) && !a.monitor.owns(idOf(muted)), `${muted} is run by mon-b`)
    // Only what goes to critical once the silence is in force counts: the first results
    // (unknown → passing) are notified too, and on a loaded machine a 250 ms check may time
    // out (and be notified) before the silence exists.
    let since = Number.POSITIVE_INFINITY
    const critical = (check: string) =>
      received.filter((n) => n.check === check && n.to === 'critical' && Date.parse(n.at) >= since)

    const res = await addSilence(a, { pod: 'web', check: muted, for: '1h', comment: 'OPS-15 failover', author: 'ana' })
    assert.equal(res.status, 201)
    const { silence } = (await res.json()) as { silence: Silence }
    // B learns of it through its watch, not through its own API.
    await waitFor(
      'mon-b to mark the check silenced',
      async () => (await checkOf(b, muted)).silenced?.id === silence.id,
      10_000,
    )
    since = Date.now()
    assert.deepEqual(
      (await listed(b)).map((s) => s.id),
      [silence.id],
    )

    target.set(`/${muted}`, 500)
    target.set(`/${control}`, 500)
    try {
      for (const r of [a, b])
        await waitFor(
          `${muted} critical on ${r.id}, still marked silenced`,
          async () => {
            const s = await checkOf(r, muted)
            return s.state === 'critical' && s.silenced?.id === silence.id
          },
          15_000,
        )
      // The control, failing as long and run by the same replica, is sent: webhooks work.
      await waitFor('the webhook of the unsilenced control check', () => critical(control).length > 0, 15_000)
      await sleep(1500) // past the webhooks' once-a-second look at held transitions
      assert.deepEqual(critical(muted), [], 'no webhook for the silenced check')
      // (Under load a check may flap and go critical twice; what counts is who sent it.)
      assert.deepEqual(
        [...new Set(critical(control).map((n) => n.monitor))],
        ['mon-b'],
        'only the owner of a check sends its webhooks',
      )

      // Ended through B's API this time: A sees the end too, and B sends the one notification it held.
      const ended = await fetch(`${b.api.url}/v1/silences/${silence.id}`, { method: 'DELETE' })
      assert.equal(ended.status, 200)
      await waitFor('the one held notification', () => critical(muted).length > 0, 10_000)
      const [note] = critical(muted) as [WebhookNotification]
      assert.equal(note.to, 'critical')
      assert.equal(note.monitor, 'mon-b')
      await waitFor(
        'mon-a to see the silence end',
        async () => (await checkOf(a, muted)).silenced === undefined,
        10_000,
      )
      assert.equal((await checkOf(a, muted)).state, 'critical')
    } finally {
      target.set(`/${muted}`, 200)
      target.set(`/${control}`, 200)
    }
    await a.stop()
    await b.stop()
  })

  it('a silence survives a restart of both replicas', async () => {
    const prefix = `/restart${++prefixes}`
    let [a, b] = await pair(prefix)
    const [muted] = ownedByB as [string]
    const res = await addSilence(a, { pod: 'web', check: muted, for: '2h', comment: 'kept across restarts' })
    assert.equal(res.status, 201)
    const { silence } = (await res.json()) as { silence: Silence }
    await a.stop()
    await b.stop()

    ;[a, b] = await pair(prefix)
    for (const r of [a, b]) {
      assert.deepEqual(await listed(r), [silence], `${r.id} lists the silence after the restart`)
      assert.equal((await checkOf(r, muted)).silenced?.id, silence.id)
    }
    // probekit inspect reading etcd itself marks the check from the silences kept there.
    const inspected = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/bin.ts'),
        'inspect',
        '--store',
        `etcd://${new URL(etcd.clientUrl).host}${prefix}`,
      ],
      { cwd: root, timeout: 60_000 },
    )
    const doc = JSON.parse(inspected.stdout) as Record<
      string,
      Record<string, Record<string, { silenced?: { id: string } }>>
    >
    const marked = Object.values(doc.web ?? {}).flatMap((checks) =>
      Object.entries(checks).map(([name, c]) => [name, c.silenced?.id]),
    )
    assert.deepEqual(
      marked.filter(([, id]) => id !== undefined),
      [[muted, silence.id]],
    )
    await a.stop()
    await b.stop()
  })

  it('with etcd frozen, adding or ending a silence answers 503 in one sentence within the API deadline; after the thaw it works', async () => {
    const [a, b] = await pair(`/frozen${++prefixes}`)
    const [muted] = ownedByB as [string]
    const first = await addSilence(a, { pod: 'web', check: muted, for: '1h', comment: 'before the freeze' })
    assert.equal(first.status, 201)
    const { silence } = (await first.json()) as { silence: Silence }

    await freezeFully(etcd.process)
    try {
      const refused = await addSilence(a, { pod: 'web', for: '1h', comment: 'while frozen' })
      assert.equal(refused.status, 503)
      const { error } = (await refused.json()) as { error: string }
      assert.match(
        error,
        /^the silence was not saved: etcd at http:\/\/127\.0\.0\.1:\d+ is not answering \(no answer within 1000 ms\); add it again once etcd answers/,
      )
      const notEnded = await fetch(`${a.api.url}/v1/silences/${silence.id}`, {
        method: 'DELETE',
        signal: AbortSignal.timeout(10_000),
      })
      assert.equal(notEnded.status, 503)
      // Nothing changed: the API still answers, from memory, with the silence in force.
      const during = await listed(a)
      assert.deepEqual(
        during.map((s) => [s.id, s.endsAt]),
        [[silence.id, silence.endsAt]],
      )
      assert.equal((await checkOf(a, muted)).silenced?.id, silence.id)
      // Readiness says so, as a warning: the replica still serves (a shared etcd failing
      // every replica's readiness would take them all out of service at once).
      const ready = await fetch(`${a.api.url}/readyz?verbose`)
      assert.equal(ready.status, 200)
      const text = await ready.text()
      assert.match(text, /^\[\+\]store ok/m)
      assert.match(
        text,
        /^\[!\]etcd warn: no answer within 1000 ms; checks go on, and \d+ key\(s\) wait in memory until etcd answers$/m,
      )
    } finally {
      etcd.process.thaw()
    }
    await waitFor('mon-a to reach etcd again', () => a.store.status().available, 20_000)
    await waitFor('readiness to say etcd answers', async () =>
      /^\[\+\]etcd ok/m.test(await (await fetch(`${a.api.url}/readyz?verbose`)).text()),
    )
    const again = await addSilence(a, { pod: 'web', for: '1h', comment: 'after the thaw' })
    assert.equal(again.status, 201)
    const added = ((await again.json()) as { silence: Silence }).silence
    await waitFor('mon-b to list it', async () => (await listed(b)).some((s) => s.id === added.id), 10_000)
    await a.stop()
    await b.stop()
  })
})
