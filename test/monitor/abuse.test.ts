/**
 * The monitor under abuse, as real processes: the built CLI, a push flood, thousands of
 * long-poll watchers, a webhook receiver that never answers, kill -9. Everything is
 * counted (lines, runs, answers), never timed, so a loaded machine slows these tests
 * down without making them lie.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { openStore, type SqliteStore } from '../../src/monitor/store/index.js'
import { buildCli } from '../cli/run-cli.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'

const root = resolve(import.meta.dirname, '../..')
const bin = join(root, 'bin/probekit.js')
const abuseScript = join(root, 'bench/support/abuse.mjs')
const LOAD_TEST_TIMEOUT = 180_000

interface Running {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
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

interface AbuseCounts {
  watchAnswers: number
  watchBusy: number
  watchErrors: number
  pushes: Record<string, number>
  pushErrors: number
  aborted: number
}

/** Runs the abuse client (watchers and a push flood) for `seconds` against the monitor's API. */
async function abuse(api: string, args: string[]): Promise<AbuseCounts> {
  const client = start([abuseScript, '--api', api, ...args])
  running.push(client)
  const code = await client.exited
  assert.equal(code, 0, `the abuse client failed: ${client.output()}`)
  return JSON.parse(client.output().trim().split('\n').pop() as string) as AbuseCounts
}

const running: Running[] = []

describe('the monitor under abuse', () => {
  let target: Server
  let base: string
  /** When /tick was hit (Date.now()), as the target saw it. */
  const ticks: number[] = []

  before(async () => {
    buildCli()
    target = createServer((req, res) => {
      if (req.url === '/tick') ticks.push(Date.now())
      res.end('ok\n')
    })
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL')
    target.closeAllConnections()
    await new Promise((r) => target.close(r))
  })

  /** Starts `probekit monitor` on a manifest and resolves with its API URL. */
  async function monitor(manifest: string, args: string[], store = 'memory') {
    const dir = makeTempDir('abuse')
    const file = join(dir, 'pods.yaml')
    writeFileSync(file, manifest)
    const m = start([bin, 'monitor', '--store', store, '--listen', '127.0.0.1:0', '--no-watch', ...args, file])
    running.push(m)
    const line = await waitFor('the API line', () => /API (http:\/\/[^/\s]+)\//.exec(m.output()), 30_000)
    return { ...m, api: line[1] as string, dir }
  }

  const PUSH_POD = 'id: flood\nnode: n1\nchecks:\n  - name: job\n    type: push\n    period: 1h\n'

  it('refuses a bad --push-rate, --max-watchers, --max-streams or --shutdown-timeout as a usage error', () => {
    const dir = makeTempDir('abuse-usage')
    const file = join(dir, 'pods.yaml')
    writeFileSync(file, PUSH_POD)
    const usage = (flag: string, value: string) => {
      const run = spawnSync(process.execPath, [bin, 'monitor', '--store', 'memory', flag, value, file], {
        encoding: 'utf8',
        timeout: 20_000,
      })
      assert.equal(run.status, 1, run.stdout)
      return run.stdout
    }
    assert.match(
      usage('--push-rate', '0'),
      /usage error: --push-rate "0" is not a rate; use a number of pushes per second above 0/,
    )
    assert.match(usage('--max-watchers', 'lots'), /usage error: --max-watchers "lots" is not a count/)
    assert.match(usage('--max-streams', '0'), /usage error: --max-streams "0" is not a count/)
    assert.match(usage('--shutdown-timeout', 'soon'), /usage error: --shutdown-timeout "soon" is not a duration/)
  })

  it('writes a handful of log lines, with a count of the rest, during a push flood with aborted requests', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    // A push rate this high lets the flood through, so the log bound itself is what is tested.
    const m = await monitor(PUSH_POD, ['--push-rate', '100000'])
    const counts = await abuse(m.api, [
      '--push',
      'flood/job',
      '--pushers',
      '4',
      '--seconds',
      '3',
      '--abort-every',
      '10',
    ])
    const accepted = counts.pushes['200'] ?? 0
    assert.ok(accepted >= 200, `the flood got through: ${JSON.stringify(counts)}`)
    assert.ok(counts.aborted >= 20, `pushes were cut off mid-body: ${JSON.stringify(counts)}`)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0)
    const lines = m.output().trim().split('\n')
    const aboutJob = lines.filter((l) => l.includes('flood/job on n1'))
    // One line for the first state change of the window, one with the count of the rest.
    assert.ok(aboutJob.length <= 2, `at most two lines about the check:\n${aboutJob.join('\n')}`)
    const summary = aboutJob.find((l) => /… \(and [\d,]+ more like this in the last 10 s; now \w+\)/.test(l))
    assert.ok(summary, `a line counts the state changes held back:\n${lines.join('\n')}`)
    const held = Number((/and ([\d,]+) more/.exec(summary) as RegExpExecArray)[1]?.replaceAll(',', ''))
    // Four pushers interleave success and failure: about every other accepted push is a change.
    assert.ok(held >= accepted / 4, `the count covers the flood (${held} held back of ${accepted} accepted pushes)`)
    assert.equal(lines.filter((l) => /error/.test(l)).length, 0, `no error lines:\n${lines.join('\n')}`)
    assert.ok(lines.length <= 8, `a few lines in all:\n${lines.join('\n')}`)
  })

  it('answers 429 with Retry-After past the push rate, and changes nothing', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    // One push per 5 s: the second push of a pair is refused however slow this machine is.
    const m = await monitor(PUSH_POD, ['--push-rate', '0.2'])
    const first = await fetch(`${m.api}/v1/push/flood/job`, { method: 'POST' })
    assert.equal(first.status, 200)
    const second = await fetch(`${m.api}/v1/push/flood/job/fail`, { method: 'POST', body: 'disk full' })
    assert.equal(second.status, 429)
    const retryAfter = Number(second.headers.get('retry-after'))
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 5, `Retry-After ${retryAfter}`)
    assert.match(((await second.json()) as { error: string }).error, /too many pushes for n1\/flood\/job/)
    const state = (await (await fetch(`${m.api}/v1/checks/n1/flood/job`)).json()) as { state: string; output: string }
    assert.equal(state.state, 'passing')
    assert.doesNotMatch(state.output, /disk full/)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0)
  })

  it('answers 503 with Retry-After past the watcher and stream caps, and takes new ones when a slot frees', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    const m = await monitor(PUSH_POD, ['--max-watchers', '5', '--max-streams', '2'])
    const index = (await fetch(`${m.api}/v1/checks`)).headers.get('x-probekit-index')
    const held: AbortController[] = []
    const watch = (signal: AbortSignal) => fetch(`${m.api}/v1/checks?index=${index}&wait=5m`, { signal })
    for (let i = 0; i < 5; i++) {
      const abort = new AbortController()
      held.push(abort)
      watch(abort.signal).catch(() => {})
    }
    const refused = await waitFor(
      'the sixth watcher to be refused',
      async () => {
        const abort = new AbortController()
        const timer = setTimeout(() => abort.abort(), 2000)
        try {
          const res = await watch(abort.signal)
          return res.status === 503 ? res : undefined
        } catch {
          return undefined // accepted while one of the five was still on its way: it waits (then aborted)
        } finally {
          clearTimeout(timer)
        }
      },
      60_000,
    )
    assert.equal(refused.headers.get('retry-after'), '5')
    assert.match(((await refused.json()) as { error: string }).error, /5 watchers are waiting/)

    // A watcher that leaves frees its slot.
    held.pop()?.abort()
    const abort = new AbortController()
    const accepted = await waitFor(
      'a watcher to be accepted again',
      async () => {
        const timer = setTimeout(() => abort.abort(), 60_000)
        const pending = watch(abort.signal).then((res) => (res.status === 503 ? undefined : res))
        // Accepted means held open: no answer within a second.
        const answered = await Promise.race([pending.then(() => true), sleep(1000).then(() => false)]).catch(() => true)
        clearTimeout(timer)
        return answered ? undefined : true
      },
      60_000,
    )
    assert.equal(accepted, true)

    const streams = [new AbortController(), new AbortController()]
    for (const s of streams) {
      const res = await fetch(`${m.api}/v1/events`, { signal: s.signal })
      assert.equal(res.status, 200)
    }
    const third = await fetch(`${m.api}/v1/events`)
    assert.equal(third.status, 503)
    assert.equal(third.headers.get('retry-after'), '5')
    for (const h of [...held, ...streams, abort]) h.abort()
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0)
  })

  it('compresses a long-poll answer once for every watcher that accepts gzip, and answers plain to the others', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    const checks = Array.from({ length: 30 }, (_, i) => `  - name: job${i}\n    type: push\n    period: 1h\n`)
    const m = await monitor(`id: many\nnode: n1\nchecks:\n${checks.join('')}`, [])
    const index = (await fetch(`${m.api}/v1/checks`)).headers.get('x-probekit-index')
    const get = (encoding: string | undefined) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolveGet, reject) => {
        const req = httpRequest(
          `${m.api}/v1/checks?index=${index}&wait=1m`,
          { headers: encoding ? { 'accept-encoding': encoding } : {} },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => resolveGet({ headers: res.headers, body: Buffer.concat(chunks) }))
          },
        )
        req.on('error', reject)
        req.end()
      })
    const zipped = get('gzip, deflate')
    const plain = get(undefined)
    await sleep(500)
    assert.equal((await fetch(`${m.api}/v1/push/many/job7`, { method: 'POST' })).status, 200)
    const [z, p] = await Promise.all([zipped, plain])
    assert.equal(z.headers['content-encoding'], 'gzip')
    assert.equal(p.headers['content-encoding'], undefined)
    const unzipped = gunzipSync(z.body).toString()
    assert.equal(unzipped, p.body.toString())
    const states = JSON.parse(unzipped) as { id: string; state: string }[]
    assert.equal(states.length, 30)
    assert.equal(states.find((s) => s.id === 'n1/many/job7')?.state, 'passing')
    assert.ok(z.body.length < p.body.length / 3, `${z.body.length} bytes compressed, ${p.body.length} plain`)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0)
  })

  it('keeps at least 70% of a 1 s check’s runs with 2,000 long-poll watchers and a push flood', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    const manifest = `${PUSH_POD}  - name: tick\n    url: ${base}/tick\n    interval: 1s\n`
    const m = await monitor(manifest, ['--max-watchers', '2500', '--quiet'])
    // Two clients, so the watchers' answers do not slow the flood down.
    const seconds = ['--seconds', '26']
    const watching = abuse(m.api, ['--watchers', '2000', ...seconds])
    const flooding = abuse(m.api, ['--push', 'flood/job', '--pushers', '8', '--abort-every', '20', ...seconds])
    // The watchers arrive over a second or two; count over the 20 s after that.
    await sleep(4000)
    const from = Date.now()
    await sleep(20_000)
    const to = Date.now()
    const [watched, flooded] = await Promise.all([watching, flooding])
    const runs = ticks.filter((t) => t >= from && t < to).length
    const pushes = Object.values(flooded.pushes).reduce((a, b) => a + b, 0)
    const detail = JSON.stringify({ watched, flooded })
    assert.ok(watched.watchAnswers >= 2000, `the watchers were answered: ${detail}`)
    assert.ok(pushes >= 50, `the flood was sent: ${detail}`)
    // Readers starving the schedule ran it 4 times in 20 s (20 without them). The monitor,
    // both abuse clients and the rest of the suite share this machine's cores, so the bound
    // leaves room for a busy machine (16 of 20 was seen under CI load) and still catches that.
    assert.ok(runs >= 14, `the 1 s check ran ${runs} times in ${to - from} ms (${detail})`)
    m.child.kill('SIGTERM')
    assert.equal(await m.exited, 0)
  })

  it('exits 0 within the shutdown timeout on SIGTERM with a webhook that never answers, with one line', {
    timeout: LOAD_TEST_TIMEOUT,
  }, async () => {
    // Accepts every request and never answers.
    let received = 0
    const hanging = createServer(() => {
      received++
    })
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
    const hook = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`
    try {
      const m = await monitor(PUSH_POD, ['--webhook', hook, '--webhook-min-interval', '0', '--shutdown-timeout', '2s'])
      // A flapping check: notifications pile up behind the receiver.
      for (let i = 0; i < 20; i++) {
        await fetch(`${m.api}/v1/push/flood/job${i % 2 ? '/fail' : ''}`, { method: 'POST' })
      }
      await waitFor('requests to reach the receiver', () => received > 0, 30_000)
      const stoppedAt = Date.now()
      m.child.kill('SIGTERM')
      const code = await m.exited
      const tookMs = Date.now() - stoppedAt
      assert.equal(code, 0)
      // The contract's bound: the shutdown timeout plus a second.
      assert.ok(tookMs < 3000, `exited ${tookMs} ms after SIGTERM`)
      const abandoned = m
        .output()
        .split('\n')
        .filter((l) => /abandon/.test(l))
      assert.equal(abandoned.length, 1, m.output())
      assert.match(abandoned[0] as string, /abandoned \d+ pending notifications? \(webhooks: \d+\)/)
    } finally {
      hanging.closeAllConnections()
      await new Promise((r) => hanging.close(r))
    }
  })

  it('opens and serves after kill -9 in the middle of a push flood', { timeout: LOAD_TEST_TIMEOUT }, async () => {
    const dir = makeTempDir('abuse-kill')
    const storeFile = join(dir, 'flood.sqlite')
    const m = await monitor(PUSH_POD, ['--push-rate', '100000', '--quiet'], `sqlite:${storeFile}`)
    const flood = abuse(m.api, ['--push', 'flood/job', '--pushers', '4', '--seconds', '30'])
    await waitFor(
      'transitions reaching the file',
      () => {
        const store = openStore(`sqlite:${storeFile}`, { readonly: true })
        try {
          return store.transitions({ limit: 200 }).length >= 200
        } finally {
          store.close()
        }
      },
      60_000,
      100,
    )
    m.child.kill('SIGKILL')
    await m.exited
    await flood
    const again = await monitor(PUSH_POD, ['--quiet'], `sqlite:${storeFile}`)
    const res = await fetch(`${again.api}/v1/checks/n1/flood/job`)
    assert.equal(res.status, 200)
    const state = (await res.json()) as { state: string }
    assert.ok(['passing', 'critical'].includes(state.state), `the stored state came back: ${state.state}`)
    const ready = await fetch(`${again.api}/readyz`)
    assert.equal(ready.status, 200)
    const push = await fetch(`${again.api}/v1/push/flood/job`, { method: 'POST' })
    assert.equal(push.status, 200)
    again.child.kill('SIGTERM')
    assert.equal(await again.exited, 0)
    const store = openStore(`sqlite:${storeFile}`) as SqliteStore
    try {
      assert.equal(store.check(), 'ok')
    } finally {
      store.close()
    }
  })
})
