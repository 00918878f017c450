import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Browser, chromium } from 'playwright-core'
import { requireBinary, waitFor } from '../support/server-process.js'

// A monitor that hangs keeps its connections open and sends nothing: a stopped process
// (SIGSTOP, swapping) or a network path that died without a reset. This stand-in serves the
// built dashboard and an event stream that goes silent after its snapshot, as such a
// monitor's does, and counts the page's attempts to reconnect.
const assets = new URL('../../dist/monitor/dashboard/assets/', import.meta.url).pathname
const FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/assets/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/assets/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
}
const HEARTBEAT_MS = 500
const STATE = {
  pod: 'web',
  node: 'aws1.example.com',
  check: 'health_check',
  id: 'aws1.example.com/web/health_check',
  kind: 'http',
  target: 'http://10.0.0.1/_status',
  state: 'passing',
  output: 'ok',
  since: new Date().toISOString(),
}

let server: Server
let browser: Browser
let streams = 0
const silent = new Set<ServerResponse>()

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] as string
  if (path === '/v1/events') {
    streams++
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.write(`event: snapshot\ndata: ${JSON.stringify({ index: 1, heartbeatMs: HEARTBEAT_MS, states: [STATE] })}\n\n`)
    silent.add(res) // and then nothing, not even the heartbeat
    return
  }
  if (path === '/v1/silences') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"silences":[],"tokenRequired":false}')
    return
  }
  const file = FILES[path]
  if (!file) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': file[1] })
  res.end(readFileSync(join(assets, file[0])))
}

before(async () => {
  const executablePath = requireBinary('chromium', ['/usr/bin/chromium'])
  server = createServer(serve)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu'] })
})

after(async () => {
  await browser?.close()
  for (const res of silent) res.destroy()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

describe('the dashboard when the monitor hangs', () => {
  it('stops saying "live" once the stream is silent past its heartbeat, and reconnects', async () => {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    await page.locator('#fleet-body tr[data-pod="web"]').waitFor()
    assert.equal(await page.locator('#connection-text').textContent(), 'live')
    // Silent for twice the heartbeat and 5 s more: the page gives the stream up.
    await waitFor(
      'the page to notice the silent stream',
      async () => (await page.locator('#connection-text').textContent()) === 'reconnecting…',
      HEARTBEAT_MS * 2 + 5000 + 3000,
    )
    await waitFor('a second stream', async () => streams >= 2, 5000)
    await page.close()
  })
})
