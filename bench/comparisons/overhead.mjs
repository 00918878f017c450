/**
 * 6. Library overhead: heap added by a health instance with ten probes, and CPU time per
 * background check, each beside a baseline measured in the same process.
 */
import { join } from 'node:path'
import { runCommand } from '../support/proc.mjs'
import { fmt, fmtRatio, fmtSummary, summarize } from '../support/stats.mjs'

export const id = 'overhead'
export const title = 'Library overhead (ten probes)'

export async function run(ctx) {
  const runs = ctx.quick ? 1 : 3
  const seconds = ctx.quick ? 1 : 3
  const samples = []
  for (let i = 0; i < runs; i++) {
    const r = await runCommand(
      process.execPath,
      ['--expose-gc', join(ctx.benchDir, 'servers', 'overhead.mjs'), String(seconds)],
      { cpu: ctx.serverCpu, cwd: ctx.root, timeoutMs: 120_000 },
    )
    const line = r.stdout.trim().split('\n').pop()
    if (r.code !== 0 || !line?.startsWith('{')) throw new Error(`overhead.mjs failed: ${r.stderr || r.stdout}`)
    samples.push(JSON.parse(line))
  }
  const s = (f) => summarize(samples.map(f))
  const kb = (bytes) => bytes / 1024
  const m = {
    probekit: s((x) => kb(x.memory.probekit)),
    probekitHandler: s((x) => kb(x.memory.probekitWithServer - x.memory.bareServer)),
    terminus: s((x) => kb(x.memory.terminusWithServer - x.memory.bareServer)),
    bareServer: s((x) => kb(x.memory.bareServer)),
  }
  const bg = {
    probekit: s((x) => x.background.probekit.usPerCall),
    setInterval: s((x) => x.background.setInterval.usPerCall),
    ratio: s((x) => x.background.probekit.usPerCall / x.background.setInterval.usPerCall),
  }
  const fg = {
    probekit: s((x) => x.foreground.probekit / x.probes),
    promiseAll: s((x) => x.foreground.promiseAll / x.probes),
    ratio: s((x) => x.foreground.probekit / x.foreground.promiseAll),
  }
  const { probes, instances, intervalMs } = samples[0]
  return {
    id,
    title,
    headline: `a health instance with ${probes} probes holds ${fmt(m.probekit.median, 1)} KB of heap; a background check costs ${fmt(bg.probekit.median, 1)} µs of CPU (${fmtRatio(bg.ratio.median)} a bare setInterval call)`,
    method: `One process per run on core ${ctx.serverCpu}, run with \`--expose-gc\`, ${runs} run(s). Memory: ${instances} instances kept alive, heap measured after forced GCs before and after, divided by ${instances}. Background: ${probes} probes with \`interval: ${intervalMs}\` for ${seconds} s; process CPU time (minus the idle process's) divided by the checks that ran, beside ${probes} bare \`setInterval\` timers calling the same function. Foreground: \`health.run('ready')\` of ${probes} passing probes (no cache), beside \`Promise.all\` of the ${probes} functions called directly with an \`AbortSignal.timeout\` each.`,
    tables: [
      {
        caption: 'Memory (heap KB per instance)',
        columns: ['what', 'heap KB per instance'],
        rows: [
          [`probekit \`createHealth()\` + ${probes} \`add()\``, fmtSummary(m.probekit, 1)],
          [
            `probekit, the same plus \`createServer(health.handler())\` (over a bare server)`,
            fmtSummary(m.probekitHandler, 1),
          ],
          [`terminus \`createTerminus(server, ${probes} checks)\` (over a bare server)`, fmtSummary(m.terminus, 1)],
          ['a bare `http.createServer()`, for scale', fmtSummary(m.bareServer, 1)],
        ],
      },
      {
        caption: 'Time per check',
        columns: ['what', 'µs per check', '× baseline'],
        rows: [
          [
            `probekit background check (interval ${intervalMs} ms), CPU`,
            fmtSummary(bg.probekit, 1),
            fmtRatio(bg.ratio.median),
          ],
          ['bare `setInterval` calling the same function, CPU', fmtSummary(bg.setInterval, 1), '1.00×'],
          [
            `probekit \`health.run('ready')\`, wall time / ${probes}`,
            fmtSummary(fg.probekit, 1),
            fmtRatio(fg.ratio.median),
          ],
          ['`Promise.all` of the same functions, wall time / 10', fmtSummary(fg.promiseAll, 1), '1.00×'],
        ],
      },
    ],
    notes: [
      'A background check includes what makes it a check: the deadline (timer and AbortSignal), the result object with its timestamp, and status bookkeeping; the setInterval baseline does none of that.',
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=overhead${ctx.quick ? ' --quick' : ''}`,
      `taskset -c ${ctx.serverCpu} node --expose-gc bench/servers/overhead.mjs ${seconds}`,
    ],
    data: { runs, seconds, samples },
  }
}
