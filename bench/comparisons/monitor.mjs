/**
 * 5. Monitor: many HTTP targets, each checked every 5 s. Sustained checks per second, p99
 * schedule drift, CPU and peak memory of `probekit monitor`, beside the Prometheus blackbox
 * exporter driven at the same rate by a Prometheus-like scraper. Drift is measured by the
 * targets themselves (time between two hits of one target, minus the interval), so both
 * monitors are measured the same way, from outside.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { wrk } from '../support/load.mjs'
import {
  canConnect,
  cpuTimeMs,
  findBinary,
  freePort,
  makeTempDir,
  memoryKb,
  sleep,
  startProcess,
} from '../support/proc.mjs'
import { fmt, fmtSummary, percentile, summarize } from '../support/stats.mjs'

export const id = 'monitor'
export const title = 'Monitor: HTTP targets every 5 s'

const INTERVAL_MS = 5000
// The targets and the Prometheus stand-in are the world, not what is measured: several
// processes, free to use any core, so that they are not the bottleneck of either monitor.
const TARGET_PROCESSES = 8
const PODS_CHECKS = 100

function manifest(urls) {
  const docs = []
  for (let p = 0; p * PODS_CHECKS < urls.length; p++) {
    const lines = [`id: bench-pod-${p}`, 'checks:']
    for (const [i, url] of urls.slice(p * PODS_CHECKS, (p + 1) * PODS_CHECKS).entries()) {
      lines.push(`  - name: t${p * PODS_CHECKS + i}`, `    url: ${url}`, '    interval: 5s')
    }
    docs.push(lines.join('\n'))
  }
  return `${docs.join('\n---\n')}\n`
}

async function control(targetServers, path) {
  return Promise.all(
    targetServers.map(async (t) => {
      const response = await fetch(`http://127.0.0.1:${t.info.port}${path}`)
      return path.endsWith('stats') ? response.json() : response.text()
    }),
  )
}

/**
 * What the target processes can serve at all on this machine right now, with keep-alive and
 * with a new connection per request: if that is below the rate due, no monitor can keep up
 * and the figures describe the machine, not the monitors.
 */
async function targetCapacity(targetServers, headers = []) {
  const results = await Promise.all(
    targetServers.map((t) => wrk(`http://127.0.0.1:${t.info.port}/capacity`, { connections: 16, seconds: 3, headers })),
  )
  return results.reduce((sum, r) => sum + r.rps, 0)
}

/** Runs one monitor against the targets: warm up, then measure a window from outside. */
async function measure(ctx, { name, start, targetServers, targets, warmupMs, windowMs }) {
  const tool = await start()
  try {
    await sleep(warmupMs)
    await control(targetServers, '/__control/start')
    const cpu0 = cpuTimeMs(tool.pid)
    const t0 = performance.now()
    await sleep(windowMs)
    const cpu1 = cpuTimeMs(tool.pid)
    const elapsedMs = performance.now() - t0
    const extraCpu = tool.extraPid ? cpuTimeMs(tool.extraPid) : undefined
    const stats = await control(targetServers, '/__control/stats')
    const memory = memoryKb(tool.pid)
    const requests = stats.reduce((a, s) => a + s.requests, 0)
    const drifts = []
    const bySlice = new Map()
    for (const s of stats) {
      for (let i = 0; i < s.samples.length; i += 2) {
        const drift = Math.abs(s.samples[i + 1])
        drifts.push(drift)
        const slice = Math.floor(s.samples[i] / INTERVAL_MS)
        if (!bySlice.has(slice)) bySlice.set(slice, [])
        bySlice.get(slice).push(drift)
      }
    }
    // Only whole intervals inside the window count as slices.
    const sliceP99 = [...bySlice.entries()]
      .filter(([slice]) => (slice + 1) * INTERVAL_MS <= elapsedMs)
      .map(([, values]) => percentile(values, 99))
    ctx.log(`monitor: ${name}: ${fmt(requests / (elapsedMs / 1000))} checks/s over ${targets} targets`)
    return {
      name,
      targets,
      checksPerSecond: requests / (elapsedMs / 1000),
      expectedPerSecond: targets / (INTERVAL_MS / 1000),
      intervals: drifts.length,
      driftP50Ms: percentile(drifts, 50),
      driftP99Ms: percentile(drifts, 99),
      driftMaxMs: drifts.length ? Math.max(...drifts) : Number.NaN,
      driftP99BySlice: summarize(sliceP99),
      cpuPercent: ((cpu1 - cpu0) / elapsedMs) * 100,
      peakMb: memory.peakKb / 1024,
      extraCpuMs: extraCpu,
      note: tool.note,
    }
  } finally {
    await tool.stop()
  }
}

export async function run(ctx) {
  // The full run measures a fleet this machine can serve and the 10,000-target goal.
  const sizes = ctx.quick ? [1000] : [1000, 10_000]
  // Two intervals: the first runs are spread over the first one, and start-up work (loading
  // manifests, opening the store) must be over before the steady state is measured.
  const warmupMs = 2 * INTERVAL_MS + (ctx.quick ? 2000 : 5000)
  const windowFor = (targets) => (ctx.quick ? 10_000 : targets > 1000 ? 25_000 : 15_000)
  const dir = makeTempDir('monitor')
  const targetServers = []
  const rows = []
  const unavailable = []
  const data = {}
  let capacityNote
  try {
    for (let i = 0; i < TARGET_PROCESSES; i++) {
      targetServers.push(
        await startProcess(
          `targets ${i}`,
          process.execPath,
          [join(ctx.benchDir, 'servers', 'targets.mjs'), String(INTERVAL_MS)],
          { readyJson: true },
        ),
      )
    }
    const capacity = {
      keepAlive: await targetCapacity(targetServers),
      newConnections: await targetCapacity(targetServers, ['Connection: close']),
    }
    ctx.log(
      `monitor: targets serve ${fmt(capacity.keepAlive)} requests/s (keep-alive), ${fmt(capacity.newConnections)}/s (new connections)`,
    )
    capacityNote = `Capacity of the target processes measured just before (wrk, all target processes at once): ${fmt(capacity.keepAlive)} requests/s with keep-alive, ${fmt(capacity.newConnections)}/s with a new connection per request; ${sizes.map((n) => `${fmt(n / (INTERVAL_MS / 1000))} checks/s are due with ${fmt(n)} targets`).join(', ')}. Where the capacity is below the rate due, no monitor can keep up and the figures describe the machine.`
    data.capacity = capacity
    const cli = join(ctx.root, 'bin', 'probekit.js')
    const monitorBuilt = existsSync(join(ctx.root, 'dist', 'monitor', 'monitor.js'))
    if (!monitorBuilt) unavailable.push({ name: 'probekit monitor', reason: 'dist/monitor/monitor.js is not built' })
    const exporterBin = findBinary('prometheus-blackbox-exporter') ?? findBinary('blackbox_exporter')
    if (!exporterBin) {
      unavailable.push({
        name: 'blackbox exporter',
        reason: 'prometheus-blackbox-exporter is not installed (Debian package prometheus-blackbox-exporter)',
      })
    }

    for (const targets of sizes) {
      const windowMs = windowFor(targets)
      const urls = Array.from(
        { length: targets },
        (_, i) => `http://127.0.0.1:${targetServers[i % TARGET_PROCESSES].info.port}/t/${i}`,
      )
      if (monitorBuilt) {
        const manifestFile = join(dir, `targets-${targets}.yaml`)
        writeFileSync(manifestFile, manifest(urls))
        const apiPort = await freePort()
        rows.push(
          await measure(ctx, {
            name: 'probekit monitor',
            targets,
            targetServers,
            warmupMs,
            windowMs,
            start: async () => {
              const p = await startProcess(
                'probekit monitor',
                process.execPath,
                [
                  cli,
                  'monitor',
                  '--store',
                  `sqlite:${join(dir, `monitor-${targets}.sqlite`)}`,
                  '--listen',
                  `127.0.0.1:${apiPort}`,
                  '--quiet',
                  '--no-watch',
                  manifestFile,
                ],
                { cpu: ctx.serverCpu, cwd: dir, ready: () => canConnect(apiPort), readyTimeoutMs: 60_000 },
              )
              return { pid: p.pid, stop: () => p.stop(), note: 'sqlite store, API listening, default concurrency' }
            },
          }),
        )
      }
      if (exporterBin) {
        const config = join(dir, 'blackbox.yml')
        writeFileSync(
          config,
          'modules:\n  http_2xx:\n    prober: http\n    timeout: 4s\n    http:\n      preferred_ip_protocol: ip4\n',
        )
        const targetsFile = join(dir, `targets-${targets}.json`)
        writeFileSync(targetsFile, JSON.stringify(urls))
        const port = await freePort()
        rows.push(
          await measure(ctx, {
            name: 'Prometheus blackbox exporter',
            targets,
            targetServers,
            warmupMs,
            windowMs,
            start: async () => {
              const exporter = await startProcess(
                'blackbox exporter',
                exporterBin,
                [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
                { cpu: ctx.serverCpu, cwd: dir, ready: () => canConnect(port) },
              )
              const scraper = await startProcess(
                'scraper',
                process.execPath,
                [
                  join(ctx.benchDir, 'support', 'scraper.mjs'),
                  `http://127.0.0.1:${port}`,
                  String(INTERVAL_MS),
                  String(warmupMs + windowMs + 3000),
                  targetsFile,
                ],
                {},
              )
              return {
                pid: exporter.pid,
                extraPid: scraper.pid,
                note: 'driven by bench/support/scraper.mjs (not pinned)',
                async stop() {
                  await scraper.stop()
                  await exporter.stop()
                },
              }
            },
          }),
        )
      }
    }
  } finally {
    await Promise.all(targetServers.map((t) => t.stop()))
  }
  const largest = Math.max(...sizes)
  const pk = rows.find((r) => r.name === 'probekit monitor' && r.targets === largest)
  const bb = rows.find((r) => r.name !== 'probekit monitor' && r.targets === largest)
  const headline = pk
    ? `${fmt(largest)} targets: probekit monitor ${fmt(pk.checksPerSecond)} checks/s of ${fmt(pk.expectedPerSecond)} due, p99 drift ${fmt(pk.driftP99Ms)} ms, ${fmt(pk.cpuPercent)}% CPU, ${fmt(pk.peakMb)} MB peak${bb ? `; blackbox exporter: ${fmt(bb.checksPerSecond)} checks/s, p99 drift ${fmt(bb.driftP99Ms)} ms, ${fmt(bb.cpuPercent)}% CPU, ${fmt(bb.peakMb)} MB` : ''}${ctx.quick ? '' : ' (target at 10,000 targets: p99 drift < 250 ms, < 512 MB)'}`
    : 'probekit monitor not measured'
  return {
    id,
    title,
    headline,
    method: `${sizes.map((n) => fmt(n)).join(' and ')} HTTP targets (\`/t/<n>\` served by ${TARGET_PROCESSES} local target processes, not pinned), each due every ${INTERVAL_MS / 1000} s. Each monitor runs alone on core ${ctx.serverCpu}; after a warm-up of ${fmt(warmupMs / 1000, 1)} s (first runs are spread across the first interval; start-up work must be over) the targets record every hit for ${sizes.map((n) => `${windowFor(n) / 1000} s`).join(' and ')} respectively. Drift = |time between two hits of one target − ${INTERVAL_MS / 1000} s|, over every interval observed; "p99 drift per interval" is the p99 within each ${INTERVAL_MS / 1000} s slice of the window (median and range over slices). CPU is the monitor process's CPU time over the window; memory its peak RSS (VmHWM). The blackbox exporter is scraped by a Prometheus stand-in (bench/support/scraper.mjs, fixed rate, first scrapes spread over the interval); its own CPU is not included in the exporter's figure and is shown in the notes.`,
    table: {
      columns: [
        'monitor',
        'targets',
        'checks/s (due)',
        'intervals seen',
        'drift p50 ms',
        'drift p99 ms',
        'p99 drift per interval ms',
        'drift max ms',
        'CPU %',
        'peak RSS MB',
      ],
      rows: rows.map((r) => [
        r.name,
        fmt(r.targets),
        `${fmt(r.checksPerSecond)} (${fmt(r.expectedPerSecond)})`,
        fmt(r.intervals),
        fmt(r.driftP50Ms, 1),
        fmt(r.driftP99Ms, 1),
        fmtSummary(r.driftP99BySlice, 1),
        fmt(r.driftMaxMs),
        fmt(r.cpuPercent, 1),
        fmt(r.peakMb, 1),
      ]),
    },
    notes: [
      ...(capacityNote ? [capacityNote] : []),
      ...rows.filter((r) => r.note).map((r) => `${r.name}: ${r.note}.`),
      ...(bb?.extraCpuMs !== undefined
        ? [
            `The scraper standing in for Prometheus used ${fmt(bb.extraCpuMs / 1000, 1)} s of CPU in all (warm-up included).`,
          ]
        : []),
      'Both monitors were pinned to one core, so CPU cannot exceed 100%.',
      ...rows
        .filter((r) => r.checksPerSecond < 0.9 * r.expectedPerSecond)
        .map(
          (r) =>
            `${r.name} with ${fmt(r.targets)} targets ran ${fmt(r.checksPerSecond)} of the ${fmt(r.expectedPerSecond)} checks due per second: it fell behind (or the machine did — see the load average above); its drift figures describe only the targets hit twice within the window.`,
        ),
    ],
    unavailable,
    reproduce: [
      `npm run build && npm run bench -- --only=monitor${ctx.quick ? ' --quick' : ''}`,
      `node bench/servers/targets.mjs 5000   # ×${TARGET_PROCESSES}`,
      `taskset -c ${ctx.serverCpu} node bin/probekit.js monitor --store sqlite:monitor.sqlite --listen 127.0.0.1:PORT --quiet --no-watch targets.yaml`,
      `taskset -c ${ctx.serverCpu} prometheus-blackbox-exporter --config.file=blackbox.yml --web.listen-address=127.0.0.1:PORT`,
      'node bench/support/scraper.mjs http://127.0.0.1:PORT 5000 DURATION_MS targets.json',
    ],
    data: { sizes, intervalMs: INTERVAL_MS, warmupMs, ...data, rows },
  }
}
