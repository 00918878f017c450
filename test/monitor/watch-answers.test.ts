/**
 * How the read routes build their answers (src/monitor/api/watch.ts): a large array is
 * rendered a part at a time with the same bytes as one `jsonText`, and a route answering
 * one check or one pod copies only the states in its scope, on a plain GET and from a long
 * poll's snapshot alike, with the same answers as the whole list filtered.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { jsonText } from '../../src/monitor/api/call.js'
import { JSON_PART_ITEMS, jsonParts } from '../../src/monitor/api/watch.js'
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
    const inspected = (await get('/v1/inspect?node=n1')).body
    const whole = (await getJson(`${fleet.url}/v1/inspect`)).body as Record<string, Record<string, unknown>>
    assert.deepEqual(inspected, { db: { n1: whole.db?.n1 }, web: { n1: whole.web?.n1 } })
    assert.deepEqual(scopes, [
      { pod: 'web' },
      { pod: 'web' },
      { pod: 'web', node: undefined },
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
