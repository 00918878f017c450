/**
 * HTTP targets for the monitor comparison: one process answers `ok` for any number of
 * targets, `/t/<id>`, and records when each target is hit, so schedule drift is measured
 * from outside, the same way for every monitor:
 *   node bench/servers/targets.mjs INTERVAL_MS
 * Prints `{"port":…}`. `POST /__control/start` starts recording; `GET /__control/stats`
 * answers `{ requests, samples: [msSinceStart, driftMs, …] }`, where drift is how far the
 * time between two hits of one target is from INTERVAL_MS.
 */
import { createServer } from 'node:http'

const intervalMs = Number(process.argv[2] ?? 5000)
const last = new Map()
let recording = false
let startedAt = 0
let requests = 0
let samples = []

const server = createServer((req, res) => {
  const url = req.url
  if (url.startsWith('/t/')) {
    const now = performance.now()
    if (recording) {
      requests++
      const previous = last.get(url)
      if (previous !== undefined)
        samples.push(Math.round(now - startedAt), Math.round((now - previous - intervalMs) * 10) / 10)
    }
    last.set(url, now)
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
    res.end('ok')
  } else if (url === '/capacity') {
    // For measuring what the targets can serve at all; not recorded.
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
    res.end('ok')
  } else if (url === '/__control/start') {
    last.clear()
    samples = []
    requests = 0
    startedAt = performance.now()
    recording = true
    res.end('recording\n')
  } else if (url === '/__control/stats') {
    recording = false
    const body = JSON.stringify({ requests, elapsedMs: performance.now() - startedAt, samples })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  } else {
    res.statusCode = 404
    res.end()
  }
})
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`))
