/**
 * A private single-member etcd for tests: free loopback client and peer ports, a data
 * directory in a temp dir, under a ManagedProcess so tests can kill, freeze and restart it
 * (a restart keeps the data directory, as a real etcd restart does). Ready means the
 * v3 JSON gateway answers a range request, i.e. the member has elected itself leader.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, requireBinary } from '../server-process.js'

export interface EtcdServer {
  host: string
  clientPort: number
  /** `http://127.0.0.1:PORT` (`https://` with TLS), the client URL. */
  clientUrl: string
  /** `etcd://127.0.0.1:PORT/<prefix>` (`etcd+tls://` with TLS), a probekit store spec for this etcd. */
  storeSpec(prefix: string): string
  /** Runs the real etcdctl against this etcd (over TLS with the harness's client certificate when TLS is on). */
  etcdctl(...args: string[]): Promise<string>
  process: ManagedProcess
  stop(): Promise<void>
}

export interface EtcdTls {
  caFile: string
  /** The server certificate; etcd's gateway dials etcd with it, so it needs clientAuth as well as serverAuth. */
  certFile: string
  keyFile: string
  /** `--client-cert-auth`: clients must present a certificate the CA signed. */
  clientCertAuth?: boolean
  /** A client certificate the harness uses for readiness and etcdctl. */
  clientCertFile?: string
  clientKeyFile?: string
}

export interface EtcdServerOptions {
  tls?: EtcdTls
  /** More etcd flags, e.g. `--auth-token-ttl=2`. */
  args?: string[]
}

export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  // A free port may be taken by another test process between freePort() and etcd's bind: try fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(options)
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error
    }
  }
}

async function startEtcdOnce(options: EtcdServerOptions): Promise<EtcdServer> {
  const binary = requireBinary('etcd', ['/usr/bin/etcd'])
  const host = '127.0.0.1'
  const clientPort = await freePort()
  const peerPort = await freePort()
  const dir = makeTempDir('etcd')
  const tls = options.tls
  const clientUrl = `${tls ? 'https' : 'http'}://${host}:${clientPort}`
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
    ...(tls
      ? [
          '--cert-file',
          tls.certFile,
          '--key-file',
          tls.keyFile,
          '--trusted-ca-file',
          tls.caFile,
          ...(tls.clientCertAuth ? ['--client-cert-auth'] : []),
        ]
      : []),
    ...(options.args ?? []),
  ]
  const proc = new ManagedProcess(`etcd :${clientPort}`, binary, args, {
    ready: () => (tls ? etcdAnswersTls(clientUrl, tls) : etcdAnswers(clientUrl)),
    // etcd refuses to run on an unsupported arch only with this set; harmless elsewhere.
    env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' },
  })
  await proc.start()
  return {
    host,
    clientPort,
    clientUrl,
    storeSpec: (prefix) => `${tls ? 'etcd+tls' : 'etcd'}://${host}:${clientPort}/${prefix.replace(/^\//, '')}`,
    etcdctl: (...etcdctlArgs) => runEtcdctl(clientUrl, tls, etcdctlArgs),
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

/** True when a TLS etcd's gateway answers JSON (any status: with auth on, a range without a user is refused). */
function etcdAnswersTls(clientUrl: string, tls: EtcdTls, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${clientUrl}/v3/kv/range`,
      {
        method: 'POST',
        ca: readFileSync(tls.caFile),
        ...(tls.clientCertFile ? { cert: readFileSync(tls.clientCertFile) } : {}),
        ...(tls.clientKeyFile ? { key: readFileSync(tls.clientKeyFile) } : {}),
        timeout: timeoutMs,
      },
      (res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => {
          try {
            JSON.parse(body)
            resolve(true)
          } catch {
            resolve(false)
          }
        })
        res.on('error', () => resolve(false))
      },
    )
    req.on('error', () => resolve(false))
    req.on('timeout', () => req.destroy())
    req.end(JSON.stringify({ key: Buffer.from('probekit-ready').toString('base64') }))
  })
}

function runEtcdctl(clientUrl: string, tls: EtcdTls | undefined, args: string[]): Promise<string> {
  const binary = requireBinary('etcdctl', ['/usr/bin/etcdctl'])
  const tlsArgs = tls
    ? [
        `--cacert=${tls.caFile}`,
        ...(tls.clientCertFile ? [`--cert=${tls.clientCertFile}`, `--key=${tls.clientKeyFile}`] : []),
      ]
    : []
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [`--endpoints=${clientUrl}`, '--dial-timeout=5s', ...tlsArgs, ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`etcdctl ${args.join(' ')} failed: ${stderr || error.message}`))
        else resolve(stdout)
      },
    )
  })
}
