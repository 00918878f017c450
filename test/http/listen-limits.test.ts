/**
 * The management listener (`health.listen()`) is reachable by anyone on the pod network:
 * clients that open connections and send nothing, or half a request head, must not hold
 * its sockets, and a flood of connections must not take the process's file descriptors.
 * Real sockets throughout; the only timing bounds are generous ones.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { createHealth, type Health, type Listening } from '../../src/index.js'
import { expectNoLeakedResources } from '../support/leaks.js'
import { sleep } from '../support/server-process.js'

interface Opened {
  socket: Socket
  /** Everything the listener sent. */
  received(): string
  /** Resolves with the ms from opening to the listener closing the socket. */
  closed: Promise<number>
}

/** Opens a connection and, once connected, sends `head` (nothing when empty), then nothing more. */
function open(port: number, head = ''): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let text = ''
    const socket = connect(port, '127.0.0.1', () => {
      if (head) socket.write(head)
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve({ socket, received: () => text, closed })
    })
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1')
    })
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)))
    socket.once('error', reject)
  })
}

interface Reply {
  status: number
  body: string
  /** Whether the request went over a connection an earlier one had used. */
  reused: boolean
  /** The client's port: the same for requests over the same connection. */
  localPort: number | undefined
}

function get(url: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket, localPort: res.socket?.localPort }),
      )
    })
    req.on('error', reject)
  })
}

function app(): Health {
  const health = createHealth({ logger: false, timeout: 3000, metricsPath: '/metrics' })
  health.add('db', () => {})
  return health
}

async function withListener(
  options: Parameters<Health['listen']>[0],
  work: (listening: Listening) => Promise<void>,
): Promise<void> {
  const health = app()
  const listening = await health.listen({ port: 0, host: '127.0.0.1', ...options })
  try {
    await work(listening)
  } finally {
    await listening.close()
    await health.close()
  }
}

describe('health.listen() facing idle and slow clients', () => {
  it('closes, by default within its 5 s deadline, connections that send nothing or half a request head', async () => {
    await expectNoLeakedResources(() =>
      withListener({}, async ({ port, url }) => {
        const silent = await Promise.all(Array.from({ length: 5 }, () => open(port)))
        const partial = await Promise.all(
          Array.from({ length: 5 }, () => open(port, 'GET /readyz HTTP/1.1\r\nHost: x\r\n')),
        )
        // Meanwhile the probes are answered.
        assert.equal((await get(`${url}/livez`)).status, 200)
        const closedAfter = await Promise.all([...silent, ...partial].map((s) => s.closed))
        // 5 s, checked every second; 9 s is the generous bound (the old listener kept them for minutes).
        for (const ms of closedAfter) assert.ok(ms < 9000, `closed after ${ms} ms`)
        for (const s of partial) assert.match(s.received(), /^HTTP\/1\.1 408 /)
      }),
    )
  })

  it('follows requestDeadlineMs for a head that never ends', async () => {
    await withListener({ requestDeadlineMs: 500, idleTimeoutMs: 60_000 }, async ({ port }) => {
      const silent = await open(port)
      const dripping = await open(port, 'GET /readyz HTTP/1.1\r\n')
      const drip = setInterval(() => dripping.socket.write('X-a: b\r\n'), 100)
      try {
        // A longer idle timeout does not let a silent connection outlive the deadline.
        for (const ms of await Promise.all([silent.closed, dripping.closed])) {
          assert.ok(ms < 4000, `closed after ${ms} ms`)
        }
        assert.match(dripping.received(), /^HTTP\/1\.1 408 /)
      } finally {
        clearInterval(drip)
      }
    })
  })

  it('follows idleTimeoutMs before the first byte and between keep-alive requests', async () => {
    await withListener({ idleTimeoutMs: 300, requestDeadlineMs: 60_000 }, async ({ port }) => {
      const silent = await open(port)
      const kept = await open(port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n')
      for (const ms of await Promise.all([silent.closed, kept.closed])) {
        assert.ok(ms < 4000, `closed after ${ms} ms`)
      }
      assert.match(kept.received(), /^HTTP\/1\.1 200 /)
      assert.equal(silent.received(), '')
    })
  })

  it('answers a probe slower than the request deadline: the deadline is for the request, not the answer', async () => {
    const health = createHealth({ logger: false, timeout: 5000 })
    health.add('slow', () => sleep(1500))
    const listening = await health.listen({ port: 0, host: '127.0.0.1', requestDeadlineMs: 300 })
    try {
      const reply = await get(`${listening.url}/readyz`)
      assert.equal(reply.status, 200)
      assert.equal(reply.body, 'ok')
    } finally {
      await listening.close()
      await health.close()
    }
  })
})

describe('health.listen() connection cap', () => {
  it('closes a connection beyond maxConnections at once, while a kept-alive one is still answered', async () => {
    await expectNoLeakedResources(() =>
      withListener({ maxConnections: 5, idleTimeoutMs: 30_000, requestDeadlineMs: 30_000 }, async ({ port, url }) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
        try {
          const first = await get(`${url}/metrics`, agent)
          assert.equal(first.status, 200)
          const idle = await Promise.all(Array.from({ length: 4 }, () => open(port)))
          // Five open: the sixth is closed as it arrives, without a byte.
          const extra = await open(port)
          const ms = await extra.closed
          assert.ok(ms < 2000, `closed after ${ms} ms`)
          assert.equal(extra.received(), '')
          // The kept-alive connection (a Prometheus scrape) goes on being answered.
          for (let i = 0; i < 3; i++) {
            const again = await get(`${url}/metrics`, agent)
            assert.equal(again.status, 200)
            assert.match(again.body, /probekit_check_status/)
            assert.equal(again.reused, true)
            assert.equal(again.localPort, first.localPort)
          }
          // The idle ones are untouched, and once they go, new connections are served again.
          for (const s of idle) assert.equal(s.socket.destroyed, false)
          for (const s of idle) s.socket.destroy()
          await Promise.all(idle.map((s) => s.closed))
          await sleep(100)
          assert.equal((await get(`${url}/livez`)).status, 200)
        } finally {
          agent.destroy()
        }
      }),
    )
  })

  it('answers /livez with 250 idle connections open, and caps them at 256 by default', async () => {
    await withListener({}, async ({ port, url }) => {
      const idle: Opened[] = []
      try {
        for (let i = 0; i < 250; i++) idle.push(await open(port))
        const live = await get(`${url}/livez`)
        assert.equal(live.status, 200)
        assert.equal(live.body, 'ok')
        for (let i = 250; i < 256; i++) idle.push(await open(port))
        const extra = await open(port)
        const ms = await extra.closed
        assert.ok(ms < 2000, `closed after ${ms} ms`)
        assert.equal(extra.received(), '')
      } finally {
        for (const s of idle) s.socket.destroy()
      }
    })
  })
})

describe('health.listen() options', () => {
  it('refuses a limit that is not a whole number above zero, and a misspelt option', async () => {
    const health = app()
    await assert.rejects(health.listen({ port: 0, maxConnections: 0 }), {
      name: 'RangeError',
      message: /health\.listen: maxConnections must be a whole number from 1 to \d+, got 0/,
    })
    await assert.rejects(health.listen({ port: 0, requestDeadlineMs: 2.5 }), /requestDeadlineMs must be a whole number/)
    await assert.rejects(health.listen({ port: 0, idleTimeoutMs: Number.POSITIVE_INFINITY }), /idleTimeoutMs/)
    await assert.rejects(health.listen({ port: 0, maxConnection: 10 } as never), {
      name: 'TypeError',
      message: /health\.listen: unknown option "maxConnection"; did you mean "maxConnections"\?/,
    })
    await health.close()
  })
})
