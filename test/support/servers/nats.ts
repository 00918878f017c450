/**
 * A real nats-server for tests on a free loopback port, optionally with a user and
 * password, or requiring TLS. Ready means the port sends the server's INFO line.
 */

import { writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, requireBinary } from '../server-process.js'

export interface NatsServerOptions {
  user?: string
  password?: string
  /** Require TLS with this server key and certificate (PEM). */
  tls?: { key: string; cert: string }
}

export interface NatsServer {
  host: string
  port: number
  /** `nats://127.0.0.1:PORT` (with `user:password@` when set). */
  url: string
  process: ManagedProcess
  stop(): Promise<void>
}

export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = requireBinary('nats-server', ['/usr/sbin/nats-server', '/usr/bin/nats-server'])
  const host = '127.0.0.1'
  const port = await freePort()
  const args = ['-a', host, '-p', String(port)]
  if (options.user) args.push('--user', options.user, '--pass', options.password ?? '')
  if (options.tls) {
    const dir = makeTempDir('nats-tls')
    writeFileSync(join(dir, 'server.key'), options.tls.key)
    writeFileSync(join(dir, 'server.pem'), options.tls.cert)
    args.push('--tls', '--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server.key'))
  }
  const proc = new ManagedProcess(`nats-server :${port}`, binary, args, { ready: () => natsAnswers(port, host) })
  await proc.start()
  const auth = options.user ? `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password ?? '')}@` : ''
  return {
    host,
    port,
    url: `nats://${auth}${host}:${port}`,
    process: proc,
    stop: () => proc.stop(),
  }
}

/** True when the port greets with `INFO {…}`, as every NATS server does on connect. */
export function natsAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (data: Buffer) => done(data.toString('latin1').startsWith('INFO ')))
    socket.connect(port, host)
  })
}
