// The demo's example worker: takes a "job" every two seconds (placing an order through
// the shop's API), keeps probekit's worker files up to date, and reports each job to the
// monitor's push endpoint, the dead man's switch that notices when jobs stop or fail.
// Run by scripts/demo.mjs; on its own:
//   APP_URL=http://127.0.0.1:3000 MONITOR_URL=http://127.0.0.1:8008 WORKER_DIR=/tmp node examples/demo/worker.mjs
import { join } from 'node:path'
import { createWorkerHealth } from 'probekit/worker'

const APP_URL = process.env.APP_URL ?? 'http://127.0.0.1:3000'
const MONITOR_URL = process.env.MONITOR_URL ?? 'http://127.0.0.1:8008'
const DIR = process.env.WORKER_DIR ?? '/tmp'
const JOB_INTERVAL_MS = 2000

// The files `probekit worker` checks (the monitor runs it as an exec check).
const health = createWorkerHealth({
  livenessFile: join(DIR, 'worker.live'),
  readinessFile: join(DIR, 'worker.ready'),
  lastWorkFile: join(DIR, 'worker.last-work'),
  heartbeatIntervalMs: 2000,
  // The demo stops us with SIGTERM; we remove the readiness file ourselves on the way out.
  signals: [],
})

/** Tells the monitor how a job went: /v1/push/<pod>/<check>, /fail with the reason. */
async function report(ok, message) {
  const url = `${MONITOR_URL}/v1/push/demo-worker/jobs${ok ? '' : '/fail'}`
  try {
    const res = await fetch(url, { method: 'POST', body: message, signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
  } catch {
    // The monitor may not be up yet (or is stopping); a missed report is what the push check is for.
  }
}

async function runJob() {
  const res = await fetch(`${APP_URL}/orders`, { method: 'POST', signal: AbortSignal.timeout(2000) })
  const body = await res.json()
  if (!res.ok) throw new Error(`the shop answered ${res.status}: ${body.error}`)
  return body.id
}

let timer
let stopping = false
async function loop() {
  try {
    const id = await runJob()
    health.workDone()
    if (!health.isReady) health.ready()
    await report(true, `order ${id} placed`)
  } catch (error) {
    console.log(`job failed: ${error.message}`)
    await report(false, `job failed: ${error.message}`)
  }
  if (!stopping) timer = setTimeout(loop, JOB_INTERVAL_MS)
}
loop()
console.log(`worker taking a job every ${JOB_INTERVAL_MS / 1000} s; files in ${DIR}`)

function shutdown(signal) {
  if (stopping) return
  stopping = true
  console.log(`${signal}: finishing`)
  clearTimeout(timer)
  health.notReady()
  health.close()
  console.log('stopped')
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
