import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { createServer, type Server, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { discard, settleOnce, socketExchange } from '../../src/probes/socket.js'
import { expectNoLeakedResources } from '../support/leaks.js'

/** A loopback server that runs `onConnection` for every client. */
async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

describe('socketExchange', () => {
  let silent: { server: Server; port: number }
  let hangsUp: { server: Server; port: number }
  const peers = new Set<Socket>()
  before(async () => {
    silent = await listen((socket) => peers.add(socket))
    hangsUp = await listen((socket) => socket.end())
  })
  after(() => {
    for (const peer of peers) peer.destroy()
    silent.server.close()
    hangsUp.server.close()
  })

  it('fails with the probe’s own wording when the peer hangs up before the exchange is over', async () => {
    const signal = new AbortController().signal
    await assert.rejects(
      socketExchange(
        {
          host: '127.0.0.1',
          port: hangsUp.port,
          what: 'demo 127.0.0.1',
          limitMs: 2000,
          signal,
          closedEarly: 'it hung up',
        },
        () => ({}),
      ),
      { name: 'NotReady', message: 'demo 127.0.0.1: it hung up' },
    )
  })

  it('with limitCovers "handshake", a silent peer fails at the connect limit even though the socket opened', async () => {
    const controller = new AbortController()
    await assert.rejects(
      socketExchange(
        {
          host: '127.0.0.1',
          port: silent.port,
          what: 'demo 127.0.0.1',
          limitMs: 100,
          signal: controller.signal,
          limitCovers: 'handshake',
        },
        () => ({}),
      ),
      { message: 'demo 127.0.0.1: connect timed out after 100 ms' },
    )
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  })

  it('rejects with the signal’s reason at the deadline and leaves no socket, timer or listener behind', async () => {
    await expectNoLeakedResources(async () => {
      const controller = new AbortController()
      const exchange = socketExchange(
        { host: '127.0.0.1', port: silent.port, what: 'demo', limitMs: 5000, signal: controller.signal },
        () => ({}),
      )
      setTimeout(() => controller.abort(new Error('timed out after 50 ms')), 50)
      await assert.rejects(exchange, { message: 'timed out after 50 ms' })
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
    })
  })
})

describe('settleOnce', () => {
  it('settles once: the first outcome wins and release runs exactly once, right after', async () => {
    let released = 0
    const value = await settleOnce<string>(
      { signal: new AbortController().signal, what: 'demo', limitMs: 1000 },
      () => released++,
      (settle) => {
        settle.resolve('first')
        settle.reject(new Error('second'))
        settle.resolve('third')
      },
    )
    assert.equal(value, 'first')
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(released, 1)
  })

  it('turns a throw from start into a rejection, with the timer and abort listener gone', async () => {
    const controller = new AbortController()
    let released = 0
    await expectNoLeakedResources(async () => {
      await assert.rejects(
        settleOnce(
          { signal: controller.signal, what: 'demo', limitMs: 60_000 },
          () => released++,
          () => {
            throw new TypeError('bad header')
          },
        ),
        { message: 'bad header' },
      )
    })
    assert.equal(released, 1)
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  })
})

describe('discard', () => {
  it('leaves a no-op error listener, so a late error after destroy does not crash', () => {
    const socket = new Socket()
    socket.on('error', () => assert.fail('the old listener must be gone'))
    discard(socket)
    assert.equal(socket.destroyed, true)
    socket.emit('error', new Error('read ECONNRESET'))
  })
})
