/**
 * A Prometheus-like scraper driving the blackbox exporter, for the monitor comparison:
 * every target is scraped through `/probe?module=http_2xx&target=…` at a fixed rate, with
 * first scrapes spread evenly across the interval (as Prometheus spreads its targets).
 *   node bench/support/scraper.mjs EXPORTER_URL INTERVAL_MS DURATION_MS TARGETS_JSON_FILE
 * Prints `{ scrapes, succeeded, failed, errors }` when DURATION_MS is over.
 */
import { readFileSync } from 'node:fs'
import { Agent, get } from 'node:http'

const [exporter, intervalArg, durationArg, targetsFile] = process.argv.slice(2)
const intervalMs = Number(intervalArg)
const durationMs = Number(durationArg)
const targets = JSON.parse(readFileSync(targetsFile, 'utf8'))
// Prometheus' scrape timeout defaults to 10 s but must stay below the interval.
const timeoutMs = Math.min(10_000, intervalMs * 0.8)
const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const stats = { scrapes: 0, succeeded: 0, failed: 0, errors: 0 }
const started = Date.now()
let stopping = false

function scrape(target) {
  stats.scrapes++
  const url = `${exporter}/probe?module=http_2xx&target=${encodeURIComponent(target)}`
  const req = get(url, { agent, timeout: timeoutMs }, (res) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => {
      body += chunk
    })
    res.on('end', () => {
      if (/^probe_success 1$/m.test(body)) stats.succeeded++
      else stats.failed++
    })
  })
  req.on('timeout', () => req.destroy(new Error('scrape timeout')))
  req.on('error', () => {
    stats.errors++
  })
}

targets.forEach((target, i) => {
  let next = started + (i / targets.length) * intervalMs
  const tick = () => {
    if (stopping) return
    scrape(target)
    next += intervalMs
    setTimeout(tick, Math.max(0, next - Date.now()))
  }
  setTimeout(tick, Math.max(0, next - Date.now()))
})

setTimeout(() => {
  stopping = true
  process.stdout.write(`${JSON.stringify(stats)}\n`)
  process.exit(0)
}, durationMs)
