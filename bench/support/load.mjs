/**
 * Load generators, each in its own process pinned to the load core: wrk for throughput
 * (C, so the generator is never the bottleneck) and a small Node client for runs that need
 * every request's latency including timeouts.
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { requireBinary, runCommand } from './proc.mjs'
import { percentile } from './stats.mjs'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * `wrk -t<threads> -c<connections> -d<seconds>s` against `url`. Returns requests per
 * second, latency percentiles in ms, and errors.
 */
export async function wrk(
  url,
  { connections = 50, seconds = 5, threads = 1, cpu, timeoutSeconds = 2, headers = [] } = {},
) {
  const bin = requireBinary('wrk', [], 'wrk')
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    `--timeout`,
    `${timeoutSeconds}s`,
    ...headers.flatMap((h) => ['-H', h]),
    '-s',
    join(here, 'wrk-report.lua'),
    url,
  ]
  const { code, stdout, stderr } = await runCommand(bin, args, { cpu, timeoutMs: (seconds + 30) * 1000 })
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'))
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`)
  const r = JSON.parse(line)
  const durationS = r.durationUs / 1e6
  return {
    rps: r.requests / durationS,
    requests: r.requests,
    p50Ms: r.p50Us / 1000,
    p90Ms: r.p90Us / 1000,
    p99Ms: r.p99Us / 1000,
    maxMs: r.maxUs / 1000,
    non2xx: r.non2xx,
    errors: r.connectErrors + r.readErrors + r.writeErrors + r.timeouts,
    timeouts: r.timeouts,
  }
}

/** The command line that reproduces a wrk run, for the report. */
export function wrkCommand({ connections = 50, seconds = 5, threads = 1, cpu } = {}, url = 'URL') {
  const pin = cpu === undefined ? '' : `taskset -c ${cpu} `
  return `${pin}wrk -t${threads} -c${connections} -d${seconds}s ${url}`
}

/** `total` requests at `concurrency`, each abandoned after `timeoutMs`; every latency kept. */
export async function httpLoad(url, { total, concurrency, timeoutMs, cpu }) {
  const { code, stdout, stderr } = await runCommand(
    process.execPath,
    [join(here, 'http-load.mjs'), url, String(total), String(concurrency), String(timeoutMs)],
    { cpu, timeoutMs: Math.max(120_000, (total / concurrency + 2) * timeoutMs * 2) },
  )
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'))
  if (code !== 0 || !line) throw new Error(`http-load failed (exit ${code}): ${stderr || stdout}`)
  const r = JSON.parse(line)
  return {
    ...r,
    p50Ms: percentile(r.latencies, 50),
    p99Ms: percentile(r.latencies, 99),
    maxMs: Math.max(...r.latencies),
  }
}
