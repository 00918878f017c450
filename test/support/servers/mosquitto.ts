/**
 * A real mosquitto broker for tests: a config file in a temp dir with one loopback
 * listener on a free port; with `user`/`password`, a password file made by
 * `mosquitto_passwd` and anonymous access off. Ready means the port answers an MQTT
 * CONNECT with a CONNACK.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

export interface MosquittoOptions {
  user?: string
  password?: string
  /** Also listen with TLS (on `tlsPort`) using this server key and certificate (PEM). */
  tls?: { key: string; cert: string }
}

export interface MosquittoServer {
  host: string
  port: number
  /** The TLS listener's port, when `tls` was given. */
  tlsPort?: number
  /** `mqtt://127.0.0.1:PORT` (with `user:password@` when set). */
  url: string
  dir: string
  process: ManagedProcess
  stop(): Promise<void>
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const binary = requireBinary('mosquitto', ['/usr/sbin/mosquitto'])
  const host = '127.0.0.1'
  const port = await freePort()
  const dir = makeTempDir('mosquitto')
  const lines = [`listener ${port} ${host}`, 'persistence false', 'log_dest stderr', 'log_type error']
  if (options.user) {
    const passwd = requireBinary('mosquitto_passwd', ['/usr/bin/mosquitto_passwd'])
    const file = join(dir, 'passwords')
    execFileSync(passwd, ['-b', '-c', file, options.user, options.password ?? ''], { stdio: 'pipe', timeout: 30_000 })
    chmodSync(file, 0o644)
    lines.push(`password_file ${file}`, 'allow_anonymous false')
  } else lines.push('allow_anonymous true')
  // Started as root, mosquitto drops to its own user, which must be able to read our files.
  chmodSync(dir, 0o755)
  let tlsPort: number | undefined
  if (options.tls) {
    tlsPort = await freePort()
    writeFileSync(join(dir, 'server.key'), options.tls.key, { mode: 0o644 })
    writeFileSync(join(dir, 'server.pem'), options.tls.cert, { mode: 0o644 })
    lines.push(
      `listener ${tlsPort} ${host}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
    )
  }
  const config = join(dir, 'mosquitto.conf')
  writeFileSync(config, `${lines.join('\n')}\n`)
  const proc = new ManagedProcess(`mosquitto :${port}`, binary, ['-c', config], {
    cwd: dir,
    ready: () => mqttAnswers(port, host),
  })
  await proc.start()
  const auth = options.user ? `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password ?? '')}@` : ''
  return {
    host,
    port,
    ...(tlsPort ? { tlsPort } : {}),
    url: `mqtt://${auth}${host}:${port}`,
    dir,
    process: proc,
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}

// MQTT 3.1.1 CONNECT: clean session, keepalive 60 s, empty client id.
const CONNECT = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00])

/** True when the port answers CONNECT with a CONNACK (any return code: the broker is serving). */
export function mqttAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (data: Buffer) => done(data[0] === 0x20))
    socket.connect(port, host, () => socket.write(CONNECT))
  })
}
