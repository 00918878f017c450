import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { type Api, startApi } from '../../src/monitor/api.js'
import { Monitor } from '../../src/monitor/monitor.js'
import {
  MAX_SILENCE_MS,
  type MaintenanceWindow,
  SilenceError,
  Silences,
  windowEnd,
} from '../../src/monitor/silences.js'
import { openStore } from '../../src/monitor/store/index.js'
import type { CheckState, Silence } from '../../src/monitor/types.js'
import { startWebhooks, type WebhookNotification } from '../../src/monitor/webhooks.js'
import { buildCli } from '../cli/run-cli.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { PROBEKIT_BIN } from '../support/monitor-process.js'
import {
  canConnect,
  freePort,
  ManagedProcess,
  makeTempDir,
  refusedPort,
  requireBinary,
  sleep,
  waitFor,
} from '../support/server-process.js'
import { makeTestCertificates } from '../support/tls.js'

/** A pod `jobs` with one push check whose token is `token`: a secret the monitor learns from its manifest. */
function jobsManifest(token: string): string {
  return `id: jobs\nnode: n1\nchecks:\n  - name: backup\n    type: push\n    period: 1h\n    token: ${token}\n`
}

/** That manifest written to a new temporary directory; its path. */
function writeJobs(token: string): string {
  const file = join(makeTempDir('silence-secrets'), 'jobs.yaml')
  writeFileSync(file, jobsManifest(token))
  return file
}

const run = promisify(execFile)

/** `probekit silence …` as a person runs it (async: the API answering it runs in this process). */
async function silence(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [PROBEKIT_BIN, 'silence', ...args])
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('maintenance windows', () => {
  const at = (iso: string) => Date.parse(iso)
  const saturdayNight: MaintenanceWindow = { days: ['sat'], fromMinute: 120, toMinute: 240, tz: 'Europe/Berlin' }

  it('hold inside the window by the wall clock of their time zone, and end at its end', () => {
    // Saturday 2026-12-05 02:30 in Berlin is 01:30 UTC (CET, UTC+1).
    assert.equal(windowEnd(saturdayNight, at('2026-12-05T01:30:00Z')), at('2026-12-05T03:00:00Z'))
    assert.equal(windowEnd(saturdayNight, at('2026-12-05T00:59:00Z')), undefined) // 01:59 Berlin
    assert.equal(windowEnd(saturdayNight, at('2026-12-05T03:00:00Z')), undefined) // 04:00 Berlin: over
    assert.equal(windowEnd(saturdayNight, at('2026-12-06T01:30:00Z')), undefined) // a Sunday
    // In summer (CEST, UTC+2) the same local hours are an hour earlier in UTC.
    assert.equal(windowEnd(saturdayNight, at('2026-07-04T00:30:00Z')), at('2026-07-04T02:00:00Z'))
  })

  it('past midnight belong to the day they start on', () => {
    const overnight: MaintenanceWindow = { days: ['fri'], fromMinute: 22 * 60, toMinute: 2 * 60, tz: 'UTC' }
    assert.equal(windowEnd(overnight, at('2026-12-04T23:00:00Z')), at('2026-12-05T02:00:00Z')) // Friday 23:00
    assert.equal(windowEnd(overnight, at('2026-12-05T01:00:00Z')), at('2026-12-05T02:00:00Z')) // Saturday 01:00
    assert.equal(windowEnd(overnight, at('2026-12-06T01:00:00Z')), undefined) // Sunday 01:00
  })

  it('from a manifest mark the check silenced at the time the clock says, keeping its state', async () => {
    const dir = makeTempDir('maintenance')
    const file = join(dir, 'web.yaml')
    writeFileSync(
      file,
      'id: web\nnode: n1\nmaintenance: [{ days: [sat], from: "02:00", to: "04:00", tz: Europe/Berlin }]\nchecks:\n  - { name: up, type: push, period: 1h }\n',
    )
    let now = at('2026-12-05T01:30:00Z')
    const monitor = new Monitor({ store: openStore('memory'), logger: false, clock: () => now })
    await monitor.load([file])
    const state = monitor.state('n1/web/up') as CheckState
    assert.deepEqual(state.silenced, {
      id: 'maintenance',
      comment: 'maintenance window sat 02:00-04:00 Europe/Berlin',
      until: '2026-12-05T03:00:00.000Z',
    })
    assert.equal(state.state, 'unknown') // its own state, not hidden
    now = at('2026-12-05T03:00:00Z')
    assert.equal(monitor.state('n1/web/up')?.silenced, undefined)
    await monitor.stop()
  })
})

describe('silences in the store', () => {
  it('persist in SQLite across a restart, and an expiry persists too', async () => {
    const file = join(makeTempDir('silences'), 'monitor.sqlite')
    const first = openStore(`sqlite:${file}`)
    const added = await new Silences(first).add({
      pod: 'web',
      check: 'db',
      forMs: 3_600_000,
      comment: 'OPS-1',
      author: 'ana',
    })
    const other = await new Silences(first).add({ pod: 'api', forMs: 3_600_000, comment: 'OPS-2' })
    first.close()
    const second = openStore(`sqlite:${file}`)
    const again = new Silences(second)
    assert.deepEqual(
      again.list().find((s) => s.id === added.id),
      added,
    )
    assert.ok(again.match({ pod: 'web', node: 'n1', check: 'db' }))
    assert.equal(again.match({ pod: 'web', node: 'n1', check: 'cache' }), undefined)
    await again.expire(other.id)
    second.close()
    const third = openStore(`sqlite:${file}`)
    assert.equal(new Silences(third).match({ pod: 'api', node: 'n1', check: 'x' }), undefined)
    third.close()
  })
})

describe('how long a silence may last', () => {
  const NOW = Date.parse('2026-12-05T12:00:00Z')
  const DAY = 86_400_000
  const silences = () => new Silences(openStore('memory'), () => NOW)

  it('is at most a year, by `for` or by `until`; a longer one is refused in a sentence naming the maximum', async () => {
    const tooLong =
      /longer than a silence may last, 365d \(a year\)|further away than a silence may last, 365d \(a year\)/
    // 1e300 s and 100000000000d are past what a Date can hold: no silence, no RangeError.
    for (const forMs of [366 * DAY, 1e303, 100_000_000_000 * DAY, Number.POSITIVE_INFINITY])
      await assert.rejects(silences().add({ pod: 'web', forMs, comment: 'x' }), (error: Error) => {
        assert.ok(error instanceof SilenceError, `${forMs}: ${error}`)
        assert.match(error.message, tooLong)
        return true
      })
    for (const until of ['+275760-09-13T00:00:00.000Z', '2027-12-06T12:00:00.001Z'])
      await assert.rejects(silences().add({ pod: 'web', until, comment: 'x' }), (error: Error) => {
        assert.ok(error instanceof SilenceError, `${until}: ${error}`)
        assert.match(error.message, tooLong)
        return true
      })
    const year = await silences().add({ pod: 'web', forMs: MAX_SILENCE_MS, comment: 'x' })
    assert.equal(year.endsAt, '2027-12-05T12:00:00.000Z')
    const byUntil = await silences().add({ pod: 'web', until: '2027-12-05T12:00:00Z', comment: 'x' })
    assert.equal(byUntil.endsAt, '2027-12-05T12:00:00.000Z')
  })

  it('is compared as a time, not as text: a year past 9999 sorts last-ending first and is the one that marks', async () => {
    // Silences a store may hold from before the maximum, or from another tool: a year past
    // 9999 is written "+010000-…", which as text sorts before "2027-…".
    const store = openStore('memory')
    const silence = (id: string, endsAt: string) => ({
      id,
      pod: 'web',
      startsAt: '2026-12-01T00:00:00.000Z',
      endsAt,
      comment: id,
      author: '',
      createdAt: '2026-12-01T00:00:00.000Z',
    })
    store.saveSilence?.(silence('far', '+010000-01-01T00:00:00.000Z'))
    store.saveSilence?.(silence('near', '2027-01-01T00:00:00.000Z'))
    store.saveSilence?.(silence('nearer', '2026-12-24T00:00:00.000Z'))
    const all = new Silences(store, () => NOW)
    assert.deepEqual(
      all.list().map((s) => s.id),
      ['far', 'near', 'nearer'],
    )
    assert.deepEqual(all.match({ pod: 'web', node: 'n1', check: 'db' }), {
      id: 'far',
      comment: 'far',
      author: '',
      until: '+010000-01-01T00:00:00.000Z',
    })
  })
})

describe('how many silences a monitor keeps', () => {
  const NOW = Date.parse('2026-12-05T12:00:00Z')

  it('bounds the silences in force, not the ended ones kept for the list: ending one makes room at once', async () => {
    let now = NOW
    const store = openStore('memory')
    const silences = new Silences(store, () => now)
    // 10,000 in force (the bound), added straight to the store as a flood would leave them.
    for (let i = 0; i < 10_000; i++) {
      store.saveSilence?.({
        id: `s${i}`,
        pod: `p${i}`,
        startsAt: new Date(NOW).toISOString(),
        endsAt: new Date(NOW + 300 * 86_400_000).toISOString(),
        comment: 'flood',
        author: '',
        createdAt: new Date(NOW).toISOString(),
      })
    }
    const full = new Silences(store, () => now)
    await assert.rejects(full.add({ pod: 'shop', forMs: 60_000, comment: 'urgent' }), (error: Error) => {
      assert.ok(error instanceof SilenceError)
      assert.equal(
        error.message,
        '10000 silences are in force, the most a monitor keeps; end some first (probekit silence list, then probekit silence expire ID)',
      )
      return true
    })
    now += 1000
    await full.expire('s0')
    const urgent = await full.add({ pod: 'shop', forMs: 60_000, comment: 'urgent' })
    assert.ok(full.match({ pod: 'shop', node: 'n1', check: 'web' }))
    // The ended one made way (the store forgot it too); the 9,999 in force are all kept.
    const listed = full.list()
    assert.equal(listed.length, 10_000)
    assert.ok(listed.some((s) => s.id === urgent.id))
    assert.ok(!listed.some((s) => s.id === 's0'))
    assert.equal(store.loadSilences?.().length, 10_000)
    assert.equal(silences.list().length, 0, 'a Silences made before the flood does not follow a memory store')
  })

  it('marks a check only by the silences of its pod, node and check, whatever other pods have', async () => {
    const silences = new Silences(openStore('memory'), () => NOW)
    for (let i = 0; i < 50; i++) await silences.add({ pod: `other-${i}`, forMs: 60_000, comment: 'x' })
    const node = await silences.add({ pod: 'web', node: 'n2', forMs: 60_000, comment: 'n2 only' })
    const longer = await silences.add({ pod: 'web', check: 'db', forMs: 120_000, comment: 'db' })
    assert.equal(silences.match({ pod: 'web', node: 'n1', check: 'cache' }), undefined)
    assert.equal(silences.match({ pod: 'web', node: 'n2', check: 'cache' })?.id, node.id)
    assert.equal(silences.match({ pod: 'web', node: 'n2', check: 'db' })?.id, longer.id, 'the longest wins')
    await silences.expire(longer.id)
    assert.equal(silences.match({ pod: 'web', node: 'n2', check: 'db' })?.id, node.id)
  })

  it("masks the manifests' secrets and credentials in a comment and an author, as every other output", async () => {
    const file = writeJobs('PUSHTOKEN777888999AAA1')
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      const added = await monitor.silences.add({
        pod: 'jobs',
        forMs: 60_000,
        comment: 'rotating PUSHTOKEN777888999AAA1, see https://ops:hunter2hunter2@wiki.example/r',
        author: 'ana PUSHTOKEN777888999AAA1',
      })
      for (const shown of [added, ...monitor.silences.list()]) {
        const text = JSON.stringify(shown)
        assert.ok(!text.includes('PUSHTOKEN777888999AAA1') && !text.includes('hunter2hunter2'), text)
      }
      assert.equal(added.comment, 'rotating ***, see https://ops:***@wiki.example/r')
      assert.equal(monitor.silenced('n1/jobs/backup')?.comment, added.comment)
    } finally {
      await monitor.stop()
    }
  })

  it('masks a secret a reload adds in the comments of silences added before it', async () => {
    const file = writeJobs('OLDTOKEN1111222233334444')
    const storeFile = join(makeTempDir('silence-store'), 'monitor.sqlite')
    const store = openStore(`sqlite:${storeFile}`)
    const monitor = new Monitor({ store, logger: false })
    try {
      await monitor.load([file])
      // Typed before the manifest configured it: no one could know it was a secret.
      const added = await monitor.silences.add({
        pod: 'jobs',
        forMs: 60_000,
        comment: 'moving to NEWTOKEN5555666677778888 tonight',
        author: 'ops NEWTOKEN5555666677778888',
      })
      assert.match(added.comment, /NEWTOKEN/)
      writeFileSync(file, jobsManifest('NEWTOKEN5555666677778888'))
      await monitor.reload()
      const [listed] = monitor.silences.list()
      assert.equal(listed?.comment, 'moving to *** tonight')
      assert.equal(listed?.author, 'ops ***')
      assert.equal(monitor.silenced('n1/jobs/backup')?.comment, 'moving to *** tonight')
      await monitor.stop()
      // Masked in the store as well: what `probekit inspect --store` reads, and what a monitor
      // started after the secret left the manifests reads.
      assert.deepEqual(
        store.loadSilences?.().map((x) => [x.comment, x.author]),
        [['moving to *** tonight', 'ops ***']],
      )
      store.close()
      writeFileSync(file, jobsManifest('THIRDTOKEN999988887777'))
      const again = openStore(`sqlite:${storeFile}`)
      const restarted = new Monitor({ store: again, logger: false })
      try {
        await restarted.load([file])
        assert.equal(restarted.silences.list()[0]?.comment, 'moving to *** tonight')
        assert.equal((await restarted.silences.expire(added.id))?.comment, 'moving to *** tonight')
      } finally {
        await restarted.stop()
        again.close()
      }
    } finally {
      await monitor.stop()
    }
  })
})

describe('masking silences in a store that hangs', () => {
  it('stops within the shutdown timeout while a store write of the masking hangs, and asks the store once', async () => {
    const file = writeJobs('FIRSTTOKEN000011112222')
    const store = openStore('memory')
    const save = store.saveSilence?.bind(store)
    let hang = false
    let hungWrites = 0
    store.saveSilence = (silence: Silence) => {
      if (!hang) return save?.(silence)
      hungWrites++
      return new Promise<void>(() => {})
    }
    const monitor = new Monitor({ store, logger: false, shutdownTimeoutMs: 300 })
    await monitor.load([file])
    for (const n of [1, 2, 3]) {
      await monitor.silences.add({ pod: 'jobs', forMs: 60_000, comment: `rotating to LATERTOKEN333344445555 (${n})` })
    }
    hang = true
    writeFileSync(file, jobsManifest('LATERTOKEN333344445555'))
    await monitor.reload()
    const started = performance.now()
    await monitor.stop()
    const took = performance.now() - started
    assert.ok(took < 2000, `stop() took ${Math.round(took)} ms`)
    assert.equal(hungWrites, 1, 'a store that does not answer is not asked again for each silence')
    assert.ok(monitor.silences.list().every((x) => x.comment.startsWith('rotating to ***')))
  })
})

describe('silences through the API and probekit silence', () => {
  const ID = 'n1/jobs/nightly'
  const TOKEN = randomBytes(16).toString('hex')
  let fleet: Fleet
  let guarded: Api
  let receiver: Server
  let hookUrl = ''
  const received: WebhookNotification[] = []

  before(async () => {
    buildCli()
    fleet = await startFleet({
      store: 'memory',
      manifests: () => ({
        'jobs.yaml': 'id: jobs\nnode: n1\nchecks:\n  - { name: nightly, type: push, period: 1h }\n',
      }),
    })
    fleet.monitor.push('nightly', 'success')
    await fleet.waitForState(ID, 'passing')
    guarded = await startApi(fleet.monitor, { host: '127.0.0.1', port: 0, logger: false, auth: { tokens: [TOKEN] } })
    receiver = createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c))
      req.on('end', () => {
        received.push(JSON.parse(text) as WebhookNotification)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
  })

  after(async () => {
    await guarded?.close()
    await fleet?.close()
    receiver?.closeAllConnections()
    await new Promise((resolve) => receiver?.close(resolve))
  })

  it('adding a silence that matches no check (a typo in the pod) says so, and the API counts what it matches', async () => {
    const typo = await silence(['add', '--api', fleet.url, '--pod', 'jbos', '--for', '10m', '--comment', 'typo'])
    assert.equal(typo.code, 0, typo.stderr)
    assert.match(
      typo.stdout,
      /^silenced \S+ .*\nnote: it matches no check the monitor watches now \(check --pod\); it applies to one that appears later\n$/,
    )
    const api = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'jobs', for: '10m', comment: 'the right one' }),
    })
    assert.equal(api.status, 201)
    const answer = (await api.json()) as { silence: Silence; matching: number }
    assert.ok(answer.matching >= 1, `matches ${answer.matching}`)
    for (const id of [/^silenced (\S+)/.exec(typo.stdout)?.[1], answer.silence.id])
      await fetch(`${fleet.url}/v1/silences/${id}`, { method: 'DELETE' })
  })

  it('add, list and expire: the check is marked silenced in the API, its state untouched', async () => {
    const added = await silence([
      'add',
      '--api',
      fleet.url,
      '--pod',
      'jobs',
      '--for',
      '2h',
      '--comment',
      'OPS-7 migration',
      '--author',
      'ana',
      '--json',
    ])
    assert.equal(added.code, 0, added.stderr)
    const created = JSON.parse(added.stdout) as Silence
    assert.equal(created.pod, 'jobs')
    assert.equal(created.author, 'ana')
    const check = (await (await fetch(`${fleet.url}/v1/checks/n1/jobs/nightly`)).json()) as CheckState
    assert.equal(check.state, 'passing')
    assert.deepEqual(check.silenced, {
      id: created.id,
      comment: 'OPS-7 migration',
      author: 'ana',
      until: created.endsAt,
    })
    const listed = await silence(['list', '--api', fleet.url])
    assert.match(
      listed.stdout,
      new RegExp(`^${created.id}  jobs  until ${created.endsAt}  by ana  "OPS-7 migration"$`, 'm'),
    )
    const inspect = await run(process.execPath, [PROBEKIT_BIN, 'inspect', '--api', fleet.url, '--format', 'tree'])
    assert.match(
      inspect.stdout,
      new RegExp(`nightly .*\\n {8}silenced until ${created.endsAt} by ana: OPS-7 migration\\n`),
    )
    const expired = await silence(['expire', '--api', fleet.url, created.id])
    assert.equal(expired.code, 0, expired.stderr)
    assert.match(expired.stdout, /^expired .* jobs {2}ended /)
    const after = (await (await fetch(`${fleet.url}/v1/checks/n1/jobs/nightly`)).json()) as CheckState
    assert.equal(after.silenced, undefined)
  })

  it('wakes long polls and the event stream when a silence is added or ended', async () => {
    const first = await fetch(`${fleet.url}/v1/checks`)
    const index = Number(first.headers.get('x-probekit-index'))
    await first.arrayBuffer()
    const watching = fetch(`${fleet.url}/v1/checks?index=${index}&wait=30s`)
    const events = new AbortController()
    const giveUp = setTimeout(() => events.abort(), 15_000)
    const stream = await fetch(`${fleet.url}/v1/events`, { signal: events.signal })
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    // Reads the stream until `pattern` matches what arrived since the last call (or the stream ends).
    const next = async (pattern: RegExp): Promise<string> => {
      for (;;) {
        const found = pattern.exec(text)
        if (found) {
          text = text.slice(found.index + found[0].length)
          return found[0]
        }
        const chunk = await reader.read().catch(() => ({ done: true, value: undefined }))
        if (chunk.done) assert.fail(`the event stream ended before ${pattern}; it said: ${text.slice(-500)}`)
        text += decoder.decode(chunk.value, { stream: true })
      }
    }
    try {
      await next(/event: snapshot\ndata: .*\n\n/)
      const added = await silence([
        'add',
        '--api',
        fleet.url,
        '--pod',
        'jobs',
        '--for',
        '1h',
        '--comment',
        'live',
        '--json',
      ])
      assert.equal(added.code, 0, added.stderr)
      const created = JSON.parse(added.stdout) as Silence
      // The long poll answers at once (no check changed): with a higher index and the mark.
      const woke = await watching
      assert.ok(Number(woke.headers.get('x-probekit-index')) > index)
      const states = (await woke.json()) as CheckState[]
      assert.equal(states.find((st) => st.id === ID)?.silenced?.id, created.id)
      const marked = await next(/event: states\ndata: .*\n\n/)
      const update = JSON.parse(marked.slice(marked.indexOf('data: ') + 6)) as { states: CheckState[] }
      assert.deepEqual(
        update.states.map((st) => [st.id, st.state, st.silenced?.id]),
        [[ID, 'passing', created.id]],
      )
      const expired = await silence(['expire', '--api', fleet.url, created.id])
      assert.equal(expired.code, 0, expired.stderr)
      const unmarked = await next(/event: states\ndata: .*\n\n/)
      const after = JSON.parse(unmarked.slice(unmarked.indexOf('data: ') + 6)) as { states: CheckState[] }
      assert.deepEqual(
        after.states.map((st) => [st.id, st.state, st.silenced]),
        [[ID, 'passing', undefined]],
      )
    } finally {
      clearTimeout(giveUp)
      events.abort()
    }
  })

  it('writes need the token; reads with it work; a bad request is one sentence', async () => {
    const tokenFile = join(makeTempDir('silence-token'), 'token')
    writeFileSync(tokenFile, `${TOKEN}\n`)
    const refused = await silence(['add', '--api', guarded.url, '--pod', 'jobs', '--for', '1h', '--comment', 'x'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr + refused.stdout, /needs a token; pass --token-file FILE/)
    const direct = await fetch(`${guarded.url}/v1/silences`, { method: 'POST', body: '{}' })
    assert.equal(direct.status, 401)
    const ok = await silence([
      'add',
      '--api',
      guarded.url,
      '--token-file',
      tokenFile,
      '--pod',
      'jobs',
      '--check',
      'nightly',
      '--for',
      '1h',
      '--comment',
      'x',
    ])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.trim().split('\n').length, 1, 'a silence that matches says nothing more')
    const id = /^silenced (\S+)/.exec(ok.stdout)?.[1] as string
    const del = await fetch(`${guarded.url}/v1/silences/${id}`, { method: 'DELETE' })
    assert.equal(del.status, 401)
    const bad = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      body: JSON.stringify({ pod: 'jobs', for: '1h' }),
    })
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as { error: string }).error, /needs a `comment`/)
    const gone = await fetch(`${fleet.url}/v1/silences/no-such-id`, { method: 'DELETE' })
    assert.equal(gone.status, 404)
    // An id of the caller's is quoted short, not echoed whole.
    const long = await fetch(`${fleet.url}/v1/silences/${'x'.repeat(5000)}`, { method: 'DELETE' })
    assert.equal(long.status, 404)
    assert.deepEqual(await long.json(), { error: `no silence "${'x'.repeat(64)}…"; GET /v1/silences lists them` })
    const usage = await silence(['add', '--api', fleet.url, '--pod', 'jobs', '--comment', 'x'])
    assert.equal(usage.code, 1)
    assert.match(usage.stdout + usage.stderr, /needs one of --for DURATION/)
    await fetch(`${guarded.url}/v1/silences/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })
  })

  it('behind a TLS proxy with a private CA (nginx): --ca-file trusts it, and without it the error says to pass it', async () => {
    const nginx = requireBinary('nginx', ['/usr/sbin/nginx'])
    const certs = makeTestCertificates()
    const dir = makeTempDir('silence-tls-proxy')
    writeFileSync(join(dir, 'server.crt'), certs.cert)
    writeFileSync(join(dir, 'server.key'), certs.key)
    writeFileSync(join(dir, 'untrusted-ca.pem'), certs.untrustedCert)
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`)
    const port = await freePort()
    const user = process.getuid?.() === 0 ? 'user root;\n' : ''
    writeFileSync(
      join(dir, 'nginx.conf'),
      `${user}worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/client_body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n  server {\n    listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${dir}/server.crt;\n    ssl_certificate_key ${dir}/server.key;\n    location / { proxy_pass ${guarded.url}; proxy_set_header Host $http_host; }\n  }\n}\n`,
    )
    const proxy = new ManagedProcess('nginx', nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
      ready: () => canConnect(port),
    })
    await proxy.start()
    try {
      const api = `https://127.0.0.1:${port}`
      const auth = ['--api', api, '--token-file', join(dir, 'token')]
      const untrusted = await silence(['list', ...auth])
      assert.equal(untrusted.code, 1)
      assert.match(
        untrusted.stdout + untrusted.stderr,
        /cannot reach the monitor API at https:\/\/127\.0\.0\.1:\d+: its certificate is not trusted: .+; if a private CA signed it, pass that CA with --ca-file FILE\n/,
      )
      const added = await silence([
        'add',
        ...auth,
        '--ca-file',
        certs.caFile,
        '--pod',
        'jobs',
        '--for',
        '1h',
        '--comment',
        'via TLS',
      ])
      assert.equal(added.code, 0, added.stdout + added.stderr)
      const id = /^silenced (\S+)/.exec(added.stdout)?.[1] as string
      const listed = await silence(['list', ...auth, '--ca-file', certs.caFile])
      assert.match(listed.stdout, new RegExp(`^${id} {2}jobs .*"via TLS"$`, 'm'))
      const inspect = await run(process.execPath, [
        PROBEKIT_BIN,
        'inspect',
        ...auth,
        '--ca-file',
        certs.caFile,
        '--format',
        'tree',
      ])
      assert.match(inspect.stdout, /nightly .*\n {8}silenced until .*: via TLS\n/)
      // Another CA than the one that signed the proxy's certificate: said so.
      const wrongCa = await silence(['list', ...auth, '--ca-file', join(dir, 'untrusted-ca.pem')])
      assert.equal(wrongCa.code, 1)
      assert.match(
        wrongCa.stdout + wrongCa.stderr,
        /its certificate is not trusted: .+ \(not signed by the CA in --ca-file\)\n/,
      )
      const expired = await silence(['expire', ...auth, '--ca-file', certs.caFile, id])
      assert.equal(expired.code, 0, expired.stdout + expired.stderr)
    } finally {
      await proxy.stop()
    }
  })

  it('--ca-file: a file that is no PEM CA, or an API that is not https://, is a usage error before anything connects', async () => {
    const dir = makeTempDir('silence-ca-file')
    writeFileSync(join(dir, 'notes.txt'), 'not a certificate\n')
    const cases: [string[], RegExp][] = [
      [
        ['silence', 'list', '--ca-file', join(dir, 'missing.pem')],
        /--ca-file \S+missing\.pem does not exist; give the path of a PEM CA certificate/,
      ],
      [['silence', 'list', '--ca-file', join(dir, 'notes.txt')], /--ca-file \S+notes\.txt holds no PEM certificate/],
      [
        ['silence', 'list', '--ca-file', join(dir, 'notes.txt'), '--api', fleet.url],
        /--ca-file \S+notes\.txt holds no PEM certificate/,
      ],
      [
        ['inspect', '--ca-file', join(dir, 'notes.txt')],
        /--ca-file is the CA for an https:\/\/ --api; add --api URL \(for an etcd store, the CA is --etcd-ca FILE\)/,
      ],
    ]
    for (const [args, expected] of cases) {
      const r = await run(process.execPath, [PROBEKIT_BIN, ...args]).then(
        () => ({ code: 0, out: '' }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      )
      assert.equal(r.code, 1, args.join(' '))
      assert.match(r.out, expected)
    }
    const certs = makeTestCertificates()
    const plain = await silence(['list', '--api', fleet.url, '--ca-file', certs.caFile])
    assert.equal(plain.code, 1)
    assert.match(
      plain.stdout + plain.stderr,
      /--ca-file is the CA for an https:\/\/ --api; "http:\/\/127\.0\.0\.1:\d+" is plain HTTP \(drop --ca-file, or write https:\/\/\)/,
    )
  })

  it('a `for` or `until` longer than a year is a 400 naming the maximum, however far past what a Date holds', async () => {
    for (const body of [
      { pod: 'jobs', for: 1e300, comment: 'x' },
      { pod: 'jobs', for: '100000000000d', comment: 'x' },
      { pod: 'jobs', for: '366d', comment: 'x' },
      { pod: 'jobs', until: '+275760-09-13T00:00:00.000Z', comment: 'x' },
    ]) {
      const res = await fetch(`${fleet.url}/v1/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      const answer = (await res.json()) as { error: string }
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(answer)}`)
      assert.match(answer.error, /than a silence may last, 365d \(a year\); add another when it ends$/)
    }
    const { silences } = (await (await fetch(`${fleet.url}/v1/silences`)).json()) as { silences: Silence[] }
    assert.ok(
      silences.every((s) => Date.parse(s.endsAt) <= Date.now() + MAX_SILENCE_MS),
      'a refused silence was added',
    )
  })

  it('a field a silence does not have is a 400 naming the one meant, not ignored: a typo would widen it, `startsAt` would start it now', async () => {
    const before = ((await (await fetch(`${fleet.url}/v1/silences`)).json()) as { silences: Silence[] }).silences
    for (const [body, error] of [
      [
        { pod: 'jobs', chek: 'nightly', for: '1h', comment: 'x' },
        'unknown field "chek" in a silence; it takes pod, node, check, for, until, comment, author; did you mean "check"?',
      ],
      [
        { pod: 'jobs', startsAt: '2030-01-01T00:00:00Z', for: '1h', comment: 'x' },
        'unknown field "startsAt" in a silence; it takes pod, node, check, for, until, comment, author',
      ],
    ] as const) {
      const res = await fetch(`${fleet.url}/v1/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.equal(((await res.json()) as { error: string }).error, error)
    }
    const after = ((await (await fetch(`${fleet.url}/v1/silences`)).json()) as { silences: Silence[] }).silences
    assert.equal(after.length, before.length, 'a refused silence was added')
  })

  it('an `until` without a time zone is refused (API and probekit silence), not read in the monitor’s zone', async () => {
    const local = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19)
    for (const until of [local, local.slice(0, 16), local.slice(0, 10)]) {
      const res = await fetch(`${fleet.url}/v1/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pod: 'jobs', until, comment: 'x' }),
      })
      assert.equal(res.status, 400, until)
      assert.match(
        ((await res.json()) as { error: string }).error,
        /names no time zone, so it would be read in the monitor's; add one, e\.g\. /,
      )
    }
    const cli = await silence(['add', '--api', fleet.url, '--pod', 'jobs', '--until', local, '--comment', 'x'])
    assert.equal(cli.code, 1)
    assert.match(cli.stdout + cli.stderr, /names no time zone/)
    for (const until of [`${local}Z`, `${local}.000+01:00`, `${local.slice(0, 16)}-0500`]) {
      const res = await fetch(`${fleet.url}/v1/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pod: 'jobs', until, comment: 'zoned' }),
      })
      const answer = (await res.json()) as { silence: Silence }
      assert.equal(res.status, 201, `${until}: ${JSON.stringify(answer)}`)
      assert.equal(answer.silence.endsAt, new Date(until).toISOString())
      await fetch(`${fleet.url}/v1/silences/${answer.silence.id}`, { method: 'DELETE' })
    }
  })

  it('an `until` on a day the calendar has not is refused, not rolled over to the next month', async () => {
    const year = new Date().getUTCFullYear() + 1
    const res = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'jobs', until: `${year}-02-30T06:00:00Z`, comment: 'x' }),
    })
    assert.equal(res.status, 400)
    assert.match(
      ((await res.json()) as { error: string }).error,
      new RegExp(`^\`until\` "${year}-02-30T06:00:00Z" is not a time: ${year}-02 has no day 30 \\(it has 2[89]\\)$`),
    )
  })

  it('probekit silence add refuses --for longer than a year before it asks the monitor', async () => {
    // Nothing listens at --api: the sentence comes from the command itself.
    const api = `http://127.0.0.1:${await refusedPort()}`
    const refused = await silence(['add', '--api', api, '--pod', 'jobs', '--for', '400d', '--comment', 'x'])
    assert.equal(refused.code, 1)
    assert.match(
      refused.stdout + refused.stderr,
      /usage error: --for 400d is longer than a silence may last, 365d \(a year\); add another when it ends/,
    )
  })

  it('probekit silence with a mistyped action says which one was meant', async () => {
    const typo = await silence(['ad', '--pod', 'jobs'])
    assert.equal(typo.code, 1)
    assert.match(typo.stderr, /usage error: unknown action "ad"; did you mean "add"\?; use add, list or expire/)
  })

  it('lists a comment with bidirectional controls escaped, in lines and in --json', async () => {
    // U+202E would show this line's end reversed; the isolates and marks are as dangerous.
    const comment = 'OPS-9 \u202e6202 litnu\u202c \u2066x\u2069 \u200f\u200e\u061c\u009b'
    const res = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      body: JSON.stringify({ pod: 'jobs', check: 'nightly', for: '1h', comment, author: 'ana\u202e' }),
    })
    const text = await res.text()
    assert.equal(res.status, 201, text)
    const rawBidi = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u0080-\u009f]/
    assert.doesNotMatch(text, rawBidi, 'the API answered the controls raw')
    const { silence: added } = JSON.parse(text) as { silence: Silence }
    assert.equal(added.comment, comment, 'the API changed the comment')
    try {
      const lines = await silence(['list', '--api', fleet.url])
      assert.equal(lines.code, 0, lines.stderr)
      assert.doesNotMatch(lines.stdout, rawBidi)
      assert.match(
        lines.stdout,
        /by ana\\u202e {2}"OPS-9 \\u202e6202 litnu\\u202c \\u2066x\\u2069 \\u200f\\u200e\\u061c\\x9b"/,
      )
      const json = await silence(['list', '--api', fleet.url, '--json'])
      assert.equal(json.code, 0, json.stderr)
      assert.doesNotMatch(json.stdout, rawBidi)
      assert.equal((JSON.parse(json.stdout) as Silence[]).find((s) => s.id === added.id)?.comment, comment)
    } finally {
      await fetch(`${fleet.url}/v1/silences/${added.id}`, { method: 'DELETE' })
    }
  })

  it('a silenced check sends no webhook; when the silence ends and it still fails, one notification', async () => {
    const hooks = startWebhooks(fleet.monitor, {
      urls: [hookUrl],
      minIntervalMs: 0,
      logger: false,
      muted: (id) => fleet.monitor.silenced(id) !== undefined,
    })
    try {
      received.length = 0
      const { silence: s } = (await (
        await fetch(`${fleet.url}/v1/silences`, {
          method: 'POST',
          body: JSON.stringify({ pod: 'jobs', for: '1h', comment: 'maintenance' }),
        })
      ).json()) as { silence: Silence }
      fleet.monitor.push('nightly', 'fail', 'disk full')
      await fleet.waitForState(ID, 'critical')
      fleet.monitor.push('nightly', 'success')
      await fleet.waitForState(ID, 'passing')
      fleet.monitor.push('nightly', 'fail', 'disk full again')
      await fleet.waitForState(ID, 'critical')
      await sleep(1500) // past the release check
      assert.equal(received.length, 0, JSON.stringify(received))
      await fetch(`${fleet.url}/v1/silences/${s.id}/expire`, { method: 'POST' })
      await waitFor('the one notification', () => received.length === 1)
      await sleep(1500)
      assert.equal(received.length, 1)
      const note = received[0] as WebhookNotification
      assert.equal(note.to, 'critical')
      assert.equal(note.transitions.length, 3)
      assert.match(note.output, /disk full again/)
    } finally {
      await hooks.close()
      fleet.monitor.push('nightly', 'success')
      await fleet.waitForState(ID, 'passing')
    }
  })
})
