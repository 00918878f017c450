/**
 * How the read routes build their answers (src/monitor/api/watch.ts): a large array is
 * rendered a part at a time with the same bytes as one `jsonText`, and a route answering
 * one check or one pod copies only the states in its scope, on a plain GET and from a long
 * poll's snapshot alike, with the same answers as the whole list filtered; plain GETs that
 * come while a list is being rendered share that rendering.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { jsonText } from '../../src/monitor/api/call.js'
import { JSON_PART_ITEMS, jsonParts, LongPoll } from '../../src/monitor/api/watch.js'
import type { Access } from '../../src/monitor/auth.js'
import type { StateScope } from '../../src/monitor/monitor.js'
import type { CheckState } from '../../src/monitor/types.js'
import { type Fleet, getJson, startFleet } from '../support/monitor-fleet.js'

const join = (parts: Buffer[]) => Buffer.concat(parts).toString('utf8')

describe('jsonParts', () => {
  const item = (i: number) => ({
    id: `n1/pod-${i}/check`,
    output: i % 7 === 0 ? `line\none\u001b[31m red \u2028 é 😀 "quoted" \\ ${i}` : 'fine',
    nested: { list: [1, { a: null }], empty: {}, none: [] },
    durationMs: i / 3,
  })

  it('gives the bytes of jsonText for arrays of every size around a part, and for other values', async () => {
    for (const n of [0, 1, 2, JSON_PART_ITEMS - 1, JSON_PART_ITEMS, JSON_PART_ITEMS + 1, 2 * JSON_PART_ITEMS + 37]) {
      const value = Array.from({ length: n }, (_, i) => item(i))
      const parts = await jsonParts(value)
      assert.equal(join(parts), jsonText(value), `${n} items`)
      assert.equal(parts.length, Math.max(1, n > JSON_PART_ITEMS ? Math.ceil(n / JSON_PART_ITEMS) : 1), `${n} items`)
    }
    const holes = [item(1), undefined, () => 1, item(2), ...Array.from({ length: JSON_PART_ITEMS }, (_, i) => item(i))]
    assert.equal(join(await jsonParts(holes)), jsonText(holes))
    for (const value of [{ a: [1, 2] }, 'text\u001b', 42, null, { checks: Array.from({ length: 600 }, (_, i) => i) }]) {
      assert.deepEqual(await jsonParts(value), [Buffer.from(jsonText(value))])
    }
  })

  it('lets the event loop run between parts', async () => {
    const value = Array.from({ length: 3 * JSON_PART_ITEMS }, (_, i) => item(i))
    let done = false
    let ranWhileRendering = false
    const rendering = jsonParts(value)
    setImmediate(() => {
      ranWhileRendering = !done
    })
    await rendering
    done = true
    assert.ok(ranWhileRendering, 'nothing else ran before the rendering was done')
  })
})

describe('read routes answer from the states in their scope', () => {
  let fleet: Fleet
  const scopes: (StateScope | string)[] = []

  before(async () => {
    // Push checks: nothing runs them, so every state stays as it is between two reads.
    const push = (name: string) => `  - { name: ${name}, type: push, period: 1h }\n`
    fleet = await startFleet({
      store: 'memory',
      manifests: () => ({
        'web.yaml': `id: web\nnode: n1\nchecks:\n${push('a')}${push('b')}`,
        'web-n2.yaml': `id: web\nnode: n2\nchecks:\n${push('a')}`,
        'db.yaml': `id: db\nnode: n1\nchecks:\n${push('health_check')}${push('z')}`,
      }),
    })
    // Two states: n1/web/b and n1/db/z failed.
    for (const check of ['n1/web/b', 'n1/db/z']) {
      assert.equal((await fetch(`${fleet.url}/v1/push/${check}/fail`, { method: 'POST' })).status, 200)
    }
    // What the routes ask the monitor for.
    const monitor = fleet.monitor
    const states = monitor.states.bind(monitor)
    const state = monitor.state.bind(monitor)
    monitor.states = (scope?: StateScope) => {
      scopes.push(scope ?? {})
      return states(scope)
    }
    monitor.state = (id: string) => {
      scopes.push(id)
      return state(id)
    }
  })

  after(() => fleet?.close())

  const get = async (path: string) => {
    const res = await fetch(`${fleet.url}${path}`)
    return { status: res.status, index: Number(res.headers.get('x-probekit-index')), body: await res.json() }
  }

  it('answers one check, a pod and a filter as the whole list filtered, and asks for only that scope', async () => {
    const all = (await get('/v1/checks')).body as CheckState[]
    assert.deepEqual(
      all.map((s) => s.id),
      ['n1/db/health_check', 'n1/db/z', 'n1/web/a', 'n1/web/b', 'n2/web/a'],
    )
    scopes.length = 0
    const one = await get('/v1/checks/n1/web/b')
    assert.equal(one.status, 200)
    assert.deepEqual(one.body, all[3])
    assert.deepEqual(scopes, ['n1/web/b'])

    scopes.length = 0
    assert.deepEqual(
      (await get('/v1/pods/web')).body,
      all.filter((s) => s.pod === 'web'),
    )
    assert.deepEqual(
      (await get('/v1/pods/web?node=n2')).body,
      all.filter((s) => s.pod === 'web' && s.node === 'n2'),
    )
    assert.deepEqual(
      (await get('/v1/checks?pod=web&state=critical')).body,
      all.filter((s) => s.pod === 'web' && s.state === 'critical'),
    )
    assert.deepEqual(
      (await get('/v1/checks?state=unknown&state=critical')).body,
      all.filter((s) => s.state === 'unknown' || s.state === 'critical'),
    )
    const inspected = (await get('/v1/inspect?node=n1')).body
    const whole = (await getJson(`${fleet.url}/v1/inspect`)).body as Record<string, Record<string, unknown>>
    assert.deepEqual(inspected, { db: { n1: whole.db?.n1 }, web: { n1: whole.web?.n1 } })
    assert.deepEqual(scopes, [
      { pod: 'web' },
      { pod: 'web' },
      { pod: 'web', node: undefined, state: ['critical'] },
      { pod: undefined, node: undefined, state: ['unknown', 'critical'] },
      { pod: undefined, node: 'n1' },
      { pod: undefined, node: undefined },
    ])

    // Not found, as before: an unknown check, an unknown pod; a known pod on another node is an empty list.
    assert.equal((await get('/v1/checks/n1/web/nope')).status, 404)
    assert.equal((await get('/v1/pods/nope')).status, 404)
    assert.deepEqual((await get('/v1/pods/db?node=n2')).body, [])
  })

  it('answers a long poll of one check or a pod from the shared snapshot, narrowed to it', async () => {
    const first = await get('/v1/checks/n1/db/z')
    const pod = await get('/v1/pods/web')
    const polls = Promise.all([
      get(`/v1/checks/n1/db/z?index=${first.index}&wait=20s`),
      get(`/v1/pods/web?index=${pod.index}&wait=20s`),
    ])
    // A silence of pod web changes what readers see: the watchers wake.
    const silenced = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'web', for: '1h', comment: 'deploy' }),
    })
    assert.equal(silenced.status, 201, await silenced.text())
    const [check, web] = await polls
    // A long poll with a state filter is narrowed the same way.
    const critical = await get(`/v1/checks?state=critical&index=${first.index}&wait=20s`)
    assert.deepEqual(
      (critical.body as CheckState[]).map((s) => s.id),
      ['n1/db/z', 'n1/web/b'],
    )
    assert.ok(check.index > first.index && web.index > pod.index)
    assert.equal((check.body as CheckState).id, 'n1/db/z')
    assert.equal((check.body as CheckState).silenced, undefined)
    const states = web.body as CheckState[]
    assert.deepEqual(
      states.map((s) => s.id),
      ['n1/web/a', 'n1/web/b', 'n2/web/a'],
    )
    for (const s of states) assert.equal(s.silenced?.comment, 'deploy')
  })
})

describe('plain GETs of a list being rendered share its rendering', () => {
  let fleet: Fleet
  before(async () => {
    // More checks than one part: a rendering spans turns of the event loop.
    const checks = Array.from(
      { length: 3 * JSON_PART_ITEMS },
      (_, i) => `  - { name: c${i}, type: push, period: 1h }\n`,
    )
    fleet = await startFleet({
      store: 'memory',
      manifests: () => ({ 'big.yaml': `id: big\nnode: n1\nchecks:\n${checks.join('')}` }),
    })
  })
  after(() => fleet?.close())

  /** A request and a response that record what `send` writes (the answer is called directly, in one turn). */
  const exchange = (gzip: boolean) => {
    const chunks: Buffer[] = []
    let headers: Record<string, string> = {}
    let ended!: () => void
    const done = new Promise<void>((resolve) => {
      ended = resolve
    })
    const req = { method: 'GET', complete: true, headers: gzip ? { 'accept-encoding': 'gzip' } : {} }
    const res = {
      headersSent: false,
      destroyed: false,
      on() {},
      off() {},
      writeHead(_status: number, given: Record<string, string>) {
        headers = given
        this.headersSent = true
      },
      write(part: Buffer) {
        chunks.push(part)
      },
      end(part?: Buffer) {
        if (part) chunks.push(part)
        ended()
      },
    }
    const call = {
      req: req as unknown as IncomingMessage,
      res: res as unknown as ServerResponse,
      url: new URL('http://monitor/v1/checks'),
      query: new URLSearchParams(),
    }
    const text = async () => {
      await done
      const body = Buffer.concat(chunks)
      return headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8')
    }
    return { call, text, headers: () => headers }
  }

  it('renders once for the GETs that come while it runs, with the index of when it began', async () => {
    const monitor = fleet.monitor
    let reads = 0
    const states = monitor.states.bind(monitor)
    monitor.states = (scope?: StateScope) => {
      reads++
      return states(scope)
    }
    const longPoll = new LongPoll(monitor, undefined as unknown as Access, { maxWaitMs: 1000, maxWatchers: 10 })
    const before = monitor.index
    const first = exchange(false)
    const answering = [longPoll.answer(first.call, (s) => s)]
    // A change while the first rendering runs: those who join it get what it read, and its index.
    assert.equal(monitor.push('big/c7', 'fail'), true)
    assert.ok(monitor.index > before)
    const joined = [exchange(true), exchange(false), exchange(true)]
    for (const { call } of joined) answering.push(longPoll.answer(call, (s) => s))
    await Promise.all(answering)
    assert.equal(reads, 1, 'one rendering for four GETs')
    const texts = await Promise.all([first, ...joined].map((e) => e.text()))
    for (const [i, text] of texts.entries()) {
      assert.equal(text, texts[0], `answer ${i}`)
      assert.equal([first, ...joined][i]?.headers()['x-probekit-index'], String(before), `answer ${i}`)
    }
    const answered = JSON.parse(texts[0] as string) as CheckState[]
    assert.equal(answered.length, 3 * JSON_PART_ITEMS)
    assert.equal(answered.find((s) => s.id === 'n1/big/c7')?.state, 'unknown', 'read before the change')
    assert.equal(joined[0]?.headers()['content-encoding'], 'gzip')

    // Once it is done, the next GET renders anew, with the change and its index.
    const later = exchange(false)
    await longPoll.answer(later.call, (s) => s)
    assert.equal(reads, 2)
    const after = JSON.parse(await later.text()) as CheckState[]
    assert.equal(after.find((s) => s.id === 'n1/big/c7')?.state, 'critical')
    assert.equal(later.headers()['x-probekit-index'], String(monitor.index))
  })
})
