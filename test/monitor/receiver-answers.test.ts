import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startAlertmanager } from '../../src/monitor/alertmanager.js'
import { RECEIVER_ANSWER_MAX_BYTES, readReceiverAnswer } from '../../src/monitor/deliveries.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import { startWebhooks } from '../../src/monitor/webhooks.js'
import { makeTempDir, waitFor } from '../support/server-process.js'

/** What the endless receiver streams at most before it holds the connection open, silent. */
const STREAMED_AT_MOST = 128 * 1024 * 1024
/** More than loopback socket buffers hold: a receiver that got this far was being read. */
const READ_FOR_REAL = 32 * 1024 * 1024

interface Connection {
  /** Bytes the receiver handed to the socket before the connection closed. */
  written: number
  closed: boolean
}

/**
 * A receiver (webhook or Alertmanager) that answers every request with `status`, a first
 * sentence that echoes the request's Basic password, and a body claiming 8 GB: it streams
 * up to 128 MB as fast as the reader takes it, then holds the connection open.
 */
class EndlessReceiver {
  connections: Connection[] = []
  url = ''
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()

  constructor(private readonly status: string) {}

  async start(): Promise<this> {
    this.server = createServer((socket) => {
      this.sockets.add(socket)
      const connection: Connection = { written: 0, closed: false }
      this.connections.push(connection)
      socket.on('error', () => {})
      socket.on('close', () => {
        connection.written = socket.bytesWritten
        connection.closed = true
        this.sockets.delete(socket)
      })
      let head = ''
      const onData = (data: Buffer) => {
        head += data.toString('latin1')
        if (!head.includes('\r\n\r\n')) return
        socket.off('data', onData)
        socket.resume() // the request body is not needed
        const basic = /\r\nauthorization: basic (\S+)/i.exec(head)?.[1]
        const password = basic ? Buffer.from(basic, 'base64').toString().split(':')[1] : ''
        socket.write(
          `HTTP/1.1 ${this.status}\r\ncontent-type: text/plain\r\ncontent-length: 8000000000\r\n\r\nrefused: you sent ${password} and then `,
        )
        const chunk = Buffer.alloc(1024 * 1024, 'a')
        let streamed = 0
        const pump = () => {
          while (!socket.destroyed && streamed < STREAMED_AT_MOST && socket.write(chunk)) streamed += chunk.length
          if (!socket.destroyed && streamed < STREAMED_AT_MOST) socket.once('drain', pump)
        }
        pump()
      }
      socket.on('data', onData)
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

class Log {
  lines: string[] = []
  info = (m: string) => this.lines.push(`info ${m}`)
  warn = (m: string) => this.lines.push(`warn ${m}`)
  error = (m: string) => this.lines.push(`error ${m}`)
}

/** Every connection of the receiver closed by the monitor, having been read no further than socket buffers. */
async function allClosedEarly(receiver: EndlessReceiver): Promise<void> {
  await waitFor(
    'every connection to the receiver closed by the monitor',
    () => receiver.connections.length > 0 && receiver.connections.every((c) => c.closed),
    20_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(receiver.connections)}`)
  })
  for (const c of receiver.connections) assert.ok(c.written < READ_FOR_REAL, `the monitor read ${c.written} bytes`)
}

describe('answers of notification receivers', () => {
  let monitor: Monitor
  const log = new Log()

  before(async () => {
    const dir = makeTempDir('receiver-answers')
    writeFileSync(
      join(dir, 'jobs.yaml'),
      'id: jobs\nnode: n1\nchecks:\n  - { name: nightly, type: push, period: 1h }\n',
    )
    monitor = new Monitor({ store: openStore('memory'), logger: log })
    await monitor.load([dir])
    monitor.start()
  })

  after(async () => {
    await monitor.stop()
  })

  it('are read up to 4 KB, and the rest of an endless body is never fetched: the connection closes', async () => {
    const receiver = await new EndlessReceiver('500 Internal Server Error').start()
    try {
      const res = await fetch(`${receiver.url}/hook`, { method: 'POST', body: '{}' })
      const answer = await readReceiverAnswer(res)
      assert.equal(Buffer.byteLength(answer.text), RECEIVER_ANSWER_MAX_BYTES)
      assert.ok(answer.text.startsWith('refused: you sent  and then aaa'), answer.text.slice(0, 80))
      assert.equal(answer.truncated, true)
      await allClosedEarly(receiver)
    } finally {
      await receiver.close()
    }
  })

  it('a webhook receiver answering 500 with an endless body: each retry reads a few KB, and the sender gives up in time', async () => {
    const receiver = await new EndlessReceiver('500 Internal Server Error').start()
    log.lines = []
    const hooks = startWebhooks(monitor, {
      urls: [`${receiver.url}/hook`],
      minIntervalMs: 0,
      timeoutMs: 60_000,
      retries: 1,
      backoffMs: 50,
      logger: log,
    })
    try {
      monitor.push('nightly', 'fail')
      const line = await waitFor('the webhook to give up', () => log.lines.find((l) => /gave up/.test(l)), 20_000)
      assert.match(line, /gave up on the notification for n1\/jobs\/nightly \(unknown -> critical\): answered 500$/)
      await allClosedEarly(receiver)
      assert.equal(hooks.pending, 0)
    } finally {
      // Ends what the old unbounded read would still be at, so the test fails instead of hanging.
      await receiver.close()
      await hooks.close()
      monitor.push('nightly', 'success')
    }
  })

  it('an Alertmanager answering 400 with an endless body: one refusal line with its first words, redacted, in time', async () => {
    const receiver = await new EndlessReceiver('400 Bad Request').start()
    log.lines = []
    const alerts = startAlertmanager(monitor, {
      urls: [receiver.url.replace('//', '//am-user:am-pw-endless-1234@')],
      timeoutMs: 60_000,
      logger: log,
    })
    try {
      monitor.push('nightly', 'fail')
      const line = await waitFor('the refusal line', () => log.lines.find((l) => /refused/.test(l)), 20_000)
      assert.match(
        line,
        /^error alertmanager http:\/\/127\.0\.0\.1:\d+\/: refused 1 alert: answered 400: refused: you sent \*\*\* and then a+$/,
      )
      assert.ok(line.length < 400, line)
      await allClosedEarly(receiver)
    } finally {
      await receiver.close()
      await alerts.close()
      monitor.push('nightly', 'success')
    }
  })
})
