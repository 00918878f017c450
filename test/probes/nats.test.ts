import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connect, type NatsConnection } from 'nats'
import { runProbe } from '../../src/core/run-probe.js'
import { nats } from '../../src/probes/nats.js'
import { blackholeServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { refusedPort, waitFor } from '../support/server-process.js'
import { type NatsServer, startNats } from '../support/servers/nats.js'
import { makeTestCertificates } from '../support/tls.js'

const run = (probe: ReturnType<typeof nats>, timeoutMs = 2000) => runProbe(probe, { timeoutMs })

describe('nats probe against a real nats-server', () => {
  let server: NatsServer
  let nc: NatsConnection

  before(async () => {
    server = await startNats({ user: 'app', password: 'nats-secret-pw' })
    nc = await connect({
      servers: `127.0.0.1:${server.port}`,
      user: 'app',
      pass: 'nats-secret-pw',
      reconnectTimeWait: 200,
    })
  })

  after(async () => {
    await nc?.close()
    await server?.stop()
  })

  it("passes with the app's connection: a PING/PONG round trip", async () => {
    const result = await run(nats(nc))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'nats')
    assert.equal(result.output, 'PONG')
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentId, `127.0.0.1:${server.port}`)
  })

  it('passes with a URL, opening and closing one connection per check', async () => {
    await expectNoLeakedResources(async () => {
      const result = await run(nats(server.url))
      assert.equal(result.status, 'pass', result.output)
    })
  })

  it('fails on wrong credentials with a reason naming authentication and no password', async () => {
    const result = await run(nats(`nats://app:wrong-nats-pw@127.0.0.1:${server.port}`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /authentication failed/)
    assert.doesNotMatch(JSON.stringify(result), /wrong-nats-pw|nats-secret-pw/)
  })

  it('rejects what is not a URL or a connection, in one sentence', () => {
    assert.throws(() => nats('redis://x'), /must start with nats:\/\/ or tls:\/\//)
    assert.throws(() => nats({} as never), /expected a connection from connect\(\) of the "nats" package/)
  })

  it('fails with a clear reason when the server is down', async () => {
    const port = await refusedPort()
    const result = await run(nats(`nats://127.0.0.1:${port}`))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `nats nats://127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
  })

  it('fails on garbage without crashing', async () => {
    const garbage = await garbageServer()
    try {
      const result = await run(nats(`nats://${garbage.address}`, { connectTimeout: 500 }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not a NATS server \(it greeted with "HTTP\/9\.9 garbage/)
    } finally {
      await garbage.close()
    }
  })

  it('fails by the connect timeout when the address never accepts', async () => {
    const hole = await blackholeServer()
    try {
      const result = await run(nats(`nats://${hole.address}`, { connectTimeout: 300 }))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `nats nats://${hole.address}: connect timed out after 300 ms`)
    } finally {
      await hole.close()
    }
  })

  it('fails within its deadline plus 100 ms while the server is frozen, and passes after SIGCONT with the same connection', async () => {
    const probe = nats(nc)
    await freezeFully(server.process)
    try {
      const started = performance.now()
      const result = await run(probe, 500)
      assert.equal(result.status, 'fail')
      assert.equal(result.output, 'timed out after 500 ms')
      assert.ok(performance.now() - started < 600)
    } finally {
      server.process.thaw()
    }
    const again = await run(probe)
    assert.equal(again.status, 'pass', again.output)
  })

  it('leaves no sockets, timers or listeners after 200 checks timed out against a frozen server', async () => {
    const probe = nats(nc)
    const urlProbe = nats(server.url)
    await freezeFully(server.process)
    try {
      await expectNoLeakedResources(async () => {
        await repeat(200, 10, async () => assert.equal((await run(probe, 50)).status, 'fail'))
        await repeat(200, 10, async () => assert.equal((await run(urlProbe, 50)).status, 'fail'))
      })
    } finally {
      server.process.thaw()
    }
    assert.equal((await run(probe)).status, 'pass')
  })

  it('says the client is reconnecting while the server is down, and passes once it is back', async () => {
    const probe = nats(nc)
    await server.process.kill()
    await waitFor('the client to notice', async () => (await run(probe, 500)).output?.includes('disconnected'), 5000)
    const down = await run(probe, 500)
    assert.equal(down.output, 'nats: disconnected from the server (the client is reconnecting)')
    await server.process.start()
    await waitFor('the client to reconnect', async () => (await run(probe, 500)).status === 'pass', 10_000)
  })
})

describe('nats probe over TLS', () => {
  const certs = makeTestCertificates()
  let server: NatsServer

  before(async () => {
    server = await startNats({ tls: { key: certs.key, cert: certs.cert } })
  })

  after(async () => {
    await server?.stop()
  })

  it('passes with a tls:// URL and the private CA, and upgrades a nats:// URL when the server requires TLS', async () => {
    const tls = await run(nats(`tls://127.0.0.1:${server.port}`, { ca: certs.ca }))
    assert.equal(tls.status, 'pass', tls.output)
    const upgraded = await run(nats(`nats://127.0.0.1:${server.port}`, { ca: certs.ca }))
    assert.equal(upgraded.status, 'pass', upgraded.output)
  })

  it('fails when the certificate is not trusted, and says how to fix it; insecure passes', async () => {
    const untrusted = await run(nats(`tls://127.0.0.1:${server.port}`))
    assert.equal(untrusted.status, 'fail')
    assert.match(untrusted.output ?? '', /not trusted .*ca option, or set insecure/)
    const insecure = await run(nats(`tls://127.0.0.1:${server.port}`, { insecure: true }))
    assert.equal(insecure.status, 'pass', insecure.output)
  })
})
