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
import type { Transition } from '../../src/monitor/types.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { recent, state, storeContract, transition } from '../support/store-contract.js'

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

storeContract('memory', (options) => new MemoryStore(options?.retention))
for (const driver of drivers)
  storeContract(`sqlite (${driver})`, (options) =>
    openStore(`sqlite:${join(makeTempDir('store'), 'monitor.sqlite')}`, {
      sqliteDriver: driver,
      ...(options?.retention ? { retention: options.retention } : {}),
    }),
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
      [
        'postgres://x',
        {},
        /^--store "postgres:\/\/x" is not a store; use sqlite:FILE \(e\.g\. .*\), etcd:\/\/HOST:PORT\/PREFIX \(replicas sharing a fleet\) or memory$/,
      ],
      [
        'sqlite:/nonexistent/dir/m.sqlite',
        {},
        /^cannot create the store .*: the directory \/nonexistent\/dir does not exist; create it or choose another path$/,
      ],
      [`sqlite:${notADb}`, {}, /is not a SQLite database; point --store at a probekit store or a new file$/],
      [
        `sqlite:${dir}`,
        {},
        /^\/.* is a directory; the store is a file: name one in it, e\.g\. --store sqlite:\/.*\/monitor\.sqlite$/,
      ],
      [`sqlite:${dir}`, { readonly: true }, / is a directory; the store is a file/],
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
