import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { heapFlag } from '../../src/cli/monitor.js'
import { openStore, type SqliteStore } from '../../src/monitor/store/index.js'
import { buildCli } from '../cli/run-cli.js'
import { makeTempDir, waitFor } from '../support/server-process.js'

const root = resolve(import.meta.dirname, '../..')
const bin = join(root, 'bin/probekit.js')

interface Running {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

function startMonitor(args: string[], options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), bin, 'monitor', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, output: () => out, exited }
}

function runMonitor(args: string[]): { status: number; stdout: string } {
  try {
    const stdout = execFileSync(process.execPath, [bin, 'monitor', ...args], { encoding: 'utf8', timeout: 20_000 })
    return { status: 0, stdout }
  } catch (error) {
    const e = error as { status: number; stdout: string }
    return { status: e.status, stdout: e.stdout }
  }
}

/** Reads the store the monitor writes, while it runs (WAL lets a reader in). */
function storedStates(file: string) {
  const store = openStore(`sqlite:${file}`, { readonly: true })
  try {
    return store.loadStates()
  } finally {
    store.close()
  }
}

describe('probekit monitor', () => {
  let server: Server
  let base: string
  const running: Running[] = []

  before(async () => {
    // The CLI runs from its bundle (built once per test process).
    buildCli()
    // Each /flip/<n> path alternates 200 and 503 on its own, so every check of it changes
    // state on every run (one shared counter let checks fall into step and never change).
    const flips = new Map<string, number>()
    const flipped = (url: string) => {
      const n = flips.get(url) ?? 0
      flips.set(url, n + 1)
      return n % 2 === 1
    }
    // A webhook receiver that fails its first delivery and takes the retry.
    let hookFailed = false
    server = createServer((req, res) => {
      const url = req.url ?? '/'
      if (url === '/hook-fails-once') {
        req.resume()
        res.statusCode = hookFailed ? 200 : 500
        hookFailed = true
        res.end()
        return
      }
      res.statusCode = url === '/down' || (url.startsWith('/flip') && flipped(url)) ? 503 : 200
      res.end(`${req.url}\n`)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL')
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  it("turns V8's allocation-site pretenuring off for itself, unless node's command line names it", () => {
    assert.equal(heapFlag([]), '--no-allocation-site-pretenuring')
    assert.equal(heapFlag(['--max-old-space-size=2048', '--inspect']), '--no-allocation-site-pretenuring')
    assert.equal(heapFlag(['--allocation-site-pretenuring']), undefined)
    assert.equal(heapFlag(['--no-allocation-site-pretenuring']), undefined)
    assert.equal(heapFlag(['--allocation_site_pretenuring']), undefined)
  })

  it('prints its help with examples', () => {
    const { status, stdout } = runMonitor(['--help'])
    assert.equal(status, 0)
    assert.match(stdout, /^Usage: probekit monitor \[options\] MANIFEST_OR_DIR…/)
    assert.match(stdout, /--store sqlite:FILE\|memory/)
    assert.match(stdout, /Examples:\n {2}probekit monitor \/etc\/probekit\/pods/)
    // A long example goes on on the next line, after a backslash a shell reads as one line.
    assert.match(stdout, /--listen 0\.0\.0\.0:8008 \\\n {4}--auth-token-file \/etc\/probekit\/tokens pods\/\n/)
  })

  it('with nothing to check yet and no API, runs until stopped and picks up a manifest that appears', async () => {
    const dir = makeTempDir('cli-monitor-empty')
    const m = startMonitor(['--store', 'memory', '--listen', 'none', dir])
    running.push(m)
    await waitFor('the start line', () => m.output().includes('watching 0 checks of 0 pods'), 10_000)
    // It used to end here with status 0: nothing held the event loop.
    const early = await Promise.race([m.exited, new Promise((r) => setTimeout(() => r('running'), 1500))])
    assert.equal(early, 'running', m.output())
    writeFileSync(
      join(dir, 'web.yaml'),
      `id: web\nnode: n1\nchecks:\n  - name: up\n    url: ${base}/up\n    interval: 1s\n`,
    )
    await waitFor('the new check to run', () => /web\/up on n1: unknown → passing/.test(m.output()), 10_000)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0, m.output())
  })

  it('reads a p2 fleet whose pods without status_port are not checked, and names them', async () => {
    const dir = makeTempDir('cli-monitor-p2-fleet')
    writeFileSync(join(dir, 'batch.yaml'), 'id: batch\nlaunchables:\n  batch:\n    launchable_type: hoist\n')
    const m = startMonitor(['--store', 'memory', '--listen', 'none', dir])
    running.push(m)
    const start = 'watching 0 checks of 0 pods, not checking pod "batch" (no status_port, as in p2); store memory'
    await waitFor('the start line', () => m.output().includes(start), 10_000)
    // The pod opts in: it is checked from the reload on, and no longer named.
    writeFileSync(
      join(dir, 'batch.yaml'),
      `id: batch\nnode: n1\nstatus_port: ${new URL(base).port}\nstatus_http: true\nstatus:\n  path: /up\nlaunchables:\n  batch:\n    launchable_type: hoist\n`,
    )
    await waitFor(
      'the reload',
      () => /reloaded the manifests \(a manifest changed\); watching 1 check\n/.test(m.output()),
      10_000,
    )
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0, m.output())
  })

  it('with --quiet prints no transition, and still what the notifications meet', async () => {
    const dir = makeTempDir('cli-monitor-quiet')
    writeFileSync(
      join(dir, 'web.yaml'),
      `id: web\nnode: n1\nchecks:\n  - name: down\n    url: ${base}/down\n    interval: 1s\n`,
    )
    const m = startMonitor([
      '--store',
      'memory',
      '--listen',
      'none',
      '--quiet',
      '--webhook',
      `${base}/hook-fails-once`,
      dir,
    ])
    running.push(m)
    // The retry comes 0.5–1 s after the first attempt fails.
    await waitFor('the delivery after a retry', () => m.output().includes('after 1 retries'), 10_000)
    assert.match(m.output(), /webhook http:\/\/127\.0\.0\.1:\d+\/…: delivered n1\/web\/down after 1 retries/)
    assert.doesNotMatch(m.output(), /→/)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0, m.output())
  })

  it('keeps watching through symbolic-link loops made in its directory, and follows directories that come and go', async () => {
    const dir = makeTempDir('cli-monitor-links')
    writeFileSync(
      join(dir, 'a.yaml'),
      `id: a\nnode: n1\nchecks:\n  - name: up\n    url: ${base}/up\n    interval: 1s\n`,
    )
    const m = startMonitor(['--store', 'memory', '--listen', 'none', dir])
    running.push(m)
    await waitFor('the start line', () => m.output().includes('watching 1 check of 1 pod'), 10_000)
    // A link to itself, then a pair pointing at each other in a new directory: Node's
    // recursive watch threw ELOOP from its own handler and the monitor died.
    symlinkSync('self', join(dir, 'self'))
    mkdirSync(join(dir, 'loops'))
    symlinkSync('two', join(dir, 'loops', 'one'))
    symlinkSync('one', join(dir, 'loops', 'two'))
    await sleep(500)
    mkdirSync(join(dir, 'team', 'deep'), { recursive: true })
    await sleep(100)
    writeFileSync(
      join(dir, 'team', 'deep', 'b.yaml'),
      `id: b\nnode: n1\nchecks:\n  - name: up\n    url: ${base}/up\n    interval: 1s\n`,
    )
    await waitFor('the reload that finds b.yaml', () => /watching 2 checks$/m.test(m.output()), 10_000)
    assert.equal(m.child.exitCode, null, m.output())
    // A directory that goes takes its manifests with it.
    rmSync(join(dir, 'team'), { recursive: true })
    await waitFor(
      'the reload without b.yaml',
      () => /reloaded the manifests .*; watching 1 check$/m.test(m.output()),
      10_000,
    )
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0, m.output())
    assert.doesNotMatch(m.output(), /ELOOP|Error:/)
  })

  it('refuses a bad manifest with its file, line and key, exit status 1', () => {
    const dir = makeTempDir('cli-monitor')
    const file = join(dir, 'pod.yaml')
    writeFileSync(file, 'id: web\nstatus_port: 99999\n')
    const { status, stdout } = runMonitor(['--store', 'memory', '--listen', 'none', file])
    assert.equal(status, 1)
    assert.equal(stdout, `probekit monitor: ${file}:2: status_port: port 99999 is out of range 1–65535\n`)
  })

  it('refuses a bad --store, --listen or --ca-file as a usage error', () => {
    const dir = makeTempDir('cli-monitor')
    const file = join(dir, 'pod.yaml')
    writeFileSync(file, 'id: web\nstatus_port: 8001\n')
    const store = runMonitor(['--store', 'mysql://x', file])
    assert.equal(store.status, 1)
    assert.match(store.stdout, /^probekit monitor: usage error: --store "mysql:\/\/x" is not a store; use sqlite:FILE/)
    const listen = runMonitor(['--store', 'memory', '--listen', 'everywhere', file])
    assert.equal(listen.status, 1)
    assert.match(listen.stdout, /usage error: --listen "everywhere" is not HOST:PORT/)
    const none = runMonitor(['--store', 'memory'])
    assert.match(none.stdout, /usage error: name at least one manifest file or directory/)
    const port = runMonitor(['--store', 'memory', '--listen', '127.0.0.1:70000', file])
    assert.match(port.stdout, /usage error: --listen 127\.0\.0\.1:70000: port 70000 is out of range 0–65535$/m)
    const typo = runMonitor(['--store', 'memory', '--no-wach', file])
    assert.match(typo.stdout, /usage error: unknown option "--no-wach"; did you mean --no-watch\?$/m)
    const notPem = join(dir, 'ca.txt')
    writeFileSync(notPem, 'not a certificate\n')
    const ca = runMonitor(['--store', 'memory', '--ca-file', notPem, file])
    assert.equal(ca.status, 1)
    assert.match(
      ca.stdout,
      /usage error: --ca-file .*ca\.txt holds no PEM certificate \(no -----BEGIN CERTIFICATE----- line\)$/m,
    )
  })

  it('opens at most --connections-per-origin connections to one host:port, and refuses a count that is not one', async () => {
    for (const bad of ['0', '2.5', 'many', '10001']) {
      const refused = runMonitor(['--store', 'memory', '--connections-per-origin', bad, 'pods.yaml'])
      assert.equal(refused.status, 1)
      assert.match(
        refused.stdout,
        new RegExp(
          `usage error: --connections-per-origin "${bad}" is not a count; use a whole number from 1 to 10000$`,
          'm',
        ),
      )
    }
    // Eight checks of one origin answering in 800 ms, each due every 4 s: 1.6 in flight on
    // average, so some overlap; two connections serve them all within their 3.5 s timeout
    // (none times out: a run ended at its deadline drops its connection, and the server would
    // count the next before it saw that one close).
    let open = 0
    const seen = { most: 0, requests: 0 }
    const slow = createServer((_req, res) => {
      seen.requests++
      setTimeout(() => res.end('ok\n'), 800)
    })
    slow.on('connection', (socket) => {
      seen.most = Math.max(seen.most, ++open)
      socket.on('close', () => open--)
    })
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r))
    const port = (slow.address() as AddressInfo).port
    const dir = makeTempDir('cli-monitor')
    const file = join(dir, 'pod.yaml')
    const checks = Array.from(
      { length: 8 },
      (_, i) => `  - name: c${i}\n    url: http://127.0.0.1:${port}/c${i}\n    interval: 4s\n    timeout: 3500ms\n`,
    )
    writeFileSync(file, `id: web\nchecks:\n${checks.join('')}`)
    const monitor = startMonitor(['--store', 'memory', '--listen', 'none', '--connections-per-origin', '2', file])
    running.push(monitor)
    try {
      await waitFor('eight requests', () => seen.requests >= 8, 20_000)
      assert.equal(seen.most, 2, monitor.output())
    } finally {
      monitor.child.kill('SIGTERM')
      await monitor.exited
      slow.closeAllConnections()
      await new Promise<void>((r) => slow.close(() => r()))
    }
  })

  it('checks, serves its API, reloads on a file change and on SIGHUP, and stops cleanly on SIGTERM', async () => {
    const dir = makeTempDir('cli-monitor')
    const pods = join(dir, 'pods')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(pods)
    const file = join(pods, 'web.yaml')
    const port = new URL(base).port
    writeFileSync(
      file,
      `id: web\nnode: n1\nstatus_http: true\nstatus:\n  port: ${port}\n  host: 127.0.0.1\n  path: /ok\n`,
    )
    const storeFile = join(dir, 'monitor.sqlite')
    const monitor = startMonitor(['--store', `sqlite:${storeFile}`, '--listen', '127.0.0.1:0', pods])
    running.push(monitor)

    const apiLine = await waitFor('the API line', () => /API (http:\/\/[^/\s]+)\//.exec(monitor.output()), 20_000)
    const api = apiLine[1] as string
    assert.match(monitor.output(), /watching 1 check of 1 pod; store sqlite:.*monitor\.sqlite/)
    const livez = await fetch(`${api}/livez`)
    assert.equal(livez.status, 200)

    await waitFor(
      'the p2 check to pass and reach the store',
      () => storedStates(storeFile).some((s) => s.id === 'n1/web/health_check' && s.state === 'passing'),
      20_000,
    )
    assert.match(
      monitor.output(),
      /web\/health_check on n1: unknown → passing: HTTP GET http:\/\/127\.0\.0\.1:\d+\/ok: 200 OK/,
    )

    // A changed file is picked up without a signal.
    writeFileSync(
      file,
      `id: web\nnode: n1\nstatus_http: true\nstatus:\n  port: ${port}\n  host: 127.0.0.1\n  path: /ok\nchecks:\n  - name: down\n    url: ${base}/down\n    interval: 1s\n`,
    )
    await waitFor(
      'the reload after the file change',
      () => /reloaded the manifests \(a manifest changed\); watching 2 checks/.test(monitor.output()),
      20_000,
    )
    await waitFor(
      'the new check to be critical in the store',
      () => storedStates(storeFile).some((s) => s.id === 'n1/web/down' && s.state === 'critical'),
      20_000,
    )

    // SIGHUP reloads too, and a broken manifest keeps the running checks.
    writeFileSync(join(pods, 'broken.yaml'), 'id: broken\nchecks:\n  - name: x\n    type: carrier-pigeon\n')
    await waitFor(
      'the failed reload',
      () =>
        /reload \(.*\) failed, keeping the running checks: .*broken\.yaml:4: checks\[0\]\.type/.test(monitor.output()),
      20_000,
    )
    // The help's reload hint finds this process (it is `node`, so pidof probekit would not).
    const hint = /pkill -HUP -f '([^']+)'/.exec(runMonitor(['--help']).stdout)?.[1]
    assert.ok(hint, 'the help shows a pkill -HUP hint')
    const found = execFileSync('pgrep', ['-f', hint], { encoding: 'utf8' }).split('\n')
    assert.ok(found.includes(String(monitor.child.pid)), `pgrep -f '${hint}' finds the monitor`)
    assert.match('/usr/bin/node /usr/local/bin/probekit monitor pods/', new RegExp(hint), 'and a global install')
    monitor.child.kill('SIGHUP')
    await waitFor(
      'the SIGHUP reload to fail the same way',
      () => /reload \(SIGHUP\) failed/.test(monitor.output()),
      20_000,
    )

    monitor.child.kill('SIGTERM')
    assert.equal(await monitor.exited, 0)
    assert.match(monitor.output(), /SIGTERM, stopping/)
    const store = openStore(`sqlite:${storeFile}`) as SqliteStore
    try {
      assert.equal(store.check(), 'ok')
      assert.deepEqual(
        store.loadStates().map((s) => [s.id, s.state]),
        [
          ['n1/web/down', 'critical'],
          ['n1/web/health_check', 'passing'],
        ],
      )
      assert.ok(store.history('n1/web/health_check').length > 0, 'history was flushed on the way out')
    } finally {
      store.close()
    }
  })

  it('leaves a store that opens cleanly after kill -9 in the middle of writing', async () => {
    const dir = makeTempDir('cli-monitor')
    const lines = ['id: busy', 'node: n1', 'checks:']
    // Checks of a target that flips between 200 and 503 on every request: the monitor
    // writes transitions all the time.
    for (let i = 0; i < 40; i++) lines.push(`  - name: c${i}`, `    url: ${base}/flip/${i}`, '    interval: 200ms')
    writeFileSync(join(dir, 'busy.yaml'), `${lines.join('\n')}\n`)
    const storeFile = join(dir, 'busy.sqlite')
    const monitor = startMonitor([
      '--store',
      `sqlite:${storeFile}`,
      '--listen',
      'none',
      '--quiet',
      join(dir, 'busy.yaml'),
    ])
    running.push(monitor)
    await waitFor(
      'transitions being written',
      () => {
        const store = openStore(`sqlite:${storeFile}`, { readonly: true })
        try {
          return store.transitions({ limit: 100 }).length >= 100
        } finally {
          store.close()
        }
      },
      60_000,
      100,
    )
    monitor.child.kill('SIGKILL')
    await monitor.exited
    const store = openStore(`sqlite:${storeFile}`) as SqliteStore
    try {
      assert.equal(store.check(), 'ok')
      assert.equal(store.loadStates().length, 40)
    } finally {
      store.close()
    }
  })

  it('takes a SIGHUP or a SIGTERM while it starts: reloads once running, or stops cleanly with status 0', async () => {
    const dir = makeTempDir('cli-monitor')
    // 20,000 push checks: loading them takes long enough to signal the monitor meanwhile.
    const docs: string[] = []
    for (let p = 0; p < 200; p++) {
      const lines = [`id: pod-${p}`, 'node: n1', 'checks:']
      for (let c = 0; c < 100; c++) lines.push(`  - { name: c${c}, type: push, period: 1h }`)
      docs.push(lines.join('\n'))
    }
    const file = join(dir, 'fleet.yaml')
    writeFileSync(file, `${docs.join('\n---\n')}\n`)
    /** Starts a monitor and resolves once it handles `signal` (its handler is installed), before its checks are loaded. */
    const startAndWaitFor = async (signal: 'SIGHUP' | 'SIGTERM') => {
      const monitor = startMonitor(['--store', `sqlite:${join(dir, `${signal}.sqlite`)}`, '--listen', 'none', file])
      running.push(monitor)
      // /proc/<pid>/status: SigCgt, the signals the process catches (bit n-1 for signal n).
      // Node catches SIGTERM from its start (to restore the terminal); SIGHUP is caught once
      // the monitor's handlers for the start-up are there, SIGTERM's and SIGINT's with it.
      const bit = 1n
      await waitFor(
        `the monitor to catch ${signal}`,
        () => {
          const status = readFileSync(`/proc/${monitor.child.pid}/status`, 'utf8')
          return (BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1]}`) & bit) !== 0n
        },
        20_000,
        5,
      )
      assert.doesNotMatch(monitor.output(), /watching/, 'still starting')
      return monitor
    }

    const hupped = await startAndWaitFor('SIGHUP')
    hupped.child.kill('SIGHUP')
    await waitFor(
      'the reload the SIGHUP asked for',
      () => /reloaded the manifests \(SIGHUP\)/.test(hupped.output()),
      60_000,
    )
    assert.match(hupped.output(), /watching 20000 checks of 200 pods/)
    hupped.child.kill('SIGTERM')
    assert.equal(await hupped.exited, 0, hupped.output())

    const termed = await startAndWaitFor('SIGTERM')
    termed.child.kill('SIGTERM')
    assert.equal(await termed.exited, 0, termed.output())
    assert.match(termed.output(), /probekit monitor: SIGTERM while starting, stopped$/m)
    assert.doesNotMatch(termed.output(), /watching|error/)
  })
  it('takes a SIGTERM or a SIGHUP sent the moment it prints its start line, before the next turn of its event loop', async () => {
    const dir = makeTempDir('cli-monitor')
    const file = join(dir, 'web.yaml')
    writeFileSync(file, `id: web\nstatus_port: 1\nstatus_http: true\n`)
    // Preloaded: as the start line is written, the monitor signals itself, and waits until
    // the signal has surely been caught (by any thread) before its code goes on. This is
    // what a supervisor does that stops a service as soon as it says it is up; the
    // start-up's handlers were taken off before the running ones went on, and Node dropped
    // the caught signal with the closed handle (1 start in 10, here, by hand).
    const hook = join(dir, 'raise.cjs')
    writeFileSync(
      hook,
      `const write = process.stdout.write.bind(process.stdout)
process.stdout.write = (chunk, ...rest) => {
  const done = write(chunk, ...rest)
  if (String(chunk).includes('probekit monitor: watching')) {
    process.kill(process.pid, process.env.RAISE)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
  }
  return done
}
`,
    )
    const raising = (signal: string, name: string) =>
      startMonitor(['--store', `sqlite:${join(dir, `${name}.sqlite`)}`, '--listen', 'none', file], {
        nodeArgs: ['-r', hook],
        env: { RAISE: signal },
      })

    const termed = raising('SIGTERM', 'term')
    running.push(termed)
    const code = await Promise.race([termed.exited, sleep(10_000).then(() => 'still running')])
    assert.equal(code, 0, termed.output())
    assert.match(termed.output(), /watching 1 check of 1 pod[\s\S]*probekit monitor: SIGTERM, stopping$/m)

    const hupped = raising('SIGHUP', 'hup')
    running.push(hupped)
    await waitFor(
      'the reload the SIGHUP asked for',
      () => /reloaded the manifests \(SIGHUP\)/.test(hupped.output()),
      10_000,
    )
    hupped.child.kill('SIGTERM')
    assert.equal(await hupped.exited, 0, hupped.output())
  })
})
