/**
 * 5b. Monitor at scale: 10,000 and 50,000 HTTP targets every 5 s (2,000 and 10,000 checks/s)
 * by one `probekit monitor` pinned to one core, with its default store (SQLite), against a
 * private nginx measured beforehand. Drift, checks run and missed come from nginx's access
 * log (outside the monitor); CPU per check and memory per target are figures of their own.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { driftOf, hitsByTarget } from '../support/hits.mjs'
import { nginxBinary, startNginx } from '../support/nginx.mjs'
import { ownDelta, readOwnMetrics } from '../support/own-metrics.mjs'
import { canConnect, cpuTimeMs, freePort, makeTempDir, memoryKb, sleep, startProcess } from '../support/proc.mjs'
import { fmt } from '../support/stats.mjs'

export const id = 'monitor-50k'
export const title = 'Monitor at scale: 50,000 HTTP targets every 5 s on one core'

const INTERVAL_MS = 5000
const PODS_CHECKS = 100

/** A fleet of pod manifests, `PODS_CHECKS` checks each, every check a URL of `urlOf(i)`. */
export function fleetManifest(targets, urlOf) {
  const docs = []
  for (let p = 0; p * PODS_CHECKS < targets; p++) {
    const lines = [`id: bench-pod-${p}`, 'checks:']
    for (let i = p * PODS_CHECKS; i < Math.min(targets, (p + 1) * PODS_CHECKS); i++) {
      lines.push(`  - name: t${i}`, `    url: ${urlOf(i)}`, '    interval: 5s')
    }
    docs.push(lines.join('\n'))
  }
  return `${docs.join('\n---\n')}\n`
}

/** Extra node flags for the monitor (profiling): PROBEKIT_BENCH_MONITOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=…". */
export function monitorNodeArgs() {
  return (process.env.PROBEKIT_BENCH_MONITOR_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
}

/** Extra monitor flags (trying settings): PROBEKIT_BENCH_MONITOR_ARGS="--concurrency 64". */
export function monitorArgs() {
  return (process.env.PROBEKIT_BENCH_MONITOR_ARGS ?? '').split(/\s+/).filter(Boolean)
}

export async function run(ctx) {
  // PROBEKIT_BENCH_MONITOR_SIZES=10000,20000 measures other fleet sizes (profiling).
  const sizes = process.env.PROBEKIT_BENCH_MONITOR_SIZES
    ? process.env.PROBEKIT_BENCH_MONITOR_SIZES.split(',').map(Number)
    : ctx.quick
      ? [2000]
      : [10_000, 50_000]
  // Start-up (loading the manifests, the first result and transition of every check written
  // to the store) must be over before the steady state is measured: longer for more targets.
  const warmupFor = (targets) =>
    process.env.PROBEKIT_BENCH_MONITOR_WARMUP_MS
      ? Number(process.env.PROBEKIT_BENCH_MONITOR_WARMUP_MS)
      : (targets > 10_000 ? 4 : 2) * INTERVAL_MS + (ctx.quick ? 2000 : 5000)
  const windowMs = ctx.quick ? 10_000 : 25_000
  const unavailable = []
  if (!nginxBinary()) {
    return {
      id,
      title,
      headline: 'not measured: nginx is not installed',
      unavailable: [{ name: 'nginx', reason: 'nginx is not installed (Debian package nginx-light or nginx)' }],
    }
  }
  const dir = makeTempDir('monitor-50k')
  const nginx = await startNginx({ workers: 2, connections: 20_000 })
  const rows = []
  const reloadWindowMs = ctx.quick ? 10_000 : 20_000
  let reload
  let capacity
  try {
    capacity = await nginx.capacity()
    ctx.log(
      `monitor-50k: nginx serves ${fmt(capacity.keepAlive)} requests/s (keep-alive), ${fmt(capacity.newConnections)}/s (new connections)`,
    )
    const cli = join(ctx.root, 'bin', 'probekit.js')
    for (const targets of sizes) {
      const manifestFile = join(dir, `targets-${targets}.yaml`)
      writeFileSync(
        manifestFile,
        fleetManifest(targets, (i) => nginx.url(`/t/${i}`)),
      )
      const apiPort = await freePort()
      const startedAt = performance.now()
      const monitor = await startProcess(
        'probekit monitor',
        process.execPath,
        [
          ...monitorNodeArgs(),
          cli,
          'monitor',
          '--listen',
          `127.0.0.1:${apiPort}`,
          '--quiet',
          '--no-watch',
          ...monitorArgs(),
          manifestFile,
        ],
        { cpu: ctx.serverCpu, cwd: dir, ready: () => canConnect(apiPort), readyTimeoutMs: 180_000 },
      )
      try {
        const readyS = (performance.now() - startedAt) / 1000
        await sleep(warmupFor(targets))
        const apiUrl = `http://127.0.0.1:${apiPort}`
        const own0 = await readOwnMetrics(apiUrl)
        await nginx.resetLog()
        const cpu0 = cpuTimeMs(monitor.pid)
        const from = Date.now()
        await sleep(windowMs)
        const to = Date.now()
        const cpu1 = cpuTimeMs(monitor.pid)
        const own = ownDelta(own0, await readOwnMetrics(apiUrl))
        const memory = memoryKb(monitor.pid)
        const log = await nginx.readLog()
        const byUri = hitsByTarget(log, from, to)
        let checks = 0
        for (const list of byUri.values()) checks += list.length
        const drift = driftOf(byUri, INTERVAL_MS)
        const elapsedS = (to - from) / 1000
        const row = {
          targets,
          readyS,
          checksPerSecond: checks / elapsedS,
          expectedPerSecond: targets / (INTERVAL_MS / 1000),
          targetsSeen: byUri.size,
          ...drift,
          cpuPercent: ((cpu1 - cpu0) / (to - from)) * 100,
          cpuUsPerCheck: checks ? ((cpu1 - cpu0) * 1000) / checks : Number.NaN,
          rssMb: memory.rssKb / 1024,
          peakMb: memory.peakKb / 1024,
          kbPerTarget: memory.rssKb / targets,
          own,
        }
        rows.push(row)
        ctx.log(
          `monitor-50k: ${fmt(targets)} targets: ${fmt(row.checksPerSecond)} checks/s of ${fmt(row.expectedPerSecond)}, drift p99 ${fmt(row.p99Ms)} ms, ${fmt(row.cpuUsPerCheck, 1)} µs CPU/check, ${fmt(row.kbPerTarget, 1)} KB/target, RSS ${fmt(row.rssMb)} MB; the monitor's own view: ${ownText(own)}`,
        )
        if (targets === sizes[sizes.length - 1]) {
          reload = await measureReload({ monitor, apiUrl, nginx, manifestFile, targets, windowMs: reloadWindowMs })
          ctx.log(`monitor-50k: ${reloadText(reload)}`)
        }
      } finally {
        await monitor.stop()
      }
    }
  } finally {
    await nginx.stop()
  }
  // Memory a target adds: the slope between the two sizes (what the process costs at all
  // — Node, the API, SQLite — cancels out).
  const [small, large] = rows
  const marginalKb = large ? ((large.rssMb - small.rssMb) * 1024) / (large.targets - small.targets) : undefined
  const top = rows[rows.length - 1]
  const headline = top
    ? `${fmt(top.targets)} targets: ${fmt(top.checksPerSecond)} checks/s of ${fmt(top.expectedPerSecond)} due, drift p99 ${fmt(top.p99Ms)} ms, ${fmt(top.cpuUsPerCheck, 1)} µs CPU per check, ${fmt(top.kbPerTarget, 1)} KB per target${marginalKb !== undefined ? ` (${fmt(marginalKb, 1)} KB marginal)` : ''}, RSS ${fmt(top.rssMb)} MB (goals: p99 < 250 ms, ≤ 80 µs, ≤ 12 KB, < 1 GB)${reload ? `; during a reload drift p99 ${fmt(reload.p99Ms)} ms` : ''}`
    : 'not measured'
  return {
    id,
    title,
    headline,
    method: `${sizes.map((n) => fmt(n)).join(' and ')} HTTP targets (\`/t/<n>\`) served by one private nginx (${'2'} workers, keep-alive, one static location), each due every ${INTERVAL_MS / 1000} s, checked by \`probekit monitor\` with its default store (SQLite in the working directory) and API, pinned to core ${ctx.serverCpu}. After a warm-up of ${sizes.map((n) => `${fmt(warmupFor(n) / 1000)} s`).join(' and ')}, nginx's access log (\`$msec $uri\`) is read for a ${windowMs / 1000} s window: checks/s = hits in the window; drift = |time between two hits of one target − ${INTERVAL_MS / 1000} s| over every interval seen (millisecond resolution); hits closer than half an interval are counted as checks run twice. CPU per check = the monitor's CPU time over the window ÷ checks in it (everything the process does: checks, store writes, history, API). Memory per target = RSS ÷ targets; "marginal" is the slope of RSS between the two sizes.`,
    table: {
      columns: [
        'targets',
        'ready s',
        'checks/s (due)',
        'targets seen',
        'drift p50 ms',
        'drift p99 ms',
        'drift max ms',
        'run twice',
        'CPU %',
        'µs CPU/check',
        'RSS MB (peak)',
        'KB/target',
        "monitor's view: late p99 ≤ ms",
        'late > 250 ms',
        'skipped',
        'GC pauses (major), total ms, longest ≤ ms',
        'heap MB used (held)',
      ],
      rows: rows.map((r) => [
        fmt(r.targets),
        fmt(r.readyS, 1),
        `${fmt(r.checksPerSecond)} (${fmt(r.expectedPerSecond)})`,
        fmt(r.targetsSeen),
        fmt(r.p50Ms),
        fmt(r.p99Ms),
        fmt(r.maxMs),
        fmt(r.doubleHits),
        fmt(r.cpuPercent, 1),
        fmt(r.cpuUsPerCheck, 1),
        `${fmt(r.rssMb)} (${fmt(r.peakMb)})`,
        fmt(r.kbPerTarget, 1),
        fmt(r.own.delayP99BoundMs),
        fmt(r.own.lateOver250Ms),
        fmt(r.own.skipped),
        `${fmt(r.own.gcCount)} (${fmt(r.own.majorGcCount)}), ${fmt(r.own.gcMs)}, ${fmt(r.own.longestGcBoundMs)}`,
        `${fmt(r.own.heapUsedMb)} (${fmt(r.own.heapTotalMb)})`,
      ]),
    },
    notes: [
      `Capacity of nginx measured just before (wrk, 64 connections, 2 threads, not pinned): ${fmt(capacity?.keepAlive)} requests/s with keep-alive, ${fmt(capacity?.newConnections)}/s with a new connection per request; ${sizes.map((n) => `${fmt(n / (INTERVAL_MS / 1000))} checks/s are due with ${fmt(n)} targets`).join(', ')}.`,
      ...(marginalKb !== undefined
        ? [
            `Memory a target adds (RSS slope between ${fmt(small.targets)} and ${fmt(large.targets)} targets): ${fmt(marginalKb, 1)} KB.`,
          ]
        : []),
      'The monitor is pinned to one core, so CPU cannot exceed 100%; nginx and the bench are not pinned.',
      "The monitor's view comes from its own `GET /metrics/monitor`, read just before and just after the window: how late runs started after they were due (`probekit_monitor_check_run_delay_seconds`, the bound of the bucket holding the 99th percentile), runs skipped, and the garbage collector's pauses (`nodejs_gc_duration_seconds`; the longest as the bound of its bucket: 1, 10, 100 ms, 1 s). A drift p99 from nginx's log far above the monitor's own late p99 points outside the monitor (the machine, nginx); both high, with long major GC pauses, at its memory.",
      ...(reload
        ? [
            `A reload while it runs (${fmt(reload.targets)} targets): every tenth check's URL changed in the manifest, then SIGHUP; nginx's log is read for the ${reloadWindowMs / 1000} s from the signal, and the drift is that of the nine checks in ten that did not change (a changed check starts its schedule anew). ${reloadText(reload)}.`,
          ]
        : []),
      ...rows
        .filter((r) => r.checksPerSecond < 0.9 * r.expectedPerSecond)
        .map(
          (r) =>
            `With ${fmt(r.targets)} targets the monitor ran ${fmt(r.checksPerSecond)} of the ${fmt(r.expectedPerSecond)} checks due per second: it fell behind (or the machine did — see the load average).`,
        ),
    ],
    unavailable,
    reproduce: [
      `npm run build && npm run bench -- --only=monitor-50k${ctx.quick ? ' --quick' : ''}`,
      'nginx -p DIR -c nginx.conf -g "daemon off;"   # see bench/support/nginx.mjs',
      `taskset -c ${ctx.serverCpu} node bin/probekit.js monitor --listen 127.0.0.1:PORT --quiet --no-watch targets.yaml`,
      "# the reload: every tenth target's URL gets '?v=2' in targets.yaml, then",
      'kill -HUP MONITOR_PID',
    ],
    data: {
      sizes,
      intervalMs: INTERVAL_MS,
      warmupMs: sizes.map(warmupFor),
      windowMs,
      capacity,
      marginalKb,
      rows,
      reload,
    },
  }
}

/**
 * A reload of the running monitor: every tenth check's URL gets a query (`?v=2`: the same
 * target in nginx's log, whose `$uri` has no query), then SIGHUP. The reload is applied when
 * the API shows the first pod's first check with its new URL; the drift over `windowMs`
 * from the signal is that of the checks that did not change.
 */
async function measureReload({ monitor, apiUrl, nginx, manifestFile, targets, windowMs }) {
  writeFileSync(
    manifestFile,
    fleetManifest(targets, (i) => nginx.url(`/t/${i}${i % 10 === 0 ? '?v=2' : ''}`)),
  )
  await nginx.resetLog()
  const own0 = await readOwnMetrics(apiUrl)
  const from = Date.now()
  process.kill(monitor.pid, 'SIGHUP')
  let appliedMs
  while (Date.now() - from < windowMs) {
    if (appliedMs === undefined) {
      const res = await fetch(`${apiUrl}/v1/pods/bench-pod-0`)
      const states = res.ok ? await res.json() : []
      if (states.find((s) => s.check === 't0')?.target.includes('v=2')) appliedMs = Date.now() - from
    }
    await sleep(100)
  }
  const to = Date.now()
  const own = ownDelta(own0, await readOwnMetrics(apiUrl))
  const byUri = hitsByTarget(await nginx.readLog(), from, to)
  for (const uri of [...byUri.keys()]) if (Number(uri.slice(uri.lastIndexOf('/') + 1)) % 10 === 0) byUri.delete(uri)
  return {
    targets,
    appliedS: appliedMs === undefined ? undefined : appliedMs / 1000,
    ...driftOf(byUri, INTERVAL_MS),
    own,
  }
}

function reloadText(r) {
  return `reload of ${fmt(r.targets)} checks (a tenth changed) applied ${r.appliedS === undefined ? 'not within the window' : `after ${fmt(r.appliedS, 1)} s`}; meanwhile drift p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, max ${fmt(r.maxMs)} ms of the unchanged checks; the monitor's own view: ${ownText(r.own)}`
}

function ownText(own) {
  return `late p99 ≤ ${fmt(own.delayP99BoundMs)} ms, ${fmt(own.lateOver250Ms)} runs over 250 ms late, ${fmt(own.skipped)} skipped, ${fmt(own.gcCount)} GC pauses (${fmt(own.majorGcCount)} major) ${fmt(own.gcMs)} ms in all, the longest ≤ ${fmt(own.longestGcBoundMs)} ms, heap ${fmt(own.heapUsedMb)} MB used of ${fmt(own.heapTotalMb)} MB`
}
