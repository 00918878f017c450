import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { sqlite } from '../../src/probes/sqlite.js'
import { makeTempDir } from '../support/server-process.js'

const run = (probe: Probe) => runProbe(probe, { timeoutMs: 2000 })

/** An app's database handle, as each driver gives one. */
interface AppDatabase {
  exec(sql: string): void
  close(): void
}

type NodeSqliteModule = { DatabaseSync: new (path: string) => AppDatabase & { prepare(sql: string): unknown } }
const nodeSqlite = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite') as
  | NodeSqliteModule
  | undefined

/**
 * The drivers this Node can open a database with: better-sqlite3's native part is built
 * for the machine's Node (the lockfile's install), node:sqlite exists from Node 22.5. The
 * app-database cases run for each; every Node line has at least one.
 */
function appDrivers(): { name: string; open: (file: string) => AppDatabase }[] {
  const drivers: { name: string; open: (file: string) => AppDatabase }[] = []
  try {
    new Database(':memory:').close()
    drivers.push({ name: 'better-sqlite3', open: (f) => new Database(f) })
  } catch (error) {
    // Only a native part built for another Node may be missing; anything else is a failure.
    if (!/NODE_MODULE_VERSION|bindings file/.test((error as Error).message)) throw error
  }
  if (nodeSqlite) drivers.push({ name: 'node:sqlite', open: (f) => new nodeSqlite.DatabaseSync(f) })
  return drivers
}

const DRIVERS = appDrivers()

it('the running Node can open SQLite with better-sqlite3 or node:sqlite', () => {
  assert.ok(DRIVERS.length > 0, `no SQLite driver loads on Node ${process.versions.node}`)
})

for (const driver of DRIVERS)
  describe(`sqlite probe against real SQLite files (the app's ${driver.name} database)`, () => {
    let dir: string
    let file: string
    let db: AppDatabase

    before(() => {
      dir = makeTempDir('sqlite')
      file = join(dir, 'app.db')
      db = driver.open(file)
      db.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO jobs (name) VALUES (1)')
    })

    after(() => {
      try {
        db.close()
      } catch {}
    })

    it("passes SELECT 1 with the app's database", async () => {
      const result = await run(sqlite(db as never))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'sqlite')
      assert.equal(result.output, 'SELECT 1')
      assert.equal(result.observedUnit, 'ms')
      assert.equal(result.componentType, 'datastore')
      assert.equal(result.componentId, file)
    })

    it('runs PRAGMA quick_check when asked', async () => {
      const result = await run(sqlite(db as never, { quickCheck: true, groups: ['startup'] }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'quick_check ok')
    })

    it('passes with a file path, opened read-only for the check', async () => {
      const result = await run(sqlite(file, { name: 'store' }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'store')
      assert.equal(result.componentId, file)
    })

    it('fails when the file does not exist, without creating it', async () => {
      const missing = join(dir, 'missing.db')
      const result = await run(sqlite(missing))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `sqlite ${missing}: the database file does not exist`)
      assert.equal(existsSync(missing), false)
    })

    it('fails on a file that is not a database', async () => {
      const junk = join(dir, 'junk.db')
      writeFileSync(junk, 'this is not a database file, just text that is long enough to have a header '.repeat(20))
      const result = await run(sqlite(junk, { quickCheck: true }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /file is not a database/)
    })

    it('fails on a directory, saying so rather than "disk I/O error"', async () => {
      const result = await run(sqlite(dir))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `sqlite ${dir}: is a directory, not a database file`)
    })

    it('fails when the database is closed', async () => {
      const other = driver.open(join(dir, 'other.db'))
      const probe = sqlite(other as never)
      other.close()
      const result = await run(probe)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /the database is closed/)
    })

    it('rejects what is neither a database nor a path in one sentence', () => {
      assert.throws(
        () => sqlite({} as never),
        /expected a better-sqlite3 Database, a node:sqlite DatabaseSync or a file path/,
      )
      assert.throws(() => sqlite(''), /the path is empty/)
    })

    it('uses node:sqlite DatabaseSync where the running Node has it (Node 22.5+; absent on Node 20)', async () => {
      const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite') as
        | { DatabaseSync: new (path: string) => { prepare(sql: string): { get(): unknown }; close(): void } }
        | undefined
      const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
      const expected = major > 22 || (major === 22 && minor >= 5)
      assert.equal(builtin !== undefined, expected, `node:sqlite presence on Node ${process.versions.node}`)
      if (!builtin) return
      const native = new builtin.DatabaseSync(file)
      try {
        const result = await run(sqlite(native))
        assert.equal(result.status, 'pass', result.output)
        assert.equal(result.output, 'SELECT 1')
      } finally {
        native.close()
      }
    })
  })
