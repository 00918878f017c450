import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it, mock } from 'node:test'
import { FIRST_RUN_SPREAD_MS, firstRuns, ManifestError, Monitor } from '../../src/monitor/monitor.js'
import { MemoryStore, openStore } from '../../src/monitor/store/index.js'
import type { CheckState, HistorySample, MonitorStore, Transition } from '../../src/monitor/types.js'
import { activeResources } from '../support/faults.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { makeTestCa } from '../support/test-ca.js'

/** A target whose answer per path the test sets: `status[path] = 500`. */
const status: Record<string, number> = {}
let server: Server
let base: string

before(async () => {
  server = createServer((req, res) => {
    const code = status[req.url ?? '/'] ?? 200
    res.statusCode = code
    res.end(code < 300 ? `fine ${req.url}\n` : `broken ${req.url}\n`)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

// Deadlines are generous: the machine running the tests is shared and slow.
function check(name: string, extra = '', interval = '500ms', timeout = '400ms'): string {
  return `  - name: ${name}\n    url: ${base}/${name}\n    interval: ${interval}\n    timeout: ${timeout}\n${extra}`
}

function writeManifest(dir: string, file: string, pod: string, checks: string[]): string {
  const path = join(dir, file)
  writeFileSync(path, `id: ${pod}\nnode: n1\nchecks:\n${checks.join('')}`)
  return path
}

function stateOf(monitor: Monitor, id: string): CheckState {
  const s = monitor.state(id)
  assert.ok(s, `no state for ${id}`)
  return s
}

describe('Monitor', () => {
  it('checks every target and records transitions, with a raised index per change', async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [check('a1'), check('a2')])
    status['/a2'] = 500
    const store = new MemoryStore()
    const monitor = new Monitor({ store, logger: false })
    const changes: Transition[] = []
    monitor.on('change', (t) => changes.push(t))
    let a1Results = 0
    monitor.on('result', (s) => {
      if (s.id === 'n1/web/a1') a1Results++
    })
    try {
      await monitor.load([dir])
      assert.deepEqual(
        monitor.states().map((s) => [s.id, s.state]),
        [
          ['n1/web/a1', 'unknown'],
          ['n1/web/a2', 'unknown'],
        ],
      )
      const startIndex = monitor.index
      monitor.start()
      await waitFor('both checks to settle', () => changes.length >= 2, 5000)
      await waitFor('a2 to answer 500', () => monitor.state('n1/web/a2')?.httpStatus === 500, 5000)
      await waitFor('a1 to pass', () => monitor.state('n1/web/a1')?.state === 'passing', 5000)
      assert.equal(stateOf(monitor, 'n1/web/a2').state, 'critical')
      assert.equal(stateOf(monitor, 'n1/web/a2').httpStatus, 500)
      assert.match(stateOf(monitor, 'n1/web/a2').output, /500 Internal Server Error Output: broken \/a2/)
      assert.ok(monitor.index >= startIndex + 2)
      status['/a2'] = 200
      await waitFor('a2 to recover', () => stateOf(monitor, 'n1/web/a2').state === 'passing', 5000)
      await waitFor(
        'the transitions to reach the store',
        () => store.transitions({ id: 'n1/web/a2' }).length === 2,
        2000,
      )
      assert.deepEqual(
        store.transitions({ id: 'n1/web/a2' }).map((t) => `${t.from}→${t.to}`),
        ['unknown→critical', 'critical→passing'],
      )
    } finally {
      await monitor.stop()
      delete status['/a2']
    }
    assert.equal(
      store.history('n1/web/a1').reduce((n, p) => n + p.count, 0),
      a1Results,
      'every result is in the history once the monitor stopped',
    )
  })

  it("writes a check's history minute once, when it is over; readers see the minute in progress at once", async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [check('h1', '', '300ms', '250ms')])
    const written: HistorySample[] = []
    const store = new MemoryStore()
    const addSamples = store.addSamples.bind(store)
    store.addSamples = (samples) => {
      written.push(...samples)
      addSamples(samples)
    }
    // The history timer turns often: it must still write only minutes that are over.
    const monitor = new Monitor({ store, logger: false, historyFlushMs: 100 })
    let results = 0
    monitor.on('result', (s) => {
      if (s.id === 'n1/web/h1') results++
    })
    try {
      await monitor.load([dir])
      monitor.start()
      const points = await waitFor(
        'three results in the history',
        () => {
          const history = monitor.history('n1/web/h1')
          return history.reduce((n, p) => n + p.count, 0) >= 3 ? history : undefined
        },
        10_000,
      )
      const latest = points.at(-1)
      assert.equal(latest?.state, 'passing')
      assert.match(latest?.at ?? '', /:00\.000Z$/, 'a point per minute')
      assert.equal(monitor.history('n1/web/h1', { limit: 1 }).length, 1)
    } finally {
      await monitor.stop()
    }
    const minutes = written.filter((s) => s.id === 'n1/web/h1').map((s) => s.at)
    assert.deepEqual(minutes, [...new Set(minutes)], 'each minute is written once')
    assert.equal(
      store.history('n1/web/h1').reduce((n, p) => n + p.count, 0),
      results,
      'every result is in the stored history once the monitor stopped',
    )
  })

  it('masks a secret a reload adds in the repeated answer of a check that kept running', async () => {
    const secret = 'sekret-token-991'
    const echo = createServer((_req, res) => res.end(`hello ${secret}\n`))
    echo.keepAliveTimeout = 60_000
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/`
    const dir = makeTempDir('monitor')
    const e1 = `  - name: e1\n    url: ${url}\n    interval: 300ms\n    timeout: 250ms\n`
    writeFileSync(join(dir, 'web.yaml'), `id: web\nnode: n1\nchecks:\n${e1}`)
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('the answer in the output', () => stateOf(monitor, 'n1/web/e1').output.includes(secret), 5000)
      // Another check sends the same value as a credential: from now on it is a secret, and
      // e1 (unchanged, still answered the very same body) must show it masked.
      const e2 = `  - name: e2\n    url: ${url}\n    interval: 300ms\n    timeout: 250ms\n    headers:\n      X-Api-Key: ${secret}\n`
      writeFileSync(join(dir, 'web.yaml'), `id: web\nnode: n1\nchecks:\n${e1}${e2}`)
      await monitor.reload()
      await waitFor(
        'e1 to show the answer masked',
        () => {
          const output = stateOf(monitor, 'n1/web/e1').output
          return !output.includes(secret) && output.includes('hello ***')
        },
        5000,
      )
    } finally {
      await monitor.stop()
      echo.closeAllConnections()
      await new Promise((r) => echo.close(r))
    }
  })

  it('answers a long poll when the index moves, or at its timeout with the current states', async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [check('w1')])
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      const quiet = await monitor.waitForChange(monitor.index, 100)
      assert.equal(quiet.index, monitor.index)
      assert.equal(quiet.states.length, 1)
      const before = monitor.index
      const waiting = monitor.waitForChange(before, 10_000)
      monitor.start()
      const answer = await waiting
      assert.ok(answer.index > before)
      assert.equal(answer.states[0]?.state, 'passing')
      const aborted = new AbortController()
      const pending = monitor.waitForChange(monitor.index + 1000, 10_000, aborted.signal)
      aborted.abort()
      assert.ok((await pending).index <= monitor.index)
    } finally {
      await monitor.stop()
    }
  })

  it('applies thresholds: two failures in a row are not yet critical with failures_before_critical: 3', async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [check('t1', '    failures_before_critical: 3\n', '200ms', '150ms')])
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    const seen: [string, number][] = []
    let switched = 0
    monitor.on('result', (s) => seen.push([s.state, s.failures]))
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('passing', () => monitor.state('n1/web/t1')?.state === 'passing', 5000)
      switched = seen.length
      status['/t1'] = 503
      await waitFor('critical', () => monitor.state('n1/web/t1')?.state === 'critical', 5000)
    } finally {
      await monitor.stop()
      delete status['/t1']
    }
    const failing = seen.slice(switched).filter(([, failures]) => failures > 0)
    assert.deepEqual(failing.slice(0, 3), [
      ['passing', 1],
      ['passing', 2],
      ['critical', 3],
    ])
  })

  it('reloads: adds, removes and changes checks, and unchanged checks keep their state', async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [check('keep'), check('retime'), check('retarget'), check('drop')])
    const store = new MemoryStore()
    const monitor = new Monitor({ store, logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('every check to pass', () => monitor.states().every((s) => s.state === 'passing'), 5000)
      const keep = stateOf(monitor, 'n1/web/keep')
      const retime = stateOf(monitor, 'n1/web/retime')

      const retarget = `  - name: retarget\n    url: ${base}/elsewhere\n    interval: 500ms\n    timeout: 400ms\n`
      writeManifest(dir, 'web.yaml', 'web', [check('keep'), check('retime', '', '600ms'), retarget])
      writeManifest(dir, 'api.yaml', 'api', [check('new')])
      await monitor.reload()

      assert.deepEqual(
        monitor.states().map((s) => s.id),
        ['n1/api/new', 'n1/web/keep', 'n1/web/retarget', 'n1/web/retime'],
      )
      const keptNow = stateOf(monitor, 'n1/web/keep')
      assert.equal(keptNow.state, 'passing')
      assert.equal(keptNow.since, keep.since, 'an unchanged check keeps its state')
      const retimed = stateOf(monitor, 'n1/web/retime')
      assert.equal(retimed.state, 'passing', 'a new schedule keeps what was seen')
      assert.equal(retimed.since, retime.since)
      const retargeted = stateOf(monitor, 'n1/web/retarget')
      assert.equal(retargeted.state, 'unknown', 'a new target starts over')
      assert.equal(retargeted.target, `${base}/elsewhere`)
      assert.equal(stateOf(monitor, 'n1/api/new').state, 'unknown')
      await waitFor('the new checks to run', () => monitor.states().every((s) => s.state === 'passing'), 5000)
      await waitFor('the removal to reach the store', () => !store.loadStates().some((s) => s.check === 'drop'), 2000)
      // The removed check is not run any more.
      const dropped = store.history('n1/web/drop')
      assert.deepEqual(dropped, [])
    } finally {
      await monitor.stop()
    }
  })

  it('keeps the running checks when a reload finds a bad manifest', async () => {
    const dir = makeTempDir('monitor')
    const file = writeManifest(dir, 'web.yaml', 'web', [check('b1')])
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([file])
      monitor.start()
      writeFileSync(file, 'id: web\nnode: n1\nchecks:\n  - name: b1\n    type: gopher\n')
      await assert.rejects(monitor.reload(), (error: unknown) => {
        assert.ok(error instanceof ManifestError)
        assert.equal(error.message, `${file}:5: checks[0].type: ${error.problem}`)
        return true
      })
      assert.deepEqual(
        monitor.states().map((s) => s.id),
        ['n1/web/b1'],
      )
      await waitFor('the old check to keep running', () => monitor.state('n1/web/b1')?.state === 'passing', 5000)
      rmSync(file)
      await assert.rejects(monitor.reload(), /no such file or directory/)
    } finally {
      await monitor.stop()
    }
  })

  it('restores state and streak counters from sqlite after a restart mid-run', async () => {
    const dir = makeTempDir('monitor')
    const file = join(dir, 'monitor.sqlite')
    writeManifest(dir, 'web.yaml', 'web', [check('r1', '    failures_before_critical: 3\n', '200ms', '150ms')])
    let store: MonitorStore = openStore(`sqlite:${file}`)
    let monitor = new Monitor({ store, logger: false })
    let stopped: Promise<void> | undefined
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('passing', () => monitor.state('n1/web/r1')?.state === 'passing', 5000)
      status['/r1'] = 500
      // Stop right after the second failure: passing, with a failure streak of 2.
      await new Promise<void>((resolve) => {
        monitor.on('result', (s) => {
          if (s.failures === 2 && !stopped) {
            stopped = monitor.stop()
            resolve()
          }
        })
      })
      await stopped
      store.close()

      store = openStore(`sqlite:${file}`)
      monitor = new Monitor({ store, logger: false })
      await monitor.load([dir])
      const restored = stateOf(monitor, 'n1/web/r1')
      assert.equal(restored.state, 'passing')
      assert.equal(restored.failures, 2, 'the streak survived the restart')
      const results: CheckState[] = []
      monitor.on('result', (s) => results.push(s))
      monitor.start()
      await waitFor('the next result', () => results.length > 0, 5000)
      assert.equal(results[0]?.state, 'critical', 'the third failure in a row, counted across the restart')
      assert.equal(results[0]?.failures, 3)
      assert.ok((results[0]?.index ?? 0) > restored.index, 'the index keeps rising across restarts')
    } finally {
      await monitor.stop()
      store.close()
      delete status['/r1']
    }
  })

  it('runs a check of a long interval within 30 s of its load, and after a restart an interval after its stored result', async () => {
    const dir = makeTempDir('monitor')
    writeManifest(dir, 'web.yaml', 'web', [
      check('hourly-new', '', '1h', '400ms'),
      check('hourly-due', '', '1h', '400ms'),
      check('hourly-fresh', '', '1h', '400ms'),
    ])
    const store = new MemoryStore()
    const now = Date.now()
    const stored = (name: string, agoMs: number): CheckState => ({
      pod: 'web',
      node: 'n1',
      check: name,
      id: `n1/web/${name}`,
      kind: 'http',
      target: `${base}/${name}`,
      state: 'passing',
      output: 'HTTP GET: 200 OK',
      since: new Date(now - 86_400_000).toISOString(),
      checkedAt: new Date(now - agoMs).toISOString(),
      successes: 5,
      failures: 0,
      index: 7,
    })
    // hourly-due ran 59 min 59.5 s ago: due in half a second. hourly-fresh ran a minute ago.
    store.saveStates([stored('hourly-due', 3_600_000 - 500), stored('hourly-fresh', 60_000)])
    // A point 2% into the spread: 0.6 s, where 2% of the interval would have been 72 s.
    const random = mock.method(Math, 'random', () => 0.02)
    const monitor = new Monitor({ store, logger: false })
    const ran = new Set<string>()
    monitor.on('result', (s) => ran.add(s.check))
    try {
      await monitor.load([dir])
      assert.equal(stateOf(monitor, 'n1/web/hourly-fresh').state, 'passing', 'restored from the store')
      monitor.start()
      await waitFor('the new and the due check to run', () => ran.has('hourly-new') && ran.has('hourly-due'), 5000)
      await sleep(300)
      assert.ok(!ran.has('hourly-fresh'), 'a check with a result from its interval waits for its next run')
    } finally {
      random.mock.restore()
      await monitor.stop()
    }
  })

  it('takes pushes for push checks by pod/check or a unique check name', async () => {
    const dir = makeTempDir('monitor')
    writeFileSync(
      join(dir, 'jobs.yaml'),
      'id: jobs\nnode: n1\nchecks:\n  - name: nightly\n    period: 1h\n  - name: hourly\n    period: 1h\n---\nid: other\nnode: n1\nchecks:\n  - name: hourly\n    period: 1h\n',
    )
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      assert.equal(monitor.push('nightly', 'success', 'backed up 3 GB'), true)
      assert.equal(stateOf(monitor, 'n1/jobs/nightly').state, 'passing')
      assert.equal(stateOf(monitor, 'n1/jobs/nightly').output, 'push success: backed up 3 GB')
      assert.equal(monitor.push('jobs/nightly', 2), true)
      assert.equal(stateOf(monitor, 'n1/jobs/nightly').state, 'critical')
      assert.equal(monitor.push('hourly', 'success'), false, 'two push checks are called hourly')
      assert.equal(monitor.push('other/hourly', 'success'), true)
      assert.equal(monitor.push('n1/jobs/hourly', 'fail'), true)
      assert.equal(stateOf(monitor, 'n1/jobs/hourly').state, 'critical')
      assert.equal(monitor.push('nope', 'success'), false)
    } finally {
      await monitor.stop()
    }
  })

  it('turns a push check critical when its period passes without a push', async () => {
    const dir = makeTempDir('monitor')
    writeFileSync(
      join(dir, 'jobs.yaml'),
      'id: jobs\nnode: n1\nchecks:\n  - name: quick\n    period: 300ms\n    grace: 100ms\n',
    )
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      await sleep(150)
      monitor.push('quick', 'success')
      assert.equal(stateOf(monitor, 'n1/jobs/quick').state, 'passing')
      await waitFor('the missed period', () => monitor.state('n1/jobs/quick')?.state === 'critical', 3000)
      assert.match(stateOf(monitor, 'n1/jobs/quick').output, /no push within the period of 300ms/)
    } finally {
      await monitor.stop()
    }
  })

  it('writes a burst of changes in short transactions, losing none', async () => {
    const dir = makeTempDir('monitor')
    const lines = ['id: jobs', 'node: n1', 'checks:']
    for (let i = 0; i < 1200; i++) lines.push(`  - name: j${i}`, '    period: 1h')
    writeFileSync(join(dir, 'jobs.yaml'), `${lines.join('\n')}\n`)
    const store = new MemoryStore()
    const batches: number[] = []
    const save = store.saveStates.bind(store)
    store.saveStates = (states) => {
      batches.push(states.length)
      save(states)
    }
    const monitor = new Monitor({ store, logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('the loaded states to be written', () => store.loadStates().length === 1200, 5000)
      batches.length = 0
      for (let i = 0; i < 1200; i++) monitor.push(`j${i}`, 'success')
      await waitFor('every push to reach the store', () => store.loadStates().every((s) => s.state === 'passing'), 5000)
      assert.ok(batches.length >= 3, `${batches.length} transactions`)
      assert.ok(
        batches.every((n) => n <= 500),
        `batches of ${batches.join(', ')}`,
      )
      assert.equal(
        batches.reduce((a, b) => a + b, 0),
        1200,
      )
    } finally {
      await monitor.stop()
    }
  })

  it('leaves no sockets, timers or child processes behind once stopped', async () => {
    const dir = makeTempDir('monitor')
    const port = new URL(base).port
    writeFileSync(
      join(dir, 'mixed.yaml'),
      [
        'id: leaks',
        'node: n1',
        'checks:',
        `  - { name: web, url: "${base}/leak-web", interval: 300ms }`,
        `  - { name: port, type: tcp, address: "127.0.0.1:${port}", interval: 300ms }`,
        '  - { name: script, command: "sleep 5", interval: 1s, timeout: 300ms }',
        '  - { name: job, period: 1h }',
        '',
      ].join('\n'),
    )
    const baseline = activeResources()
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    await monitor.load([dir])
    monitor.start()
    await waitFor(
      'every check to run',
      () => monitor.states().every((s) => s.check === 'job' || s.state !== 'unknown'),
      10_000,
    )
    await monitor.stop()
    await waitFor(
      'the handles to return to what they were',
      () => activeResources().count <= baseline.count,
      5000,
    ).catch(() => {
      assert.fail(
        `handles before ${JSON.stringify(baseline.byType)}, after ${JSON.stringify(activeResources().byType)}`,
      )
    })
  })

  it('checks p2 manifests as they are: HTTPS by default (trusting --ca-file), plain HTTP with status_http', async () => {
    const ca = makeTestCa()
    const secure = createHttpsServer({ cert: ca.read(ca.serverCert), key: ca.read(ca.serverKey) }, (req, res) => {
      res.statusCode = req.url === '/_status' ? 200 : 404
      res.end(`secure ${req.url}\n`)
    })
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve))
    const securePort = (secure.address() as AddressInfo).port
    const dir = makeTempDir('monitor')
    writeFileSync(
      join(dir, 'carsales.yaml'),
      `id: carsales.com\nstatus_port: ${securePort}\nlaunchables:\n  web:\n    launchable_type: hoist\n    location: foo.tar.gz\n`,
    )
    writeFileSync(join(dir, 'isup.yaml'), `id: isup\nstatus_port: ${new URL(base).port}\nstatus_http: true\n`)
    status['/_status'] = 200
    const monitor = new Monitor({
      store: new MemoryStore(),
      logger: false,
      node: 'aws1.example.com',
      caFile: ca.caCert,
    })
    try {
      await monitor.load([dir])
      monitor.start()
      await waitFor('both pods to be checked', () => monitor.states().every((s) => s.state !== 'unknown'), 15_000)
      assert.deepEqual(
        monitor.states().map((s) => [s.id, s.state, s.output]),
        [
          [
            'aws1.example.com/carsales.com/health_check',
            'passing',
            `HTTP GET https://localhost:${securePort}/_status: 200 OK Output: secure /_status`,
          ],
          [
            'aws1.example.com/isup/health_check',
            'passing',
            `HTTP GET http://localhost:${new URL(base).port}/_status: 200 OK Output: fine /_status`,
          ],
        ],
      )
      assert.ok(monitor.state('aws1.example.com/carsales.com/health_check')?.sslEarliestExpiry)
    } finally {
      await monitor.stop()
      secure.closeAllConnections()
      await new Promise((r) => secure.close(r))
    }
  })

  it('runs exec and tcp checks beside http ones', async () => {
    const dir = makeTempDir('monitor')
    const port = new URL(base).port
    writeFileSync(
      join(dir, 'mixed.yaml'),
      [
        'id: mixed',
        'node: n1',
        'checks:',
        '  - name: script-ok',
        '    command: "echo all fine"',
        '    interval: 1s',
        '  - name: script-warn',
        '    command: ["sh", "-c", "echo degraded; exit 1"]',
        '    interval: 1s',
        '  - name: script-crit',
        '    command: "echo broken >&2; exit 2"',
        '    interval: 1s',
        '  - name: port',
        `    address: 127.0.0.1:${port}`,
        '    type: tcp',
        '    interval: 1s',
        '',
      ].join('\n'),
    )
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      const expected = [
        ['port', 'passing', `connected to 127.0.0.1:${port}`],
        ['script-crit', 'critical', 'broken'],
        ['script-ok', 'passing', 'all fine'],
        ['script-warn', 'warning', 'degraded'],
      ]
      const seen = () => monitor.states().map((s) => [s.check, s.state, s.output])
      // On a loaded machine one run may hit its deadline; the next one settles it.
      await waitFor('every check to settle', () => JSON.stringify(seen()) === JSON.stringify(expected), 20_000).catch(
        () => {},
      )
      assert.deepEqual(seen(), expected)
    } finally {
      await monitor.stop()
    }
  })
})

describe('firstRuns', () => {
  const now = 1_000_000_000
  const half = () => 0.5

  it('goes on with the rhythm of a result from within the interval', () => {
    assert.deepEqual(firstRuns(now - 1000, 5000, now, half), { firstMs: 4000 })
    assert.deepEqual(firstRuns(now - 60_000, 3_600_000, now, half), { firstMs: 3_540_000 })
    assert.deepEqual(
      firstRuns(now - 60_000, 3_600_000, now, half, () => 1234),
      { firstMs: 1234 },
      'with replicas, at its phase point',
    )
  })

  it('runs within the interval when it is short and no result is known, as the scheduler spread it', () => {
    assert.deepEqual(firstRuns(Number.NaN, 5000, now, half), { firstMs: 2500 })
    assert.deepEqual(firstRuns(now - 5000, 5000, now, half), { firstMs: 2500 }, 'a result an interval old is stale')
    assert.deepEqual(
      firstRuns(now + 10_000, 5000, now, half),
      { firstMs: 2500 },
      'a result from the future is not trusted',
    )
    assert.deepEqual(
      firstRuns(Number.NaN, 5000, now, half, () => 777),
      { firstMs: 777 },
    )
  })

  it('runs within 30 s when the interval is longer, then at a point of its own at least half an interval later', () => {
    const interval = 3_600_000
    for (const r of [0, 0.3, 0.999]) {
      const { firstMs, thenMs } = firstRuns(Number.NaN, interval, now, () => r)
      assert.ok(firstMs >= 0 && firstMs < FIRST_RUN_SPREAD_MS, `${firstMs}`)
      assert.ok(
        thenMs !== undefined && thenMs - firstMs >= interval / 2 && thenMs - firstMs < interval * 1.5,
        `${thenMs}`,
      )
    }
    // The second run's point of the interval is spread over the whole interval, not the 30 s.
    const points = [0.1, 0.4, 0.7].map((r) => (firstRuns(Number.NaN, interval, now, () => r).thenMs ?? 0) % interval)
    assert.ok(Math.max(...points) - Math.min(...points) > FIRST_RUN_SPREAD_MS * 10, `${points}`)
    // With replicas the second run is at the phase point, never sooner than half an interval.
    for (const phase of [0, 1000, interval / 4, interval - 1]) {
      const { firstMs, thenMs } = firstRuns(now - 2 * interval, interval, now, half, () => phase)
      assert.equal(firstMs, FIRST_RUN_SPREAD_MS / 2)
      assert.ok(thenMs !== undefined && thenMs - firstMs >= interval / 2, `${phase}: ${thenMs}`)
      assert.equal((thenMs - firstMs - phase) % interval, 0, 'on the phase point')
    }
  })
})
