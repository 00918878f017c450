import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { type MonitorProcess, request, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir, requireBinary, waitFor } from '../support/server-process.js'

// The dashboard of a monitor started with --auth-token-file, in Debian's chromium driven by
// playwright-core, against the real CLI process.
const TOKEN = 'dashboard-token-0123456789abcdef'

let monitor: MonitorProcess
/** The same fleet with --public-read: anyone reads, writes need the token. */
let publicMonitor: MonitorProcess
/** A page of another origin (another port), as a hostile site would be. */
let foreign: Server
let foreignUrl: string
let context: BrowserContext
let page: Page
const requests: { method: string; url: string; authorization: string | undefined }[] = []

interface Listed {
  silences: { id: string; pod: string; check?: string; comment: string; endsAt: string }[]
  tokenRequired: boolean
}

async function silencesOf(m: MonitorProcess): Promise<Listed> {
  const answer = await request(`${m.url}/v1/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.equal(answer.status, 200)
  return answer.body as Listed
}

const active = (listed: Listed) => listed.silences.filter((s) => Date.parse(s.endsAt) > Date.now())

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
  publicMonitor = await spawnMonitor([
    '--store',
    `sqlite:${join(dir, 'public.sqlite')}`,
    '--listen',
    '127.0.0.1:0',
    '--auth-token-file',
    join(dir, 'tokens'),
    '--public-read',
    join(dir, 'jobs.yaml'),
  ]).started()
  foreign = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another site</title>')
  })
  await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve))
  foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`
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
    requests.push({ method: r.method(), url: r.url(), authorization: r.headers().authorization })
  })
  page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (error) => assert.fail(`the dashboard threw: ${error.message}`))
})

after(async () => {
  await context?.close()
  await monitor?.stop()
  await publicMonitor?.stop()
  foreign?.closeAllConnections()
  await new Promise((resolve) => foreign?.close(resolve))
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

  it("adds and expires a silence with the tab's token, sent from the page's own origin as a Bearer header", async () => {
    await page.goto(`${monitor.url}/`)
    await row('jobs', 'n1').waitFor()
    await page.locator('#silence-token').filter({ hasText: 'the token this tab holds' }).waitFor()
    assert.equal(await page.locator('#silence-pod').isDisabled(), false)
    await page.fill('#silence-pod', 'jobs')
    await page.fill('#silence-check', 'backup')
    await page.fill('#silence-for', '30m')
    await page.fill('#silence-comment', 'restore drill')
    await page.click('#silence-form button[type="submit"]')
    const item = page.locator('#silence-list li.silence')
    await item.waitFor()
    const [added] = active(await silencesOf(monitor))
    assert.equal(added?.pod, 'jobs')
    assert.equal(added?.check, 'backup')
    assert.equal(added?.comment, 'restore drill')
    assert.ok(
      requests.some(
        (r) => r.method === 'POST' && r.url === `${monitor.url}/v1/silences` && r.authorization === `Bearer ${TOKEN}`,
      ),
    )
    // The silenced check shows it (a push check: no new result needed).
    await row('jobs', 'n1').locator('.silenced-mark').waitFor({ timeout: 20_000 })
    await item.locator('button.expire').click()
    await page.locator('#silence-list p').filter({ hasText: 'No silence' }).waitFor()
    assert.deepEqual(active(await silencesOf(monitor)), [])
    assert.equal((await silencesOf(monitor)).silences.length, 1)
  })

  it('is read-only without a token where reads are public, says how to add one, and a wrong token changes nothing', async () => {
    const added = await request(`${publicMonitor.url}/v1/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'jobs', for: '1h', comment: 'added with the CLI', author: 'ops' }),
    })
    assert.equal(added.status, 201)
    const tab = await context.newPage()
    tab.on('pageerror', (error) => assert.fail(`the dashboard threw: ${error.message}`))
    await tab.goto(`${publicMonitor.url}/`)
    const item = tab.locator('#silence-list li.silence')
    await item.waitFor()
    assert.equal(await tab.locator('#token-view').isHidden(), true)
    const note = (await tab.locator('#silence-token .read-only').textContent()) ?? ''
    assert.match(note, /^Read-only\. .*--auth-token-file.*Enter it here/)
    assert.equal(await tab.locator('#silence-pod').isDisabled(), true)
    assert.equal(await item.locator('button.expire').count(), 0)
    assert.match((await item.textContent()) ?? '', /added with the CLI.*by ops/)

    // A wrong token: the monitor's refusal is shown, and no silence is added or ended.
    await tab.fill('#write-token', 'not-the-token-0123456789')
    await tab.click('#write-token-form button')
    await tab.fill('#silence-pod', 'jobs')
    await tab.fill('#silence-for', '2h')
    await tab.fill('#silence-comment', 'should not be added')
    await tab.click('#silence-form button[type="submit"]')
    const message = tab.locator('#silence-message')
    await waitFor('the refusal', async () => /^Refused \(401\)/.test((await message.textContent()) ?? ''))
    assert.match((await message.textContent()) ?? '', /does not accept that token.*The monitor said: .*bearer token/)
    assert.equal(await tab.locator('#silence-pod').isDisabled(), true, 'a refused token is still used')
    await tab.fill('#write-token', 'not-the-token-0123456789')
    await tab.click('#write-token-form button')
    await item.locator('button.expire').click()
    await waitFor('the refusal', async () => /^Refused \(401\)/.test((await message.textContent()) ?? ''))
    const listed = await silencesOf(publicMonitor)
    assert.equal(listed.tokenRequired, true)
    assert.equal(listed.silences.length, 1)
    assert.equal(active(listed).length, 1)

    // The right token: adding works from this tab.
    await tab.fill('#write-token', TOKEN)
    await tab.click('#write-token-form button')
    await tab.fill('#silence-comment', 'now with the token')
    await tab.click('#silence-form button[type="submit"]')
    await tab.locator('#silence-list li.silence').nth(1).waitFor()
    assert.deepEqual(
      active(await silencesOf(publicMonitor))
        .map((s) => s.comment)
        .sort(),
      ['added with the CLI', 'now with the token'],
    )
    assert.equal(await tab.evaluate('localStorage.length'), 0)
    await tab.close()
  })

  it('refuses a write from another site even with the token (its Origin is not the monitor)', async () => {
    const before = (await silencesOf(publicMonitor)).silences.length
    const tab = await context.newPage()
    await tab.goto(`${foreignUrl}/`)
    const body = JSON.stringify({ pod: 'jobs', for: '1h', comment: 'from another site' })
    // With the token in a header the browser asks first (a preflight), which the monitor refuses.
    const withToken = await tab.evaluate<string>(
      `fetch(${JSON.stringify(`${publicMonitor.url}/v1/silences`)}, { method: 'POST', headers: { authorization: 'Bearer ${TOKEN}', 'content-type': 'application/json' }, body: ${JSON.stringify(body)} }).then((r) => 'answered ' + r.status, (e) => 'failed: ' + e.name)`,
    )
    assert.equal(withToken, 'failed: TypeError')
    // A form-like request goes without asking; the monitor refuses it by its Origin.
    await tab.evaluate(
      `fetch(${JSON.stringify(`${publicMonitor.url}/v1/silences`)}, { method: 'POST', mode: 'no-cors', body: ${JSON.stringify(body)} }).catch(() => {})`,
    )
    await tab.close()
    assert.equal((await silencesOf(publicMonitor)).silences.length, before)
    const refused = await request(`${publicMonitor.url}/v1/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, origin: foreignUrl, 'content-type': 'application/json' },
      body,
    })
    assert.equal(refused.status, 403)
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
