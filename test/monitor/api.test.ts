import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import type { CheckState, Transition } from '../../src/monitor/types.js'
import { type Fleet, getJson, startFleet } from '../support/monitor-fleet.js'
import { waitFor } from '../support/server-process.js'

// One fleet for the file: pod "web" on n1 (its status endpoint is flipped by the tests),
// pod "api" on n2 (always passing, plus a TCP check), pod "jobs" with a push check.
let fleet: Fleet
const WEB = 'n1/web/health_check'

before(async () => {
  fleet = await startFleet({
    prepare: (t) => {
      t.set('/web/_status', 200, 'web ok')
      t.set('/api/_status', 200, 'api ok')
    },
    manifests: (t) => ({
      'web.yaml': `id: web\nnode: n1\nchecks:\n  - name: health_check\n    url: ${t.url('/web/_status')}\n    interval: 1s\n`,
      'api.yaml': `id: api\nnode: n2\nchecks:\n  - name: health_check\n    url: ${t.url('/api/_status')}\n    interval: 1s\n  - name: port\n    type: tcp\n    address: 127.0.0.1:${t.port}\n    interval: 1s\n`,
      'jobs.yaml': 'id: jobs\nnode: n1\nchecks:\n  - name: backup\n    type: push\n    period: 1h\n',
    }),
  })
  // On a loaded machine a first check can time out; start from the steady state.
  for (const id of [WEB, 'n2/api/health_check', 'n2/api/port']) await fleet.waitForState(id, 'passing')
})

after(async () => {
  await fleet?.close()
})

describe('GET /v1/checks', () => {
  it('lists every check with its state, as JSON, uncached, with the watch index in a header', async () => {
    const res = await getJson(`${fleet.url}/v1/checks`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.match(res.headers.get('x-probekit-index') ?? '', /^\d+$/)
    const states = res.body as CheckState[]
    assert.deepEqual(states.map((s) => s.id).sort(), [
      'n1/jobs/backup',
      'n1/web/health_check',
      'n2/api/health_check',
      'n2/api/port',
    ])
    const web = states.find((s) => s.id === WEB) as CheckState
    assert.equal(web.state, 'passing')
    assert.equal(web.target, fleet.target.url('/web/_status'))
  })

  it('filters by state, pod and node', async () => {
    const passing = (await getJson(`${fleet.url}/v1/checks?state=passing`)).body as CheckState[]
    assert.ok(passing.length >= 3 && passing.every((s) => s.state === 'passing'))
    const unknown = (await getJson(`${fleet.url}/v1/checks?state=unknown`)).body as CheckState[]
    assert.deepEqual(
      unknown.map((s) => s.id),
      ['n1/jobs/backup'],
    )
    const n2 = (await getJson(`${fleet.url}/v1/checks?node=n2`)).body as CheckState[]
    assert.deepEqual(
      n2.map((s) => s.check),
      ['health_check', 'port'],
    )
    const api = (await getJson(`${fleet.url}/v1/checks?pod=api&state=passing,warning`)).body as CheckState[]
    assert.equal(api.length, 2)
  })

  it('answers a state that does not exist with 400 and one sentence', async () => {
    const res = await getJson(`${fleet.url}/v1/checks?state=broken`)
    assert.equal(res.status, 400)
    assert.deepEqual(res.body, {
      error: 'state "broken" is not a health state; use passing, warning, critical or unknown',
    })
  })

  it('answers a query parameter the route does not take with 400 naming the ones it takes', async () => {
    const typo = await getJson(`${fleet.url}/v1/checks?states=critical`)
    assert.equal(typo.status, 400)
    assert.deepEqual(typo.body, {
      error:
        'unknown query parameter "states" for GET /v1/checks; it takes state, pod, node, index, wait; did you mean "state"?',
    })
    const none = await getJson(`${fleet.url}/v1/silences?pod=web`)
    assert.equal(none.status, 400)
    assert.deepEqual(none.body, { error: 'unknown query parameter "pod" for GET /v1/silences; it takes none' })
    const history = await getJson(`${fleet.url}/v1/checks/${WEB}/history?limt=5`)
    assert.equal(history.status, 400)
    assert.deepEqual(history.body, {
      error:
        'unknown query parameter "limt" for GET /v1/checks/<node>/<pod>/<check>[/history|/transitions]; it takes since, limit, index, wait; did you mean "limit"?',
    })
    // One route serves a check, its history and its transitions: what only another reads is refused.
    const single = await getJson(`${fleet.url}/v1/checks/${WEB}?since=2020-01-01`)
    assert.equal(single.status, 400)
    assert.deepEqual(single.body, {
      error:
        'unknown query parameter "since" for GET /v1/checks/<node>/<pod>/<check>; it takes index, wait (since and limit are for /history and /transitions)',
    })
    const waited = await getJson(`${fleet.url}/v1/checks/${WEB}/transitions?wait=5s`)
    assert.equal(waited.status, 400)
    assert.deepEqual(waited.body, {
      error:
        'unknown query parameter "wait" for GET /v1/checks/<node>/<pod>/<check>/transitions; it takes since, limit',
    })
    // A parameter read once, given twice, would have read as its first.
    const twice = await getJson(`${fleet.url}/v1/checks?pod=web&pod=api`)
    assert.equal(twice.status, 400)
    assert.deepEqual(twice.body, { error: 'query parameter "pod" is given more than once; GET /v1/checks reads one' })
    const cutShort = await getJson(`${fleet.url}/v1/checks?nod=n1`)
    assert.match((cutShort.body as { error: string }).error, /did you mean "node"\?$/)
    // What the routes take still works, and so does a cache-buster.
    for (const path of [
      '/v1/checks?state=passing&pod=web&node=n1&_=1700000000',
      `/v1/checks/${WEB}/history?limit=5&since=2020-01-01T00:00:00Z`,
      '/v1/transitions?pod=web&id=n1/web/health_check&limit=5',
      '/v1/pods/web?node=n1',
      '/v1/inspect?pod=web&node=n1',
      '/v1/checks?index=1&wait=1ms',
      `/v1/checks/${WEB}?index=1&wait=1ms`,
      '/v1/checks?state=passing&state=warning&_=1&_=2',
    ]) {
      assert.equal((await getJson(`${fleet.url}${path}`)).status, 200, path)
    }
  })
})

describe('one pod, one check, history and transitions', () => {
  it("GET /v1/pods/<pod> lists the pod's checks; an unknown pod is 404", async () => {
    const res = await getJson(`${fleet.url}/v1/pods/api`)
    assert.equal(res.status, 200)
    assert.deepEqual(
      (res.body as CheckState[]).map((s) => s.id),
      ['n2/api/health_check', 'n2/api/port'],
    )
    const missing = await getJson(`${fleet.url}/v1/pods/nope`)
    assert.equal(missing.status, 404)
    assert.match((missing.body as { error: string }).error, /no pod named "nope"/)
  })

  it('addresses a check as /v1/checks/<node>/<pod>/<check>, or as one encoded id', async () => {
    const a = await getJson(`${fleet.url}/v1/checks/n2/api/port`)
    assert.equal(a.status, 200)
    assert.equal((a.body as CheckState).id, 'n2/api/port')
    const b = await getJson(`${fleet.url}/v1/checks/${encodeURIComponent('n2/api/port')}`)
    assert.deepEqual((b.body as CheckState).id, 'n2/api/port')
    const missing = await getJson(`${fleet.url}/v1/checks/n2/api/nope/history`)
    assert.equal(missing.status, 404)
    assert.match((missing.body as { error: string }).error, /no check "n2\/api\/nope"/)
  })

  it('records a failure as a transition and in the history of the check', async () => {
    fleet.target.set('/web/_status', 503, 'database unreachable')
    await fleet.waitForState(WEB, 'critical')
    // The store is written off the checking path, a moment after the change.
    const last = await waitFor('the transition in the store', async () => {
      const res = await getJson(`${fleet.url}/v1/checks/n1/web/health_check/transitions`)
      return (res.body as { transitions: Transition[] }).transitions.find((t) => t.to === 'critical')
    })
    assert.equal(last.from, 'passing')
    assert.match(last.output, /503/)
    const all = (await getJson(`${fleet.url}/v1/transitions?pod=web`)).body as { transitions: Transition[] }
    assert.ok(all.transitions.some((t) => t.id === WEB && t.to === 'critical'))
    const history = await getJson(`${fleet.url}/v1/checks/n1/web/health_check/history`)
    assert.equal(history.status, 200)
    assert.ok(Array.isArray((history.body as { history: unknown[] }).history))
    fleet.target.set('/web/_status', 200, 'web ok')
    await fleet.waitForState(WEB, 'passing')
  })

  it('rejects a bad limit or since with 400', async () => {
    assert.equal((await getJson(`${fleet.url}/v1/transitions?limit=0`)).status, 400)
    const since = await getJson(`${fleet.url}/v1/transitions?since=yesterday`)
    assert.equal(since.status, 400)
    assert.match((since.body as { error: string }).error, /ISO 8601/)
    // Times Date.parse reads but the stores cannot compare (a year past 9999 sorted before
    // every stored time and answered all transitions), or that mean something unexpected.
    for (const raw of ['+275760-09-13T00:00:00.000Z', '+200000-01-01T00:00:00Z', '0', 'Dec 25 2030']) {
      for (const path of ['/v1/transitions', `/v1/checks/${WEB}/transitions`, `/v1/checks/${WEB}/history`]) {
        const res = await getJson(`${fleet.url}${path}?since=${encodeURIComponent(raw)}`)
        assert.equal(res.status, 400, `${path}?since=${raw}`)
      }
    }
    // Days and hours the calendar has not, which Date.parse rolls over (February 30 is March 2).
    for (const [raw, why] of [
      ['2026-02-30', '2026-02 has no day 30 (it has 28)'],
      ['2028-02-30T00:00Z', '2028-02 has no day 30 (it has 29)'],
      ['2026-04-31T12:00:00Z', '2026-04 has no day 31 (it has 30)'],
      ['2026-13-01', 'month 13 is not one of 01–12'],
      ['2026-01-01T23:60Z', '23:60 is not a time of day (00:00 to 23:59:59)'],
    ]) {
      const res = await getJson(`${fleet.url}/v1/transitions?since=${encodeURIComponent(raw as string)}`)
      assert.equal(res.status, 400, raw)
      assert.equal((res.body as { error: string }).error, `since "${raw}" is not a time: ${why}`)
    }
    for (const raw of ['2030-01-01', '2030-01-01T00:00Z', '2030-01-01T01:00:00.123+01:00', '2028-02-29T23:59:59Z']) {
      const res = await getJson(`${fleet.url}/v1/transitions?since=${encodeURIComponent(raw)}`)
      assert.equal(res.status, 200, raw)
      assert.deepEqual(res.body, { transitions: [] }, raw)
    }
  })
})

describe('the long-poll watch', () => {
  it('holds ?index=N until a check changes, then answers with a higher index', async () => {
    const first = await getJson(`${fleet.url}/v1/checks`)
    const index = Number(first.headers.get('x-probekit-index'))
    const started = Date.now()
    const watching = getJson(`${fleet.url}/v1/checks?index=${index}&wait=30s`)
    setTimeout(() => fleet.target.set('/web/_status', 500, 'boom'), 300)
    const res = await watching
    assert.ok(Date.now() - started >= 250, 'the watch answered before anything changed')
    assert.ok(Number(res.headers.get('x-probekit-index')) > index)
    const web = (res.body as CheckState[]).find((s) => s.id === WEB) as CheckState
    assert.equal(web.state, 'critical')
    fleet.target.set('/web/_status', 200, 'web ok')
    await fleet.waitForState(WEB, 'passing')
  })

  it('answers when the wait runs out, with the same index', async () => {
    const index = Number((await getJson(`${fleet.url}/v1/checks?state=unknown`)).headers.get('x-probekit-index'))
    const started = Date.now()
    const res = await getJson(`${fleet.url}/v1/checks?index=${index}&wait=300ms&pod=jobs`)
    const waited = Date.now() - started
    assert.equal(res.status, 200)
    assert.ok(waited >= 280, `answered after ${waited} ms, before the wait`)
    assert.equal(Number(res.headers.get('x-probekit-index')), index)
  })

  it('answers at once when the index is ahead of the monitor (it restarted)', async () => {
    const res = await getJson(`${fleet.url}/v1/checks?index=999999999&wait=30s`)
    assert.equal(res.status, 200)
  })

  it('rejects a bad index or wait with 400', async () => {
    assert.equal((await getJson(`${fleet.url}/v1/checks?index=abc`)).status, 400)
    const wait = await getJson(`${fleet.url}/v1/checks?index=1&wait=soon`)
    assert.equal(wait.status, 400)
    assert.match((wait.body as { error: string }).error, /wait "soon" is not a duration/)
  })
})

describe('GET /v1/inspect', () => {
  it("answers in p2-inspect's shape, filtered by pod and node", async () => {
    const res = await getJson(`${fleet.url}/v1/inspect?pod=api`)
    const doc = res.body as Record<string, Record<string, Record<string, { status: string; output: string }>>>
    assert.deepEqual(Object.keys(doc), ['api'])
    assert.deepEqual(Object.keys(doc.api ?? {}), ['n2'])
    assert.equal(doc.api?.n2?.health_check?.status, 'passing')
    assert.match(doc.api?.n2?.health_check?.output ?? '', /api ok/)
    assert.equal(doc.api?.n2?.port?.status, 'passing')
  })
})

describe('POST /v1/push', () => {
  it('a success ping turns the push check passing; /fail with a body turns it critical and keeps the body', async () => {
    const ok = await getJson(`${fleet.url}/v1/push/backup`, { method: 'POST' })
    assert.equal(ok.status, 200)
    await fleet.waitForState('n1/jobs/backup', 'passing')
    const fail = await getJson(`${fleet.url}/v1/push/jobs/backup/fail`, {
      method: 'POST',
      body: 'disk full on /backup',
    })
    assert.equal(fail.status, 200)
    const state = await fleet.waitForState('n1/jobs/backup', 'critical')
    assert.match(state.output, /disk full on \/backup/)
    await getJson(`${fleet.url}/v1/push/backup/0`, { method: 'POST' })
    await fleet.waitForState('n1/jobs/backup', 'passing')
  })

  it('keeps only the tail of a large body', async () => {
    const body = `${'x'.repeat(50_000)}THE END`
    const res = await getJson(`${fleet.url}/v1/push/backup/1`, { method: 'POST', body })
    assert.equal(res.status, 200)
    const state = await fleet.waitForState('n1/jobs/backup', 'critical')
    assert.match(state.output, /THE END/)
    assert.ok(state.output.length <= 10 * 1024 + 100)
    await getJson(`${fleet.url}/v1/push/backup`, { method: 'POST' })
    await fleet.waitForState('n1/jobs/backup', 'passing')
  })

  it('answers 404 for a check that is not a push check', async () => {
    const unknown = await getJson(`${fleet.url}/v1/push/nightly`, { method: 'POST' })
    assert.equal(unknown.status, 404)
    assert.match((unknown.body as { error: string }).error, /no push check named "nightly"/)
  })

  it('names the report it took: an exit status is success (0) or fail, kept as exitStatus', async () => {
    const three = await getJson(`${fleet.url}/v1/push/backup/3`, { method: 'POST' })
    assert.equal(three.status, 200)
    assert.deepEqual(three.body, { ok: true, check: 'backup', kind: 'fail', exitStatus: 3 })
    assert.match((await fleet.waitForState('n1/jobs/backup', 'critical')).output, /^push exit status 3/)
    const zero = await getJson(`${fleet.url}/v1/push/jobs/backup/0`, { method: 'POST' })
    assert.deepEqual(zero.body, { ok: true, check: 'jobs/backup', kind: 'success', exitStatus: 0 })
    await fleet.waitForState('n1/jobs/backup', 'passing')
  })

  it('answers 400 in one sentence for a report that is not start, fail or an exit status 0–255, and changes nothing', async () => {
    const before = (await fleet.waitForState('n1/jobs/backup', 'passing')).since
    const cases: [string, RegExp][] = [
      ['backup/300', /^exit status 300 is out of range 0–255; a job reports \/start, \/fail or an exit status/],
      ['backup/-1', /^exit status -1 is out of range 0–255;/],
      ['jobs/backup/256', /^exit status 256 is out of range 0–255;/],
      [
        'backup/finished',
        /^"finished" is not a push report for backup; use \/start, \/fail or an exit status from 0 to 255/,
      ],
      ['jobs/backup/ok', /^"ok" is not a push report for jobs\/backup;/],
    ]
    for (const [path, message] of cases) {
      const res = await getJson(`${fleet.url}/v1/push/${path}`, { method: 'POST' })
      assert.equal(res.status, 400, path)
      assert.match((res.body as { error: string }).error, message, path)
    }
    const after = fleet.monitor.states().find((s) => s.id === 'n1/jobs/backup')
    assert.equal(after?.state, 'passing')
    assert.equal(after?.since, before)
  })
})

describe('the listener itself', () => {
  it('serves its own /livez and /readyz through the probekit library', async () => {
    const live = await fetch(`${fleet.url}/livez`)
    assert.equal(live.status, 200)
    assert.equal(await live.text(), 'ok')
    const ready = await fetch(`${fleet.url}/readyz?verbose`)
    assert.equal(ready.status, 200)
    assert.match(await ready.text(), /\[\+\]store ok/)
  })

  it('answers a wrong method with 405 and Allow, an unknown path with a JSON 404', async () => {
    const post = await getJson(`${fleet.url}/v1/checks`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.get('allow'), 'GET, HEAD')
    const missing = await getJson(`${fleet.url}/v2/things`)
    assert.equal(missing.status, 404)
    assert.match((missing.body as { error: string }).error, /no route for GET \/v2\/things/)
    // Allow names every method the path is served with; a path no route knows is 404 for any method.
    const put = await getJson(`${fleet.url}/v1/silences`, { method: 'PUT' })
    assert.equal(put.status, 405)
    assert.equal(put.headers.get('allow'), 'GET, HEAD, POST')
    const post404 = await getJson(`${fleet.url}/v1/nothing`, { method: 'POST' })
    assert.equal(post404.status, 404)
    assert.match((post404.body as { error: string }).error, /no route for POST \/v1\/nothing/)
    // A trailing slash is the same route; the path is decoded segment by segment.
    assert.equal((await getJson(`${fleet.url}/v1/checks/`)).status, 200)
    const bad = await getJson(`${fleet.url}/v1/pods/%zz`)
    assert.equal(bad.status, 400)
    assert.match((bad.body as { error: string }).error, /not valid percent-encoding/)
  })

  it('streams a snapshot and then each change as server-sent events', async () => {
    const events: { event: string; data: unknown }[] = []
    const req = request(`${fleet.url}/v1/events`)
    const done = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8')
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buffer += chunk
          let end = buffer.indexOf('\n\n')
          while (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event && data) events.push({ event, data: JSON.parse(data) })
            if (event === 'snapshot') fleet.target.set('/web/_status', 503, 'stream test')
            if (
              event === 'change' &&
              (JSON.parse(data as string) as { transition: Transition }).transition.id === WEB
            ) {
              resolve()
            }
            end = buffer.indexOf('\n\n')
          }
        })
        res.on('error', reject)
      })
      req.on('error', reject)
    })
    req.end()
    await done
    req.destroy()
    assert.equal(events[0]?.event, 'snapshot')
    const snapshot = events[0]?.data as { states: CheckState[]; index: number }
    assert.equal(snapshot.states.length, 4)
    const change = events.find((e) => e.event === 'change')?.data as { transition: Transition; state: CheckState }
    assert.equal(change.transition.to, 'critical')
    assert.equal(change.state.state, 'critical')
    fleet.target.set('/web/_status', 200, 'web ok')
    await fleet.waitForState(WEB, 'passing')
  })

  it('close() ends a long poll that is waiting, and stops listening', async () => {
    const { startApi } = await import('../../src/monitor/api.js')
    const second = await startApi(fleet.monitor, { host: '127.0.0.1', port: 0, logger: false })
    const watching = fetch(`${second.url}/v1/checks?index=${fleet.monitor.index}&wait=5m`).then(
      (r) => r.status,
      () => 'closed',
    )
    await new Promise((r) => setTimeout(r, 200))
    const started = Date.now()
    await second.close()
    const outcome = await watching
    assert.ok(Date.now() - started < 2000, 'close waited for the long poll to run out')
    assert.ok(outcome === 200 || outcome === 'closed')
    await assert.rejects(fetch(`${second.url}/v1/checks`))
  })
})

describe('bounded request bodies', () => {
  it('refuses a push body over 1 MB with 413 and one sentence, and keeps serving', async () => {
    const res = await getJson(`${fleet.url}/v1/push/backup`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) })
    assert.equal(res.status, 413)
    assert.match(
      (res.body as { error: string }).error,
      /^push body of 2097152 bytes is over 1048576 bytes; send the log's tail$/,
    )
    assert.equal((await getJson(`${fleet.url}/v1/checks`)).status, 200)
  })

  it("refuses a silence body over 16 KB with 413 naming the silence body, not a log's tail", async () => {
    // Only the headers are sent: the declared length is refused before any body is read.
    const declare = (path: string) =>
      new Promise<{ status: number; error: string }>((resolve, reject) => {
        const req = request(`${fleet.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': '20000000' },
        })
        req.on('response', (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (text += chunk))
          res.on('end', () => {
            req.destroy()
            resolve({ status: res.statusCode ?? 0, error: (JSON.parse(text) as { error: string }).error })
          })
        })
        req.on('error', reject)
        req.flushHeaders()
      })
    const add = await declare('/v1/silences')
    assert.equal(add.status, 413)
    assert.equal(
      add.error,
      'silence body of 20000000 bytes is over 16384 bytes; send a JSON object with pod, for or until, and a comment of at most 1000 characters',
    )
    const expire = await declare('/v1/silences/some-id/expire')
    assert.equal(expire.status, 413)
    assert.equal(expire.error, 'silence body of 20000000 bytes is over 16384 bytes; ending a silence needs no body')
    const chunked = await getJson(`${fleet.url}/v1/silences`, {
      method: 'POST',
      body: ReadableStream.from([new Uint8Array(20 * 1024)]),
      duplex: 'half',
    } as RequestInit).catch(() => undefined)
    // Answered 413 and closed; depending on timing the client sees the answer or the close.
    if (chunked) {
      assert.equal(chunked.status, 413)
      assert.match((chunked.body as { error: string }).error, /^silence body is over 16384 bytes; send a JSON object/)
    }
    assert.equal((await getJson(`${fleet.url}/v1/checks`)).status, 200)
  })

  it('refuses a chunked push body that grows over 1 MB', async () => {
    const chunks = async function* () {
      for (let i = 0; i < 40; i++) yield new Uint8Array(64 * 1024)
    }
    const outcome = await fetch(`${fleet.url}/v1/push/backup`, {
      method: 'POST',
      body: ReadableStream.from(chunks()),
      duplex: 'half',
    } as RequestInit).then(
      (r) => r.status,
      () => 'closed',
    )
    // The server answers 413 and closes; depending on timing the client sees the answer or the close.
    assert.ok(outcome === 413 || outcome === 'closed', `got ${outcome}`)
    assert.equal((await getJson(`${fleet.url}/v1/checks`)).status, 200)
  })
})
