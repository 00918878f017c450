/**
 * The event stream's bounds against real, slow HTTP clients (sockets that connect and never
 * read): a snapshot larger than the per-client bound is not held against its reader, and
 * what every stream together holds unread is bounded, the readers furthest behind dropped
 * first, new streams told to wait.
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { EventStream } from '../../src/monitor/sse.js'
import type { CheckState } from '../../src/monitor/types.js'
import { waitFor } from '../support/server-process.js'
import { state } from '../support/store-contract.js'

/** A monitor as the event stream sees it: states, and 'result' events. */
class Fleet extends EventEmitter {
  index = 1
  readonly list: CheckState[] = []
  states(): CheckState[] {
    return this.list
  }
  result(s: CheckState): void {
    this.index++
    this.emit('result', s)
  }
}

describe('event stream bounds (slow readers)', () => {
  let server: Server
  let port = 0
  let stream: EventStream
  let fleet: Fleet
  const sockets: Socket[] = []

  before(async () => {
    fleet = new Fleet()
    // A snapshot of ~2 MB: far over the 256 KB per-client bound below.
    for (let i = 0; i < 20; i++) fleet.list.push(state(`big${i}`, { output: 'x'.repeat(100_000) }))
    stream = new EventStream(fleet, {
      flushMs: 20,
      maxBufferedBytes: 256 * 1024,
      maxTotalBufferedBytes: 24 * 1024 * 1024,
    })
    server = createServer((req, res) => stream.attach(req, res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as { port: number }).port
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    stream.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  /** A client that sends its request and never reads the answer. */
  async function slowReader(): Promise<Socket> {
    const socket = connect(port, '127.0.0.1')
    sockets.push(socket)
    await new Promise<void>((r) => socket.once('connect', () => r()))
    socket.pause()
    socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    return socket
  }

  it('keeps a reader whose snapshot alone is over the per-client bound, while it holds no more than that', async () => {
    // A snapshot of ~12 MB, more than the kernel's socket buffers take: most of it waits in
    // the stream, far over the 256 KB bound.
    const saved = [...fleet.list]
    for (let i = 20; i < 120; i++) fleet.list.push(state(`big${i}`, { output: 'x'.repeat(100_000) }))
    const reader = await slowReader()
    await waitFor('the stream to open', () => stream.clientCount === 1, 5000)
    fleet.list.splice(0, fleet.list.length, ...saved)
    // Small updates: the reader holds its snapshot plus a little, and stays.
    for (let i = 0; i < 10; i++) {
      fleet.result(state('small', { output: `run ${i}` }))
      await new Promise((r) => setTimeout(r, 30))
    }
    assert.equal(stream.clientCount, 1)
    assert.equal(reader.destroyed, false)
    reader.destroy()
    await waitFor('the stream to close', () => stream.clientCount === 0, 5000)
  })

  it('holds what all readers leave unread under the total bound, dropping those furthest behind', async () => {
    // The per-client bound out of the way (1 GB): only the total bound (8 MB) applies.
    const total = 8 * 1024 * 1024
    const bounded = new EventStream(fleet, { flushMs: 20, maxBufferedBytes: 1024 ** 3, maxTotalBufferedBytes: total })
    const other = createServer((req, res) => bounded.attach(req, res))
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
    const otherPort = (other.address() as { port: number }).port
    try {
      const readers: Socket[] = []
      for (let i = 0; i < 6; i++) {
        const socket = connect(otherPort, '127.0.0.1')
        sockets.push(socket)
        readers.push(socket)
        await new Promise<void>((r) => socket.once('connect', () => r()))
        socket.pause()
        socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
      }
      await waitFor('six streams', () => bounded.clientCount === 6, 5000)
      // Updates of ~1 MB each pile up in every stream (once the kernel's buffers are full).
      let most = 0
      for (let i = 0; i < 80; i++) {
        fleet.result(state(`big${i % 20}`, { output: `${i}`.padEnd(1_000_000, 'y') }))
        await new Promise((r) => setTimeout(r, 25))
        most = Math.max(most, bounded.bufferedBytes)
      }
      assert.ok(most <= total, `the streams held ${most} bytes unread, over the ${total} bound`)
      assert.ok(bounded.clientCount < 6, 'no reader was dropped')
    } finally {
      bounded.close()
      other.closeAllConnections()
      await new Promise((r) => other.close(r))
    }
  })
})

describe('event stream snapshot of a large fleet', () => {
  it('writes the snapshot in parts as one data line, and what happened meanwhile after it', async () => {
    const fleet = new Fleet()
    for (let i = 0; i < 1234; i++) {
      fleet.list.push(state(`check${i}`, { output: i % 100 === 0 ? 'line\u2028sep "q" \u001b[31m é \u009b' : 'fine' }))
    }
    const stream = new EventStream(fleet, { flushMs: 5 })
    const server = createServer((req, res) => {
      stream.attach(req, res)
      // A result reported while the snapshot is being written: it must follow the snapshot.
      fleet.result(state('check7', { output: 'changed during the snapshot' }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as { port: number }
    try {
      const controller = new AbortController()
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { signal: controller.signal })
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const decoder = new TextDecoder()
      let text = ''
      while (!/event: states\ndata: .*\n\n/.test(text)) {
        const { value, done } = await reader.read()
        if (done) break
        text += decoder.decode(value, { stream: true })
      }
      controller.abort()
      const events = text.split('\n\n').filter((e) => e.includes('event: '))
      const snapshot = events[0] as string
      assert.match(snapshot, /^retry: 2000\nevent: snapshot\ndata: /)
      const data = snapshot.slice(snapshot.indexOf('data: ') + 6)
      assert.ok(!data.includes('\n'), 'the snapshot is one data line')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
      assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(data), 'raw control characters in the snapshot')
      // heartbeatMs: how long the page may hear nothing before it takes the stream for dead.
      assert.deepEqual(JSON.parse(data), { index: 1, heartbeatMs: 15_000, states: fleet.list })
      assert.match(events[1] as string, /^event: states\ndata: /)
      const update = JSON.parse((events[1] as string).slice((events[1] as string).indexOf('data: ') + 6))
      assert.equal(update.states[0].output, 'changed during the snapshot')
    } finally {
      stream.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
