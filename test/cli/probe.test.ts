import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { before, describe, it } from 'node:test'
import { buildCli, cli, ROOT } from './run-cli.js'

const FIXTURES = 'test/fixtures/cli'

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
    if ((process.features as { typescript?: string | false }).typescript) {
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
    ] as const) {
      it(`probekit probe ${args.join(' ')}`, async () => {
        const run = await cli(['probe', ...args])
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
      })
    }
  })
})
