/**
 * A private single-member etcd for the benchmarks: free loopback ports, a temporary data
 * directory, never the system instance. Ready when its JSON gateway serves a range.
 */
import { join } from 'node:path'
import { findBinary, freePort, makeTempDir, startProcess } from './proc.mjs'

export function etcdBinary() {
  return findBinary('etcd', ['/usr/bin/etcd'])
}

async function answers(clientUrl) {
  try {
    const res = await fetch(`${clientUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('probekit-ready').toString('base64') }),
      signal: AbortSignal.timeout(1000),
    })
    await res.arrayBuffer()
    return res.ok
  } catch {
    return false
  }
}

/** Starts etcd; resolves to `{ clientUrl, storeSpec(prefix), process, stop() }`. */
export async function startEtcd({ cpu } = {}) {
  const bin = etcdBinary()
  if (!bin) throw new Error('etcd is not installed (Debian package etcd-server)')
  const dir = makeTempDir('etcd')
  const clientPort = await freePort()
  const peerPort = await freePort()
  const clientUrl = `http://127.0.0.1:${clientPort}`
  const peerUrl = `http://127.0.0.1:${peerPort}`
  const server = await startProcess(
    'etcd',
    bin,
    [
      '--name',
      'probekit-bench',
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
      `probekit-bench=${peerUrl}`,
      '--initial-cluster-state',
      'new',
      '--log-level',
      'warn',
    ],
    { cpu, ready: () => answers(clientUrl), env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } },
  )
  return {
    clientUrl,
    storeSpec: (prefix) => `etcd://127.0.0.1:${clientPort}/${prefix}`,
    process: server,
    stop: () => server.stop(),
  }
}
