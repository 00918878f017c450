import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { parseTcpTarget, tcp } from '../../src/probes/tcp.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { canConnect, freePort, ManagedProcess, refusedPort } from '../support/server-process.js'

// TCP carries no credentials, so the wrong-credentials fault has no tcp counterpart.
describe('tcp probe', () => {
  let server: Server
  let port: number
  let hole: FaultServer

  before(async () => {
    server = createServer((socket) => socket.end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as { port: number }).port
    hole = await blackholeServer()
  })

  after(async () => {
    await hole.close()
    await new Promise((r) => server.close(r))
  })

  it('passes when the port accepts, in every target form', async () => {
    for (const target of [`127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`, { host: '127.0.0.1', port }]) {
      const result = await runProbe(tcp(target), { timeoutMs: 1000 })
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, `connected to 127.0.0.1:${port}`)
      assert.equal(result.observedUnit, 'ms')
      assert.equal(result.componentId, `127.0.0.1:${port}`)
    }
  })

  it('parses IPv6 targets and rejects malformed ones in one sentence', () => {
    assert.deepEqual(parseTcpTarget('[::1]:80'), { host: '::1', port: 80 })
    // A URL's scheme is case-insensitive (RFC 3986).
    assert.deepEqual(parseTcpTarget('TCP://db.internal:5432'), { host: 'db.internal', port: 5432 })
    assert.deepEqual(parseTcpTarget('Tcp://[::1]:80/'), { host: '::1', port: 80 })
    assert.throws(() => tcp('db.internal'), /"db.internal" is not a host and port; write it as "host:port"/)
    assert.throws(() => tcp('db:99999'), /must be a number from 1 to 65535/)
  })

  it('fails with a clear reason when the server is down', async () => {
    const down = await refusedPort()
    const result = await runProbe(tcp(`127.0.0.1:${down}`), { timeoutMs: 1000 })
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `tcp 127.0.0.1:${down}: connection refused (ECONNREFUSED)`)
  })

  it('passes against a garbage server: bytes after the handshake do not matter to a tcp check', async () => {
    const garbage = await garbageServer()
    try {
      const result = await runProbe(tcp(garbage.address), { timeoutMs: 1000 })
      assert.equal(result.status, 'pass')
    } finally {
      await garbage.close()
    }
  })

  it('fails by the connect timeout when the address never accepts', async () => {
    const result = await runProbe(tcp(hole.address, { connectTimeout: 200 }), { timeoutMs: 2000 })
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `tcp ${hole.address}: connect timed out after 200 ms`)
  })

  it('fails within its deadline plus 100 ms when the connect hangs longer than the deadline', async () => {
    const started = performance.now()
    const result = await runProbe(tcp(hole.address), { timeoutMs: 300 })
    assert.equal(result.output, 'timed out after 300 ms')
    assert.ok(performance.now() - started < 400)
  })

  it('leaves no sockets, timers or listeners after 200 checks timed out', async () => {
    const probe = tcp(hole.address)
    await expectNoLeakedResources(() =>
      repeat(200, 10, async () => assert.equal((await runProbe(probe, { timeoutMs: 50 })).status, 'fail')),
    )
  })

  it('still passes against a frozen process: the kernel completes the handshake (use a protocol probe for hangs)', async () => {
    const frozenPort = await freePort()
    const proc = new ManagedProcess(
      'tcp listener',
      process.execPath,
      ['-e', `require('net').createServer(s=>s.end()).listen(${frozenPort},'127.0.0.1')`],
      { ready: () => canConnect(frozenPort) },
    )
    await proc.start()
    try {
      await freezeFully(proc)
      const frozen = await runProbe(tcp(`127.0.0.1:${frozenPort}`), { timeoutMs: 500 })
      assert.equal(frozen.status, 'pass')
      proc.thaw()
      await proc.kill()
      const down = await runProbe(tcp(`127.0.0.1:${frozenPort}`), { timeoutMs: 500 })
      assert.equal(down.status, 'fail')
    } finally {
      await proc.stop()
    }
  })
})
