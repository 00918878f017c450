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

describe('sqlite probe against real SQLite files', () => {
  let dir: string
  let file: string
  let db: Database.Database

  before(() => {
    dir = makeTempDir('sqlite')
    file = join(dir, 'app.db')
    db = new Database(file)
    db.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO jobs (name) VALUES (1)')
  })

  after(() => {
    if (db.open) db.close()
  })

  it("passes SELECT 1 with the app's better-sqlite3 database", async () => {
    const result = await run(sqlite(db))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'sqlite')
    assert.equal(result.output, 'SELECT 1')
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentType, 'datastore')
    assert.equal(result.componentId, file)
  })

  it('runs PRAGMA quick_check when asked', async () => {
    const result = await run(sqlite(db, { quickCheck: true, groups: ['startup'] }))
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

  it('fails when the database is closed', async () => {
    const other = new Database(join(dir, 'other.db'))
    const probe = sqlite(other)
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
