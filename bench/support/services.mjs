/**
 * Private Redis and PostgreSQL servers for the benchmarks, started on first use in
 * temporary directories on free loopback ports (never the system instances), pinned to
 * the server core, and shared by the comparisons that need them.
 */
import { chownSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { findBinary, freePort, makeTempDir, requireBinary, runCommand, startProcess } from './proc.mjs'

const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin']

export function createServices({ serverCpu, log }) {
  let redis
  let postgres
  return {
    redis: () => (redis ??= startRedis(serverCpu, log)),
    postgres: () => (postgres ??= startPostgres(serverCpu, log)),
    async stop() {
      const started = await Promise.allSettled([redis, postgres].filter(Boolean))
      await Promise.all(started.map((s) => s.value?.stop()).filter(Boolean))
    },
  }
}

async function startRedis(cpu, log) {
  const bin = requireBinary('redis-server', [], 'redis-server')
  const cli = requireBinary('redis-cli', [], 'redis-tools')
  const dir = makeTempDir('redis')
  const port = await freePort()
  const call = async (...args) => {
    const { code, stdout, stderr } = await runCommand(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], {
      timeoutMs: 5000,
    })
    if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${stderr || stdout}`)
    return stdout
  }
  const server = await startProcess(
    'redis-server',
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { cpu, ready: async () => (await call('ping')).trim() === 'PONG' },
  )
  log(`redis-server on 127.0.0.1:${port}`)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cli,
    process: server,
    freeze: () => server.freeze(),
    thaw: () => server.thaw(),
    resetStats: () => call('config', 'resetstat'),
    /** Calls per command since the last reset, e.g. `{ ping: 12 }` (INFO/CONFIG excluded). */
    async commandCounts() {
      const text = await call('info', 'commandstats')
      const counts = {}
      for (const match of text.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
        const command = match[1].split('|')[0]
        if (command === 'info' || command === 'config') continue
        counts[match[1]] = Number(match[2])
      }
      return counts
    },
    stop: () => server.stop(),
  }
}

async function startPostgres(cpu, log) {
  const binDir = PG_BIN.find((d) => findBinary('initdb', [join(d, 'initdb')]) === join(d, 'initdb'))
  const initdb = requireBinary('initdb', binDir ? [join(binDir, 'initdb')] : [], 'postgresql')
  const postgresBin = requireBinary('postgres', binDir ? [join(binDir, 'postgres')] : [], 'postgresql')
  const dir = makeTempDir('postgres')
  const data = join(dir, 'data')
  // PostgreSQL refuses to run as root; run it as the `postgres` user Debian's package creates.
  let asUser = (command, args) => [command, args]
  if (process.getuid?.() === 0) {
    const runuser = requireBinary('runuser', ['/usr/sbin/runuser', '/sbin/runuser'], 'util-linux')
    const { stdout } = await runCommand('id', ['-u', 'postgres'])
    const uid = Number(stdout.trim())
    if (!(uid > 0)) throw new Error('running as root needs a "postgres" user to run PostgreSQL')
    chownSync(dir, uid, uid)
    asUser = (command, args) => [runuser, ['-u', 'postgres', '--', command, ...args]]
  }
  const [initCmd, initArgs] = asUser(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'])
  const init = await runCommand(initCmd, initArgs, { timeoutMs: 120_000 })
  if (init.code !== 0) {
    const st = statSync(dir)
    throw new Error(
      `initdb failed: ${init.stderr || init.stdout} (${dir}: mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid})`,
    )
  }
  const port = await freePort()
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'all',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '300',
  }
  const args = ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])]
  const [cmd, argv] = asUser(postgresBin, args)
  const pgIsReady = findBinary('pg_isready', binDir ? [join(binDir, 'pg_isready')] : [])
  const { default: pg } = await import('pg')
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const server = await startProcess('postgres', cmd, argv, {
    cpu,
    ready: async () => {
      if (pgIsReady) {
        const { code } = await runCommand(pgIsReady, ['-h', '127.0.0.1', '-p', String(port), '-q'])
        return code === 0
      }
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      await client.end()
      return true
    },
  })
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  log(`postgres on 127.0.0.1:${port}`)
  return {
    port,
    url,
    pgIsReady,
    process: server,
    resetStats: () => admin.query('SELECT pg_stat_statements_reset()'),
    /** Statements executed since the last reset, leaving out the bench's own statistics queries. */
    async statementCount() {
      const { rows } = await admin.query(
        `SELECT coalesce(sum(calls), 0)::bigint AS calls FROM pg_stat_statements
         WHERE userid IS NOT NULL AND query NOT ILIKE '%pg_stat_statements%'`,
      )
      return Number(rows[0].calls)
    },
    async stop() {
      await admin.end().catch(() => {})
      await server.stop('SIGINT')
    },
  }
}
