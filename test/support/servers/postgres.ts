/**
 * A real PostgreSQL cluster for tests: initdb in a temp dir with a password-authenticated
 * user (scram-sha-256, also for 127.0.0.1), the postmaster on a free loopback port.
 *
 * PostgreSQL is a tree of processes (one backend per connection), so freezing only the
 * postmaster would leave pooled connections answering. `process.freeze()` here stops the
 * whole tree, which is what a hung database host looks like to the app.
 */
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  freePort,
  ManagedProcess,
  makeTempDir,
  removeTempDir,
  requireBinary,
  waitFor,
  waitUntilStopped,
} from '../server-process.js'

const execFileAsync = promisify(execFile)
const PG_BIN = '/usr/lib/postgresql/15/bin'

export interface PostgresServer {
  host: string
  port: number
  user: string
  password: string
  /** The default database, `postgres`. */
  database: string
  /** `postgres://probekit:PASSWORD@127.0.0.1:PORT/postgres` */
  url: string
  dir: string
  /** freeze/thaw act on the whole process tree; kill is SIGKILL of the tree. */
  process: ManagedProcess
  /** Runs statements as the superuser (e.g. CREATE ROLE). */
  sql(text: string): Promise<void>
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>
  /** The URL of `database` (default: the default database), optionally with other credentials. */
  urlFor(database?: string, credentials?: { user: string; password: string }): string
  stop(): Promise<void>
}

/** The ids of every descendant of `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name is in parentheses and may contain spaces: parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {}
  }
  const out: number[] = []
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

/** A ManagedProcess whose freeze, thaw and kill reach every process of the tree. */
class ProcessTree extends ManagedProcess {
  private frozenChildren: number[] = []

  override freeze(): void {
    const pid = this.pid
    if (!pid) return
    // Parent first, so it forks nothing new while the children are stopped.
    super.freeze()
    this.frozenChildren = descendants(pid)
    signalAll(this.frozenChildren, 'SIGSTOP')
    for (const child of this.frozenChildren) waitUntilStopped(child)
  }

  override thaw(): void {
    signalAll(this.frozenChildren, 'SIGCONT')
    this.frozenChildren = []
    super.thaw()
  }

  override async kill(): Promise<void> {
    const pid = this.pid
    const children = pid ? descendants(pid) : []
    signalAll(children, 'SIGCONT')
    signalAll(children, 'SIGKILL')
    await super.kill()
    // Orphaned backends hold the shared memory a restart needs: wait until they are gone.
    await waitFor('postgres backends to exit', () => children.every((c) => !isAlive(c)), 10_000)
  }

  // SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
  override async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    signalAll(this.frozenChildren, 'SIGCONT')
    this.frozenChildren = []
    await super.stop(signal)
  }
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

/** The postgres server refuses to run as root: run it as the `postgres` system user then. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args]
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]]
}

function serverUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** Starts a fresh PostgreSQL and resolves once it accepts password-authenticated connections. */
export interface PostgresOptions {
  password?: string
  user?: string
  /** pg_hba.conf lines put before initdb's own (the first line that matches decides). */
  hba?: string[]
  /** Turns SSL on with this certificate and key (PEM file paths). */
  ssl?: { cert: string; key: string }
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const initdb = requireBinary('initdb', [join(PG_BIN, 'initdb')])
  const postgresBin = requireBinary('postgres', [join(PG_BIN, 'postgres')])
  const pgIsReady = requireBinary('pg_isready', [join(PG_BIN, 'pg_isready')])
  const user = options.user ?? 'probekit'
  const password = options.password ?? 'pk-secret-pw-7731'
  const host = '127.0.0.1'
  const port = await freePort()
  const dir = makeTempDir('postgres')
  const data = join(dir, 'data')
  const pwfile = join(dir, 'pwfile')
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 })
  const ids = serverUserIds()
  if (ids) {
    chownSync(dir, ids.uid, ids.gid)
    chownSync(pwfile, ids.uid, ids.gid)
  }
  const [initCmd, initArgs] = asServerUser(initdb, [
    '-D',
    data,
    '-U',
    user,
    `--pwfile=${pwfile}`,
    '-A',
    'scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ])
  try {
    await execFileAsync(initCmd, initArgs)
  } catch (error) {
    const e = error as { stderr?: string; message: string }
    throw new Error(`initdb failed: ${e.stderr || e.message}`)
  }
  if (options.hba) {
    const hbaFile = join(data, 'pg_hba.conf')
    writeFileSync(hbaFile, `${options.hba.join('\n')}\n${readFileSync(hbaFile, 'utf8')}`)
  }
  const sslArgs: string[] = []
  if (options.ssl) {
    // The server reads its key only when it is private to the server's user.
    const cert = join(dir, 'server.crt')
    const key = join(dir, 'server.key')
    writeFileSync(cert, readFileSync(options.ssl.cert))
    writeFileSync(key, readFileSync(options.ssl.key), { mode: 0o600 })
    if (ids) {
      chownSync(cert, ids.uid, ids.gid)
      chownSync(key, ids.uid, ids.gid)
    }
    sslArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`)
  }
  const [cmd, args] = asServerUser(postgresBin, [
    ...sslArgs,
    '-D',
    data,
    '-p',
    String(port),
    '-h',
    host,
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'shared_buffers=16MB',
    '-c',
    'max_connections=60',
  ])
  const proc = new ProcessTree(`postgres :${port}`, cmd, args, {
    cwd: dir,
    ready: async () => {
      try {
        await execFileAsync(pgIsReady, ['-q', '-h', host, '-p', String(port), '-U', user, '-d', 'postgres'])
        return true
      } catch {
        return false
      }
    },
  })
  await proc.start()

  const urlFor = (database = 'postgres', credentials = { user, password }) =>
    `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@${host}:${port}/${database}`

  return {
    host,
    port,
    user,
    password,
    database: 'postgres',
    url: urlFor(),
    dir,
    process: proc,
    urlFor,
    async sql(text: string) {
      const pg = (await import('pg')).default
      const client = new pg.Client({ connectionString: urlFor() })
      await client.connect()
      try {
        await client.query(text)
      } finally {
        await client.end()
      }
    },
    async createDatabase(name: string) {
      const pg = (await import('pg')).default
      const client = new pg.Client({ connectionString: urlFor() })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
      } finally {
        await client.end()
      }
      return urlFor(name)
    },
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}
