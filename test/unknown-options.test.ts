/**
 * Every public function that takes an options object refuses a key it does not know, as
 * `createHealth` does: a TypeError at once, naming the call, the key and the closest known
 * key, instead of a setting that silently does nothing (`http(url, { expectedStatus: 204 })`
 * would pass on any 2xx or 3xx). A probe option's value must be of its kind (`insecure` a boolean).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { optionKeys } from '../src/core/options.js'
import { addHealthService, checkHealth } from '../src/grpc/index.js'
import { createHealth, gracefulShutdown } from '../src/index.js'
import {
  EtcdStore,
  loadManifests,
  MemoryStore,
  Monitor,
  openStore,
  openStoreAsync,
  parseManifest,
  readManifests,
  SqliteStore,
  startAlertmanager,
  startApi,
  startWebhooks,
  toInspect,
} from '../src/monitor/index.js'
import * as probes from '../src/probes/index.js'
import { brokerWorkerProbe } from '../src/worker/broker.js'
import {
  type BullmqWorkerLike,
  createLastWorkFile,
  createReadinessFile,
  createWorkerHealth,
  startHeartbeat,
  watchBullmqWorker,
} from '../src/worker/index.js'

/** The TypeError `call` throws (or its promise rejects with). */
async function typeError(call: () => unknown): Promise<TypeError> {
  try {
    await call()
  } catch (thrown) {
    assert.ok(thrown instanceof TypeError, String(thrown))
    return thrown
  }
  assert.fail('expected a TypeError')
}

/** A certificate's PEM as far as option checks read it (never parsed: no TLS is spoken here). */
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n'

/** Stands for any value in a call that must throw before it reads it. */
const anything = {} as never

interface Case {
  /** What the error names the call. */
  where: string
  typo: string
  meant: string
  call: (options: Record<string, unknown>) => unknown
}

/** Each call is given `{ [typo]: 1 }` as the options object it takes (or within it). */
const CASES: Case[] = [
  // probekit
  { where: 'createHealth', typo: 'cachTtl', meant: 'cacheTtl', call: (o) => createHealth(o) },
  {
    where: 'createHealth: service',
    typo: 'serviceID',
    meant: 'serviceId',
    call: (o) => createHealth({ logger: false, service: o }),
  },
  {
    where: 'createHealth: paths',
    typo: 'redy',
    meant: 'ready',
    call: (o) => createHealth({ logger: false, paths: o }),
  },
  {
    where: 'health.add("x", check, options)',
    typo: 'intervall',
    meant: 'interval',
    call: (o) => createHealth({ logger: false }).add('x', () => {}, o),
  },
  {
    where: 'gracefulShutdown',
    typo: 'drainTimeout',
    meant: 'drainTimeoutMs',
    call: (o) => gracefulShutdown(createHealth({ logger: false }), o),
  },
  {
    where: 'shutdown.onShutdown("pool", hook, options)',
    typo: 'timeout',
    meant: 'timeoutMs',
    call: (o) => {
      const shutdown = gracefulShutdown(createHealth({ logger: false }), { signals: [], exit: false })
      try {
        shutdown.onShutdown('pool', () => {}, o)
      } finally {
        shutdown.dispose()
      }
    },
  },
  // probekit/probes
  {
    where: 'http("http://x", options)',
    typo: 'expectedStatus',
    meant: 'expectStatus',
    call: (o) => probes.http('http://x', o),
  },
  {
    where: 'tcp("db:5432", options)',
    typo: 'conectTimeout',
    meant: 'connectTimeout',
    call: (o) => probes.tcp('db:5432', o),
  },
  {
    where: 'redis("redis://:***@cache:6379", options)',
    typo: 'conectTimeout',
    meant: 'connectTimeout',
    call: (o) => probes.redis('redis://:hunter2@cache:6379', o),
  },
  { where: 'redis(client, options)', typo: 'nmae', meant: 'name', call: (o) => probes.redis(anything, o) },
  {
    where: 'postgres("postgres://db/app", options)',
    typo: 'insecur',
    meant: 'insecure',
    call: (o) => probes.postgres('postgres://db/app', o),
  },
  {
    where: 'mysql("mysql://db/app", options)',
    typo: 'timout',
    meant: 'timeout',
    call: (o) => probes.mysql('mysql://db/app', o),
  },
  {
    where: 'sqlite("app.db", options)',
    typo: 'quickcheck',
    meant: 'quickCheck',
    call: (o) => probes.sqlite('app.db', o),
  },
  {
    where: 'memcached("mc:11211", options)',
    typo: 'group',
    meant: 'groups',
    call: (o) => probes.memcached('mc:11211', o),
  },
  { where: 'amqp("amqp://mq", options)', typo: 'queu', meant: 'queue', call: (o) => probes.amqp('amqp://mq', o) },
  {
    where: 'nats("nats://nats:4222", options)',
    typo: 'connectTimeoutMs',
    meant: 'connectTimeout',
    call: (o) => probes.nats('nats://nats:4222', o),
  },
  {
    where: 'mqtt("mqtt://broker", options)',
    typo: 'criticl',
    meant: 'critical',
    call: (o) => probes.mqtt('mqtt://broker', o),
  },
  {
    where: 'grpc("grpc://pay:50051", options)',
    typo: 'servce',
    meant: 'service',
    call: (o) => probes.grpc('grpc://pay:50051', o),
  },
  {
    where: 'dns("db.internal", options)',
    typo: 'expected',
    meant: 'expect',
    call: (o) => probes.dns('db.internal', o),
  },
  { where: 'disk("/", options)', typo: 'minfree', meant: 'minFree', call: (o) => probes.disk('/', o) },
  { where: 'memory(options)', typo: 'maxRSS', meant: 'maxRss', call: (o) => probes.memory(o) },
  {
    where: 'eventLoop(options)',
    typo: 'maxDelayMs',
    meant: 'maxDelay',
    call: (o) => probes.eventLoop({ maxDelay: 100, ...o }),
  },
  { where: 'file("/tmp/alive", options)', typo: 'maxage', meant: 'maxAge', call: (o) => probes.file('/tmp/alive', o) },
  {
    where: 'migrations(source, options)',
    typo: 'componentTyp',
    meant: 'componentType',
    call: (o) => probes.migrations(anything, o),
  },
  {
    where: "migrations({ tool: 'node-pg-migrate', … })",
    typo: 'tabel',
    meant: 'table',
    call: (o) => probes.migrations({ tool: 'node-pg-migrate', db: 'postgres://db/app', dir: 'migrations', ...o }),
  },
  {
    where: "migrations({ tool: 'prisma', … })",
    typo: 'schemas',
    meant: 'schema',
    call: (o) => probes.migrations({ tool: 'prisma', db: 'postgres://db/app', ...o }),
  },
  {
    where: "migrations({ tool: 'knex', … })",
    typo: 'konfig',
    meant: 'config',
    call: (o) => probes.migrations({ tool: 'knex', knex: anything, ...o }),
  },
  // probekit/grpc
  {
    where: 'addHealthService',
    typo: 'maxWatchStream',
    meant: 'maxWatchStreams',
    call: (o) => addHealthService({ addService: () => {} }, createHealth({ logger: false }), o),
  },
  {
    where: 'checkHealth',
    typo: 'timeoutMS',
    meant: 'timeoutMs',
    call: (o) => checkHealth({ host: '127.0.0.1', port: 1 }, '', { signal: AbortSignal.abort(), ...o }),
  },
  // probekit/worker
  {
    where: 'createWorkerHealth',
    typo: 'livenesFile',
    meant: 'livenessFile',
    call: (o) => createWorkerHealth({ logger: false, ...o }),
  },
  { where: 'watchBullmqWorker', typo: 'nam', meant: 'name', call: (o) => watchBullmqWorker({} as BullmqWorkerLike, o) },
  { where: 'startHeartbeat', typo: 'interval', meant: 'intervalMs', call: (o) => startHeartbeat(o) },
  { where: 'createReadinessFile', typo: 'signal', meant: 'signals', call: (o) => createReadinessFile(o) },
  {
    where: 'createLastWorkFile',
    typo: 'loger',
    meant: 'logger',
    call: (o) => createLastWorkFile({ file: '/tmp/probekit-never-written', ...o }),
  },
  {
    where: 'brokerWorkerProbe',
    typo: 'queues',
    meant: 'queue',
    call: (o) => brokerWorkerProbe({ url: 'redis://r:6379', workerName: 'w', timeoutMs: 1000, ...o }),
  },
  // probekit/monitor
  {
    where: 'new Monitor',
    typo: 'concurency',
    meant: 'concurrency',
    call: (o) => new Monitor({ store: anything, ...o }),
  },
  {
    where: 'startApi',
    typo: 'maxWatcher',
    meant: 'maxWatchers',
    call: (o) => startApi(anything, { host: '127.0.0.1', port: 0, ...o }),
  },
  {
    where: 'startApi: auth',
    typo: 'publicReads',
    meant: 'publicRead',
    call: (o) => startApi(anything, { host: '127.0.0.1', port: 0, auth: o }),
  },
  {
    where: 'startAlertmanager',
    typo: 'alertName',
    meant: 'alertname',
    call: (o) => startAlertmanager(anything, { urls: [], ...o }),
  },
  {
    where: 'startWebhooks',
    typo: 'retrys',
    meant: 'retries',
    call: (o) => startWebhooks(anything, { urls: [], ...o }),
  },
  { where: 'openStore', typo: 'readOnly', meant: 'readonly', call: (o) => openStore('memory', o) },
  {
    where: 'openStore: retention',
    typo: 'minuteMs',
    meant: 'minutesMs',
    call: (o) => openStore('memory', { retention: o }),
  },
  {
    where: 'openStore: etcd',
    typo: 'replicaID',
    meant: 'replicaId',
    call: (o) => openStore('memory', { etcd: o }),
  },
  { where: 'openStoreAsync', typo: 'sqliteDrive', meant: 'sqliteDriver', call: (o) => openStoreAsync('memory', o) },
  {
    where: 'EtcdStore.open',
    typo: 'leaseTtlSecs',
    meant: 'leaseTtlSeconds',
    call: (o) => EtcdStore.open({ endpoints: ['http://127.0.0.1:1'], prefix: '/p', ...o }),
  },
  {
    where: 'EtcdStore.open: retention',
    typo: 'hourMs',
    meant: 'hoursMs',
    call: (o) => EtcdStore.open({ endpoints: ['http://127.0.0.1:1'], prefix: '/p', retention: o }),
  },
  { where: 'new MemoryStore(retention)', typo: 'maxSilence', meant: 'maxSilences', call: (o) => new MemoryStore(o) },
  {
    where: 'new SqliteStore',
    typo: 'drivr',
    meant: 'driver',
    call: (o) => new SqliteStore('/nonexistent/probekit.sqlite', o),
  },
  {
    where: 'new SqliteStore: retention',
    typo: 'transitionsPerChecks',
    meant: 'transitionsPerCheck',
    call: (o) => new SqliteStore('/nonexistent/probekit.sqlite', { retention: o }),
  },
  {
    where: 'readManifests(paths, defaults)',
    typo: 'nod',
    meant: 'node',
    call: (o) => readManifests(['/nonexistent'], o),
  },
  {
    where: 'readManifests(paths, defaults, options)',
    typo: 'signl',
    meant: 'signal',
    call: (o) => readManifests(['/nonexistent'], {}, o),
  },
  { where: 'loadManifests(paths, defaults)', typo: 'cafile', meant: 'caFile', call: (o) => loadManifests([], o) },
  {
    where: 'parseManifest(text, file, defaults)',
    typo: 'caFiles',
    meant: 'caFile',
    call: (o) => parseManifest('', 'pod.yaml', o),
  },
  { where: 'toInspect(states, filter)', typo: 'pods', meant: 'pod', call: (o) => toInspect([], o) },
]

describe('an unknown option key', () => {
  for (const { where, typo, meant, call } of CASES) {
    it(`${where} refuses "${typo}" and suggests "${meant}"`, async () => {
      const error = await typeError(() => call({ [typo]: 1 }))
      const prefix = `${where}: unknown option ${JSON.stringify(typo)}; did you mean ${JSON.stringify(meant)}?; the options are `
      assert.ok(error.message.startsWith(prefix), `${error.message}\nexpected it to start with\n${prefix}`)
      const listed = error.message.slice(prefix.length).split(', ')
      assert.ok(listed.includes(meant), error.message)
    })
  }

  it('leaves a test-only option out of startApi’s list, and still takes it', async () => {
    const error = await typeError(() => startApi(anything, { host: '127.0.0.1', port: 0, writeDeadline: 1 } as never))
    assert.equal(
      error.message,
      'startApi: unknown option "writeDeadline"; the options are host, port, logger, maxWaitMs, pushRatePerSecond, maxWatchers, maxStreams, maxConnections, auth',
    )
  })

  it('lists the ProbeOptions keys among a probe’s options', async () => {
    const error = await typeError(() => probes.tcp('db:5432', { nmae: 'db' } as never))
    assert.equal(
      error.message,
      'tcp("db:5432", options): unknown option "nmae"; did you mean "name"?; the options are name, groups, critical, timeout, cacheTtl, interval, componentType, connectTimeout',
    )
  })

  it('refuses a non-boolean critical in every probe, as health.add does', async () => {
    const notBoolean = { critical: 'no' } as never
    const calls: [string, () => unknown][] = [
      ['http("http://x", options)', () => probes.http('http://x', notBoolean)],
      ['tcp("db:5432", options)', () => probes.tcp('db:5432', notBoolean)],
      ['redis("redis://cache:6379", options)', () => probes.redis('redis://cache:6379', notBoolean)],
      ['postgres("postgres://db/app", options)', () => probes.postgres('postgres://db/app', notBoolean)],
      ['mysql("mysql://db/app", options)', () => probes.mysql('mysql://db/app', notBoolean)],
      ['sqlite("app.db", options)', () => probes.sqlite('app.db', notBoolean)],
      ['memcached("mc:11211", options)', () => probes.memcached('mc:11211', notBoolean)],
      ['amqp("amqp://mq", options)', () => probes.amqp('amqp://mq', notBoolean)],
      ['nats("nats://nats:4222", options)', () => probes.nats('nats://nats:4222', notBoolean)],
      ['mqtt("mqtt://broker", options)', () => probes.mqtt('mqtt://broker', notBoolean)],
      ['grpc("grpc://pay:50051", options)', () => probes.grpc('grpc://pay:50051', notBoolean)],
      ['dns("db.internal", options)', () => probes.dns('db.internal', notBoolean)],
      ['disk("/", options)', () => probes.disk('/', notBoolean)],
      ['memory(options)', () => probes.memory(notBoolean)],
      ['eventLoop(options)', () => probes.eventLoop({ maxDelay: 100, ...(notBoolean as object) })],
      ['file("/tmp/alive", options)', () => probes.file('/tmp/alive', notBoolean)],
      ['migrations(source, options)', () => probes.migrations(anything, notBoolean)],
    ]
    for (const [where, call] of calls) {
      assert.equal((await typeError(call)).message, `${where}: critical must be true or false, got 'no'`)
    }
  })

  it('refuses a value of the wrong kind, naming the option and what it takes: insecure: "false" does not turn certificate checks off', async () => {
    const cases: [() => unknown, string][] = [
      [
        () => probes.grpc('grpcs://pay:50051', { insecure: 'false' } as never),
        `grpc("grpcs://pay:50051", options): insecure must be true or false, got 'false'`,
      ],
      [
        () => probes.postgres('postgres://db/app', { insecure: 1 } as never),
        'postgres("postgres://db/app", options): insecure must be true or false, got 1',
      ],
      [
        () => probes.redis('rediss://cache:6379', { insecure: 'no' } as never),
        `redis("rediss://cache:6379", options): insecure must be true or false, got 'no'`,
      ],
      [
        () => probes.http('http://x', { followRedirects: true } as never),
        'http("http://x", options): followRedirects must be a whole number of redirects (0 for none), got true',
      ],
      [
        () => probes.http('http://x', { maxBodyBytes: '1mb' } as never),
        `http("http://x", options): maxBodyBytes must be a whole number of bytes above 0, got '1mb'`,
      ],
      [
        () => probes.http('http://x', { method: 5 } as never),
        "http(\"http://x\", options): method must be 'GET' or 'HEAD', got 5",
      ],
      [
        () => probes.http('http://x', { expectBody: 200 } as never),
        'http("http://x", options): expectBody must be a string or a RegExp, got 200',
      ],
      [
        () => probes.http('http://x', { ca: 5 } as never),
        'http("http://x", options): ca must be PEM text, a Buffer or an array of them, got 5',
      ],
      [
        // The file's path where its content belongs: every check would have failed with
        // "certificate not trusted", Node's CA list replaced by nothing.
        () => probes.nats('tls://nats:4222', { ca: '/etc/ssl/private-ca.pem' }),
        `nats("tls://nats:4222", options): ca must be PEM text, not a file's path: pass its content, readFileSync("/etc/ssl/private-ca.pem")`,
      ],
      [
        () => probes.amqp('amqps://mq', { ca: [PEM, 'ca.crt'] }),
        `amqp("amqps://mq", options): ca[1] must be PEM text, not a file's path: pass its content, readFileSync("ca.crt")`,
      ],
      [
        () => probes.mqtt('mqtts://broker', { ca: Buffer.from([0x30, 0x82, 0x01, 0x0a]) }),
        'mqtt("mqtts://broker", options): ca is DER (binary), not PEM; convert it with "openssl x509 -inform der -in FILE -out ca.pem"',
      ],
      [
        // Not echoed: text that is no certificate may be a key given by mistake.
        () =>
          probes.redis('rediss://cache:6380', {
            ca: '-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----\n',
          }),
        'redis("rediss://cache:6380", options): ca holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)',
      ],
      [
        () => probes.http('http://x', { groups: 'ready' } as never),
        "http(\"http://x\", options): groups must be an array of groups, e.g. ['ready'], got 'ready'",
      ],
      [
        () => probes.tcp('db:5432', { name: 42 } as never),
        'tcp("db:5432", options): name must be a non-empty string, got 42',
      ],
      [
        () => probes.amqp('amqp://mq', { queue: ['jobs'] } as never),
        'amqp("amqp://mq", options): queue must be a queue name, got an array',
      ],
      [
        // queue: process.env.QUEUE ?? '' failed every check with 'queue "" does not exist'.
        () => probes.amqp('amqp://mq', { queue: '' }),
        `amqp("amqp://mq", options): queue must be a queue name, got ''`,
      ],
      [
        () => probes.grpc('grpc://pay:50051', { service: 1 } as never),
        'grpc("grpc://pay:50051", options): service must be a service name (\'\' for the whole server), got 1',
      ],
      [
        () => probes.file('/tmp/alive', { regularFile: 'yes' } as never),
        `file("/tmp/alive", options): regularFile must be true or false, got 'yes'`,
      ],
      [
        () => probes.sqlite('app.db', { quickCheck: 1 } as never),
        'sqlite("app.db", options): quickCheck must be true or false, got 1',
      ],
      [
        () => probes.dns('db.internal', { type: 'AAAAA' } as never),
        "dns(\"db.internal\", options): type must be 'A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SRV', 'TXT', 'CAA', 'NAPTR' or 'SOA', got 'AAAAA'",
      ],
      [
        () => probes.dns('db.internal', { servers: '10.0.0.2' } as never),
        "dns(\"db.internal\", options): servers must be an array of DNS servers, e.g. ['10.0.0.2'], got '10.0.0.2'",
      ],
      [
        () => probes.dns('db.internal', { family: '4' } as never),
        `dns("db.internal", options): family must be 4 or 6, got '4'`,
      ],
      [
        () => probes.dns('db.internal', { expect: 5 } as never),
        'dns("db.internal", options): expect must be a string or an array of strings, got 5',
      ],
    ]
    for (const [call, message] of cases) assert.equal((await typeError(call)).message, message)
  })

  it('does not echo a string given where headers belong: a header line may hold a credential', async () => {
    const error = await typeError(() => probes.http('http://x', { headers: 'authorization: Bearer s3cret' } as never))
    assert.equal(
      error.message,
      'http("http://x", options): headers must be an object of header names and values, e.g. { accept: \'application/json\' }, got a string',
    )
    const unset = await typeError(() =>
      probes.http('http://x', { headers: { authorization: process.env.PROBEKIT_NO_SUCH_VARIABLE } } as never),
    )
    assert.equal(
      unset.message,
      'http http://x/: header "authorization" must be a string, got undefined (an environment variable that is not set?)',
    )
  })

  it('still takes every kind a probe documents', () => {
    probes.http('http://x', {
      method: 'GET',
      followRedirects: 0,
      maxBodyBytes: 1024,
      expectBody: /ok/,
      headers: { a: 'b' },
      ca: [Buffer.from(PEM), PEM],
      insecure: false,
      groups: ['ready'],
      name: 'api',
    })
    probes.grpc('grpc://pay:50051', { service: '' })
    probes.http('http://x', { method: 'HEAD' })
    probes.dns('db.internal', { type: 'SRV', servers: ['10.0.0.2'], expect: ['a', 'b'] })
    probes.dns('db.internal', { family: 6, expect: '10.0.0.5' })
  })

  it('names an options argument that is not an object', async () => {
    assert.equal(
      (await typeError(() => probes.http('http://x', 'GET' as never))).message,
      'http("http://x", options): options must be an object such as { name: … }, got \'GET\'',
    )
  })

  it('covers every probe factory the probes entry exports', () => {
    const factories = Object.entries(probes).filter(([, value]) => typeof value === 'function')
    const covered = new Set(CASES.map((c) => /^(\w+)\(/.exec(c.where)?.[1]))
    for (const [name] of factories) assert.ok(covered.has(name), `no case for ${name}`)
  })
})

describe('signals, files and hosts of the wrong kind', () => {
  it('refuses signals given as one string, a misspelt signal, or one no handler can catch: the app would never be told', async () => {
    const health = createHealth({ logger: false })
    const cases: [unknown, string][] = [
      ['SIGTERM', "signals must be an array of signal names, e.g. ['SIGTERM', 'SIGINT'] ([] for none), got 'SIGTERM'"],
      [['SIGTREM'], 'signals: "SIGTREM" is not a signal name; did you mean "SIGTERM"?'],
      [[15], 'signals: 15 is not a signal name'],
      [['SIGKILL'], 'signals: SIGKILL cannot be caught; leave it out'],
    ]
    const listeners = process.listenerCount('SIGTERM')
    for (const [signals, message] of cases) {
      const shutdown = await typeError(() => gracefulShutdown(health, { signals, exit: false } as never))
      assert.equal(shutdown.message, `gracefulShutdown: ${message}`)
      const readiness = await typeError(() => createReadinessFile({ file: '/nonexistent/r', signals } as never))
      assert.equal(readiness.message, `createReadinessFile: ${message}`)
    }
    assert.equal(process.listenerCount('SIGTERM'), listeners, 'nothing was registered')
    await health.close()
  })

  it('refuses a file or host that is not a non-empty string', async () => {
    assert.equal(
      (await typeError(() => startHeartbeat({ file: 5 } as never))).message,
      "startHeartbeat: file must be a file path, e.g. '/tmp/worker.live', got 5",
    )
    assert.equal(
      (await typeError(() => createReadinessFile({ file: '' }))).message,
      "createReadinessFile: file must be a file path, e.g. '/tmp/worker.ready', got ''",
    )
    const health = createHealth({ logger: false })
    assert.equal(
      (await typeError(() => health.listen({ host: 5 } as never))).message,
      "health.listen: host must be an address or host name, e.g. '0.0.0.0' or '::', got 5",
    )
    await health.close()
  })
})

describe('optionKeys', () => {
  interface Options {
    name?: string
    timeout?: number
  }

  it('lists the keys in the order given', () => {
    assert.deepEqual(optionKeys<Options>()({ name: true, timeout: true }), ['name', 'timeout'])
  })

  it('is checked by the compiler both ways', () => {
    const extra = { colour: true }
    // @ts-expect-error: a key of the options left out fails to compile
    optionKeys<Options>()({ name: true })
    // @ts-expect-error: a key the options lack fails to compile
    optionKeys<Options>()({ name: true, timeout: true, colour: true })
    // @ts-expect-error: so does one brought in by a spread
    optionKeys<Options>()({ name: true, timeout: true, ...extra })
  })
})
