/**
 * 3. A frozen dependency: Redis under SIGSTOP keeps its socket open and answers nothing.
 * 1,000 requests to /readyz; latency (p50, p99, max, timeouts) and the handles and memory
 * the server holds afterwards, for probekit and for terminus with the same check.
 */
import { httpLoad } from '../support/load.mjs'
import { sleep } from '../support/proc.mjs'
import { fmt, fmtSummary, summarize } from '../support/stats.mjs'
import { startReadinessServer } from './readiness.mjs'

export const id = 'frozen'
export const title = 'A frozen dependency (Redis under SIGSTOP)'

const VARIANTS = [
  { name: 'probekit', label: 'probekit (deadline 900 ms, single-flight)' },
  { name: 'terminus', label: '@godaddy/terminus, same checks' },
]

async function resources(base) {
  const response = await fetch(`${base}/__bench/resources`)
  return response.json()
}

export async function run(ctx) {
  const total = 1000
  const concurrency = 200
  const clientTimeoutMs = 2000
  const runs = ctx.quick ? 1 : 3
  const redis = await ctx.services.redis()
  const postgres = await ctx.services.postgres()
  const results = VARIANTS.map((variant) => ({ variant, runs: [] }))
  for (let i = 0; i < runs; i++) {
    for (const result of results) {
      const s = await startReadinessServer(ctx, result.variant.name, redis, postgres)
      try {
        const before = await resources(s.base)
        await redis.resetStats()
        redis.freeze()
        let load
        let during
        try {
          load = await httpLoad(s.url, { total, concurrency, timeoutMs: clientTimeoutMs, cpu: ctx.loadCpu })
          // The load client has gone; give the server a moment to notice closed sockets.
          await sleep(500)
          during = await resources(s.base)
        } finally {
          redis.thaw()
        }
        await sleep(2000)
        const after = await resources(s.base)
        const commands = await redis.commandCounts()
        result.runs.push({
          p50Ms: load.p50Ms,
          p99Ms: load.p99Ms,
          maxMs: load.maxMs,
          wallMs: load.wallMs,
          timeouts: load.timeouts,
          statuses: load.statuses,
          errors: load.errors,
          handlesBefore: before.total,
          handlesFrozen: during.total,
          handlesAfterThaw: after.total,
          handleKindsFrozen: during.counts,
          heapGrowthMb: (during.memory.heapUsed - before.memory.heapUsed) / 2 ** 20,
          redisCommandsOnThaw: Object.values(commands).reduce((a, b) => a + b, 0),
        })
      } finally {
        await s.server.stop()
      }
    }
    ctx.log(`frozen: run ${i + 1}/${runs} done`)
  }
  const rows = results.map(({ variant, runs: r }) => {
    const pick = (key) => summarize(r.map((x) => x[key]))
    return {
      variant: variant.name,
      label: variant.label,
      p50Ms: pick('p50Ms'),
      p99Ms: pick('p99Ms'),
      maxMs: pick('maxMs'),
      timeouts: pick('timeouts'),
      answered503: summarize(r.map((x) => x.statuses['503'] ?? 0)),
      handlesBefore: pick('handlesBefore'),
      handlesFrozen: pick('handlesFrozen'),
      handlesAfterThaw: pick('handlesAfterThaw'),
      heapGrowthMb: pick('heapGrowthMb'),
      redisCommandsOnThaw: pick('redisCommandsOnThaw'),
      runs: r,
    }
  })
  const pk = rows.find((r) => r.variant === 'probekit')
  const tr = rows.find((r) => r.variant === 'terminus')
  const headline = `probekit answered 503 at p99 ${fmt(pk.p99Ms.median)} ms (max ${fmt(pk.maxMs.median)} ms), ${fmt(pk.timeouts.median)} of ${total} unanswered; terminus: ${fmt(tr.timeouts.median)} of ${total} unanswered within ${clientTimeoutMs} ms`
  return {
    id,
    title,
    headline,
    method: `Redis (private instance) is stopped with SIGSTOP: its socket stays open, nothing answers. A closed-loop Node client on core ${ctx.loadCpu} sends ${total} GET /readyz with ${concurrency} in flight and abandons a request after ${clientTimeoutMs} ms (counted as ${clientTimeoutMs} ms in the percentiles). Handles are \`process.getActiveResourcesInfo()\` inside the server, read from a debug route before, right after the ${total} requests (Redis still frozen) and 2 s after SIGCONT. ${runs} run(s), each with a fresh server.`,
    table: {
      columns: [
        'server',
        'p50 ms',
        'p99 ms',
        'max ms',
        `unanswered after ${clientTimeoutMs} ms`,
        '503 answers',
        'handles before',
        'handles after 1,000 (frozen)',
        'handles 2 s after thaw',
        'heap growth MB',
        'Redis commands delivered on thaw',
      ],
      rows: rows.map((r) => [
        r.label,
        fmtSummary(r.p50Ms),
        fmtSummary(r.p99Ms),
        fmtSummary(r.maxMs),
        fmtSummary(r.timeouts),
        fmtSummary(r.answered503),
        fmtSummary(r.handlesBefore),
        fmtSummary(r.handlesFrozen),
        fmtSummary(r.handlesAfterThaw),
        fmtSummary(r.heapGrowthMb, 1),
        fmtSummary(r.redisCommandsOnThaw),
      ]),
    },
    notes: [
      'terminus has no deadline: its check waits for Redis forever, so every request hangs until the client gives up; each waiting PING stays queued in the Redis client and is sent when Redis wakes up.',
      "probekit's deadline answers 503 with the reason, and single-flight (and the Redis probe joining the PING still in flight on the app's client) means one PING waits at a time, not one per request.",
      ...(rows.some((r) => r.maxMs.max > clientTimeoutMs + 20)
        ? [
            `Latencies above ${clientTimeoutMs} ms mean the load client's own timer fired late: the machine was too busy to keep time, and latencies include that delay.`,
          ]
        : []),
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=frozen${ctx.quick ? ' --quick' : ''}`,
      'kill -STOP <redis-server pid>',
      `taskset -c ${ctx.loadCpu} node bench/support/http-load.mjs http://127.0.0.1:PORT/readyz ${total} ${concurrency} ${clientTimeoutMs}`,
      'curl http://127.0.0.1:PORT/__bench/resources',
    ],
    data: { total, concurrency, clientTimeoutMs, runs, rows },
  }
}
