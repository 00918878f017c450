import assert from 'node:assert/strict'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { plainIsString } from '../../src/gen/yaml.js'
import { makeTempDir } from '../support/server-process.js'
import { buildCli, cli, ROOT } from './run-cli.js'

const APP = 'test/fixtures/cli/app-health.mjs'
const PROBE_KEYS = ['failureThreshold', 'initialDelaySeconds', 'periodSeconds', 'successThreshold', 'timeoutSeconds']

type Probe = Record<string, unknown> & { httpGet?: Record<string, unknown>; exec?: { command: string[] } }

/**
 * Strings a YAML reader may resolve to something else when written plain: YAML 1.1
 * (kubectl, PyYAML) booleans, nulls, numbers in every base and sexagesimal, dates, and
 * YAML 1.2's own.
 */
const TRICKY = [
  'yes',
  'no',
  'off',
  'on',
  'y',
  'n',
  'Y',
  'N',
  'Yes',
  'NO',
  'True',
  'FALSE',
  'Off',
  'ON',
  'null',
  'Null',
  '~',
  '1_000',
  '0o17',
  '017',
  '0b101',
  '0x1F',
  '1:20',
  '190:20:30.15',
  '.inf',
  '-.Inf',
  '.NaN',
  '123',
  '-5',
  '+12',
  '1e3',
  '3.',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  '=',
  '<<',
  '',
]

/** Parses YAML as a YAML 1.1 reader (kubectl, PyYAML) would, and as a YAML 1.2 one. */
function readBoth(text: string): [unknown, unknown] {
  return [parseYaml(text, { version: '1.1' }), parseYaml(text, { version: '1.2' })]
}

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
      assert.equal(run.code, 0, run.stderr)
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
      assert.equal(run.code, 0, run.stderr)
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
      assert.equal(run.stdout, '', 'nothing for a redirect to write into the YAML file')
      assert.match(run.stderr, /--timeout 2 is too short/)
      assert.match(run.stderr, /"database" has a 2500 ms deadline/)
      assert.match(run.stderr, /"migrations" has a 4000 ms deadline/)
      assert.match(run.stderr, /Use --timeout 5 or more/)
    })

    it('names a group without probes in the too-short error, and each probe by its name and deadline', async () => {
      // One probe added as add(name, check), no timeout of its own: it gets the health's 100 ms.
      // It is in readiness and startup only, so liveness runs no probes on request.
      const dir = makeTempDir('gen-fast')
      const config = join(dir, 'fast.mjs')
      writeFileSync(
        config,
        `import { createHealth } from ${JSON.stringify(pathToFileURL(`${ROOT}dist/index.js`).href)}
export const health = createHealth({ timeout: 100, logger: false })
health.add('x', async () => {})
`,
      )
      const run = await cli(['gen', 'k8s', '--timeout', '0.05', '--config', config])
      assert.equal(run.code, 1)
      assert.equal(run.stdout, '')
      assert.doesNotMatch(run.stderr, /undefined/)
      assert.match(
        run.stderr,
        /the liveness probes need 100 ms \(no liveness probes run on request, only the 100 ms margin\); the readiness probes need 200 ms \("x" has a 100 ms deadline, plus 100 ms margin\)/,
      )
    })

    it('leaves out the HTTP probes of a group the app serves no path for, and refuses a health check of it', async () => {
      const dir = makeTempDir('gen-unserved')
      const config = join(dir, 'no-startup.mjs')
      writeFileSync(
        config,
        `import { createHealth } from ${JSON.stringify(pathToFileURL(`${ROOT}dist/index.js`).href)}
export const health = createHealth({ timeout: 1500, logger: false, paths: { live: '/alive', ready: '/ready', startup: false } })
`,
      )
      const k8s = await cli(['gen', 'k8s', '--config', config])
      assert.equal(k8s.code, 0, k8s.stderr)
      const probes = parseYaml(k8s.stdout) as Record<string, Probe>
      assert.deepEqual(Object.keys(probes), ['livenessProbe', 'readinessProbe'])
      assert.equal(probes.readinessProbe?.httpGet?.path, '/ready')
      assert.match(k8s.stdout, /^# no startupProbe: .*no-startup\.mjs serves no startup path\.$/m)
      // Exec and gRPC probes do not go through the paths: all three stay.
      const exec = await cli(['gen', 'k8s', '--exec', '--config', config])
      assert.ok((parseYaml(exec.stdout) as Record<string, Probe>).startupProbe?.exec, exec.stdout)
      // A path given on the command line is the user's word.
      const given = await cli(['gen', 'k8s', '--config', config, '--startup-path', '/started'])
      assert.equal((parseYaml(given.stdout) as Record<string, Probe>).startupProbe?.httpGet?.path, '/started')
      for (const kind of ['docker', 'compose']) {
        const run = await cli(['gen', kind, '--group', 'startup', '--config', config])
        assert.equal(run.code, 1)
        assert.match(
          run.stderr,
          /usage error: \S+no-startup\.mjs serves no startup path, so a health check of it would get 404; choose --group live or ready, give --startup-path, or use --exec/,
        )
      }
      // A group that is served is checked; the missing one is not theirs to mention.
      for (const kind of ['docker', 'compose']) {
        const run = await cli(['gen', kind, '--group', 'live', '--config', config])
        assert.equal(run.code, 0, run.stderr)
        assert.doesNotMatch(run.stdout, /startup/, run.stdout)
      }
      const nginx = await cli(['gen', 'nginx', '--config', config])
      assert.equal(nginx.code, 0, nginx.stderr)
      assert.deepEqual(nginx.stdout.match(/^location = \S+/gm), ['location = /alive', 'location = /ready'])
      assert.match(nginx.stdout, /^# no location for the startup path: .*no-startup\.mjs serves no startup path\.$/m)
    })

    it('accepts an explicit --timeout that fits the app probes', async () => {
      const run = await cli(['gen', 'k8s', '--config', APP, '--timeout', '6s'])
      assert.equal(run.code, 0, run.stderr)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      for (const probe of Object.values(doc)) assert.equal(probe.timeoutSeconds, 6)
    })

    it('says in the header what the probes do not carry as given: a whole-second period, a timeout past the period', async () => {
      const half = await cli(['gen', 'k8s', '--period', '500ms'])
      assert.equal(half.code, 0, half.stderr)
      assert.match(half.stdout, /^# period 0\.5 s written as 1 s: Kubernetes counts probe periods in whole seconds\.$/m)
      assert.equal((parseYaml(half.stdout) as Record<string, Probe>).livenessProbe?.periodSeconds, 1)
      const long = await cli(['gen', 'k8s', '--period', '1h', '--timeout', '2h'])
      assert.match(
        long.stdout,
        /^# note: the liveness, readiness and startup timeouts are longer than the period \(7200 s against 3600 s\); a probe that takes that long delays the next one\.$/m,
      )
      const docker = await cli(['gen', 'docker', '--period', '1s', '--timeout', '3s'])
      assert.match(docker.stdout, /^# note: the readiness timeout is longer than the period \(3 s against 1 s\)/m)
      assert.doesNotMatch(docker.stdout, /written as/, 'Docker takes 1s as it is')
      const plain = await cli(['gen', 'k8s'])
      assert.doesNotMatch(plain.stdout, /written as|note:/)
    })

    it('writes exec probes running probekit probe, with room for starting Node', async () => {
      const run = await cli(['gen', 'k8s', '--exec', '--config', APP, '--bin', '/app/node_modules/.bin/probekit'])
      assert.equal(run.code, 0, run.stderr)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      assert.deepEqual(Object.keys(doc.readinessProbe ?? {}).sort(), ['exec', ...PROBE_KEYS].sort())
      assert.deepEqual(doc.readinessProbe?.exec, {
        command: ['/app/node_modules/.bin/probekit', 'probe', '--ready', '--config', APP],
      })
      assert.deepEqual(doc.livenessProbe?.exec?.command.slice(1, 3), ['probe', '--live'])
      // probekit probe waits for the first run of the background probe (8000 ms), then runs
      // the others (database: 2500 ms), + 1000 ms for the process to start and import the module.
      assert.equal(doc.readinessProbe?.timeoutSeconds, 12)
      assert.equal(doc.livenessProbe?.timeoutSeconds, 2, 'live has no background probe: 200 ms + 1000 ms')
      assert.match(
        run.stdout,
        /^# readiness timeout 12 s: 10500 ms for the first run of the background probe "queue-depth" \(8000 ms\), then "database" \(2500 ms\) \+ 1000 ms margin\.$/m,
      )
      // An HTTP probe only reads the background probe's latest result.
      const http = parseYaml((await cli(['gen', 'k8s', '--config', APP])).stdout) as Record<string, Probe>
      assert.equal(http.readinessProbe?.timeoutSeconds, 3)
    })

    it('says in the header when a group runs no probe on request: the margin alone', async () => {
      const run = await cli(['gen', 'k8s', '--config', 'test/fixtures/cli/ready-only-health.mjs'])
      assert.equal(run.code, 0, run.stderr)
      assert.match(
        run.stdout,
        /^# liveness timeout 1 s: no liveness probes run on request, so the 100 ms margin alone\.$/m,
      )
      assert.match(
        run.stdout,
        /^# readiness timeout 1 s: slowest readiness deadline 900 ms \(db\) \+ 100 ms margin\.$/m,
      )
    })

    it('refuses an exec --timeout that leaves no room for a background probe’s first run', async () => {
      const run = await cli(['gen', 'k8s', '--exec', '--config', APP, '--timeout', '5'])
      assert.equal(run.code, 1)
      assert.equal(run.stdout, '')
      assert.match(
        run.stderr,
        /the readiness probes need 11500 ms \(the first run of the background probe "queue-depth" \(8000 ms\), then "database" \(2500 ms\), plus 1000 ms margin\)/,
      )
    })

    it('writes a $ in an exec command as $$, which the kubelet reads as a literal $ and does not expand $(NAME) from', async () => {
      const run = await cli(['gen', 'k8s', '--exec', '--config', APP, '--bin', '/opt/$(HOME)/probekit'])
      assert.equal(run.code, 0, run.stderr)
      const doc = parseYaml(run.stdout) as Record<string, Probe>
      assert.equal(doc.readinessProbe?.exec?.command[0], '/opt/$$(HOME)/probekit')
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
      assert.equal(run.code, 0, run.stderr)
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

    it('quotes every value a YAML 1.1 or 1.2 reader would take for a boolean, null or number', async () => {
      const headers = TRICKY.flatMap((value, i) => ['--header', `X-${i}: ${value}`])
      const run = await cli(['gen', 'k8s', '--container', 'y', '--port', 'on', ...headers])
      assert.equal(run.code, 0, run.stderr)
      for (const doc of readBoth(run.stdout)) {
        const container = (doc as { containers: (Record<string, Probe> & { name: unknown })[] }).containers[0]
        assert.equal(container?.name, 'y')
        const httpGet = container?.readinessProbe?.httpGet as { port: unknown; httpHeaders: { value: unknown }[] }
        assert.equal(httpGet.port, 'on')
        assert.deepEqual(
          httpGet.httpHeaders.map((h) => h.value),
          TRICKY,
        )
      }
      // The plainly safe stay plain: paths, names with a digit or a dash, long words.
      assert.match(run.stdout, /^ {8}path: \/readyz$/m)
      assert.match(run.stdout, /^ {10}- name: X-1$/m)
      assert.match(run.stdout, /^ {12}value: "yes"$/m)
    })

    it('writes a string plain only when it is plainly a string in YAML 1.1 and 1.2', () => {
      for (const text of TRICKY) assert.equal(plainIsString(text), false, text)
      for (const text of [
        '/livez',
        '/_healthz/readyz/',
        'web-1',
        'X-On',
        'management',
        'probekit',
        'v1.2',
        'web',
        'api',
      ]) {
        assert.equal(plainIsString(text), true, text)
      }
      // The keywords in any case, and what is not a plain word or path.
      for (const text of ['yEs', 'NULL', 'False', 'a b', 'http://web:80', 'wéb', '@x', '-x']) {
        assert.equal(plainIsString(text), false, text)
      }
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
      assert.equal(run.code, 0, run.stderr)
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
      assert.equal(live.code, 0, live.stderr)
      assert.deepEqual(
        parseHealthcheck(instructions(live.stdout)[0] as string).cmd.at(-1),
        'http://127.0.0.1:8080/livez',
      )
      const exec = await cli(['gen', 'docker', '--exec', '--config', APP])
      assert.equal(exec.code, 0, exec.stderr)
      const { cmd } = parseHealthcheck(instructions(exec.stdout)[0] as string)
      assert.deepEqual(cmd, ['probekit', 'probe', '--ready', '--config', APP])
      const probe = await cli(cmd.slice(1))
      assert.equal(probe.code, 0, probe.stdout)
      assert.match(probe.stdout, /readyz check passed/)
    })
  })

  describe('timeouts without --config', { concurrency: true }, () => {
    // The library's default deadline is 900 ms: a Docker check and an exec probe need another
    // second to start a process, a kubelet HTTP probe 100 ms for the answer.
    for (const args of [
      ['docker', '--timeout', '1'],
      ['docker', '--timeout', '0.3'],
      ['compose', '--timeout', '1500ms'],
      ['k8s', '--exec', '--timeout', '1'],
    ]) {
      it(`gen ${args.join(' ')} is refused: the default 900 ms deadline needs 1900 ms`, async () => {
        const run = await cli(['gen', ...args])
        assert.equal(run.code, 1)
        assert.equal(run.stdout, '')
        assert.match(
          run.stderr,
          /^probekit gen: --timeout \S+ is too short for probes with the library's default deadline, which gen assumes without --config: they need 1900 ms \(a 900 ms deadline, plus 1000 ms margin\)\. Use --timeout 2 or more, or give --config/m,
        )
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
      })
    }

    it('gen k8s --timeout 1 fits an HTTP probe of the default deadline', async () => {
      const run = await cli(['gen', 'k8s', '--timeout', '1'])
      assert.equal(run.code, 0, run.stderr)
      assert.equal((parseYaml(run.stdout) as Record<string, Probe>).readinessProbe?.timeoutSeconds, 1)
    })

    it('gen nginx --upstream --timeout 1 fits: nginx waits for the answer and starts no process', async () => {
      const run = await cli(['gen', 'nginx', '--upstream', 'http://web:8000', '--timeout', '1'])
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /^\s*proxy_read_timeout 1s;$/m)
      const short = await cli(['gen', 'nginx', '--upstream', 'http://web:8000', '--timeout', '900ms'])
      assert.equal(short.code, 1)
      assert.match(short.stderr, /they need 1000 ms \(a 900 ms deadline, plus 100 ms margin\)/)
      assert.equal(short.stdout, '')
    })

    it("the defaults give Docker and exec probes room for the check's own 1000 ms deadline", async () => {
      const docker = await cli(['gen', 'docker'])
      assert.equal(docker.code, 0, docker.stderr)
      const { flags, cmd } = parseHealthcheck(instructions(docker.stdout)[0] as string)
      assert.equal(flags.timeout, '2s')
      assert.deepEqual(cmd.slice(1, 4), ['check', '--timeout', '1000ms'])
      const exec = await cli(['gen', 'k8s', '--exec'])
      assert.equal(exec.code, 0, exec.stderr)
      for (const probe of Object.values(parseYaml(exec.stdout) as Record<string, Probe>)) {
        assert.equal(probe.timeoutSeconds, 2)
      }
    })
  })

  describe('compose', () => {
    it('writes a healthcheck block that parses, with exactly the compose fields', async () => {
      const run = await cli(['gen', 'compose', '--port', '8000', '--retries', '5', '--start-period', '1m'])
      assert.equal(run.code, 0, run.stderr)
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
      assert.equal(run.code, 0, run.stderr)
      const doc = parseYaml(run.stdout) as { services: { web: { healthcheck: { test: string[] } } } }
      assert.equal(doc.services.web.healthcheck.test.at(-1), 'http://127.0.0.1:9000/_healthz/readyz/')
    })

    it('quotes a service name and command words a YAML 1.1 or 1.2 reader would take for something else', async () => {
      const run = await cli(['gen', 'compose', '--name', 'yes', '--bin', 'off'])
      assert.equal(run.code, 0, run.stderr)
      for (const doc of readBoth(run.stdout)) {
        const services = (doc as { services: Record<string, { healthcheck: { test: unknown[]; interval: unknown } }> })
          .services
        assert.deepEqual(Object.keys(services), ['yes'])
        assert.deepEqual(services.yes?.healthcheck.test.slice(0, 3), ['CMD', 'off', 'check'])
        assert.equal(services.yes?.healthcheck.interval, '10s')
      }
      assert.match(
        run.stdout,
        /^ {6}test: \["CMD", "off", "check", "--timeout", "1000ms", "http:\/\/127\.0\.0\.1:9000\/readyz"\]$/m,
      )
    })

    it('writes a $ in the command as $$, so compose runs it as given and does not interpolate its own environment', async () => {
      const run = await cli([
        'gen',
        'compose',
        '--header',
        'Authorization: Bearer ${TOKEN:?} $HOME',
        '--bin',
        '/opt/$$/probekit',
      ])
      assert.equal(run.code, 0, run.stderr)
      const test = (parseYaml(run.stdout) as { healthcheck: { test: string[] } }).healthcheck.test
      assert.deepEqual(test.slice(0, 2), ['CMD', '/opt/$$$$/probekit'])
      assert.ok(test.includes('Authorization: Bearer $${TOKEN:?} $$HOME'), test.join(' '))
    })

    it('takes the service names the compose spec allows', async () => {
      const run = await cli(['gen', 'compose', '--name', 'My_app.v2-1'])
      assert.equal(run.code, 0, run.stderr)
      assert.deepEqual(Object.keys((parseYaml(run.stdout) as { services: object }).services), ['My_app.v2-1'])
    })
  })

  it('fails on stderr, writing nothing to stdout, when the config module never settles', async () => {
    const run = await cli(['gen', 'k8s', '--config', 'test/fixtures/cli/never-settles-health.mjs'])
    assert.equal(run.code, 1)
    assert.equal(run.stdout, '', 'nothing for > probes.yaml')
    assert.match(run.stderr, /^probekit gen: stopped without an answer: /)
  })

  it('takes zero with any unit where zero means none: --initial-delay 0s, --start-period 0ms', async () => {
    const k8s = await cli(['gen', 'k8s', '--initial-delay', '0s'])
    assert.equal(k8s.code, 0, k8s.stderr)
    assert.equal((parseYaml(k8s.stdout) as Record<string, Probe>).readinessProbe?.initialDelaySeconds, 0)
    const docker = await cli(['gen', 'docker', '--start-period', '0ms'])
    assert.equal(docker.code, 0, docker.stderr)
    assert.equal(parseHealthcheck(instructions(docker.stdout)[0] as string).flags['start-period'], '0s')
  })

  // Independent cases: run them side by side.
  describe('usage errors', { concurrency: true }, () => {
    for (const [args, pattern] of [
      [['gen'], /usage error: say what to generate: one of k8s, docker, compose, nginx/],
      [['gen', 'helm'], /usage error: cannot generate "helm"/],
      [['gen', 'k8s', '--port', '70000'], /usage error: --port: port 70000 is out of range 1–65535$/m],
      [['gen', 'docker', '--port', 'http'], /usage error: --port "http" is not a port; use a number from 1 to 65535$/m],
      // Kubernetes refuses a port name with consecutive hyphens (IsValidPortName), as kubectl apply would say.
      [
        ['gen', 'k8s', '--port', 'mgmt--http'],
        /usage error: --port "mgmt--http" is not a port; use a number from 1 to 65535 or a Kubernetes port name such as "management" \(at most 15 lowercase letters, digits and single '-' between them, with at least one letter\)$/m,
      ],
      [['gen', 'k8s', '--paths', '/livez,/readyz'], /usage error: --paths "\/livez,\/readyz" needs three/],
      [
        ['gen', 'nginx', '--ready-path', '/ready; return 500'],
        /usage error: the readiness path .* is not a plain URL path/,
      ],
      [['gen', 'docker', '--container', 'x'], /usage error: --container applies to gen k8s only/],
      [
        ['gen', 'nginx', '--header', 'X-Probe: 1'],
        /usage error: --header applies to gen k8s and docker and compose only, not gen nginx/,
      ],
      [
        ['gen', 'nginx', '--port', '8000'],
        /usage error: --port applies to gen k8s and docker and compose only, not gen nginx/,
      ],
      [['gen', 'nginx', '--period', '5s'], /usage error: --period applies to gen k8s and docker and compose only/],
      [['gen', 'nginx', '--timeout', '5'], /usage error: --timeout applies to gen nginx only with --upstream/],
      [
        ['gen', 'k8s', '--bin', '/app/bin/probekit'],
        /usage error: --bin names the command of exec probes; gen k8s writes them with --exec only/,
      ],
      [['gen', 'k8s', '--period', 'often'], /usage error: --period "often" is not a duration/],
      [['gen', 'docker', '--period', '0'], /usage error: --period must be a positive duration .*, got 0$/m],
      [['gen', 'k8s', '--period', '0'], /usage error: --period must be a positive duration .*, got 0$/m],
      [['gen', 'compose', '--interval', '0s'], /usage error: --interval must be a positive duration .*, got 0s$/m],
      [['gen', 'k8s', '--period', '-5'], /usage error: --period must be a positive duration .*, got -5$/m],
      [['gen', 'k8s', '--period', 'NaN'], /usage error: --period "NaN" is not a duration/],
      [['gen', 'docker', '--timeout', '0'], /usage error: --timeout must be a positive duration .*, got 0$/m],
      [['gen', 'k8s', '--initial-delay', '-1'], /usage error: --initial-delay must be a positive duration/],
      [
        ['gen', 'k8s', '--timeout', '99999999999'],
        /usage error: --timeout "99999999999" is too long; Kubernetes takes at most 2147483647 seconds$/m,
      ],
      [
        ['gen', 'docker', '--start-period', '100000000d'],
        /usage error: --start-period "100000000d" is too long; Kubernetes takes at most 2147483647 seconds$/m,
      ],
      [['gen', 'k8s', '--failure-threshold', '0'], /usage error: --failure-threshold "0" is not a whole number/],
      [['gen', 'docker', '--retries', '-1'], /usage error: --failure-threshold "-1" is not a whole number/],
      [
        ['gen', 'k8s', '--success-threshold', '99999999999'],
        /usage error: --success-threshold "99999999999" is not a whole number from 1 to 2147483647$/m,
      ],
      [
        ['gen', 'k8s', '--header', 'nocolon'],
        /usage error: the --header given has no colon; write it as 'Name: value'/,
      ],
      [['gen', 'k8s', '--header', 'X Y: z'], /usage error: the --header "X…" has a space in its name/],
      [['gen', 'k8s', '--config', 'missing.js'], /usage error: the config module missing.js does not exist/],
      [['gen', 'nginx', '--upstream', 'web:8000'], /usage error: --upstream "web:8000" is not an http\(s\) URL/],
      [
        ['gen', 'nginx', '--upstream', 'http://web:8000/$host'],
        /usage error: --upstream "http:\/\/web:8000\/\$host" holds a \$, a query or a fragment, which proxy_pass would expand or drop/,
      ],
      [
        ['gen', 'nginx', '--upstream', 'http://we$b:8000'],
        /usage error: --upstream "http:\/\/we\$b:8000\/?" holds a \$/,
      ],
      [['gen', 'nginx', '--upstream', 'http://web:8000/?full=1'], /holds a \$, a query or a fragment/],
      [['gen', 'nginx', '--upstream', 'http://web:8000#ready'], /holds a \$, a query or a fragment/],
      // Credentials proxy_pass would drop without a word; the password is not echoed.
      [
        ['gen', 'nginx', '--upstream', 'http://app:UpPw-77@web:8000'],
        /usage error: --upstream "http:\/\/app:\*\*\*@web:8000\/?" holds a user or password, which nginx's proxy_pass cannot send; give the URL without them/,
      ],
      [
        ['gen', 'nginx', '--upstream', 'http://app:UpPw-77@web:8000;'],
        /usage error: --upstream "http:\/\/app:\*\*\*@web:8000;" is not an http\(s\) URL/,
      ],
      [['gen', 'k8s', '--bogus'], /usage error: unknown option "--bogus"$/m],
      [['gen', 'k8s', '--perod', '5'], /usage error: unknown option "--perod"; did you mean --period\?$/m],
      [['gen', 'frob'], /usage error: cannot generate "frob"; choose one of k8s, docker, compose, nginx$/m],
      [
        ['gen', 'nginx', '--paths', '/l,/r$request_uri,/s'],
        /usage error: the readiness path "\/r\$request_uri" is not a plain URL path; it must start with \/ and hold only ASCII letters, digits and \. _ ~ % \/ : @ \+ ! \* = - \(no spaces, quotes, ;, \{\}, \$, #, \? or non-ASCII characters\)$/m,
      ],
      [['gen', 'k8s', '--live-path', '/live#x'], /usage error: the liveness path "\/live#x" is not a plain URL path/],
      [
        ['gen', 'docker', '--startup-path', '/grüße'],
        /usage error: the startup path "\/grüße" is not a plain URL path/,
      ],
      [
        ['gen', 'k8s', '--container', 'Bad_Name'],
        /usage error: --container "Bad_Name" is not a Kubernetes container name; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit \(e\.g\. web\)$/m,
      ],
      [['gen', 'k8s', '--container', 'web-'], /usage error: --container "web-" is not a Kubernetes container name/],
      [
        ['gen', 'k8s', '--container', 'a'.repeat(64)],
        /usage error: --container "a{64}" is not a Kubernetes container name/,
      ],
      [
        ['gen', 'compose', '--name', 'a b'],
        /usage error: --name "a b" is not a compose service name; use ASCII letters, digits, '\.', '_' and '-', starting with a letter or digit \(e\.g\. web\)$/m,
      ],
      [['gen', 'compose', '--name', 'wéb'], /usage error: --name "wéb" is not a compose service name/],
      [['gen', 'compose', '--name', '-web'], /usage error: --name "-web" is not a compose service name/],
    ] as const) {
      it(`probekit ${args.join(' ')} → exit 1 with a usage error on stderr`, async () => {
        const run = await cli([...args])
        assert.equal(run.code, 1)
        // `probekit gen k8s … > probes.yaml` must not write the error into the file.
        assert.equal(run.stdout, '')
        assert.match(run.stderr, pattern)
        assert.match(run.stderr, /^See "probekit gen --help"\.$/m)
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace')
      })
    }
  })
})
