import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import amqplib from 'amqplib'
import { runProbe } from '../../src/core/run-probe.js'
import { createHealth } from '../../src/health.js'
import { type AmqpConnectionLike, amqp } from '../../src/probes/amqp.js'
import { blackholeServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { refusedPort } from '../support/server-process.js'
import { type RabbitServer, startRabbit } from '../support/servers/rabbitmq.js'
import { makeTestCertificates } from '../support/tls.js'

const run = (probe: ReturnType<typeof amqp>, timeoutMs = 2000) => runProbe(probe, { timeoutMs })

describe('amqp probe against a real RabbitMQ', () => {
  let rabbit: RabbitServer
  let connection: Awaited<ReturnType<typeof amqplib.connect>>
  const appErrors: unknown[] = []
  const certs = makeTestCertificates()

  before(async () => {
    rabbit = await startRabbit({ tls: { key: certs.key, cert: certs.cert } })
    connection = await amqplib.connect(rabbit.url)
    // An app must listen for connection errors; the probe never adds listeners of its own.
    connection.on('error', (error) => appErrors.push(error))
    const setup = await connection.createChannel()
    await setup.assertQueue('jobs')
    await setup.close()
  })

  after(async () => {
    await connection?.close().catch(() => {})
    await rabbit?.stop()
  })

  it("passes with the app's connection: a channel opens", async () => {
    const result = await run(amqp(connection))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'amqp')
    assert.equal(result.output, 'channel opened')
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentId, `127.0.0.1:${rabbit.port}`)
  })

  it('checks a named queue and reports its depth', async () => {
    const result = await run(amqp(connection, { queue: 'jobs' }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.output, 'queue jobs: 0 messages, 0 consumers')
  })

  it("fails on a missing queue without harming the app's connection", async () => {
    const result = await run(amqp(connection, { queue: 'nope' }))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, 'amqp: queue "nope" does not exist')
    assert.equal((await run(amqp(connection))).status, 'pass')
    assert.deepEqual(appErrors, [])
  })

  it('passes with a URL, opening and closing one connection per check', async () => {
    await expectNoLeakedResources(async () => {
      const result = await run(amqp(rabbit.url, { name: 'broker' }))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'broker')
      assert.equal(result.componentId, `127.0.0.1:${rabbit.port}`)
    })
  })

  it('connects with amqps:// and a private CA; an untrusted certificate fails clearly', async () => {
    const url = `amqps://${rabbit.user}:${rabbit.password}@127.0.0.1:${rabbit.tlsPort}`
    const trusted = await run(amqp(url, { ca: certs.ca }))
    assert.equal(trusted.status, 'pass', trusted.output)
    const untrusted = await run(amqp(url))
    assert.equal(untrusted.status, 'fail')
    assert.match(untrusted.output ?? '', /not trusted .*ca option, or set insecure/)
    assert.doesNotMatch(untrusted.output ?? '', new RegExp(rabbit.password))
  })

  it('fails on wrong credentials with a reason naming authentication and no password', async () => {
    const url = `amqp://${rabbit.user}:wrong-secret-pw@127.0.0.1:${rabbit.port}`
    const result = await run(amqp(url))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /authentication failed \(ACCESS_REFUSED\)/)
    assert.doesNotMatch(JSON.stringify(result), /wrong-secret-pw/)
    assert.doesNotMatch(JSON.stringify(result), new RegExp(rabbit.password))
  })

  it('fails on a virtual host the broker refuses, saying so, not "not an AMQP broker"', async () => {
    const url = `amqp://${rabbit.user}:${rabbit.password}@127.0.0.1:${rabbit.port}/no-such-vhost`
    const result = await run(amqp(url))
    assert.equal(result.status, 'fail')
    assert.equal(
      result.output,
      `amqp amqp://${rabbit.user}:***@127.0.0.1:${rabbit.port}/no-such-vhost: the broker refused the virtual host "no-such-vhost" (Connection.Close in answer to Connection.Open): it does not exist, the user has no permission on it, or its connection limit is reached`,
    )
    // The default virtual host, written out, still passes.
    assert.equal((await run(amqp(`${rabbit.url}/%2F`))).status, 'pass')
  })

  it('says to write amqps:// when amqp:// meets the TLS port', async () => {
    const result = await run(amqp(`amqp://${rabbit.user}:${rabbit.password}@127.0.0.1:${rabbit.tlsPort}`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /; if the port takes TLS, write amqps:\/\/$/)
    assert.doesNotMatch(result.output ?? '', new RegExp(rabbit.password))
  })

  it('never shows a password that holds a raw space, in the reason or the log', async () => {
    const port = await refusedPort()
    const lines: string[] = []
    const health = createHealth({
      logger: { info: () => {}, warn: () => {}, error: (line) => lines.push(String(line)) },
    })
    health.add(amqp(`amqp://app:pa ss-Secret-7@127.0.0.1:${port}/jobs`))
    const report = await health.run('ready')
    await health.close()
    const amqpCheck = report.checks.find((check) => check.name === 'amqp')
    assert.equal(amqpCheck?.output, `amqp amqp://app:***@127.0.0.1:${port}/jobs: connection refused (ECONNREFUSED)`)
    assert.doesNotMatch(JSON.stringify(report) + lines.join('\n'), /Secret-7/)
  })

  it('rejects a URL with another scheme in one sentence', () => {
    assert.throws(() => amqp('http://x'), /must start with amqp:\/\/ or amqps:\/\//)
    assert.throws(() => amqp({} as AmqpConnectionLike), /expected a connection from amqplib.connect\(\)/)
  })

  it('fails with a clear reason when the broker is down', async () => {
    const port = await refusedPort()
    const result = await run(amqp(`amqp://u:p@127.0.0.1:${port}`))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `amqp amqp://u:***@127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
  })

  it('fails on garbage without crashing or an unhandled error', async () => {
    const garbage = await garbageServer()
    try {
      const result = await run(amqp(`amqp://u:p@${garbage.address}`, { connectTimeout: 500 }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not an AMQP 0-9-1 broker/)
    } finally {
      await garbage.close()
    }
  })

  it('fails by the connect timeout when the address never accepts', async () => {
    const hole = await blackholeServer()
    try {
      const result = await run(amqp(`amqp://u:p@${hole.address}`, { connectTimeout: 300 }))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `amqp amqp://u:***@${hole.address}: connect timed out after 300 ms`)
    } finally {
      await hole.close()
    }
  })

  it('fails within its deadline plus 100 ms while the broker is frozen, and passes after SIGCONT with the same connection', async () => {
    const probe = amqp(connection)
    const urlProbe = amqp(rabbit.url)
    await freezeFully(rabbit.process)
    try {
      for (const p of [probe, urlProbe]) {
        const started = performance.now()
        const result = await run(p, 500)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, 'timed out after 500 ms')
        assert.ok(performance.now() - started < 600)
      }
    } finally {
      rabbit.process.thaw()
    }
    const again = await run(probe)
    assert.equal(again.status, 'pass', again.output)
    assert.equal((await run(urlProbe)).status, 'pass')
  })

  it('leaves no sockets, timers or listeners after 200 checks timed out against a frozen broker', async () => {
    const probe = amqp(connection)
    const urlProbe = amqp(rabbit.url)
    const listenersBefore = connection.listenerCount('close') + connection.listenerCount('error')
    await freezeFully(rabbit.process)
    try {
      await expectNoLeakedResources(async () => {
        await repeat(200, 10, async () => assert.equal((await run(probe, 50)).status, 'fail'))
        await repeat(200, 10, async () => assert.equal((await run(urlProbe, 50)).status, 'fail'))
      })
    } finally {
      rabbit.process.thaw()
    }
    assert.equal(connection.listenerCount('close') + connection.listenerCount('error'), listenersBefore)
    // The channels the deadline interrupted are closed once the broker answers; the connection is fine.
    assert.equal((await run(probe)).status, 'pass')
    assert.deepEqual(appErrors, [])
  })

  it("fails with a clear reason once the broker is down and the app's connection closed", async () => {
    await rabbit.process.kill()
    const result = await run(amqp(connection))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /amqp: the connection is closed/)
  })
})
