/**
 * Secrets never travel, output is inert (DESIGN.md section 8): a real monitor process
 * checks a real target that echoes every request header back, with ANSI and OSC
 * sequences around them; a real webhook receiver takes its notifications. Nothing the
 * manifests configure may come out, and nothing a target says may drive a terminal.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Monitor } from '../../src/monitor/monitor.js'
import { registerReceiverSecrets, registerSecrets } from '../../src/monitor/secrets.js'
import { MemoryStore } from '../../src/monitor/store/index.js'
import { buildCli } from '../cli/run-cli.js'
import { type MonitorProcess, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir, refusedPort, waitFor } from '../support/server-process.js'
import { makeTestCa } from '../support/test-ca.js'

const root = resolve(import.meta.dirname, '../..')
const bin = join(root, 'bin/probekit.js')

/** Any raw control character a terminal acts on: C0 but newline and tab, ESC, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
/** ANSI/OSC a hostile target sends: clear screen, retitle the window, write the clipboard, a C1 CSI. */
const HOSTILE = '\u001b[2J\u001b]0;owned\u0007\u001b]52;c;aGVsbG8=\u0007\u009b31m'

const BASIC_USER = 'robot'
const BASIC_PASSWORD = 'BasicPw-7731'
const BEARER = 'tok-5f3a9c1e0d'
const API_KEY = 'key-b71d22e0aa'
const PUSH_TOKEN = 'push-tok-93e1c8d2f4a6b7'
const SECRETS = [
  BASIC_PASSWORD,
  Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64'),
  `${BASIC_USER}:${BASIC_PASSWORD}`,
  BEARER,
  API_KEY,
  PUSH_TOKEN,
]

function assertNoSecret(where: string, text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} holds ${secret}:\n${text.slice(0, 2000)}`)
}

function listen(server: Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)))
}

describe('monitor: manifest secrets never travel, output is inert', () => {
  let target: Server
  let targetPort: number
  let receiver: Server
  let receiverPort: number
  const hooks: string[] = []
  let child: ChildProcess | undefined

  before(async () => {
    buildCli()
    // Answers 503 with every request header echoed as JSON, wrapped in escape sequences.
    target = createServer((req, res) => {
      res.statusCode = 503
      res.setHeader('content-type', 'text/plain')
      res.end(`${HOSTILE}${JSON.stringify(req.headers)}${HOSTILE}\nsecond line ${HOSTILE}\n`)
    })
    targetPort = await listen(target)
    receiver = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => {
        body += c
      })
      req.on('end', () => {
        hooks.push(body)
        res.end()
      })
    })
    receiverPort = await listen(receiver)
  })

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    for (const server of [target, receiver]) {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })

  it('keeps them out of /v1, the SQLite file, webhooks, the log and inspect, and escapes what the target said', async () => {
    const dir = makeTempDir('secrets')
    const manifest = join(dir, 'echo.yaml')
    writeFileSync(
      manifest,
      [
        'id: echo',
        'node: n1',
        'checks:',
        '  - name: basic',
        `    url: http://${BASIC_USER}:${BASIC_PASSWORD}@127.0.0.1:${targetPort}/echo`,
        '    interval: 1s',
        '  - name: bearer',
        `    url: http://127.0.0.1:${targetPort}/echo`,
        '    interval: 1s',
        '    headers:',
        `      Authorization: Bearer ${BEARER}`,
        `      X-Api-Key: ${API_KEY}`,
        '  - name: job',
        '    type: push',
        '    period: 1h',
        `    token: ${PUSH_TOKEN}`,
        '',
      ].join('\n'),
    )
    const storeFile = join(dir, 'monitor.sqlite')
    const proc = spawn(
      process.execPath,
      [
        bin,
        'monitor',
        '--store',
        `sqlite:${storeFile}`,
        '--listen',
        '127.0.0.1:0',
        '--webhook',
        `http://127.0.0.1:${receiverPort}/hook`,
        '--webhook-min-interval',
        '0',
        manifest,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = proc
    let log = ''
    proc.stdout?.on('data', (c: Buffer) => {
      log += c.toString('utf8')
    })
    proc.stderr?.on('data', (c: Buffer) => {
      log += c.toString('utf8')
    })
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))

    const api = (await waitFor('the API line', () => /API (http:\/\/[^/\s]+)\//.exec(log), 20_000))[1] as string
    await waitFor(
      'both echo checks to turn critical',
      () => (log.match(/unknown → critical/g) ?? []).length >= 2,
      20_000,
    )

    // A job pushes a failure whose log quotes its own token and the bearer token, in escape
    // sequences, over two lines.
    const push = await fetch(`${api}/v1/push/job/fail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PUSH_TOKEN}` },
      body: `${HOSTILE}job failed using ${BEARER} and ${PUSH_TOKEN}\n2026-01-01T00:00:00.000Z forged line`,
    })
    assert.equal(push.status < 300, true, `push answered ${push.status}`)
    await waitFor('the push transition in the log', () => /echo\/job on n1: unknown → critical/.test(log), 20_000)
    await waitFor('three webhook notifications', () => hooks.length >= 3, 20_000)

    // What the API serves.
    const checks = await (await fetch(`${api}/v1/checks`)).text()
    assert.match(checks, /second line/, 'the echoed body is there')
    assertNoSecret('/v1/checks', checks)
    assert.doesNotMatch(checks, RAW_CONTROL, '/v1/checks is inert in a terminal')
    const inspectApi = await (await fetch(`${api}/v1/inspect`)).text()
    assertNoSecret('/v1/inspect', inspectApi)

    // What the webhooks sent.
    for (const hook of hooks) {
      assertNoSecret('a webhook body', hook)
      assert.doesNotMatch(hook, RAW_CONTROL)
    }

    proc.kill('SIGTERM')
    assert.equal(await exited, 0)
    child = undefined

    // What the monitor logged: every line one inert line, with no secret.
    assertNoSecret('the log', log)
    assert.doesNotMatch(log, RAW_CONTROL)
    assert.match(log, /\\x1b\[2J/, 'escape sequences are shown, escaped')
    assert.doesNotMatch(log, /^2026-01-01T00:00:00\.000Z forged line/m)

    // What the store holds, byte for byte (the WAL too, if one is left).
    for (const file of [storeFile, `${storeFile}-wal`]) {
      if (!existsSync(file)) continue
      assertNoSecret(file, readFileSync(file).toString('latin1'))
    }

    // What inspect prints from that store.
    for (const format of ['json', 'tree']) {
      const out = execFileSync(
        process.execPath,
        [bin, 'inspect', '--store', `sqlite:${storeFile}`, '--format', format],
        {
          encoding: 'utf8',
          timeout: 20_000,
        },
      )
      assert.match(out, /bearer/)
      assertNoSecret(`inspect --format ${format}`, out)
      assert.doesNotMatch(out, RAW_CONTROL, `inspect --format ${format} is inert`)
    }
  })
})

describe('Monitor.secrets', () => {
  it("are each monitor's own, and outlive the manifest that configured them", async () => {
    const dir = makeTempDir('secrets')
    const manifest = join(dir, 'a.yaml')
    const write = (password: string) =>
      writeFileSync(
        manifest,
        `id: a\nnode: n1\nchecks:\n  - name: c\n    url: http://u:${password}@127.0.0.1:1/\n    interval: 1h\n`,
      )
    write('FirstPw-1234')
    const a = new Monitor({ store: new MemoryStore(), logger: false })
    const b = new Monitor({ store: new MemoryStore(), logger: false })
    await a.load([manifest])
    assert.equal(a.redact('x FirstPw-1234 y'), 'x *** y')
    assert.equal(b.redact('x FirstPw-1234 y'), 'x FirstPw-1234 y', "b's outputs are not a's business")

    write('SecondPw-5678')
    await a.reload()
    assert.equal(a.redact('FirstPw-1234 SecondPw-5678'), '*** ***', 'a removed secret stays masked')
    await a.stop()
    await b.stop()
  })

  it('cover header values, secret env vars, token keys and TLS key files', () => {
    const ca = makeTestCa()
    const keyLine = readFileSync(ca.serverKey, 'utf8').split('\n')[1] as string
    const spec = {
      kind: 'http',
      url: 'https://h/?api_key=query-key-1&page=2',
      headers: { 'Proxy-Authorization': 'Basic cHJveHk6cHJveHktcHc=', Accept: 'text/html' },
      env: { PGPASSWORD: 'env-pw-99', LANG: 'C.UTF-8' },
      token: 'push-token-abc',
      tls: { keyFile: ca.serverKey },
    }
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    registerSecrets(spec, monitor.secrets)
    const masked = monitor.redact(
      `query-key-1 proxy-pw proxy:proxy-pw env-pw-99 push-token-abc ${keyLine} text/html C.UTF-8 page=2`,
    )
    assert.equal(masked, '*** *** *** *** *** *** text/html C.UTF-8 page=2')
  })

  it("from a notifier's URL: its password, secret-looking path segments and query values, not its plain words", async () => {
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    registerReceiverSecrets(
      'https://bot:Chat%2FPw-9981@hooks.example.com/services/T0123ABCD/B0456EFGH/abcDEFghiJKLmno?sig=QuerySig-88&format=json&channel=ops-alerts',
      monitor.secrets,
      'webhook',
    )
    registerReceiverSecrets('http://amuser:AmPw-2468@am.internal:9093/alertmanager/', monitor.secrets, 'alertmanager')
    const masked = monitor.redact(
      'Chat/Pw-9981 Chat%2FPw-9981 T0123ABCD B0456EFGH abcDEFghiJKLmno QuerySig-88 AmPw-2468 /services/T0001/B0002',
    )
    assert.equal(masked, '*** *** *** *** *** *** *** /services/T0001/B0002')
    // Short or plain parts would mask ordinary words everywhere; the user name is no secret.
    const plain = 'bot amuser hooks services json format=json ops-alerts alertmanager api v2 9093'
    assert.equal(monitor.redact(plain), plain)
    // A webhook's path is its secret whole, however plain its words (Alertmanager's is a prefix).
    registerReceiverSecrets('https://hooks.example.com/services/ops-alerts', monitor.secrets, 'webhook')
    assert.equal(monitor.redact('POST /services/ops-alerts; /alertmanager/'), 'POST ***; /alertmanager/')
    await monitor.stop()
  })
})

describe("monitor: the notifiers' URLs are secrets too", () => {
  const HOOK_PASSWORD = 'HOOKPASSWORD123'
  const HOOK_PATH_TOKEN = 'SECRETPATHTOKEN987'
  const HOOK_SIG = 'HOOKSIG555'
  const AM_PASSWORD = 'AMPASSWORD456'
  const NOTIFIER_SECRETS = [HOOK_PASSWORD, HOOK_PATH_TOKEN, HOOK_SIG, AM_PASSWORD]
  /** What a job pushes: every secret part of both URLs, apart, among plain words of their paths. */
  const LEAK = `leak: ${NOTIFIER_SECRETS.join(' ')} via hooks and am api v2 alerts`
  const MASKED = 'leak: *** *** *** *** via hooks and am api v2 alerts'
  const MANIFEST = 'id: openjob\nnode: n1\nchecks:\n  - { name: openjob, type: push, period: 1h }\n'

  let receiver: Server
  let port: number
  const posts: { path: string; authorization: string | undefined; body: string }[] = []
  const running: MonitorProcess[] = []

  before(async () => {
    // One real receiver for both: the webhook's path and Alertmanager's API under /am.
    receiver = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (body += c))
      req.on('end', () => {
        posts.push({ path: req.url ?? '', authorization: req.headers.authorization, body })
        res.end()
      })
    })
    port = await listen(receiver)
  })

  after(async () => {
    for (const monitor of running) await monitor.stop()
    receiver.closeAllConnections()
    await new Promise((r) => receiver.close(r))
  })

  const notifierArgs = async () => [
    '--webhook',
    `http://hookuser:${HOOK_PASSWORD}@127.0.0.1:${port}/hooks/${HOOK_PATH_TOKEN}?sig=${HOOK_SIG}`,
    '--webhook-min-interval',
    '0',
    '--alertmanager',
    `http://amuser:${AM_PASSWORD}@127.0.0.1:${port}/am`,
    // Down: its line at start names it, without the user.
    '--alertmanager',
    `http://amuser:${AM_PASSWORD}@127.0.0.1:${await refusedPort()}/am`,
    '--alert-resend',
    '1s',
  ]

  async function start(dir: string, store: string, extra: string[]): Promise<MonitorProcess> {
    const monitor = spawnMonitor(['--store', `sqlite:${store}`, '--listen', '127.0.0.1:0', ...extra, dir], dir)
    running.push(monitor)
    return monitor.started()
  }

  async function pushLeak(monitor: MonitorProcess): Promise<void> {
    const answer = await fetch(`${monitor.url}/v1/push/openjob/3`, { method: 'POST', body: LEAK })
    assert.equal(answer.status, 200, await answer.text())
  }

  function assertNoNotifierSecret(where: string, text: string): void {
    for (const secret of NOTIFIER_SECRETS)
      assert.ok(!text.includes(secret), `${where} holds ${secret}:\n${text.slice(0, 2000)}`)
  }

  it('keeps their password, path token and query value out of the log, /v1, the store and every notification', async () => {
    const dir = makeTempDir('notifier-secrets')
    writeFileSync(join(dir, 'open.yaml'), MANIFEST)
    const store = join(dir, 'monitor.sqlite')
    posts.length = 0
    const monitor = await start(dir, store, await notifierArgs())
    await pushLeak(monitor)
    const hook = await waitFor('the webhook', () => posts.find((p) => p.path.startsWith('/hooks/')), 20_000)
    const alert = await waitFor('the alert', () => posts.find((p) => p.path === '/am/api/v2/alerts'), 20_000)
    await waitFor('the unreachable line', () => /unreachable/.test(monitor.output()), 20_000)
    // Both carry their URL's userinfo as Basic auth.
    assert.equal(hook.authorization, `Basic ${Buffer.from(`hookuser:${HOOK_PASSWORD}`).toString('base64')}`)
    assert.equal(alert.authorization, `Basic ${Buffer.from(`amuser:${AM_PASSWORD}`).toString('base64')}`)

    const checks = await (await fetch(`${monitor.url}/v1/checks`)).text()
    assert.match(checks, new RegExp(MASKED.replaceAll('*', '\\*')), 'plain words of the paths stay')
    assertNoNotifierSecret('/v1/checks', checks)
    for (const post of posts) assertNoNotifierSecret(`the body sent to ${post.path}`, post.body)
    assert.equal(await monitor.stop(), 0, monitor.output())

    const log = monitor.output()
    assertNoNotifierSecret('the log', log)
    assert.match(log, /alertmanager http:\/\/127\.0\.0\.1:\d+\/am: unreachable/)
    assert.doesNotMatch(log, /amuser|hookuser/)
    for (const file of [store, `${store}-wal`]) {
      if (existsSync(file)) assertNoNotifierSecret(file, readFileSync(file).toString('latin1'))
    }
  })

  it('masks them in what an earlier run without the notifiers stored, from the first read on', async () => {
    const dir = makeTempDir('notifier-secrets-restored')
    writeFileSync(join(dir, 'open.yaml'), MANIFEST)
    const store = join(dir, 'monitor.sqlite')
    const first = await start(dir, store, [])
    await pushLeak(first)
    assert.match(await (await fetch(`${first.url}/v1/checks`)).text(), /leak: HOOKPASSWORD123/)
    assert.equal(await first.stop(), 0, first.output())

    const second = await start(dir, store, await notifierArgs())
    const checks = await (await fetch(`${second.url}/v1/checks`)).text()
    assert.match(checks, /"state": "critical"/)
    assertNoNotifierSecret('/v1/checks', checks)
    assert.equal(await second.stop(), 0, second.output())
  })
})
