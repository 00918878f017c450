import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { after, before, describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { dns } from '../../src/probes/dns.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'

const run = (probe: ReturnType<typeof dns>, timeoutMs = 3000) => runProbe(probe, { timeoutMs })

/**
 * A real (tiny) DNS server over UDP on loopback: answers every A query for
 * `app.probekit.test` with 10.1.2.3, every other name with NXDOMAIN. `silent` answers nothing.
 */
async function startDnsServer(silent = false): Promise<{ address: string; socket: Socket }> {
  const socket = createSocket('udp4')
  socket.on('message', (query, peer) => {
    if (silent) return
    let offset = 12
    const labels: string[] = []
    while (query[offset] !== 0 && offset < query.length) {
      const length = query[offset] as number
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString())
      offset += length + 1
    }
    const question = query.subarray(12, offset + 5)
    const known = labels.join('.').toLowerCase() === 'app.probekit.test'
    const header = Buffer.alloc(12)
    query.copy(header, 0, 0, 2)
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2) // response, recursion available; rcode 3 = NXDOMAIN
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(known ? 1 : 0, 6)
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3])
    socket.send(Buffer.concat(known ? [header, question, answer] : [header, question]), peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  return { address: `127.0.0.1:${socket.address().port}`, socket }
}

describe('dns probe', () => {
  let server: { address: string; socket: Socket }
  let silent: { address: string; socket: Socket }

  before(async () => {
    server = await startDnsServer()
    silent = await startDnsServer(true)
  })

  after(() => {
    server.socket.close()
    silent.socket.close()
  })

  it('resolves localhost the way the app does (system resolver), with the time as observed value', async () => {
    const result = await run(dns('localhost'))
    assert.equal(result.status, 'pass', result.output)
    assert.match(result.output ?? '', /^localhost → .*(127\.0\.0\.1|::1)/)
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentId, 'localhost')
  })

  it('fails clearly for a name that cannot exist', async () => {
    const result = await run(dns('nothing-here.invalid'))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /^dns nothing-here\.invalid: (no such name \(ENOTFOUND\)|temporary failure)/)
  })

  it('checks an expected address', async () => {
    assert.equal((await run(dns('localhost', { family: 4, expect: '127.0.0.1' }))).status, 'pass')
    const wrong = await run(dns('localhost', { family: 4, expect: '10.9.9.9' }))
    assert.equal(wrong.status, 'fail')
    assert.equal(wrong.output, 'dns localhost resolved to 127.0.0.1, not 10.9.9.9')
  })

  it('queries a given DNS server for a record type', async () => {
    const result = await run(dns('app.probekit.test', { type: 'A', servers: [server.address], expect: '10.1.2.3' }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.output, 'app.probekit.test → 10.1.2.3')
    const missing = await run(dns('gone.probekit.test', { servers: [server.address] }))
    assert.equal(missing.status, 'fail')
    assert.equal(missing.output, 'dns gone.probekit.test: no such name (ENOTFOUND)')
  })

  it('refuses a DNS server that is not an IP address when the probe is made, in one sentence', () => {
    // It used to fail every check with "Invalid IP address: dns.internal", as if DNS were down.
    for (const server of ['dns.internal', 'not an ip', '10.0.0.2:port']) {
      assert.throws(
        () => dns('db.internal', { servers: [server] }),
        (error: Error) =>
          error instanceof TypeError &&
          error.message ===
            `dns("db.internal", options): servers: ${JSON.stringify(server)} is not an IP address (with an optional port: '10.0.0.2:5353', '[fd00::2]:53')`,
      )
    }
    assert.throws(() => dns('db.internal', { servers: [] }), /servers is empty/)
    dns('db.internal', { servers: ['10.0.0.2', '10.0.0.3:5353', '[fd00::2]:53', 'fd00::3'] })
  })

  it('says a DNS server answered with something that is not DNS', async () => {
    const garbage = createSocket('udp4')
    garbage.on('message', (_query, peer) =>
      garbage.send(Buffer.from('not a DNS answer at all'), peer.port, peer.address),
    )
    await new Promise<void>((resolve) => garbage.bind(0, '127.0.0.1', resolve))
    try {
      const result = await run(dns('app.probekit.test', { servers: [`127.0.0.1:${garbage.address().port}`] }))
      assert.equal(
        result.output,
        "dns app.probekit.test: the DNS server's answer is not DNS, or is malformed (EBADRESP)",
      )
    } finally {
      garbage.close()
    }
  })

  it('cancels a query to a DNS server that never answers at the deadline, leaving nothing behind', async () => {
    const probe = dns('app.probekit.test', { servers: [silent.address] })
    const started = performance.now()
    const result = await run(probe, 300)
    assert.equal(result.output, 'timed out after 300 ms')
    assert.ok(performance.now() - started < 400)
    await expectNoLeakedResources(() =>
      repeat(200, 10, async () => assert.equal((await run(probe, 50)).status, 'fail')),
    )
  })
})
