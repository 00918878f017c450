import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { buildCli, cli, ROOT } from './run-cli.js'

const APP = 'test/fixtures/cli/app-health.mjs'
const PROBE_KEYS = ['failureThreshold', 'initialDelaySeconds', 'periodSeconds', 'successThreshold', 'timeoutSeconds']

type Probe = Record<string, unknown> & { httpGet?: Record<string, unknown>; exec?: { command: string[] } }

/** Parses `HEALTHCHECK --flag=value … CMD ["…"]` the way Docker reads it. */
function parseHealthcheck(line: string): { flags: Record<string, string>; cmd: string[] } {
  const match = /^HEALTHCHECK((?: --[a-z-]+=\S+)*) CMD (\[.*\])$/.exec(line)
  assert.ok(match, `not a HEALTHCHECK line: ${line}`)
  const flags: Record<string, string> = {}
  for (const flag of (match[1] ?? '').trim().split(' ')) {
    const [name, value] = flag.replace(/^--/, '').split('=') as [string, string]
    flags[name] = value
  }
  const cmd = JSON.parse(match[2] as string) as unknown
  assert.ok(Array.isArray(cmd) && cmd.every((part) => typeof part === 'string'), 'CMD is a JSON array of strings')
  return { flags, cmd: cmd as string[] }
}

/** The instruction lines of a Dockerfile snippet (comments dropped). */
function instructions(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'))
}

describe('probekit gen', () => {
  before(() => {
    buildCli()
    assert.ok(existsSync(`${ROOT}dist/index.js`), 'the fixtures import probekit from dist: run "npm run build" first')
  })

  describe('k8s', () => {
    it('writes the three probes with exactly the Kubernetes probe fields, as parseable YAML', async () => {
      const run = await cli(['gen', 'k8s', '--port', '9000'])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      assert.deepEqual(Object.keys(doc).sort(), ['livenessProbe', 'readinessProbe', 'startupProbe'])
      for (const [field, path] of [
        ['livenessProbe', '/livez'],
        ['readinessProbe', '/readyz'],
        ['startupProbe', '/healthz'],
      ] as const) {
        const probe = doc[field] as Probe
        assert.deepEqual(Object.keys(probe).sort(), ['httpGet', ...PROBE_KEYS].sort(), field)
        assert.deepEqual(probe.httpGet, { path, port: 9000 })
        for (const key of PROBE_KEYS) assert.ok(Number.isInteger(probe[key]), `${field}.${key} is an integer`)
        assert.equal(probe.successThreshold, 1)
      }
      // Without a config module: the library's default 900 ms deadline fits Kubernetes' 1 s.
      assert.equal(doc.readinessProbe?.timeoutSeconds, 1)
    })

    it("derives each probe's timeoutSeconds and path from the app's health module", async () => {
      const run = await cli(['gen', 'k8s', '--config', APP, '--period', '5'])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      // live: event-loop 200 ms; ready: database 2500 ms; startup: migrations 4000 ms (the
      // background queue-depth probe's 8000 ms is never awaited by a request). Plus 100 ms, rounded up.
      assert.equal(doc.livenessProbe?.timeoutSeconds, 1)
      assert.equal(doc.readinessProbe?.timeoutSeconds, 3)
      assert.equal(doc.startupProbe?.timeoutSeconds, 5)
      assert.equal(doc.livenessProbe?.httpGet?.path, '/_healthz/livez/')
      assert.equal(doc.readinessProbe?.httpGet?.path, '/_healthz/readyz/')
      assert.equal(doc.startupProbe?.httpGet?.path, '/_healthz/')
      assert.equal(doc.readinessProbe?.periodSeconds, 5)
      // The startup probe allows the 30 s start period: 30 / 5 = 6 failures.
      assert.equal(doc.startupProbe?.failureThreshold, 6)
      assert.match(run.stdout, /^# readiness timeout 3 s: slowest readiness deadline 2500 ms \(database\)/m)
    })

    it('reports an explicit --timeout too short for the app probes as an error and emits nothing', async () => {
      const run = await cli(['gen', 'k8s', '--config', APP, '--timeout', '2'])
      assert.equal(run.code, 1)
      assert.doesNotMatch(run.stdout, /livenessProbe|readinessProbe/)
      assert.match(run.stdout, /--timeout 2 is too short/)
      assert.match(run.stdout, /"database" has a 2500 ms deadline/)
      assert.match(run.stdout, /"migrations" has a 4000 ms deadline/)
      assert.match(run.stdout, /Use --timeout 5 or more/)
    })

    it('accepts an explicit --timeout that fits the app probes', async () => {
      const run = await cli(['gen', 'k8s', '--config', APP, '--timeout', '6s'])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      for (const probe of Object.values(doc)) assert.equal(probe.timeoutSeconds, 6)
    })

    it('writes exec probes running probekit probe, with room for starting Node', async () => {
      const run = await cli(['gen', 'k8s', '--exec', '--config', APP, '--bin', '/app/node_modules/.bin/probekit'])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      assert.deepEqual(Object.keys(doc.readinessProbe ?? {}).sort(), ['exec', ...PROBE_KEYS].sort())
      assert.deepEqual(doc.readinessProbe?.exec, {
        command: ['/app/node_modules/.bin/probekit', 'probe', '--ready', '--config', APP],
      })
      assert.deepEqual(doc.livenessProbe?.exec?.command.slice(1, 3), ['probe', '--live'])
      // 2500 ms + 1000 ms for the process to start and import the module.
      assert.equal(doc.readinessProbe?.timeoutSeconds, 4)
    })

    it('adds scheme and headers for HTTPS probes, and a containers entry with --container', async () => {
      const run = await cli([
        'gen',
        'k8s',
        '--port',
        'management',
        '--scheme',
        'https',
        '--header',
        'Host: shop.example',
        '--container',
        'shop',
      ])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as { containers: (Record<string, Probe> & { name: string })[] }
      assert.equal(doc.containers.length, 1)
      const container = doc.containers[0] as Record<string, Probe> & { name: string }
      assert.equal(container.name, 'shop')
      assert.deepEqual(container.readinessProbe?.httpGet, {
        path: '/readyz',
        port: 'management',
        scheme: 'HTTPS',
        httpHeaders: [{ name: 'Host', value: 'shop.example' }],
      })
    })
  })

  describe('docker', () => {
    let server: Server
    let port: number
    const seen: string[] = []
    before(async () => {
      server = createServer((req, res) => {
        seen.push(req.url ?? '')
        res.statusCode = req.url === '/_healthz/readyz/' ? 200 : 404
        res.end(res.statusCode === 200 ? 'ok' : 'not found')
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as { port: number }).port
    })
    after(() => new Promise<void>((resolve) => server.close(() => resolve())))

    it('writes a HEALTHCHECK line whose flags and JSON CMD parse, and whose command works without curl', async () => {
      const run = await cli(['gen', 'docker', '--port', String(port), '--config', APP, '--period', '15s'])
      assert.equal(run.code, 0, run.stdout)
      const lines = instructions(run.stdout)
      assert.equal(lines.length, 1)
      const { flags, cmd } = parseHealthcheck(lines[0] as string)
      assert.deepEqual(flags, { interval: '15s', timeout: '4s', 'start-period': '30s', retries: '3' })
      assert.deepEqual(cmd, ['probekit', 'check', '--timeout', '2600ms', `http://127.0.0.1:${port}/_healthz/readyz/`])
      // Run the CMD as Docker would (probekit is bin/probekit.js here): it reaches the app.
      const check = await cli(cmd.slice(1))
      assert.equal(check.code, 0, check.stdout)
      assert.match(check.stdout, new RegExp(`^ok http://127\\.0\\.0\\.1:${port}/_healthz/readyz/ 200 OK in `))
      assert.ok(seen.includes('/_healthz/readyz/'))
    })

    it('checks another group with --group, or runs probekit probe with --exec', async () => {
      const live = await cli(['gen', 'docker', '--group', 'live', '--port', '8080'])
      assert.equal(live.code, 0, live.stdout)
      assert.deepEqual(
        parseHealthcheck(instructions(live.stdout)[0] as string).cmd.at(-1),
        'http://127.0.0.1:8080/livez',
      )
      const exec = await cli(['gen', 'docker', '--exec', '--config', APP])
      assert.equal(exec.code, 0, exec.stdout)
      const { cmd } = parseHealthcheck(instructions(exec.stdout)[0] as string)
      assert.deepEqual(cmd, ['probekit', 'probe', '--ready', '--config', APP])
      const probe = await cli(cmd.slice(1))
      assert.equal(probe.code, 0, probe.stdout)
      assert.match(probe.stdout, /readyz check passed/)
    })
  })

  describe('compose', () => {
    it('writes a healthcheck block that parses, with exactly the compose fields', async () => {
      const run = await cli(['gen', 'compose', '--port', '8000', '--retries', '5', '--start-period', '1m'])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as { healthcheck: Record<string, unknown> }
      assert.deepEqual(Object.keys(doc), ['healthcheck'])
      assert.deepEqual(doc.healthcheck, {
        test: ['CMD', 'probekit', 'check', '--timeout', '1000ms', 'http://127.0.0.1:8000/readyz'],
        interval: '10s',
        timeout: '2s',
        retries: 5,
        start_period: '60s',
      })
    })

    it('nests the block under services.<name> with --name', async () => {
      const run = await cli([
        'gen',
        'compose',
        '--name',
        'web',
        '--paths',
        '/_healthz/livez/,/_healthz/readyz/,/_healthz/',
      ])
      assert.equal(run.code, 0, run.stdout)
      const doc = parseYaml(run.stdout) as { services: { web: { healthcheck: { test: string[] } } } }
      assert.equal(doc.services.web.healthcheck.test.at(-1), 'http://127.0.0.1:9000/_healthz/readyz/')
    })
  })

  // Independent cases: run them side by side.
  describe('usage errors', { concurrency: true }, () => {
    for (const [args, pattern] of [
      [['gen'], /usage error: say what to generate: one of k8s, docker, compose, nginx/],
      [['gen', 'helm'], /usage error: cannot generate "helm"/],
      [['gen', 'k8s', '--port', '70000'], /usage error: --port: port 70000 is out of range 1–65535$/m],
      [['gen', 'docker', '--port', 'http'], /usage error: --port "http" is not a port; use a number from 1 to 65535$/m],
      [['gen', 'k8s', '--paths', '/livez,/readyz'], /usage error: --paths "\/livez,\/readyz" needs three/],
      [
        ['gen', 'nginx', '--ready-path', '/ready; return 500'],
        /usage error: the readiness path .* is not a plain URL path/,
      ],
      [['gen', 'docker', '--container', 'x'], /usage error: --container applies to gen k8s only/],
      [['gen', 'k8s', '--period', 'often'], /usage error: --period "often" is not a duration/],
      [['gen', 'k8s', '--header', 'nocolon'], /usage error: --header "nocolon" is not a header/],
      [['gen', 'k8s', '--config', 'missing.js'], /usage error: the config module missing.js does not exist/],
      [['gen', 'nginx', '--upstream', 'web:8000'], /usage error: --upstream "web:8000" is not an http\(s\) URL/],
      [['gen', 'k8s', '--bogus'], /usage error: unknown option "--bogus"$/m],
      [['gen', 'k8s', '--perod', '5'], /usage error: unknown option "--perod"; did you mean --period\?$/m],
    ] as const) {
      it(`probekit ${args.join(' ')} → exit 1 with a usage error`, async () => {
        const run = await cli([...args])
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
        assert.doesNotMatch(run.stdout, /\n\s+at /, 'no stack trace')
      })
    }
  })
})
