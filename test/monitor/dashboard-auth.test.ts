import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { type MonitorProcess, request, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir, requireBinary, waitFor } from '../support/server-process.js'

// The dashboard of a monitor started with --auth-token-file, in Debian's chromium driven by
// playwright-core, against the real CLI process.
const TOKEN = 'dashboard-token-0123456789abcdef'

let monitor: MonitorProcess
let context: BrowserContext
let page: Page
const requests: { url: string; authorization: string | undefined }[] = []

function row(pod: string, node: string) {
  return page.locator(`#fleet-body tr[data-pod="${pod}"][data-node="${node}"]`)
}

before(async () => {
  const executablePath = requireBinary('chromium', ['/usr/bin/chromium'])
  const dir = makeTempDir('dashboard-auth')
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`)
  writeFileSync(
    join(dir, 'jobs.yaml'),
    'id: jobs\nnode: n1\nchecks:\n  - { name: backup, type: push, period: 1h }\n  - { name: nightly, type: push, period: 1h }\n',
  )
  monitor = await spawnMonitor([
    '--store',
    `sqlite:${join(dir, 'monitor.sqlite')}`,
    '--listen',
    '127.0.0.1:0',
    '--auth-token-file',
    join(dir, 'tokens'),
    join(dir, 'jobs.yaml'),
  ]).started()
  context = await chromium.launchPersistentContext(makeTempDir('chromium'), {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  })
  context.on('request', (r) => {
    requests.push({ url: r.url(), authorization: r.headers().authorization })
  })
  page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (error) => assert.fail(`the dashboard threw: ${error.message}`))
})

after(async () => {
  await context?.close()
  await monitor?.stop()
})

describe('the dashboard of a monitor that needs a token', () => {
  it('asks for the token with a form when the API answers 401, and says so when it is wrong', async () => {
    const response = await page.goto(`${monitor.url}/`)
    assert.equal(response?.status(), 200)
    await page.locator('#token-view:not([hidden])').waitFor()
    assert.equal(await page.locator('#overview-view').isHidden(), true)
    assert.equal(await page.evaluate('document.activeElement?.id'), 'token-input')
    assert.equal(await page.locator('#connection-text').textContent(), 'needs a token')
    await page.fill('#token-input', 'not-the-token-0123456789')
    await page.keyboard.press('Enter')
    await waitFor('the refusal', async () =>
      /did not accept that token/.test((await page.locator('#token-error').textContent()) ?? ''),
    )
    assert.equal(await page.locator('#token-view').isVisible(), true)
  })

  it('shows the fleet once the right token is given, keeps it for the tab, and streams changes with it', async () => {
    await page.fill('#token-input', TOKEN)
    await page.click('#token-form button[type="submit"]')
    await row('jobs', 'n1').waitFor()
    assert.equal(await page.locator('#token-view').isHidden(), true)
    assert.equal(await page.evaluate("sessionStorage.getItem('probekit-monitor-token')"), TOKEN)
    await waitFor('the live indicator', async () => (await page.locator('#connection-text').textContent()) === 'live')

    // A change arrives through the event stream, read with the token in its header.
    const pushed = await request(`${monitor.url}/v1/push/backup/fail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'disk full',
    })
    assert.equal(pushed.status, 200)
    await waitFor(
      'the critical state on the page',
      async () => (await row('jobs', 'n1').getAttribute('data-state')) === 'critical',
      15_000,
    )
    assert.match((await row('jobs', 'n1').textContent()) ?? '', /disk full/)

    // A pod's page loads its history and transitions with the token too.
    await page.goto(`${monitor.url}/#/pod/jobs`)
    await page.locator('#pod-transitions table').waitFor({ timeout: 15_000 })
    assert.doesNotMatch((await page.locator('#pod-view').textContent()) ?? '', /unavailable/)
    assert.equal(await page.locator('#token-view').isHidden(), true, 'asked again after a navigation')
    // A reload keeps the tab's token: no question.
    await page.reload()
    await page.locator('#pod-checks .check').first().waitFor()
    assert.equal(await page.locator('#token-view').isHidden(), true, 'asked again after a reload')
  })

  it('asks again in a new tab, and never puts the token in a URL or a cookie', async () => {
    const tab = await context.newPage()
    await tab.goto(`${monitor.url}/`)
    await tab.locator('#token-view:not([hidden])').waitFor()
    await tab.close()
    assert.deepEqual(await context.cookies(), [])
    assert.ok(requests.some((r) => r.url.endsWith('/v1/events') && r.authorization === `Bearer ${TOKEN}`))
    assert.deepEqual(
      requests.filter((r) => r.url.includes(TOKEN)),
      [],
    )
  })
})
