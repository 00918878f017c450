/**
 * A closed-loop HTTP load client for runs that need every request's latency, timeouts
 * included (wrk drops timed-out requests from its histogram). Run as its own process:
 *   node bench/support/http-load.mjs URL TOTAL CONCURRENCY TIMEOUT_MS
 * Prints one JSON line: latencies (ms, one per request; a timed-out request counts as
 * TIMEOUT_MS), status counts, timeouts and errors.
 */
import { Agent, request } from 'node:http'

const [url, totalArg, concurrencyArg, timeoutArg] = process.argv.slice(2)
const total = Number(totalArg)
const concurrency = Number(concurrencyArg)
const timeoutMs = Number(timeoutArg)
if (!url || !(total > 0) || !(concurrency > 0) || !(timeoutMs > 0)) {
  console.error('usage: node bench/support/http-load.mjs URL TOTAL CONCURRENCY TIMEOUT_MS')
  process.exit(1)
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
const latencies = []
const statuses = {}
let timeouts = 0
let errors = 0
let issued = 0

function once() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6
    let settled = false
    const finish = (kind, status) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (kind === 'timeout') {
        timeouts++
        latencies.push(timeoutMs)
      } else if (kind === 'error') {
        errors++
        latencies.push(elapsed())
      } else {
        statuses[status] = (statuses[status] ?? 0) + 1
        latencies.push(elapsed())
      }
      resolve()
    }
    const req = request(url, { agent }, (res) => {
      res.resume()
      res.on('end', () => finish('ok', res.statusCode))
      res.on('error', () => finish('error'))
    })
    const timer = setTimeout(() => {
      finish('timeout')
      req.destroy()
    }, timeoutMs)
    req.on('error', () => finish('error'))
    req.end()
  })
}

async function worker() {
  while (issued < total) {
    issued++
    await once()
  }
}

const started = performance.now()
await Promise.all(Array.from({ length: concurrency }, worker))
const wallMs = performance.now() - started
agent.destroy()
process.stdout.write(`${JSON.stringify({ wallMs, latencies, statuses, timeouts, errors })}\n`)
