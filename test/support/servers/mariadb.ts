/**
 * A real MariaDB server for tests: `mariadb-install-db` into a temp dir, then `mariadbd`
 * on a free loopback port with a password-authenticated user (grant tables on, so wrong
 * passwords really fail) and a database of its own.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

const execFileAsync = promisify(execFile)

export interface MariaDbServer {
  host: string
  port: number
  user: string
  password: string
  database: string
  /** `mysql://probekit:PASSWORD@127.0.0.1:PORT/probekit` */
  url: string
  /** The server's unix socket (root may log in there without a password). */
  socket: string
  dir: string
  process: ManagedProcess
  stop(): Promise<void>
}

export async function startMariaDb(options: { user?: string; password?: string } = {}): Promise<MariaDbServer> {
  const installDb = requireBinary('mariadb-install-db', ['/usr/bin/mariadb-install-db'])
  const mariadbd = requireBinary('mariadbd', ['/usr/sbin/mariadbd'])
  const client = requireBinary('mariadb', ['/usr/bin/mariadb'])
  const user = options.user ?? 'probekit'
  const password = options.password ?? 'pk-maria-pw-4417'
  const database = 'probekit'
  const host = '127.0.0.1'
  const port = await freePort()
  const dir = makeTempDir('mariadb')
  const data = join(dir, 'data')
  const socket = join(dir, 'mariadb.sock')
  // Running the tests as root is common in containers; mariadbd then needs --user=root.
  const asUser = process.getuid?.() === 0 ? ['--user=root'] : []
  try {
    await execFileAsync(installDb, [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asUser,
    ])
  } catch (error) {
    const e = error as { stderr?: string; message: string }
    throw new Error(`mariadb-install-db failed: ${e.stderr || e.message}`)
  }
  const proc = new ManagedProcess(
    `mariadbd :${port}`,
    mariadbd,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(dir, 'mariadbd.pid')}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M',
      '--innodb-flush-log-at-trx-commit=0',
      '--performance-schema=OFF',
      ...asUser,
    ],
    {
      cwd: dir,
      ready: async () => {
        try {
          await execFileAsync(client, ['--no-defaults', '-S', socket, '-u', 'root', '-e', 'SELECT 1'])
          return true
        } catch {
          return false
        }
      },
    },
  )
  await proc.start()
  const quoted = password.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
  await execFileAsync(client, [
    '--no-defaults',
    '-S',
    socket,
    '-u',
    'root',
    '-e',
    `CREATE DATABASE ${database}; CREATE USER '${user}'@'%' IDENTIFIED BY '${quoted}'; GRANT ALL ON *.* TO '${user}'@'%'; FLUSH PRIVILEGES;`,
  ])
  return {
    host,
    port,
    user,
    password,
    database,
    url: `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
    socket,
    dir,
    process: proc,
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}
