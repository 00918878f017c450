import assert from 'node:assert/strict'
import { utimesSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { blackholeServer, type FaultServer } from '../support/faults.js'
import { makeTempDir, refusedPort } from '../support/server-process.js'
import { type MemcachedServers, startMemcached } from '../support/servers/memcached.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'
import { makeTestCertificates } from '../support/tls.js'
import { buildCli, cli } from './run-cli.js'

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

function close(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve()
  server.closeAllConnections?.()
  return new Promise((resolve) => server.close(() => resolve()))
}

// probekit check against real servers of each kind (and the faults every target must survive).
describe('probekit check, target by target', () => {
  let closedPort: number
  let blackhole: FaultServer

  before(async () => {
    buildCli()
    closedPort = await refusedPort()
    blackhole = await blackholeServer()
  })
  after(() => blackhole?.close())

  describe('redis and postgres', () => {
    let redis: RedisServer
    let lockedRedis: RedisServer
    before(async () => {
      ;[redis, lockedRedis] = await Promise.all([
        startRedis(),
        startRedis({ password: 'redis-Secret-7', unixSocket: true }),
      ])
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

    it('checks a Redis through its Unix socket (?socket=), and says when no server made it', async () => {
      const socket = lockedRedis.socket as string
      const run = await cli(['check', `redis://:redis-Secret-7@localhost/2?socket=${socket}`])
      assert.equal(run.code, 0, run.stdout)
      assert.equal(
        run.stdout.replace(/in \d+\.\d ms/, 'in N ms'),
        `ok redis://:***@localhost/2?socket=${socket} PONG in N ms\n`,
      )
      const missing = await cli(['check', `redis://localhost?socket=${socket}.gone`])
      assert.equal(missing.code, 1)
      assert.equal(
        missing.stdout,
        `failed redis://localhost?socket=${socket}.gone: no socket at ${socket}.gone: is the server running, with its socket there? (ENOENT)\n`,
      )
      const relative = await cli(['check', 'redis://localhost?socket=redis.sock'])
      assert.equal(relative.code, 1)
      assert.match(relative.stdout, /write the socket's absolute path/)
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
        new RegExp(`^failed file://${dir}/stale\\.live: is stale: modified 18\\d s ago, more than 60 s$`),
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
      const [untrusted, trusted, insecure] = await Promise.all([
        cli(['check', `${tlsBase}/livez`]),
        cli(['check', '--ca', caFile, `${tlsBase}/livez`]),
        cli(['check', '--insecure', `${tlsBase}/livez`]),
      ])
      assert.equal(untrusted.code, 1)
      assert.match(untrusted.stdout, /^failed https:.*certificate/)
      assert.equal(trusted.code, 0, trusted.stdout)
      assert.equal(insecure.code, 0, insecure.stdout)
    })
  })
})
