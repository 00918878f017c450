/**
 * probekit as a stranger gets it: `npm pack` (its prepack builds from a clean copy of the
 * sources), then the tarball installed into a fresh project and into a global prefix with
 * nothing else. Everything below runs against that install, never against the repository:
 * the file list, `import` and `require` of every subpath, TypeScript's nodenext and node10
 * resolution, `probekit check`, `probekit monitor` with its default store, and the global
 * `probekit --help`. Dependencies come from npm's cache when it has them (--prefer-offline).
 *
 * Processes the user would start run on the Node under test (process.execPath, first on
 * PATH for the bin shims); npm itself runs on the machine's Node.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { homedir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeTempDir, waitFor } from '../support/server-process.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>
  bin: Record<string, string>
}
const SUBPATHS = Object.keys(pkg.exports)
  .filter((s) => s !== './package.json')
  .map((s) => (s === '.' ? 'probekit' : `probekit/${s.slice(2)}`))
/** Subpaths whose module has a default export: `require()` returns that function. */
const DEFAULT_EXPORTS = ['probekit/express', 'probekit/fastify', 'probekit/koa', 'probekit/hono', 'probekit/nest']
/**
 * Peers the project installs because probekit/nest imports them at load: the newest major,
 * NestJS 12, which is ES modules only (so `require('probekit/nest')` loads it with require()).
 */
const NEST_PEERS = ['@nestjs/common@12', '@nestjs/core@12']
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
const TYPE_ROOTS = join(ROOT, 'node_modules/@types')
/** The Node under test first on PATH, so `#!/usr/bin/env node` shims run on it; probekit's defaults. */
const USER_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
}
delete USER_ENV.PROBEKIT_SQLITE_DRIVER
const NODE_HAS_SQLITE = (() => {
  try {
    return Boolean(process.getBuiltinModule?.('node:sqlite'))
  } catch {
    return false
  }
})()

/**
 * better-sqlite3, probekit's optional dependency, downloads its native part from GitHub's
 * releases when npm installs it, and compiles SQLite for minutes when that fails. This
 * machine cannot reach GitHub, so the test serves the release file itself, built from the
 * repository's own better-sqlite3 (same version, compiled for the Node npm runs on), through
 * prebuild-install's documented mirror variable. The install is otherwise untouched: a
 * request for any other file gets 404, and npm then compiles as it would for a user.
 */
async function startPrebuildMirror(dir: string): Promise<{ server: Server; env: NodeJS.ProcessEnv; cached: string }> {
  const sqlite = join(ROOT, 'node_modules/better-sqlite3')
  const { version } = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string }
  // npm (and so prebuild-install) runs on the machine's Node, which built the repository's copy.
  const abi = (await mustRun('node -p', 'node', ['-p', 'process.versions.modules'], dir)).stdout.trim()
  const file = `better-sqlite3-v${version}-node-v${abi}-${process.platform}-${process.arch}.tar.gz`
  const archive = join(dir, file)
  await mustRun('tar', 'tar', ['-czf', archive, '-C', sqlite, 'build/Release/better_sqlite3.node'], dir)
  const server = createServer((req, res) => {
    if (req.url !== `/v${version}/${file}`) res.statusCode = 404
    res.end(res.statusCode === 404 ? undefined : readFileSync(archive))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // prebuild-install keeps what it downloads in npm's cache, named after the URL (a new
  // port each run): the test removes its copy afterwards.
  const url = `${host}/v${version}/${file}`
  const npmCache = process.env.npm_config_cache ?? join(homedir(), '.npm')
  const digest = createHash('sha512').update(url).digest('hex').slice(0, 6)
  const cached = join(npmCache, '_prebuilds', `${digest}-${file.replace(/[^a-zA-Z0-9.]+/g, '-')}`)
  return { server, env: { ...process.env, npm_config_better_sqlite3_binary_host: host }, cached }
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = { cwd: ROOT },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 90_000,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code: child.exitCode ?? code, stdout, stderr })
      },
    )
  })
}

async function mustRun(what: string, file: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv) {
  const result = await run(file, args, { cwd, ...(env ? { env } : {}) })
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`)
  return result
}

/** Every file the tarball may hold; anything else is a packaging mistake. */
function allowed(path: string, entryFiles: Set<string>): boolean {
  if (['package.json', 'README.md', 'LICENSE', 'bin/probekit.js', 'bin/package.json'].includes(path)) return true
  if (entryFiles.has(path)) return true // the .cjs/.d.cts entries, only where package.json points
  return [
    /^docs\/[a-z0-9-]+\.md$/,
    /^dist\/bin\/(probekit\.js|check(-(http|tcp|redis|postgres|grpc))?\.cjs|chunks\/[\w-]+\.js)$/,
    /^dist\/monitor\/dashboard\/assets\/[\w-]+\.(html|css|js|svg)$/,
    // The library's compiled modules and their types; the CLI and generators live in dist/bin.
    /^dist\/(index|health|(core|format|grpc|http|http\/adapters|probes|worker|monitor(\/[a-z]+){0,2})\/[\w-]+)\.(js|d\.ts)$/,
  ].some((re) => re.test(path))
}

/**
 * A project type-checked with nodenext: an ES module and a CommonJS file importing every
 * subpath. skipLibCheck is off, so probekit's own declarations (.d.ts and .d.cts) are
 * checked too.
 */
function writeNodenextProject(app: string): string {
  const dir = join(app, 'ts-nodenext')
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [TYPE_ROOTS],
      },
      include: ['*.mts', '*.cts'],
    }),
  )
  writeFileSync(
    join(dir, 'esm.mts'),
    [
      `import { createHealth, NotReady, type Health } from 'probekit'`,
      `import { http } from 'probekit/probes'`,
      `import express, { type ExpressMiddleware } from 'probekit/express'`,
      `import fastify, { healthHook, type FastifyProbekitPlugin } from 'probekit/fastify'`,
      `import koa, { type KoaMiddleware } from 'probekit/koa'`,
      `import hono, { type HonoMiddleware } from 'probekit/hono'`,
      `import nest, { ProbekitModule } from 'probekit/nest'`,
      `import { createWorkerHealth } from 'probekit/worker'`,
      `import { loadManifests, type HealthState } from 'probekit/monitor'`,
      `import { addHealthService, type GrpcServerLike } from 'probekit/grpc'`,
      `const health: Health = createHealth({ timeout: 1000 })`,
      `health.add(http('http://127.0.0.1:1/'))`,
      `const middleware: ExpressMiddleware = express(health)`,
      `const plugin: FastifyProbekitPlugin = fastify(health)`,
      `const koaMiddleware: KoaMiddleware = koa(health)`,
      `const honoMiddleware: HonoMiddleware = hono(health)`,
      `// @ts-expect-error the middleware is a function, not a number`,
      `const wrong: number = express(health)`,
      `const state: HealthState = 'passing'`,
      `const grpcServer: GrpcServerLike | undefined = undefined`,
      `export { middleware, plugin, koaMiddleware, honoMiddleware, wrong, state, healthHook, nest, ProbekitModule, createWorkerHealth, loadManifests, NotReady, addHealthService, grpcServer }`,
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'cjs.cts'),
    [
      `import probekit = require('probekit')`,
      `import express = require('probekit/express')`,
      `import fastify = require('probekit/fastify')`,
      `import koa = require('probekit/koa')`,
      `import hono = require('probekit/hono')`,
      `import nest = require('probekit/nest')`,
      `import { postgres } from 'probekit/probes'`,
      `import worker = require('probekit/worker')`,
      `import monitor = require('probekit/monitor')`,
      `import grpc = require('probekit/grpc')`,
      `const health: probekit.Health = probekit.createHealth()`,
      `const middleware: express.ExpressMiddleware = express(health)`,
      `const plugin: fastify.FastifyProbekitPlugin = fastify.default(health)`,
      `const hook: fastify.OnRequestHook = fastify.healthHook(health)`,
      `const koaMiddleware: koa.KoaMiddleware = koa(health)`,
      `const honoMiddleware: hono.HonoMiddleware = hono(health)`,
      `const module = nest.ProbekitModule.forRoot(health)`,
      `// @ts-expect-error the plugin is a function, not a string`,
      `const wrong: string = fastify(health)`,
      `export { middleware, plugin, hook, koaMiddleware, honoMiddleware, module, wrong, postgres, worker, monitor, grpc }`,
    ].join('\n'),
  )
  return dir
}

/** A CommonJS project with moduleResolution node10 (typesVersions finds the subpaths). */
function writeNode10Project(app: string): string {
  const dir = join(app, 'ts-node10')
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'commonjs',
        moduleResolution: 'node10',
        target: 'es2022',
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
        outDir: 'out',
        types: ['node'],
        typeRoots: [TYPE_ROOTS],
      },
      include: ['*.ts'],
    }),
  )
  writeFileSync(
    join(dir, 'main.ts'),
    [
      `import { createHealth, type Health } from 'probekit'`,
      `import { http } from 'probekit/probes'`,
      `import express from 'probekit/express'`,
      `import fastify, { healthHook } from 'probekit/fastify'`,
      `import koa = require('probekit/koa')`,
      `import hono from 'probekit/hono'`,
      `import nest, { ProbekitModule } from 'probekit/nest'`,
      `import { createWorkerHealth } from 'probekit/worker'`,
      `import { loadManifests } from 'probekit/monitor'`,
      `import { checkHealth } from 'probekit/grpc'`,
      `const health: Health = createHealth({ timeout: 1000 })`,
      `health.add(http('http://127.0.0.1:1/'))`,
      `// @ts-expect-error the middleware is a function, not a number`,
      `const wrong: number = express(health)`,
      `console.log([typeof wrong, typeof fastify(health), typeof healthHook(health), typeof koa(health), typeof hono(health), typeof nest(health), typeof ProbekitModule.forRoot, typeof createWorkerHealth, typeof loadManifests, typeof checkHealth].join(' '))`,
    ].join('\n'),
  )
  return dir
}

describe('the packed tarball, installed as a user installs it', () => {
  let work: string
  let tarball: string
  let packedFiles: string[]
  let app: string
  let globalPrefix: string
  let target: Server
  let targetBase: string
  const children: ChildProcess[] = []
  let typecheck: { nodenext: Promise<Run>; node10: Promise<Run> }
  let mirror: { server: Server; env: NodeJS.ProcessEnv; cached: string } | undefined

  before(async () => {
    work = makeTempDir('package')
    // Pack from a copy of what prepack needs, so its clean build never touches the
    // repository's dist/ (other tests run the CLI from it meanwhile).
    const source = join(work, 'source')
    mkdirSync(source)
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE']) {
      cpSync(join(ROOT, entry), join(source, entry))
    }
    for (const dir of ['src', 'scripts', 'bin', 'docs']) cpSync(join(ROOT, dir), join(source, dir), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')
    const packed = await mustRun(
      'npm pack',
      'npm',
      ['pack', '--json', '--pack-destination', work, ...NPM_FLAGS],
      source,
    )
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [
      { filename: string; files: { path: string }[] },
    ]
    tarball = join(work, info.filename)
    packedFiles = info.files.map((f) => f.path).sort()

    app = join(work, 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n')
    globalPrefix = join(work, 'global')
    mirror = await startPrebuildMirror(work)
    await Promise.all([
      mustRun('npm install (project)', 'npm', ['install', ...NPM_FLAGS, tarball, ...NEST_PEERS], app, mirror.env),
      mustRun(
        'npm install -g',
        'npm',
        ['install', '-g', '--prefix', globalPrefix, ...NPM_FLAGS, tarball],
        work,
        mirror.env,
      ),
    ])
    mirror.server.close()
    rmSync(mirror.cached, { force: true })

    // The type checks take the longest: they run while the other cases do.
    typecheck = {
      nodenext: run(process.execPath, [TSC, '-p', writeNodenextProject(app)], { cwd: app }),
      node10: run(process.execPath, [TSC, '-p', writeNode10Project(app)], { cwd: app }),
    }

    target = createServer((req, res) => {
      res.statusCode = req.url === '/down' ? 503 : 200
      res.end(`${req.url}\n`)
    })
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    targetBase = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    mirror?.server.close()
    target?.closeAllConnections()
    await new Promise((r) => (target ? target.close(r) : r(undefined)))
  })

  it('holds only what users need: no source maps, no dead dist/cli or dist/gen, no doc images', () => {
    const entryFiles = new Set<string>()
    for (const target of Object.values(pkg.exports)) {
      if (typeof target !== 'object') continue
      for (const file of [target.import.types, target.import.default, target.require.types, target.require.default]) {
        entryFiles.add(file.replace(/^\.\//, ''))
      }
    }
    const unexpected = packedFiles.filter((path) => !allowed(path, entryFiles))
    assert.deepEqual(unexpected, [], 'files outside the allow-list')
    const missing = [...entryFiles, ...Object.values(pkg.bin).map((b) => b.replace(/^\.\//, ''))].filter(
      (file) => !packedFiles.includes(file),
    )
    assert.deepEqual(missing, [], 'files package.json points at but the tarball lacks')
    for (const needed of [
      'dist/bin/check.cjs',
      'dist/bin/check-http.cjs',
      'dist/bin/check-tcp.cjs',
      'dist/bin/check-redis.cjs',
      'dist/bin/check-postgres.cjs',
      'dist/bin/check-grpc.cjs',
      'dist/bin/probekit.js',
      'dist/monitor/dashboard/assets/index.html',
    ]) {
      assert.ok(packedFiles.includes(needed), `${needed} is not in the tarball`)
    }
    assert.ok(!packedFiles.some((p) => p.endsWith('.map') || p.startsWith('src/') || p.startsWith('docs/images/')))
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/probekit/package.json'), 'utf8'))
    assert.equal(installed.engines.node, '>=20.19')
    assert.match(installed.repository.url, /github\.com\/probekit\/probekit/)
  })

  it('loads every subpath with import and with require(), one module instance for both', async () => {
    const script = `
      import { createRequire } from 'node:module'
      const require = createRequire(import.meta.url)
      const subpaths = ${JSON.stringify(SUBPATHS)}
      const defaults = new Set(${JSON.stringify(DEFAULT_EXPORTS)})
      const out = {}
      for (const subpath of subpaths) {
        const esm = await import(subpath)
        const cjs = require(subpath)
        const named = Object.keys(esm).filter((k) => k !== 'default')
        out[subpath] = {
          esmDefault: typeof esm.default,
          cjs: typeof cjs,
          // With a default export: that function, named exports and \`default\` attached.
          // Without: the module's namespace, the very object import() gives.
          cjsShape: 'default' in esm ? cjs === esm.default && cjs.default === cjs && named.every((k) => cjs[k] === esm[k]) : cjs === esm,
          esModuleFlag: '__esModule' in cjs,
        }
      }
      console.log(JSON.stringify(out))
    `
    writeFileSync(join(app, 'load.mjs'), script)
    const result = await mustRun('node load.mjs', process.execPath, ['load.mjs'], app, USER_ENV)
    assert.doesNotMatch(result.stderr, /Warning/, 'loading probekit printed a warning')
    const seen = JSON.parse(result.stdout) as Record<string, Record<string, string | boolean>>
    for (const subpath of SUBPATHS) {
      const hasDefault = DEFAULT_EXPORTS.includes(subpath)
      assert.deepEqual(
        seen[subpath],
        {
          esmDefault: hasDefault ? 'function' : 'undefined',
          cjs: hasDefault ? 'function' : 'object',
          cjsShape: true,
          esModuleFlag: false,
        },
        subpath,
      )
    }

    // The documented CommonJS pattern, in a plain .cjs file.
    writeFileSync(
      join(app, 'express-app.cjs'),
      [
        `const { createHealth } = require('probekit')`,
        `const probekit = require('probekit/express')`,
        `const { healthHook } = require('probekit/fastify')`,
        `const health = createHealth()`,
        `const middleware = probekit(health)`,
        `const http = require('node:http')`,
        `const server = http.createServer((req, res) => middleware(req, res, () => res.end('app')))`,
        `server.listen(0, '127.0.0.1', async () => {`,
        `  const res = await fetch('http://127.0.0.1:' + server.address().port + '/readyz')`,
        `  console.log(res.status, (await res.text()).trim(), typeof healthHook(health))`,
        `  server.close()`,
        `})`,
      ].join('\n'),
    )
    const express = await mustRun('node express-app.cjs', process.execPath, ['express-app.cjs'], app, USER_ENV)
    assert.equal(express.stdout.trim(), '200 ok function')
  })

  it('type-checks with TypeScript nodenext, from an ES module and from a CommonJS file', async () => {
    const result = await typecheck.nodenext
    assert.equal(result.code, 0, `tsc (nodenext) failed:\n${result.stdout}${result.stderr}`)
  })

  it('type-checks with moduleResolution node10 (CommonJS projects), and the compiled file runs', async () => {
    const compiled = await typecheck.node10
    assert.equal(compiled.code, 0, `tsc (node10) failed:\n${compiled.stdout}${compiled.stderr}`)
    const main = join(app, 'ts-node10/out/main.js')
    const ran = await mustRun('the compiled node10 file', process.execPath, [main], app, USER_ENV)
    assert.equal(
      ran.stdout.trim(),
      'function function function function function object function function function function',
    )
  })

  it('probekit check (the project bin) exits 0 for a healthy target and 1 for a failing one', async () => {
    const probekit = join(app, 'node_modules/.bin/probekit')
    const up = await run(probekit, ['check', `${targetBase}/up`], { cwd: app, env: USER_ENV })
    assert.equal(up.code, 0, up.stdout + up.stderr)
    assert.match(up.stdout, new RegExp(`^ok ${targetBase}/up`))
    const down = await run(probekit, ['check', `${targetBase}/down`, `${targetBase}/up`], { cwd: app, env: USER_ENV })
    assert.equal(down.code, 1, down.stdout + down.stderr)
    assert.match(down.stdout, new RegExp(`^failed ${targetBase}/down.*503`, 'm'))
  })

  it('probekit monitor starts with its default store, serves /readyz and the dashboard, and stops on SIGTERM', async () => {
    const dir = join(app, 'monitor')
    mkdirSync(join(dir, 'pods'), { recursive: true })
    const port = new URL(targetBase).port
    writeFileSync(
      join(dir, 'pods/web.yaml'),
      `id: web\nnode: n1\nstatus_http: true\nstatus:\n  port: ${port}\n  host: 127.0.0.1\n  path: /up\n`,
    )
    // No --store: the default, an embedded SQLite file in the current directory.
    const child = spawn(join(app, 'node_modules/.bin/probekit'), ['monitor', '--listen', '127.0.0.1:0', 'pods'], {
      cwd: dir,
      env: USER_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    let output = ''
    child.stdout?.on('data', (c: Buffer) => (output += c))
    child.stderr?.on('data', (c: Buffer) => (output += c))
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    // The API line, or the monitor's exit with what it said.
    const api = await waitFor(
      'the monitor to print its API address',
      () => /API (http:\/\/[^/\s]+)\//.exec(output)?.[1] ?? (child.exitCode === null ? undefined : 'exited'),
      30_000,
    )
    assert.notEqual(api, 'exited', `the monitor exited (${child.exitCode}) before serving:\n${output}`)
    // node:sqlite where this Node has it, else the optional better-sqlite3 npm installed.
    assert.match(
      output,
      new RegExp(
        `store sqlite:\\S*probekit-monitor\\.sqlite \\(SQLite via ${NODE_HAS_SQLITE ? 'node:sqlite' : 'better-sqlite3'}\\)`,
      ),
    )
    const readyz = await fetch(`${api}/readyz`)
    assert.equal(readyz.status, 200, await readyz.text())
    const dashboard = await fetch(`${api}/`)
    assert.equal(dashboard.status, 200)
    assert.match(await dashboard.text(), /<html/i)
    await waitFor('the pod check to pass', () => /web\/health_check on n1: unknown → passing/.test(output), 30_000)
    assert.ok(existsSync(join(dir, 'probekit-monitor.sqlite')), 'the default store file is missing')
    child.kill('SIGTERM')
    assert.equal(await exited, 0, output)
  })

  it('probekit --help runs from a global prefix (npm install -g)', async () => {
    const help = await run(join(globalPrefix, 'bin/probekit'), ['--help'], { cwd: work, env: USER_ENV })
    assert.equal(help.code, 0, help.stdout + help.stderr)
    assert.match(help.stdout, /^Usage: probekit <command>/m)
    assert.match(help.stdout, /^ {2}monitor /m)
  })
})
