import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type ChangeEvent, createHealth, NotReady } from '../../src/index.js'
import { tcp } from '../../src/probes/index.js'
import { lineLogger } from '../support/line-logger.js'

const quiet = { logger: false as const }
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function names(report: { checks: { name: string }[] }): string[] {
  return report.checks.map((c) => c.name)
}

describe('groups', () => {
  it('puts a probe added without groups in ready and startup, not live', async () => {
    const health = createHealth(quiet)
    health.add('db', () => {})
    assert.deepEqual(names(await health.run('live')), ['lifecycle'])
    assert.deepEqual(names(await health.run('ready')), ['lifecycle', 'db'])
    assert.deepEqual(names(await health.run('startup')), ['lifecycle', 'db'])
  })

  it('includes every probe in startup, whatever its groups', async () => {
    const health = createHealth(quiet)
    health.add('event-loop', () => {}, { groups: ['live'] })
    health.add('migrations', () => {}, { groups: ['startup'] })
    assert.deepEqual(names(await health.run('live')), ['lifecycle', 'event-loop'])
    assert.deepEqual(names(await health.run('ready')), ['lifecycle'])
    assert.deepEqual(names(await health.run('startup')), ['lifecycle', 'event-loop', 'migrations'])
  })

  it('takes the worst status of its checks; warn still passes the group', async () => {
    const health = createHealth(quiet)
    health.add('ok', () => {})
    health.add('degraded', () => Promise.reject(new Error('slow')), { critical: false })
    const report = await health.run('ready')
    assert.equal(report.status, 'warn')
    health.add('down', () => Promise.reject(new NotReady('down')))
    assert.equal((await health.run('ready')).status, 'fail')
  })

  it('runs the checks of a group concurrently', async () => {
    const health = createHealth(quiet)
    let running = 0
    let most = 0
    for (let i = 0; i < 5; i++) {
      health.add(`slow${i}`, async () => {
        running++
        most = Math.max(most, running)
        await sleep(50)
        running--
      })
    }
    await health.run('ready')
    assert.equal(most, 5, 'all five checks were in flight at once')
  })

  it('skips excluded checks and reports names that matched nothing', async () => {
    const health = createHealth(quiet)
    health.add('a', () => {})
    health.add('b', () => {
      throw new Error('b down')
    })
    const report = await health.run('ready', { exclude: ['b', 'nope'] })
    assert.deepEqual(names(report), ['lifecycle', 'a'])
    assert.equal(report.status, 'pass')
    assert.deepEqual(report.excluded, ['b'])
    assert.deepEqual(report.unmatchedExcludes, ['nope'])
  })

  it('rejects duplicate names, names unusable in URLs, unknown groups and bad durations', () => {
    const health = createHealth(quiet)
    health.add('db', () => {})
    assert.throws(() => health.add('db', () => {}), /exists already/)
    assert.throws(() => health.add('a/b', () => {}), /may not contain/)
    assert.throws(() => health.add('lifecycle', () => {}), /exists already/)
    // @ts-expect-error: an unknown group is a type error and a runtime error
    assert.throws(() => health.add('x', () => {}, { groups: ['alive'] }), /unknown group "alive"/)
    assert.throws(() => health.add('y', () => {}, { timeout: -1 }), /timeout of "y" must be a positive number/)
    assert.throws(() => createHealth({ timeout: 0 }), /timeout must be a positive number/)
  })

  it('says how to name a built-in probe when the name comes first, and adds it named the way it says', () => {
    const health = createHealth(quiet)
    const probe = tcp('127.0.0.1:5432')
    assert.throws(
      // @ts-expect-error: a probe object in the place of the check function
      () => health.add('primary-db', probe),
      (error: Error) =>
        error instanceof TypeError &&
        error.message ===
          'health.add("primary-db", probe): a probe object carries its own name; give it where the probe is made, e.g. postgres(pool, { name: "primary-db" }), then health.add(probe)',
    )
    // @ts-expect-error: neither a function nor a probe
    assert.throws(() => health.add('x', 5), /^TypeError: health\.add\("x", check\): check must be a function$/)
    health.add(tcp('127.0.0.1:5432', { name: 'primary-db' }))
    assert.deepEqual(health.checkNames('ready'), ['lifecycle', 'primary-db'])
    // Two of one kind: the second needs a name of its own, and is told where it goes.
    health.add(tcp('127.0.0.1:5432'))
    assert.throws(
      () => health.add(tcp('127.0.0.1:5433')),
      (error: Error) =>
        error.message ===
        'health.add: a check named "tcp" exists already; give each probe a unique name (a built-in probe takes one where it is made: postgres(pool, { name: "reporting-db" }))',
    )
  })

  it('rejects a misspelt option key with the key it resembles, and a value outside the allowed ones', () => {
    const error = (fn: () => unknown): Error => {
      try {
        fn()
      } catch (thrown) {
        assert.ok(thrown instanceof TypeError, String(thrown))
        return thrown
      }
      assert.fail('expected a TypeError')
    }
    // @ts-expect-error: a misspelt key is a type error and a runtime error
    const timout = error(() => createHealth({ timout: 5, logger: false }))
    assert.match(
      timout.message,
      /^createHealth: unknown option "timout"; did you mean "timeout"\?; the options are timeout, /,
    )
    // @ts-expect-error: details is never, local, always or a function
    const details = error(() => createHealth({ details: 'sometimes', logger: false }))
    assert.equal(
      details.message,
      "createHealth: details must be 'never', 'local', 'always' or a function (request) => boolean, got 'sometimes'",
    )
    // @ts-expect-error: the HTTP surface's keys are checked in the same list as the core's
    const metricPath = error(() => createHealth({ metricPath: '/metrics', logger: false }))
    assert.equal(
      metricPath.message,
      'createHealth: unknown option "metricPath"; did you mean "metricsPath"?; the options are timeout, cacheTtl, details, paths, extraPaths, metricsPath, logger, service, initiallyReady',
    )
    const every = createHealth({
      timeout: 500,
      cacheTtl: 0,
      details: 'never',
      paths: { live: '/l' },
      extraPaths: { '/_status': 'ready' },
      metricsPath: '/metrics',
      logger: false,
      service: { serviceId: 'svc' },
      initiallyReady: true,
    })
    assert.deepEqual(
      [...every.paths],
      [
        ['/l', 'live'],
        ['/readyz', 'ready'],
        ['/healthz', 'startup'],
        ['/_status', 'ready'],
      ],
    )
    assert.equal(every.metricsPath, '/metrics')
    assert.equal(every.mayShowDetails({ method: 'GET', url: '/l', headers: {}, remoteAddress: '127.0.0.1' }), false)
    // @ts-expect-error: a key nothing resembles still names the options
    assert.match(error(() => createHealth({ colour: 'red' })).message, /unknown option "colour"; the options are/)
    const health = createHealth(quiet)
    // @ts-expect-error: critcal is not an option
    const add = error(() => health.add('search', () => {}, { critcal: false }))
    assert.match(
      add.message,
      /^health\.add\("search", check, options\): unknown option "critcal"; did you mean "critical"\?/,
    )
    const probe = { name: 'cache', check: () => {} }
    // @ts-expect-error: groups, not group
    const override = error(() => health.add(probe, { group: ['live'] }))
    assert.match(
      override.message,
      /^health\.add\(probe "cache", options\): unknown option "group"; did you mean "groups"\?/,
    )
    const notBoolean = { critical: 'no' } as unknown as { critical: boolean }
    assert.match(error(() => health.add('x', () => {}, notBoolean)).message, /critical must be true or false, got 'no'/)
    assert.deepEqual(health.checkNames('ready'), ['lifecycle'], 'nothing was added by a refused call')
  })
})

describe('load', () => {
  it('shares one run among 1,000 concurrent callers (single-flight)', async () => {
    const health = createHealth(quiet)
    let runs = 0
    health.add('slow', async () => {
      runs++
      await sleep(100)
    })
    const reports = await Promise.all(Array.from({ length: 1000 }, () => health.run('ready')))
    assert.equal(runs, 1)
    assert.ok(reports.every((r) => r.status === 'pass'))
  })

  it('reuses a result within its time-to-live', async () => {
    const health = createHealth(quiet)
    let runs = 0
    health.add(
      'cached',
      () => {
        runs++
      },
      { cacheTtl: 200 },
    )
    await health.run('ready')
    await health.run('ready')
    assert.equal(runs, 1)
    await sleep(250)
    await health.run('ready')
    assert.equal(runs, 2)
  })

  it('in background mode, requests never call the probe, and it fails until it has run', async () => {
    const health = createHealth(quiet)
    let runs = 0
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    health.add(
      'bg',
      async () => {
        runs++
        await gate
      },
      { interval: 50 },
    )
    const before = await health.run('ready')
    assert.equal(before.status, 'fail')
    assert.equal(before.checks[1]?.output, 'not checked yet')
    for (let i = 0; i < 100; i++) await health.run('ready')
    assert.equal(runs, 1, 'only the background loop ran it')
    release()
    await sleep(20)
    assert.equal((await health.run('ready')).status, 'pass')
    await sleep(120)
    assert.ok(runs >= 2 && runs <= 5, `background ran ${runs} times`)
    await health.close()
    const after = runs
    await sleep(120)
    assert.equal(runs, after, 'close() stops the background loop')
  })
})

describe('lifecycle', () => {
  it('keeps readiness at starting while startup tasks are pending', async () => {
    const health = createHealth(quiet)
    let finish!: () => void
    const task = health.startupTask('warm cache', new Promise<void>((r) => (finish = r)))
    const starting = await health.run('ready')
    assert.equal(starting.status, 'fail')
    assert.equal(starting.checks[0]?.output, 'starting: waiting for warm cache')
    assert.equal((await health.run('live')).status, 'pass')
    finish()
    await task
    assert.equal((await health.run('ready')).status, 'pass')
  })

  it('stays not ready when a startup task fails', async () => {
    const health = createHealth(quiet)
    await assert.rejects(
      health.startupTask('migrate', async () => {
        throw new Error('no such table')
      }),
    )
    const report = await health.run('ready')
    assert.equal(report.status, 'fail')
    assert.equal(report.checks[0]?.output, 'startup task migrate failed: no such table')
  })

  it('says a startup task failed as it fails, while another is still pending', async () => {
    const { lines, logger } = lineLogger()
    const health = createHealth({ logger })
    const events: ChangeEvent[] = []
    health.on('change', (e) => events.push(e))
    let warmed!: () => void
    const warming = health.startupTask('warm-cache', new Promise<void>((r) => (warmed = r)))
    await assert.rejects(
      health.startupTask('migrate', async () => {
        throw new Error('no such table')
      }),
    )
    // It read "starting: waiting for warm-cache", and nothing was logged, for as long as the
    // other task took: a pod killed by its startupProbe with the failure never said.
    const report = await health.run('ready')
    assert.equal(report.status, 'fail')
    assert.equal(report.checks[0]?.output, 'startup task migrate failed: no such table; still waiting for warm-cache')
    assert.equal(health.phase, 'not ready')
    assert.ok(
      lines.includes(
        'info health lifecycle starting -> not ready: startup task migrate failed: no such table; still waiting for warm-cache',
      ),
      lines.join('\n'),
    )
    assert.deepEqual(
      events.filter((e) => e.kind === 'lifecycle').map((e) => [e.previous, e.current]),
      [
        ['ready', 'starting'],
        ['starting', 'not ready'],
      ],
    )
    warmed()
    await warming
    assert.equal((await health.run('ready')).checks[0]?.output, 'startup task migrate failed: no such table')
  })

  it('goes starting -> ready -> shutting down, for good', async () => {
    const health = createHealth({ ...quiet, initiallyReady: false })
    assert.equal(health.phase, 'not ready')
    assert.equal((await health.run('ready')).status, 'fail')
    health.ready()
    assert.equal(health.phase, 'ready')
    health.notReady('reloading config')
    assert.equal((await health.run('ready')).checks[0]?.output, 'reloading config')
    health.ready()
    health.beginShutdown()
    health.ready()
    const report = await health.run('ready')
    assert.equal(report.checks[0]?.output, 'shutting down')
    assert.equal((await health.run('live')).status, 'pass', 'liveness keeps passing while draining')
  })

  it('fails liveness only when the app declares itself broken', async () => {
    const health = createHealth(quiet)
    health.notReady('busy')
    assert.equal((await health.run('live')).status, 'pass')
    health.broken('deadlock detected')
    const live = await health.run('live')
    assert.equal(live.status, 'fail')
    assert.equal(live.checks[0]?.output, 'broken: deadlock detected')
  })
})

describe('transitions', () => {
  it("names a group's failing checks as its reason, and a warning beside them as a warning", async () => {
    const { lines, logger } = lineLogger()
    const health = createHealth({ logger })
    let dbUp = true
    health.add(
      'search',
      () => {
        throw new Error('fetch failed')
      },
      { critical: false },
    )
    health.add('db', () => {
      if (!dbUp) throw new Error('connection refused')
    })
    await health.run('ready')
    dbUp = false
    await health.run('ready')
    const groupLines = lines.filter((l) => l.includes('health group'))
    assert.deepEqual(groupLines, [
      'warn health group ready warn: search: fetch failed',
      'error health group ready warn -> fail: db: connection refused; also warning: search: fetch failed',
    ])
  })

  it('bounds the lines of a check that flaps on every run: five per check in 10 s, then a count when the window ends', async () => {
    const { lines, logger } = lineLogger()
    const health = createHealth({ logger })
    const events: ChangeEvent[] = []
    health.on('change', (e) => events.push(e))
    let run = 0
    health.add('db', () => {
      if (++run % 2 === 0) throw new Error('connection refused')
    })
    for (let i = 0; i < 200; i++) await health.run('ready')
    assert.equal(events.length, 2 * 199, 'every change is still an event')
    assert.equal(lines.length, 10, lines.join('\n'))
    await health.close()
    // close() tells what the window held back, and where each subject ended.
    assert.deepEqual(lines.slice(10), [
      'error health check db: transition: … (and 194 more like this in the last 10 s; now fail)',
      'error health group ready: transition: … (and 194 more like this in the last 10 s; now fail)',
    ])
  })

  it('emits and logs one line per change, never one per request', async () => {
    const { lines, logger } = lineLogger()
    const health = createHealth({ logger })
    const events: ChangeEvent[] = []
    health.on('change', (e) => events.push(e))
    let up = true
    health.add('db', () => {
      if (!up) throw new Error('connection refused')
    })
    for (let i = 0; i < 5; i++) await health.run('ready')
    assert.deepEqual(lines, [])
    up = false
    for (let i = 0; i < 5; i++) await health.run('ready')
    up = true
    for (let i = 0; i < 5; i++) await health.run('ready')
    assert.deepEqual(lines, [
      'error health check db pass -> fail: connection refused',
      'error health group ready pass -> fail: db: connection refused',
      'info health check db fail -> pass',
      'info health group ready fail -> pass',
    ])
    assert.equal(events.length, 4)
    assert.deepEqual(
      events.map((e) => [e.kind, e.name, e.previous, e.current]),
      [
        ['check', 'db', 'pass', 'fail'],
        ['group', 'ready', 'pass', 'fail'],
        ['check', 'db', 'fail', 'pass'],
        ['group', 'ready', 'fail', 'pass'],
      ],
    )
  })

  it("a 'change' listener that throws changes no answer and crashes nothing: it is logged", async () => {
    const { lines, logger } = lineLogger()
    const health = createHealth({ logger })
    health.on('change', (e: ChangeEvent) => {
      throw new Error(`listener bug on ${e.kind}`)
    })
    let up = false
    health.add('db', () => {
      if (!up) throw new NotReady('down')
    })
    // A background probe's group is evaluated synchronously: there a listener's exception
    // escaped evaluate() itself, out of the node:http request handler, and ended the process.
    health.add('bg', () => {}, { interval: 1000, groups: ['live'] })
    await sleep(20)
    health.broken('stuck')
    assert.equal((health.evaluate('live') as { status: string }).status, 'fail')
    const failing = await health.run('ready')
    assert.equal(failing.status, 'fail')
    assert.equal(failing.checks.find((c) => c.name === 'db')?.output, 'down')
    up = true
    const ready = await health.run('startup')
    assert.equal(ready.checks.find((c) => c.name === 'db')?.status, 'pass')
    for (const line of [
      `error health: a 'change' listener threw on "health lifecycle ready -> broken": listener bug on lifecycle`,
      `error health: a 'change' listener threw on "health group live fail": listener bug on group`,
      `error health: a 'change' listener threw on "health check db fail": listener bug on check`,
    ]) {
      assert.ok(lines.includes(line), `${line}\nnot among\n${lines.join('\n')}`)
    }
    await health.close()
  })

  it('a logger that throws loses its lines and changes nothing else; a process warning says so once', async () => {
    let calls = 0
    const boom = () => {
      calls++
      throw new Error('logger stream closed')
    }
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const health = createHealth({ logger: { info: boom, warn: boom, error: boom } })
      let up = false
      health.add('db', () => {
        if (!up) throw new NotReady('down')
      })
      // Each transition's line threw out of the probe run: every answer was a rejection.
      assert.equal((await health.run('ready')).status, 'fail')
      health.notReady('maintenance')
      up = true
      health.ready()
      assert.equal((await health.run('ready')).status, 'pass')
      await sleep(10)
      assert.ok(calls >= 4, `the logger was called ${calls} times`)
      const ours = warnings.filter((w) => (w as { code?: string }).code === 'PROBEKIT_LOGGER_FAILED')
      assert.equal(ours.length, 1)
      assert.match(ours[0]?.message ?? '', /^probekit: the logger threw \(logger stream closed\)/)
      await health.close()
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('a check whose result cannot be read fails alone, and the next request runs it again', async () => {
    const health = createHealth(quiet)
    let unreadable = true
    health.add('odd', () => {
      if (!unreadable) return { componentId: 'db:5432' }
      // A number where the type asks for text: the run rejected, and the rejected run stayed
      // in flight, so every later /readyz answered "health check error" until a restart.
      return { componentId: 5432 } as never
    })
    health.add('db', () => {})
    const first = await health.run('ready')
    assert.equal(first.status, 'pass')
    assert.equal(first.checks.find((c) => c.name === 'odd')?.componentId, '5432')
    unreadable = false
    const second = await health.run('ready')
    assert.equal(second.checks.find((c) => c.name === 'odd')?.componentId, 'db:5432')
  })

  it('close() cutting off a background run in flight is no change: nothing logged or emitted', async () => {
    const lines: string[] = []
    const logger = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    }
    const health = createHealth({ logger })
    const events: ChangeEvent[] = []
    health.on('change', (e) => events.push(e))
    let slow = false
    health.add(
      'bg',
      ({ signal }) =>
        slow
          ? new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
          : undefined,
      { interval: 20 },
    )
    await sleep(50)
    assert.equal((await health.run('ready')).status, 'pass')
    slow = true
    await sleep(60) // a run is now in flight
    await health.close()
    await sleep(30)
    assert.deepEqual(lines, [])
    assert.deepEqual(events, [])
  })

  it('logs structured fields to pino-style loggers', async () => {
    const calls: unknown[][] = []
    const logger = {
      child: () => logger,
      info: (...a: unknown[]) => calls.push(a),
      warn: (...a: unknown[]) => calls.push(a),
      error: (...a: unknown[]) => calls.push(a),
    }
    const health = createHealth({ logger })
    health.broken('stuck')
    assert.equal(calls.length, 1)
    const [fields, message] = calls[0] as [{ health: { current: string } }, string]
    assert.equal(fields.health.current, 'broken')
    assert.match(message, /health lifecycle ready -> broken: broken: stuck/)
  })

  it('never logs a password', async () => {
    const lines: string[] = []
    const logger = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    }
    const health = createHealth({ logger })
    health.add('db', () => {
      throw new Error('cannot reach postgres://app:topsecret@db/app')
    })
    await health.run('ready')
    assert.ok(lines.length > 0)
    for (const line of lines) assert.doesNotMatch(line, /topsecret/)
  })
})
