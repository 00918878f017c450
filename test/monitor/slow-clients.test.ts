import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type MonitorProcess, request, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir } from '../support/server-process.js'

// Clients that open a request and never finish it, against a real `probekit monitor`.
const TOKEN = 'slow-clients-token-0123456789'
const dir = makeTempDir('slow-clients')
const tokenFile = join(dir, 'tokens')
const manifest = join(dir, 'jobs.yaml')
writeFileSync(tokenFile, `${TOKEN}\n`)
writeFileSync(manifest, ['id: jobs', 'node: n1', 'checks:', '  - { name: x, type: push, period: 1h }', ''].join('\n'))

interface Opened {
  socket: Socket
  /** Everything the monitor sent. */
  received(): string
  /** Resolves with the ms from opening to the monitor closing the socket. */
  closed: Promise<number>
}

/** Opens a connection, sends `head` and 3 bytes of a 100,000-byte body, then nothing. */
function stall(port: number, head: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let text = ''
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${head}Content-Length: 100000\r\n\r\nabc`)
      resolve({ socket, received: () => text, closed })
    })
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1')
    })
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)))
    socket.once('error', reject)
  })
}

describe('a monitor facing slow and idle clients', () => {
  let m: MonitorProcess
  let port: number

  before(async () => {
    m = await spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '127.0.0.1:0',
      '--auth-token-file',
      tokenFile,
      '--max-connections',
      '40',
      '--push-rate',
      '1000',
      manifest,
    ]).started()
    port = Number(new URL(m.url).port)
  })
  after(async () => {
    assert.equal(await m?.stop(), 0)
  })

  it('closes 20 push connections whose body stalls within the 10 s request deadline, and /livez answers meanwhile', async () => {
    const head = `POST /v1/push/x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n`
    const slow = await Promise.all(Array.from({ length: 20 }, () => stall(port, head)))
    for (let i = 0; i < 3; i++) {
      const live = await request(`${m.url}/livez`)
      assert.equal(live.status, 200)
      await new Promise((r) => setTimeout(r, 1000))
    }
    const closedAfter = await Promise.all(slow.map((s) => s.closed))
    // The deadline is 10 s, checked every second; 15 s is the generous bound.
    for (const ms of closedAfter) assert.ok(ms < 15_000, `closed after ${ms} ms`)
    for (const s of slow) assert.match(s.received(), /^HTTP\/1\.1 408 /)
    assert.equal(
      (await request(`${m.url}/v1/checks/n1/jobs/x`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      200,
    )
  })

  it('answers an unauthenticated push 401 before reading its body, and closes the connection', async () => {
    const s = await stall(port, `POST /v1/push/x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`)
    const ms = await s.closed
    assert.match(s.received(), /^HTTP\/1\.1 401 /)
    assert.match(s.received(), /\r\nconnection: close\r\n/i)
    // Closed at once, well before the request deadline would have.
    assert.ok(ms < 5000, `closed after ${ms} ms`)
  })

  it('keeps a long poll waiting its full time, past the request deadline', async () => {
    const bearer = { authorization: `Bearer ${TOKEN}` }
    const first = await request(`${m.url}/v1/checks`, { headers: bearer })
    const index = String(first.headers['x-probekit-index'])
    const started = Date.now()
    const polled = await request(`${m.url}/v1/checks?index=${index}&wait=12s`, { headers: bearer })
    assert.equal(polled.status, 200)
    assert.ok(Date.now() - started >= 11_500, `answered after ${Date.now() - started} ms`)
  })

  it('closes connections beyond --max-connections as they arrive, and serves again once they are gone', async () => {
    const idle: Socket[] = []
    for (let i = 0; i < 40; i++) {
      idle.push(
        await new Promise<Socket>((r) => {
          const s = connect(port, '127.0.0.1', () => r(s))
          s.on('error', () => {})
        }),
      )
    }
    const extra = connect(port, '127.0.0.1')
    extra.on('error', () => {})
    await new Promise((r) => extra.once('close', r))
    for (const s of idle) s.destroy()
    await new Promise((r) => setTimeout(r, 200))
    assert.equal((await request(`${m.url}/livez`)).status, 200)
  })
})
