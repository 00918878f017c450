import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import {
  availableSqliteDrivers,
  MemoryStore,
  openStore,
  type SqliteDriverName,
  SqliteMissingError,
  SqliteStore,
  StoreError,
} from '../../src/monitor/store/index.js'
import { openSqliteDatabase } from '../../src/monitor/store/sqlite-driver.js'
import type { CheckState, MonitorStore, Transition } from '../../src/monitor/types.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'

function state(check: string, overrides: Partial<CheckState> = {}): CheckState {
  return {
    pod: 'web',
    node: 'n1',
    check,
    id: `n1/web/${check}`,
    kind: 'http',
    target: 'http://127.0.0.1:1/_status',
    state: 'passing',
    output: 'ok',
    since: '2026-01-01T00:00:00.000Z',
    successes: 3,
    failures: 0,
    index: 1,
    ...overrides,
  }
}

/** Transitions are kept 30 days: test data is recent. */
const recent = (second: number) => new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000 + second * 1000).toISOString()

function transition(check: string, index: number, at: string, to: Transition['to'] = 'critical'): Transition {
  return { pod: 'web', node: 'n1', check, id: `n1/web/${check}`, from: 'passing', to, at, output: `t${index}`, index }
}

/** The behaviour every store shares. */
function storeContract(name: string, open: () => MonitorStore) {
  describe(`${name} store`, () => {
    it('keeps current states, replacing on save and dropping removed checks', () => {
      const store = open()
      try {
        store.saveStates([state('a'), state('b', { pod: 'api', id: 'n1/api/b' })])
        store.saveStates([state('a', { state: 'critical', failures: 2, successes: 0, index: 7 })])
        const loaded = store.loadStates().sort((x, y) => x.id.localeCompare(y.id))
        assert.deepEqual(
          loaded.map((s) => [s.id, s.state, s.failures, s.index]),
          [
            ['n1/api/b', 'passing', 0, 1],
            ['n1/web/a', 'critical', 2, 7],
          ],
        )
        store.removeStates(['n1/api/b'])
        assert.deepEqual(
          store.loadStates().map((s) => s.id),
          ['n1/web/a'],
        )
      } finally {
        store.close()
      }
    })

    it('lists the most recent transitions oldest first, filtered by check, pod and time', () => {
      const store = open()
      try {
        store.addTransitions([
          transition('a', 1, recent(1)),
          transition('b', 2, recent(2)),
          transition('a', 3, recent(3), 'passing'),
        ])
        assert.deepEqual(
          store.transitions({}).map((t) => t.index),
          [1, 2, 3],
        )
        assert.deepEqual(
          store.transitions({ id: 'n1/web/a' }).map((t) => t.index),
          [1, 3],
        )
        assert.deepEqual(
          store.transitions({ limit: 2 }).map((t) => t.index),
          [2, 3],
        )
        assert.deepEqual(
          store.transitions({ since: recent(2) }).map((t) => t.index),
          [2, 3],
        )
        assert.deepEqual(store.transitions({ pod: 'other' }), [])
      } finally {
        store.close()
      }
    })

    it("keeps at most the documented 1,000 newest transitions of a check flooded with 50,000, and the other checks' too", () => {
      const store = open()
      try {
        const base = Date.now() - 3_600_000
        store.addTransitions([transition('quiet', 1, new Date(base).toISOString())])
        const batch = 100
        let index = 0
        for (let b = 0; b < 50_000 / batch; b++) {
          const transitions: Transition[] = []
          for (let i = 0; i < batch; i++) {
            index++
            const t = transition(
              'flood',
              index,
              new Date(base + index).toISOString(),
              index % 2 ? 'critical' : 'passing',
            )
            transitions.push({
              ...t,
              from: index % 2 ? 'passing' : 'critical',
              output: `flood ${index} ${'x'.repeat(200)}`,
            })
          }
          store.addTransitions(transitions)
          // Bounded after every write, not only when a pruner comes round.
          const kept = store.transitions({ id: 'n1/web/flood', limit: 1_000_000 }).length
          if (kept > 1000 + batch)
            assert.fail(`after batch ${b + 1}, ${kept} transitions of the flooded check are kept`)
        }
        const flood = store.transitions({ id: 'n1/web/flood', limit: 1_000_000 })
        assert.ok(flood.length >= 1000 && flood.length <= 1000 + batch, `${flood.length} kept`)
        assert.equal(flood.at(-1)?.index, 50_000, 'the newest is kept')
        assert.deepEqual(
          flood.map((t) => t.index),
          Array.from({ length: flood.length }, (_, i) => 50_000 - flood.length + 1 + i),
          'the newest, in order',
        )
        assert.deepEqual(
          store.transitions({ id: 'n1/web/quiet' }).map((t) => t.index),
          [1],
          'the quiet check keeps its transition',
        )
        assert.ok(store.transitions({ limit: 1_000_000 }).length <= 1001 + batch)
      } finally {
        store.close()
      }
    })

    it('counts outcomes into minute buckets with the worst state and the mean duration', () => {
      const store = open()
      try {
        const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000
        const at = (offsetMs: number) => new Date(minute + offsetMs).toISOString()
        store.addSamples([
          { id: 'n1/web/a', at: at(1000), state: 'passing', durationMs: 10 },
          { id: 'n1/web/a', at: at(2000), state: 'critical', durationMs: 30 },
          { id: 'n1/web/a', at: at(61_000), state: 'passing', durationMs: 5, count: 4, passed: 4 },
        ])
        const points = store.history('n1/web/a')
        assert.deepEqual(points, [
          { at: at(0), state: 'critical', count: 2, passed: 1, durationMs: 20 },
          { at: at(60_000), state: 'passing', count: 4, passed: 4, durationMs: 5 },
        ])
        assert.equal(store.history('n1/web/a', { limit: 1 }).length, 1)
        assert.deepEqual(
          store.history('n1/web/a', { since: at(60_000) }).map((p) => p.count),
          [4],
        )
        assert.deepEqual(store.history('n1/web/other'), [])
      } finally {
        store.close()
      }
    })

    it('serves older history as hourly rollups', () => {
      const store = open()
      try {
        const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 10 * 3_600_000
        store.addSamples([
          { id: 'n1/web/a', at: new Date(hour + 60_000).toISOString(), state: 'passing', durationMs: 2 },
          { id: 'n1/web/a', at: new Date(hour + 30 * 60_000).toISOString(), state: 'warning', durationMs: 4 },
        ])
        assert.deepEqual(store.history('n1/web/a'), [
          { at: new Date(hour).toISOString(), state: 'warning', count: 2, passed: 1, durationMs: 3 },
        ])
      } finally {
        store.close()
      }
    })
  })
}

/** Whether this Node has node:sqlite, found out without probekit's own code. */
function nodeHasSqlite(): boolean {
  try {
    createRequire(import.meta.url)('node:sqlite')
    return true
  } catch {
    return false
  }
}

const drivers = availableSqliteDrivers()

storeContract('memory', () => new MemoryStore())
for (const driver of drivers)
  storeContract(`sqlite (${driver})`, () =>
    openStore(`sqlite:${join(makeTempDir('store'), 'monitor.sqlite')}`, { sqliteDriver: driver }),
  )

function withDriverEnv<T>(value: string | undefined, run: () => T): T {
  const before = process.env.PROBEKIT_SQLITE_DRIVER
  if (value === undefined) delete process.env.PROBEKIT_SQLITE_DRIVER
  else process.env.PROBEKIT_SQLITE_DRIVER = value
  try {
    return run()
  } finally {
    if (before === undefined) delete process.env.PROBEKIT_SQLITE_DRIVER
    else process.env.PROBEKIT_SQLITE_DRIVER = before
  }
}

describe('the sqlite driver', () => {
  it(`uses node:sqlite where Node has it, else better-sqlite3 (here: ${nodeHasSqlite() ? 'node:sqlite' : 'better-sqlite3'})`, () => {
    const expected: SqliteDriverName = nodeHasSqlite() ? 'node:sqlite' : 'better-sqlite3'
    assert.ok(drivers.includes(expected), `${expected} loads on Node ${process.version} (available: ${drivers})`)
    const store = withDriverEnv(undefined, () => openStore(`sqlite:${join(makeTempDir('store'), 'm.sqlite')}`))
    try {
      assert.ok(store instanceof SqliteStore)
      assert.equal(store.driver, expected)
    } finally {
      store.close()
    }
  })

  it("keeps node:sqlite's ExperimentalWarning out of the output, and only that warning", () => {
    const file = join(makeTempDir('store'), 'm.sqlite')
    const script = `
      import { openStore } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/monitor/store/index.ts'))}
      openStore(${JSON.stringify(`sqlite:${file}`)}).close()
      process.emitWarning('another feature is experimental', 'ExperimentalWarning')
      process.emitWarning('SQLite: something else', 'DeprecationWarning')
    `
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, PROBEKIT_SQLITE_DRIVER: '' },
    })
    assert.equal(child.status, 0, child.stderr)
    assert.doesNotMatch(child.stderr, /SQLite is an experimental feature/)
    assert.match(child.stderr, /ExperimentalWarning: another feature is experimental/)
    assert.match(child.stderr, /DeprecationWarning: SQLite: something else/)
  })

  it('follows PROBEKIT_SQLITE_DRIVER, and says so when the driver it names cannot load', () => {
    for (const driver of drivers) {
      const store = withDriverEnv(driver, () => openStore(`sqlite:${join(makeTempDir('store'), 'm.sqlite')}`))
      try {
        assert.equal((store as SqliteStore).driver, driver)
      } finally {
        store.close()
      }
    }
    const missing = (['node:sqlite', 'better-sqlite3'] as const).filter((d) => !drivers.includes(d))
    for (const driver of missing) {
      assert.throws(
        () => withDriverEnv(driver, () => openStore(`sqlite:${join(makeTempDir('store'), 'm.sqlite')}`)),
        (error: unknown) =>
          error instanceof SqliteMissingError &&
          error.message.startsWith(`the sqlite store was asked to use ${driver} (PROBEKIT_SQLITE_DRIVER), but `) &&
          error.message.endsWith(
            `; unset PROBEKIT_SQLITE_DRIVER to use ${driver === 'node:sqlite' ? 'better-sqlite3' : 'node:sqlite'}`,
          ),
      )
    }
    assert.throws(
      () => withDriverEnv('sqlite4', () => openStore(`sqlite:${join(makeTempDir('store'), 'm.sqlite')}`)),
      /^SqliteMissingError: PROBEKIT_SQLITE_DRIVER="sqlite4" is not a SQLite driver; use node:sqlite or better-sqlite3, or leave it unset$/,
    )
  })
})

/** The store's file and its write-ahead log, bytes. */
function sizeOnDisk(file: string): number {
  let size = statSync(file).size
  try {
    size += statSync(`${file}-wal`).size
  } catch {}
  return size
}

for (const driver of drivers) {
  describe(`sqlite store on disk (${driver})`, () => {
    const openAt = (file: string) => openStore(`sqlite:${file}`, { sqliteDriver: driver }) as SqliteStore

    it('gives the space of pruned history back: the file shrinks after pruning', () => {
      const file = join(makeTempDir('store'), 'big.sqlite')
      const store = openAt(file)
      try {
        const at = new Date(Date.now() - 1000).toISOString()
        for (let check = 0; check < 20; check++) {
          const transitions: Transition[] = []
          for (let i = 0; i < 500; i++)
            transitions.push({ ...transition(`c${check}`, i, at), output: `${i} ${'o'.repeat(1000)}` })
          store.addTransitions(transitions)
        }
        const full = sizeOnDisk(file)
        assert.ok(full > 10_000_000, `${full} bytes after writing 10,000 transitions`)
        store.prune(Date.now() + 31 * 24 * 3_600_000)
        assert.equal(store.transitions({}).length, 0)
        const pruned = sizeOnDisk(file)
        assert.ok(pruned < full / 10, `${full} bytes before pruning, ${pruned} after`)
        assert.equal(store.check(), 'ok')
      } finally {
        store.close()
      }
    })

    it('turns a store made without incremental vacuum into one with it, keeping what it holds', () => {
      const file = join(makeTempDir('store'), 'old.sqlite')
      const first = openAt(file)
      first.saveStates([state('a')])
      first.addTransitions([transition('a', 1, recent(1))])
      first.close()
      // What earlier probekits wrote: auto_vacuum off.
      const raw = openSqliteDatabase(file, { driver })
      raw.pragma('auto_vacuum = NONE')
      raw.exec('VACUUM')
      assert.equal(Object.values(raw.pragma('auto_vacuum')[0] ?? {})[0], 0)
      raw.close()

      const store = openAt(file)
      try {
        assert.deepEqual(store.loadStates(), [state('a')])
        assert.equal(store.transitions({}).length, 1)
      } finally {
        store.close()
      }
      const check = openSqliteDatabase(file, { driver, readonly: true })
      try {
        assert.equal(Object.values(check.pragma('auto_vacuum')[0] ?? {})[0], 2, 'auto_vacuum = INCREMENTAL')
      } finally {
        check.close()
      }
    })

    it('reads the history an older store kept with unknown ranked below passing, once upgraded', () => {
      const file = join(makeTempDir('store'), 'v1.sqlite')
      const first = openAt(file)
      const minute = (n: number) => new Date(Date.now() - n * 60_000).toISOString()
      first.addSamples([
        { id: 'n1/web/a', at: minute(3), state: 'unknown' },
        { id: 'n1/web/a', at: minute(2), state: 'passing' },
        { id: 'n1/web/a', at: minute(1), state: 'critical' },
      ])
      first.close()
      // What store version 1 wrote: unknown 0, passing 1.
      const raw = openSqliteDatabase(file, { driver })
      raw.exec('UPDATE history SET worst = CASE worst WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE worst END')
      raw.pragma('user_version = 1')
      raw.close()
      assert.throws(
        () => openStore(`sqlite:${file}`, { sqliteDriver: driver, readonly: true }),
        /written by an older probekit \(store version 1\); start "probekit monitor" on it once/,
      )
      const store = openAt(file)
      try {
        assert.deepEqual(
          store.history('n1/web/a').map((p) => p.state),
          ['unknown', 'passing', 'critical'],
        )
        store.addSamples([{ id: 'n1/web/a', at: minute(2), state: 'unknown' }])
        assert.equal(store.history('n1/web/a')[1]?.state, 'unknown', 'unknown outranks passing in a bucket')
      } finally {
        store.close()
      }
    })
  })
}

describe('sqlite store', () => {
  it('keeps everything across a close and reopen, and opens read-only for inspect', () => {
    const file = join(makeTempDir('store'), 'm.sqlite')
    const first = openStore(`sqlite:${file}`)
    first.saveStates([state('a', { successes: 2, failures: 0 })])
    first.addTransitions([transition('a', 1, recent(1))])
    first.close()
    const readonly = openStore(`sqlite:${file}`, { readonly: true })
    try {
      assert.deepEqual(readonly.loadStates(), [state('a', { successes: 2, failures: 0 })])
      assert.equal(readonly.transitions({}).length, 1)
      assert.throws(() => readonly.saveStates([state('b')]), /read-only/)
    } finally {
      readonly.close()
    }
  })

  it('prunes minute buckets, rollups and transitions past their retention', () => {
    const file = join(makeTempDir('store'), 'm.sqlite')
    const store = openStore(`sqlite:${file}`, {
      retention: {
        minutesMs: 3_600_000,
        hoursMs: 48 * 3_600_000,
        transitionsMs: 24 * 3_600_000,
        transitionsPerCheck: 2,
      },
    }) as SqliteStore
    try {
      const now = Date.now()
      const ago = (ms: number) => new Date(now - ms).toISOString()
      store.addSamples([
        { id: 'n1/web/a', at: ago(72 * 3_600_000), state: 'passing' },
        { id: 'n1/web/a', at: ago(5 * 3_600_000), state: 'critical' },
        { id: 'n1/web/a', at: ago(0), state: 'passing' },
      ])
      store.addTransitions([
        transition('a', 1, ago(48 * 3_600_000)),
        transition('a', 2, ago(3000)),
        transition('a', 3, ago(2000)),
        transition('a', 4, ago(1000)),
      ])
      store.prune(now)
      assert.deepEqual(
        store.history('n1/web/a').map((p) => p.state),
        ['critical', 'passing'],
        'the 72-hour-old rollup is gone; the 5-hour-old one is served hourly, the recent minute as a minute',
      )
      assert.deepEqual(
        store.transitions({}).map((t) => t.index),
        [3, 4],
      )
      assert.equal(store.check(), 'ok')
    } finally {
      store.close()
    }
  })

  it('opens cleanly after the writing process is killed with SIGKILL mid-write', async () => {
    const file = join(makeTempDir('store'), 'killed.sqlite')
    const writer = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, '../fixtures/monitor/store-writer.ts'), file],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    writer.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    try {
      await waitFor('the writer to commit its first batch', () => out.includes('writing'), 30_000)
      await sleep(400)
    } finally {
      writer.kill('SIGKILL')
    }
    await new Promise((r) => writer.once('exit', r))
    const store = openStore(`sqlite:${file}`) as SqliteStore
    try {
      assert.equal(store.check(), 'ok')
      const states = store.loadStates()
      assert.equal(states.length, 200, 'every committed batch is whole')
      const transitions = store.transitions({ limit: 1_000_000 })
      assert.ok(
        transitions.length >= 200 && transitions.length % 200 === 0,
        `${transitions.length} transitions, whole batches`,
      )
      // And it keeps working.
      store.saveStates([state('after')])
      assert.ok(store.loadStates().some((s) => s.check === 'after'))
    } finally {
      store.close()
    }
  })
})

describe('openStore', () => {
  it('explains a store it cannot open in one sentence', () => {
    const dir = makeTempDir('store')
    const notADb = join(dir, 'notes.txt')
    writeFileSync(notADb, 'this is not a database, just some text that is long enough to have a header'.repeat(20))
    const cases: [string, { readonly?: boolean }, RegExp][] = [
      ['postgres://x', {}, /^--store "postgres:\/\/x" is not a store; use sqlite:FILE \(e\.g\. .*\) or memory$/],
      [
        'sqlite:/nonexistent/dir/m.sqlite',
        {},
        /^cannot create the store .*: the directory \/nonexistent\/dir does not exist; create it or choose another path$/,
      ],
      [`sqlite:${notADb}`, {}, /is not a SQLite database; point --store at a probekit store or a new file$/],
      [
        `sqlite:${join(dir, 'missing.sqlite')}`,
        { readonly: true },
        /^there is no store at .*missing\.sqlite; start "probekit monitor --store sqlite:.*" first, or fix the path$/,
      ],
      ['memory', { readonly: true }, /a memory store keeps nothing to read/],
    ]
    for (const [spec, options, expected] of cases) {
      assert.throws(
        () => openStore(spec, options),
        (error: unknown) => error instanceof StoreError && expected.test(error.message),
        spec,
      )
    }
  })
})
