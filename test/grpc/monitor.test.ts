/**
 * The monitor's `grpc` check type: manifests, the checker against the grpc-health-check
 * package's server (plain and TLS with a private CA), thresholds, and the blackbox
 * exporter's `probe_grpc_*` metrics from a real monitor process.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { grpcChecker } from '../../src/monitor/checkers/grpc.js'
import { type GrpcCheckSpec, type ManifestError, parseManifest } from '../../src/monitor/manifest.js'
import { freezeFully } from '../support/freeze.js'
import { startReferenceGrpcServer } from '../support/grpc-reference.js'
import { request, spawnMonitor } from '../support/monitor-process.js'
import { type ManagedProcess, makeTempDir, refusedPort, waitFor } from '../support/server-process.js'
import { makeTestCa, type TestCa } from '../support/test-ca.js'

const reference = startReferenceGrpcServer

function specOf(lines: string, file = '/tmp/t.yaml'): GrpcCheckSpec {
  const [check] = parseManifest(`id: t\nchecks:\n  - name: c\n${lines}`, file, { node: 'n' }).flatMap((p) => p.checks)
  assert.equal(check?.kind, 'grpc')
  return check as GrpcCheckSpec
}

describe('monitor grpc checks', () => {
  let plain: { proc: ManagedProcess; port: number }
  let secure: { proc: ManagedProcess; port: number }
  let ca: TestCa

  before(async () => {
    ca = makeTestCa()
    ;[plain, secure] = await Promise.all([
      reference('--status', 'payments=NOT_SERVING', '--status', 'orders=SERVING'),
      reference('--tls', ca.serverCert, ca.serverKey),
    ])
  })

  after(async () => {
    await Promise.all([plain.proc.stop(), secure.proc.stop()])
  })

  it('reads grpc and grpcs checks from manifests: url, service, port, tls', () => {
    const byUrl = specOf(`    url: grpc://127.0.0.1:50051/orders.v1.Orders\n`)
    assert.deepEqual(
      [byUrl.host, byUrl.port, byUrl.service, byUrl.tls],
      ['127.0.0.1', 50051, 'orders.v1.Orders', undefined],
    )
    assert.equal(byUrl.target, 'grpc://127.0.0.1:50051/orders.v1.Orders')
    const byType = specOf(
      `    type: grpcs\n    host: orders.internal\n    port: 50051\n    service: ready\n    tls:\n      ca_file: ca.pem\n`,
    )
    assert.equal(byType.target, 'grpcs://orders.internal:50051/ready')
    assert.equal(byType.tls?.caFile, '/tmp/ca.pem')
    assert.throws(
      () => specOf(`    type: grpc\n    url: grpc://h:1\n    tls:\n      insecure: true\n`),
      (e: ManifestError) => /tls: applies to grpcs checks/.test(e.message),
    )
    assert.throws(
      () => specOf(`    type: grpc\n    url: grpc://h:1\n    servce: x\n`),
      (e: ManifestError) => /unknown key for a grpc check; did you mean "service"\?/.test(e.message),
    )
  })

  it('is passing on SERVING and critical on NOT_SERVING, NOT_FOUND and a server that is down', async () => {
    const ok = await grpcChecker(specOf(`    url: grpc://127.0.0.1:${plain.port}/orders\n`)).run()
    assert.deepEqual(
      [ok.status, ok.output, ok.facts.grpcStatusCode, ok.facts.grpcServingStatus],
      ['pass', `gRPC grpc://127.0.0.1:${plain.port}/orders: SERVING`, 0, 'SERVING'],
    )
    const notServing = await grpcChecker(specOf(`    url: grpc://127.0.0.1:${plain.port}/payments\n`)).run()
    assert.deepEqual([notServing.status, notServing.facts.grpcServingStatus], ['fail', 'NOT_SERVING'])
    const unknown = await grpcChecker(specOf(`    url: grpc://127.0.0.1:${plain.port}/nope\n`)).run()
    assert.equal(unknown.status, 'fail')
    assert.equal(unknown.facts.grpcStatusCode, 5)
    assert.match(unknown.output, /does not know this service \(NOT_FOUND\)/)
    const down = await refusedPort()
    const refused = await grpcChecker(specOf(`    url: grpc://127.0.0.1:${down}\n`)).run()
    assert.equal(refused.facts.grpcStatusCode, 14)
    assert.match(refused.output, /UNAVAILABLE: connection refused/)
  })

  it('speaks TLS with the manifest’s CA file, and is critical for an untrusted certificate', async () => {
    const trusted = await grpcChecker(
      specOf(`    url: grpcs://localhost:${secure.port}\n    tls:\n      ca_file: ${ca.caCert}\n`),
    ).run()
    assert.equal(trusted.status, 'pass', trusted.output)
    const untrusted = await grpcChecker(specOf(`    url: grpcs://localhost:${secure.port}\n`)).run()
    assert.equal(untrusted.status, 'fail')
    assert.match(untrusted.output, /TLS certificate not trusted/)
  })

  it('ends at its deadline when the server is frozen', async () => {
    const frozen = await reference()
    try {
      await freezeFully(frozen.proc)
      const started = performance.now()
      const outcome = await grpcChecker(
        specOf(`    url: grpc://127.0.0.1:${frozen.port}\n    interval: 5s\n    timeout: 300ms\n`),
      ).run()
      assert.equal(outcome.output, 'timed out after 300 ms')
      assert.ok(performance.now() - started < 2000)
    } finally {
      await frozen.proc.stop()
    }
  })

  it('a monitor process serves probe_grpc_status_code and probe_grpc_healthcheck_response', async () => {
    const dir = makeTempDir('grpc-monitor')
    writeFileSync(
      join(dir, 'shop.yaml'),
      [
        'id: shop',
        'checks:',
        '  - name: orders',
        `    url: grpc://127.0.0.1:${plain.port}/orders`,
        '    interval: 1s',
        '  - name: payments',
        `    url: grpc://127.0.0.1:${plain.port}/payments`,
        '    interval: 1s',
        '',
      ].join('\n'),
    )
    const monitor = await spawnMonitor(['--store', 'memory', '--listen', '127.0.0.1:0', '--node', 'n1', dir]).started()
    try {
      const seen = (text: string, check: string) =>
        new RegExp(`probe_grpc_status_code\\{[^}]*check="${check}"`).test(text)
      const metrics = await waitFor(
        'both gRPC checks to be checked',
        async () => {
          const text = String((await request(`${monitor.url}/metrics`)).body)
          return seen(text, 'orders') && seen(text, 'payments') ? text : undefined
        },
        20_000,
      )
      const line = (name: string, check: string, extra = '') =>
        new RegExp(`^${name}\\{pod="shop",node="n1",check="${check}",instance="[^"]+"${extra}\\} (\\S+)$`, 'm')
      assert.equal(line('probe_grpc_status_code', 'orders').exec(metrics)?.[1], '0')
      assert.equal(
        line('probe_grpc_healthcheck_response', 'orders', ',serving_status="SERVING"').exec(metrics)?.[1],
        '1',
      )
      assert.equal(
        line('probe_grpc_healthcheck_response', 'payments', ',serving_status="NOT_SERVING"').exec(metrics)?.[1],
        '1',
      )
      assert.equal(line('probe_success', 'payments').exec(metrics)?.[1], '0')
      const checks = (await request(`${monitor.url}/v1/checks`)).body as { check: string; state: string }[]
      assert.deepEqual(checks.map((c) => [c.check, c.state]).sort(), [
        ['orders', 'passing'],
        ['payments', 'critical'],
      ])
    } finally {
      await monitor.stop()
    }
  })
})
