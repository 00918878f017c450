/**
 * Library overhead, measured inside one process (run with --expose-gc):
 *   node --expose-gc bench/servers/overhead.mjs [seconds]
 * Prints one JSON line:
 * - heap bytes per health instance with ten probes, beside terminus configured with ten
 *   checks on a server and a bare node:http server (instances kept alive, averaged over many);
 * - CPU µs per background check (ten probes on an interval) beside the same ten functions
 *   called from bare setInterval timers;
 * - µs per foreground `health.run('ready')` of ten probes beside `Promise.all` of the ten
 *   functions called directly.
 */
import { createServer } from 'node:http'
import { createTerminus } from '@godaddy/terminus'
import { createHealth } from 'probekit'

const seconds = Number(process.argv[2] ?? 3)
const PROBES = 10
const INSTANCES = 1000
const INTERVAL_MS = 10
process.setMaxListeners(0)
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc')
  process.exit(1)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc()
    await sleep(10)
  }
  return process.memoryUsage().heapUsed
}

/** Heap bytes per instance that `make` creates, with every instance kept reachable. */
async function heapPerInstance(make) {
  make() // warm up code paths and hidden classes first
  const kept = []
  const before = await settledHeap()
  for (let i = 0; i < INSTANCES; i++) kept.push(make())
  const after = await settledHeap()
  const perInstance = (after - before) / INSTANCES
  for (const k of kept) k.dispose?.()
  return perInstance
}

const trivialCheck = () => {}

const memory = {
  bareServer: await heapPerInstance(() => {
    const server = createServer(() => {})
    return { server }
  }),
  probekit: await heapPerInstance(() => {
    const health = createHealth({ logger: false })
    for (let i = 0; i < PROBES; i++) health.add(`probe-${i}`, trivialCheck)
    return { health, dispose: () => health.close() }
  }),
  probekitWithServer: await heapPerInstance(() => {
    const health = createHealth({ logger: false })
    for (let i = 0; i < PROBES; i++) health.add(`probe-${i}`, trivialCheck)
    const server = createServer(health.handler())
    return { health, server, dispose: () => health.close() }
  }),
  terminusWithServer: await heapPerInstance(() => {
    const server = createServer(() => {})
    const checks = {}
    for (let i = 0; i < PROBES; i++) checks[`/probe-${i}`] = async () => {}
    createTerminus(server, { healthChecks: checks })
    return { server }
  }),
}

/** CPU µs used per call of the ten functions, measured over `seconds` against an idle baseline. */
async function cpuPerCall(start) {
  let calls = 0
  const count = () => {
    calls++
  }
  const idle0 = process.cpuUsage()
  await sleep(500)
  const idle = process.cpuUsage(idle0)
  const idlePerMs = (idle.user + idle.system) / 500
  const stop = start(count)
  await sleep(300) // let the first runs (jittered or not) begin
  calls = 0
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  await sleep(seconds * 1000)
  const used = process.cpuUsage(c0)
  const elapsed = performance.now() - t0
  const n = calls
  await stop()
  const cpu = used.user + used.system - idlePerMs * elapsed
  return { calls: n, usPerCall: cpu / n, elapsedMs: elapsed }
}

const background = {
  probekit: await cpuPerCall((count) => {
    const health = createHealth({ logger: false })
    for (let i = 0; i < PROBES; i++) health.add(`probe-${i}`, count, { interval: INTERVAL_MS })
    return () => health.close()
  }),
  setInterval: await cpuPerCall((count) => {
    const timers = []
    for (let i = 0; i < PROBES; i++) timers.push(setInterval(count, INTERVAL_MS))
    return () => timers.forEach(clearInterval)
  }),
}

/** µs per round of `fn` (which runs the ten checks once), over about `ms` of work. */
async function usPerRound(fn, ms = 1000) {
  for (let i = 0; i < 2000; i++) await fn()
  let rounds = 0
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 200; i++) await fn()
    rounds += 200
  }
  return ((performance.now() - t0) * 1000) / rounds
}

const health = createHealth({ logger: false })
const checks = []
for (let i = 0; i < PROBES; i++) {
  const check = async () => {}
  checks.push(check)
  health.add(`probe-${i}`, check)
}
const foreground = {
  probekit: await usPerRound(() => health.run('ready')),
  promiseAll: await usPerRound(() => Promise.all(checks.map((c) => c({ signal: AbortSignal.timeout(900) })))),
}
await health.close()

process.stdout.write(
  `${JSON.stringify({ probes: PROBES, instances: INSTANCES, intervalMs: INTERVAL_MS, seconds, memory, background, foreground })}\n`,
)
process.exit(0)
