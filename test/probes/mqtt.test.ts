import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import mqttjs from 'mqtt'
import { runProbe } from '../../src/core/run-probe.js'
import { type MqttClientLike, mqtt } from '../../src/probes/mqtt.js'
import { blackholeServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { refusedPort, waitFor } from '../support/server-process.js'
import { type MosquittoServer, startMosquitto } from '../support/servers/mosquitto.js'
import { makeTestCertificates } from '../support/tls.js'

const run = (probe: ReturnType<typeof mqtt>, timeoutMs = 2000) => runProbe(probe, { timeoutMs })

describe('mqtt probe against a real mosquitto', () => {
  let broker: MosquittoServer
  let client: mqttjs.MqttClient
  const appErrors: unknown[] = []
  const certs = makeTestCertificates()

  before(async () => {
    broker = await startMosquitto({
      user: 'app',
      password: 'mqtt-secret-pw',
      tls: { key: certs.key, cert: certs.cert },
    })
    client = mqttjs.connect(broker.url, { reconnectPeriod: 200 })
    client.on('error', (error) => appErrors.push(error))
    await new Promise((resolve) => client.once('connect', resolve))
  })

  after(async () => {
    client?.end(true)
    await broker?.stop()
  })

  it("passes with the app's client: connected and a PINGREQ/PINGRESP round trip", async () => {
    const result = await run(mqtt(client))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'mqtt')
    assert.equal(result.output, 'PINGRESP')
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentId, `127.0.0.1:${broker.port}`)
  })

  it('passes with a URL, with one short-lived client per check', async () => {
    await expectNoLeakedResources(async () => {
      const result = await run(mqtt(broker.url))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.componentId, `127.0.0.1:${broker.port}`)
    })
  })

  it('speaks MQTT over TLS with mqtts:// and a private CA; an untrusted certificate fails clearly', async () => {
    const url = `mqtts://app:mqtt-secret-pw@127.0.0.1:${broker.tlsPort}`
    const trusted = await run(mqtt(url, { ca: certs.ca }))
    assert.equal(trusted.status, 'pass', trusted.output)
    const untrusted = await run(mqtt(url))
    assert.equal(untrusted.status, 'fail')
    assert.match(untrusted.output ?? '', /not trusted .*ca option, or set insecure/)
    assert.doesNotMatch(untrusted.output ?? '', /mqtt-secret-pw/)
    assert.equal((await run(mqtt(url, { insecure: true }))).status, 'pass')
  })

  it('mqtt:// to the TLS port fails at once, saying to write mqtts:// if the port takes TLS', async () => {
    const result = await run(mqtt(`mqtt://app:mqtt-secret-pw@127.0.0.1:${broker.tlsPort}`))
    assert.equal(result.status, 'fail')
    assert.match(
      result.output ?? '',
      /: (connection reset by the server \(ECONNRESET\)|the broker closed the connection); if the port takes TLS, write mqtts:\/\/$/,
    )
    assert.doesNotMatch(result.output ?? '', /mqtt-secret-pw/)
  })

  it('mqtts:// to the plain port fails at once, saying to write mqtt:// if the port does not take TLS', async () => {
    // Mosquitto reads the TLS hello as a malformed CONNECT and hangs up; a plain server that
    // answers in its own protocol reads as "does not speak TLS". Either way, the fix is named.
    const garbage = await garbageServer()
    try {
      for (const port of [broker.port, garbage.port]) {
        const started = performance.now()
        const result = await run(mqtt(`mqtts://app:mqtt-secret-pw@127.0.0.1:${port}`, { ca: certs.ca }), 5000)
        assert.equal(result.status, 'fail')
        assert.match(
          result.output ?? '',
          /: (connection reset by the server \(ECONNRESET\)|the broker closed the connection|the server does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\)); if the port does not take TLS, write mqtt:\/\/$/,
        )
        assert.ok(performance.now() - started < 1000, result.output)
        assert.doesNotMatch(result.output ?? '', /mqtt-secret-pw/)
      }
    } finally {
      await garbage.close()
    }
  })

  it('fails on wrong credentials with a reason naming authentication and no password', async () => {
    const result = await run(mqtt(`mqtt://app:wrong-mqtt-pw@127.0.0.1:${broker.port}`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /authentication failed \(Connection refused: Not authorized\)/)
    assert.doesNotMatch(JSON.stringify(result), /wrong-mqtt-pw|mqtt-secret-pw/)
  })

  it('rejects what is not a URL or a client, in one sentence', () => {
    assert.throws(() => mqtt('http://x'), /must start with mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\//)
    assert.throws(() => mqtt({} as MqttClientLike), /expected a client from mqtt.connect\(\)/)
  })

  it('fails with a clear reason when the broker is down', async () => {
    const port = await refusedPort()
    const result = await run(mqtt(`mqtt://127.0.0.1:${port}`))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `mqtt mqtt://127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
  })

  it('fails on garbage without crashing', async () => {
    const garbage = await garbageServer()
    try {
      const result = await run(mqtt(`mqtt://${garbage.address}`, { connectTimeout: 500 }))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not an MQTT broker \(it answered "HTTP\/9\.9 garbage/)
    } finally {
      await garbage.close()
    }
  })

  it('fails by the connect timeout when the address never accepts', async () => {
    const hole = await blackholeServer()
    try {
      const result = await run(mqtt(`mqtt://${hole.address}`, { connectTimeout: 300 }))
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `mqtt mqtt://${hole.address}: connect timed out after 300 ms`)
    } finally {
      await hole.close()
    }
  })

  it('fails within its deadline plus 100 ms while the broker is frozen, and passes after SIGCONT with the same client', async () => {
    const probe = mqtt(client)
    const urlProbe = mqtt(broker.url)
    await freezeFully(broker.process)
    try {
      for (const p of [probe, urlProbe]) {
        const started = performance.now()
        const result = await run(p, 500)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, 'timed out after 500 ms')
        assert.ok(performance.now() - started < 600)
      }
    } finally {
      broker.process.thaw()
    }
    const again = await run(probe)
    assert.equal(again.status, 'pass', again.output)
    assert.equal((await run(urlProbe)).status, 'pass')
  })

  it('leaves no sockets, timers or listeners after 200 checks timed out against a frozen broker', async () => {
    const probe = mqtt(client)
    const urlProbe = mqtt(broker.url)
    const listeners = () => client.listenerCount('packetreceive') + client.listenerCount('close')
    const listenersBefore = listeners()
    await freezeFully(broker.process)
    try {
      await expectNoLeakedResources(async () => {
        await repeat(200, 10, async () => assert.equal((await run(probe, 50)).status, 'fail'))
        await repeat(200, 10, async () => assert.equal((await run(urlProbe, 50)).status, 'fail'))
      })
    } finally {
      broker.process.thaw()
    }
    assert.equal(listeners(), listenersBefore)
    assert.equal((await run(probe)).status, 'pass')
  })

  it('says the client is reconnecting while the broker is down, and passes once it is back', async () => {
    const probe = mqtt(client)
    await broker.process.kill()
    await waitFor('the client to notice', () => !client.connected, 5000)
    const down = await run(probe, 500)
    assert.equal(down.output, 'mqtt: not connected to the broker (the client is reconnecting)')
    await broker.process.start()
    await waitFor('the client to reconnect', async () => (await run(probe, 500)).status === 'pass', 10_000)
  })
})
