/**
 * Certificate expiry: https and grpcs checks warn `cert_expiry_warning` days (default 14)
 * before the earliest certificate of the chain expires and are critical while one is
 * expired or not yet valid, with the subject and the date in the output — against real TLS
 * servers holding certificates the test CA issues with the dates each case needs.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Checker } from '../../src/monitor/checkers/checker.js'
import { grpcChecker } from '../../src/monitor/checkers/grpc.js'
import { httpChecker } from '../../src/monitor/checkers/http.js'
import {
  type GrpcCheckSpec,
  type HttpCheckSpec,
  type ManifestError,
  parseManifest,
} from '../../src/monitor/manifest.js'
import { startReferenceGrpcServer } from '../support/grpc-reference.js'
import { type Fleet, getJson, startFleet } from '../support/monitor-fleet.js'
import type { ManagedProcess } from '../support/server-process.js'
import { issueCertificate, makeTestCa, type TestCa } from '../support/test-ca.js'

const DAY = 86_400_000

/** A certificate's date as the output shows it: whole seconds, as `openssl ca` wrote it. */
function shown(date: Date): string {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z')
}

interface Dated {
  cert: string
  key: string
  notBefore: Date
  notAfter: Date
}

function dated(ca: TestCa, name: string, fromDays: number, toDays: number): Dated {
  const now = Date.now()
  const notBefore = new Date(now + fromDays * DAY)
  const notAfter = new Date(now + toDays * DAY)
  const files = issueCertificate(ca, name, {
    subject: `/CN=${name}.test`,
    san: `DNS:${name}.test,DNS:localhost,IP:127.0.0.1`,
    extendedKeyUsage: 'serverAuth',
    notBefore,
    notAfter,
  })
  return { ...files, notBefore, notAfter }
}

/** An HTTPS server with one certificate: `/ok` 200, `/fail` 500, `/busy` 429. */
async function httpsServer(ca: TestCa, cert: { cert: string; key: string }) {
  const sockets = new Set<Socket>()
  const server: Server = createServer({ cert: ca.read(cert.cert), key: ca.read(cert.key) }, (req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : req.url === '/busy' ? 429 : 200
    res.end(req.url === '/fail' ? 'database is down\n' : 'all good\n')
  })
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    /** Serves another certificate from now on, dropping the connections made with the old one. */
    rotate: (next: { cert: string; key: string }) => {
      server.setSecureContext({ cert: ca.read(next.cert), key: ca.read(next.key) })
      for (const s of sockets) s.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

function specsOf(yaml: string): ReturnType<typeof parseManifest>[number]['checks'] {
  return parseManifest(yaml, '/tmp/certs.yaml', { node: 'n' }).flatMap((p) => p.checks)
}

describe('certificate expiry in manifests', () => {
  it('reads cert_expiry_warning per check, with the pod’s as the default of its TLS checks', () => {
    const checks = specsOf(
      [
        'id: shop',
        'status_port: 8443',
        'cert_expiry_warning: 30',
        'checks:',
        '  - { name: api, url: "https://api.example/health", cert_expiry_warning: 7 }',
        '  - { name: web, url: "https://web.example/health" }',
        '  - { name: plain, url: "http://web.example/health" }',
        '  - { name: orders, url: "grpcs://orders.example:50051", cert_expiry_warning: 0 }',
        '  - { name: stock, url: "grpc://stock.example:50051" }',
      ].join('\n'),
    )
    const days = Object.fromEntries(
      checks.map((c) => [c.check, (c as HttpCheckSpec | GrpcCheckSpec).certExpiryWarningDays]),
    )
    // The p2 status check is https by default, so the pod's value reaches it too.
    assert.deepEqual(days, { health_check: 30, api: 7, web: 30, plain: undefined, orders: 0, stock: undefined })
    const [alone] = specsOf('id: t\nchecks:\n  - { name: c, url: "https://api.example/" }')
    assert.equal((alone as HttpCheckSpec).certExpiryWarningDays, undefined, 'the checker applies the default, 14')
  })

  it('refuses a value that is not a whole number of days, and the key on a check without TLS', () => {
    const refused = (line: string, pattern: RegExp) =>
      assert.throws(
        () => specsOf(`id: t\nchecks:\n  - { name: c, ${line} }`),
        (e: ManifestError) => pattern.test(e.message),
      )
    for (const value of ['-1', '1.5', '"14d"', '3651', 'true'])
      refused(
        `url: "https://a.example/", cert_expiry_warning: ${value}`,
        /checks\[0\]\.cert_expiry_warning: .* is not a number of days; use a whole number from 0 \(no warning\) to 3650/,
      )
    refused('url: "http://a.example/", cert_expiry_warning: 7', /cert_expiry_warning: applies to https checks/)
    refused('url: "grpc://a.example:1", cert_expiry_warning: 7', /cert_expiry_warning: applies to grpcs checks/)
    assert.throws(
      () => specsOf('id: t\ncert_expiry_warning: soon\nchecks:\n  - { name: c, url: "https://a.example/" }'),
      (e: ManifestError) => /certs\.yaml:2: cert_expiry_warning: "soon" is not a number of days/.test(e.message),
    )
  })
})

describe('certificate expiry of https checks', () => {
  let ca: TestCa
  const certs = {} as Record<'soon' | 'ten' | 'expired' | 'future', Dated>
  const servers: Record<string, Awaited<ReturnType<typeof httpsServer>>> = {}
  const checkers: Checker[] = []

  const check = (server: string, path: string, extra = '') => {
    const [spec] = specsOf(
      `id: t\nchecks:\n  - name: c\n    url: https://127.0.0.1:${servers[server]?.port}${path}\n` +
        `    interval: 10s\n    timeout: 5s\n${extra}`,
    )
    const checker = httpChecker(spec as HttpCheckSpec)
    checkers.push(checker)
    return checker.run()
  }
  const trusting = () => `    tls: { ca_file: "${ca.caCert}" }\n`

  before(async () => {
    ca = makeTestCa()
    certs.soon = dated(ca, 'soon', -1, 3)
    certs.ten = dated(ca, 'ten', -1, 10)
    certs.expired = dated(ca, 'expired', -30, -2)
    certs.future = dated(ca, 'future', 5, 60)
    const entries = await Promise.all(
      [...Object.entries(certs), ['fine', { cert: ca.serverCert, key: ca.serverKey }] as const].map(
        async ([name, cert]) => [name, await httpsServer(ca, cert)] as const,
      ),
    )
    for (const [name, server] of entries) servers[name] = server
  })

  after(async () => {
    await Promise.all(checkers.map((c) => c.close()))
    await Promise.all(Object.values(servers).map((s) => s.close()))
  })

  it('warns when the certificate expires within 14 days, naming it and its date', async () => {
    const outcome = await check('soon', '/ok', trusting())
    assert.equal(outcome.status, 'warn', outcome.output)
    const [first, second] = outcome.output.split('\n')
    assert.equal(first, `certificate CN=soon.test expires in 3 days (${shown(certs.soon.notAfter)})`)
    assert.match(second ?? '', /^HTTP GET https:\/\/127\.0\.0\.1:\d+\/ok: 200 OK Output: all good$/)
    assert.equal(outcome.facts.sslSubject, 'CN=soon.test')
    assert.equal(outcome.facts.sslEarliestExpiry, Math.floor(certs.soon.notAfter.getTime() / 1000))
  })

  it('passes with a certificate valid beyond the warning, and records it all the same', async () => {
    const outcome = await check('fine', '/ok', trusting())
    assert.equal(outcome.status, 'pass', outcome.output)
    assert.doesNotMatch(outcome.output, /certificate/)
    assert.equal(outcome.facts.sslSubject, 'CN=localhost')
    assert.ok(outcome.facts.sslEarliestExpiry !== undefined)
  })

  it('takes the default of 14 days, and cert_expiry_warning from the manifest over it (0: never)', async () => {
    const ten = await check('ten', '/ok', trusting())
    assert.equal(ten.status, 'warn')
    assert.equal(ten.facts.sslWarningDays, 14, 'the warning in force is reported beside the certificate')
    const seven = await check('ten', '/ok', `${trusting()}    cert_expiry_warning: 7\n`)
    assert.equal(seven.status, 'pass')
    assert.equal(seven.facts.sslWarningDays, 7)
    const off = await check('soon', '/ok', `${trusting()}    cert_expiry_warning: 0\n`)
    assert.equal(off.status, 'pass', off.output)
    assert.equal(off.facts.sslSubject, 'CN=soon.test', 'the facts are still recorded')
    assert.equal(off.facts.sslWarningDays, 0)
  })

  it('is critical for an expired certificate that verification refused, saying which and when', async () => {
    const outcome = await check('expired', '/ok', trusting())
    assert.equal(outcome.status, 'fail')
    const [first, second] = outcome.output.split('\n')
    // Node's words for the refusal, then which certificate and when.
    assert.match(first ?? '', /^HTTP GET https:\/\/127\.0\.0\.1:\d+\/ok: certificate has expired$/)
    assert.equal(second, `certificate CN=expired.test expired on ${shown(certs.expired.notAfter)} (2 days ago)`)
    assert.equal(outcome.facts.sslSubject, 'CN=expired.test')
  })

  it('is critical for an expired certificate also when the check accepts any certificate (insecure)', async () => {
    const outcome = await check('expired', '/ok', '    tls: { insecure: true }\n')
    assert.equal(outcome.status, 'fail')
    const [first, second] = outcome.output.split('\n')
    // The certificate is why the check fails: its line leads, the answer follows.
    assert.match(first ?? '', /^certificate CN=expired\.test expired on \S+Z \(2 days ago\)$/)
    assert.match(second ?? '', /: 200 OK Output: all good$/)
  })

  it('is critical for a certificate not valid yet, verified or not', async () => {
    const refused = await check('future', '/ok', trusting())
    assert.equal(refused.status, 'fail')
    assert.match(refused.output, /^HTTP GET \S+: certificate is not yet valid\n/)
    assert.match(
      refused.output,
      new RegExp(
        `\\ncertificate CN=future\\.test is not valid yet: not before ${shown(certs.future.notBefore)} \\(in 5 days\\)$`,
      ),
    )
    const accepted = await check('future', '/ok', '    tls: { insecure: true }\n')
    assert.equal(accepted.status, 'fail')
    assert.match(accepted.output, /^certificate CN=future\.test is not valid yet/)
  })

  it('forgets the certificates an earlier handshake saw once the server sends ones it cannot verify', async () => {
    const server = await httpsServer(ca, certs.soon)
    servers.rotating = server
    assert.equal((await check('rotating', '/ok', trusting())).status, 'warn')
    server.rotate({ cert: ca.untrustedCert, key: ca.untrustedKey })
    const outcome = await check('rotating', '/ok', trusting())
    assert.equal(outcome.status, 'fail')
    // Node 26 adds a hint of its own ("; if the root CA is installed locally, try … --use-system-ca").
    assert.match(outcome.output, /^HTTP GET \S+: self.signed certificate(;[^\n]*)?$/)
    assert.equal(outcome.facts.sslSubject, undefined)
  })

  it('keeps the failure of an otherwise failing check first, the certificate after it; the worse status wins', async () => {
    const failing = await check('soon', '/fail', trusting())
    assert.equal(failing.status, 'fail')
    const [first, second] = failing.output.split('\n')
    assert.match(first ?? '', /: 500 Internal Server Error Output: database is down$/)
    assert.match(second ?? '', /^certificate CN=soon\.test expires in 3 days/)
    const busy = await check('soon', '/busy', trusting())
    assert.equal(busy.status, 'warn')
    assert.match(busy.output, /: 429 Too Many Requests Output: all good\ncertificate CN=soon\.test expires in 3 days/)
  })
})

describe('certificate expiry of grpcs checks', () => {
  let ca: TestCa
  let soon: Dated
  let expired: Dated
  const servers: Record<string, { proc: ManagedProcess; port: number }> = {}

  const check = (server: string, extra = '') => {
    const [spec] = specsOf(
      `id: t\nchecks:\n  - name: c\n    url: grpcs://localhost:${servers[server]?.port}\n` +
        `    interval: 10s\n    timeout: 5s\n${extra}`,
    )
    return grpcChecker(spec as GrpcCheckSpec).run()
  }

  before(async () => {
    ca = makeTestCa()
    soon = dated(ca, 'soon', -1, 3)
    expired = dated(ca, 'expired', -30, -2)
    const [a, b] = await Promise.all([
      startReferenceGrpcServer('--tls', soon.cert, soon.key),
      startReferenceGrpcServer('--tls', expired.cert, expired.key),
    ])
    servers.soon = a
    servers.expired = b
  })

  after(async () => {
    await Promise.all(Object.values(servers).map((s) => s.proc.stop()))
  })

  it('warns before the certificate expires, and records its expiry and subject', async () => {
    const outcome = await check('soon', `    tls: { ca_file: "${ca.caCert}" }\n`)
    assert.equal(outcome.status, 'warn', outcome.output)
    assert.equal(
      outcome.output,
      `certificate CN=soon.test expires in 3 days (${shown(soon.notAfter)})\ngRPC grpcs://localhost:${servers.soon?.port}: SERVING`,
    )
    assert.equal(outcome.facts.sslSubject, 'CN=soon.test')
    assert.equal(outcome.facts.sslEarliestExpiry, Math.floor(soon.notAfter.getTime() / 1000))
    const quiet = await check('soon', `    tls: { ca_file: "${ca.caCert}" }\n    cert_expiry_warning: 2\n`)
    assert.equal(quiet.status, 'pass', quiet.output)
  })

  it('is critical for an expired certificate, refused by verification or accepted with insecure', async () => {
    const refused = await check('expired', `    tls: { ca_file: "${ca.caCert}" }\n`)
    assert.equal(refused.status, 'fail')
    assert.match(refused.output, /^gRPC grpcs:\/\/localhost:\d+: UNAVAILABLE: TLS certificate expired/)
    assert.match(
      refused.output,
      new RegExp(`\\ncertificate CN=expired\\.test expired on ${shown(expired.notAfter)} \\(2 days ago\\)$`),
    )
    const accepted = await check('expired', '    tls: { insecure: true }\n')
    assert.equal(accepted.status, 'fail')
    assert.match(accepted.output, /^certificate CN=expired\.test expired on .*\ngRPC grpcs:\/\/localhost:\d+: SERVING$/)
    assert.equal(accepted.facts.sslSubject, 'CN=expired.test')
  })
})

describe('certificate expiry in a running monitor', () => {
  let ca: TestCa
  let server: Awaited<ReturnType<typeof httpsServer>>
  let fleet: Fleet

  before(async () => {
    ca = makeTestCa()
    const soon = dated(ca, 'soon', -1, 3)
    server = await httpsServer(ca, soon)
    fleet = await startFleet({
      store: 'sqlite',
      manifests: () => ({
        'shop.yaml': [
          'id: shop',
          'node: n1',
          'checks:',
          `  - { name: api, url: "https://127.0.0.1:${server.port}/ok", interval: 1s, tls: { ca_file: "${ca.caCert}" } }`,
        ].join('\n'),
      }),
    })
  })

  after(async () => {
    await fleet?.close()
    await server?.close()
  })

  it('turns the check to warning and serves the subject and the expiry in its state', async () => {
    const state = await fleet.waitForState('n1/shop/api', 'warning')
    assert.equal(state.sslSubject, 'CN=soon.test')
    assert.match(state.output, /^certificate CN=soon\.test expires in 3 days \(\S+Z\)\nHTTP GET /)
    const { body } = await getJson(`${fleet.url}/v1/checks/n1/shop/api`)
    const served = body as Record<string, unknown>
    assert.equal(served.sslSubject, 'CN=soon.test')
    assert.equal(served.sslEarliestExpiry, state.sslEarliestExpiry)
    assert.equal(served.state, 'warning')
  })
})
