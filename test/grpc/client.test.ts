/**
 * probekit's gRPC health client (the `grpc` probe, `probekit check grpc://`) against the
 * official grpc-health-check package's server in its own process, so it can be frozen.
 */
import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttp2Server } from 'node:http2'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import * as grpcJs from '@grpc/grpc-js'
import { runProbe } from '../../src/core/run-probe.js'
import { grpc, parseGrpcTarget } from '../../src/probes/grpc.js'
import { buildCli, cli } from '../cli/run-cli.js'
import { freezeFully } from '../support/freeze.js'
import { startReferenceGrpcServer } from '../support/grpc-reference.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { type ManagedProcess, refusedPort } from '../support/server-process.js'
import { makeTestCa, type TestCa } from '../support/test-ca.js'

const reference = startReferenceGrpcServer

describe('grpc probe and probekit check grpc:// against grpc-health-check', () => {
  let plain: { proc: ManagedProcess; port: number }
  let bare: { proc: ManagedProcess; port: number }
  let secure: { proc: ManagedProcess; port: number }
  let ca: TestCa

  before(async () => {
    ca = makeTestCa()
    buildCli()
    ;[plain, bare, secure] = await Promise.all([
      reference('--status', 'payments=NOT_SERVING', '--status', 'orders=SERVING'),
      reference('--no-health'),
      reference('--tls', ca.serverCert, ca.serverKey),
    ])
  })

  after(async () => {
    await Promise.all([plain.proc.stop(), bare.proc.stop(), secure.proc.stop()])
  })

  it('passes on SERVING, for the whole server and for a named service', async () => {
    for (const target of [`grpc://127.0.0.1:${plain.port}`, `grpc://127.0.0.1:${plain.port}/orders`]) {
      const result = await runProbe(grpc(target), { timeoutMs: 2000 })
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'SERVING')
      assert.equal(result.componentId, `127.0.0.1:${plain.port}`)
    }
  })

  it('fails on NOT_SERVING and on an unknown service (NOT_FOUND), saying which', async () => {
    const notServing = await runProbe(grpc(`grpc://127.0.0.1:${plain.port}/payments`), { timeoutMs: 2000 })
    assert.equal(notServing.status, 'fail')
    assert.equal(notServing.output, `grpc 127.0.0.1:${plain.port} service "payments": NOT_SERVING`)
    const unknown = await runProbe(grpc(`grpc://127.0.0.1:${plain.port}`, { service: 'nope' }), { timeoutMs: 2000 })
    assert.equal(
      unknown.output,
      `grpc 127.0.0.1:${plain.port} service "nope": the server does not know this service (NOT_FOUND)`,
    )
  })

  it('says the server has no health service (UNIMPLEMENTED)', async () => {
    const result = await runProbe(grpc(`grpc://127.0.0.1:${bare.port}`), { timeoutMs: 2000 })
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `grpc 127.0.0.1:${bare.port}: the server has no health service (UNIMPLEMENTED)`)
  })

  it('fails with UNAVAILABLE when the server is down', async () => {
    const down = await refusedPort()
    const result = await runProbe(grpc(`grpc://127.0.0.1:${down}`), { timeoutMs: 2000 })
    assert.equal(result.output, `grpc 127.0.0.1:${down}: UNAVAILABLE: connection refused (ECONNREFUSED)`)
  })

  it('speaks TLS with a private CA, fails on an untrusted certificate, and accepts any with insecure', async () => {
    const target = `grpcs://localhost:${secure.port}/`
    const trusted = await runProbe(grpc(target, { ca: ca.read(ca.caCert) }), { timeoutMs: 3000 })
    assert.equal(trusted.status, 'pass', trusted.output)
    const untrusted = await runProbe(grpc(target), { timeoutMs: 3000 })
    assert.equal(untrusted.status, 'fail')
    assert.match(untrusted.output ?? '', /UNAVAILABLE: TLS certificate not trusted/)
    const insecure = await runProbe(grpc(target, { insecure: true }), { timeoutMs: 3000 })
    assert.equal(insecure.status, 'pass', insecure.output)
    const plainToTls = await runProbe(grpc(`grpcs://127.0.0.1:${plain.port}`), { timeoutMs: 3000 })
    assert.match(plainToTls.output ?? '', /the server does not speak TLS/)
  })

  it('says so when the port is not gRPC: TLS-only, HTTP/1.1, TLS without HTTP/2', async () => {
    const plainToTls = await runProbe(grpc(`grpc://127.0.0.1:${secure.port}`), { timeoutMs: 3000 })
    assert.equal(plainToTls.status, 'fail')
    assert.match(plainToTls.output ?? '', /UNAVAILABLE: .*; if the port takes TLS, write grpcs:\/\/$/)
    const web = createHttpServer((_req, res) => res.end('ok'))
    const webTls = createHttpsServer({ cert: ca.read(ca.serverCert), key: ca.read(ca.serverKey) }, (_req, res) =>
      res.end('ok'),
    )
    await Promise.all([web, webTls].map((server) => new Promise<void>((r) => server.listen(0, '127.0.0.1', r))))
    try {
      const http1 = await runProbe(grpc(`grpc://127.0.0.1:${(web.address() as AddressInfo).port}`), {
        timeoutMs: 3000,
      })
      assert.match(http1.output ?? '', /UNAVAILABLE: the server does not speak HTTP\/2, as a gRPC server does/)
      const noH2 = await runProbe(
        grpc(`grpcs://localhost:${(webTls.address() as AddressInfo).port}`, { ca: ca.read(ca.caCert) }),
        { timeoutMs: 3000 },
      )
      assert.match(noH2.output ?? '', /UNAVAILABLE: the server offers no HTTP\/2 over TLS \(ALPN "h2"\)/)
    } finally {
      for (const server of [web, webTls]) {
        server.closeAllConnections()
        server.close()
      }
    }
  })

  it('reads the answer that comes with a graceful GOAWAY (a server’s max connection age), as grpc-js does', async () => {
    const { createHealth } = await import('../../src/health.js')
    const { addHealthService } = await import('../../src/grpc/server.js')
    const health = createHealth({ logger: false })
    health.add('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 300)))
    // A connection older than 100 ms is told to go away; the calls it carries have 5 s to finish.
    const server = new grpcJs.Server({ 'grpc.max_connection_age_ms': 100, 'grpc.max_connection_age_grace_ms': 5000 })
    addHealthService(server, health)
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    )
    try {
      const result = await runProbe(grpc(`grpc://127.0.0.1:${port}/ready`), { timeoutMs: 3000 })
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, 'SERVING')
      // A GOAWAY that leaves the call out still fails it, saying so.
      const refusing = createHttp2Server()
      refusing.on('session', (session) => session.goaway(0, 0))
      await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r))
      try {
        const left = await runProbe(grpc(`grpc://127.0.0.1:${(refusing.address() as AddressInfo).port}`), {
          timeoutMs: 3000,
        })
        assert.equal(left.status, 'fail')
        assert.match(left.output ?? '', /UNAVAILABLE: the server closed the connection$/)
      } finally {
        refusing.close()
      }
    } finally {
      server.forceShutdown()
      await health.close()
    }
  })

  it('reads a grpc-status that is no number (or empty) as UNKNOWN, naming it, never as NaN or OK', async () => {
    let status = ''
    const server = createHttp2Server((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': status })
        res.end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const target = `grpc://127.0.0.1:${(server.address() as AddressInfo).port}/orders`
    try {
      for (const sent of ['abc', '', '0x0']) {
        status = sent
        const result = await runProbe(grpc(target), { timeoutMs: 3000 })
        assert.equal(result.status, 'fail', `grpc-status ${JSON.stringify(sent)}`)
        assert.equal(
          result.output,
          `grpc 127.0.0.1:${(server.address() as AddressInfo).port} service "orders": UNKNOWN: the server sent grpc-status ${JSON.stringify(sent)}, which is not a status code`,
        )
      }
    } finally {
      server.close()
    }
  })

  it('names the target when the answer is not a HealthCheckResponse (a protobuf cut short)', async () => {
    const server = createHttp2Server((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/grpc' })
        res.addTrailers({ 'grpc-status': '0' })
        // One message of 3 bytes: field 1, then a varint whose last byte still says "more".
        res.end(Buffer.from([0, 0, 0, 0, 3, 0x08, 0x81, 0x80]))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    try {
      const result = await runProbe(grpc(`grpc://127.0.0.1:${port}/orders`), { timeoutMs: 3000 })
      assert.equal(result.status, 'fail')
      assert.equal(
        result.output,
        `grpc 127.0.0.1:${port} service "orders": INTERNAL: the response is not a HealthCheckResponse: a protobuf varint is cut short`,
      )
    } finally {
      server.close()
    }
  })

  it('uses an app’s own grpc-js client and its channel', async () => {
    const client = new grpcJs.Client(`127.0.0.1:${plain.port}`, grpcJs.credentials.createInsecure())
    try {
      assert.equal((await runProbe(grpc(client, { service: 'orders' }), { timeoutMs: 2000 })).status, 'pass')
      const failed = await runProbe(grpc(client, { service: 'payments' }), { timeoutMs: 2000 })
      assert.equal(failed.output, 'grpc service "payments": NOT_SERVING')
      const unknown = await runProbe(grpc(client, { service: 'nope' }), { timeoutMs: 2000 })
      assert.match(unknown.output ?? '', /NOT_FOUND/)
    } finally {
      client.close()
    }
  })

  it('probekit check grpc:// prints one line per target and exits 0 or 1', async () => {
    const ok = await cli(['check', `grpc://127.0.0.1:${plain.port}/orders`])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.match(ok.stdout, new RegExp(`^ok grpc://127.0.0.1:${plain.port}/orders SERVING in [\\d.]+ ms\\n$`))
    const failed = await cli(['check', `grpc://127.0.0.1:${plain.port}/payments`, `grpc://127.0.0.1:${bare.port}`])
    assert.equal(failed.code, 1)
    const lines = failed.stdout.trim().split('\n')
    assert.equal(lines.length, 2)
    assert.match(lines[0] as string, /^failed grpc:\/\/127\.0\.0\.1:\d+\/payments: .*NOT_SERVING$/)
    assert.match(lines[1] as string, /the server has no health service \(UNIMPLEMENTED\)$/)
    const tls = await cli(['check', '--ca', ca.caCert, `grpcs://localhost:${secure.port}`])
    assert.equal(tls.code, 0, tls.stdout)
  })

  it('rejects malformed grpc targets in one sentence', async () => {
    assert.throws(() => parseGrpcTarget('grpc://127.0.0.1'), /names no port; write grpc:\/\/host:port/)
    assert.throws(() => parseGrpcTarget('grpc://h:1/a/b'), /more than one path segment/)
    const usage = await cli(['check', 'grpc://127.0.0.1'])
    assert.equal(usage.code, 1)
    assert.match(usage.stdout + usage.stderr, /names no port/)
  })
})

describe('grpc probe against a stalled server (SIGSTOP)', () => {
  let frozen: { proc: ManagedProcess; port: number }

  before(async () => {
    frozen = await reference()
    await freezeFully(frozen.proc)
  })

  after(async () => {
    await frozen.proc.stop()
  })

  it('fails by its deadline', async () => {
    const started = performance.now()
    const result = await runProbe(grpc(`grpc://127.0.0.1:${frozen.port}`), { timeoutMs: 300 })
    assert.equal(result.status, 'fail')
    assert.equal(result.output, 'timed out after 300 ms')
    assert.ok(performance.now() - started < 1300)
  })

  it('leaves no sockets, timers or listeners after 1,000 checks timed out', async () => {
    const probe = grpc(`grpc://127.0.0.1:${frozen.port}`)
    await expectNoLeakedResources(() =>
      repeat(1000, 50, async () => assert.equal((await runProbe(probe, { timeoutMs: 50 })).status, 'fail')),
    )
  })

  it('a grpc-js client call is cancelled at the deadline', async () => {
    const client = new grpcJs.Client(`127.0.0.1:${frozen.port}`, grpcJs.credentials.createInsecure())
    try {
      const result = await runProbe(grpc(client), { timeoutMs: 200 })
      assert.equal(result.output, 'timed out after 200 ms')
    } finally {
      client.close()
    }
  })
})
