import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type Api, MAX_METRICS_ANSWERS, startApi } from '../../src/monitor/api.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { waitFor } from '../support/server-process.js'

// Scrapers of /metrics that do not read, against a real monitor whose page is ~18 MB:
// far more than the kernel's socket buffers take in (3–4 MB on loopback), so an answer to a
// client that does not read cannot finish.
const CHECKS = 10_000
const PODS = 20
/** Long targets make a long `instance` label: ~1.8 KB of text per check. */
const PADDING = 'x'.repeat(200)

/** A scrape whose client reads the answer's first chunk and then nothing. */
interface Stalled {
  socket: Socket
  /** The first chunk the monitor sent (its head, and the start of the body). */
  first: string
  /** The answer's declared length. */
  contentLength: number
  /** Bytes of the body received so far. */
  bodyBytes(): number
  /** Resolves once the socket is closed, by either side. */
  closed: Promise<void>
}

/** Sends `GET path` over a raw socket, waits for the first chunk of the answer, then pauses the socket. */
function scrapeWithoutReading(baseUrl: string, path = '/metrics'): Promise<Stalled> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`)
    })
    let received = 0
    let headBytes = -1
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    // The monitor closing it on a client that has not read everything may reset it.
    socket.on('error', () => {})
    socket.once('error', reject)
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (headBytes >= 0) return
      socket.pause()
      const first = chunk.toString('latin1')
      const end = first.indexOf('\r\n\r\n')
      assert.ok(end > 0, `the first chunk holds the whole head: ${JSON.stringify(first.slice(0, 200))}`)
      headBytes = end + 4
      resolve({
        socket,
        first,
        contentLength: Number(/\r\ncontent-length: (\d+)\r\n/i.exec(first.slice(0, end + 2))?.[1]),
        bodyBytes: () => received - headBytes,
        closed,
      })
    })
  })
}

/** Fetches `/metrics`, reading it all; undefined while the monitor answers 503. */
async function scrapeUnlessBusy(baseUrl: string): Promise<string | undefined> {
  const res = await fetch(`${baseUrl}/metrics`)
  const text = await res.text()
  if (res.status === 503) return undefined
  assert.equal(res.status, 200, text.slice(0, 200))
  return text
}

/** `promise`, or a failure naming `what` after `ms`; the timer ends either way. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

let fleet: Fleet
const stalled: Stalled[] = []

/** A second listener on the same monitor, with the write deadline shortened from 30 s to 1 s. */
function shortDeadlineApi(): Promise<Api> {
  return startApi(fleet.monitor, { host: '127.0.0.1', port: 0, logger: false, writeDeadlineMs: 1000 })
}

before(async () => {
  fleet = await startFleet({
    store: 'memory',
    prepare: (t) => t.set('/up', 200, 'fine'),
    // Checks due once an hour: their first runs spread over that hour, so the monitor has
    // little to do but answer scrapes.
    manifests: (t) => {
      const files: Record<string, string> = {}
      for (let p = 0; p < PODS; p++) {
        const lines = [`id: pod-${p}`, 'node: n1', 'checks:']
        for (let i = 0; i < CHECKS / PODS; i++) {
          lines.push(`  - { name: check-${i}, url: "${t.url(`/up?n=${i}&padding=${PADDING}`)}", interval: 1h }`)
        }
        files[`pod-${p}.yaml`] = `${lines.join('\n')}\n`
      }
      return files
    },
  })
})

after(async () => {
  for (const s of stalled) s.socket.destroy()
  await fleet?.close()
})

/** Opens a stalled scrape, and remembers it to close at the end whatever happens. */
async function stall(baseUrl: string): Promise<Stalled> {
  const s = await scrapeWithoutReading(baseUrl)
  stalled.push(s)
  assert.match(s.first, /^HTTP\/1\.1 200 /)
  // The premise: an answer far larger than the socket buffers, which cannot finish unread.
  assert.ok(s.contentLength > 8e6, `the answer is ${s.contentLength} bytes`)
  return s
}

describe('GET /metrics facing clients that do not read', () => {
  it(`answers 503 with Retry-After beyond ${MAX_METRICS_ANSWERS} answers in flight, and serves again once one ends`, async () => {
    const held: Stalled[] = []
    // One after the other: each is its own rendering, held while it is written.
    for (let i = 0; i < MAX_METRICS_ANSWERS; i++) held.push(await stall(fleet.url))

    const refused = await fetch(`${fleet.url}/metrics`)
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.equal(refused.headers.get('content-type'), 'application/json; charset=utf-8')
    const { error } = (await refused.json()) as { error: string }
    assert.equal(
      error,
      `${MAX_METRICS_ANSWERS} answers of /metrics are being rendered or written, the most this monitor serves at once (GET /metrics/monitor, its own figures, is not limited); retry after 5 s`,
    )
    // The monitor's own figures are tiny and not limited.
    const own = await fetch(`${fleet.url}/metrics/monitor`)
    assert.equal(own.status, 200)
    assert.match(await own.text(), /^probekit_monitor_check_runs_total /m)

    // One of them goes away: its slot is free again, and a scrape that reads gets it all.
    ;(held[0] as Stalled).socket.destroy()
    const text = await waitFor('a scrape to be served again', () => scrapeUnlessBusy(fleet.url), 15_000)
    assert.ok(Buffer.byteLength(text) > 8e6, `${Buffer.byteLength(text)} bytes`)
    assert.match(text, /^# HELP probe_success /)
    assert.match(text, /^probekit_checks\{state="unknown"\} \d+$/m)
    for (const s of held) s.socket.destroy()
  })

  it('closes the connection of a client that has not read its answer by the write deadline, and frees its slot', async () => {
    const api = await shortDeadlineApi()
    try {
      // The first answer's deadline runs out before the others': its slot is the first freed.
      const first = await stall(api.url)
      const firstAt = performance.now()
      const others = await Promise.all(Array.from({ length: MAX_METRICS_ANSWERS - 1 }, () => stall(api.url)))
      // Every slot is held until a deadline frees one (503 until then).
      await waitFor('a slot freed by the write deadline', () => scrapeUnlessBusy(api.url), 15_000)
      const freedAfter = performance.now() - firstAt
      assert.ok(freedAfter >= 900, `a slot was free ${Math.round(freedAfter)} ms after the first answer started`)

      // The client that did not read finds its answer cut: what the kernel held, then the end.
      first.socket.resume()
      await within(first.closed, 10_000, 'the monitor to close the connection')
      assert.ok(
        first.bodyBytes() < first.contentLength,
        `${first.bodyBytes()} of ${first.contentLength} bytes arrived: the answer was not cut`,
      )
      for (const s of others) s.socket.destroy()
    } finally {
      await api.close()
    }
  })

  it('closes the connection of a client that has not read a /v1/checks answer by the write deadline', async () => {
    const api = await shortDeadlineApi()
    try {
      const reader = await scrapeWithoutReading(api.url, '/v1/checks')
      assert.match(reader.first, /^HTTP\/1\.1 200 /)
      assert.ok(reader.contentLength > 5e6, `${reader.contentLength} bytes: more than the kernel takes in`)
      // Well past the deadline, the client starts reading: the answer was cut at the deadline.
      await new Promise((r) => setTimeout(r, 2500))
      reader.socket.resume()
      await within(reader.closed, 10_000, 'the monitor to close the connection')
      assert.ok(
        reader.bodyBytes() < reader.contentLength,
        `${reader.bodyBytes()} of ${reader.contentLength} bytes arrived: the answer was not cut`,
      )
      // Others are answered in full meanwhile.
      const res = await fetch(`${api.url}/v1/checks?state=unknown,passing,warning,critical`)
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as unknown[]).length, CHECKS)
    } finally {
      await api.close()
    }
  })
})
