// probekit installed on its own (as `npm install -g probekit` lays it out: the CLI and its
// own dependencies, no drivers), run from an app's project that has the drivers.
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { availableSqliteDrivers } from '../../src/monitor/store/index.js'
import { makeTempDir, waitFor } from '../support/server-process.js'
import { type PostgresServer, startPostgres } from '../support/servers/postgres.js'
import { buildCli, ROOT } from './run-cli.js'

/**
 * A copy of the built CLI laid out as `npm install -g` does (`<prefix>/lib/node_modules/probekit`),
 * with only probekit's own dependencies (undici, yaml) in its node_modules, and `globals`
 * installed globally beside it.
 */
function installedAlone(globals: string[] = []): string {
  const lib = join(makeTempDir('installed'), 'lib/node_modules')
  const dir = join(lib, 'probekit')
  mkdirSync(join(dir, 'dist'), { recursive: true })
  for (const pkg of globals) symlinkSync(join(ROOT, 'node_modules', pkg), join(lib, pkg))
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true })
  cpSync(join(ROOT, 'dist/bin'), join(dir, 'dist/bin'), { recursive: true })
  mkdirSync(join(dir, 'node_modules'))
  for (const dep of ['undici', 'yaml']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep))
  return dir
}

/** An app's project whose node_modules holds `packages` (linked from this repository's). */
function projectWith(packages: string[]): string {
  const dir = makeTempDir('project')
  writeFileSync(join(dir, 'package.json'), '{ "name": "app", "private": true }\n')
  mkdirSync(join(dir, 'node_modules'))
  for (const pkg of packages) symlinkSync(join(ROOT, 'node_modules', pkg), join(dir, 'node_modules', pkg))
  return dir
}

function run(
  install: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(install, 'bin/probekit.js'), ...args],
      { cwd, env: { ...process.env, ...env }, timeout: 30_000, encoding: 'utf8' },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    )
  })
}

/** Starts the monitor, waits for its start line, stops it; returns what it printed. */
async function monitorStartLine(install: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  writeFileSync(join(cwd, 'web.yaml'), 'id: web\nstatus_port: 1\nstatus_http: true\n')
  const child: ChildProcess = spawn(
    process.execPath,
    [join(install, 'bin/probekit.js'), 'monitor', '--store', 'sqlite:monitor.sqlite', '--listen', 'none', 'web.yaml'],
    { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise((r) => child.once('exit', r))
  try {
    await waitFor('the monitor to start or fail', () => out.includes('watching') || child.exitCode !== null, 20_000)
  } finally {
    child.kill('SIGTERM')
    // A monitor that does not stop fails here, with what it printed, not at the test's timeout.
    const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])
    if (!stopped) {
      child.kill('SIGKILL')
      await exited
      assert.fail(`the monitor was still running 10 s after SIGTERM; it printed:\n${out}`)
    }
  }
  return out
}

function nodeHasSqlite(): boolean {
  try {
    createRequire(import.meta.url)('node:sqlite')
    return true
  } catch {
    return false
  }
}

describe('a probekit installed alone, run from a project', () => {
  let postgres: PostgresServer
  let install: string

  before(async () => {
    buildCli()
    install = installedAlone()
    postgres = await startPostgres()
  })
  after(() => postgres?.stop())

  it('probekit check postgres://… needs no driver: it speaks PostgreSQL itself, with no pg in reach', async () => {
    const result = await run(install, ['check', postgres.url], projectWith([]))
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /^ok postgres:\/\/probekit:\*\*\*@127\.0\.0\.1:\d+\/postgres SELECT 1 /)
  })

  it("probekit check mysql://… uses the mysql2 of the working directory's project; without it in reach, the error names both ways to install it", async () => {
    const target = 'mysql://app:secret-9@127.0.0.1:1/app'
    const found = await run(install, ['check', target], projectWith(['mysql2']))
    assert.equal(found.code, 1)
    assert.match(found.stdout, /connection refused \(ECONNREFUSED\)/, 'the driver was found and tried to connect')
    const result = await run(install, ['check', target], projectWith([]))
    assert.equal(result.code, 1)
    assert.match(
      result.stdout,
      /The mysql probe with a URL needs the "mysql2" package: install it in the project you run probekit from \("npm install mysql2"\), or next to a global probekit \("npm install -g mysql2"\)/,
    )
    assert.doesNotMatch(result.stdout, /usage error/)
  })

  it(`the monitor stores with node:sqlite, or says what to install when this Node has no SQLite (here: ${nodeHasSqlite() ? 'node:sqlite' : 'none'})`, async () => {
    const out = await monitorStartLine(install, projectWith([]), { PROBEKIT_SQLITE_DRIVER: '' })
    if (nodeHasSqlite()) {
      assert.match(
        out,
        /^probekit monitor: watching 1 check of 1 pod; store sqlite:.*monitor\.sqlite \(SQLite via node:sqlite\)$/m,
      )
      assert.doesNotMatch(out, /ExperimentalWarning/)
    } else {
      assert.equal(
        out,
        `probekit monitor: the sqlite store needs SQLite, and this Node has none: Node ${process.version} has no built-in node:sqlite (No such built-in module: node:sqlite), and the optional "better-sqlite3" package is not installed (npm skips it when it can neither download a prebuilt binary nor compile one). To fix it, upgrade Node to 22.13 or newer (it has node:sqlite built in); or install better-sqlite3 again with build tools present (python3, make, a C++ compiler) and its install script allowed: "npm install better-sqlite3" in the project for a local probekit, "npm install -g probekit" (or "npm install -g better-sqlite3") for a global one; or run the monitor with --store memory\n`,
        'one paragraph naming the local and the global fix, and not a usage error',
      )
    }
  })

  it("the monitor finds better-sqlite3 in the working directory's project too", async (t) => {
    if (!availableSqliteDrivers().includes('better-sqlite3')) {
      // This Node cannot load the repository's better-sqlite3 build (another ABI): the
      // monitor says so, naming the package, rather than failing some other way.
      const out = await monitorStartLine(install, projectWith(['better-sqlite3']), {
        PROBEKIT_SQLITE_DRIVER: 'better-sqlite3',
      })
      assert.match(
        out,
        /asked to use better-sqlite3 \(PROBEKIT_SQLITE_DRIVER\), but the "better-sqlite3" package was built for another Node version/,
      )
      t.diagnostic('better-sqlite3 does not load on this Node; checked the error instead')
      return
    }
    const out = await monitorStartLine(install, projectWith(['better-sqlite3']), {
      PROBEKIT_SQLITE_DRIVER: 'better-sqlite3',
    })
    assert.match(out, /^probekit monitor: watching 1 check of 1 pod; store sqlite:.* \(SQLite via better-sqlite3\)$/m)
  })

  it('a global better-sqlite3 ("npm install -g better-sqlite3") serves a global probekit', async (t) => {
    const out = await monitorStartLine(installedAlone(['better-sqlite3']), projectWith([]), {
      PROBEKIT_SQLITE_DRIVER: 'better-sqlite3',
    })
    if (!availableSqliteDrivers().includes('better-sqlite3')) {
      assert.match(out, /but the "better-sqlite3" package was built for another Node version/)
      t.diagnostic('better-sqlite3 does not load on this Node; checked the error instead')
      return
    }
    assert.match(out, /^probekit monitor: watching 1 check of 1 pod; store sqlite:.* \(SQLite via better-sqlite3\)$/m)
  })
})
