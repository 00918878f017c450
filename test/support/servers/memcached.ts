/**
 * Real memcached servers for tests, one or more (the probe must name the servers that do
 * not answer while the others do). Optionally with SASL PLAIN authentication (a sasldb
 * made with saslpasswd2, from Debian's sasl2-bin), for wrong-credentials tests.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

export interface MemcachedServer {
  host: string
  port: number
  /** `127.0.0.1:PORT` */
  address: string
  process: ManagedProcess
}

export interface MemcachedServers {
  servers: MemcachedServer[]
  /** `127.0.0.1:P1,127.0.0.1:P2`, as memjs takes it. */
  serversString: string
  dir: string
  stop(): Promise<void>
}

export interface MemcachedOptions {
  /** How many servers (default 1). */
  count?: number
  /** Enables SASL (binary protocol only) with this user and password. */
  sasl?: { username: string; password: string }
}

export async function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedServers> {
  const binary = requireBinary('memcached', ['/usr/bin/memcached'])
  const host = '127.0.0.1'
  const dir = makeTempDir('memcached')
  const env: NodeJS.ProcessEnv = {}
  const saslArgs: string[] = []
  if (options.sasl) {
    // Debian's memcached authenticates through Cyrus SASL: a sasldb of our own, PLAIN only.
    const saslpasswd2 = requireBinary('saslpasswd2', ['/usr/sbin/saslpasswd2'])
    const sasldb = join(dir, 'sasldb2')
    execFileSync(saslpasswd2, ['-a', 'memcached', '-c', '-p', '-f', sasldb, options.sasl.username], {
      input: options.sasl.password,
      timeout: 30_000,
    })
    writeFileSync(join(dir, 'memcached.conf'), `mech_list: plain\nsasldb_path: ${sasldb}\n`)
    env.SASL_CONF_PATH = dir
    saslArgs.push('-S')
  }
  const servers: MemcachedServer[] = []
  try {
    for (let i = 0; i < (options.count ?? 1); i++) {
      const port = await freePort()
      const proc = new ManagedProcess(
        `memcached :${port}`,
        binary,
        [
          '-l',
          host,
          '-p',
          String(port),
          '-U',
          '0',
          '-m',
          '16',
          '-t',
          '1',
          ...(process.getuid?.() === 0 ? ['-u', 'root'] : []),
          ...saslArgs,
        ],
        { cwd: dir, env, ready: () => memcachedAnswers(port, host, !!options.sasl) },
      )
      await proc.start()
      servers.push({ host, port, address: `${host}:${port}`, process: proc })
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.process.stop()))
    throw error
  }
  return {
    servers,
    serversString: servers.map((s) => s.address).join(','),
    dir,
    async stop() {
      await Promise.all(servers.map((s) => s.process.stop()))
      removeTempDir(dir)
    },
  }
}

/**
 * Resolves true when the server answers a version request: ASCII `version`, or with SASL
 * (binary protocol only) a binary VERSION request, which needs no authentication.
 */
export function memcachedAnswers(port: number, host = '127.0.0.1', binary = false, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('error', () => done(false))
    socket.once('data', (chunk) => done(binary ? chunk[0] === 0x81 : chunk.toString().startsWith('VERSION')))
    socket.connect(port, host, () => {
      if (!binary) socket.write('version\r\n')
      else {
        const header = Buffer.alloc(24)
        header[0] = 0x80 // request magic
        header[1] = 0x0b // VERSION
        socket.write(header)
      }
    })
  })
}
