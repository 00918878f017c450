#!/usr/bin/env node
/**
 * probekit's benchmark suite: every comparison side by side with the alternatives, in one
 * run, on the built library (dist/), written to bench/RESULTS.md and bench/results.json.
 *
 *   npm run bench                       # the full suite (≈ 10–15 min on 2 cores)
 *   npm run bench -- --quick            # smoke run, a minute or two; report in .tmp/bench/
 *   npm run bench -- --only=liveness,cli --quick
 *
 * Options: --quick, --only=<ids>, --no-build, --out=<dir>, --server-cpu=N, --load-cpu=N;
 * --render=<results.json> rewrites the RESULTS.md beside it from the JSON without measuring.
 * Timings never fail the run; a comparison that cannot run is reported, not hidden.
 */
import { execFileSync, execSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadAverage } from './support/proc.mjs'
import { writeReport } from './support/report.mjs'
import { createServices } from './support/services.mjs'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = dirname(benchDir)

const COMPARISONS = [
  'liveness',
  'readiness',
  'frozen',
  'cli',
  'monitor',
  'monitor-50k',
  'scale-out',
  'overhead',
  'grpc',
  'abuse',
]

function parseArgs(argv) {
  const options = { quick: false, only: undefined, build: true, out: undefined, serverCpu: 0, loadCpu: 1 }
  for (const arg of argv) {
    const [key, value] = arg.split(/=(.*)/s)
    if (key === '--quick') options.quick = true
    else if (key === '--no-build') options.build = false
    else if (key === '--only') options.only = value?.split(',').filter(Boolean)
    else if (key === '--out') options.out = value
    else if (key === '--server-cpu') options.serverCpu = Number(value)
    else if (key === '--load-cpu') options.loadCpu = Number(value)
    else if (key === '--help' || key === '-h') {
      console.log(
        `usage: npm run bench -- [--quick] [--only=${COMPARISONS.join(',')}] [--no-build] [--out=DIR] [--server-cpu=N] [--load-cpu=N]\n       npm run bench -- --render=bench/results.json   # rewrite RESULTS.md from the JSON`,
      )
      process.exit(0)
    } else {
      console.error(`bench: unknown option ${arg}; run with --help for the options`)
      process.exit(1)
    }
  }
  for (const name of options.only ?? []) {
    if (!COMPARISONS.includes(name)) {
      console.error(`bench: --only names an unknown comparison "${name}"; use one of ${COMPARISONS.join(', ')}`)
      process.exit(1)
    }
  }
  return options
}

function machine() {
  const list = cpus()
  let os = process.platform
  try {
    os = execSync('uname -sr', { encoding: 'utf8' }).trim()
  } catch {}
  return {
    cpuModel: list[0]?.model?.trim() ?? 'unknown CPU',
    cpus: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    os,
  }
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}

// `--render=FILE`: rewrite RESULTS.md next to FILE from a results.json, measuring nothing.
const render = process.argv.find((a) => a.startsWith('--render='))?.slice('--render='.length)
if (render) {
  const { readFileSync, writeFileSync } = await import('node:fs')
  const { formatLikeTheRepository, renderMarkdown } = await import('./support/report.mjs')
  const target = join(dirname(render), 'RESULTS.md')
  writeFileSync(target, renderMarkdown(JSON.parse(readFileSync(render, 'utf8'))))
  formatLikeTheRepository([target])
  console.log(`bench: wrote ${target} from ${render}`)
  process.exit(0)
}

const options = parseArgs(process.argv.slice(2))
const selected = options.only ?? COMPARISONS
const full = !options.quick && !options.only
const outDir = options.out ?? (full ? benchDir : join(root, '.tmp', 'bench'))
const log = (message) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`)

let buildWarning
if (options.build) {
  log('building (npm run build) so the bench measures dist/, what users get')
  try {
    execSync('npm run --silent build', { cwd: root, stdio: 'inherit' })
  } catch {
    // tsc still emits what compiles; measure that rather than nothing, and say so.
    if (!existsSync(join(root, 'dist', 'index.js'))) {
      console.error('bench: npm run build failed and there is no dist/ to measure; fix the build first')
      process.exit(1)
    }
    log('npm run build reported type errors; measuring the dist/ it emitted')
    buildWarning = 'npm run build reported type errors during this run; the emitted dist/ was measured'
  }
}

const services = createServices({ serverCpu: options.serverCpu, log })
const ctx = {
  root,
  benchDir,
  quick: options.quick,
  serverCpu: options.serverCpu,
  loadCpu: options.loadCpu,
  services,
  log,
}

const startedAt = new Date()
const loadAtStart = loadAverage()
const comparisons = []
let failed = 0
try {
  for (const name of selected) {
    const module = await import(`./comparisons/${name}.mjs`)
    log(`${module.title}: starting`)
    const t0 = performance.now()
    try {
      const result = await module.run(ctx)
      result.seconds = (performance.now() - t0) / 1000
      comparisons.push(result)
      log(`${module.title}: ${result.headline ?? 'done'} (${result.seconds.toFixed(0)} s)`)
    } catch (error) {
      failed++
      const message = error instanceof Error ? error.message : String(error)
      comparisons.push({ id: module.id, title: module.title, error: message.split('\n')[0], detail: message })
      log(`${module.title}: FAILED: ${message}`)
    }
  }
} finally {
  await services.stop()
}

const finishedAt = new Date()
const load = { start: loadAtStart, end: loadAverage() }
const info = machine()
if (Math.max(...load.start, ...load.end) > 1.5) {
  info.note =
    'the machine was shared with other work during this run (load above what the bench itself causes), so absolute figures are noisier than on an idle machine; ratios within a round are the figures to read'
}
const commandLine = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
const report = {
  command: commandLine,
  quick: options.quick,
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationS: (finishedAt - startedAt) / 1000,
  commit: gitCommit(),
  machine: info,
  serverCpu: options.serverCpu,
  loadCpu: options.loadCpu,
  loadAverage: load,
  buildWarning,
  comparisons,
}
const written = writeReport(outDir, report)
log(`report: ${relative(process.cwd(), written.md)} and ${relative(process.cwd(), written.json)}`)
// Timings never fail the run; a comparison that could not run at all does.
process.exit(failed ? 1 : 0)
