import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { buildCli, cli, ROOT } from './run-cli.js'

const FIXTURES = 'test/fixtures/cli'
/** Whether this Node strips TypeScript types itself (22.18 and later); Node 20 cannot. */
const STRIPS_TYPES = Boolean((process.features as { typescript?: string | false }).typescript)

describe('probekit probe', () => {
  before(() => {
    buildCli()
    assert.ok(existsSync(`${ROOT}dist/index.js`), 'the fixtures import probekit from dist: run "npm run build" first')
  })

  it("runs the app's readiness probes and prints the Kubernetes-style report, exit 0", async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/app-health.mjs`])
    assert.equal(run.code, 0, run.stdout)
    // queue-depth runs in the background: the fresh process waits for its first result.
    assert.equal(run.stdout, '[+]lifecycle ok\n[+]database ok\n[+]cache ok\n[+]queue-depth ok\nreadyz check passed\n')
  })

  it('runs the group asked for: --live and --startup', async () => {
    const live = await cli(['probe', '--live', '--config', `${FIXTURES}/app-health.mjs`])
    assert.equal(live.code, 0, live.stdout)
    assert.equal(live.stdout, '[+]lifecycle ok\n[+]event-loop ok\nlivez check passed\n')
    const startup = await cli(['probe', '--startup', '--config', `${FIXTURES}/app-health.mjs`])
    assert.equal(startup.code, 0, startup.stdout)
    assert.match(startup.stdout, /^\[\+\]migrations ok$/m)
    assert.match(startup.stdout, /healthz check passed\n$/)
  })

  it('exits 1 with the reasons when a probe fails, credentials redacted everywhere', async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/failing-health.mjs`])
    assert.equal(run.code, 1)
    assert.equal(
      run.stdout,
      [
        '[+]lifecycle ok',
        '[+]database ok',
        '[-]cache failed: redis://:***@cache:6379 refused the connection',
        '[!]slow-search warn: timed out after 300 ms',
        'readyz check failed',
        '',
      ].join('\n'),
    )
    assert.doesNotMatch(run.stdout + run.stderr, /hunter2/)
  })

  it('adds durations and observed values with --verbose', async () => {
    const run = await cli(['probe', '--ready', '--verbose', '--config', `${FIXTURES}/app-health.mjs`])
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.stdout, /^ {2}database: pass in \d+\.\d ms, observed 0\.4 ms$/m)
  })

  it('prints nothing with -q, not even what the module logs', async () => {
    const failing = await cli(['probe', '--ready', '-q', '--config', `${FIXTURES}/noisy-health.mjs`])
    assert.deepEqual([failing.code, failing.stdout, failing.stderr], [1, '', ''])
    const passing = await cli(['probe', '--live', '--quiet', '--config', `${FIXTURES}/app-health.mjs`])
    assert.deepEqual([passing.code, passing.stdout], [0, ''])
  })

  it('exits at once even when the module leaves a server and an interval running', async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/open-handles-health.mjs`], {
      timeoutMs: 15_000,
    })
    assert.equal(run.code, 0, `exit ${run.code} after ${run.ms.toFixed(0)} ms: ${run.stdout}`)
    assert.match(run.stdout, /\[\+\]pool ok\nreadyz check passed\n$/)
  })

  it('takes a default export, or a default-exported function that creates the health', async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/factory-health.mjs`])
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.stdout, /\[\+\]config ok/)
  })

  it('finds ./health.js in the working directory, or the module named by PROBEKIT_CONFIG', async () => {
    const found = await cli(['probe', '--live'], { cwd: `${ROOT}${FIXTURES}/default-config` })
    assert.equal(found.code, 0, found.stdout)
    assert.match(found.stdout, /\[\+\]found-by-default ok/)
    const fromEnv = await cli(['probe', '--live'], { env: { PROBEKIT_CONFIG: `${FIXTURES}/app-health.mjs` } })
    assert.equal(fromEnv.code, 0, fromEnv.stdout)
    assert.match(fromEnv.stdout, /\[\+\]event-loop ok/)
  })

  it('loads a TypeScript module under tsx, and says how when Node cannot', async () => {
    const plain = await cli(['probe', '--ready', '--config', `${FIXTURES}/typed-health.ts`])
    // Node 22.18+ (and every later line) strips the types itself; Node 20 cannot.
    if (STRIPS_TYPES) {
      assert.equal(plain.code, 0, plain.stdout + plain.stderr)
      assert.match(plain.stdout, /\[\+\]typed ok/)
    } else {
      assert.equal(plain.code, 1)
      assert.match(plain.stdout, /typed-health\.ts is TypeScript, which Node [\d.]+ cannot load by itself; compile it/)
      assert.match(plain.stdout, /NODE_OPTIONS="--import tsx"/)
    }
    const withTsx = await cli(['probe', '--ready', '--config', `${FIXTURES}/typed-health.ts`], {
      env: { NODE_OPTIONS: '--import tsx' },
    })
    assert.equal(withTsx.code, 0, withTsx.stdout + withTsx.stderr)
    assert.match(withTsx.stdout, /\[\+\]typed ok/)
  })

  it('blames the enum, not the Node version, when Node cannot strip a TypeScript module', async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/enum-health.ts`])
    assert.equal(run.code, 1)
    if (STRIPS_TYPES) {
      assert.match(
        run.stdout,
        /^probekit probe: the config module \S*enum-health\.ts uses TypeScript that Node's type stripping cannot remove \(line \d+: TypeScript enum is not supported in strip-only mode\); compile it to JavaScript, keep to erasable syntax \(no enums, namespaces or parameter properties\), or run with tsx: NODE_OPTIONS="--import tsx"/,
      )
      assert.doesNotMatch(run.stdout, /cannot load by itself/)
    } else {
      // Node 20 loads no TypeScript at all: there, the Node version is the cause.
      assert.match(run.stdout, /enum-health\.ts is TypeScript, which Node [\d.]+ cannot load by itself; compile it/)
    }
    assert.equal(run.stdout.trimEnd().split('\n').length, 1, run.stdout)
  })

  it('says a TypeScript module with a syntax error is not valid TypeScript, and where', async () => {
    // Written at run time: a fixture that does not parse would fail tsc on the test tree.
    const dir = mkdtempSync(join(tmpdir(), 'probekit-probe-'))
    try {
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
      writeFileSync(join(dir, 'health.ts'), 'export const timeoutMs: number = 1000\nexport const health: number =\n')
      const run = await cli(['probe', '--ready', '--config', join(dir, 'health.ts')])
      assert.equal(run.code, 1)
      assert.match(
        run.stdout,
        STRIPS_TYPES
          ? /the config module \S*health\.ts is not valid TypeScript \(line \d+: [^)]+\); fix the syntax/
          : /health\.ts is TypeScript, which Node [\d.]+ cannot load by itself/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says an ES module in a CommonJS package needs .mjs or "type": "module", and lets no Node warning through', async () => {
    const pkg = `${ROOT}${FIXTURES}/commonjs-package/package.json`
    for (const quiet of [[], ['-q']]) {
      const run = await cli(['probe', '--ready', ...quiet, '--config', `${FIXTURES}/commonjs-package/health.js`])
      assert.equal(run.code, 1)
      assert.equal(
        run.stdout,
        `probekit probe: the config module ${ROOT}${FIXTURES}/commonjs-package/health.js is written as an ES module (import/export) but Node loads it as CommonJS (${pkg} says "type": "commonjs"); rename it to .mjs, or set "type": "module" in ${pkg}\n`,
      )
      // Node's own "Warning: Failed to load the ES module …" says it again on stderr, past -q.
      assert.equal(run.stderr, '', `probe ${quiet.join(' ')}`)
    }
    const nested = await cli(['probe', '--ready', '--config', `${FIXTURES}/commonjs-package/health.mjs`])
    assert.equal(nested.code, 1)
    assert.match(
      nested.stdout,
      /: \S*commonjs-package\/settings\.js \(imported by the config module \S*commonjs-package\/health\.mjs\) is written as an ES module \(import\/export\) but Node loads it as CommonJS .*; rename it to \.mjs, or set "type": "module" in /,
    )
    assert.equal(nested.stderr, '')
  })

  it('takes a CommonJS module too: module.exports = { health }', async () => {
    const run = await cli(['probe', '--ready', '--config', `${FIXTURES}/commonjs-package/commonjs-health.js`])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /\[\+\]commonjs ok/)
  })

  describe('says what is wrong with the config module in one sentence, exit 1', { concurrency: true }, () => {
    for (const [name, args, pattern] of [
      [
        'a missing file',
        ['--ready', '--config', 'nowhere/health.js'],
        /^probekit probe: usage error: the config module nowhere\/health\.js does not exist; pass --config/,
      ],
      [
        'no health.js in the working directory',
        ['--ready'],
        /usage error: no config module: \.\/health\.js and \.\/health\.mjs do not exist in .*; pass --config FILE \(or set PROBEKIT_CONFIG\)/,
      ],
      [
        'a module without a health export',
        ['--ready', '--config', `${FIXTURES}/no-export-health.mjs`],
        /no-export-health\.mjs has no "health" export \(it exports app\); add "export const health = createHealth\(…\)"/,
      ],
      [
        'a "health" export that is a string, not a Health',
        ['--ready', '--config', `${FIXTURES}/string-health.mjs`],
        /^probekit probe: the "health" export of \S*string-health\.mjs is a string, not a Health; export the Health that createHealth\(…\) returns, as in "export const health = createHealth\(…\)"$/m,
      ],
      [
        'a default export that is an object without run()',
        ['--ready', '--config', `${FIXTURES}/object-default-health.mjs`],
        /the default export of \S*object-default-health\.mjs is an object without run\(\), not a Health; export the Health that createHealth\(…\) returns, as in "export default health"$/m,
      ],
      [
        'a "health" function that returns nothing',
        ['--ready', '--config', `${FIXTURES}/factory-returns-nothing-health.mjs`],
        /the "health" export of \S*factory-returns-nothing-health\.mjs is a function that returned undefined, not a Health; make it return the Health that createHealth\(…\) creates$/m,
      ],
      [
        'a directory instead of a module',
        ['--ready', '--config', FIXTURES],
        /^probekit probe: usage error: the config module test\/fixtures\/cli is a directory; pass --config with the module file in it that exports your health \(e\.g\. test\/fixtures\/cli\/health\.js\)$/m,
      ],
      [
        'a module whose top-level await never settles',
        ['--ready', '--config', `${FIXTURES}/never-settles-health.mjs`],
        /^probekit probe: stopped without an answer: something it waited for never settles and nothing else is left to run \(a config module whose top-level await, or whose default export's promise, never settles\?\)$/m,
      ],
      [
        'a "health" function whose promise never settles',
        ['--ready', '--config', `${FIXTURES}/never-settles-factory-health.mjs`],
        /^probekit probe: stopped without an answer: /m,
      ],
      [
        'a module that throws while loading',
        ['--ready', '--config', `${FIXTURES}/throwing-health.mjs`],
        /the config module .*throwing-health\.mjs threw while loading: DATABASE_URL is not set$/m,
      ],
    ] as const) {
      it(name, async () => {
        const run = await cli(['probe', ...args], { cwd: ROOT })
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
        assert.equal(run.stdout.trimEnd().split('\n').length <= 2, true, run.stdout)
        assert.doesNotMatch(run.stdout, /\n\s+at /, 'no stack trace')
      })
    }
  })

  describe('usage errors', { concurrency: true }, () => {
    for (const [args, pattern] of [
      [[], /usage error: say which probes to run: --live, --ready or --startup/],
      [['--live', '--ready'], /usage error: choose one group, not --live and --ready/],
      [['--ready', '--group', 'x'], /usage error: unknown option "--group"$/m],
      [['--redy'], /usage error: unknown option "--redy"; did you mean --ready\?$/m],
      [['--ready', 'extra'], /usage error: unexpected argument "extra"; this command takes only options$/m],
      // django-kubernetes' manage.py probe flags: each says how probekit spells it.
      [
        ['--health'],
        /usage error: unknown option "--health"; django-kubernetes' --health checks liveness: write --live here /,
      ],
      [
        ['-H', '-q'],
        /usage error: unknown option "-H"; django-kubernetes' --health checks liveness: write --live here /,
      ],
      [['-L'], /usage error: unknown option "-L"; write --live \(the groups have no short form\)$/m],
      [['-R', '-q'], /usage error: unknown option "-R"; write --ready \(the groups have no short form\)$/m],
      [
        ['--ready', '-v', '0'],
        /usage error: unknown option "-v"; Django's verbosity is -q here for no report \(-v 0\)/,
      ],
      [['--ready', '--verbosity=0'], /usage error: unknown option "--verbosity"; Django's verbosity is -q here /],
    ] as const) {
      it(`probekit probe ${args.join(' ')}`, async () => {
        const run = await cli(['probe', ...args])
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
      })
    }
  })
})
