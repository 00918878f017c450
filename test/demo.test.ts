import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CheckState } from '../src/monitor/types.js'
import { canConnect, ManagedProcess, requireBinary, waitFor } from './support/server-process.js'

// The README's main-job command, end to end: scripts/demo.sh runs scripts/setup.sh and
// then this script, which is what the test starts (the suite has built probekit already).
const root = new URL('..', import.meta.url).pathname
let demo: ManagedProcess
let urls: { app: string; health: string; monitor: string; dir: string }

async function pod(name: string): Promise<CheckState[]> {
  const res = await fetch(`${urls.monitor}/v1/pods/${name}`)
  assert.equal(res.status, 200)
  return (await res.json()) as CheckState[]
}

async function stateOf(podName: string, check: string): Promise<string | undefined> {
  return (await pod(podName)).find((s) => s.check === check)?.state
}

before(async () => {
  assert.ok(
    existsSync(join(root, 'dist/bin/probekit.js')),
    'probekit is not built; run npm run build (scripts/test.sh does) before this test',
  )
  demo = new ManagedProcess('demo', process.execPath, [join(root, 'scripts/demo.mjs'), '--ports', 'random'], {
    cwd: root,
    ready: () => /probekit demo is running/.test(demo.recentOutput),
    readyTimeoutMs: 60_000,
  })
  await demo.start()
  const out = demo.recentOutput
  const match = (re: RegExp) => {
    const m = re.exec(out)
    assert.ok(m, `the demo did not print ${re}:\n${out}`)
    return m[1] as string
  }
  urls = {
    monitor: match(/dashboard +(http:\/\/127\.0\.0\.1:\d+)\//),
    app: match(/app +(http:\/\/127\.0\.0\.1:\d+)\//),
    health: match(/its health: (http:\/\/127\.0\.0\.1:\d+)\/readyz/),
    dir: match(/state directory +(\S+)/),
  }
})

after(async () => {
  await demo?.kill()
})

describe('the demo (scripts/demo.mjs)', () => {
  it('starts the app, the worker and the monitor, and prints the URLs to open', async () => {
    const dashboard = await fetch(`${urls.monitor}/`)
    assert.equal(dashboard.status, 200)
    assert.match(await dashboard.text(), /probekit monitor/)
    assert.equal((await fetch(`${urls.health}/readyz`)).status, 200)
    await waitFor(
      'every demo check passing',
      async () => {
        const checks = [...(await pod('demo-app')), ...(await pod('demo-worker'))]
        return checks.length === 5 && checks.every((c) => c.state === 'passing')
      },
      30_000,
    )
  })

  it('shows a broken database on the monitor within one interval, and the healing too', async () => {
    const broke = await fetch(`${urls.app}/break`, { method: 'POST' })
    assert.equal(broke.status, 200)
    // The app's readiness fails at once; the monitor checks it every 2 s.
    await waitFor(
      'demo-app to turn critical',
      async () => (await stateOf('demo-app', 'health_check')) === 'critical',
      4500,
    )
    const critical = (await pod('demo-app')).find((c) => c.check === 'health_check') as CheckState
    assert.match(critical.output, /database is locked/)
    assert.equal(await stateOf('demo-app', 'liveness'), 'passing', 'a database outage must not fail liveness')
    // The worker's jobs fail too, and it says so to the monitor's push endpoint.
    await waitFor(
      'the worker reporting failed jobs',
      async () => (await stateOf('demo-worker', 'jobs')) === 'critical',
      10_000,
    )

    const healed = await fetch(`${urls.app}/heal?dep=database`, { method: 'POST' })
    assert.equal(healed.status, 200)
    await waitFor('demo-app to pass again', async () => (await stateOf('demo-app', 'health_check')) === 'passing', 4500)
    await waitFor('the worker passing again', async () => (await stateOf('demo-worker', 'jobs')) === 'passing', 10_000)
  })

  it('shows a broken payments service as its own critical check while the app stays ready', async () => {
    await fetch(`${urls.app}/break?dep=payments`, { method: 'POST' })
    await waitFor('payments to turn critical', async () => (await stateOf('demo-app', 'payments')) === 'critical', 4500)
    assert.equal(
      await stateOf('demo-app', 'health_check'),
      'passing',
      'a degraded dependency pulled the app out of rotation',
    )
    const verbose = await (await fetch(`${urls.health}/readyz?verbose`)).text()
    assert.match(verbose, /payments/)
    await fetch(`${urls.app}/heal`, { method: 'POST' })
    await waitFor('payments to pass again', async () => (await stateOf('demo-app', 'payments')) === 'passing', 4500)
  })

  it('stops everything gracefully on Ctrl-C (SIGINT) and exits 0', async () => {
    const ports = [urls.app, urls.health, urls.monitor].map((u) => Number(new URL(u).port))
    await demo.stop('SIGINT')
    assert.equal(demo.child?.exitCode, 0, demo.recentOutput)
    assert.match(demo.recentOutput, /\[app\] +stopped/)
    assert.match(demo.recentOutput, /\[worker\] +stopped/)
    assert.match(demo.recentOutput, /probekit monitor: SIG(INT|TERM), stopping/)
    assert.match(demo.recentOutput, /probekit demo: stopped\./)
    for (const port of ports) assert.equal(await canConnect(port), false, `port ${port} still accepts connections`)
    assert.equal(existsSync(urls.dir), false, 'the state directory was left behind')
  })
})

describe('the demo in a terminal', () => {
  it('breaks on b, heals on h and stops on Ctrl-C, read from the keyboard', async () => {
    // util-linux `script` gives the demo a real pseudo-terminal; what we write to its stdin
    // arrives as keypresses (raw mode: Ctrl-C is the byte 0x03, not a signal).
    const scriptBin = requireBinary('script')
    const command = `${process.execPath} ${join(root, 'scripts/demo.mjs')} --ports random`
    const child = spawn(scriptBin, ['-qfec', command, '/dev/null'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      await waitFor('the demo to start in the terminal', () => /state directory/.test(out), 60_000)
      assert.match(out, /press b, or curl/)
      // The URL is coloured in a terminal; skip the escape sequence before it.
      const monitor = /dashboard\s+\S*?(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string
      const state = async () =>
        ((await (await fetch(`${monitor}/v1/pods/demo-app`)).json()) as CheckState[]).find(
          (c) => c.check === 'health_check',
        )?.state
      await waitFor('demo-app passing', async () => (await state()) === 'passing', 30_000)
      child.stdin.write('b')
      await waitFor('demo-app critical after b', async () => (await state()) === 'critical', 4500)
      child.stdin.write('h')
      await waitFor('demo-app passing after h', async () => (await state()) === 'passing', 4500)
      child.stdin.write('\u0003')
      assert.equal(await exited, 0, out)
      assert.match(out, /probekit demo: stopped\./)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('the demo stopped by a Ctrl-C that reaches every process', () => {
  it('exits 0 when the whole process group gets SIGINT (stdin not a terminal)', async () => {
    // Without a terminal in raw mode, Ctrl-C is a SIGINT to the foreground process group:
    // the app, the worker and the monitor get it at the same time as the demo.
    const child = spawn(process.execPath, [join(root, 'scripts/demo.mjs'), '--ports', 'random'], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      await waitFor('the demo to start', () => /\[worker\] +worker taking a job/.test(out), 60_000)
      const dir = /state directory +(\S+)/.exec(out)?.[1] as string
      // Past the worker's first jobs, when its push checks have settled.
      await new Promise((resolve) => setTimeout(resolve, 4000))
      process.kill(-(child.pid as number), 'SIGINT')
      assert.equal(await exited, 0, out)
      assert.match(out, /probekit demo: stopped\./)
      assert.equal(existsSync(dir), false, 'the state directory was left behind')
    } finally {
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {}
    }
  })
})
