/**
 * gRPC health: Check calls per second against probekit's addHealthService beside the
 * grpc-health-check package's own service, on the same @grpc/grpc-js, in one run; and
 * `probekit check grpc://…` start-up beside `node -e 0`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, requireBinary, runCommand, startProcess } from '../support/proc.mjs'
import { fmt, fmtRatio, median, percentile, summarize } from '../support/stats.mjs'

export const id = 'grpc'
export const title = 'gRPC health (`probekit/grpc`, `probekit check grpc://`)'

const VARIANTS = ['grpc-health-check', 'probekit']

export async function run(ctx) {
  const rounds = ctx.quick ? 1 : 3
  const seconds = ctx.quick ? 3 : 10
  const concurrency = 64
  const load = join(ctx.benchDir, 'support', 'grpc-load.mjs')
  const throughput = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const server = await startProcess(
        `grpc ${variant}`,
        process.execPath,
        [join(ctx.benchDir, 'servers', 'grpc-health.mjs'), variant],
        { cpu: ctx.serverCpu, cwd: ctx.root, readyJson: true },
      )
      try {
        const r = await runCommand(
          process.execPath,
          [load, String(server.info.port), String(concurrency), String(seconds)],
          {
            cpu: ctx.loadCpu,
            cwd: ctx.root,
            timeoutMs: (seconds + 30) * 1000,
          },
        )
        if (r.code !== 0) throw new Error(`the gRPC load generator failed: ${r.stderr || r.stdout}`)
        const result = JSON.parse(r.stdout.trim().split('\n').pop())
        if (result.errors > 0) throw new Error(`${variant}: ${result.errors} Check calls failed or were not SERVING`)
        throughput[variant].push(result.calls / result.seconds)
      } finally {
        await server.stop()
      }
    }
  }
  const reference = summarize(throughput['grpc-health-check'])
  const ours = summarize(throughput.probekit)

  // Start-up of `probekit check grpc://` beside node -e 0.
  const hyperfine = requireBinary('hyperfine', [], 'hyperfine')
  const target = await startProcess(
    'grpc target',
    process.execPath,
    [join(ctx.benchDir, 'servers', 'grpc-health.mjs'), 'probekit'],
    { cpu: ctx.serverCpu, cwd: ctx.root, readyJson: true },
  )
  const runs = ctx.quick ? 10 : 30
  const dir = makeTempDir('grpc-cli')
  let startup
  try {
    const url = `grpc://127.0.0.1:${target.info.port}`
    const check = await runCommand(process.execPath, [join(ctx.root, 'bin', 'probekit.js'), 'check', url])
    if (check.code !== 0) throw new Error(`probekit check ${url} failed before the benchmark: ${check.stdout}`)
    const jsonFile = join(dir, 'hyperfine.json')
    const h = await runCommand(
      hyperfine,
      [
        '-N',
        '--warmup',
        '3',
        '--runs',
        String(runs),
        '--export-json',
        jsonFile,
        '--style',
        'none',
        `${process.execPath} -e 0`,
        `${process.execPath} ${join(ctx.root, 'bin', 'probekit.js')} check ${url}`,
        `${process.execPath} ${join(ctx.benchDir, 'support', 'grpc-js-check.cjs')} 127.0.0.1:${target.info.port}`,
        `${process.execPath} ${join(ctx.benchDir, 'support', 'h2-check.cjs')} 127.0.0.1:${target.info.port}`,
      ],
      { cpu: ctx.loadCpu, timeoutMs: 600_000 },
    )
    if (h.code !== 0) throw new Error(`hyperfine failed: ${h.stderr || h.stdout}`)
    const [node, probekit, grpcJs, floor] = JSON.parse(readFileSync(jsonFile, 'utf8')).results.map((r) =>
      r.times.map((s) => s * 1000),
    )
    const spread = (t) => ({ median: median(t), p10: percentile(t, 10), p90: percentile(t, 90) })
    startup = { node: spread(node), probekit: spread(probekit), grpcJs: spread(grpcJs), floor: spread(floor) }
  } finally {
    await target.stop()
  }
  const ratio = ours.median / reference.median
  const startupRatio = startup.probekit.median / startup.node.median
  const floorRatio = startup.floor.median / startup.node.median
  const overFloorMs = startup.probekit.median - startup.floor.median
  return {
    id,
    title,
    headline: `Check: ${fmt(ours.median)} calls/s, ${fmtRatio(ratio)} grpc-health-check's service (goal ≥ 1.0×); probekit check grpc:// starts in ${fmtRatio(startupRatio)} node -e 0 (a hand-written node:http2 Check call: ${fmtRatio(floorRatio)}; probekit ${overFloorMs >= 0 ? '+' : '−'}${fmt(Math.abs(overFloorMs), 1)} ms over it)`,
    method: `${rounds} round(s), each variant in turn: one grpc-js server process on core ${ctx.serverCpu}, a grpc-js client on core ${ctx.loadCpu} keeping ${concurrency} Check calls for "" in flight for ${seconds} s on one channel. probekit answers from a Health with one background probe in the ready group (the result is read, no I/O per call), grpc-health-check from its status map. Start-up: hyperfine -N, 3 warm-up and ${runs} measured runs.`,
    tables: [
      {
        columns: ['service', 'Check calls/s median (range)', '× grpc-health-check'],
        rows: [
          [
            'grpc-health-check `HealthImplementation`',
            `${fmt(reference.median)} (${fmt(reference.min)}–${fmt(reference.max)})`,
            '1.00×',
          ],
          ['probekit `addHealthService`', `${fmt(ours.median)} (${fmt(ours.min)}–${fmt(ours.max)})`, fmtRatio(ratio)],
        ],
      },
      {
        caption: 'Start-up',
        columns: ['command', 'wall ms median (p10–p90)', '× node -e 0'],
        rows: [
          [
            '`node -e 0`',
            `${fmt(startup.node.median, 1)} (${fmt(startup.node.p10, 1)}–${fmt(startup.node.p90, 1)})`,
            '1.00×',
          ],
          [
            'one Check over node:http2, by hand (bench/support/h2-check.cjs): the floor',
            `${fmt(startup.floor.median, 1)} (${fmt(startup.floor.p10, 1)}–${fmt(startup.floor.p90, 1)})`,
            fmtRatio(floorRatio),
          ],
          [
            '`probekit check grpc://HOST:PORT`',
            `${fmt(startup.probekit.median, 1)} (${fmt(startup.probekit.p10, 1)}–${fmt(startup.probekit.p90, 1)})`,
            fmtRatio(startupRatio),
          ],
          [
            'one Check with `@grpc/grpc-js` (bench/support/grpc-js-check.cjs)',
            `${fmt(startup.grpcJs.median, 1)} (${fmt(startup.grpcJs.p10, 1)}–${fmt(startup.grpcJs.p90, 1)})`,
            fmtRatio(startup.grpcJs.median / startup.node.median),
          ],
        ],
      },
    ],
    notes: [
      'The CLI checks grpc:// with a minimal HTTP/2 call built into probekit (node:http2), from its own slim bundle (check-grpc.cjs, with a code cache like the http one): it loads no gRPC library. Loading node:http2 costs more than node:http (about 24 ms against 10 ms on this machine), so a grpc:// check starts later than an http:// one; the floor row is the same call written by hand in a few lines, and the @grpc/grpc-js row the cost of a gRPC library that choice avoids.',
    ],
    reproduce: [`npm run build && npm run bench -- --only=grpc${ctx.quick ? ' --quick' : ''}`],
    data: { rounds, seconds, concurrency, throughput, startup },
  }
}
