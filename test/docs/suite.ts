/**
 * Every code block in README.md and docs/*.md that is meant to run, runs in the test files
 * of this folder (one per group of documents, so each stays inside the per-file timeout).
 * How blocks are marked and what each kind of run checks: test/docs/README.md.
 * Needs `npm run build` first (examples import the built probekit).
 */
import assert from 'node:assert/strict'
import { existsSync, rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { DEFAULT_LIVENESS_FILE, DEFAULT_READINESS_FILE } from '../../src/worker/defaults.js'
import { freePort } from '../support/server-process.js'
import { type PostgresServer, startPostgres } from '../support/servers/postgres.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'
import { allBlocks, type DocBlock, docFiles, RUNNABLE, where } from './blocks.js'
import { checkConsole, get, listenPorts, startExample, waitListening } from './run-block.js'
import { scenarios } from './scenarios.js'

/** Languages with a generic runner; other runnable ones (sh) need a marker. */
const GENERIC = new Set(['ts', 'js', 'tsx', 'mjs', 'console'])

/** Servers the generic runs share, started on first use. */
const shared: { postgres?: Promise<PostgresServer>; redis?: Promise<RedisServer> } = {}
after(async () => {
  await Promise.all([
    shared.postgres?.then((s) => s.stop()).catch(() => {}),
    shared.redis?.then((s) => s.stop()).catch(() => {}),
  ])
})

/** The environment a block reads (DATABASE_URL, REDIS_URL), backed by real servers. */
async function envFor(code: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {}
  if (/DATABASE_URL/.test(code)) env.DATABASE_URL = (await (shared.postgres ??= startPostgres())).url
  if (/REDIS_URL/.test(code)) env.REDIS_URL = (await (shared.redis ??= startRedis())).url
  return env
}

/**
 * A ts/js example with no marker: a program. One that names ports runs until it listens on
 * them (remapped to free ports) and answers GET /livez with 200 on each. One that names none
 * must exit 0 within a few seconds, or still be running then (a worker). Then it gets
 * SIGTERM and must stop; nothing may reach stderr.
 */
async function runProgram(block: DocBlock): Promise<void> {
  // Files the example writes where the docs say (absolute /tmp paths, the worker kit's
  // defaults): those that were not there before are removed after it.
  const written = [...new Set([...(block.code.match(/\/tmp\/[\w.-]+/g) ?? []), ...workerDefaults(block.code)])]
  const fresh = written.filter((path) => !existsSync(path))
  try {
    await runProgramBlock(block)
  } finally {
    for (const path of fresh) rmSync(path, { force: true })
  }
}

/** The files the worker kit writes by default, when the example uses it. */
function workerDefaults(code: string): string[] {
  return code.includes('probekit/worker') ? [DEFAULT_LIVENESS_FILE, DEFAULT_READINESS_FILE] : []
}

async function runProgramBlock(block: DocBlock): Promise<void> {
  const named = listenPorts(block.code)
  const ports: Record<number, number> = {}
  for (const port of named) ports[port] = await freePort()
  const example = startExample(block, { env: await envFor(block.code), ports })
  try {
    if (named.length > 0) {
      await waitListening(example, Object.values(ports), block)
      for (const port of Object.values(ports)) {
        const livez = await get(`http://127.0.0.1:${port}/livez`)
        assert.equal(livez.status, 200, `${where(block)}: GET /livez on the port it names answered ${livez.status}`)
      }
    } else {
      const code = await Promise.race([
        example.exited,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 5000).unref()),
      ])
      if (code !== 'running') assert.equal(code, 0, `${where(block)} exited with ${code}:\n${example.output()}`)
    }
  } finally {
    await example.stop()
  }
  assert.equal(example.stderr(), '', `${where(block)} wrote to stderr`)
}

/** A console block with no marker: run as written; a Redis at 127.0.0.1:6379 is a real one. */
async function runConsoleBlock(block: DocBlock): Promise<void> {
  if (!block.code.includes('127.0.0.1:6379')) return checkConsole(block)
  const redis = await (shared.redis ??= startRedis())
  const real = `127.0.0.1:${redis.port}`
  await checkConsole(block, {
    rewrite: (t) => t.replaceAll('127.0.0.1:6379', real),
    unrewrite: (t) => t.replaceAll(real, '127.0.0.1:6379'),
  })
}

/** Which test file runs which documents (each file stays inside the per-file timeout). */
export const SUITES = {
  readme: ['README.md'],
  guides: ['docs/cli.md', 'docs/docker.md', 'docs/kubernetes.md', 'docs/health-command.md', 'docs/architecture.md'],
  frameworks: ['docs/frameworks.md', 'docs/shutdown.md', 'docs/worker.md'],
  probes: ['docs/probes.md', 'docs/grpc.md'],
  monitor: [
    'docs/monitor.md',
    'docs/api.md',
    'docs/alerting.md',
    'docs/etcd.md',
    'docs/dashboard.md',
    'docs/demo.md',
    'docs/benchmarks.md',
  ],
} as const

/** The markers of every document: a runnable block is run by a runner, or skipped with a reason. */
export function checkMarkers(): void {
  describe('doc blocks: markers', () => {
    const blocks = allBlocks()
    it('no runnable block is left unmarked without a runner, and every skip says why', () => {
      const problems: string[] = []
      for (const block of blocks) {
        if ((block.lang === '' || block.lang === 'text') && /^\$ /m.test(block.code)) {
          problems.push(`${where(block)}: a shell session in an unlabelled block; label it \`\`\`console`)
        }
        if (!RUNNABLE.has(block.lang) && block.marker && block.marker !== 'skip' && !scenarios[block.marker]) {
          problems.push(`${where(block)}: the marker "${block.marker}" names no scenario in test/docs/scenarios.ts`)
        }
        if (block.marker === 'skip' && !block.reason) problems.push(`${where(block)}: "doctest: skip" needs a (reason)`)
        if (block.marker && block.marker !== 'skip' && !scenarios[block.marker]) {
          problems.push(`${where(block)}: the marker "${block.marker}" names no scenario in test/docs/scenarios.ts`)
        }
        if (RUNNABLE.has(block.lang) && !block.marker && !GENERIC.has(block.lang)) {
          // A shell block with no marker would run as-is: say so explicitly instead.
          problems.push(`${where(block)}: a ${block.lang} block needs a marker (a scenario, or skip with a reason)`)
        }
      }
      const suites = Object.values(SUITES).flat() as string[]
      for (const file of docFiles()) if (!suites.includes(file)) problems.push(`${file}: in no suite of SUITES`)
      const used = new Set(blocks.map((b) => b.marker))
      for (const name of Object.keys(scenarios)) if (!used.has(name)) problems.push(`scenario "${name}" marks no block`)
      assert.deepEqual(problems, [])
    })
  })
}

/** Runs the blocks of `files` (and the scenarios that mark any of them). */
export function docSuite(files: readonly string[]): void {
  describe(`doc blocks of ${files.join(', ')}`, () => {
    const blocks = allBlocks().filter((b) => files.includes(b.file))
    for (const block of blocks) {
      if (!GENERIC.has(block.lang) || block.marker) continue
      it(`${where(block)} (${block.lang}, under "${block.heading}") runs`, async () => {
        if (block.lang === 'console') await runConsoleBlock(block)
        else await runProgram(block)
      })
    }

    for (const [name, scenario] of Object.entries(scenarios)) {
      const marked = blocks.filter((b) => b.marker === name)
      if (marked.length === 0) continue
      it(`scenario ${name}: ${marked.map(where).join(', ')}`, () => scenario(marked))
    }
  })
}
