import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import memjs from 'memjs'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { memcached } from '../../src/probes/memcached.js'
import { assertOnTime, timedCheck } from '../support/deadline.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { waitFor } from '../support/server-process.js'
import { type MemcachedServer, type MemcachedServers, startMemcached } from '../support/servers/memcached.js'

const run = (probe: Probe, timeoutMs = 2000) => runProbe(probe, { timeoutMs })
const quiet = { log: () => {} }

async function timed(probe: Probe, timeoutMs: number) {
  const started = performance.now()
  const result = await runProbe(probe, { timeoutMs })
  return { result, elapsedMs: performance.now() - started }
}

describe('memcached probe against two real memcached servers', () => {
  let pair: MemcachedServers
  let first: MemcachedServer
  let second: MemcachedServer
  let client: memjs.Client
  let garbage: FaultServer
  let blackhole: FaultServer

  before(async () => {
    ;[pair, garbage, blackhole] = await Promise.all([startMemcached({ count: 2 }), garbageServer(), blackholeServer()])
    ;[first, second] = pair.servers as [MemcachedServer, MemcachedServer]
    client = memjs.Client.create(pair.serversString, { logger: quiet, timeout: 0.3, retries: 1 })
  })

  after(async () => {
    client?.close()
    await Promise.all([pair?.stop(), garbage?.close(), blackhole?.close()])
  })

  it('passes with stats from every server, for a memjs client and for a server list', async () => {
    for (const probe of [
      memcached(client),
      memcached(pair.serversString),
      memcached(`memcached://${pair.serversString}`),
    ]) {
      const result = await run(probe)
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.name, 'memcached')
      assert.equal(result.output, 'stats from 2 servers')
      assert.equal(result.observedUnit, 'ms')
      assert.equal(result.componentType, 'datastore')
      assert.equal(result.componentId, pair.serversString)
    }
  })

  it('rejects what is neither a client nor a server list in one sentence', () => {
    assert.throws(() => memcached(''), /is not a server list; write it as host:11211,host:11212/)
    assert.throws(() => memcached('a:1,,b:2'), /is not a server list/)
    assert.throws(() => memcached('http://x/y'), /is not host:port/)
    assert.throws(() => memcached({} as never), /expected a memjs client/)
  })

  it('never echoes a SASL password in the sentence that refuses a server list', () => {
    const lists = [
      'app:S3cret-pw@cache:11211x',
      'memcached://app:S3cret-pw@cache:1x',
      'cache-1:11211,app:S3c@ret-pw@cache:port',
      'app:S3cret-pw@cache:11211,,cache-2:11211',
      'other:S3cret-pw@cache-1:11211,app:S3cret-pw@cache-2:11211,',
    ]
    for (const list of lists) {
      assert.throws(
        () => memcached(list),
        (error: Error) => {
          assert.ok(error instanceof TypeError, error.message)
          assert.doesNotMatch(error.message, /S3c/, list)
          assert.match(error.message, /app:\*\*\*@cache|other:\*\*\*@cache-1/)
          return true
        },
      )
    }
  })

  it('fails naming the server that is down while the other answers, and passes once it is back', async () => {
    await second.process.kill()
    try {
      for (const probe of [memcached(client), memcached(pair.serversString)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        // The client's open socket breaks (EPIPE, reset) where a new connection is refused.
        assert.match(
          result.output ?? '',
          new RegExp(
            `^memcached: 1 of 2 servers did not answer: ${second.address.replace(/\./g, '\\.')} \\(connection (refused|closed by the server|reset by the server) \\(E[A-Z]+\\)\\); 1 answered$`,
          ),
        )
      }
    } finally {
      await second.process.start()
    }
    await waitFor('the client to reconnect', async () => (await run(memcached(client))).status === 'pass', 5000)
  })

  it('fails naming a frozen server within the deadline plus 100 ms, and passes after SIGCONT with the same client', async () => {
    first.process.freeze()
    try {
      const check = await timedCheck(memcached(client), 1000)
      const { result } = check
      assert.equal(result.status, 'fail')
      // memjs gives up on the silent server after its own 0.3 s timeout, so it is named.
      assert.equal(
        result.output,
        `memcached: 1 of 2 servers did not answer: ${first.address} (no answer within the client's timeout); 1 answered`,
      )
      const url = await timed(memcached(pair.serversString, { connectTimeout: 300 }), 1000)
      assert.equal(url.result.status, 'fail')
      assert.match(url.result.output ?? '', new RegExp(`did not answer: ${first.address.replace(/\./g, '\\.')}`))
      // A deadline shorter than the client's own timeout ends the check on time.
      const short = await timedCheck(memcached(client), 150)
      assert.equal(short.result.output, 'timed out after 150 ms')
      assertOnTime(short, 150)
      assertOnTime(check, 1000)
    } finally {
      first.process.thaw()
    }
    await waitFor('the client to answer again', async () => (await run(memcached(client))).status === 'pass', 5000)
  })

  it('fails on a port that answers garbage, saying what it answered, before any deadline', async () => {
    // Deadlines far away: the reason is the answer's, not a timeout's.
    const result = await run(memcached(`${garbage.address},${first.address}`, { connectTimeout: 10_000 }), 15_000)
    assert.equal(result.status, 'fail')
    assert.equal(
      result.output,
      `memcached: 1 of 2 servers did not answer: ${garbage.address} (not a memcached server (it answered "HTTP/9.9 garbage ......." where memcached's binary protocol was due)); 1 answered`,
    )
  })

  it('fails by the connect timeout on an address that never accepts (server list)', async () => {
    const { result, elapsedMs } = await timed(memcached(blackhole.address, { connectTimeout: 300 }), 2000)
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `memcached: 1 of 1 servers did not answer: ${blackhole.address} (connect timed out)`)
    assert.ok(elapsedMs < 800, `took ${elapsedMs} ms`)
  })

  it('fails at once, saying so, on a port that accepts and closes the connection without answering', async () => {
    // A server at its connection limit, or a proxy with no backend: memjs fails requests
    // only on socket errors and on its own timers, so the probe has to notice the close.
    const sockets = new Set<Socket>()
    const closer = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.end()
    })
    await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve))
    const address = `127.0.0.1:${(closer.address() as { port: number }).port}`
    try {
      const { result, elapsedMs } = await timed(
        memcached(`${address},${first.address}`, { connectTimeout: 5000 }),
        8000,
      )
      assert.equal(result.status, 'fail')
      assert.match(
        result.output ?? '',
        new RegExp(
          `^memcached: 1 of 2 servers did not answer: ${address} \\((the server closed the connection without answering|connection reset by the server \\(ECONNRESET\\))\\); 1 answered$`,
        ),
      )
      assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => closer.close(resolve))
    }
  })

  it('leaves no socket behind when memjs gives up on a silent server before the deadline (server list)', async () => {
    // memjs' own timeout (connectTimeout here) half-closes the socket and forgets it; a
    // server that reads nothing (hung, or frozen) never completes the close, so one socket
    // a check stayed open for as long as the server did. The server runs in a process of
    // its own, so only the probe's sockets are counted here.
    const silent = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1', function () { console.log(this.address().port) })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      const [port] = (await once(silent.stdout, 'data')) as [Buffer]
      const address = `127.0.0.1:${Number(port.toString())}`
      await expectNoLeakedResources(async () => {
        await repeat(10, 5, async () => {
          const result = await run(memcached(address, { connectTimeout: 100 }), 2000)
          assert.equal(
            result.output,
            `memcached: 1 of 1 servers did not answer: ${address} (no answer within the client's timeout)`,
          )
        })
      })
    } finally {
      silent.kill('SIGKILL')
    }
  })

  it('leaves no sockets, timers or listeners behind after 200 checks timed out against a frozen server', async () => {
    // A client whose own timeout outlasts the freeze: memjs itself loses track of a socket
    // when one of its timeouts fires and an older socket closes later (its 'close' handler
    // clears whatever socket is current), which would be memjs' leak, not the probe's.
    const patient = memjs.Client.create(pair.serversString, { logger: quiet, timeout: 30 })
    assert.equal((await run(memcached(patient))).status, 'pass')
    const kinds: [string, Probe][] = [
      ['memjs client', memcached(patient)],
      ['server list', memcached(pair.serversString)],
    ]
    for (const [kind, probe] of kinds) {
      await expectNoLeakedResources(async () => {
        assert.equal((await run(probe)).status, 'pass', kind)
        first.process.freeze()
        try {
          await repeat(200, 20, async () => {
            const result = await run(probe, 25)
            assert.equal(result.status, 'fail', `${kind}: ${result.output}`)
          })
        } finally {
          first.process.thaw()
        }
        await waitFor(`${kind} to pass again`, async () => (await run(probe)).status === 'pass', 10_000, 100)
      }, 5000).catch((error: Error) => {
        throw new Error(`${kind}: ${error.message}`)
      })
    }
    patient.close()
  })

  it('fails on wrong SASL credentials with a reason naming authentication and no password', async () => {
    const secured = await startMemcached({ sasl: { username: 'app', password: 'right-mc-pass-1' } })
    const wrong = memjs.Client.create(secured.serversString, {
      username: 'app',
      password: 'wrong-mc-pass-2',
      logger: quiet,
      retries: 1,
    })
    const right = memjs.Client.create(secured.serversString, {
      username: 'app',
      password: 'right-mc-pass-1',
      logger: quiet,
    })
    try {
      assert.equal((await run(memcached(right))).status, 'pass')
      for (const probe of [memcached(wrong), memcached(`app:wrong-mc-pass-2@${secured.serversString}`)]) {
        const result = await run(probe)
        assert.equal(result.status, 'fail')
        assert.match(result.output ?? '', /authentication failed/)
        assert.doesNotMatch(JSON.stringify(result), /wrong-mc-pass-2|right-mc-pass-1/)
      }
    } finally {
      wrong.close()
      right.close()
      await secured.stop()
    }
  })
})
