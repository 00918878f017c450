// The URL mode of the postgres probe speaks PostgreSQL's protocol itself: each authentication
// method, SSL per sslmode, and what a broken, hostile or frozen server gets.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import type { Probe } from '../../src/core/types.js'
import { postgres, queryPostgres } from '../../src/probes/postgres.js'
import { saslPrep } from '../../src/probes/postgres-wire.js'
import { discard } from '../../src/probes/socket.js'
import { probeForTarget } from '../../src/probes/url.js'
import { BIN, buildCli, cli } from '../cli/run-cli.js'
import { assertOnTime, timedCheck } from '../support/deadline.js'
import { type FaultServer, garbageServer, type TcpProxy, tcpProxy } from '../support/faults.js'
import { expectNoLeakedResources } from '../support/leaks.js'
import { makeTempDir } from '../support/server-process.js'
import { type PostgresServer, startPostgres } from '../support/servers/postgres.js'
import { makeTestCa, type TestCa } from '../support/test-ca.js'

const run = (probe: Probe, timeoutMs = 5000) => runProbe(probe, { timeoutMs })

/** A backend message: type, length, body. */
function backendMessage(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function errorResponse(code: string, text: string): Buffer {
  return backendMessage('E', Buffer.from(`SFATAL\0C${code}\0M${text}\0\0`, 'utf8'))
}

const USERS = {
  trusted: 'pk_trust',
  cleartext: 'pk_password',
  md5: 'pk_md5',
  scram: 'pk_scram',
  ssl: 'pk_ssl',
}
const PASSWORD = 'pk-wire-pw-4410'
// A no-break space, which SASLprep maps to a space on both sides, and non-ASCII letters.
const UNICODE_PASSWORD = 'pässwörd\u00a0ünï-58'

describe('postgres URL mode: its own PostgreSQL wire protocol', () => {
  let ca: TestCa
  let server: PostgresServer
  let sslServer: PostgresServer
  const faults: FaultServer[] = []

  before(async () => {
    ca = makeTestCa()
    const hba = [
      `host all ${USERS.trusted} 127.0.0.1/32 trust`,
      `host all ${USERS.cleartext} 127.0.0.1/32 password`,
      `host all ${USERS.md5} 127.0.0.1/32 md5`,
      `hostnossl all ${USERS.ssl} 127.0.0.1/32 reject`,
      `local all ${USERS.trusted} trust`,
      `local all ${USERS.md5} md5`,
    ]
    // The SSL server's certificate names other.example only: a wrong host name for 127.0.0.1.
    ;[server, sslServer] = await Promise.all([
      startPostgres({ hba, ssl: { cert: ca.serverCert, key: ca.serverKey } }),
      startPostgres({ hba, ssl: { cert: ca.otherCert, key: ca.otherKey } }),
    ])
    const roles = `
      CREATE ROLE ${USERS.trusted} LOGIN;
      CREATE ROLE ${USERS.cleartext} LOGIN PASSWORD '${PASSWORD}';
      SET password_encryption = 'md5';
      CREATE ROLE ${USERS.md5} LOGIN PASSWORD '${PASSWORD}';
      SET password_encryption = 'scram-sha-256';
      CREATE ROLE ${USERS.scram} LOGIN PASSWORD '${UNICODE_PASSWORD}';
      CREATE ROLE ${USERS.ssl} LOGIN PASSWORD '${PASSWORD}';`
    await Promise.all([server.sql(roles), sslServer.sql(roles)])
  })

  after(async () => {
    await Promise.all([server?.stop(), sslServer?.stop(), ...faults.map((f) => f.close())])
  })

  const url = (s: PostgresServer, user: string, password?: string, query = '') =>
    `postgres://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${s.port}/postgres${query}`

  it('passes with trust, cleartext password, md5 and scram-sha-256 (a non-ASCII password too)', async () => {
    for (const target of [
      url(server, USERS.trusted),
      url(server, USERS.cleartext, PASSWORD),
      url(server, USERS.md5, PASSWORD),
      url(server, USERS.scram, UNICODE_PASSWORD),
      server.url,
    ]) {
      const result = await run(postgres(target))
      assert.equal(result.status, 'pass', `${target}: ${result.output}`)
      assert.equal(result.output, 'SELECT 1')
    }
  })

  it('fails a wrong password clearly with each method, never showing it', async () => {
    for (const user of [USERS.cleartext, USERS.md5, USERS.scram]) {
      const result = await run(postgres(url(server, user, 'wrong-wire-pass-77')))
      assert.equal(result.status, 'fail')
      assert.match(
        result.output ?? '',
        new RegExp(
          `^postgres 127\\.0\\.0\\.1:${server.port}/postgres: authentication failed \\(28P01\\): password authentication failed for user "${user}"; check the user and password$`,
        ),
      )
      assert.doesNotMatch(JSON.stringify(result), /wrong-wire-pass-77/)
    }
  })

  it('says the URL needs a password when the server asks for one', async () => {
    const result = await run(postgres(url(server, USERS.scram)))
    assert.equal(result.status, 'fail')
    assert.match(
      result.output ?? '',
      /: the server asks for a password and the URL has none: put it in the URL after the user name and a colon, or set PGPASSWORD$/,
    )
  })

  it('names an unknown database', async () => {
    const result = await run(postgres(server.urlFor('no_such_db')))
    assert.equal(result.status, 'fail')
    assert.equal(
      result.output,
      `postgres 127.0.0.1:${server.port}/no_such_db: database "no_such_db" does not exist (3D000)`,
    )
  })

  it('reads rows as text with booleans, integers and NULL as pg gives them (the migrations probe reads them)', async () => {
    const rows = await queryPostgres(
      server.url,
      "SELECT 1 AS one, true AS yes, false AS no, NULL AS nothing, 'tëxt' AS t, 9007199254740993::int8 AS big",
      AbortSignal.timeout(5000),
    )
    assert.deepEqual(rows, [{ one: 1, yes: true, no: false, nothing: null, t: 'tëxt', big: '9007199254740993' }])
    await assert.rejects(
      queryPostgres(server.url, 'SELECT * FROM no_such_table', AbortSignal.timeout(5000)),
      /relation "no_such_table" does not exist \(42P01\)/,
    )
  })

  describe('SSL', () => {
    const withCa = () => `&sslrootcert=${encodeURIComponent(ca.caCert)}`

    it('passes with sslmode require, and verify-full with the CA in sslrootcert', async () => {
      for (const query of ['?sslmode=require', `?sslmode=verify-full${withCa()}`, `?sslmode=verify-ca${withCa()}`]) {
        const result = await run(postgres(url(server, USERS.ssl, PASSWORD, query)))
        assert.equal(result.status, 'pass', `${query}: ${result.output}`)
      }
    })

    it('fails clearly when the server requires SSL and the URL says sslmode=disable', async () => {
      for (const query of ['', '?sslmode=disable']) {
        const result = await run(postgres(url(server, USERS.ssl, PASSWORD, query)))
        assert.equal(result.status, 'fail')
        assert.match(result.output ?? '', /\(28000\): .*no encryption.*; the server requires SSL: add sslmode=require/)
      }
    })

    it("fails verify-full against an untrusted CA with the trust hint, a wrong host name naming the certificate's names; verify-ca skips the name", async () => {
      const untrusted = await run(postgres(url(server, USERS.ssl, PASSWORD, '?sslmode=verify-full')))
      assert.equal(untrusted.status, 'fail')
      assert.match(untrusted.output ?? '', /TLS certificate not trusted .*; trust the server's CA with sslrootcert=/)
      const wrongName = await run(postgres(url(sslServer, USERS.ssl, PASSWORD, `?sslmode=verify-full${withCa()}`)))
      assert.equal(wrongName.status, 'fail')
      assert.match(
        wrongName.output ?? '',
        /TLS certificate does not match the host name 127\.0\.0\.1: it is for DNS:other\.example \(ERR_TLS_CERT_ALTNAME_INVALID\); connect by a name the certificate holds, or lower sslmode to verify-ca \(no host name check\)/,
      )
      const verifyCa = await run(postgres(url(sslServer, USERS.ssl, PASSWORD, `?sslmode=verify-ca${withCa()}`)))
      assert.equal(verifyCa.status, 'pass', verifyCa.output)
    })

    it('takes ca and insecure in URL mode, as probekit check --ca and --insecure do: the URL’s sslrootcert wins, and TLS stays as sslmode says', async () => {
      const caPem = readFileSync(ca.caCert)
      const strangerPem = readFileSync(makeTestCa().caCert) // a CA that signed neither server
      const verifyFull = url(server, USERS.ssl, PASSWORD, '?sslmode=verify-full')
      for (const probe of [postgres(verifyFull, { ca: caPem }), await probeForTarget(verifyFull, { ca: caPem })]) {
        const result = await run(probe)
        assert.equal(result.status, 'pass', result.output)
      }
      // A certificate for another name, from a CA nobody trusts: insecure checks neither.
      const anyCert = await run(
        postgres(url(sslServer, USERS.ssl, PASSWORD, '?sslmode=verify-full'), { insecure: true }),
      )
      assert.equal(anyCert.status, 'pass', anyCert.output)
      // With a CA, require checks the chain (as libpq with a root certificate).
      const stranger = await run(postgres(url(server, USERS.ssl, PASSWORD, '?sslmode=require'), { ca: strangerPem }))
      assert.equal(stranger.status, 'fail')
      assert.match(stranger.output ?? '', /TLS certificate not trusted/)
      const rootcert = `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.caCert)}`
      const urlWins = await run(postgres(url(server, USERS.ssl, PASSWORD, rootcert), { ca: strangerPem }))
      assert.equal(urlWins.status, 'pass', urlWins.output)
      // insecure does not turn TLS on: this server refuses plain connections for this user.
      const plain = await run(postgres(url(server, USERS.ssl, PASSWORD), { insecure: true }))
      assert.equal(plain.status, 'fail')
      assert.match(plain.output ?? '', /no encryption/)
      // The probe object carries neither option (a CA's PEM is no field of a check).
      assert.equal('ca' in postgres(verifyFull, { ca: caPem }), false)

      buildCli()
      const withCa = await cli(['check', '--ca', ca.caCert, verifyFull])
      assert.equal(withCa.code, 0, withCa.stdout)
      assert.match(
        withCa.stdout,
        /^ok postgres:\/\/pk_ssl:\*\*\*@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full SELECT 1 in /,
      )
      const insecure = await cli(['check', '--insecure', url(sslServer, USERS.ssl, PASSWORD, '?sslmode=verify-full')])
      assert.equal(insecure.code, 0, insecure.stdout)
      const untrusted = await cli(['check', url(sslServer, USERS.ssl, PASSWORD, '?sslmode=verify-full')])
      assert.equal(untrusted.code, 1)
      assert.match(untrusted.stdout, /TLS certificate not trusted/)
    })

    it('fails sslmode=require against a server without SSL; prefer falls back to plain', async () => {
      const plain = await startPostgres()
      try {
        const required = await run(postgres(`${plain.url}?sslmode=require`))
        assert.equal(required.status, 'fail')
        assert.match(required.output ?? '', /the server does not accept SSL connections \(sslmode=require\)/)
        const preferred = await run(postgres(`${plain.url}?sslmode=prefer`))
        assert.equal(preferred.status, 'pass', preferred.output)
      } finally {
        await plain.stop()
      }
    })

    it('rejects an unknown sslmode and a Unix socket when the probe is made', () => {
      assert.throws(() => postgres(`${server.url}?sslmode=maybe`), /sslmode=maybe; use disable, prefer, require/)
      assert.throws(
        () => postgres(`${server.url}?sslmode=constructor`),
        /sslmode=constructor; use disable, prefer, require/,
      )
    })
  })

  describe('broken and hostile servers', () => {
    const fault = async (payload: Buffer | string) => {
      const f = await garbageServer(payload)
      faults.push(f)
      return `postgres://u:secret-pw-1@${f.address}/db`
    }

    it('fails on garbage with "not a PostgreSQL server"', async () => {
      const result = await run(postgres(await fault('HTTP/9.9 garbage \x00\xff\r\n')), 2000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /: not a PostgreSQL server \(unexpected reply "HTTP\/9\.9 garbage/)
      assert.doesNotMatch(JSON.stringify(result), /secret-pw-1/)
    })

    it('refuses a message too large to be an answer, without buffering it', async () => {
      const huge = Buffer.alloc(5)
      huge.write('R', 0, 'latin1')
      huge.writeInt32BE(0x7ffffff0, 1)
      const result = await run(postgres(await fault(huge)), 2000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not a PostgreSQL server \(a message of 2147483632 bytes/)
    })

    it('refuses bytes sent after the SSL answer, before the handshake', async () => {
      const result = await run(postgres(`${await fault('SRAAAA')}?sslmode=require`), 2000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not a PostgreSQL server \(data after the SSL answer\)/)
    })

    it('says the server is starting up (57P03) or has too many connections (53300), inertly', async () => {
      const starting = await run(
        postgres(await fault(errorResponse('57P03', 'the database system is starting up'))),
        2000,
      )
      assert.match(
        starting.output ?? '',
        /: the server is starting up or shutting down \(57P03\): the database system is starting up$/,
      )
      const full = await run(
        postgres(await fault(errorResponse('53300', 'sorry, too many clients already\x1b[31m'))),
        2000,
      )
      assert.match(full.output ?? '', /: too many connections \(53300\): sorry, too many clients already\\x1b\[31m$/)
    })

    it('refuses a SCRAM server that does not prove it knows the password', async () => {
      // AuthenticationOk straight after the SASL request: a server that skipped the exchange.
      const sasl = backendMessage('R', Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from('SCRAM-SHA-256\0\0')]))
      const ok = backendMessage('R', Buffer.from([0, 0, 0, 0]))
      const result = await run(postgres(await fault(Buffer.concat([sasl, ok]))), 2000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /without proving itself/)
    })

    it('fails on a malformed message without crashing', async () => {
      const truncated = backendMessage('T', Buffer.from([0]))
      const result = await run(postgres(await fault(truncated)), 2000)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not a PostgreSQL server \(a malformed "T" message\)/)
    })

    it('names an authentication method it does not speak', async () => {
      const gss = backendMessage('R', Buffer.from([0, 0, 0, 7]))
      const result = await run(postgres(await fault(gss)), 2000)
      assert.match(result.output ?? '', /the server asks for GSSAPI, which the URL mode does not speak/)
    })
  })

  describe('Unix-domain sockets', () => {
    const dir = () => server.dir
    const socket = () => `${server.dir}/.s.PGSQL.${server.port}`

    it('connects to the socket a host that is a directory names, in each way libpq reads it', async () => {
      const port = server.port
      for (const target of [
        `postgres://${USERS.trusted}@/postgres?host=${dir()}&port=${port}`,
        `postgresql:///postgres?host=${dir()}&port=${port}&user=${USERS.trusted}`,
        `postgres://${USERS.trusted}@${encodeURIComponent(dir())}:${port}/postgres`,
        `postgres://${USERS.md5}:${PASSWORD}@/postgres?host=${dir()}/&port=${port}`,
        // A password in the query, and an sslmode, which libpq ignores over a socket.
        `postgres:///postgres?host=${dir()}&port=${port}&user=${USERS.md5}&password=${PASSWORD}&sslmode=verify-full`,
        // The parameters win over the URL's parts, as in libpq.
        `postgres://nobody@127.0.0.1:1/nowhere?host=${dir()}&port=${port}&user=${USERS.trusted}&dbname=postgres`,
      ]) {
        const result = await run(postgres(target))
        assert.equal(result.status, 'pass', `${target}: ${result.output}`)
        assert.equal(result.componentId, `${dir()}:${port}/postgres`, target)
      }
      const viaTarget = await run(
        await probeForTarget(`postgres://${USERS.trusted}@/postgres?host=${dir()}&port=${port}`),
      )
      assert.equal(viaTarget.status, 'pass', viaTarget.output)
    })

    it('fails clearly where no server made the socket, with a wrong password, and against a frozen server by its deadline', async () => {
      const missing = await run(postgres(`postgres://${USERS.trusted}@/postgres?host=${dir()}&port=1`))
      assert.equal(missing.status, 'fail')
      assert.equal(
        missing.output,
        `postgres ${dir()}:1/postgres: no socket at ${dir()}/.s.PGSQL.1: is the server running, with its socket there? (ENOENT)`,
      )
      const wrong = await run(
        postgres(`postgres:///postgres?host=${dir()}&port=${server.port}&user=${USERS.md5}&password=wrong-sock-pw-91`),
      )
      assert.equal(wrong.status, 'fail')
      assert.match(wrong.output ?? '', /authentication failed \(28P01\)/)
      assert.doesNotMatch(JSON.stringify(wrong), /wrong-sock-pw-91/)
      await expectNoLeakedResources(async () => {
        server.process.freeze()
        try {
          const target = `postgres://${USERS.trusted}@/postgres?host=${dir()}&port=${server.port}`
          const check = await timedCheck(postgres(target), 300)
          assert.equal(check.result.output, 'timed out after 300 ms')
          assertOnTime(check, 300)
        } finally {
          server.process.thaw()
        }
      })
      assert.ok(socket().length < 108)
    })

    it('refuses several hosts, a bad port and an empty host in one sentence each', async () => {
      assert.throws(() => postgres('postgres://u@/db?host=a,b'), /names several hosts \(a,b\); a probe checks one/)
      assert.throws(
        () => postgres(`postgres://u@/db?host=${dir()}&port=70000`),
        /postgres: "postgres:\/\/u@\/db\?host=.*&port=70000" has port "70000"; use a number from 1 to 65535/,
      )
      assert.throws(
        () => postgres('postgres://u@/db'),
        /is not a URL; .*for a Unix socket, postgres:\/\/user@\/database\?host=/,
      )
      const deep = `/tmp/${'d'.repeat(100)}`
      assert.throws(
        () => postgres(`postgres://u@/db?host=${deep}`),
        new RegExp(
          `: the socket path ${deep}/\\.s\\.PGSQL\\.5432 is 119 bytes, more than a Unix socket address holds \\(107\\); use a shorter directory, or a symbolic link to it$`,
        ),
      )
      const notDir = await run(postgres(`postgres://u@/db?host=${join(dir(), 'data', 'PG_VERSION')}`))
      assert.match(
        notDir.output ?? '',
        /: no socket at .*PG_VERSION\/\.s\.PGSQL\.5432: a part of its path is not a directory \(ENOTDIR\)$/,
      )
      await assert.rejects(probeForTarget('postgres://u:pw-in-url-3@/db'), (error: Error) => {
        assert.equal(
          error.message,
          '"postgres://u:***@/db" names no host; write it as postgres://user@host:5432/db, or name a Unix socket\'s directory with ?host=/run/postgresql',
        )
        return true
      })
    })

    it('probekit check takes a socket as pg_isready does', async () => {
      buildCli()
      const ok = await cli(['check', `postgres://${USERS.trusted}@/postgres?host=${dir()}&port=${server.port}`])
      assert.equal(ok.code, 0, ok.stdout + ok.stderr)
      assert.match(ok.stdout, /^ok postgres:\/\/.* SELECT 1 in \d/)
    })
  })

  it('fails by its deadline against a frozen server, by the connect limit when shorter, leaving nothing behind', async () => {
    await expectNoLeakedResources(async () => {
      server.process.freeze()
      try {
        const check = await timedCheck(postgres(server.url), 300)
        assert.equal(check.result.output, 'timed out after 300 ms')
        assertOnTime(check, 300)
        const limited = await run(postgres(server.url, { connectTimeout: 200 }), 3000)
        assert.equal(limited.output, `postgres 127.0.0.1:${server.port}/postgres: connect timed out after 200 ms`)
      } finally {
        server.process.thaw()
      }
    })
  })

  it('probekit check postgres://… loads no pg, and node:crypto only when the server asks for a password hash', async () => {
    buildCli()
    // Preloaded into the CLI: at exit, the built-in modules loaded and whether pg was required.
    const report = join(makeTempDir('modules'), 'report.cjs')
    writeFileSync(
      report,
      `process.on('exit', () => process.stderr.write(JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(require.cache) })))`,
    )
    const modules = (target: string) =>
      new Promise<{ stdout: string; builtins: string[]; files: string[] }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['-r', report, BIN, 'check', target],
          { encoding: 'utf8' },
          (_error, stdout, stderr) => {
            try {
              resolve({ stdout, ...JSON.parse(stderr) })
            } catch (error) {
              reject(new Error(`no module report: ${stderr} ${String(error)}`))
            }
          },
        )
      })
    const trusted = await modules(url(server, USERS.trusted))
    assert.match(trusted.stdout, /^ok postgres:/)
    assert.deepEqual(
      trusted.builtins.filter((m) => /^NativeModule (crypto|tls|_tls_wrap)$/.test(m)),
      [],
      'trust: no crypto, no tls',
    )
    const scram = await modules(server.url)
    assert.match(scram.stdout, /^ok postgres:/)
    assert.ok(scram.builtins.includes('NativeModule crypto'), 'SCRAM needs node:crypto')
    for (const run of [trusted, scram]) {
      assert.deepEqual(
        run.files.filter((f) => /node_modules[\\/](pg|pg-[a-z-]+|postgres)[\\/]/.test(f)),
        [],
        'no PostgreSQL driver was loaded',
      )
    }
  })

  describe('probekit check opens its connection ahead', () => {
    const AHEAD = Symbol.for('probekit.connectAhead')
    type Ahead = Map<string, { socket: Socket; open: boolean; broken: boolean; forget(): void }>
    let proxy: TcpProxy
    let hook: string
    before(async () => {
      buildCli()
      proxy = await tcpProxy(server.port)
      faults.push(proxy)
      // Preloaded into the CLI: the order of its first connect and its reading the check bundle.
      hook = join(makeTempDir('ahead'), 'order.cjs')
      writeFileSync(
        hook,
        `const net = require('node:net'), fs = require('node:fs'), events = []
        const connect = net.Socket.prototype.connect
        net.Socket.prototype.connect = function (...args) { events.push('connect'); return connect.apply(this, args) }
        const read = fs.readFileSync
        fs.readFileSync = function (file, ...rest) {
          if (/dist[\\/]bin[\\/]check[\\w-]*\\.cjs$/.test(String(file))) events.push('bundle')
          return read.call(this, file, ...rest)
        }
        process.on('exit', () => process.stderr.write(JSON.stringify(events)))`,
      )
    })

    const proxied = (user: string, password?: string, query = '') =>
      url(server, user, password, query).replace(`:${server.port}/`, `:${proxy.port}/`)
    const checkWithHook = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ code: number | null; stdout: string; events: string[] }>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          ['-r', hook, BIN, 'check', ...args],
          { encoding: 'utf8', env: { ...process.env, ...env } },
          (_error, stdout, stderr) => {
            try {
              resolve({ code: child.exitCode, stdout, events: JSON.parse(stderr) })
            } catch (error) {
              reject(new Error(`no event report: ${stderr} ${String(error)}`))
            }
          },
        )
      })

    it('connects and sends the startup message before it loads the check bundle, and the check takes that connection over', async () => {
      for (const target of [proxied(USERS.trusted), proxied(USERS.scram, UNICODE_PASSWORD), server.url]) {
        const before = proxy.accepted
        const run = await checkWithHook([target.replace(`:${server.port}/`, `:${proxy.port}/`)])
        assert.equal(run.code, 0, run.stdout)
        assert.match(run.stdout, /^ok postgres:\/\/.* SELECT 1 in \d+\.\d ms\n$/)
        assert.deepEqual(run.events.slice(0, 2), ['connect', 'bundle'], target)
        assert.equal(proxy.accepted - before, 1, `${target}: one connection in all`)
      }
    })

    it('opens nothing ahead for a URL it might read otherwise than the check, nor for --help, nor when PGSSLMODE asks for SSL', async () => {
      const named = await checkWithHook([proxied(USERS.trusted, undefined, '?application_name=ahead-test')])
      assert.equal(named.code, 0, named.stdout)
      assert.deepEqual(named.events, ['bundle', 'connect'])
      const encoded = await checkWithHook([proxied(USERS.trusted).replace('/postgres', '/%70ostgres')])
      assert.equal(encoded.code, 0, encoded.stdout)
      assert.deepEqual(encoded.events, ['bundle', 'connect'])
      const ssl = await checkWithHook([proxied(USERS.trusted)], { PGSSLMODE: 'require' })
      assert.equal(ssl.code, 0, ssl.stdout)
      assert.equal(ssl.events[0], 'bundle')
      const before = proxy.accepted
      const help = await checkWithHook(['--help', proxied(USERS.trusted)])
      assert.equal(help.code, 0)
      assert.equal(proxy.accepted, before, '--help connects nowhere')
    })

    it('fails with what it met when the server drops the connection, as the probe does', async () => {
      proxy.cut()
      try {
        const target = proxied(USERS.trusted)
        const run = await cli(['check', target])
        const probe = await runProbe(postgres(target), { timeoutMs: 2000 })
        // The peer's close reads as a close or, when a write crossed it, a reset: either way the same two.
        const dropped = /: (the server closed the connection|connection reset by the server \(ECONNRESET\))$/
        assert.equal(run.code, 1)
        assert.match(
          run.stdout.trimEnd(),
          new RegExp(`^failed ${target.replace(/[.*?^$()|[\]\\]/g, '\\$&')}${dropped.source}`),
        )
        assert.match(probe.output ?? '', dropped)
      } finally {
        proxy.restore()
      }
    })

    it('takes over only a connection with its own address and startup message, and leaves nothing behind', async () => {
      await expectNoLeakedResources(async () => {
        const ahead: Ahead = new Map()
        ;(globalThis as { [AHEAD]?: Ahead })[AHEAD] = ahead
        try {
          const open = (user: string, application: string) => {
            const pairs = `user\0${user}\0database\0postgres\0application_name\0${application}\0\0`
            const greeting = Buffer.alloc(8 + pairs.length)
            greeting.writeInt32BE(greeting.length, 0)
            greeting.writeInt32BE(0x30000, 4)
            greeting.write(pairs, 8, 'latin1')
            const socket = new Socket()
            const entry = { socket, open: false, broken: false, forget: () => socket.removeAllListeners('error') }
            socket.on('error', () => {
              entry.broken = true
            })
            socket.once('connect', () => {
              entry.open = true
              socket.write(greeting)
            })
            socket.connect(proxy.port, '127.0.0.1')
            ahead.set(`127.0.0.1:${proxy.port}\0${greeting.toString('latin1')}`, entry)
            return entry
          }
          const other = open(USERS.trusted, 'someone-else')
          let before = proxy.accepted
          const mismatch = await run(postgres(proxied(USERS.trusted)))
          assert.equal(mismatch.status, 'pass', mismatch.output)
          assert.equal(proxy.accepted - before, 2, 'its own connection beside the one it did not take')
          assert.equal(ahead.size, 1)
          discard(other.socket)
          ahead.clear()

          open(USERS.trusted, 'probekit')
          await new Promise((resolve) => setTimeout(resolve, 50))
          before = proxy.accepted
          const taken = await run(postgres(proxied(USERS.trusted)))
          assert.equal(taken.status, 'pass', taken.output)
          assert.equal(proxy.accepted, before, 'no connection of its own')
          assert.equal(ahead.size, 0)
        } finally {
          delete (globalThis as { [AHEAD]?: Ahead })[AHEAD]
        }
      })
    })
  })

  it('applies SASLprep to a password as PostgreSQL does', () => {
    assert.equal(saslPrep('plain-ASCII pw'), 'plain-ASCII pw')
    assert.equal(saslPrep('a\u00a0b\u00adc'), 'a bc')
    assert.equal(saslPrep('\uff21'), 'A')
    // Prohibited characters: used as given, as PostgreSQL does.
    assert.equal(saslPrep('a\u0007b\u00e9'), 'a\u0007b\u00e9')
  })
})
