import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mysql2 from 'mysql2'
import mysql2Promise from 'mysql2/promise'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { mysql } from '../../src/probes/mysql.js'
import { assertOnTime, timedCheck } from '../support/deadline.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { waitFor } from '../support/server-process.js'
import { type MariaDbServer, startMariaDb } from '../support/servers/mariadb.js'

const run = (probe: Probe, timeoutMs = 3000) => runProbe(probe, { timeoutMs })

async function timed(probe: Probe, timeoutMs: number) {
  const started = performance.now()
  const result = await runProbe(probe, { timeoutMs })
  return { result, elapsedMs: performance.now() - started }
}

describe('mysql probe against a real MariaDB', () => {
  let server: MariaDbServer
  let pool: ReturnType<typeof mysql2.createPool>
  let promisePool: ReturnType<typeof mysql2Promise.createPool>
  let connection: Awaited<ReturnType<typeof mysql2Promise.createConnection>>
  let garbage: FaultServer
  let blackhole: FaultServer

  before(async () => {
    ;[server, garbage, blackhole] = await Promise.all([startMariaDb(), garbageServer(), blackholeServer()])
    pool = mysql2.createPool({ uri: server.url, connectionLimit: 4 })
    promisePool = mysql2Promise.createPool({ uri: server.url, connectionLimit: 4 })
    connection = await mysql2Promise.createConnection(server.url)
    connection.on('error', () => {})
  })

  after(async () => {
    await Promise.allSettled([new Promise((r) => pool?.end(r)), promisePool?.end(), connection?.end()])
    await Promise.all([server?.stop(), garbage?.close(), blackhole?.close()])
  })

  it('passes SELECT 1 with a pool and a connection (callback and promise API) and a URL, reporting the latency', async () => {
    for (const probe of [mysql(pool), mysql(promisePool), mysql(connection), mysql(server.url)]) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'mysql')
      assert.equal(result.output, 'SELECT 1')
      assert.equal(result.observedUnit, 'ms')
      assert.equal(typeof result.observedValue, 'number')
      assert.equal(result.componentType, 'datastore')
      assert.equal(result.componentId, `127.0.0.1:${server.port}/probekit`)
    }
  })

  it('accepts mariadb:// URLs and rejects what is neither a client nor a URL in one sentence', async () => {
    const result = await run(mysql(server.url.replace('mysql://', 'mariadb://'), { name: 'maria' }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'maria')
    assert.throws(() => mysql('postgres://u:p@h/db'), /must start with mysql:\/\/ or mariadb:\/\//)
    assert.throws(() => mysql({} as never), /expected a mysql2 pool or connection/)
  })

  it("connects through the server's Unix socket with ?socket=, and says clearly when no server made it", async () => {
    const viaSocket = `mysql://root@localhost/mysql?socket=${encodeURIComponent(server.socket)}`
    const result = await run(mysql(viaSocket))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.componentId, `${server.socket}/mysql`)
    const missing = await run(mysql(`mysql://root@localhost/mysql?socket=${server.socket}.gone`))
    assert.equal(missing.status, 'fail')
    assert.equal(
      missing.output,
      `mysql ${server.socket}.gone/mysql: no socket at ${server.socket}.gone: is the server running, with its socket there? (ENOENT)`,
    )
    assert.throws(
      () => mysql('mysql://root@localhost/db?socket=mysqld.sock'),
      /socket="mysqld\.sock"; write the socket's absolute path/,
    )
  })

  it('fails on a wrong password with a reason naming authentication and no password', async () => {
    const wrongUrl = `mysql://${server.user}:wrong-maria-pass-8@127.0.0.1:${server.port}/probekit`
    const wrongPool = mysql2.createPool({ uri: wrongUrl })
    try {
      for (const probe of [mysql(wrongUrl), mysql(wrongPool)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.match(result.output ?? '', /authentication failed \(ER_ACCESS_DENIED_ERROR\)/)
        assert.doesNotMatch(JSON.stringify(result), /wrong-maria-pass-8/)
        assert.doesNotMatch(JSON.stringify(result), new RegExp(server.password))
      }
    } finally {
      await new Promise((r) => wrongPool.end(r))
    }
  })

  it('says the pool is closed, like a closed connection, rather than "Pool is closed."', async () => {
    const ended = mysql2Promise.createPool(server.url)
    await ended.end()
    const result = await run(mysql(ended))
    assert.equal(
      result.output,
      `mysql ${server.host}:${server.port}/${server.database}: the pool is closed (pool.end() was called); the app must make a new one`,
    )
  })

  it('names an authentication plugin mysql2 does not speak (MariaDB ed25519) and the way out', async () => {
    // mysql2's own words end in "See TODO: add plugins doco here on how to configure…".
    const root = await mysql2Promise.createConnection({ socketPath: server.socket, user: 'root' })
    try {
      await root.query("INSTALL SONAME 'auth_ed25519'").catch(() => {}) // loaded already by an earlier run
      await root.query("CREATE USER IF NOT EXISTS 'edapp'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-Secret-3')")
    } finally {
      await root.end()
    }
    const result = await run(mysql(`mysql://edapp:ed-Secret-3@${server.host}:${server.port}/${server.database}`))
    assert.equal(
      result.output,
      `mysql ${server.host}:${server.port}/${server.database}: the server asks for the authentication plugin client_ed25519, which mysql2 does not speak (AUTH_SWITCH_PLUGIN_ERROR); give the user mysql_native_password or caching_sha2_password, or check the app's own mysql2 pool, where authPlugins can add it`,
    )
  })

  it('fails on a port that answers garbage at once, saying what it answered, before any deadline', async () => {
    // mysql2 takes the first three bytes as a packet's length and waits for that much: the
    // check used to wait until its connect timeout, which said nothing about the port.
    const ssh = await garbageServer('SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n')
    try {
      for (const [fault, said] of [
        [garbage, 'HTTP/9.9 garbage ...........'],
        [ssh, 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13..'],
      ] as const) {
        const { result, elapsedMs } = await timed(
          mysql(`mysql://u:secret-pw@${fault.address}/db`, { connectTimeout: 10_000 }),
          15_000,
        )
        assert.equal(result.output, `mysql ${fault.address}/db: not a MySQL server (it greeted with "${said}")`)
        assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`)
      }
    } finally {
      await ssh.close()
    }
  })

  it("keeps the server's own error when it greets with one (too many connections)", async () => {
    // A server at max_connections greets with an error packet (0xff): that is MySQL speaking.
    const text = Buffer.from('#08004Too many connections')
    const payload = Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), text])
    const header = Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0])
    const full = await garbageServer(Buffer.concat([header, payload]))
    try {
      const result = await run(mysql(`mysql://u:p@${full.address}/db`, { connectTimeout: 10_000 }), 15_000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /Too many connections/)
      assert.doesNotMatch(result.output ?? '', /not a MySQL server/)
    } finally {
      await full.close()
    }
  })

  it('fails by the connect timeout on an address that never accepts (URL)', async () => {
    const { result, elapsedMs } = await timed(
      mysql(`mysql://u:p@${blackhole.address}/db`, { connectTimeout: 300 }),
      2000,
    )
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `mysql ${blackhole.address}/db: connect timed out after 300 ms`)
    assert.ok(elapsedMs < 700, `took ${elapsedMs} ms`)
  })

  it('fails within its deadline plus 100 ms while MariaDB is frozen, and passes after SIGCONT with the same pool and connection', async () => {
    const probes = [mysql(pool), mysql(promisePool), mysql(connection), mysql(server.url)]
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

  it("never drains the app's pool while MariaDB is frozen", async () => {
    const small = mysql2.createPool({ uri: server.url, connectionLimit: 2 })
    try {
      assert.equal((await run(mysql(small))).status, 'pass')
      server.process.freeze()
      try {
        await repeat(30, 5, () => run(mysql(small), 30))
      } finally {
        server.process.thaw()
      }
      await waitFor('the pool to serve again', async () => (await run(mysql(small))).status === 'pass', 10_000, 100)
      const [rows] = await small.promise().query('SELECT 2 AS two')
      assert.deepEqual(rows, [{ two: 2 }])
    } finally {
      await new Promise((r) => small.end(r))
    }
  })

  it('leaves no sockets, timers or listeners behind after 200 checks timed out against a frozen MariaDB', async () => {
    const kinds: [string, () => { probe: Probe; close: () => Promise<unknown> }][] = [
      [
        'pool',
        () => {
          const p = mysql2.createPool({ uri: server.url, connectionLimit: 4 })
          return { probe: mysql(p), close: () => new Promise((r) => p.end(r)) }
        },
      ],
      ['connection', () => ({ probe: mysql(connection), close: async () => {} })],
      ['URL', () => ({ probe: mysql(server.url), close: async () => {} })],
    ]
    // mysql2/promise wraps the callback connection that owns the socket and the listeners.
    const inner = (connection as unknown as { connection: import('node:events').EventEmitter }).connection
    const listeners = inner.eventNames().map((n) => inner.listenerCount(n))
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
        await waitFor(`${kind} to pass again`, async () => (await run(probe)).status === 'pass', 20_000, 200)
        await close()
      }, 5000)
    }
    assert.deepEqual(
      inner.eventNames().map((n) => inner.listenerCount(n)),
      listeners,
    )
  })

  it('fails with a clear reason when MariaDB is down', async () => {
    await server.process.kill()
    try {
      for (const probe of [mysql(server.url), mysql(pool)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, `mysql 127.0.0.1:${server.port}/probekit: connection refused (ECONNREFUSED)`)
      }
      const viaConnection = await run(mysql(connection))
      assert.equal(viaConnection.status, 'fail')
      assert.match(viaConnection.output ?? '', new RegExp(`mysql 127\\.0\\.0\\.1:${server.port}/probekit: `))
    } finally {
      await server.process.start()
    }
    assert.equal((await run(mysql(pool))).status, 'pass')
  })
})
