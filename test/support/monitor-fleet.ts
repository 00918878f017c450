/**
 * A small real fleet for the monitor's reading side: an HTTP target server whose answers
 * tests change on the fly, manifests in a temp dir pointing at it, a real Monitor with a
 * real store, and its API listening on a free loopback port.
 */
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Api, startApi } from '../../src/monitor/api.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import type { CheckState, HealthState } from '../../src/monitor/types.js'
import { makeTempDir, waitFor } from './server-process.js'

export interface Answer {
  status: number
  body: string
  headers?: Record<string, string>
}

/** An HTTP server whose answer per path the test sets; unknown paths answer 404. */
export class TargetServer {
  readonly answers = new Map<string, Answer>()
  private server: Server | undefined
  port = 0

  set(path: string, status: number, body = status < 300 ? 'ok' : 'failing', headers?: Record<string, string>): void {
    this.answers.set(path, { status, body, ...(headers ? { headers } : {}) })
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const answer = this.answers.get(new URL(req.url ?? '/', 'http://x').pathname)
      if (!answer) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such path')
        return
      }
      res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8', ...answer.headers }).end(answer.body)
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`
  }

  async close(): Promise<void> {
    if (!this.server) return
    const server = this.server
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export interface Fleet {
  dir: string
  storeSpec: string
  target: TargetServer
  monitor: Monitor
  api: Api
  url: string
  /** Waits until a check is in `state`, and returns its state. */
  waitForState(id: string, state: HealthState, timeoutMs?: number): Promise<CheckState>
  /** Waits until no check is unknown (push checks excepted). */
  waitForFirstResults(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface FleetOptions {
  /** File name → YAML, given the target server (for its URLs). */
  manifests: (target: TargetServer) => Record<string, string>
  /** Before the monitor starts: set the target's answers. */
  prepare?: (target: TargetServer) => void
  store?: 'sqlite' | 'memory'
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dir = makeTempDir('fleet')
  const target = await new TargetServer().start()
  const storeSpec = options.store === 'memory' ? 'memory' : `sqlite:${join(dir, 'monitor.sqlite')}`
  let monitor: Monitor | undefined
  let api: Api
  try {
    options.prepare?.(target)
    const manifestDir = join(dir, 'manifests')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(manifestDir)
    for (const [name, yaml] of Object.entries(options.manifests(target))) writeFileSync(join(manifestDir, name), yaml)
    monitor = new Monitor({ store: openStore(storeSpec), logger: false, historyFlushMs: 200 })
    await monitor.load([manifestDir])
    monitor.start()
    api = await startApi(monitor, { host: '127.0.0.1', port: 0, logger: false })
  } catch (error) {
    // A fleet that cannot start (a store that does not open) must not leave its target
    // listening or its checks running: the test file would fail and then never exit.
    await monitor?.stop().catch(() => {})
    await target.close()
    throw error
  }
  const fleet: Fleet = {
    dir,
    storeSpec,
    target,
    monitor,
    api,
    url: api.url,
    waitForState: (id, state, timeoutMs = 15_000) =>
      waitFor(
        `${id} to be ${state}`,
        () => {
          const s = monitor.state(id)
          return s?.state === state ? s : undefined
        },
        timeoutMs,
      ),
    waitForFirstResults: async (timeoutMs = 15_000) => {
      await waitFor(
        'every check to have a first result',
        () => monitor.states().every((s) => s.kind === 'push' || s.state !== 'unknown'),
        timeoutMs,
      )
    },
    close: async () => {
      await api.close()
      await monitor.stop()
      monitor.store.close()
      await target.close()
    },
  }
  return fleet
}

/** A JSON GET (or other method) against the fleet's API. */
export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, init)
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, headers: res.headers, body }
}
