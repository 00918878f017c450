import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { SecretSet } from '../../src/core/redact.js'
import { type Checker, MAX_OUTPUT_BYTES } from '../../src/monitor/checkers/checker.js'
import { type HttpCheckerOptions, httpChecker, MAX_BODY_BYTES } from '../../src/monitor/checkers/http.js'
import { type HttpCheckSpec, parseManifest } from '../../src/monitor/manifest.js'
import { registerSecrets } from '../../src/monitor/secrets.js'
import { makeTempDir } from '../support/server-process.js'
import { makeTestCa, type TestCa } from '../support/test-ca.js'

const GB = 1024 * 1024 * 1024

/** Counts accepted connections and tracks sockets so the server can be closed at once. */
function track(server: Server) {
  const sockets = new Set<Socket>()
  const stats = { connections: 0 }
  server.on('connection', (socket: Socket) => {
    stats.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return {
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

const huge = { bytesSent: 0, closed: false }

function routes(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '/'
  if (path === '/ok') return void res.end('all good\n')
  if (path === '/fail') {
    res.statusCode = 500
    return void res.end('database is down\n')
  }
  if (path === '/busy') {
    res.statusCode = 429
    return void res.end('slow down\n')
  }
  if (path === '/hang') return // never answers
  if (path === '/drip') {
    res.writeHead(200, { 'content-type': 'text/plain' })
    const timer = setInterval(() => res.write('.'), 100)
    res.on('close', () => clearInterval(timer))
    return
  }
  if (path === '/huge') {
    huge.bytesSent = 0
    huge.closed = false
    res.writeHead(200, { 'content-length': String(GB) })
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let left = GB
    const body = new Readable({
      read() {
        if (left <= 0) return void this.push(null)
        const n = Math.min(left, chunk.length)
        left -= n
        huge.bytesSent += n
        this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
      },
    })
    res.on('close', () => {
      huge.closed = true
      body.destroy()
    })
    body.pipe(res)
    return
  }
  if (path === '/loop') {
    res.writeHead(302, { location: '/loop' })
    return void res.end()
  }
  if (path === '/reset') return void (req.socket as Socket & { resetAndDestroy(): void }).resetAndDestroy()
  if (path === '/big') {
    const lines: string[] = []
    for (let i = 0; i < 300; i++) lines.push(`line ${String(i).padStart(4, '0')} of a long status page`)
    return void res.end(`${lines.join('\n')}\nTHE END\n`)
  }
  if (path === '/headers') {
    res.setHeader('content-type', 'application/json')
    return void res.end(JSON.stringify(req.headers))
  }
  if (path === '/leak') return void res.end('connected with password=hunter2 to postgres://app:s3cret@db:5432/app\n')
  if (path === '/cut-url') {
    // The 10 KB read bound falls inside the URL's password.
    const url = 'postgres://u:hunter2hunter2@db/x'
    return void res.end(`${'x'.repeat(MAX_BODY_BYTES - 'postgres://u:hunt'.length)}${url} and more\n`)
  }
  res.statusCode = 404
  res.end('not found\n')
}

function spec(yaml: string): HttpCheckSpec {
  const [pod] = parseManifest(yaml, '/tmp/test.yaml', { node: 'test-node' })
  const check = pod?.checks[0]
  assert.equal(check?.kind, 'http')
  return check as HttpCheckSpec
}

function checkOf(url: string, extra = ''): HttpCheckSpec {
  return spec(`id: t\nchecks:\n  - name: c\n    url: ${url}\n    interval: 5s\n    timeout: 1500ms\n${extra}`)
}

describe('HTTP checker', () => {
  let ca: TestCa
  let http: ReturnType<typeof track>
  let https: ReturnType<typeof track>
  let untrusted: ReturnType<typeof track>
  let otherHost: ReturnType<typeof track>
  let base: string
  let tlsPort: number
  let untrustedPort: number
  let otherPort: number
  const checkers: Checker[] = []
  const make = (s: HttpCheckSpec, secrets?: SecretSet) => {
    const c = httpChecker(s, secrets)
    checkers.push(c)
    return c
  }

  before(async () => {
    ca = makeTestCa()
    const plain = createHttpServer(routes)
    http = track(plain)
    base = `http://127.0.0.1:${await listen(plain)}`
    const secure = createHttpsServer(
      {
        cert: ca.read(ca.serverCert),
        key: ca.read(ca.serverKey),
        ca: ca.read(ca.caCert),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        if (req.url === '/client') {
          const socket = req.socket as import('node:tls').TLSSocket
          res.statusCode = socket.authorized ? 200 : 401
          return void res.end(
            socket.authorized
              ? `hello ${socket.getPeerCertificate()?.subject?.CN}\n`
              : `who are you? ${socket.authorizationError}\n`,
          )
        }
        routes(req, res)
      },
    )
    https = track(secure)
    tlsPort = await listen(secure)
    const bad = createHttpsServer({ cert: ca.read(ca.untrustedCert), key: ca.read(ca.untrustedKey) }, routes)
    untrusted = track(bad)
    untrustedPort = await listen(bad)
    const other = createHttpsServer({ cert: ca.read(ca.otherCert), key: ca.read(ca.otherKey) }, routes)
    otherHost = track(other)
    otherPort = await listen(other)
  })

  after(async () => {
    await Promise.all(checkers.map((c) => c.close()))
    await Promise.all([http.close(), https.close(), untrusted.close(), otherHost.close()])
  })

  it("passes on a 2xx and keeps the body in Consul's words", async () => {
    const outcome = await make(checkOf(`${base}/ok`)).run()
    assert.equal(outcome.status, 'pass')
    assert.equal(outcome.facts.httpStatus, 200)
    assert.equal(outcome.output, `HTTP GET ${base}/ok: 200 OK Output: all good`)
  })

  it('is critical on a 500, with the body as output', async () => {
    const outcome = await make(checkOf(`${base}/fail`)).run()
    assert.equal(outcome.status, 'fail')
    assert.equal(outcome.facts.httpStatus, 500)
    assert.match(outcome.output, /500 Internal Server Error Output: database is down/)
  })

  it('warns on a 429', async () => {
    const outcome = await make(checkOf(`${base}/busy`)).run()
    assert.equal(outcome.status, 'warn')
    assert.equal(outcome.facts.httpStatus, 429)
  })

  it('honours expect_status, and is critical on a 404 by default', async () => {
    assert.equal((await make(checkOf(`${base}/nope`)).run()).status, 'fail')
    const expected = await make(checkOf(`${base}/nope`, '    expect_status: [404]\n')).run()
    assert.equal(expected.status, 'pass')
  })

  it('ends a hanging endpoint at the deadline', async () => {
    const started = Date.now()
    const outcome = await make(checkOf(`${base}/hang`, '')).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /timed out after 1500 ms/)
    assert.ok(Date.now() - started < 5000, 'the check ended near its deadline')
  })

  it('ends a slow drip of bytes at the deadline, keeping the status it saw', async () => {
    const outcome = await make(checkOf(`${base}/drip`)).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /timed out after 1500 ms/)
    assert.equal(outcome.facts.httpStatus, 200)
  })

  it('reads 10 KB of a 1 GB body and drops the connection instead of downloading it', async () => {
    const outcome = await make(checkOf(`${base}/huge`)).run()
    assert.equal(outcome.status, 'pass')
    assert.match(outcome.output, /of the first 10240 bytes read of a longer body/)
    assert.ok(Buffer.byteLength(outcome.output) <= MAX_OUTPUT_BYTES)
    // The server stops when the client goes: far less than the gigabyte left its buffers.
    for (let i = 0; i < 50 && !huge.closed; i++) await new Promise((r) => setTimeout(r, 20))
    assert.ok(huge.closed, 'the server saw the connection close')
    assert.ok(huge.bytesSent < 128 * 1024 * 1024, `sent ${huge.bytesSent} bytes`)
  })

  it('keeps the tail of a long body within 4 KB and says how much it captured', async () => {
    const outcome = await make(checkOf(`${base}/big`)).run()
    assert.equal(outcome.status, 'pass')
    assert.ok(Buffer.byteLength(outcome.output) <= MAX_OUTPUT_BYTES, `${Buffer.byteLength(outcome.output)} bytes`)
    assert.match(outcome.output, /^HTTP GET .*: 200 OK Output \(last \d+ bytes of \d+ bytes\): /)
    assert.match(outcome.output, /THE END$/)
    assert.doesNotMatch(outcome.output, /line 0000/)
  })

  it('does not follow a redirect loop', async () => {
    const outcome = await make(checkOf(`${base}/loop`)).run()
    assert.equal(outcome.status, 'fail')
    assert.equal(outcome.facts.httpStatus, 302)
    assert.match(outcome.output, /redirect to \/loop not followed/)
  })

  it('is critical when the connection is reset', async () => {
    const outcome = await make(checkOf(`${base}/reset`)).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /^HTTP GET .*\/reset: .*(reset|closed|ECONNRESET|other side)/i)
  })

  it('says in words what OpenSSL and undici say in codes: https:// to a plain port, headers too large', async () => {
    const plainTls = await make(checkOf(`${base.replace('http:', 'https:')}/ok`)).run()
    assert.equal(plainTls.status, 'fail')
    assert.match(plainTls.output, /^HTTP GET https:\/\/\S+: the server does not speak TLS \(\w+\)$/)
    const bigHead = createNetServer((socket) => {
      socket.once('data', () =>
        socket.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\nok`),
      )
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => bigHead.listen(0, '127.0.0.1', resolve))
    try {
      const big = await make(checkOf(`http://127.0.0.1:${(bigHead.address() as AddressInfo).port}/`)).run()
      assert.equal(big.status, 'fail')
      assert.match(
        big.output,
        /: not a valid HTTP response: its headers are larger than the client accepts \(UND_ERR_HEADERS_OVERFLOW\)$/,
      )
    } finally {
      await new Promise((resolve) => bigHead.close(resolve))
    }
  })

  it('sends the configured headers', async () => {
    const outcome = await make(
      checkOf(`${base}/headers`, '    headers:\n      X-Probe: yes\n      Host: app.example\n'),
    ).run()
    assert.equal(outcome.status, 'pass')
    assert.match(outcome.output, /"x-probe":"yes"/)
    assert.match(outcome.output, /"host":"app.example"/)
    assert.match(outcome.output, /"user-agent":"probekit-monitor/)
  })

  it('redacts credentials in the target and in the kept body', async () => {
    const s = checkOf(`http://app:topsecret@127.0.0.1:${new URL(base).port}/leak`)
    assert.doesNotMatch(s.target, /topsecret/)
    const outcome = await make(s).run()
    assert.equal(outcome.status, 'pass')
    assert.doesNotMatch(outcome.output, /topsecret|hunter2|s3cret/)
  })

  it('masks a credential that the 10 KB read bound cut in half', async () => {
    const outcome = await make(checkOf(`${base}/cut-url`)).run()
    assert.equal(outcome.status, 'pass')
    assert.ok(outcome.output.length > 1000, 'the body is kept')
    assert.doesNotMatch(outcome.output, /hunt/)
  })

  it("masks the manifest's credentials by value when the target echoes them", async () => {
    const s = spec(
      `id: t\nchecks:\n  - name: c\n    url: http://echo:EchoPw42@127.0.0.1:${new URL(base).port}/headers\n` +
        '    headers:\n      X-Api-Key: key-8c1f27\n      Cookie: session=cookie-77aa\n      Accept: text/plain\n',
    )
    const secrets = new SecretSet()
    registerSecrets(s, secrets)
    const outcome = await make(s, secrets).run()
    assert.equal(outcome.status, 'pass')
    // The echo is there (the accept header is no secret), the credentials are not.
    assert.match(outcome.output, /text\/plain/)
    const basic = Buffer.from('echo:EchoPw42').toString('base64')
    for (const secret of ['EchoPw42', basic, 'key-8c1f27', 'cookie-77aa'])
      assert.ok(!outcome.output.includes(secret), secret)
  })

  it('reuses one kept-alive connection across runs', async () => {
    const checker = make(checkOf(`${base}/ok`))
    const before = http.stats.connections
    for (let i = 0; i < 5; i++) assert.equal((await checker.run()).status, 'pass')
    // At most one new connection (none when the shared pool already holds one to this origin).
    assert.ok(http.stats.connections - before <= 1, `${http.stats.connections - before} new connections`)
  })

  it("verifies HTTPS against the manifest's CA and records the earliest certificate expiry", async () => {
    const outcome = await make(
      checkOf(`https://localhost:${tlsPort}/ok`, `    tls:\n      ca_file: ${ca.caCert}\n`),
    ).run()
    assert.equal(outcome.status, 'pass', outcome.output)
    const expiry = outcome.facts.sslEarliestExpiry
    assert.ok(expiry !== undefined)
    const expected = Date.now() / 1000 + ca.serverDays * 86_400
    assert.ok(Math.abs(expiry - expected) < 2 * 86_400, `expiry ${expiry}, expected about ${expected}`)
  })

  it('presents a client certificate', async () => {
    // 127.0.0.1, not localhost: a fresh origin, so a fresh connection without a client certificate.
    const without = await make(
      checkOf(`https://127.0.0.1:${tlsPort}/client`, `    tls:\n      ca_file: ${ca.caCert}\n`),
    ).run()
    assert.equal(without.status, 'fail', without.output)
    assert.equal(without.facts.httpStatus, 401)
    const withCert = await make(
      checkOf(
        `https://localhost:${tlsPort}/client`,
        `    tls:\n      ca_file: ${ca.caCert}\n      cert_file: ${ca.clientCert}\n      key_file: ${ca.clientKey}\n`,
      ),
    ).run()
    assert.equal(withCert.status, 'pass', withCert.output)
    assert.match(withCert.output, /hello probekit monitor/)
  })

  it('is critical on an untrusted certificate, unless insecure is opted into', async () => {
    const outcome = await make(
      checkOf(`https://localhost:${untrustedPort}/ok`, `    tls:\n      ca_file: ${ca.caCert}\n`),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /self[- ]signed|unable to verify|certificate/i)
    const insecure = await make(
      checkOf(`https://localhost:${untrustedPort}/ok`, '    tls:\n      insecure: true\n'),
    ).run()
    assert.equal(insecure.status, 'pass', insecure.output)
  })

  it('is critical on a certificate for another host name, unless server_name names it', async () => {
    const outcome = await make(
      checkOf(`https://127.0.0.1:${otherPort}/ok`, `    tls:\n      ca_file: ${ca.caCert}\n`),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /altnames|does not match|hostname/i)
    const named = await make(
      checkOf(
        `https://127.0.0.1:${otherPort}/ok`,
        `    tls:\n      ca_file: ${ca.caCert}\n      server_name: other.example\n`,
      ),
    ).run()
    assert.equal(named.status, 'pass', named.output)
  })

  it('reports an unreadable CA file as a critical check naming the file', async () => {
    const outcome = await make(
      checkOf(`https://localhost:${tlsPort}/ok`, '    tls:\n      ca_file: /nonexistent/ca.pem\n'),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /cannot read the CA file \/nonexistent\/ca.pem/)
  })

  it('reports a CA file that holds no PEM certificate as such, not as an untrusted server', async () => {
    const notPem = join(makeTempDir('ca'), 'ca.txt')
    writeFileSync(notPem, 'not a certificate\n')
    const outcome = await make(checkOf(`https://localhost:${tlsPort}/ok`, `    tls:\n      ca_file: ${notPem}\n`)).run()
    assert.equal(outcome.status, 'fail')
    assert.equal(
      outcome.output,
      `the CA file ${notPem} holds no PEM certificate (no -----BEGIN CERTIFICATE----- line); fix the manifest's tls settings`,
    )
  })
})

describe('HTTP checker: connections per origin', () => {
  /** A server answering after `delayMs`, counting the connections open at once at most. */
  async function slowServer(delayMs: number) {
    let open = 0
    const stats = { most: 0, requests: 0 }
    const server = createHttpServer((_req, res) => {
      stats.requests++
      setTimeout(() => res.end('ok\n'), delayMs)
    })
    server.on('connection', (socket: Socket) => {
      stats.most = Math.max(stats.most, ++open)
      socket.on('close', () => open--)
    })
    const tracked = track(server)
    const port = await listen(server)
    return { stats, url: `http://127.0.0.1:${port}`, close: tracked.close }
  }

  /** Runs `count` checks of one slow origin at once: their outcomes and the server's counts. */
  async function atOnce(count: number, delayMs: number, options?: HttpCheckerOptions) {
    const server = await slowServer(delayMs)
    const checkers = Array.from({ length: count }, (_, i) =>
      httpChecker(checkOf(`${server.url}/t/${i}`), undefined, options),
    )
    try {
      return { outcomes: await Promise.all(checkers.map((c) => c.run())), stats: server.stats }
    } finally {
      await Promise.all(checkers.map((c) => c.close()))
      await server.close()
    }
  }

  it('opens at most connectionsPerOrigin connections to one origin; the other checks wait for one and pass', async () => {
    const { outcomes, stats } = await atOnce(12, 150, { connectionsPerOrigin: 3 })
    assert.deepEqual(
      outcomes.map((o) => o.status),
      outcomes.map(() => 'pass'),
    )
    assert.equal(stats.requests, 12)
    assert.equal(stats.most, 3, 'three connections, each reused by four checks in turn')
  })

  it('reads a cap below 1 as 1, not as no cap', async () => {
    const { outcomes, stats } = await atOnce(3, 100, { connectionsPerOrigin: 0 })
    assert.ok(outcomes.every((o) => o.status === 'pass'))
    assert.equal(stats.most, 1)
  })

  it('opens a connection per check in flight up to the default of 64', async () => {
    const { outcomes, stats } = await atOnce(12, 150)
    assert.ok(outcomes.every((o) => o.status === 'pass'))
    assert.equal(stats.most, 12)
  })

  it('counts the wait for a free connection against the deadline', async () => {
    const server = await slowServer(1200)
    // Timeout 1500 ms; one connection: the first answers after 1.2 s, the second would after 2.4 s.
    const checkers = [0, 1].map((i) =>
      httpChecker(checkOf(`${server.url}/t/${i}`), undefined, { connectionsPerOrigin: 1 }),
    )
    try {
      const started = performance.now()
      const [first, second] = await Promise.all(checkers.map((c) => c.run()))
      assert.equal(first?.status, 'pass')
      assert.equal(second?.status, 'fail')
      assert.match(second?.output ?? '', /timed out after 1500 ms/)
      assert.ok(performance.now() - started < 2300, 'the second ended at its deadline, not after its answer')
      assert.equal(server.stats.most, 1)
    } finally {
      await Promise.all(checkers.map((c) => c.close()))
      await server.close()
    }
  })
})
