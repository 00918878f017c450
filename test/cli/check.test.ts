import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { formatLine, type TargetResult } from '../../src/cli/check.js'
import { blackholeServer, type FaultServer, garbageServer } from '../support/faults.js'
import { refusedPort } from '../support/server-process.js'
import { BIN, buildCli, cli } from './run-cli.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

function close(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve()
  server.closeAllConnections?.()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Any raw control character a terminal acts on: C0 but newline and tab, ESC, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

/**
 * A server speaking HTTP by hand: node:http refuses to send control characters in a
 * status text, and a hostile server does not ask. `answer` gets the request head.
 */
async function rawHttpServer(answer: (request: string) => string): Promise<{ port: number; close(): void }> {
  const server: TcpServer = createTcpServer((socket) => {
    let head = ''
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1')
      if (head.includes('\r\n\r\n')) socket.end(Buffer.from(answer(head), 'latin1'))
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as { port: number }).port, close: () => server.close() }
}

describe('probekit check', () => {
  let app: Server
  let port: number
  let base: string
  /** When each request to /slow arrived (ms since the test process started). */
  const slowArrivals: number[] = []
  let closedPort: number
  let garbage: FaultServer
  let blackhole: FaultServer

  const routes: Record<string, Handler> = {
    '/livez': (_req, res) => res.end('ok'),
    '/readyz': (_req, res) => {
      res.statusCode = 503
      res.end('[-]db failed: connection refused\nreadyz check failed\n')
    },
    '/no-content': (_req, res) => {
      res.statusCode = 204
      res.end()
    },
    '/private': (req, res) => {
      res.statusCode = req.headers['x-health-token'] === 'let-me-in' ? 200 : 401
      res.end()
    },
    '/slow': (_req, res) => {
      slowArrivals.push(performance.now())
      setTimeout(() => res.end('slow ok'), 1500)
    },
  }

  before(async () => {
    buildCli()
    app = createServer((req, res) => {
      const route = routes[(req.url ?? '').split('?')[0] as string]
      if (route) route(req, res)
      else {
        res.statusCode = 404
        res.end()
      }
    })
    port = await listen(app)
    base = `http://127.0.0.1:${port}`
    closedPort = await refusedPort()
    garbage = await garbageServer()
    blackhole = await blackholeServer()
  })

  after(async () => {
    await close(app)
    await garbage?.close()
    await blackhole?.close()
  })

  it('prints "ok <target> <status> in N ms" and exits 0 when the target passes', async () => {
    const run = await cli(['check', `${base}/livez`])
    assert.equal(run.code, 0, run.stdout)
    assert.match(run.stdout, new RegExp(`^ok ${base}/livez 200 OK in \\d+\\.\\d ms\\n$`))
  })

  it('prints "failed <target>: <reason>" and exits 1 when the app answers 503', async () => {
    const run = await cli(['check', `${base}/readyz`])
    assert.equal(run.code, 1)
    assert.match(
      run.stdout,
      new RegExp(`^failed ${base}/readyz: .*answered 503 Service Unavailable, expected 200-399\\n$`),
    )
  })

  it('checks several targets, one line each in the order given, and exits 1 if any fails', async () => {
    const run = await cli(['check', `${base}/livez`, `tcp://127.0.0.1:${port}`, `tcp://127.0.0.1:${closedPort}`])
    assert.equal(run.code, 1)
    const lines = run.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 3)
    assert.match(lines[0] as string, /^ok http:/)
    assert.match(
      lines[1] as string,
      new RegExp(`^ok tcp://127\\.0\\.0\\.1:${port} connected to 127\\.0\\.0\\.1:${port} in `),
    )
    assert.match(lines[2] as string, new RegExp(`^failed tcp://127\\.0\\.0\\.1:${closedPort}: .*connection refused`))
  })

  it('runs targets in parallel: two 1.5 s endpoints are asked at the same time', async () => {
    slowArrivals.length = 0
    const run = await cli(['check', '--timeout', '5s', `${base}/slow?a`, `${base}/slow?b`])
    assert.equal(run.code, 0, run.stdout)
    assert.equal(slowArrivals.length, 2)
    const gap = Math.abs((slowArrivals[1] as number) - (slowArrivals[0] as number))
    // In sequence the second request would arrive 1.5 s after the first.
    assert.ok(gap < 750, `the requests arrived ${gap.toFixed(0)} ms apart`)
  })

  it('fails a target that never completes the connection at --timeout, with "timed out after"', async () => {
    const run = await cli(['check', '--timeout', '1500ms', `tcp://${blackhole.address}`, `${base}/livez`])
    assert.equal(run.code, 1)
    const [hung, ok] = run.stdout.trimEnd().split('\n') as [string, string]
    assert.match(hung, new RegExp(`^failed tcp://${blackhole.address}: .*timed out after 1500 ms$`))
    assert.match(ok, /^ok /)
    // The deadline itself, measured inside the process (its start-up varies on a busy machine).
    const json = await cli(['check', '--json', '--timeout', '1500ms', `tcp://${blackhole.address}`])
    const [result] = JSON.parse(json.stdout) as { durationMs: number; output: string }[]
    assert.match(result?.output ?? '', /timed out after 1500 ms$/)
    assert.ok(
      result && result.durationMs >= 1490 && result.durationMs < 1500 + 500,
      `gave up after ${result?.durationMs} ms`,
    )
    assert.ok(run.ms < 1500 + 10_000, `the process took ${run.ms.toFixed(0)} ms`)
  })

  it('takes a bare number for --timeout as seconds', async () => {
    const run = await cli(['check', '--timeout', '1', `http://${blackhole.address}/livez`])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /timed out after 1000 ms\n$/)
  })

  it('fails fast with a protocol reason when the port answers garbage', async () => {
    const run = await cli(['check', '--timeout', '10s', `http://${garbage.address}/livez`])
    assert.equal(run.code, 1)
    assert.match(run.stdout, new RegExp(`^failed http://${garbage.address}/livez: `))
    assert.doesNotMatch(run.stdout, /timed out/)
    assert.ok(run.ms < 8000, `took ${run.ms.toFixed(0)} ms`)
  })

  it('never shows a password from the target, in lines or in --json', async () => {
    const target = `http://app:s3cret-Passw0rd@127.0.0.1:${closedPort}/readyz`
    const run = await cli(['check', target])
    assert.equal(run.code, 1)
    assert.match(run.stdout, new RegExp(`^failed http://app:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/readyz: `))
    assert.doesNotMatch(run.stdout, /s3cret/)
    const json = await cli(['check', '--json', target])
    assert.equal(json.code, 1)
    assert.doesNotMatch(json.stdout, /s3cret/)
    assert.match(json.stdout, /app:\*\*\*@/)
  })

  it('prints what a server says inert: no escape sequence of its status text reaches the terminal', async () => {
    const hostile = await rawHttpServer(
      () =>
        'HTTP/1.1 503 Bad \u001b[2J\u001b]0;owned\u0007 \u001b]52;c;aGVsbG8=\u0007 \u009b31m\r\ncontent-length: 0\r\n\r\n',
    )
    try {
      for (const args of [[], ['--json']]) {
        const run = await cli(['check', ...args, `http://127.0.0.1:${hostile.port}/`])
        assert.equal(run.code, 1)
        assert.match(run.stdout, /503 Bad/)
        assert.doesNotMatch(run.stdout, RAW_CONTROL)
      }
      const line = await cli(['check', `http://127.0.0.1:${hostile.port}/`])
      assert.match(line.stdout, /\\x1b\[2J/, 'shown as a visible escape')
    } finally {
      hostile.close()
    }
  })

  it('masks the credentials it sends when the server echoes them back', async () => {
    // The status text echoes the request's credentials, as a debugging endpoint might.
    const echo = await rawHttpServer((request) => {
      const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(request)?.[1]?.trim() ?? ''
      return `HTTP/1.1 401 key ${header('x-api-key')} auth ${header('authorization')}\r\ncontent-length: 0\r\n\r\n`
    })
    try {
      const run = await cli([
        'check',
        '--header',
        'X-Api-Key: cli-key-4242',
        `http://robot:CliPw0rd9@127.0.0.1:${echo.port}/`,
      ])
      assert.equal(run.code, 1)
      assert.match(run.stdout, /answered 401 key \*\*\* auth/)
      const basic = Buffer.from('robot:CliPw0rd9').toString('base64')
      for (const secret of ['cli-key-4242', 'CliPw0rd9', basic]) assert.ok(!run.stdout.includes(secret), run.stdout)
    } finally {
      echo.close()
    }
  })

  it('prints a JSON array of results with --json', async () => {
    const run = await cli(['check', '--json', `${base}/livez`, `${base}/readyz`])
    assert.equal(run.code, 1)
    const results = JSON.parse(run.stdout) as Record<string, unknown>[]
    assert.equal(results.length, 2)
    assert.deepEqual(
      results.map((r) => [r.target, r.status]),
      [
        [`${base}/livez`, 'pass'],
        [`${base}/readyz`, 'fail'],
      ],
    )
    assert.equal(results[0]?.output, '200 OK')
    // Durations to a tenth of a millisecond, like the text lines: no 15.631459000000007.
    for (const r of results) assert.match(String(r.durationMs), /^\d+(\.\d)?$/)
    assert.ok(!Number.isNaN(Date.parse(results[0]?.time as string)))
    assert.match(results[1]?.output as string, /answered 503/)
  })

  it('prints nothing with -q; the exit status tells', async () => {
    const [ok, failed] = await Promise.all([
      cli(['check', '-q', `${base}/livez`]),
      cli(['check', '--quiet', `${base}/readyz`]),
    ])
    assert.deepEqual([ok.code, ok.stdout], [0, ''])
    assert.deepEqual([failed.code, failed.stdout], [1, ''])
  })

  it('writes the verdict whole to a file, and exits with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probekit-check-out-'))
    try {
      const file = join(dir, 'out.txt')
      const fd = openSync(file, 'w')
      const child = spawn(process.execPath, [BIN, 'check', `${base}/livez`, `${base}/readyz`], {
        stdio: ['ignore', fd, 'pipe'],
      })
      closeSync(fd)
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      assert.equal(code, 1)
      assert.equal(stderr, '')
      const lines = readFileSync(file, 'utf8').split('\n')
      assert.match(lines[0] as string, new RegExp(`^ok ${base}/livez 200 OK in `))
      assert.match(lines[1] as string, new RegExp(`^failed ${base}/readyz: `))
      assert.deepEqual(lines.slice(2), [''])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('exits with the verdict when nobody reads its output (a closed pipe), without a crash', async () => {
    for (const [path, expected] of [
      ['/livez', 0],
      ['/readyz', 1],
    ] as const) {
      const child = spawn(process.execPath, [BIN, 'check', `${base}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] })
      // The reading end is gone before the check writes its line: the write fails with EPIPE.
      child.stdout.destroy()
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      assert.equal(code, expected, `${path}: ${stderr}`)
      assert.equal(stderr, '', path)
    }
  })

  it('sends --header and judges by --expect-status', async () => {
    const [without, withHeader, notFound, strict, range, list] = await Promise.all([
      cli(['check', `${base}/private`]),
      cli(['check', '--header', 'X-Health-Token: let-me-in', `${base}/private`]),
      cli(['check', '--expect-status', '404', `${base}/missing`]),
      cli(['check', '--expect-status', '200', `${base}/no-content`]),
      cli(['check', '--expect-status', '2xx', `${base}/no-content`]),
      cli(['check', '--expect-status', '200,204', `${base}/no-content`, `${base}/livez`]),
    ])
    assert.equal(without.code, 1)
    assert.match(without.stdout, /answered 401 Unauthorized/)
    assert.equal(withHeader.code, 0, withHeader.stdout)
    assert.equal(notFound.code, 0, notFound.stdout)
    assert.equal(strict.code, 1)
    assert.match(strict.stdout, /answered 204 No Content, expected 200/)
    assert.equal(range.code, 0, range.stdout)
    assert.equal(list.code, 0, list.stdout)
  })
})

describe('probekit check lines', () => {
  const failed = (target: string, output: string) =>
    formatLine({
      target,
      output,
      name: target,
      status: 'fail',
      time: '',
      durationMs: 1,
      critical: true,
    } as TargetResult)

  it('names a target written without a port once, though its probe names the default port', () => {
    // "failed mysql://app:***@db/shop: mysql db:3306/shop: host not found", the target twice.
    assert.equal(
      failed('mysql://app:***@db.internal/shop', 'mysql db.internal:3306/shop: host not found (ENOTFOUND)'),
      'failed mysql://app:***@db.internal/shop: host not found (ENOTFOUND)',
    )
    assert.equal(
      failed('postgres://app:***@db/app', 'postgres db:5432/app: connection refused (ECONNREFUSED)'),
      'failed postgres://app:***@db/app: connection refused (ECONNREFUSED)',
    )
    assert.equal(
      failed('redis://cache', 'redis cache:6379: connection refused (ECONNREFUSED)'),
      'failed redis://cache: connection refused (ECONNREFUSED)',
    )
    // Another database, or another host, is not the target: kept.
    assert.equal(
      failed('mysql://app:***@db/shop', 'mysql db:3306/other: x'),
      'failed mysql://app:***@db/shop: mysql db:3306/other: x',
    )
    assert.equal(failed('redis://cache', 'redis cache-2:6379: x'), 'failed redis://cache: redis cache-2:6379: x')
  })
})
