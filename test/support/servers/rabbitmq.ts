/**
 * A private RabbitMQ node for tests: its own node name, ports, Mnesia and log directories,
 * config and (empty) plugins file in a temp dir, and a user with a password. Only Erlang's
 * epmd is shared with other nodes on the machine, which is how Erlang works. RabbitMQ takes
 * seconds to boot, so start one per test file. Ready means the AMQP port answers the
 * protocol header with Connection.Start.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

export interface RabbitOptions {
  /** Also listen with TLS (on `tlsPort`) using this server key and certificate (PEM). */
  tls?: { key: string; cert: string }
}

export interface RabbitServer {
  host: string
  port: number
  /** The TLS listener's port, when `tls` was given. */
  tlsPort?: number
  user: string
  password: string
  /** `amqp://user:password@127.0.0.1:PORT` */
  url: string
  dir: string
  /** freeze (SIGSTOP) / thaw (SIGCONT) / kill / restart: the Erlang VM itself. */
  process: ManagedProcess
  stop(): Promise<void>
}

/** Starts a RabbitMQ node and resolves once it speaks AMQP on its port. */
export async function startRabbit(options: RabbitOptions = {}): Promise<RabbitServer> {
  // The wrapper in /usr/sbin switches users; the script in /usr/lib runs the VM in place.
  const binary = requireBinary('rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmq-server'])
  const host = '127.0.0.1'
  const port = await freePort()
  const distPort = await freePort()
  const dir = makeTempDir('rabbitmq')
  const user = 'probekit'
  const password = `pw-${randomBytes(6).toString('hex')}`
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n')
  // Our own (empty) env file, so /etc/rabbitmq/rabbitmq-env.conf cannot pick the node name.
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '')
  const config = [`default_user = ${user}`, `default_pass = ${password}`, 'loopback_users = none']
  let tlsPort: number | undefined
  if (options.tls) {
    tlsPort = await freePort()
    writeFileSync(join(dir, 'server.key'), options.tls.key)
    writeFileSync(join(dir, 'server.pem'), options.tls.cert)
    config.push(
      `listeners.ssl.default = ${host}:${tlsPort}`,
      `ssl_options.certfile = ${join(dir, 'server.pem')}`,
      `ssl_options.keyfile = ${join(dir, 'server.key')}`,
      'ssl_options.verify = verify_none',
      'ssl_options.fail_if_no_peer_cert = false',
    )
  }
  writeFileSync(join(dir, 'rabbitmq.conf'), `${config.join('\n')}\n`)
  const env: NodeJS.ProcessEnv = {
    // The Erlang cookie lives in $HOME: a private one per node.
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: `probekit-${randomBytes(4).toString('hex')}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: host,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    // ALLOW_INPUT makes the script exec the VM (so SIGSTOP reaches it); -noinput keeps the
    // Erlang shell from reading stdin.
    RABBITMQ_ALLOW_INPUT: '1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-noinput',
  }
  const proc = new ManagedProcess(`rabbitmq :${port}`, binary, [], {
    env,
    cwd: dir,
    ready: () => amqpAnswers(port, host),
    readyTimeoutMs: 90_000,
  })
  await proc.start()
  return {
    host,
    port,
    ...(tlsPort ? { tlsPort } : {}),
    user,
    password,
    url: `amqp://${user}:${password}@${host}:${port}`,
    dir,
    process: proc,
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}

/** Sends the AMQP 0-9-1 protocol header; true when a method frame (Connection.Start) comes back. */
export function amqpAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (data: Buffer) => done(data[0] === 1))
    socket.connect(port, host, () => socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')))
  })
}
