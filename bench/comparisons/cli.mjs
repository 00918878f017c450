/**
 * 4. CLI start-up: `probekit check http://…/livez` beside `node -e 0` (the floor for any
 * Node CLI), `curl -fsS`, `redis-cli ping` and `pg_isready`: wall time (hyperfine) and
 * peak memory (GNU time's maximum resident set size).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { findBinary, makeTempDir, requireBinary, runCommand, startProcess } from '../support/proc.mjs'
import { fmt, fmtRatio, median, percentile, summarize } from '../support/stats.mjs'

export const id = 'cli'
export const title = 'CLI start-up (`probekit check`)'

export async function run(ctx) {
  const hyperfine = requireBinary('hyperfine', [], 'hyperfine')
  const gnuTime = requireBinary('/usr/bin/time', ['/usr/bin/time'], 'time')
  const runs = ctx.quick ? 10 : 30
  const memoryRuns = ctx.quick ? 3 : 10
  const redis = await ctx.services.redis()
  const postgres = await ctx.services.postgres()
  const server = await startProcess(
    'liveness server',
    process.execPath,
    [join(ctx.benchDir, 'servers', 'liveness.mjs'), 'probekit-listen'],
    { cpu: ctx.serverCpu, cwd: ctx.root, readyJson: true },
  )
  const url = `http://127.0.0.1:${server.info.port}/livez`
  const node = process.execPath
  const commands = [
    { name: 'node -e 0', argv: [node, '-e', '0'], baseline: true },
    { name: `probekit check ${url}`, argv: [node, join(ctx.root, 'bin', 'probekit.js'), 'check', url], probekit: true },
    { name: `curl -fsS ${url}`, argv: [requireBinary('curl', [], 'curl'), '-fsS', '-o', '/dev/null', url] },
    {
      name: `redis-cli -p ${redis.port} ping`,
      argv: [redis.cli, '-h', '127.0.0.1', '-p', String(redis.port), 'ping'],
    },
  ]
  const pgIsReady = postgres.pgIsReady ?? findBinary('pg_isready')
  if (pgIsReady) {
    commands.push({
      name: `pg_isready -p ${postgres.port}`,
      argv: [pgIsReady, '-h', '127.0.0.1', '-p', String(postgres.port), '-q'],
    })
  }
  const dir = makeTempDir('cli')
  try {
    for (const c of commands) {
      const r = await runCommand(c.argv[0], c.argv.slice(1), { timeoutMs: 30_000 })
      if (r.code !== 0) throw new Error(`"${c.name}" exited ${r.code} before the benchmark: ${r.stderr || r.stdout}`)
    }
    const jsonFile = join(dir, 'hyperfine.json')
    const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)
    const shellCommands = commands.map((c) => c.argv.map(quote).join(' '))
    const h = await runCommand(
      hyperfine,
      ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', jsonFile, '--style', 'none', ...shellCommands],
      { cpu: ctx.loadCpu, timeoutMs: 600_000 },
    )
    if (h.code !== 0) throw new Error(`hyperfine failed: ${h.stderr || h.stdout}`)
    const timings = JSON.parse(readFileSync(jsonFile, 'utf8')).results
    for (const [i, c] of commands.entries()) {
      const times = timings[i].times.map((s) => s * 1000)
      c.time = { median: median(times), min: percentile(times, 10), max: percentile(times, 90), runs: times }
      c.peakKb = []
      for (let k = 0; k < memoryRuns; k++) {
        const out = join(dir, 'time.txt')
        const t = await runCommand(gnuTime, ['-f', '%M', '-o', out, ...c.argv], { cpu: ctx.loadCpu, timeoutMs: 30_000 })
        if (t.code !== 0) throw new Error(`/usr/bin/time ${c.name} exited ${t.code}: ${t.stderr}`)
        c.peakKb.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()))
      }
    }
  } finally {
    await server.stop()
  }
  const base = commands.find((c) => c.baseline)
  const rows = commands.map((c) => {
    const memory = summarize(c.peakKb.map((kb) => kb / 1024))
    return {
      command: c.name,
      probekit: Boolean(c.probekit),
      wallMs: c.time,
      timeVsNode: c.time.median / base.time.median,
      peakMb: memory,
      memoryVsNode: memory.median / (median(base.peakKb) / 1024),
    }
  })
  const pk = rows.find((r) => r.probekit)
  const headline = `probekit check: ${fmt(pk.wallMs.median, 1)} ms (${fmtRatio(pk.timeVsNode)} node -e 0; target ≤ 1.25×), ${fmt(pk.peakMb.median, 1)} MB peak (${fmtRatio(pk.memoryVsNode)}; target ≤ 1.3×)`
  return {
    id,
    title,
    headline,
    method: `hyperfine without a shell (\`-N\`), 3 warm-up runs and ${runs} measured runs per command, pinned to core ${ctx.loadCpu}; the /livez target is probekit's \`health.listen()\` on core ${ctx.serverCpu}; Redis and PostgreSQL are the bench's private instances. Peak memory is GNU time's maximum resident set size (\`/usr/bin/time -f %M\`), median of ${memoryRuns} runs. Wall time shows the median and the 10th–90th percentile.`,
    table: {
      columns: ['command', 'wall ms median (p10–p90)', '× node -e 0', 'peak RSS MB (range)', '× node -e 0'],
      rows: rows.map((r) => [
        `\`${r.command.replace(/127\.0\.0\.1:\d+/, 'HOST:PORT').replace(/-p \d+/, '-p PORT')}\``,
        `${fmt(r.wallMs.median, 1)} (${fmt(r.wallMs.min, 1)}–${fmt(r.wallMs.max, 1)})`,
        fmtRatio(r.timeVsNode),
        `${fmt(r.peakMb.median, 1)} (${fmt(r.peakMb.min, 1)}–${fmt(r.peakMb.max, 1)})`,
        fmtRatio(r.memoryVsNode),
      ]),
    },
    notes: [
      '`node -e 0` is the floor for any CLI written for Node; curl, redis-cli and pg_isready are C programs, shown for scale.',
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=cli${ctx.quick ? ' --quick' : ''}`,
      `taskset -c ${ctx.loadCpu} hyperfine -N --warmup 3 --runs ${runs} 'node -e 0' 'node bin/probekit.js check http://127.0.0.1:PORT/livez' 'curl -fsS -o /dev/null http://127.0.0.1:PORT/livez'`,
      '/usr/bin/time -f %M node bin/probekit.js check http://127.0.0.1:PORT/livez',
    ],
    data: { runs, memoryRuns, rows },
  }
}
