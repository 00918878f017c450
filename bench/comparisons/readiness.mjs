/**
 * 2. Readiness under a flood: 256 connections against /readyz with a Redis and a
 * PostgreSQL probe. Requests per second and p99 beside @godaddy/terminus running the same
 * checks per request, and — the point — how many commands Redis and PostgreSQL received.
 */
import { join } from 'node:path'
import { wrk, wrkCommand } from '../support/load.mjs'
import { cpuTimeMs, startProcess } from '../support/proc.mjs'
import { fmt, fmtRatio, fmtSummary, summarize } from '../support/stats.mjs'

export const id = 'readiness'
export const title = 'Readiness under a flood (/readyz with Redis and PostgreSQL probes)'

export const READINESS_VARIANTS = [
  { name: 'probekit', label: 'probekit (single-flight, no cache)' },
  { name: 'probekit-ttl', label: 'probekit with `cacheTtl: 1000`' },
  { name: 'terminus', label: '@godaddy/terminus, checks per request', baseline: true },
]

/** Starts the readiness server of one variant against the shared Redis and PostgreSQL. */
export async function startReadinessServer(ctx, variant, redis, postgres) {
  const server = await startProcess(
    `readiness ${variant}`,
    process.execPath,
    [join(ctx.benchDir, 'servers', 'readiness.mjs'), variant],
    { cpu: ctx.serverCpu, cwd: ctx.root, readyJson: true, env: { REDIS_URL: redis.url, PG_URL: postgres.url } },
  )
  const base = `http://127.0.0.1:${server.info.port}`
  const response = await fetch(`${base}/readyz`)
  await response.text()
  if (response.status !== 200) throw new Error(`${variant} /readyz answered ${response.status} before the run`)
  return { server, base, url: `${base}/readyz`, probes: server.info.probes }
}

export async function run(ctx) {
  const seconds = ctx.quick ? 5 : 10
  const rounds = ctx.quick ? 1 : 3
  const connections = 256
  const load = { connections, seconds, threads: 1, cpu: ctx.loadCpu, timeoutSeconds: 2 }
  const redis = await ctx.services.redis()
  const postgres = await ctx.services.postgres()
  const started = []
  let probes
  try {
    for (const variant of READINESS_VARIANTS) {
      const s = await startReadinessServer(ctx, variant.name, redis, postgres)
      if (variant.name === 'probekit') probes = s.probes
      started.push({
        variant,
        ...s,
        rps: [],
        p99: [],
        cpuUs: [],
        redis: [],
        pg: [],
        non2xx: [],
        errors: [],
        requests: [],
      })
    }
    for (const s of started) await wrk(s.url, { ...load, seconds: 1 })
    for (let round = 0; round < rounds; round++) {
      for (const s of started) {
        await redis.resetStats()
        await postgres.resetStats()
        const cpu0 = cpuTimeMs(s.server.pid)
        const r = await wrk(s.url, load)
        s.cpuUs.push(((cpuTimeMs(s.server.pid) - cpu0) * 1000) / r.requests)
        const commands = await redis.commandCounts()
        s.rps.push(r.rps)
        s.p99.push(r.p99Ms)
        s.requests.push(r.requests)
        s.redis.push(Object.values(commands).reduce((a, b) => a + b, 0))
        s.pg.push(await postgres.statementCount())
        s.non2xx.push(r.non2xx)
        s.errors.push(r.errors)
      }
      ctx.log(`readiness: round ${round + 1}/${rounds} done`)
    }
  } finally {
    await Promise.all(started.map((s) => s.server.stop()))
  }
  const terminus = started.find((s) => s.variant.baseline)
  const rows = started.map((s) => {
    const perSecond = (counts) => summarize(counts.map((c) => c / seconds))
    const per1000 = (counts) => summarize(counts.map((c, i) => (c / s.requests[i]) * 1000))
    return {
      variant: s.variant.name,
      label: s.variant.label,
      rps: summarize(s.rps),
      rpsVsTerminus: summarize(s.rps.map((v, i) => v / terminus.rps[i])),
      p99Ms: summarize(s.p99),
      cpuUsPerRequest: summarize(s.cpuUs),
      redisCommands: summarize(s.redis),
      redisPerSecond: perSecond(s.redis),
      redisPer1000Requests: per1000(s.redis),
      pgStatements: summarize(s.pg),
      pgPerSecond: perSecond(s.pg),
      pgPer1000Requests: per1000(s.pg),
      non2xx: summarize(s.non2xx),
      errors: summarize(s.errors),
    }
  })
  const pk = rows.find((r) => r.variant === 'probekit')
  const tr = rows.find((r) => r.variant === 'terminus')
  const headline =
    pk && tr
      ? `probekit ${fmtRatio(pk.rpsVsTerminus.median)} terminus's requests/s while sending Redis ${fmt(pk.redisPerSecond.median)} commands/s (terminus ${fmt(tr.redisPerSecond.median)}/s) and PostgreSQL ${fmt(pk.pgPerSecond.median)} statements/s (terminus ${fmt(tr.pgPerSecond.median)}/s)`
      : undefined
  return {
    id,
    title,
    headline,
    method: `Each server on core ${ctx.serverCpu} (Redis and PostgreSQL, private instances started by the bench, share that core); \`wrk\` on core ${ctx.loadCpu} with ${connections} connections for ${seconds} s, ${rounds} round(s). Commands counted by the servers themselves: Redis \`INFO commandstats\` (reset with \`CONFIG RESETSTAT\` before each run), PostgreSQL \`pg_stat_statements\` (reset before each run). probekit's probes: ${probes}.`,
    table: {
      columns: [
        'server',
        'requests/s',
        '× terminus',
        'p99 ms',
        'server CPU µs/request',
        'non-2xx',
        'Redis commands/s',
        'per 1,000 requests',
        'PostgreSQL statements/s',
        'per 1,000 requests',
      ],
      rows: rows.map((r) => [
        r.label,
        fmtSummary(r.rps),
        r.variant === 'terminus' ? '1.00×' : fmtRatio(r.rpsVsTerminus.median),
        fmtSummary(r.p99Ms, 1),
        fmtSummary(r.cpuUsPerRequest, 1),
        fmtSummary(r.non2xx),
        fmtSummary(r.redisPerSecond, 1),
        fmtSummary(r.redisPer1000Requests, 2),
        fmtSummary(r.pgPerSecond, 1),
        fmtSummary(r.pgPer1000Requests, 2),
      ]),
    },
    notes: [
      'probekit runs a probe once for all requests that arrive while it is in flight (single-flight), so the dependency load is bounded by the probe latency, not by the request rate; `cacheTtl` bounds it further, to one run per TTL.',
      'terminus runs every check on every request: the dependency load grows with the request rate.',
      "Server CPU per request is the server process's CPU time during the run over the requests it answered (Redis and PostgreSQL not included). Without a cache, requests that arrive during a probe run wait for that run, so requests/s is bound by probe latency as much as by CPU.",
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=readiness${ctx.quick ? ' --quick' : ''}`,
      `REDIS_URL=redis://127.0.0.1:PORT PG_URL=postgres://postgres@127.0.0.1:PORT/postgres taskset -c ${ctx.serverCpu} node bench/servers/readiness.mjs <probekit|probekit-ttl|terminus>`,
      `${wrkCommand(load, 'http://127.0.0.1:PORT/readyz')} --timeout 2s`,
      'redis-cli -p PORT info commandstats; psql -c "SELECT sum(calls) FROM pg_stat_statements"',
    ],
    data: { seconds, rounds, connections, probes, rows },
  }
}
