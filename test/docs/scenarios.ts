/**
 * Named scenarios for doc blocks that need more than the generic runs: a block marked
 * `<!-- doctest: NAME -->` is run by `scenarios[NAME]`, which gets every block so marked,
 * in document order.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import * as grpcJs from '@grpc/grpc-js'
import { addHealthService } from '../../src/grpc/server.js'
import { createHealth } from '../../src/health.js'
import { openSqliteDatabase } from '../../src/monitor/store/sqlite-driver.js'
import { blackholeServer } from '../support/faults.js'
import { freePort, makeTempDir, refusedPort, waitFor } from '../support/server-process.js'
import { startMariaDb } from '../support/servers/mariadb.js'
import { startMemcached } from '../support/servers/memcached.js'
import { startMosquitto } from '../support/servers/mosquitto.js'
import { startNats } from '../support/servers/nats.js'
import { startPostgres } from '../support/servers/postgres.js'
import { startRabbit } from '../support/servers/rabbitmq.js'
import { startRedis } from '../support/servers/redis.js'
import { makeTestCertificates } from '../support/tls.js'
import { type DocBlock, ROOT, where } from './blocks.js'
import { checkConsole, docProject, get, startExample, waitListening } from './run-block.js'

export type Scenario = (blocks: DocBlock[]) => Promise<void>

function pick(blocks: DocBlock[], lang: string): DocBlock {
  const block = blocks.find((b) => b.lang === lang)
  assert.ok(block, `the scenario needs a ${lang} block`)
  return block
}

/**
 * README's Quick start, as written: against real PostgreSQL and Redis and a stand-in search
 * server. The process survives a PostgreSQL restart (57P01 on every pooled connection) and
 * /readyz recovers; with Redis down, the console block's output is what curl really prints.
 */
const quickstart: Scenario = async (blocks) => {
  const program = pick(blocks, 'ts')
  const session = pick(blocks, 'console')
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()])
  const search = createServer((_req, res) => res.end('{"status":"green"}'))
  await new Promise<void>((r) => search.listen(0, '127.0.0.1', r))
  const ports = { 9000: await freePort(), 8080: await freePort() }
  const example = startExample(program, {
    ports,
    env: {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      SEARCH_URL: `http://127.0.0.1:${(search.address() as AddressInfo).port}`,
    },
  })
  const readyz = (port = ports[9000]) => get(`http://127.0.0.1:${port}/readyz?verbose`)
  try {
    await waitListening(example, Object.values(ports), program)
    assert.deepEqual(await get(`http://127.0.0.1:${ports[8080]}/`), { status: 200, body: 'hello\n' })
    for (const port of Object.values(ports)) {
      const ready = await readyz(port)
      assert.equal(ready.status, 200, ready.body)
      assert.match(ready.body, /\[\+\]postgres ok\n\[\+\]redis ok\n\[\+\]search ok\n/)
    }

    // PostgreSQL goes away (fast shutdown: every connection gets 57P01) and comes back.
    await pg.process.stop()
    await waitFor('readiness to fail while PostgreSQL is down', async () => {
      const r = await readyz()
      return r.status === 503 && /\[-\]postgres failed: /.test(r.body)
    })
    await pg.process.start()
    await waitFor('readiness to recover after the restart', async () => (await readyz()).status === 200)
    assert.equal(example.child.exitCode, null, `the process died:\n${example.output()}`)
    assert.match(example.stderr(), /postgres pool: terminating connection due to administrator command/)

    // Redis down: the console block, as curl prints it.
    await redis.process.kill()
    await waitFor('the redis check to warn', async () => /\[!\]redis warn/.test((await readyz()).body))
    await checkConsole(session, {
      rewrite: (command) => command.replace('localhost:9000', `localhost:${ports[9000]}`),
      unrewrite: (output) => output.replaceAll(`127.0.0.1:${redis.port}`, 'cache:6379'),
    })
    assert.equal(example.child.exitCode, null, `the process died:\n${example.output()}`)
  } finally {
    await example.stop()
    search.close()
    await Promise.all([pg.stop(), redis.stop()])
  }
  assert.doesNotMatch(example.output(), /Unhandled|TypeError|ReferenceError/, where(program))
}

/** Replaces each key by its value, in commands; the reverse in output. */
function substitutions(pairs: [doc: string, real: string][], only?: DocBlock) {
  if (only) pairs = pairs.filter(([doc]) => only.code.includes(doc))
  return {
    rewrite: (text: string) => pairs.reduce((t, [doc, real]) => t.replaceAll(doc, real), text),
    unrewrite: (text: string) => pairs.reduce((t, [doc, real]) => t.replaceAll(real, doc), text),
  }
}

/**
 * `probekit check` with one target of each outcome: an app's /readyz (a real listener), a
 * real Redis, and a PostgreSQL that accepts the connection and never answers (a blackhole),
 * standing in for the hosts the examples name.
 */
const checkTargets: Scenario = async (blocks) => {
  const redis = await startRedis()
  const blackhole = await blackholeServer()
  const app = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
  const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`
  try {
    for (const block of blocks) {
      await checkConsole(
        block,
        substitutions(
          [
            ['127.0.0.1:8080', appAddress],
            ['redis://cache:6379', `redis://127.0.0.1:${redis.port}`],
            ['redis://127.0.0.1:6379', `redis://127.0.0.1:${redis.port}`],
            ['@db:5432/', `@${blackhole.address}/`],
            ['@db/', `@${blackhole.address}/`],
          ],
          block,
        ),
      )
    }
  } finally {
    app.close()
    await Promise.all([redis.stop(), blackhole.close()])
  }
}

/** A project directory with the block's module at dist/health.js (its imports resolve to probekit). */
function projectWith(module: DocBlock): string {
  const dir = makeTempDir('doctest-app')
  mkdirSync(join(dir, 'dist'))
  writeFileSync(join(dir, 'dist/health.js'), module.code)
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  symlinkSync(join(docProject(), 'node_modules'), join(dir, 'node_modules'))
  return dir
}

/**
 * `probekit probe --ready` with the health module the page shows: a real PostgreSQL for the
 * database, and nothing listening where the cache should be.
 */
const probeConfig: Scenario = async (blocks) => {
  const module = pick(blocks, 'js')
  const pg = await startPostgres()
  const closed = await refusedPort()
  const dir = projectWith(module)
  try {
    for (const block of blocks.filter((b) => b.lang === 'console')) {
      await checkConsole(block, {
        cwd: dir,
        env: { DATABASE_URL: pg.url, REDIS_URL: `redis://127.0.0.1:${closed}` },
        ...substitutions([['cache:6379', `127.0.0.1:${closed}`]]),
      })
    }
  } finally {
    await pg.stop()
  }
}

/** `probekit gen` with the health module the page shows (it only reads its deadlines). */
const genConfig: Scenario = async (blocks) => {
  const module = pick(blocks, 'js')
  const dir = projectWith(module)
  for (const block of blocks.filter((b) => b.lang === 'console')) {
    await checkConsole(block, {
      cwd: dir,
      env: { DATABASE_URL: 'postgres://app@127.0.0.1:1/app' },
      ...substitutions([['/app/dist/health.js', join(dir, 'dist/health.js')]]),
    })
  }
}

/**
 * The monitor from code: each program runs to its end in a directory with pods/ (the pod
 * carsales.com, checked over HTTP, and the pod shop with a push check), and exits 0.
 */
const monitorCode: Scenario = async (blocks) => {
  const target = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
  const port = (target.address() as AddressInfo).port
  try {
    for (const block of blocks) {
      const dir = makeTempDir('doctest-monitor')
      mkdirSync(join(dir, 'pods'))
      writeFileSync(
        join(dir, 'pods/carsales.yaml'),
        `id: carsales.com\nstatus_http: true\nstatus:\n  port: ${port}\n  host: 127.0.0.1\n  path: /_status\n`,
      )
      writeFileSync(
        join(dir, 'pods/shop.yaml'),
        'id: shop\nchecks:\n  - name: nightly-backup\n    type: push\n    period: 1d\n    grace: 2h\n',
      )
      const example = startExample(block, { cwd: dir, ports: { 8008: await freePort() } })
      const code = await Promise.race([
        example.exited,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 40_000).unref()),
      ])
      await example.stop()
      assert.equal(code, 0, `${where(block)} did not run to its end:\n${example.output()}`)
      assert.equal(example.stderr(), '', `${where(block)} wrote to stderr`)
    }
  } finally {
    target.close()
  }
}

/** Manifests with the mistakes the page shows, in /etc/probekit (a temp dir standing in for it). */
const badManifests: Scenario = async (blocks) => {
  const dir = makeTempDir('doctest-manifests')
  mkdirSync(join(dir, 'pods'))
  writeFileSync(
    join(dir, 'pods/shop.yaml'),
    [
      "# The shop's pod: its status port and two checks of its own.",
      'id: shop',
      'status_port: 8001',
      'status_http: true',
      'status:',
      '  path: /readyz',
      'checks:',
      '  - name: cache',
      '    url: redis://127.0.0.1:6379',
      '    interval: 10s',
      '  - name: mail',
      '    # probekit has no smtp check',
      '    url: smtp://127.0.0.1:25',
      '    type: smtp',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'billing.yaml'),
    'id: billing\nstatus_http: true\n# its status endpoint\nstatus_port: eighty\n',
  )
  writeFileSync(
    join(dir, 'orders.yaml'),
    [
      'id: orders',
      'checks:',
      '  - name: web',
      '    url: http://127.0.0.1:8080/readyz',
      '  - name: cache',
      '    url: redis://127.0.0.1:6379',
      '  - name: db-port',
      '    # a port out of range',
      '    url: tcp://db.internal:70000',
      '',
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'catalog.yaml'),
    [
      'id: catalog',
      'checks:',
      '  # probekit has no MongoDB checker',
      '  - name: mongo',
      '    interval: 10s',
      '    timeout: 2s',
      '    url: mongodb://db.internal:27017',
      '',
    ].join('\n'),
  )
  for (const block of blocks) await checkConsole(block, { cwd: dir, ...substitutions([['/etc/probekit', dir]]) })
}

/**
 * docs/probes.md: the block at the top (the imports and `health`) followed by each example,
 * against real servers standing in for the hosts the examples name; each example's probes
 * must all pass (`health.run('startup')`), a failure printed with its reason.
 */
const probesPage: Scenario = async (blocks) => {
  const [top, ...examples] = blocks
  assert.ok(top && examples.length > 0)
  const certs = makeTestCertificates()
  const servers = await Promise.all([
    startPostgres(),
    startMariaDb(),
    startRedis(),
    startRedis({
      password: 'password',
      tls: { cert: certFile(certs, 'cert'), key: certFile(certs, 'key'), ca: certs.caFile },
    }),
    startMemcached({ count: 2 }),
    startRabbit(),
    startNats(),
    startMosquitto({ user: 'app', password: 'mqtt-pw-5512' }),
  ] as const)
  const [pg, maria, redis, tlsRedis, memcached, rabbit, nats, mosquitto] = servers
  const search = createHttpsServer({ key: certs.key, cert: certs.cert }, (_req, res) => res.end('{"status":"green"}'))
  await new Promise<void>((r) => search.listen(0, '127.0.0.1', r))
  try {
    // The queue the amqp example checks, as the app would have declared it.
    const amqplib = (await import('amqplib')).default
    const connection = await amqplib.connect(rabbit.url)
    await (await connection.createChannel()).assertQueue('jobs')
    await connection.close()

    const dir = makeTempDir('doctest-probes')
    mkdirSync(join(dir, 'data'))
    // The app's SQLite database, made with whichever driver this Node loads.
    const appDb = openSqliteDatabase(join(dir, 'data/app.db'))
    appDb.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY)')
    appDb.close()
    const { rewrite } = substitutions([
      ['rediss://:password@cache.internal:6380', `rediss://:password@127.0.0.1:${tlsRedis.port}`],
      ['/etc/ssl/cache-ca.pem', certs.caFile],
      ['cache-1:11211,cache-2:11211', memcached.serversString],
      ['nats://nats:4222', nats.url],
      ['mqtt://broker:1883', `mqtt://127.0.0.1:${mosquitto.port}`],
      ['https://search.internal/health', `https://127.0.0.1:${(search.address() as AddressInfo).port}/health`],
      ['/etc/ssl/private-ca.pem', certs.caFile],
    ])
    const env = {
      DATABASE_URL: pg.url,
      REPORTING_DATABASE_URL: pg.url,
      MYSQL_URL: maria.url,
      REDIS_URL: redis.url,
      AMQP_URL: rabbit.url,
      MQTT_PASSWORD: 'mqtt-pw-5512',
    }
    // Clients the example has just created may still be connecting: readiness at start-up
    // may take a moment, so the probes get a few seconds to pass.
    const run = `
let report = await health.run('startup')
for (let i = 0; i < 50 && report.status !== 'pass'; i++) {
  await new Promise((r) => setTimeout(r, 100))
  report = await health.run('startup')
}
const names = report.checks.map((c) => c.name)
if (report.status !== 'pass' || names.length < 2) {
  console.error(JSON.stringify(report.checks.filter((c) => c.status !== 'pass' || c.name === 'lifecycle').map((c) => [c.name, c.status, c.output])))
  process.exit(1)
}
process.exit(0)
`
    for (const example of examples) {
      const code = `${top.code}\n${rewrite(example.code)}\n${run}`
      const running = startExample(example, { cwd: dir, env, code })
      const exit = await Promise.race([
        running.exited,
        new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000).unref()),
      ])
      await running.stop()
      assert.equal(exit, 0, `${where(example)}: its probes did not all pass:\n${running.output()}`)
      // Only the health's own log of a check that passed late may be on stderr.
      const other = running
        .stderr()
        .split('\n')
        .filter((line) => line !== '' && !/^health (check|group) /.test(line))
      assert.deepEqual(other, [], `${where(example)} wrote to stderr`)
    }
  } finally {
    search.close()
    await Promise.all(servers.map((server) => server.stop()))
  }
}

function certFile(certs: ReturnType<typeof makeTestCertificates>, which: 'cert' | 'key'): string {
  const file = join(certs.dir, `doctest-${which}.pem`)
  writeFileSync(file, certs[which])
  return file
}

/** The manifests docs/monitor.md shows are ones the monitor accepts, with every check they list. */
const manifest: Scenario = async (blocks) => {
  const { parseManifest } = await import('../../src/monitor/manifest.js')
  for (const block of blocks) {
    const dir = makeTempDir('doctest-manifest')
    const file = join(dir, 'pod.yaml')
    writeFileSync(file, block.code)
    // tls files named relative to the manifest must exist for the manifest to load.
    for (const name of ['client.pem', 'client.key']) writeFileSync(join(dir, name), '')
    const pods = parseManifest(block.code, file, { node: 'web-1' })
    assert.equal(pods.length, 1, where(block))
    const listed = [...block.code.matchAll(/^ {2}- name: (\S+)/gm)].map((m) => m[1])
    const statusCheck = /^status_port:/m.test(block.code) ? ['health_check'] : []
    assert.deepEqual(
      pods[0]?.checks.map((c) => c.check).sort(),
      [...statusCheck, ...listed].sort(),
      `${where(block)}: the checks the monitor reads`,
    )
  }
}

/**
 * `probekit inspect` where `probekit monitor` has been running with its default store: a
 * p2 manifest for the pod isup on the node aws1.example.com, whose status port answers.
 */
const inspect: Scenario = async (blocks) => {
  const target = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
  const port = (target.address() as AddressInfo).port
  const dir = makeTempDir('doctest-inspect')
  mkdirSync(join(dir, 'pods'))
  writeFileSync(
    join(dir, 'pods/isup.yaml'),
    `id: isup\nnode: aws1.example.com\nstatus_http: true\nstatus_port: ${port}\nstatus:\n  host: 127.0.0.1\n`,
  )
  const monitor = spawn(process.execPath, [join(ROOT, 'bin/probekit.js'), 'monitor', '--listen', 'none', 'pods/'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  monitor.stdout?.on('data', (c: Buffer) => {
    log += c.toString()
  })
  try {
    await waitFor('the first check to be stored', () => /unknown → passing/.test(log), 30_000)
    for (const block of blocks) {
      await checkConsole(block, { cwd: dir, ...substitutions([['127.0.0.1:8040', `127.0.0.1:${port}`]]) })
    }
  } finally {
    const exited = new Promise((r) => monitor.once('exit', r))
    monitor.kill('SIGTERM')
    await exited
    target.close()
  }
}

/**
 * docs/grpc.md's session: 127.0.0.1:50051 is a grpc-js server with addHealthService over a
 * passing Health, 127.0.0.1:50052 a grpc-js server with no health service.
 */
const grpcSession: Scenario = async (blocks) => {
  const health = createHealth({ logger: false })
  health.add('db-port', () => {})
  const withHealth = new grpcJs.Server()
  addHealthService(withHealth, health)
  const without = new grpcJs.Server()
  const bind = (server: grpcJs.Server) =>
    new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    )
  const [served, bare] = await Promise.all([bind(withHealth), bind(without)])
  try {
    for (const block of blocks) {
      await checkConsole(block, {
        ...substitutions([
          ['127.0.0.1:50051', `127.0.0.1:${served}`],
          ['127.0.0.1:50052', `127.0.0.1:${bare}`],
        ]),
      })
    }
  } finally {
    withHealth.forceShutdown()
    without.forceShutdown()
    await health.close()
  }
}

export const scenarios: Record<string, Scenario> = {
  grpc: grpcSession,
  inspect,
  manifest,
  'probes-page': probesPage,
  'bad-manifests': badManifests,
  'monitor-code': monitorCode,
  quickstart,
  'check-targets': checkTargets,
  'probe-config': probeConfig,
  'gen-config': genConfig,
}
