/**
 * 1. Liveness throughput: /livez requests per second through probekit beside a bare
 * node:http server, @godaddy/terminus, lightship, and a plain route of each framework.
 * Servers run on the server core, wrk on the load core; variants are interleaved round by
 * round so a noisy moment hits every variant, and each ratio is taken within its round.
 */
import { join } from 'node:path'
import { wrk, wrkCommand } from '../support/load.mjs'
import { cpuTimeMs, startProcess } from '../support/proc.mjs'
import { fmtRatio, fmtRatioSummary, fmtSummary, summarize } from '../support/stats.mjs'

export const id = 'liveness'
export const title = 'Liveness throughput (/livez)'

const VARIANTS = [
  { name: 'bare', label: 'bare node:http answering `ok`', baseline: true },
  { name: 'bare-same-headers', label: 'bare node:http with the four headers probekit sends' },
  { name: 'probekit-handler', label: 'probekit `health.handler()` on node:http', probekit: true },
  { name: 'probekit-listen', label: 'probekit `health.listen()`', probekit: true },
  { name: 'terminus', label: '@godaddy/terminus' },
  { name: 'lightship', label: 'lightship 7', tsx: true },
  { name: 'express-plain', label: 'express: plain route', framework: 'express' },
  { name: 'express-probekit', label: 'express: probekit adapter', framework: 'express', probekit: true },
  { name: 'fastify-plain', label: 'fastify: plain route', framework: 'fastify' },
  { name: 'fastify-probekit', label: 'fastify: probekit plugin', framework: 'fastify', probekit: true },
  { name: 'koa-plain', label: 'koa: plain route', framework: 'koa' },
  { name: 'koa-probekit', label: 'koa: probekit middleware', framework: 'koa', probekit: true },
  { name: 'hono-plain', label: 'hono (node-server): plain route', framework: 'hono' },
  { name: 'hono-probekit', label: 'hono (node-server): probekit middleware', framework: 'hono', probekit: true },
]

export async function run(ctx) {
  const seconds = ctx.quick ? 2 : 5
  const rounds = ctx.quick ? 1 : 3
  const connections = 50
  const load = { connections, seconds, threads: 1, cpu: ctx.loadCpu }
  const script = join(ctx.benchDir, 'servers', 'liveness.mjs')
  const servers = []
  const unavailable = []
  try {
    for (const variant of VARIANTS) {
      const args = variant.tsx ? ['--import', 'tsx', script, variant.name] : [script, variant.name]
      const server = await startProcess(`liveness ${variant.name}`, process.execPath, args, {
        cpu: ctx.serverCpu,
        cwd: ctx.root,
        readyJson: true,
      })
      if (server.info.unavailable) {
        unavailable.push({ name: variant.name, reason: server.info.unavailable })
        await server.stop()
        continue
      }
      const url = `http://127.0.0.1:${server.info.port}${server.info.path}`
      const response = await fetch(url)
      const body = await response.text()
      if (response.status !== 200) throw new Error(`${variant.name} answered ${response.status} at ${url}: ${body}`)
      servers.push({ variant, server, url, rps: [], p99: [], cpuUs: [], ratio: [], cpuRatio: [], frameworkRatio: [] })
    }
    ctx.log(`liveness: ${servers.length} servers up; warming up`)
    for (const s of servers) await wrk(s.url, { ...load, seconds: 1 })
    for (let round = 0; round < rounds; round++) {
      // Rotate the order so no variant always runs first or last in a round.
      const order = servers.map((_, i) => servers[(i + round) % servers.length])
      const byName = new Map()
      for (const s of order) {
        const cpu0 = cpuTimeMs(s.server.pid)
        const r = await wrk(s.url, load)
        // Server CPU per request: robust to a shared machine, where throughput is not.
        const cpuUs = ((cpuTimeMs(s.server.pid) - cpu0) * 1000) / r.requests
        if (r.non2xx || r.errors) ctx.log(`liveness: ${s.variant.name} had ${r.non2xx} non-2xx and ${r.errors} errors`)
        byName.set(s.variant.name, { rps: r.rps, cpuUs })
        s.rps.push(r.rps)
        s.p99.push(r.p99Ms)
        s.cpuUs.push(cpuUs)
      }
      const bare = byName.get('bare')
      for (const s of servers) {
        const own = byName.get(s.variant.name)
        s.ratio.push(own.rps / bare.rps)
        s.cpuRatio.push(own.cpuUs / bare.cpuUs)
        if (s.variant.framework && s.variant.probekit) {
          s.frameworkRatio.push(own.rps / byName.get(`${s.variant.framework}-plain`).rps)
        }
      }
      ctx.log(`liveness: round ${round + 1}/${rounds} done`)
    }
  } finally {
    await Promise.all(servers.map((s) => s.server.stop()))
  }

  const rows = servers.map((s) => {
    const rps = summarize(s.rps)
    const ratio = summarize(s.ratio)
    const fw = s.frameworkRatio.length ? summarize(s.frameworkRatio) : undefined
    return {
      variant: s.variant.name,
      label: s.variant.label,
      rps,
      p99Ms: summarize(s.p99),
      cpuUsPerRequest: summarize(s.cpuUs),
      cpuRatioToBare: summarize(s.cpuRatio),
      ratioToBare: ratio,
      ratioToPlainRoute: fw,
    }
  })
  const handler = rows.find((r) => r.variant === 'probekit-handler')
  const headline = handler
    ? `probekit's node:http handler: ${fmtRatio(handler.ratioToBare.median)} bare's requests/s (target ≥ 0.95×), ${fmtRatio(handler.cpuRatioToBare.median)} bare's server CPU per request`
    : 'probekit handler not measured'
  return {
    id,
    title,
    headline,
    method: `Each server runs alone on core ${ctx.serverCpu}; \`wrk\` runs on core ${ctx.loadCpu} with ${connections} keep-alive connections for ${seconds} s per run, ${rounds} interleaved round(s) after a 1 s warm-up per server. Ratios are taken within each round, then the median and range over rounds are shown. Server CPU per request is the server process's CPU time (from /proc) during the run divided by the requests served: on a shared machine it is steadier than requests/s.`,
    reproduce: [
      `npm run build && npm run bench -- --only=liveness${ctx.quick ? ' --quick' : ''}`,
      `taskset -c ${ctx.serverCpu} node bench/servers/liveness.mjs <variant>   # prints {"port":…,"path":…}`,
      wrkCommand(load, 'http://127.0.0.1:PORT/livez'),
    ],
    table: {
      columns: [
        'server',
        'requests/s median (range)',
        '× bare',
        'p99 ms',
        'server CPU µs/request',
        'CPU × bare',
        'requests/s × plain route of the framework',
      ],
      rows: rows.map((r) => [
        r.label,
        fmtSummary(r.rps),
        r.variant === 'bare' ? '1.00×' : fmtRatioSummary(r.ratioToBare),
        fmtSummary(r.p99Ms, 2),
        fmtSummary(r.cpuUsPerRequest, 1),
        r.variant === 'bare' ? '1.00×' : fmtRatioSummary(r.cpuRatioToBare),
        r.ratioToPlainRoute ? fmtRatioSummary(r.ratioToPlainRoute) : '',
      ]),
    },
    unavailable,
    data: { connections, seconds, rounds, rows, unavailable },
  }
}
