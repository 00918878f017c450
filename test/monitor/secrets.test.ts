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
import { registerSecrets } from '../../src/monitor/secrets.js'
import { MemoryStore } from '../../src/monitor/store/index.js'
import { buildCli } from '../cli/run-cli.js'
import { makeTempDir, waitFor } from '../support/server-process.js'
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
})
