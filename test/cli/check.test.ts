import assert from 'node:assert/strict'
import { utimesSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { freePort, makeTempDir } from '../support/server-process.js'
import { type MemcachedServers, startMemcached } from '../support/servers/memcached.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'
import { makeTestCertificates } from '../support/tls.js'
import { buildCli, cli } from './run-cli.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

function close(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve()
  server.closeAllConnections?.()
  return new Promise((resolve) => server.close(() => resolve()))
}

describe('probekit check', () => {
  let app: Server
  let port: number
  let base: string
  /** When each request to /slow arrived (ms since the test process started). */
  const slowArrivals: number[] = []
  let closedPort: number
  let garbage: FaultServer
  let blackhole: FaultServer

  const routes: Record<string, Handler> = {
    '/livez': (_req, res) => res.end('ok'),
    '/readyz': (_req, res) => {
      res.statusCode = 503
      res.end('[-]db failed: connection refused\nreadyz check failed\n')
    },
    '/no-content': (_req, res) => {
      res.statusCode = 204
      res.end()
    },
    '/private': (req, res) => {
      res.statusCode = req.headers['x-health-token'] === 'let-me-in' ? 200 : 401
      res.end()
    },
    '/slow': (_req, res) => {
      slowArrivals.push(performance.now())
      setTimeout(() => res.end('slow ok'), 1500)
    },
  }

  before(async () => {
    buildCli()
    app = createServer((req, res) => {
      const route = routes[(req.url ?? '').split('?')[0] as string]
      if (route) route(req, res)
      else {
        res.statusCode = 404
        res.end()
      }
    })
    port = await listen(app)
    base = `http://127.0.0.1:${port}`
    closedPort = await freePort()
    garbage = await garbageServer()
    blackhole = await blackholeServer()
  })

  after(async () => {
    await close(app)
    await garbage?.close()
    await blackhole?.close()
  })

  it('prints "ok <target> <status> in N ms" and exits 0 when the target passes', async () => {
    const run = await cli(['check', `${base}/livez`])
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.stdout, new RegExp(`^ok ${base}/livez 200 OK in \\d+\\.\\d ms\\n$`))
  })

  it('prints "failed <target>: <reason>" and exits 1 when the app answers 503', async () => {
    const run = await cli(['check', `${base}/readyz`])
    assert.equal(run.code, 1)
    assert.match(
      run.stdout,
      new RegExp(`^failed ${base}/readyz: .*answered 503 Service Unavailable, expected 200-399\\n$`),
    )
  })

  it('checks several targets, one line each in the order given, and exits 1 if any fails', async () => {
    const run = await cli(['check', `${base}/livez`, `tcp://127.0.0.1:${port}`, `tcp://127.0.0.1:${closedPort}`])
    assert.equal(run.code, 1)
    const lines = run.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 3)
    assert.match(lines[0] as string, /^ok http:/)
    assert.match(
      lines[1] as string,
      new RegExp(`^ok tcp://127\\.0\\.0\\.1:${port} connected to 127\\.0\\.0\\.1:${port} in `),
    )
    assert.match(lines[2] as string, new RegExp(`^failed tcp://127\\.0\\.0\\.1:${closedPort}: .*connection refused`))
  })

  it('runs targets in parallel: two 1.5 s endpoints are asked at the same time', async () => {
    slowArrivals.length = 0
    const run = await cli(['check', '--timeout', '5s', `${base}/slow?a`, `${base}/slow?b`])
    assert.equal(run.code, 0, run.stdout)
    assert.equal(slowArrivals.length, 2)
    const gap = Math.abs((slowArrivals[1] as number) - (slowArrivals[0] as number))
    // In sequence the second request would arrive 1.5 s after the first.
    assert.ok(gap < 750, `the requests arrived ${gap.toFixed(0)} ms apart`)
  })

  it('fails a target that never completes the connection at --timeout, with "timed out after"', async () => {
    const run = await cli(['check', '--timeout', '1500ms', `tcp://${blackhole.address}`, `${base}/livez`])
    assert.equal(run.code, 1)
    const [hung, ok] = run.stdout.trimEnd().split('\n') as [string, string]
    assert.match(hung, new RegExp(`^failed tcp://${blackhole.address}: .*timed out after 1500 ms$`))
    assert.match(ok, /^ok /)
    // The deadline, plus the process's own start-up on a busy machine.
    assert.ok(run.ms < 1500 + 3000, `took ${run.ms.toFixed(0)} ms`)
    assert.ok(run.ms >= 1400, `gave up after ${run.ms.toFixed(0)} ms, before the timeout`)
  })

  it('takes a bare number for --timeout as seconds', async () => {
    const run = await cli(['check', '--timeout', '1', `http://${blackhole.address}/livez`])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /timed out after 1000 ms\n$/)
  })

  it('fails fast with a protocol reason when the port answers garbage', async () => {
    const run = await cli(['check', '--timeout', '10s', `http://${garbage.address}/livez`])
    assert.equal(run.code, 1)
    assert.match(run.stdout, new RegExp(`^failed http://${garbage.address}/livez: `))
    assert.doesNotMatch(run.stdout, /timed out/)
    assert.ok(run.ms < 8000, `took ${run.ms.toFixed(0)} ms`)
  })

  it('never shows a password from the target, in lines or in --json', async () => {
    const target = `http://app:s3cret-Passw0rd@127.0.0.1:${closedPort}/readyz`
    const run = await cli(['check', target])
    assert.equal(run.code, 1)
    assert.match(run.stdout, new RegExp(`^failed http://app:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/readyz: `))
    assert.doesNotMatch(run.stdout, /s3cret/)
    const json = await cli(['check', '--json', target])
    assert.equal(json.code, 1)
    assert.doesNotMatch(json.stdout, /s3cret/)
    assert.match(json.stdout, /app:\*\*\*@/)
  })

  it('prints a JSON array of results with --json', async () => {
    const run = await cli(['check', '--json', `${base}/livez`, `${base}/readyz`])
    assert.equal(run.code, 1)
    const results = JSON.parse(run.stdout) as Record<string, unknown>[]
    assert.equal(results.length, 2)
    assert.deepEqual(
      results.map((r) => [r.target, r.status]),
      [
        [`${base}/livez`, 'pass'],
        [`${base}/readyz`, 'fail'],
      ],
    )
    assert.equal(results[0]?.output, '200 OK')
    assert.equal(typeof results[0]?.durationMs, 'number')
    assert.ok(!Number.isNaN(Date.parse(results[0]?.time as string)))
    assert.match(results[1]?.output as string, /answered 503/)
  })

  it('prints nothing with -q; the exit status tells', async () => {
    const ok = await cli(['check', '-q', `${base}/livez`])
    assert.deepEqual([ok.code, ok.stdout], [0, ''])
    const failed = await cli(['check', '--quiet', `${base}/readyz`])
    assert.deepEqual([failed.code, failed.stdout], [1, ''])
  })

  it('sends --header and judges by --expect-status', async () => {
    const without = await cli(['check', `${base}/private`])
    assert.equal(without.code, 1)
    assert.match(without.stdout, /answered 401 Unauthorized/)
    const withHeader = await cli(['check', '--header', 'X-Health-Token: let-me-in', `${base}/private`])
    assert.equal(withHeader.code, 0, withHeader.stdout)
    const notFound = await cli(['check', '--expect-status', '404', `${base}/missing`])
    assert.equal(notFound.code, 0, notFound.stdout)
    const strict = await cli(['check', '--expect-status', '200', `${base}/no-content`])
    assert.equal(strict.code, 1)
    assert.match(strict.stdout, /answered 204 No Content, expected 200/)
    const range = await cli(['check', '--expect-status', '2xx', `${base}/no-content`])
    assert.equal(range.code, 0, range.stdout)
    const list = await cli(['check', '--expect-status', '200,204', `${base}/no-content`, `${base}/livez`])
    assert.equal(list.code, 0, list.stdout)
  })

  describe('https', () => {
    let tlsServer: Server
    let tlsBase: string
    let caFile: string
    before(async () => {
      const certs = makeTestCertificates()
      tlsServer = createHttpsServer({ key: certs.key, cert: certs.cert }, (_req, res) => res.end('ok'))
      tlsBase = `https://127.0.0.1:${await listen(tlsServer)}`
      caFile = join(makeTempDir('check-ca'), 'ca.pem')
      writeFileSync(caFile, certs.ca)
    })
    after(() => close(tlsServer))

    it('rejects a certificate from an unknown CA, trusts it with --ca, or skips the check with --insecure', async () => {
      const untrusted = await cli(['check', `${tlsBase}/livez`])
      assert.equal(untrusted.code, 1)
      assert.match(untrusted.stdout, /^failed https:.*certificate/)
      const trusted = await cli(['check', '--ca', caFile, `${tlsBase}/livez`])
      assert.equal(trusted.code, 0, trusted.stdout)
      const insecure = await cli(['check', '--insecure', `${tlsBase}/livez`])
      assert.equal(insecure.code, 0, insecure.stdout)
    })
  })

  describe('redis and postgres', () => {
    let redis: RedisServer
    let lockedRedis: RedisServer
    before(async () => {
      ;[redis, lockedRedis] = await Promise.all([startRedis(), startRedis({ password: 'redis-Secret-7' })])
    })
    after(async () => {
      await redis?.stop()
      await lockedRedis?.stop()
    })

    it('prints "ok redis://… PONG in N ms" for a real Redis', async () => {
      const target = `redis://127.0.0.1:${redis.port}`
      const run = await cli(['check', target])
      assert.equal(run.code, 0, run.stdout)
      assert.match(run.stdout, new RegExp(`^ok redis://127\\.0\\.0\\.1:${redis.port} PONG in \\d+\\.\\d ms\\n$`))
    })

    it('fails on a wrong Redis password without printing it', async () => {
      const target = `redis://:wrong-Passw0rd@127.0.0.1:${lockedRedis.port}`
      const run = await cli(['check', target])
      assert.equal(run.code, 1)
      assert.match(run.stdout, new RegExp(`^failed redis://:\\*\\*\\*@127\\.0\\.0\\.1:${lockedRedis.port}: `))
      assert.doesNotMatch(run.stdout, /wrong-Passw0rd|redis-Secret-7/)
      const right = await cli(['check', lockedRedis.url])
      assert.equal(right.code, 0, right.stdout)
      assert.doesNotMatch(right.stdout, /redis-Secret-7/)
    })

    it('fails a frozen Redis at --timeout', async () => {
      lockedRedis.process.freeze()
      try {
        const run = await cli(['check', '--timeout', '1s', lockedRedis.url])
        assert.equal(run.code, 1)
        assert.match(run.stdout, /timed out after 1000 ms\n$/)
        assert.doesNotMatch(run.stdout, /redis-Secret-7/)
      } finally {
        lockedRedis.process.thaw()
      }
    })

    it('prints "failed postgres://app:***@…: timed out after N ms" for an unreachable database', async () => {
      const target = `postgres://app:pg-Secret-9@${blackhole.address}/app`
      const run = await cli(['check', '--timeout', '1s', target])
      assert.equal(run.code, 1)
      assert.equal(run.stdout, `failed postgres://app:***@${blackhole.address}/app: timed out after 1000 ms\n`)
    })

    it('fails a refused postgresql:// target with the reason, password redacted', async () => {
      const run = await cli(['check', '--json', `postgresql://app:pg-Secret-9@127.0.0.1:${closedPort}/app`])
      assert.equal(run.code, 1)
      const [result] = JSON.parse(run.stdout) as { target: string; status: string; output: string }[]
      assert.equal(result?.target, `postgresql://app:***@127.0.0.1:${closedPort}/app`)
      assert.equal(result?.status, 'fail')
      assert.match(result?.output ?? '', /connection refused/)
      assert.doesNotMatch(run.stdout, /pg-Secret-9/)
    })
  })

  describe('file, memcached and mysql', () => {
    let dir: string
    let memcached: MemcachedServers
    before(async () => {
      dir = makeTempDir('check-files')
      writeFileSync(join(dir, 'fresh.live'), '')
      writeFileSync(join(dir, 'stale.live'), '')
      const threeMinutesAgo = new Date(Date.now() - 180_000)
      utimesSync(join(dir, 'stale.live'), threeMinutesAgo, threeMinutesAgo)
      memcached = await startMemcached({ count: 2 })
    })
    after(() => memcached?.stop())

    it('passes a file:// target that exists and, with --max-age, is fresh', async () => {
      const run = await cli(['check', '--max-age', '60s', `file://${dir}/fresh.live`, `file://${dir}/stale.live`])
      assert.equal(run.code, 1)
      const [fresh, stale] = run.stdout.trimEnd().split('\n') as [string, string]
      assert.match(fresh, new RegExp(`^ok file://${dir}/fresh\\.live modified [\\d.]+ (ms|s) ago in `))
      assert.match(
        stale,
        new RegExp(`^failed file://${dir}/stale\\.live: is stale: modified 3(\\.\\d)? min ago, more than 60 s$`),
      )
      const withoutMaxAge = await cli(['check', `file://${dir}/stale.live`])
      assert.equal(withoutMaxAge.code, 0, withoutMaxAge.stdout)
    })

    it('fails a missing file, and takes file:relative paths from the working directory', async () => {
      const missing = await cli(['check', `file://${dir}/missing.ready`])
      assert.equal(missing.code, 1)
      assert.equal(missing.stdout, `failed file://${dir}/missing.ready: does not exist\n`)
      const relative = await cli(['check', 'file:fresh.live'], { cwd: dir })
      assert.equal(relative.code, 0, relative.stdout)
      const remote = await cli(['check', 'file://backup-host/fresh.live'])
      assert.equal(remote.code, 1)
      assert.match(
        remote.stdout,
        /usage error: "file:\/\/backup-host\/fresh\.live" names the host "backup-host"; a file target is local/,
      )
    })

    it('passes memcached://a,b only when every listed server answers', async () => {
      const both = `memcached://${memcached.serversString}`
      const ok = await cli(['check', both])
      assert.equal(ok.code, 0, ok.stdout)
      assert.match(ok.stdout, /^ok memcached:\/\//)
      const oneDown = `memcached://${memcached.servers[0]?.address},127.0.0.1:${closedPort}`
      const failed = await cli(['check', oneDown])
      assert.equal(failed.code, 1)
      assert.match(failed.stdout, new RegExp(`127\\.0\\.0\\.1:${closedPort}`))
      assert.doesNotMatch(
        failed.stdout,
        new RegExp(`${memcached.servers[0]?.address} \\(`),
        'only the silent server is named',
      )
    })

    it('fails a refused mysql:// target with the password redacted', async () => {
      const run = await cli(['check', `mysql://app:my-Secret-5@127.0.0.1:${closedPort}/shop`])
      assert.equal(run.code, 1)
      assert.match(
        run.stdout,
        new RegExp(`^failed mysql://app:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/shop: .*connection refused`),
      )
      assert.doesNotMatch(run.stdout, /my-Secret-5/)
    })
  })

  describe('usage errors exit 1 (never 2) and say so', () => {
    for (const [args, pattern] of [
      [[], /usage error: name at least one target/],
      [
        ['gopher://127.0.0.1:70/'],
        /usage error: "gopher:\/\/127\.0\.0\.1:70\/" has the unsupported scheme "gopher:" \(supported schemes: http:\/\/ https:\/\/ tcp:\/\//,
      ],
      [['localhost:6379'], /usage error: "localhost:6379" is not a URL; for a port, write tcp:\/\/localhost:6379/],
      [['http://'], /usage error: "http:\/\/" is not a well-formed URL/],
      [['--timeout', 'soon', 'http://127.0.0.1:1/'], /usage error: --timeout "soon" is not a duration/],
      [['--timeout', '0', 'http://127.0.0.1:1/'], /usage error: --timeout must be more than zero/],
      [
        ['--header', 'X-A: b', 'tcp://127.0.0.1:1'],
        /usage error: --header applies to http:\/\/ and https:\/\/ targets/,
      ],
      [['--header', 'no colon', 'http://127.0.0.1:1/'], /usage error: --header "no colon" is not a header/],
      [['--expect-status', 'ok', 'http://127.0.0.1:1/'], /usage error: --expect-status "ok" is not a status/],
      [['--max-age', '60', 'http://127.0.0.1:1/'], /usage error: --max-age applies to file:\/\/ targets/],
      [['--max-age', 'old', 'file:///tmp/x'], /usage error: --max-age "old" is not a duration/],
      [
        ['--ca', '/nonexistent/ca.pem', 'https://127.0.0.1:1/'],
        /usage error: --ca \/nonexistent\/ca.pem: the CA certificate file does not exist/,
      ],
      [['--json', '-q', 'http://127.0.0.1:1/'], /usage error: --json and --quiet contradict each other/],
      [['--retries', '3', 'http://127.0.0.1:1/'], /usage error: Unknown option '--retries'/],
      [['postgres://app:hunter2@db:5432/app', 'mongo://x'], /usage error: "mongo:\/\/x" has the unsupported scheme/],
    ] as const) {
      it(`probekit check ${args.join(' ')}`, async () => {
        const run = await cli(['check', ...args])
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
        assert.match(run.stdout, /See "probekit check --help"/)
        assert.doesNotMatch(run.stdout, /hunter2/)
        assert.doesNotMatch(run.stdout, /\n\s+at /, 'no stack trace')
      })
    }
  })

  it('caps each line so the output fits in the 4 KB Docker keeps', async () => {
    const long = `${base}/readyz?${'x'.repeat(3000)}`
    const run = await cli(['check', long, long, long])
    assert.equal(run.code, 1)
    assert.ok(Buffer.byteLength(run.stdout) <= 4096, `${Buffer.byteLength(run.stdout)} bytes`)
    assert.equal(run.stdout.trimEnd().split('\n').length, 3)
  })
})
