import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { redis } from '../../src/probes/redis.js'
import { assertOnTime, timedCheck } from '../support/deadline.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'
import { type RedisCluster, startRedisCluster } from '../support/servers/redis-cluster.js'
import { makeTestCa, type TestCa } from '../support/test-ca.js'

const PASSWORD = 'redis-test-secret-5521'
const run = (probe: Probe, timeoutMs = 2000) => runProbe(probe, { timeoutMs })

/** Runs one check and measures it from the outside, so the deadline claim is checked independently. */
async function timed(probe: Probe, timeoutMs: number) {
  const started = performance.now()
  const result = await runProbe(probe, { timeoutMs })
  return { result, elapsedMs: performance.now() - started }
}

function listenerCounts(emitter: { eventNames(): (string | symbol)[]; listenerCount(name: string | symbol): number }) {
  return Object.fromEntries(emitter.eventNames().map((n) => [String(n), emitter.listenerCount(n)]))
}

describe('redis probe against a real standalone Redis', () => {
  let server: RedisServer
  let io: Redis
  let nodeRedis: ReturnType<typeof createClient>
  let garbage: FaultServer
  let blackhole: FaultServer

  before(async () => {
    ;[server, garbage, blackhole] = await Promise.all([
      startRedis({ password: PASSWORD }),
      garbageServer(),
      blackholeServer(),
    ])
    io = new Redis(server.url)
    io.on('error', () => {})
    nodeRedis = createClient({ url: server.url })
    nodeRedis.on('error', () => {})
    await Promise.all([nodeRedis.connect(), waitFor('ioredis to be ready', () => io.status === 'ready')])
  })

  after(async () => {
    io?.disconnect()
    nodeRedis?.destroy()
    await Promise.all([server?.stop(), garbage?.close(), blackhole?.close()])
  })

  it('passes with PONG and the latency for an ioredis client, a node-redis client and a URL', async () => {
    for (const probe of [redis(io), redis(nodeRedis), redis(server.url)]) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'redis')
      assert.equal(result.output, 'PONG')
      assert.equal(result.observedUnit, 'ms')
      assert.equal(typeof result.observedValue, 'number')
      assert.equal(result.componentType, 'datastore')
      assert.equal(result.componentId, `127.0.0.1:${server.port}`)
    }
  })

  it('takes a name and probe options', () => {
    const probe = redis(server.url, { name: 'cache', critical: false, timeout: 300, groups: ['ready'] })
    assert.equal(probe.name, 'cache')
    assert.equal(probe.critical, false)
    assert.equal(probe.timeout, 300)
    assert.deepEqual(probe.groups, ['ready'])
  })

  it('rejects what is neither a client nor a redis URL in one sentence', () => {
    assert.throws(() => redis('http://127.0.0.1:6379'), /must start with redis:\/\/ or rediss:\/\//)
    assert.throws(() => redis({} as never), /expected an ioredis client or cluster, a node-redis client or cluster/)
  })

  it('selects the URL’s database: one the server has passes, one it lacks fails naming it, a path that is no number is refused', async () => {
    assert.equal(new URL(server.url).pathname, '', 'no path: database 0')
    const has = await run(redis(`${server.url}/15`))
    assert.equal(has.status, 'pass', has.output)
    const lacks = await run(redis(`${server.url}/20`))
    assert.equal(lacks.status, 'fail')
    assert.equal(
      lacks.output,
      `redis 127.0.0.1:${server.port}: cannot select database 20 (ERR DB index is out of range)`,
    )
    assert.doesNotMatch(JSON.stringify(lacks), new RegExp(PASSWORD))
    assert.throws(
      () => redis(`${server.url}/cache`),
      /has the path \/cache, not a database number; write it as redis:\/\/host:6379\/0/,
    )
    // The password is checked before the database: a wrong one still says so.
    const wrong = await run(redis(`redis://:wrong-pass-9931@127.0.0.1:${server.port}/20`))
    assert.match(wrong.output ?? '', /authentication failed \(WRONGPASS\)/)
  })

  it('passes a URL with a password the server does not ask for, saying so, as the app’s ioredis client works', async () => {
    const open = await startRedis()
    const client = new Redis(`redis://:needless-pw-5512@127.0.0.1:${open.port}`, { lazyConnect: true })
    client.on('error', () => {})
    try {
      // The driver apps use warns and goes on: the server is usable with this URL.
      await client.connect()
      assert.equal(await client.ping(), 'PONG')
      const result = await run(redis(`redis://:needless-pw-5512@127.0.0.1:${open.port}`))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'PONG (the server needs no password, and the URL gives one)')
      assert.doesNotMatch(JSON.stringify(result), /needless-pw/)
      // A database the server lacks still fails after the needless password.
      const lacks = await run(redis(`redis://:needless-pw-5512@127.0.0.1:${open.port}/20`))
      assert.match(lacks.output ?? '', /cannot select database 20/)
    } finally {
      client.disconnect()
      await open.stop()
    }
  })

  it('fails on a wrong password with a reason naming authentication and no password (URL, ioredis, node-redis)', async () => {
    const wrong = `redis://:wrong-pass-9931@127.0.0.1:${server.port}`
    const badIo = new Redis(wrong)
    badIo.on('error', () => {})
    const badNode = createClient({ url: wrong })
    badNode.on('error', () => {})
    badNode.connect().catch(() => {})
    try {
      await waitFor('the clients to give up their first attempt', () => badIo.status === 'reconnecting')
      for (const probe of [redis(wrong), redis(badIo), redis(badNode)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.match(result.output ?? '', /authentication failed \(WRONGPASS\)/)
        assert.doesNotMatch(JSON.stringify(result), /wrong-pass-9931/)
        assert.doesNotMatch(JSON.stringify(result), new RegExp(PASSWORD))
      }
      const missing = await run(redis(`redis://127.0.0.1:${server.port}`))
      assert.equal(missing.status, 'fail')
      assert.match(missing.output ?? '', /authentication required \(NOAUTH\)/)
    } finally {
      badIo.disconnect()
      badNode.destroy()
    }
  })

  it('fails on a port that answers garbage, without crashing (URL and an ioredis client)', async () => {
    const result = await run(redis(`redis://${garbage.address}`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /not a Redis server/)
    const client = new Redis({ host: garbage.host, port: garbage.port, maxRetriesPerRequest: 1 })
    client.on('error', () => {})
    try {
      const viaClient = await run(redis(client), 1500)
      assert.equal(viaClient.status, 'fail')
    } finally {
      client.disconnect()
    }
  })

  it('fails by the connect timeout on an address that never accepts (URL)', async () => {
    const { result, elapsedMs } = await timed(redis(`redis://${blackhole.address}`, { connectTimeout: 300 }), 2000)
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `redis ${blackhole.address}: connect timed out after 300 ms`)
    assert.ok(elapsedMs < 700, `took ${elapsedMs} ms`)
  })

  it('fails within its deadline plus 100 ms while Redis is frozen, and passes again after SIGCONT with the same clients', async () => {
    const probes = [redis(io), redis(nodeRedis), redis(server.url)]
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

  it('leaves no sockets, timers or listeners behind after 200 checks timed out against a frozen Redis', async () => {
    const probes = { ioredis: redis(io), 'node-redis': redis(nodeRedis), url: redis(server.url) }
    const listenersBefore = [listenerCounts(io), listenerCounts(nodeRedis)]
    for (const [kind, probe] of Object.entries(probes)) {
      await expectNoLeakedResources(async () => {
        server.process.freeze()
        try {
          await repeat(200, 20, async () => {
            const result = await run(probe, 25)
            assert.equal(result.status, 'fail', `${kind}: ${result.output}`)
          })
        } finally {
          server.process.thaw()
        }
        // Back to idle: the one PING still in flight is answered after the thaw.
        const result = await run(probe)
        assert.equal(result.status, 'pass', `${kind}: ${result.output}`)
      })
    }
    assert.deepEqual([listenerCounts(io), listenerCounts(nodeRedis)], listenersBefore)
  })

  it('waits for an ioredis client created a moment ago to connect, then passes with PONG', async () => {
    const fresh = new Redis(server.url)
    fresh.on('error', () => {})
    try {
      assert.equal(fresh.status, 'connecting', 'the first connection is under way')
      const before = listenerCounts(fresh)
      const result = await run(redis(fresh), 5000)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'PONG')
      assert.deepEqual(listenerCounts(fresh), before, 'no listener left on the client')
    } finally {
      fresh.disconnect()
    }
  })

  it('fails a connecting ioredis client by the deadline while Redis is frozen, leaving no listener behind', async () => {
    await freezeFully(server.process)
    const fresh = new Redis(server.url)
    fresh.on('error', () => {})
    try {
      // Connected, its ready check unanswered; ioredis's own listeners for the attempt are in place.
      await waitFor('the socket to open', () => fresh.status === 'connect')
      const before = listenerCounts(fresh)
      const check = await timedCheck(redis(fresh), 300)
      assert.equal(check.result.status, 'fail')
      assert.equal(check.result.output, 'timed out after 300 ms')
      assertOnTime(check, 300)
      assert.ok(['connecting', 'connect'].includes(fresh.status), fresh.status)
      assert.deepEqual(listenerCounts(fresh), before, 'no listener left on the client')
    } finally {
      fresh.disconnect()
      server.process.thaw()
    }
  })

  it('fails a connecting ioredis client with the reason when nothing listens, without waiting for the deadline', async () => {
    const port = await refusedPort()
    const fresh = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 60_000 })
    fresh.on('error', () => {})
    try {
      const { result, elapsedMs } = await timed(redis(fresh), 5000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', new RegExp(`redis 127\\.0\\.0\\.1:${port}: not connected .*connection refused`))
      assert.ok(elapsedMs < 4000, `gave up after ${elapsedMs} ms, before the 5000 ms deadline`)
    } finally {
      fresh.disconnect()
    }
  })

  it('sends at most one PING through the app client while Redis is frozen', async () => {
    const monitor = new Redis(server.url)
    monitor.on('error', () => {})
    const before = await infoCommandCalls(monitor)
    server.process.freeze()
    try {
      await repeat(50, 10, () => run(redis(io), 20))
    } finally {
      server.process.thaw()
    }
    await run(redis(io))
    const after = await infoCommandCalls(monitor)
    monitor.disconnect()
    // One PING stuck through the freeze, one after it (plus the INFO of the first reading).
    assert.ok(after - before <= 3, `${after - before} PINGs reached Redis`)
  })

  it('fails with a clear reason when Redis is down (URL, ioredis, node-redis), and passes after a restart', async () => {
    await server.process.kill()
    try {
      await waitFor('ioredis to notice', () => io.status === 'reconnecting')
      await waitFor('node-redis to notice', () => !nodeRedis.isReady)
      for (const [kind, probe] of [
        ['URL', redis(server.url)],
        ['ioredis', redis(io)],
        ['node-redis', redis(nodeRedis)],
      ] as const) {
        const result = await run(probe)
        assert.equal(result.status, 'fail', kind)
        assert.match(
          result.output ?? '',
          new RegExp(`redis 127\\.0\\.0\\.1:${server.port}: .*connection refused`),
          `${kind}: ${result.output}`,
        )
      }
    } finally {
      await server.process.start()
    }
    await waitFor('ioredis to reconnect', () => io.status === 'ready', 10_000)
    await waitFor('node-redis to reconnect', () => nodeRedis.isReady, 10_000)
    assert.equal((await run(redis(io))).status, 'pass')
    assert.equal((await run(redis(nodeRedis))).status, 'pass')
  })
})

describe('redis probe through a Unix-domain socket (?socket=)', () => {
  let server: RedisServer
  let socket: string

  before(async () => {
    server = await startRedis({ password: PASSWORD, unixSocket: true })
    socket = server.socket as string
  })
  after(() => server?.stop())

  it('passes through the socket, with AUTH and SELECT, naming the socket; the host is not used', async () => {
    for (const url of [
      `redis://:${PASSWORD}@localhost?socket=${socket}`,
      `redis://:${PASSWORD}@localhost/3?socket=${encodeURIComponent(socket)}`,
      // No host at all; a host that does not resolve is never looked up.
      `redis://:${PASSWORD}@nowhere.invalid:1/0?socket=${socket}`,
    ]) {
      const result = await run(redis(url))
      assert.equal(result.status, 'pass', `${url}: ${result.output}`)
    }
    const noHost = await run(redis(`redis://?socket=${socket}`))
    assert.equal(noHost.status, 'fail')
    assert.equal(
      noHost.output,
      `redis ${socket}: authentication required (NOAUTH): the server asks for a password, and none was given`,
    )
    const wrong = await run(redis(`redis://:not-${PASSWORD}@localhost?socket=${socket}`))
    assert.equal(wrong.status, 'fail')
    assert.match(wrong.output ?? '', /^redis \/.*redis\.sock: authentication failed \(WRONGPASS\)/)
    assert.doesNotMatch(JSON.stringify(wrong), new RegExp(PASSWORD))
  })

  it('says no server made the socket, or that the path is no socket, at once', async () => {
    const missing = `${server.dir}/none.sock`
    const gone = await timed(redis(`redis://localhost?socket=${missing}`), 2000)
    assert.equal(gone.result.status, 'fail')
    assert.equal(
      gone.result.output,
      `redis ${missing}: no socket at ${missing}: is the server running, with its socket there? (ENOENT)`,
    )
    assert.ok(gone.elapsedMs < 500, `took ${gone.elapsedMs} ms`)
  })

  it('fails within its deadline while Redis is frozen, and passes after SIGCONT', async () => {
    const probe = redis(`redis://:${PASSWORD}@localhost?socket=${socket}`)
    server.process.freeze()
    try {
      const check = await timedCheck(probe, 300)
      assert.equal(check.result.status, 'fail')
      assert.equal(check.result.output, 'timed out after 300 ms')
      assertOnTime(check, 300)
    } finally {
      server.process.thaw()
    }
    assert.equal((await run(probe)).status, 'pass')
  })

  it('checks an ioredis client connected through the socket (its path), and a node-redis one (socket.path)', async () => {
    const io = new Redis({ path: socket, password: PASSWORD, lazyConnect: true })
    const nodeClient = createClient({ socket: { path: socket, tls: false }, password: PASSWORD })
    await Promise.all([io.connect(), nodeClient.connect()])
    try {
      for (const probe of [redis(io), redis(nodeClient)]) {
        const result = await run(probe)
        assert.equal(result.status, 'pass', result.output)
      }
    } finally {
      io.disconnect()
      await nodeClient.disconnect()
    }
  })

  it('refuses, in one sentence each, a relative socket, two sockets, TLS through a socket and a parameter the check does not read', () => {
    const refusals: [string, RegExp][] = [
      [
        'redis://localhost?socket=redis.sock',
        /has socket="redis\.sock"; write the socket's absolute path, e\.g\. socket=\/run\/redis\/redis-server\.sock$/,
      ],
      ['redis://localhost?socket=/a.sock&socket=/b.sock', /gives socket= 2 times; give it once$/],
      [
        'rediss://localhost?socket=/run/redis.sock',
        /asks for TLS \(rediss:\/\/\) through a Unix socket, which Redis serves in plain text only; write redis:\/\/$/,
      ],
      [
        'redis://:s3cret-pw@cache:6379?db=2',
        /^TypeError: redis: "redis:\/\/:\*\*\*@cache:6379\?db=2" has the parameter "db", which the check does not read; a redis:\/\/ URL takes only socket=\/path\/to\/redis\.sock \(the database is the path: redis:\/\/host:6379\/2\)$/,
      ],
      [
        `redis://localhost?socket=/${'d'.repeat(120)}/redis.sock`,
        /is 132 bytes, more than a Unix socket address holds \(107\)/,
      ],
      ['redis://', /names no host; write it as redis:\/\/host:6379, or name a Unix socket with \?socket=/],
    ]
    for (const [url, message] of refusals) assert.throws(() => redis(url), message, url)
  })
})

async function infoCommandCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats')
  return Number(/cmdstat_ping:calls=(\d+)/.exec(info)?.[1] ?? 0)
}

describe('redis probe against a real three-node Redis Cluster', () => {
  let cluster: RedisCluster
  let io: Cluster
  let nodeCluster: ReturnType<typeof createCluster>

  before(async () => {
    cluster = await startRedisCluster()
    io = new Cluster(cluster.startupNodes)
    io.on('error', () => {})
    await waitFor('the ioredis cluster to be ready', () => io.status === 'ready')
    nodeCluster = createCluster({
      rootNodes: cluster.startupNodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    })
    nodeCluster.on('error', () => {})
    await nodeCluster.connect()
  })

  after(async () => {
    io?.disconnect()
    await nodeCluster?.close().catch(() => {})
    await cluster?.stop()
  })

  it('passes when every master answers PING (ioredis Cluster and node-redis createCluster)', async () => {
    for (const probe of [redis(io), redis(nodeCluster)]) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'PONG from 3 masters')
      const ids = (result.componentId ?? '').split(',').sort()
      assert.deepEqual(ids, cluster.startupNodes.map((n) => `${n.host}:${n.port}`).sort())
    }
  })

  it('fails within its deadline plus 100 ms when one master is frozen, and passes after SIGCONT', async () => {
    const node = cluster.nodes[1] as RedisServer
    node.process.freeze()
    try {
      for (const probe of [redis(io), redis(nodeCluster)]) {
        const check = await timedCheck(probe, 300)
        const { result } = check
        assert.equal(result.status, 'fail')
        assertOnTime(check, 300)
      }
    } finally {
      node.process.thaw()
    }
    for (const probe of [redis(io), redis(nodeCluster)]) {
      assert.equal((await run(probe)).status, 'pass')
    }
  })

  it('fails naming the master that is down while the others answer', async () => {
    const node = cluster.nodes[2] as RedisServer
    await node.process.kill()
    try {
      await sleep(300)
      const viaIo = await run(redis(io))
      assert.equal(viaIo.status, 'fail')
      assert.match(viaIo.output ?? '', new RegExp(`1 of 3 masters did not answer PING: 127\\.0\\.0\\.1:${node.port}`))
      const viaNode = await run(redis(nodeCluster))
      assert.equal(viaNode.status, 'fail')
      assert.match(viaNode.output ?? '', new RegExp(`127\\.0\\.0\\.1:${node.port}`))
    } finally {
      await node.process.start()
    }
  })
})

describe('redis probe over TLS (rediss://) against a real Redis', () => {
  let ca: TestCa
  let server: RedisServer

  before(async () => {
    ca = makeTestCa()
    server = await startRedis({ password: PASSWORD, tls: { cert: ca.serverCert, key: ca.serverKey, ca: ca.caCert } })
  })

  after(async () => {
    await server?.stop()
  })

  it('passes with the CA given, and with insecure', async () => {
    const trusted = await run(redis(server.url, { ca: ca.read(ca.caCert) }))
    assert.equal(trusted.status, 'pass', trusted.output)
    assert.equal(trusted.output, 'PONG')
    const insecure = await run(redis(server.url, { insecure: true }))
    assert.equal(insecure.status, 'pass', insecure.output)
  })

  it('fails saying the certificate is not trusted when the CA is unknown', async () => {
    const result = await run(redis(server.url))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', new RegExp(`redis 127\\.0\\.0\\.1:${server.port}: TLS certificate not trusted`))
    assert.match(result.output ?? '', /; trust the server's CA with the ca option, or set insecure$/)
    assert.doesNotMatch(JSON.stringify(result), new RegExp(PASSWORD))
  })

  it('redis:// to the TLS port fails at once, saying to write rediss:// if the port takes TLS', async () => {
    const result = await run(redis(server.url.replace(/^rediss:/, 'redis:')))
    assert.equal(result.status, 'fail')
    assert.match(
      result.output ?? '',
      /: (connection reset by the server \(ECONNRESET\)|the server closed the connection before answering); if the port takes TLS, write rediss:\/\/$/,
    )
    assert.doesNotMatch(JSON.stringify(result), new RegExp(PASSWORD))
    // A server that answers, or that refuses the connection, is no TLS port: no hint.
    const refused = await run(redis(`redis://127.0.0.1:${await refusedPort()}`))
    assert.doesNotMatch(refused.output ?? '', /rediss/)
  })

  it('fails on a wrong password over TLS with a reason naming authentication', async () => {
    const result = await run(redis(`rediss://:nope-tls-77@127.0.0.1:${server.port}`, { ca: ca.read(ca.caCert) }))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /authentication failed \(WRONGPASS\)/)
    assert.doesNotMatch(JSON.stringify(result), /nope-tls-77/)
  })
})
