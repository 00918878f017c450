/**
 * A private single-member etcd for tests: free loopback client and peer ports, a data
 * directory in a temp dir, under a ManagedProcess so tests can kill, freeze and restart it
 * (a restart keeps the data directory, as a real etcd restart does). Ready means the
 * v3 JSON gateway answers a range request, i.e. the member has elected itself leader.
 */
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, requireBinary } from '../server-process.js'

export interface EtcdServer {
  host: string
  clientPort: number
  /** `http://127.0.0.1:PORT`, the client URL. */
  clientUrl: string
  /** `etcd://127.0.0.1:PORT/<prefix>`, a probekit store spec for this etcd. */
  storeSpec(prefix: string): string
  process: ManagedProcess
  stop(): Promise<void>
}

export async function startEtcd(): Promise<EtcdServer> {
  const binary = requireBinary('etcd', ['/usr/bin/etcd'])
  const host = '127.0.0.1'
  const clientPort = await freePort()
  const peerPort = await freePort()
  const dir = makeTempDir('etcd')
  const clientUrl = `http://${host}:${clientPort}`
  const peerUrl = `http://${host}:${peerPort}`
  const args = [
    '--name',
    'probekit-test',
    '--data-dir',
    join(dir, 'data'),
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `probekit-test=${peerUrl}`,
    '--initial-cluster-state',
    'new',
    '--log-level',
    'warn',
    '--logger',
    'zap',
  ]
  const proc = new ManagedProcess(`etcd :${clientPort}`, binary, args, {
    ready: () => etcdAnswers(clientUrl),
    // etcd refuses to run on an unsupported arch only with this set; harmless elsewhere.
    env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' },
  })
  await proc.start()
  return {
    host,
    clientPort,
    clientUrl,
    storeSpec: (prefix) => `etcd://${host}:${clientPort}/${prefix.replace(/^\//, '')}`,
    process: proc,
    stop: () => proc.stop(),
  }
}

/** True when etcd serves a linearizable range through its JSON gateway. */
export async function etcdAnswers(clientUrl: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('probekit-ready').toString('base64') }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    await res.arrayBuffer()
    return res.ok
  } catch {
    return false
  }
}
