/**
 * `probekit monitor` as a real process: the built CLI (bin/probekit.js, bundled once per
 * test process), its output collected, its API address read from the line it prints.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { join, resolve } from 'node:path'
import { buildCli } from '../cli/run-cli.js'
import { waitFor } from './server-process.js'

const root = resolve(import.meta.dirname, '../..')
export const PROBEKIT_BIN = join(root, 'bin/probekit.js')

export interface MonitorProcess {
  child: ChildProcess
  /** Everything it printed so far, stdout and stderr. */
  output(): string
  /** The exit status, once it exits. */
  exited: Promise<number | null>
  /** The API's base URL (after `started()`). */
  url: string
  /** Waits for the API line (or the exit of a monitor that refused to start). */
  started(): Promise<this>
  stop(): Promise<number | null>
}

const running = new Set<MonitorProcess>()
process.on('exit', () => {
  for (const m of running) if (m.child.exitCode === null) m.child.kill('SIGKILL')
})

/** Spawns `probekit monitor …args` with the given working directory. */
export function spawnMonitor(args: string[], cwd?: string): MonitorProcess {
  buildCli()
  const child = spawn(process.execPath, [PROBEKIT_BIN, 'monitor', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exitCode = code
      running.delete(monitor)
      r(code)
    }),
  )
  const monitor: MonitorProcess = {
    child,
    output: () => out,
    exited,
    url: '',
    async started() {
      const found = await waitFor(
        'the monitor to print its API address',
        () => (exitCode !== undefined ? { exited: true } : /API (http:\/\/[^/\s]+)\//.exec(out)),
        30_000,
      )
      if (!Array.isArray(found)) throw new Error(`the monitor exited with ${exitCode}:\n${out}`)
      this.url = found[1] as string
      return this
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exited
    },
  }
  running.add(monitor)
  return monitor
}

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown
  /** The `error` sentence of a JSON error body, or ''. */
  error: string
}

/**
 * One HTTP request through node:http, which (unlike fetch) lets a test send any `Host` and
 * `Origin`, as a DNS-rebinding page or a hostile site would.
 */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown = text
        try {
          body = JSON.parse(text)
        } catch {}
        const error = typeof (body as { error?: unknown })?.error === 'string' ? (body as { error: string }).error : ''
        resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body, error })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
