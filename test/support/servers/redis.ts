/**
 * A real, standalone redis-server for tests: its own temp dir, a free loopback port,
 * no persistence, optionally a password. Ready means it answers PING (or NOAUTH when a
 * password is set) on the port, not merely that the process exists.
 */
import { readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

export interface RedisServerOptions {
  /** `requirepass`: clients must AUTH with it (for wrong-credentials tests). */
  password?: string
  /** Extra redis-server arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[]
  /** Use this port instead of a free one (e.g. to restart on the same port). */
  port?: number
  /** Serve TLS only (no plain port): PEM file paths. Clients need not present a certificate. */
  tls?: { cert: string; key: string; ca: string }
  /** Also listen on a Unix-domain socket in the server's directory (`socket`), mode 700. */
  unixSocket?: boolean
}

export interface RedisServer {
  host: string
  port: number
  /** `redis://127.0.0.1:PORT` (with `:password@` when a password is set). */
  url: string
  /** The data directory (a temp dir, removed by `stop`). */
  dir: string
  /** With `unixSocket`: the server's Unix-domain socket, `DIR/redis.sock`. */
  socket?: string
  /** freeze (SIGSTOP) / thaw (SIGCONT) / kill / restart. */
  process: ManagedProcess
  stop(): Promise<void>
}

/** Starts redis-server and resolves once it answers on its port. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = requireBinary('redis-server', ['/usr/bin/redis-server'])
  const host = '127.0.0.1'
  const port = options.port ?? (await freePort())
  const dir = makeTempDir('redis')
  const listen = options.tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        options.tls.cert,
        '--tls-key-file',
        options.tls.key,
        '--tls-ca-cert-file',
        options.tls.ca,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)]
  const args = [
    ...listen,
    '--bind',
    host,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.unixSocket ? ['--unixsocket', join(dir, 'redis.sock'), '--unixsocketperm', '700'] : []),
    ...(options.args ?? []),
  ]
  const proc = new ManagedProcess(`redis-server :${port}`, binary, args, {
    cwd: dir,
    ready: () => (options.tls ? tlsAccepts(port, host, options.tls.ca) : redisAnswers(port, host)),
  })
  await proc.start()
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : ''
  return {
    host,
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://${auth}${host}:${port}`,
    dir,
    ...(options.unixSocket ? { socket: join(dir, 'redis.sock') } : {}),
    process: proc,
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}

/**
 * Sends one raw RESP PING and resolves true when the server answers `+PONG`, or `-NOAUTH`
 * (a password-protected server that is up and serving). No driver involved, so the
 * harness does not depend on what it tests.
 */
export function redisAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return rawRedisCommand(port, host, '*1\r\n$4\r\nPING\r\n', timeoutMs).then(
    (reply) => reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'),
    () => false,
  )
}

/** Sends raw RESP bytes and resolves with the first chunk of the reply. */
export function rawRedisCommand(port: number, host: string, payload: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('error', (error) => {
      clearTimeout(timer)
      socket.destroy()
      reject(error)
    })
    socket.once('data', (chunk) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(chunk.toString())
    })
    socket.connect(port, host, () => socket.write(payload))
  })
}

/** Resolves true once a TLS handshake with the server succeeds and it answers PING. */
function tlsAccepts(port: number, host: string, caPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ port, host, ca: readFileSync(caPath), rejectUnauthorized: true })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('error', () => done(false))
    socket.once('secureConnect', () => socket.write('*1\r\n$4\r\nPING\r\n'))
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG') || chunk.toString().startsWith('-NOAUTH')))
  })
}
