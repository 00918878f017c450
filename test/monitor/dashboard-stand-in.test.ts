import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Browser, chromium } from 'playwright-core'
import { requireBinary, waitFor } from '../support/server-process.js'

// The built dashboard against a stand-in for the monitor, for what a real one does not do on
// cue: hang with its connections open and send nothing (a stopped process, a network path
// that died without a reset), or hold a fleet of hundreds of pods. The stand-in's event
// stream sends its snapshot and then goes silent, as a hung monitor's does; it counts the
// page's attempts to reconnect.
const assets = new URL('../../dist/monitor/dashboard/assets/', import.meta.url).pathname
const FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/assets/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/assets/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
}
const HEARTBEAT_MS = 500

function checkState(pod: string, since: string, output = 'ok', check = 'health_check') {
  return {
    pod,
    node: 'aws1.example.com',
    check,
    id: `aws1.example.com/${pod}/${check}`,
    kind: 'http',
    target: `http://10.0.0.1/${pod}/_status`,
    state: 'passing',
    output,
    since,
  }
}

/** What the stand-in's stream sends on connect. */
let snapshot = { index: 1, heartbeatMs: HEARTBEAT_MS, states: [checkState('web', new Date().toISOString())] }

let server: Server
const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
let browser: Browser
let streams = 0
const silent = new Set<ServerResponse>()

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] as string
  if (path === '/v1/events') {
    streams++
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`)
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
    await page.goto(url())
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

describe('the dashboard with hundreds of pods', () => {
  it('keeps pod names on one line, ticks the relative times on screen only, and brings one up to date as it scrolls into view', async () => {
    // 400 pods in their state for 10 minutes: "for 10m 0s", a text that changes every second.
    const since = new Date(Date.now() - 600_000).toISOString()
    const pods = Array.from({ length: 400 }, (_, i) => `pod-${String(i).padStart(4, '0')}`)
    // Two checks a pod, with outputs as long as a real target's: the table gave them its width.
    const output = 'HTTP GET http://127.0.0.1:18081/s/0: 200 OK Output: pod-0 ok: 0 connections in the pool'
    const states = pods.flatMap((pod) => [checkState(pod, since, output), checkState(pod, since, output, 'ready')])
    snapshot = { index: 1, heartbeatMs: 15_000, states }
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
    await page.goto(url())
    await page.locator('#fleet-body tr[data-pod="pod-0399"]').waitFor({ state: 'attached' })
    // A pod's name stays on one line, not broken at its hyphen into "pod-" and "0000".
    const lines = await page.evaluate(`document.querySelector('#fleet-body a.pod-link').getClientRects().length`)
    assert.equal(lines, 1, "the pod's name is broken over lines")
    // Every time element the page rewrites in three seconds.
    const rewritten = await page.evaluate(`new Promise((resolve) => {
      const seen = new Set()
      const watch = new MutationObserver((records) => {
        for (const r of records) {
          const time = r.target.nodeType === 1 ? r.target : r.target.parentElement
          if (time && time.closest('time')) seen.add(time.closest('time'))
        }
      })
      watch.observe(document.getElementById('fleet-body'), { subtree: true, childList: true, characterData: true })
      setTimeout(() => { watch.disconnect(); resolve(seen.size) }, 3000)
    })`)
    const inView = await page.evaluate(
      `[...document.querySelectorAll('#fleet-body time')].filter((t) => { const r = t.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight }).length`,
    )
    assert.ok((rewritten as number) > 0, 'the times on screen stopped ticking')
    assert.ok(
      (rewritten as number) <= (inView as number),
      `${rewritten} relative times rewritten, ${inView} of them on screen`,
    )
    // The last row's time, off screen all along, is current once it is in view.
    const last = page.locator('#fleet-body tr[data-pod="pod-0399"] time')
    await last.scrollIntoViewIfNeeded()
    await waitFor(
      "the last row's time to be current",
      async () => {
        const text = (await last.textContent()) ?? ''
        const m = /^for 10m (\d+)s$/.exec(text)
        return m !== null && Number(m[1]) >= 3
      },
      3000,
    )
    await page.close()
  })
})
