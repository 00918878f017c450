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
import { type HttpError, jsonText } from '../../src/monitor/api/call.js'
import {
  JSON_PART_ITEMS,
  jsonParts,
  LongPoll,
  type LongPollOptions,
  MAX_RENDERINGS,
} from '../../src/monitor/api/watch.js'
import type { Access } from '../../src/monitor/auth.js'
import type { StateScope } from '../../src/monitor/monitor.js'
import type { CheckState, HealthState } from '../../src/monitor/types.js'
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
      assert.ok(parts.length >= Math.ceil(n / JSON_PART_ITEMS), `${n} items: ${parts.length} parts`)
    }
    const holes = [
      item(1),
      undefined,
      () => 1,
      Symbol('s'),
      item(2),
      ...Array.from({ length: JSON_PART_ITEMS }, (_, i) => item(i)),
    ]
    assert.equal(join(await jsonParts(holes)), jsonText(holes))
    const dated = Object.assign([1, 2], { toJSON: () => 'an array with toJSON' })
    for (const value of [
      { a: [1, 2] },
      'text\u001b',
      42,
      null,
      {},
      [],
      [[], {}, [[1]], { x: {} }],
      { checks: Array.from({ length: 600 }, (_, i) => i) },
      { at: new Date(0), list: [new Date(1)] },
      { kept: { a: 1 }, dropped: undefined, fn: () => 1 },
      Object.fromEntries([
        ['__proto__', { a: 1 }],
        ['constructor', {}],
        ['2', { n: 2 }],
        ['1', { n: 1 }],
      ]),
      dated,
    ]) {
      assert.equal(join(await jsonParts(value)), jsonText(value), JSON.stringify(value))
    }
  })

  it('renders an inspect document (pods, nodes, checks by name) in parts, with the same bytes', async () => {
    // The shape of /v1/inspect: pod → node → check → entry.
    const doc: Record<string, Record<string, Record<string, unknown>>> = {}
    for (let p = 0; p < 30; p++) {
      const checks: Record<string, unknown> = {}
      for (let c = 0; c < 100; c++) checks[`c${c}`] = { status: 'passing', output: item(c).output, durationMs: c / 7 }
      doc[`pod-${p}`] = { n1: checks, ...(p % 3 === 0 ? { n2: {} } : {}) }
    }
    const parts = await jsonParts(doc)
    assert.equal(join(parts), jsonText(doc))
    assert.ok(parts.length >= Math.floor(3000 / JSON_PART_ITEMS), `${parts.length} parts`)
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
    // A state asked for many times is looked for once.
    const repeated = `state=${Array.from({ length: 1000 }, () => 'critical').join(',')}&state=critical`
    assert.deepEqual(
      (await get(`/v1/checks?${repeated}`)).body,
      all.filter((s) => s.state === 'critical'),
    )
    const inspected = (await get('/v1/inspect?node=n1')).body
    const whole = (await getJson(`${fleet.url}/v1/inspect`)).body as Record<string, Record<string, unknown>>
    assert.deepEqual(inspected, { db: { n1: whole.db?.n1 }, web: { n1: whole.web?.n1 } })
    assert.deepEqual(scopes, [
      { pod: 'web' },
      { pod: 'web' },
      { pod: 'web', node: undefined, state: ['critical'] },
      { pod: undefined, node: undefined, state: ['unknown', 'critical'] },
      { pod: undefined, node: undefined, state: ['critical'] },
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
  /** `hold`: the response stays open after its last byte (a client that has not read it all). */
  const exchange = (gzip: boolean, search = '', hold = false) => {
    const chunks: Buffer[] = []
    let headers: Record<string, string> = {}
    let ended!: () => void
    const done = new Promise<void>((resolve) => {
      ended = resolve
    })
    const req = { method: 'GET', complete: true, headers: gzip ? { 'accept-encoding': 'gzip' } : {} }
    const closed: (() => void)[] = []
    const res = {
      headersSent: false,
      destroyed: false,
      writableFinished: false,
      on() {},
      off() {},
      once(event: string, listener: () => void) {
        if (event === 'close') closed.push(listener)
      },
      writeHead(_status: number, given: Record<string, string>) {
        headers = given
        this.headersSent = true
      },
      write(part: Buffer) {
        chunks.push(part)
      },
      end(part?: Buffer) {
        if (part) chunks.push(part)
        if (!hold) {
          this.writableFinished = true
          for (const listener of closed) listener()
        }
        ended()
      },
    }
    const call = {
      req: req as unknown as IncomingMessage,
      res: res as unknown as ServerResponse,
      url: new URL(`http://monitor/v1/checks${search}`),
      query: new URLSearchParams(search),
    }
    const text = async () => {
      await done
      const body = Buffer.concat(chunks)
      return headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8')
    }
    const close = () => {
      for (const listener of closed.splice(0)) listener()
    }
    return { call, text, headers: () => headers, close }
  }

  /** Counts the fleet monitor's `states()` reads, until `restore()`. */
  const countReads = () => {
    const monitor = fleet.monitor
    const states = monitor.states.bind(monitor)
    let reads = 0
    monitor.states = (scope?: StateScope) => {
      reads++
      return states(scope)
    }
    return {
      count: () => reads,
      restore: () => {
        monitor.states = states
      },
    }
  }

  /** The answers of the fleet's monitor, called directly (the API's access check is not needed). */
  const longPollOf = (options: Partial<LongPollOptions> = {}) =>
    new LongPoll(fleet.monitor, undefined as unknown as Access, {
      maxWaitMs: 1000,
      maxWatchers: 10,
      writeDeadlineMs: 30_000,
      ...options,
    })

  it('renders one list for a set of states however it is asked for', async () => {
    const reads = countReads()
    try {
      const longPoll = longPollOf()
      const asked = ['?state=critical,unknown', '?state=unknown&state=critical', '?state=unknown,critical,unknown']
      const exchanges = asked.map((search) => exchange(false, search))
      // As the list route asks: the states of the query, each once.
      await Promise.all(
        exchanges.map(({ call }) =>
          longPoll.answer(call, (s) => s, {
            state: [...new Set(call.query.getAll('state').flatMap((v) => v.split(',')))] as HealthState[],
          }),
        ),
      )
      assert.equal(reads.count(), 1)
      const texts = await Promise.all(exchanges.map((e) => e.text()))
      assert.equal(new Set(texts).size, 1)
      assert.equal((JSON.parse(texts[0] as string) as CheckState[]).length, 3 * JSON_PART_ITEMS)
    } finally {
      reads.restore()
    }
  })

  it('renders once for the GETs that come while it runs, with the index of when it began', async () => {
    const monitor = fleet.monitor
    const reads = countReads()
    const longPoll = longPollOf()
    const before = monitor.index
    const first = exchange(false)
    const answering = [longPoll.answer(first.call, (s) => s)]
    // A change while the first rendering runs: those who join it get what it read, and its index.
    assert.equal(monitor.push('big/c7', 'fail'), true)
    assert.ok(monitor.index > before)
    // Parameters the answer does not depend on (a cache-buster) do not make another rendering.
    const joined = [exchange(true), exchange(false, '?_=1700000000'), exchange(true, '?junk=1&_=2')]
    for (const { call } of joined) answering.push(longPoll.answer(call, (s) => s))
    await Promise.all(answering)
    assert.equal(reads.count(), 1, 'one rendering for four GETs')
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
    assert.equal(reads.count(), 2)
    reads.restore()
    const after = JSON.parse(await later.text()) as CheckState[]
    assert.equal(after.find((s) => s.id === 'n1/big/c7')?.state, 'critical')
    assert.equal(later.headers()['x-probekit-index'], String(monitor.index))
  })

  it('answers 503 past the bytes of answers being written, counting an answer shared by many once', async () => {
    const monitor = fleet.monitor
    // Room for one list of the fleet's checks, not two.
    const longPoll = longPollOf({ maxAnswerBytes: 1.5 * Buffer.byteLength(jsonText(monitor.states())) })
    const answer = (e: ReturnType<typeof exchange>, scope = {}) => longPoll.answer(e.call, (s) => s, scope)
    // Three clients that do not read, sharing one answer: held once.
    const slow = [exchange(false, '', true), exchange(false, '', true), exchange(false, '', true)]
    await Promise.all(slow.map((e) => answer(e)))
    // Another answer as large (the critical and unknown checks) would pass the bound.
    const other = exchange(false, '?state=unknown,critical')
    await assert.rejects(answer(other, { state: ['unknown', 'critical'] }), (error: HttpError) => {
      assert.equal(error.statusCode, 503)
      assert.match(
        error.message,
        /^the answers being written to clients hold \d+ MB, the most this monitor keeps for them \(slow readers\); retry after 5 s$/,
      )
      assert.equal(error.headers['retry-after'], '5')
      return true
    })
    // A small one goes out, and a HEAD (no body) too.
    await answer(exchange(false, '?state=warning'), { state: ['warning'] })
    // Once two of the three are done, the shared answer is still held; once all are, there is room.
    slow[0]?.close()
    slow[1]?.close()
    await assert.rejects(answer(exchange(false, '?state=unknown,critical'), { state: ['unknown', 'critical'] }))
    slow[2]?.close()
    const now = exchange(false, '?state=unknown,critical')
    await answer(now, { state: ['unknown', 'critical'] })
    assert.equal((JSON.parse(await now.text()) as CheckState[]).length, 3 * JSON_PART_ITEMS)
  })

  it(`renders at most ${MAX_RENDERINGS} different answers at once`, async () => {
    const longPoll = longPollOf()
    // Different sets of states, each holding every check (all unknown or one critical): each
    // a rendering of its own that spans turns of the event loop.
    const others: HealthState[] = ['passing', 'warning', 'critical']
    const sets: HealthState[][] = [['unknown']]
    for (const a of others) sets.push(['unknown', a])
    for (const [i, a] of others.entries()) for (const b of others.slice(i + 1)) sets.push(['unknown', a, b])
    sets.push(['unknown', ...others])
    assert.equal(sets.length, MAX_RENDERINGS)
    const answering = sets.map((set) => {
      const e = exchange(false, `?state=${set.join(',')}`)
      return longPoll.answer(e.call, (s) => s, { state: set })
    })
    // The same set as one being rendered, asked another way: shared; one more set: refused.
    const joins = exchange(false, '?state=critical,passing,unknown,warning')
    const extra = exchange(false, '?state=passing,warning')
    const joining = longPoll.answer(joins.call, (s) => s, { state: ['unknown', ...others] })
    await assert.rejects(
      longPoll.answer(extra.call, (s) => s, { state: ['passing', 'warning'] }),
      /8 answers are being rendered, the most this monitor renders at once; retry after 5 s/,
    )
    await Promise.all([...answering, joining])
    // Done: room again.
    await longPoll.answer(extra.call, (s) => s, { state: ['passing', 'warning'] })
  })
})
