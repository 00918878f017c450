/**
 * `probekit gen k8s --grpc PORT`: native Kubernetes gRPC probes whose service names
 * addHealthService answers and whose timeouts come from the probes' deadlines exactly as
 * the HTTP probes' do.
 */
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import * as grpcJs from '@grpc/grpc-js'
import { parse as parseYaml } from 'yaml'
import { checkHealth } from '../../src/grpc/client.js'
import { ServingStatus } from '../../src/grpc/protocol.js'
import { addHealthService } from '../../src/grpc/server.js'
import { createHealth } from '../../src/health.js'
import { buildCli, cli, ROOT } from '../cli/run-cli.js'

const APP = `${ROOT}test/fixtures/cli/app-health.mjs`
type Probe = Record<string, unknown> & { grpc?: { port: number; service: string } }
const FIELDS = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const

describe('probekit gen k8s --grpc', () => {
  before(() => buildCli())

  it('writes grpc probes for live, ready and startup with the HTTP probes’ timeouts', async () => {
    const grpc = await cli(['gen', 'k8s', '--grpc', '50051', '--config', APP])
    const http = await cli(['gen', 'k8s', '--port', '9000', '--config', APP])
    assert.equal(grpc.code, 0, grpc.stdout + grpc.stderr)
    const doc = parseYaml(grpc.stdout) as Record<string, Probe>
    const httpDoc = parseYaml(http.stdout) as Record<string, Probe>
    for (const [field, service] of [
      ['livenessProbe', 'live'],
      ['readinessProbe', 'ready'],
      ['startupProbe', 'startup'],
    ] as const) {
      const probe = doc[field] as Probe
      assert.deepEqual(probe.grpc, { port: 50051, service })
      assert.equal(probe.httpGet, undefined)
      const { grpc: _g, ...timing } = probe
      const { httpGet: _h, ...httpTiming } = httpDoc[field] as Probe
      assert.deepEqual(timing, httpTiming, `${field} is timed as the HTTP probe is`)
    }
    assert.match(grpc.stdout, /readiness timeout 3 s: slowest readiness deadline 2500 ms \(database\) \+ 100 ms margin/)
  })

  it('names services that addHealthService answers', async () => {
    const run = await cli(['gen', 'k8s', '--grpc', '50051'])
    const doc = parseYaml(run.stdout) as Record<string, Probe>
    const health = createHealth({ logger: false })
    const server = new grpcJs.Server()
    addHealthService(server, health)
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpcJs.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    )
    try {
      for (const field of FIELDS) {
        const service = (doc[field] as Probe).grpc?.service as string
        const status = await checkHealth({ host: '127.0.0.1', port }, service, { signal: AbortSignal.timeout(2000) })
        assert.equal(status, ServingStatus.SERVING, service)
      }
    } finally {
      server.forceShutdown()
      await health.close()
    }
  })

  it('refuses flags of other probe kinds and a named port, in one sentence', async () => {
    const withPort = await cli(['gen', 'k8s', '--grpc', '50051', '--port', '9000'])
    assert.equal(withPort.code, 1)
    assert.match(withPort.stdout + withPort.stderr, /usage error: --grpc makes gRPC probes on its own port/)
    const named = await cli(['gen', 'k8s', '--grpc', 'grpc'])
    assert.match(named.stdout + named.stderr, /--grpc "grpc" is not a port; use a number from 1 to 65535/)
    const docker = await cli(['gen', 'docker', '--grpc', '50051'])
    assert.match(docker.stdout + docker.stderr, /--grpc applies to gen k8s only/)
  })
})
