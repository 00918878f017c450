import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import postgresJs from 'postgres'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { createHealth } from '../../src/health.js'
import { postgres } from '../../src/probes/postgres.js'
import { assertOnTime, timedCheck } from '../support/deadline.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { waitFor } from '../support/server-process.js'
import { type PostgresServer, startPostgres } from '../support/servers/postgres.js'

const run = (probe: Probe, timeoutMs = 3000) => runProbe(probe, { timeoutMs })

async function timed(probe: Probe, timeoutMs: number) {
  const started = performance.now()
  const result = await runProbe(probe, { timeoutMs })
  return { result, elapsedMs: performance.now() - started }
}

function newPool(url: string, max = 4) {
  const pool = new pg.Pool({ connectionString: url, max })
  // An app must listen for idle-client errors (a killed server); the probe never adds listeners.
  pool.on('error', () => {})
  return pool
}

describe('postgres probe against a real PostgreSQL', () => {
  let server: PostgresServer
  let pool: pg.Pool
  let client: pg.Client
  let sql: ReturnType<typeof postgresJs>
  let garbage: FaultServer
  let blackhole: FaultServer

  before(async () => {
    ;[server, garbage, blackhole] = await Promise.all([startPostgres(), garbageServer(), blackholeServer()])
    pool = newPool(server.url)
    client = new pg.Client({ connectionString: server.url })
    client.on('error', () => {})
    await client.connect()
    sql = postgresJs(server.url, { onnotice: () => {}, max: 2 })
  })

  after(async () => {
    await Promise.allSettled([pool?.end(), client?.end(), sql?.end({ timeout: 1 })])
    await Promise.all([server?.stop(), garbage?.close(), blackhole?.close()])
  })

  it('passes SELECT 1 with a pg Pool, a pg Client, postgres.js and a URL, reporting the latency', async () => {
    for (const probe of [postgres(pool), postgres(client), postgres(sql), postgres(server.url)]) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'postgres')
      assert.equal(result.output, 'SELECT 1')
      assert.equal(result.observedUnit, 'ms')
      assert.equal(typeof result.observedValue, 'number')
      assert.equal(result.componentType, 'datastore')
      assert.equal(result.componentId, `127.0.0.1:${server.port}/postgres`)
    }
    assert.equal(pool.totalCount - pool.idleCount, 0, 'the pooled connection went back to the pool')
  })

  it('checks each database of an app with several, one probe per database', async () => {
    const reportingUrl = await server.createDatabase('reporting')
    const reporting = newPool(reportingUrl)
    try {
      const health = createHealth({ logger: false })
      health.add(postgres(pool))
      health.add(postgres(reporting, { name: 'reporting-db', critical: false }))
      const report = await health.run('ready')
      assert.equal(report.status, 'pass')
      assert.deepEqual(
        report.checks.filter((c) => c.name !== 'lifecycle').map((c) => [c.name, c.componentId]),
        [
          ['postgres', `127.0.0.1:${server.port}/postgres`],
          ['reporting-db', `127.0.0.1:${server.port}/reporting`],
        ],
      )
      await health.close()
    } finally {
      await reporting.end()
    }
  })

  it('rejects what is neither a client nor a postgres URL in one sentence', () => {
    assert.throws(() => postgres('mysql://u:p@h/db'), /must start with postgres:\/\/ or postgresql:\/\//)
    assert.throws(() => postgres({} as never), /expected a pg Pool or Client, a postgres.js sql instance/)
  })

  it('fails on a wrong password with a reason naming authentication and no password', async () => {
    const wrongUrl = server.urlFor('postgres', { user: server.user, password: 'wrong-pg-pass-31' })
    const wrongPool = newPool(wrongUrl)
    const wrongSql = postgresJs(wrongUrl, { onnotice: () => {} })
    try {
      for (const probe of [postgres(wrongUrl), postgres(wrongPool), postgres(wrongSql)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.match(result.output ?? '', /authentication failed \(28P01\)/)
        assert.doesNotMatch(JSON.stringify(result), /wrong-pg-pass-31/)
        assert.doesNotMatch(JSON.stringify(result), new RegExp(server.password))
      }
    } finally {
      await wrongPool.end()
      await wrongSql.end({ timeout: 1 })
    }
  })

  it('fails on a port that answers garbage, without crashing', async () => {
    const result = await run(postgres(`postgres://u:p@${garbage.address}/db`), 800)
    assert.equal(result.status, 'fail')
    const garbagePool = new pg.Pool({
      connectionString: `postgres://u:p@${garbage.address}/db`,
      connectionTimeoutMillis: 500,
    })
    garbagePool.on('error', () => {})
    try {
      assert.equal((await run(postgres(garbagePool), 800)).status, 'fail')
    } finally {
      await garbagePool.end().catch(() => {})
    }
  })

  it('fails by the connect timeout on an address that never accepts (URL)', async () => {
    const { result, elapsedMs } = await timed(
      postgres(`postgres://u:p@${blackhole.address}/db`, { connectTimeout: 300 }),
      2000,
    )
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `postgres ${blackhole.address}/db: connect timed out after 300 ms`)
    assert.ok(elapsedMs < 700, `took ${elapsedMs} ms`)
  })

  it('fails within its deadline plus 100 ms while PostgreSQL is frozen, and passes after SIGCONT with the same pool and clients', async () => {
    const probes = [postgres(pool), postgres(client), postgres(sql), postgres(server.url)]
    server.process.freeze()
    try {
      for (const probe of probes) {
        const check = await timedCheck(probe, 300)
        const { result } = check
        assert.equal(result.status, 'fail')
        assert.equal(result.output, 'timed out after 300 ms')
        assertOnTime(check, 300)
      }
    } finally {
      server.process.thaw()
    }
    for (const probe of probes) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
    }
  })

  it("never drains the app's pool: a stuck query's connection is destroyed, not kept checked out", async () => {
    const small = newPool(server.url, 2)
    try {
      await run(postgres(small))
      server.process.freeze()
      try {
        await repeat(30, 5, () => run(postgres(small), 30))
        // At most one connection attempt of the probe's may still be pending in the pool.
        assert.ok(small.waitingCount <= 1, `${small.waitingCount} waiting`)
      } finally {
        server.process.thaw()
      }
      const result = await run(postgres(small))
      assert.equal(result.status, 'pass', result.output)
      const rows = await small.query('SELECT 2 AS two')
      assert.equal(rows.rows[0].two, 2)
      assert.equal(small.totalCount - small.idleCount, 0, 'no connection left checked out')
    } finally {
      await small.end()
    }
  })

  it('leaves no sockets, timers or listeners behind after 200 checks timed out against a frozen PostgreSQL', async () => {
    const kinds: [string, () => { probe: Probe; close: () => Promise<unknown> }][] = [
      [
        'pg Pool',
        () => {
          const p = newPool(server.url)
          return { probe: postgres(p), close: () => p.end() }
        },
      ],
      ['pg Client', () => ({ probe: postgres(client), close: async () => {} })],
      [
        'postgres.js',
        () => {
          const s = postgresJs(server.url, { onnotice: () => {}, max: 2 })
          return { probe: postgres(s), close: () => s.end({ timeout: 1 }) }
        },
      ],
      ['URL', () => ({ probe: postgres(server.url), close: async () => {} })],
    ]
    const clientListeners = client.eventNames().map((n) => client.listenerCount(n))
    for (const [kind, make] of kinds) {
      await expectNoLeakedResources(async () => {
        const { probe, close } = make()
        assert.equal((await run(probe)).status, 'pass', kind)
        server.process.freeze()
        try {
          await repeat(200, 20, async () => {
            const result = await run(probe, 25)
            assert.equal(result.status, 'fail', `${kind}: ${result.output}`)
          })
        } finally {
          server.process.thaw()
        }
        // PostgreSQL first works through the connections queued while it was frozen.
        await waitFor(`${kind} to pass again`, async () => (await run(probe)).status === 'pass', 20_000, 200)
        await close()
      }, 5000)
    }
    assert.deepEqual(
      client.eventNames().map((n) => client.listenerCount(n)),
      clientListeners,
    )
  })

  it('fails with a clear reason when PostgreSQL is down', async () => {
    await server.process.kill()
    try {
      // The pool's idle connections die with the server; until pg has noticed, a check may
      // still be handed one ("the server closed the connection"), which is the same outage
      // seen a moment earlier. From then on every way in is refused: that is what is asserted.
      await waitFor('the pool to drop its dead connections', () => pool.idleCount === 0, 5000)
      for (const probe of [postgres(server.url), postgres(pool), postgres(sql)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, `postgres 127.0.0.1:${server.port}/postgres: connection refused (ECONNREFUSED)`)
      }
      // The app's single Client lost its connection for good; the reason says what to do.
      const viaClient = await run(postgres(client))
      assert.equal(viaClient.status, 'fail')
      assert.match(viaClient.output ?? '', /the client is closed; the app must reconnect|connection/)
    } finally {
      await server.process.start()
    }
    assert.equal((await run(postgres(pool))).status, 'pass')
  })
})
