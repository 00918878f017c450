/**
 * The etcd store against a real etcd as production runs it: TLS on the client port,
 * client certificates required, and RBAC on (a root user, and a `probekit` user whose role
 * may read and write /probekit/ only), set up with the real etcdctl. Tokens live 2 s here
 * (`--auth-token-ttl=2`), so every test also proves the store logs in again transparently.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Agent, request } from 'undici'
import type { Logger } from '../../src/core/logger.js'
import { EtcdStore, type EtcdStoreOptions } from '../../src/monitor/store/etcd.js'
import { openStoreAsync, StoreError } from '../../src/monitor/store/index.js'
import type { CheckState } from '../../src/monitor/types.js'
import { buildCli, cli, ROOT } from '../cli/run-cli.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { type EtcdServer, startEtcd } from '../support/servers/etcd.js'
import { state } from '../support/store-contract.js'
import { issueCertificate, makeTestCa, type TestCa } from '../support/test-ca.js'

const ROOT_PASSWORD = 'r00t-Pa55word'
const PASSWORD = 'pk-S3cret:with@signs'
const STRANGER_PASSWORD = 'str4nger-pw'
const READER_PASSWORD = 'r3ader-pw'

/** A directory with one manifest, for commands that fail before they check anything. */
function manifestDir(): string {
  const dir = makeTempDir('etcd-tls-usage')
  writeFileSync(join(dir, 'shop.yaml'), 'id: shop\nnode: n1\nchecks:\n  - name: web\n    url: http://127.0.0.1:1/\n')
  return dir
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const keep = (...args: unknown[]) =>
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '))
  return { lines, info: keep, warn: keep, error: keep }
}

describe('etcd store over TLS with client certificates and RBAC (real etcd)', () => {
  let ca: TestCa
  let client: { cert: string; key: string }
  /** TLS, client certificates required, RBAC on, tokens valid 2 s. */
  let secured: EtcdServer
  /** TLS and client certificates, no RBAC: the certificate alone lets a monitor in. */
  let certOnly: EtcdServer
  let passwordFile: string
  let strangerPasswordFile: string
  let readerPasswordFile: string
  const open: EtcdStore[] = []
  let prefixes = 0

  const tlsFiles = () => ({ caFile: ca.caCert, certFile: client.cert, keyFile: client.key })
  const root = (...args: string[]) => secured.etcdctl(`--user=root:${ROOT_PASSWORD}`, ...args)

  async function store(server: EtcdServer, options: Partial<EtcdStoreOptions> = {}): Promise<EtcdStore> {
    const s = await EtcdStore.open({
      endpoints: [server.clientUrl],
      prefix: `/probekit/t${++prefixes}`,
      leaseTtlSeconds: 15,
      requestTimeoutMs: 2000,
      logger: false,
      ...tlsFiles(),
      ...options,
    })
    open.push(s)
    return s
  }

  before(async () => {
    ca = makeTestCa()
    // etcd's JSON gateway dials etcd itself with the server certificate: it needs clientAuth too.
    const server = issueCertificate(ca, 'etcd-server', {
      subject: '/CN=localhost',
      san: 'DNS:localhost,IP:127.0.0.1',
      extendedKeyUsage: 'serverAuth,clientAuth',
    })
    // With auth on, etcd refuses gateway requests whose client certificate has a CN.
    client = issueCertificate(ca, 'etcd-client', { subject: '/O=probekit monitor', extendedKeyUsage: 'clientAuth' })
    const tls = {
      caFile: ca.caCert,
      certFile: server.cert,
      keyFile: server.key,
      clientCertAuth: true,
      clientCertFile: client.cert,
      clientKeyFile: client.key,
    }
    ;[secured, certOnly] = await Promise.all([
      startEtcd({ tls, args: ['--auth-token=simple', '--auth-token-ttl=2'] }),
      startEtcd({ tls }),
    ])
    const dir = makeTempDir('etcd-secrets')
    passwordFile = join(dir, 'password')
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
    strangerPasswordFile = join(dir, 'stranger')
    writeFileSync(strangerPasswordFile, STRANGER_PASSWORD, { mode: 0o600 })
    readerPasswordFile = join(dir, 'reader')
    writeFileSync(readerPasswordFile, READER_PASSWORD, { mode: 0o600 })
    // The etcdctl setup docs/etcd.md shows, over TLS (independent steps side by side: each is a process).
    const etcdctl = secured.etcdctl
    await Promise.all([
      etcdctl('user', 'add', 'root', `--new-user-password=${ROOT_PASSWORD}`).then(() => etcdctl('role', 'add', 'root')),
      etcdctl('role', 'add', 'probekit'),
      etcdctl('role', 'add', 'probekit-reader'),
      etcdctl('role', 'add', 'elsewhere'),
      etcdctl('user', 'add', 'probekit', `--new-user-password=${PASSWORD}`),
      etcdctl('user', 'add', 'reader', `--new-user-password=${READER_PASSWORD}`),
      etcdctl('user', 'add', 'stranger', `--new-user-password=${STRANGER_PASSWORD}`),
    ])
    await Promise.all([
      etcdctl('user', 'grant-role', 'root', 'root'),
      etcdctl('role', 'grant-permission', 'probekit', '--prefix=true', 'readwrite', '/probekit/'),
      etcdctl('user', 'grant-role', 'probekit', 'probekit'),
      etcdctl('role', 'grant-permission', 'probekit-reader', '--prefix=true', 'read', '/probekit/'),
      etcdctl('user', 'grant-role', 'reader', 'probekit-reader'),
      etcdctl('role', 'grant-permission', 'elsewhere', '--prefix=true', 'readwrite', '/elsewhere/'),
      etcdctl('user', 'grant-role', 'stranger', 'elsewhere'),
    ])
    await secured.etcdctl('auth', 'enable')
  })
  after(async () => {
    await Promise.all(open.map((s) => s.shutdown({ flushTimeoutMs: 0 })))
    await Promise.all([secured?.stop(), certOnly?.stop()])
  })

  /** What etcd holds under a key, read by root with etcdctl (not through probekit). */
  async function etcdValue(key: string): Promise<unknown> {
    const out = await root('get', key, '--print-value-only')
    return out.trim() ? JSON.parse(out) : undefined
  }

  it('with a client certificate (no RBAC), a store writes over TLS and another reads it', async () => {
    const writer = await store(certOnly, { replicaId: 'cert-only' })
    writer.saveStates([state('a', { output: 'over tls' })])
    const reader = await store(certOnly, { prefix: writer.prefix, readonly: true })
    await waitFor('the reader to see the state', () => reader.loadStates()[0]?.output === 'over tls', 5000)
    assert.equal(reader.published('n1/web/a')?.replica, 'cert-only')
    assert.match(writer.spec, /^etcd\+tls:\/\/127\.0\.0\.1:\d+\/probekit\/t\d+$/)
    // --etcd-user against an etcd with authentication off: nothing to log in to, and it still works.
    const withUser = await store(certOnly, { prefix: writer.prefix, readonly: true, user: 'probekit', passwordFile })
    assert.equal(withUser.loadStates()[0]?.output, 'over tls')
  })

  it('probekit monitor writes over TLS as user probekit, and probekit inspect reads with a read-only user', async () => {
    buildCli()
    const target = createServer((_req, res) => res.end('ok'))
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    const manifests = makeTempDir('etcd-tls-manifests')
    writeFileSync(
      join(manifests, 'shop.yaml'),
      `id: shop\nnode: n1\nchecks:\n  - name: web\n    url: http://127.0.0.1:${(target.address() as AddressInfo).port}/\n    interval: 500ms\n`,
    )
    const prefix = `/probekit/cli${++prefixes}`
    const flags = ['--etcd-ca', ca.caCert, '--etcd-cert', client.cert, '--etcd-key', client.key]
    const monitor = spawn(
      process.execPath,
      [
        `${ROOT}bin/probekit.js`,
        'monitor',
        '--store',
        secured.storeSpec(prefix),
        ...flags,
        '--etcd-user',
        'probekit',
        '--etcd-password-file',
        passwordFile,
        '--listen',
        'none',
        manifests,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    monitor.stdout.on('data', (c: Buffer) => (out += c))
    monitor.stderr.on('data', (c: Buffer) => (out += c))
    try {
      await waitFor(
        'the monitor to publish its state in etcd',
        async () =>
          ((await etcdValue(`${prefix}/state/n1/shop/web`)) as { state?: CheckState })?.state?.state === 'passing',
        20_000,
      )
      assert.match(out, /store etcd\+tls:\/\/127\.0\.0\.1:\d+\/probekit\/cli\d+ as replica/)
      const inspect = await cli([
        'inspect',
        '--store',
        secured.storeSpec(prefix),
        ...flags,
        '--etcd-user',
        'reader',
        '--etcd-password-file',
        readerPasswordFile,
      ])
      assert.equal(inspect.code, 0, inspect.stdout + inspect.stderr)
      assert.equal(JSON.parse(inspect.stdout).shop.n1.web.status, 'passing')
      // The same, with the user and password in the address (percent-encoded).
      const inUrl = await cli([
        'inspect',
        '--store',
        secured.storeSpec(prefix).replace('://', `://reader:${encodeURIComponent(READER_PASSWORD)}@`),
        ...flags,
      ])
      assert.equal(inUrl.code, 0, inUrl.stdout + inUrl.stderr)
      assert.equal(JSON.parse(inUrl.stdout).shop.n1.web.status, 'passing')
    } finally {
      monitor.kill('SIGTERM')
      await new Promise((r) => monitor.once('exit', r))
      target.close()
    }
    assert.doesNotMatch(out, new RegExp(PASSWORD.replace(/[$()*+.?[\\\]^{|}]/g, '\\$&')))
  })

  it('etcd://USER:PASSWORD@… logs in from the address; the password shows nowhere', async () => {
    const logger = recordingLogger()
    const spec = secured
      .storeSpec(`/probekit/url${++prefixes}`)
      .replace('://', `://probekit:${encodeURIComponent(PASSWORD)}@`)
    const s = (await openStoreAsync(spec, { etcd: { ...tlsFiles(), logger, replicaId: 'from-url' } })) as EtcdStore
    open.push(s)
    s.saveStates([state('u')])
    await waitFor('the write to land', async () => (await etcdValue(`${s.prefix}/state/n1/web/u`)) !== undefined, 5000)
    assert.doesNotMatch(s.spec, /pk-S3cret/)
    assert.doesNotMatch(logger.lines.join('\n'), /pk-S3cret/)
  })

  it('a wrong password ends in one sentence naming --etcd-user/--etcd-password-file, without the password', async () => {
    const wrong = 'not-the-Passw0rd'
    await assert.rejects(
      openStoreAsync(secured.storeSpec('/probekit/x').replace('://', `://probekit:${wrong}@`), {
        etcd: { ...tlsFiles(), logger: false },
      }),
      (error: Error) => {
        assert.ok(error instanceof StoreError, String(error))
        assert.match(
          error.message,
          /^etcd at https:\/\/127\.0\.0\.1:\d+ refused user probekit: authentication failed; check --etcd-user\/--etcd-password-file$/,
        )
        return true
      },
    )
    buildCli()
    const run = await cli([
      'monitor',
      '--store',
      secured.storeSpec('/probekit/x').replace('://', `://probekit:${wrong}@`),
      '--etcd-ca',
      ca.caCert,
      '--etcd-cert',
      client.cert,
      '--etcd-key',
      client.key,
      '--listen',
      'none',
      manifestDir(),
    ])
    assert.equal(run.code, 1)
    assert.match(run.stdout + run.stderr, /refused user probekit: authentication failed; check --etcd-user/)
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(wrong))
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /)
  })

  it('the --etcd-* flags are in both helps; used wrongly, each ends in one sentence before anything connects', async () => {
    buildCli()
    for (const command of ['monitor', 'inspect']) {
      const help = await cli([command, '--help'])
      for (const flag of [
        '--etcd-ca FILE',
        '--etcd-cert FILE',
        '--etcd-key FILE',
        '--etcd-user NAME',
        '--etcd-password-file FILE',
      ])
        assert.ok(help.stdout.includes(flag), `${command} --help lists ${flag}`)
    }
    const tlsSpec = secured.storeSpec('/probekit/usage')
    const cases: [string[], RegExp][] = [
      [['monitor', '--store', 'memory', '--etcd-ca', ca.caCert], /usage error: --etcd-ca is for an etcd store/],
      [['inspect', '--etcd-user', 'probekit'], /usage error: --etcd-user is for an etcd store/],
      [
        ['monitor', '--store', tlsSpec, '--etcd-ca', '/nonexistent/ca.pem'],
        /--etcd-ca \/nonexistent\/ca\.pem does not exist; give the PEM file of the CA/,
      ],
      [['monitor', '--store', tlsSpec, '--etcd-cert', client.cert], /--etcd-cert and --etcd-key go together/],
      [
        ['monitor', '--store', `etcd://127.0.0.1:${secured.clientPort}/probekit`, '--etcd-ca', ca.caCert],
        /--etcd-ca is for etcd over TLS; use --store etcd\+tls:\/\//,
      ],
      [
        ['monitor', '--store', tlsSpec, '--etcd-user', 'probekit'],
        /etcd user probekit needs a password; give it with --etcd-password-file FILE/,
      ],
      [
        ['inspect', '--store', tlsSpec, '--etcd-password-file', passwordFile],
        /an etcd password needs a user; give --etcd-user NAME/,
      ],
    ]
    for (const [args, expected] of cases) {
      const run = await cli(command(args))
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
      assert.match(run.stdout + run.stderr, expected)
      assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /)
    }
    function command(args: string[]): string[] {
      return args[0] === 'monitor' ? [...args, '--listen', 'none', manifestDir()] : args
    }
  })

  it('an untrusted server certificate ends in one sentence naming --etcd-ca', async () => {
    for (const caFile of [undefined, ca.untrustedCert]) {
      await assert.rejects(store(certOnly, { ...(caFile ? { caFile } : { caFile: undefined }) }), (error: Error) => {
        assert.ok(error instanceof StoreError, String(error))
        assert.match(
          error.message,
          /^etcd at https:\/\/127\.0\.0\.1:\d+ presented a certificate this monitor does not trust \(.+\); give the CA that signed it with --etcd-ca FILE$/,
        )
        return true
      })
    }
  })

  it('a missing or unknown client certificate ends in one sentence naming --etcd-cert/--etcd-key', async () => {
    await assert.rejects(store(certOnly, { certFile: undefined, keyFile: undefined }), (error: Error) => {
      assert.ok(error instanceof StoreError, String(error))
      assert.match(
        error.message,
        /^etcd at https:\/\/127\.0\.0\.1:\d+ requires a client certificate \(.+\); give one with --etcd-cert FILE --etcd-key FILE$/,
      )
      return true
    })
    await assert.rejects(
      store(certOnly, { certFile: ca.untrustedCert, keyFile: ca.untrustedKey }),
      /refused this monitor's client certificate \(.+\); give one signed by a CA in etcd's --trusted-ca-file with --etcd-cert FILE --etcd-key FILE$/,
    )
    // TLS files with a plain etcd:// address: a usage mistake, said before connecting.
    await assert.rejects(
      openStoreAsync(`etcd://127.0.0.1:${certOnly.clientPort}/probekit`, { etcd: { caFile: ca.caCert } }),
      /--etcd-ca is for etcd over TLS; use --store etcd\+tls:\/\//,
    )
    // A plain etcd:// address to a TLS port: told to use etcd+tls://.
    await assert.rejects(
      openStoreAsync(`etcd://127.0.0.1:${certOnly.clientPort}/probekit`, { etcd: { logger: false } }),
      /speaks TLS on that port; use --store etcd\+tls:\/\//,
    )
  })

  it('an etcd+tls:// address to a plain etcd ends in one sentence naming etcd:// (not "cannot reach etcd")', async () => {
    // etcd's plain client port resets a TLS hello: undici saw ECONNRESET only.
    const plain = await startEtcd()
    try {
      await assert.rejects(
        openStoreAsync(`etcd+tls://127.0.0.1:${plain.clientPort}/probekit`, { etcd: { logger: false } }),
        (error: Error) => {
          assert.ok(error instanceof StoreError, String(error))
          assert.match(
            error.message,
            /^etcd at https:\/\/127\.0\.0\.1:\d+ does not speak TLS on that port; use --store etcd:\/\/… for plain HTTP, or point at its TLS client port$/,
          )
          return true
        },
      )
    } finally {
      await plain.stop()
    }
  })

  it('a user whose role may not touch the prefix ends in one sentence naming the prefix; no user, in one naming --etcd-user', async () => {
    await assert.rejects(
      store(secured, { prefix: '/probekit/denied', user: 'stranger', passwordFile: strangerPasswordFile }),
      (error: Error) => {
        assert.ok(error instanceof StoreError, String(error))
        assert.equal(
          error.message,
          'etcd refused user stranger access to the prefix /probekit/denied/ (permission denied); grant its role readwrite on it: etcdctl role grant-permission ROLE --prefix=true readwrite /probekit/denied/',
        )
        assert.doesNotMatch(error.message, new RegExp(STRANGER_PASSWORD))
        return true
      },
    )
    // A read-only role may inspect but not monitor.
    await assert.rejects(
      store(secured, { prefix: '/probekit/ro', user: 'reader', passwordFile: readerPasswordFile }),
      /refused user reader access to the prefix \/probekit\/ro\//,
    )
    await assert.rejects(store(secured, { prefix: '/probekit/anon' }), (error: Error) => {
      assert.match(
        error.message,
        /^etcd at https:\/\/127\.0\.0\.1:\d+ (has authentication on|refused access to the prefix \/probekit\/anon\/ \(permission denied\): it has authentication on); give --etcd-user NAME and --etcd-password-file FILE/,
      )
      return true
    })
  })

  it('a running monitor whose role loses write access logs one sentence naming the prefix, keeps its results, and writes them once access is back', async () => {
    await root('role', 'add', 'demoted')
    await root('role', 'grant-permission', 'demoted', '--prefix=true', 'readwrite', '/probekit/')
    await root('user', 'add', 'demoted', `--new-user-password=${PASSWORD}`)
    await root('user', 'grant-role', 'demoted', 'demoted')
    const logger = recordingLogger()
    const writer = await store(secured, {
      replicaId: 'demoted',
      user: 'demoted',
      passwordFile,
      logger,
      requestTimeoutMs: 1000,
    })
    writer.saveStates([state('d', { output: 'allowed' })])
    const key = `${writer.prefix}/state/n1/web/d`
    await waitFor('the first write', async () => (await etcdValue(key)) !== undefined, 5000)
    // Read stays, write goes: reads succeed while every write is refused.
    await root('role', 'revoke-permission', 'demoted', '--prefix=true', '/probekit/')
    await root('role', 'grant-permission', 'demoted', '--prefix=true', 'read', '/probekit/')
    writer.saveStates([state('d', { output: 'refused', index: 2 })])
    await waitFor('the store to notice', () => writer.status().available === false, 5000)
    await sleep(4000)
    const refusals = logger.lines.filter((l) => l.includes('permission denied'))
    assert.equal(refusals.length, 1, logger.lines.join('\n'))
    assert.match(
      refusals[0] as string,
      /etcd refused user demoted access to the prefix \/probekit\/t\d+\/ \(permission denied\); grant its role readwrite on it/,
    )
    assert.doesNotMatch(logger.lines.join('\n'), /answers again/)
    assert.match(writer.status().lastError ?? '', /permission denied/)
    assert.equal(writer.loadStates()[0]?.output, 'refused', 'the result is kept in memory')
    await root('role', 'grant-permission', 'demoted', '--prefix=true', 'readwrite', '/probekit/')
    await waitFor(
      'the kept result to be written',
      async () => ((await etcdValue(key)) as { state?: CheckState })?.state?.output === 'refused',
      10_000,
    )
    assert.equal(logger.lines.filter((l) => l.includes('permission denied')).length, 1, logger.lines.join('\n'))
  })

  it('a write held back while etcd refused it is dropped once another replica publishes that check: it never overwrites theirs', async () => {
    await root('role', 'add', 'held')
    await root('role', 'grant-permission', 'held', '--prefix=true', 'readwrite', '/probekit/')
    await root('user', 'add', 'held', `--new-user-password=${PASSWORD}`)
    await root('user', 'grant-role', 'held', 'held')
    const held = await store(secured, { replicaId: 'held', user: 'held', passwordFile, requestTimeoutMs: 1000 })
    const taker = await store(secured, { prefix: held.prefix, replicaId: 'taker', user: 'probekit', passwordFile })
    const key = `${held.prefix}/state/n1/web/x`
    const stored = async (k: string) => (await etcdValue(k)) as { replica?: string; state?: CheckState } | undefined
    held.saveStates([state('x', { output: 'held ran it' })])
    await waitFor('the first write', async () => (await stored(key))?.replica === 'held', 5000)
    // Its writes are refused from now on: the next result of x waits in its queue...
    await root('role', 'revoke-permission', 'held', '--prefix=true', '/probekit/')
    await root('role', 'grant-permission', 'held', '--prefix=true', 'read', '/probekit/')
    held.saveStates([state('x', { output: 'held, stale', index: 2 })])
    await waitFor('the refusal', () => held.status().available === false, 5000)
    // ...while another replica takes x over (a membership change) and publishes it.
    taker.saveStates([state('x', { output: 'taker owns it', index: 3 })])
    await waitFor('the held replica to see it', () => held.loadStates()[0]?.output === 'taker owns it', 5000)
    // Access comes back: the next write of the held replica (another check) goes through...
    await root('role', 'grant-permission', 'held', '--prefix=true', 'readwrite', '/probekit/')
    held.saveStates([state('y', { output: 'held runs y' })])
    await waitFor('y to be written', async () => (await stored(`${held.prefix}/state/n1/web/y`)) !== undefined, 10_000)
    // ...and the result it held for x, older than the taker's, was never written.
    const x = await stored(key)
    assert.equal(x?.replica, 'taker')
    assert.equal(x?.state?.output, 'taker owns it')
    assert.equal(taker.loadStates().find((s) => s.id === 'n1/web/x')?.output, 'taker owns it')
    assert.equal(held.status().available, true)
  })

  it('keeps writing after its token expired: the next write logs in again by itself; the lease and the watch live on', async () => {
    // The control: a token from this etcd really stops working after 2 idle seconds.
    const agent = new Agent({
      connect: { ca: ca.read(ca.caCert), cert: ca.read(client.cert), key: ca.read(client.key) },
    })
    try {
      const login = await request(`${secured.clientUrl}/v3/auth/authenticate`, {
        method: 'POST',
        body: JSON.stringify({ name: 'probekit', password: PASSWORD }),
        dispatcher: agent,
      })
      const { token } = (await login.body.json()) as { token: string }
      await sleep(3500)
      const stale = await request(`${secured.clientUrl}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from('/probekit/x').toString('base64') }),
        headers: { authorization: token },
        dispatcher: agent,
      })
      assert.match(await stale.body.text(), /invalid auth token/)
    } finally {
      await agent.destroy()
    }

    const logger = recordingLogger()
    const writer = await store(secured, {
      replicaId: 'expiring',
      user: 'probekit',
      passwordFile,
      leaseTtlSeconds: 6, // a keepalive every 2 s, each one past the previous token's life
      logger,
    })
    const reader = await store(secured, {
      prefix: writer.prefix,
      readonly: true,
      user: 'reader',
      passwordFile: readerPasswordFile,
    })
    writer.saveStates([state('a', { output: 'first' })])
    await waitFor('the reader to see the first write', () => reader.loadStates()[0]?.output === 'first', 5000)
    // Idle for longer than the token lives, and longer than the lease lives: the keepalives
    // (sent with the expired token, which etcd 3.4 does not check for them) keep the lease.
    await sleep(8000)
    assert.equal((await etcdValue(`${writer.prefix}/state/n1/web/a`)) !== undefined, true, 'the lease was kept')
    writer.saveStates([state('a', { output: 'after the token expired', index: 2 })])
    await waitFor(
      'the write after expiry to land in etcd',
      async () =>
        ((await etcdValue(`${writer.prefix}/state/n1/web/a`)) as { state?: CheckState })?.state?.output ===
        'after the token expired',
      5000,
    )
    await waitFor(
      'the reader’s watch to deliver it',
      () => reader.loadStates()[0]?.output === 'after the token expired',
      5000,
    )
    assert.equal(writer.status().available, true)
    assert.deepEqual(logger.lines, [], 'an expired token is routine: nothing logged')
  })

  it('after etcd restarts (every token forgotten) the writer logs in again and the reader’s watch resumes', async () => {
    const writer = await store(secured, {
      replicaId: 'restart',
      user: 'probekit',
      passwordFile,
      requestTimeoutMs: 1000,
    })
    const reader = await store(secured, {
      prefix: writer.prefix,
      readonly: true,
      user: 'reader',
      passwordFile: readerPasswordFile,
      requestTimeoutMs: 1000,
    })
    writer.saveStates([state('r', { output: 'before' })])
    await waitFor('the reader to see it', () => reader.loadStates()[0]?.output === 'before', 5000)
    await secured.process.restart()
    writer.saveStates([state('r', { output: 'after the restart', index: 2 })])
    await waitFor(
      'the reader to see the write after the restart',
      () => reader.loadStates()[0]?.output === 'after the restart',
      20_000,
    )
    await waitFor('both to be available', () => writer.status().available && reader.status().available, 5000)
  })

  it('probekit monitor keeps publishing after its token expired', async () => {
    buildCli()
    let status = 200
    const target: Server = createServer((_req, res) => {
      res.statusCode = status
      res.end(status === 200 ? 'ok' : 'down')
    })
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    const manifests = makeTempDir('etcd-expiry-manifests')
    writeFileSync(
      join(manifests, 'shop.yaml'),
      `id: shop\nnode: n1\nchecks:\n  - name: web\n    url: http://127.0.0.1:${(target.address() as AddressInfo).port}/\n    interval: 500ms\n`,
    )
    const prefix = `/probekit/expiry${++prefixes}`
    const key = `${prefix}/state/n1/shop/web`
    let monitor: ChildProcess | undefined
    let out = ''
    try {
      monitor = spawn(
        process.execPath,
        [
          `${ROOT}bin/probekit.js`,
          'monitor',
          '--store',
          secured.storeSpec(prefix),
          '--etcd-ca',
          ca.caCert,
          '--etcd-cert',
          client.cert,
          '--etcd-key',
          client.key,
          '--etcd-user',
          'probekit',
          '--etcd-password-file',
          passwordFile,
          '--listen',
          'none',
          manifests,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      monitor.stdout?.on('data', (c: Buffer) => (out += c))
      monitor.stderr?.on('data', (c: Buffer) => (out += c))
      const published = async () => ((await etcdValue(key)) as { state?: CheckState } | undefined)?.state?.state
      await waitFor('passing in etcd', async () => (await published()) === 'passing', 20_000)
      // A steady check writes nothing: the token goes stale while the monitor idles.
      await sleep(3500)
      status = 500
      await waitFor(
        'critical in etcd, written with a fresh token',
        async () => (await published()) === 'critical',
        10_000,
      )
      await sleep(3500)
      status = 200
      await waitFor('passing again', async () => (await published()) === 'passing', 10_000)
    } finally {
      monitor?.kill('SIGTERM')
      if (monitor) await new Promise((r) => monitor?.once('exit', r))
      target.close()
    }
    assert.doesNotMatch(out, /not answering|refused|error/, out)
  })
})
