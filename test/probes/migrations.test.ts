import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import knexFactory, { type Knex } from 'knex'
import { runner } from 'node-pg-migrate'
import pg from 'pg'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { createHealth } from '../../src/health.js'
import { migrations } from '../../src/probes/migrations.js'
import { makeTempDir } from '../support/server-process.js'
import { type PostgresServer, startPostgres } from '../support/servers/postgres.js'

const run = (probe: Probe) => runProbe(probe, { timeoutMs: 5000 })

/** The table exactly as Prisma creates it (prisma itself cannot be installed here: its engines are downloaded binaries). */
const PRISMA_TABLE = `
CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

describe('migrations probe against a real PostgreSQL', () => {
  let server: PostgresServer

  before(async () => {
    server = await startPostgres()
  })

  after(async () => {
    await server?.stop()
  })

  it('belongs to startup, not ready, by default', () => {
    const probe = migrations({ tool: 'prisma', db: server.url })
    assert.deepEqual(probe.groups, ['startup'])
    assert.equal(probe.name, 'migrations')
    assert.throws(() => migrations({} as never), /expected a knex instance/)
  })

  describe('knex', () => {
    let knex: Knex
    let dir: string

    before(async () => {
      const url = await server.createDatabase('knex_app')
      dir = makeTempDir('knex-migrations')
      writeFileSync(
        join(dir, '20240101000000_create_users.cjs'),
        `exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id'); t.string('name') })
exports.down = (knex) => knex.schema.dropTable('users')\n`,
      )
      writeFileSync(
        join(dir, '20240102000000_add_email.cjs'),
        `exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.string('email') })
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropColumn('email') })\n`,
      )
      knex = knexFactory({ client: 'pg', connection: url, migrations: { directory: dir, loadExtensions: ['.cjs'] } })
    })

    after(async () => {
      await knex?.destroy()
    })

    it('fails when nothing was ever applied, without creating the migrations table', async () => {
      const result = await run(migrations(knex))
      assert.equal(result.status, 'fail')
      assert.equal(
        result.output,
        'migrations (knex): the knex_migrations table does not exist; no migration has been applied',
      )
      assert.equal(await knex.schema.hasTable('knex_migrations'), false)
    })

    it('fails naming the pending migration when one of two is applied', async () => {
      await knex.migrate.up()
      const result = await run(migrations(knex))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, 'migrations (knex): 1 pending: 20240102000000_add_email.cjs')
    })

    it('passes once every migration is applied, and keeps readiness out of it', async () => {
      await knex.migrate.latest()
      const result = await run(migrations({ tool: 'knex', knex }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, '2 applied, none pending')
      assert.equal(result.observedValue, 2)

      await knex.migrate.down()
      const health = createHealth({ logger: false })
      health.add(migrations(knex))
      assert.equal((await health.run('ready')).status, 'pass')
      const startup = await health.run('startup')
      assert.equal(startup.status, 'fail')
      assert.ok(startup.checks.some((c) => c.name === 'migrations' && c.status === 'fail'))
      await health.close()
      await knex.migrate.latest()
    })
  })

  describe('knex with its own migrations settings', () => {
    let knex: Knex

    before(async () => {
      const url = await server.createDatabase('knex_settings')
      const dir = makeTempDir('knex-settings')
      writeFileSync(
        join(dir, '20240101000000_create_users.cjs'),
        `exports.up = (knex) => knex.schema.createTable('users', (t) => { t.increments('id') })
exports.down = (knex) => knex.schema.dropTable('users')\n`,
      )
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      await admin.query('CREATE SCHEMA ops')
      await admin.end()
      knex = knexFactory({
        client: 'pg',
        connection: url,
        migrations: { directory: dir, loadExtensions: ['.cjs'], tableName: 'schema_migrations', schemaName: 'ops' },
      })
    })

    after(async () => {
      await knex?.destroy()
    })

    it("reads the table the instance's own settings name, before and after migrating", async () => {
      // The instance's tableName and schemaName are what knex.migrate.list() reads; the
      // probe looked for public.knex_migrations whatever the instance said.
      const before = await run(migrations(knex))
      assert.equal(before.status, 'fail')
      assert.equal(
        before.output,
        'migrations (knex): the schema_migrations table does not exist; no migration has been applied',
      )
      await knex.migrate.latest()
      assert.equal(await knex.schema.hasTable('knex_migrations'), false)
      for (const source of [knex, { tool: 'knex' as const, knex }]) {
        const result = await run(migrations(source))
        assert.equal(result.status, 'pass', result.output)
        assert.equal(result.output, '1 applied, none pending')
      }
      // A config given to the probe still wins, key by key.
      const other = await run(migrations({ tool: 'knex', knex, config: { tableName: 'other_migrations' } }))
      assert.equal(
        other.output,
        'migrations (knex): the other_migrations table does not exist; no migration has been applied',
      )
    })

    it("keeps at most one reading in knex's pool while PostgreSQL is frozen, and passes after SIGCONT", async () => {
      // knex queries cannot be cancelled: each check that timed out left its query waiting
      // for a connection, one more a check, and the app's own queries queued behind them.
      const pool = (knex as unknown as { client: { pool: { numUsed(): number; numPendingAcquires(): number } } }).client
        .pool
      const probe = migrations(knex)
      assert.equal((await run(probe)).status, 'pass')
      server.process.freeze()
      try {
        for (let i = 0; i < 20; i++) {
          const result = await runProbe(probe, { timeoutMs: 50 })
          assert.equal(result.output, 'timed out after 50 ms')
        }
        assert.ok(
          pool.numUsed() + pool.numPendingAcquires() <= 1,
          `knex's pool holds ${pool.numUsed()} used and ${pool.numPendingAcquires()} pending`,
        )
      } finally {
        server.process.thaw()
      }
      const after = await run(probe)
      assert.equal(after.status, 'pass', after.output)
    })
  })
  describe('node-pg-migrate', () => {
    let url: string
    let dir: string

    before(async () => {
      url = await server.createDatabase('npm_app')
      dir = makeTempDir('pg-migrations')
      writeFileSync(
        join(dir, '1700000000000_create-accounts.cjs'),
        `exports.up = (pgm) => { pgm.createTable('accounts', { id: 'id', name: { type: 'text' } }) }
exports.down = (pgm) => { pgm.dropTable('accounts') }\n`,
      )
      writeFileSync(
        join(dir, '1700000000001_add-balance.cjs'),
        `exports.up = (pgm) => { pgm.addColumn('accounts', { balance: { type: 'integer', default: 0 } }) }
exports.down = (pgm) => { pgm.dropColumn('accounts', 'balance') }\n`,
      )
    })

    const migrate = (count: number) =>
      runner({
        databaseUrl: url,
        dir,
        direction: 'up',
        count,
        migrationsTable: 'pgmigrations',
        log: () => {},
      })

    it('fails naming every migration when none was applied', async () => {
      const result = await run(migrations({ tool: 'node-pg-migrate', db: url, dir }))
      assert.equal(result.status, 'fail')
      assert.equal(
        result.output,
        'migrations (node-pg-migrate): 2 pending: 1700000000000_create-accounts, 1700000000001_add-balance',
      )
    })

    it('fails naming the pending migration, then passes once all are applied (with a pg Pool)', async () => {
      await migrate(1)
      const pool = new pg.Pool({ connectionString: url })
      try {
        const pending = await run(migrations({ tool: 'node-pg-migrate', db: pool, dir }))
        assert.equal(pending.status, 'fail')
        assert.equal(pending.output, 'migrations (node-pg-migrate): 1 pending: 1700000000001_add-balance')
        await migrate(1)
        const done = await run(migrations({ tool: 'node-pg-migrate', db: pool, dir }))
        assert.equal(done.status, 'pass', done.output)
        assert.equal(done.output, '2 applied, none pending')
        assert.equal(pool.totalCount - pool.idleCount, 0)
      } finally {
        await pool.end()
      }
    })

    it('fails in one sentence when the migrations directory is missing', async () => {
      const missing = join(dir, 'nope')
      const result = await run(migrations({ tool: 'node-pg-migrate', db: url, dir: missing }))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `migrations: cannot read the migrations directory ${missing} (ENOENT)`)
    })
  })

  describe('Prisma', () => {
    let url: string
    let client: pg.Client
    let dir: string

    before(async () => {
      url = await server.createDatabase('prisma_app')
      client = new pg.Client({ connectionString: url })
      await client.connect()
      dir = makeTempDir('prisma-migrations')
      for (const name of ['20240101000000_init', '20240201000000_add_posts', '20240301000000_add_tags']) {
        mkdirSync(join(dir, name))
        writeFileSync(join(dir, name, 'migration.sql'), '-- sql\n')
      }
      writeFileSync(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n')
    })

    after(async () => {
      await client?.end()
    })

    const row = (id: string, name: string, finished: boolean, rolledBack = false) =>
      client.query(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, applied_steps_count)
         VALUES ($1, $2, ${finished ? 'now()' : 'NULL'}, $3, $4, ${rolledBack ? 'now()' : 'NULL'}, ${finished ? 1 : 0})`,
        [id, 'c'.repeat(64), name, finished ? null : 'error: relation "posts" already exists'],
      )

    it('fails naming the migrations in the directory when the table does not exist yet', async () => {
      const result = await run(migrations({ tool: 'prisma', db: url, dir }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /^migrations \(prisma\): 3 pending: 20240101000000_init, /)
    })

    it('fails without the directory too when the table does not exist, rather than pass as "0 applied"', async () => {
      // The URL of another database, or a misspelt schema, read as a schema with nothing to apply.
      const result = await run(migrations({ tool: 'prisma', db: url }))
      assert.equal(result.status, 'fail')
      assert.equal(
        result.output,
        "migrations (prisma): the public._prisma_migrations table does not exist; no migration has been applied (or the database or schema is not the app's)",
      )
    })

    it('passes when every migration finished', async () => {
      await client.query(PRISMA_TABLE)
      await row('a1', '20240101000000_init', true)
      await row('a2', '20240201000000_add_posts', true)
      await row('a3', '20240301000000_add_tags', true)
      const result = await run(migrations({ tool: 'prisma', db: client, dir }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, '3 applied, none pending')
    })

    it('fails naming a migration that is in the directory but not applied', async () => {
      mkdirSync(join(dir, '20240401000000_add_comments'))
      writeFileSync(join(dir, '20240401000000_add_comments', 'migration.sql'), '-- sql\n')
      const result = await run(migrations({ tool: 'prisma', db: client, dir }))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, 'migrations (prisma): 1 pending: 20240401000000_add_comments')
      // Without the directory only the table is read: everything in it finished.
      assert.equal((await run(migrations({ tool: 'prisma', db: url }))).status, 'pass')
    })

    it('fails naming a failed migration (finished_at null, not rolled back)', async () => {
      await row('b1', '20240401000000_add_comments', false)
      const result = await run(migrations({ tool: 'prisma', db: url }))
      assert.equal(result.status, 'fail')
      assert.equal(
        result.output,
        'migrations (prisma): 1 failed or unfinished: 20240401000000_add_comments; resolve with prisma migrate resolve',
      )
    })

    it('counts a rolled-back migration as pending, and passes once it is applied again', async () => {
      await client.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = 'b1'`)
      const rolledBack = await run(migrations({ tool: 'prisma', db: url }))
      assert.equal(rolledBack.status, 'fail')
      assert.equal(rolledBack.output, 'migrations (prisma): 1 pending: 20240401000000_add_comments')
      await row('b2', '20240401000000_add_comments', true)
      const result = await run(migrations({ tool: 'prisma', db: url, dir }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, '4 applied, none pending')
    })

    it('fails with the database reason when PostgreSQL refuses the credentials', async () => {
      const wrong = server.urlFor('prisma_app', { user: server.user, password: 'wrong-migr-pass' })
      const result = await run(migrations({ tool: 'prisma', db: wrong }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /authentication failed \(28P01\)/)
      assert.doesNotMatch(JSON.stringify(result), /wrong-migr-pass/)
    })
  })
})
