/**
 * `probekit check` loads the smallest bundle that can check its targets: check-http.cjs for
 * http(s):// targets only, and so on, the full check.cjs otherwise. A slim bundle that meets
 * a scheme it lacks hands the run to the full one. The bundles and which one loads are
 * observed from outside: a preloaded hook lists the dist/bin files the process read.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, makeTempDir, refusedPort } from '../support/server-process.js'
import { BIN, buildCli, ROOT } from './run-cli.js'

const DIST = join(ROOT, 'dist/bin')

interface Run {
  code: number | null
  stdout: string
  /** The dist/bin files the process loaded, by name. */
  loaded: string[]
  /** The built-in modules the process loaded (`http`, `tls`, `internal/…`). */
  builtins: string[]
}

describe('probekit check bundles', () => {
  let server: Server
  let port: number
  let hook: string
  let closedPort: number

  before(async () => {
    buildCli()
    const dir = makeTempDir('check-bundles')
    hook = join(dir, 'hook.cjs')
    // On exit, write the bundle files this process loaded to fd 2: bin/probekit.js reads a
    // check bundle and compiles it itself (for its code cache); require() reads it too.
    writeFileSync(
      hook,
      `const fs = require('node:fs'); const read = fs.readFileSync; const loaded = new Set()
fs.readFileSync = function (file, ...rest) {
  if (typeof file === 'string' && file.startsWith(${JSON.stringify(DIST)}) && file.endsWith('.cjs')) loaded.add(require('node:path').basename(file))
  return read.call(this, file, ...rest)
}
process.on('exit', () => fs.writeSync(2, 'LOADED ' + JSON.stringify([...new Set([...loaded, ...Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(DIST)})).map((f) => require('node:path').basename(f))])]) + '\\nBUILTINS ' + JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13))) + '\\n'))\n`,
    )
    server = createServer((_req, res) => res.end('ok'))
    port = await freePort()
    closedPort = await refusedPort()
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  })

  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const run = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['--require', hook, ...args],
        { cwd: ROOT, timeout: 30_000, encoding: 'utf8' },
        (_e, stdout, stderr) => {
          const line = stderr.split('\n').find((l) => l.startsWith('LOADED '))
          const builtins = stderr.split('\n').find((l) => l.startsWith('BUILTINS '))
          resolve({
            code: child.exitCode,
            stdout,
            loaded: line ? (JSON.parse(line.slice(7)) as string[]).sort() : [],
            builtins: builtins ? (JSON.parse(builtins.slice(9)) as string[]) : [],
          })
        },
      )
    })

  it('loads check-http.cjs alone for http(s):// targets, check-tcp.cjs for tcp://, check-grpc.cjs for grpc(s)://, and so on', async () => {
    const http = await run([BIN, 'check', `http://127.0.0.1:${port}/`, '--header', 'Referer: redis://x'])
    assert.equal(http.code, 0, http.stdout)
    assert.match(http.stdout, /^ok http:\/\/127\.0\.0\.1:\d+\/ 200 OK in /)
    assert.deepEqual(http.loaded, ['check-http.cjs'])
    const tcp = await run([BIN, 'check', '--timeout', '2', `tcp://127.0.0.1:${port}`])
    assert.equal(tcp.code, 0, tcp.stdout)
    assert.deepEqual(tcp.loaded, ['check-tcp.cjs'])
    const redis = await run([BIN, 'check', `rediss://127.0.0.1:${closedPort}`, `redis://127.0.0.1:${closedPort}`])
    assert.equal(redis.code, 1)
    assert.match(redis.stdout, /connection refused/)
    assert.deepEqual(redis.loaded, ['check-redis.cjs'])
    const postgres = await run([BIN, 'check', `postgresql://u:pw@127.0.0.1:${closedPort}/x`])
    assert.equal(postgres.code, 1)
    assert.match(postgres.stdout, /^failed postgresql:\/\/u:\*\*\*@/)
    assert.deepEqual(postgres.loaded, ['check-postgres.cjs'])
    const grpc = await run([BIN, 'check', `grpc://127.0.0.1:${closedPort}`, `grpcs://127.0.0.1:${closedPort}`])
    assert.equal(grpc.code, 1)
    assert.match(grpc.stdout, /^failed grpc:\/\/127\.0\.0\.1:\d+: UNAVAILABLE: connection refused/m)
    assert.deepEqual(grpc.loaded, ['check-grpc.cjs'])
  })

  it('loads the full check.cjs for a mix of schemes, another scheme, or no target', async () => {
    const mix = await run([BIN, 'check', `tcp://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`])
    assert.equal(mix.code, 0, mix.stdout)
    assert.deepEqual(mix.loaded, ['check.cjs'])
    const file = await run([BIN, 'check', `file://${hook}`])
    assert.equal(file.code, 0, file.stdout)
    assert.deepEqual(file.loaded, ['check.cjs'])
    const help = await run([BIN, 'check', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: probekit check/)
    assert.deepEqual(help.loaded, ['check.cjs'])
  })

  it('hands a target of a scheme a slim bundle lacks to check.cjs, which checks every target once', async () => {
    const handed = await run([
      join(DIST, 'check-http.cjs'),
      'check',
      `http://127.0.0.1:${port}/`,
      `tcp://127.0.0.1:${port}`,
      `file://${hook}`,
    ])
    assert.equal(handed.code, 0, handed.stdout)
    const lines = handed.stdout.trim().split('\n')
    assert.equal(lines.length, 3, handed.stdout)
    assert.match(lines[0] ?? '', /^ok http:/)
    assert.match(lines[1] ?? '', /^ok tcp:/)
    assert.match(lines[2] ?? '', /^ok file:\/\/\/.*hook\.cjs exists/)
    assert.deepEqual(handed.loaded, ['check-http.cjs', 'check.cjs'])
    const failed = await run([join(DIST, 'check-tcp.cjs'), 'check', `redis://:s3cret-pw@127.0.0.1:${closedPort}`])
    assert.equal(failed.code, 1)
    assert.match(failed.stdout, /^failed redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: connection refused/)
    assert.doesNotMatch(failed.stdout, /s3cret-pw/)
  })

  it('checks a plain http:// target without loading node:http, and an https:// one with it', async () => {
    const plain = await run([BIN, 'check', `http://127.0.0.1:${port}/`])
    assert.equal(plain.code, 0, plain.stdout)
    assert.match(plain.stdout, /^ok http:\/\/127\.0\.0\.1:\d+\/ 200 OK in /)
    assert.ok(plain.builtins.includes('net'), `builtins: ${plain.builtins.join(' ')}`)
    for (const module of ['http', '_http_client', 'tls', 'crypto']) {
      assert.ok(!plain.builtins.includes(module), `a plain http:// check loaded ${module}`)
    }
    const secure = await run([BIN, 'check', '--timeout', '2s', `https://127.0.0.1:${closedPort}/`])
    assert.equal(secure.code, 1)
    assert.ok(secure.builtins.includes('https') && secure.builtins.includes('tls'), secure.builtins.join(' '))
  })

  it('keeps each slim bundle free of the other probes', () => {
    const text = (name: string) => readFileSync(join(DIST, name), 'utf8')
    const http = /not a valid HTTP response/
    const postgres = /SCRAM-SHA-256/
    const redis = /WRONGPASS/
    const grpc = /SERVICE_UNKNOWN/
    const others = /MQTT|AMQP/
    for (const [name, kept] of [
      ['check-http.cjs', http],
      ['check-tcp.cjs', undefined],
      ['check-redis.cjs', redis],
      ['check-postgres.cjs', postgres],
      ['check-grpc.cjs', grpc],
    ] as const) {
      const bundle = text(name)
      for (const probe of [http, postgres, redis, grpc, others]) {
        if (probe === kept) assert.match(bundle, probe, `${name} has its probe`)
        else assert.doesNotMatch(bundle, probe, `${name} holds ${probe}`)
      }
      // The code every check shares (arguments, output, redaction, network errors in words)
      // is about 30 KB of each; what a bundle must not hold is the other probes (above) or
      // anything as large (a driver, a YAML parser).
      assert.ok(bundle.length < text('check.cjs').length * 0.6, `${name}: ${bundle.length} bytes`)
    }
    for (const probe of [http, postgres, redis, grpc, others]) assert.match(text('check.cjs'), probe)
  })
})
