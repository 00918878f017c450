import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { makeTempDir, requireBinary, waitFor } from '../support/server-process.js'
import { makeTestCertificates } from '../support/tls.js'

// The dashboard in a real browser: Debian's chromium, driven by playwright-core (no browser
// download), against a real monitor watching real HTTP targets.
const root = new URL('../..', import.meta.url).pathname
const artifacts = join(root, 'test-artifacts')
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
/** A right-to-left override after it: shown as the escape, it cannot reorder the line. */
const REORDER = '\u202eevil'

let fleet: Fleet
let tlsServer: Server
let tlsCa: string
let context: BrowserContext
let page: Page
const requests: string[] = []

async function screenshot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true })
}

// Browser-side expressions are passed as strings: this file is type-checked without the DOM library.

/** The overview's row of a pod on a node. */
function row(pod: string, node: string) {
  return page.locator(`#fleet-body tr[data-pod="${pod}"][data-node="${node}"]`)
}

before(async () => {
  mkdirSync(artifacts, { recursive: true })
  const executablePath = requireBinary('chromium', ['/usr/bin/chromium'])
  // An https target with a certificate of the test CA that ends in two days.
  const certs = makeTestCertificates()
  tlsCa = certs.caFile
  tlsServer = createServer({ key: certs.key, cert: certs.cert }, (_req, res) => res.end('secure ok'))
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve))
  const tlsPort = (tlsServer.address() as AddressInfo).port
  fleet = await startFleet({
    prepare: (t) => {
      t.set('/web/_status', 200, 'web ok: 12 connections in the pool')
      t.set('/evil/_status', 500, `${HOSTILE}${REORDER}`)
      t.set('/api/_status', 200, 'api ok')
    },
    manifests: (t) => ({
      'web.yaml': `id: web\nnode: aws1.example.com\nchecks:\n  - { name: health_check, url: "${t.url('/web/_status')}", interval: 1s }\n  - { name: port, type: tcp, address: "127.0.0.1:${t.port}", interval: 1s }\n`,
      'web2.yaml': `id: web\nnode: aws2.example.com\nchecks:\n  - { name: health_check, url: "${t.url('/api/_status')}", interval: 1s }\n`,
      'evil.yaml': `id: evil\nnode: aws1.example.com\nchecks:\n  - { name: health_check, url: "${t.url('/evil/_status')}", interval: 1s }\n`,
      'jobs.yaml': 'id: jobs\nnode: aws3.example.com\nchecks:\n  - { name: nightly, type: push, period: 1h }\n',
      // A maintenance window that is always open (00:00 to 00:00 runs a whole day, every day).
      'batch.yaml':
        'id: batch\nnode: aws3.example.com\nchecks:\n  - { name: export, type: push, period: 1h, maintenance: [{ from: "00:00", to: "00:00", tz: UTC }] }\n',
      'secure.yaml': `id: secure\nnode: aws1.example.com\nchecks:\n  - { name: health_check, url: "https://127.0.0.1:${tlsPort}/", interval: 1s, tls: { ca_file: "${tlsCa}" } }\n`,
      // The same certificate, under a check that warns only within a day of its end.
      'relaxed.yaml': `id: relaxed\nnode: aws4.example.com\nchecks:\n  - { name: health_check, url: "https://127.0.0.1:${tlsPort}/", interval: 1s, cert_expiry_warning: 1, tls: { ca_file: "${tlsCa}" } }\n`,
    }),
  })
  // On a loaded machine a first check can time out; start from the steady state.
  for (const id of [
    'aws1.example.com/web/health_check',
    'aws1.example.com/web/port',
    'aws2.example.com/web/health_check',
  ])
    await fleet.waitForState(id, 'passing')
  await fleet.waitForState('aws1.example.com/evil/health_check', 'critical')
  await waitFor(
    'the certificate of the https check',
    async () =>
      fleet.monitor.state('aws1.example.com/secure/health_check')?.sslEarliestExpiry !== undefined &&
      fleet.monitor.state('aws4.example.com/relaxed/health_check')?.sslEarliestExpiry !== undefined,
    30_000,
  )
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
  page = context.pages()[0] ?? (await context.newPage())
  page.on('request', (r) => requests.push(r.url()))
  page.on('pageerror', (error) => assert.fail(`the dashboard threw: ${error.message}`))
})

after(async () => {
  await context?.close()
  await fleet?.close()
  tlsServer?.closeAllConnections()
  await new Promise((resolve) => tlsServer?.close(resolve))
})

describe('the dashboard in a real browser', () => {
  it('shows every pod on every node with a state word and symbol, its output and since when', async () => {
    const response = await page.goto(`${fleet.url}/`)
    assert.equal(response?.status(), 200)
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/)
    await page.evaluate('window.__loadId = 42')
    await row('web', 'aws1.example.com').waitFor()
    for (const [pod, node] of [
      ['web', 'aws1.example.com'],
      ['web', 'aws2.example.com'],
      ['evil', 'aws1.example.com'],
      ['jobs', 'aws3.example.com'],
      ['secure', 'aws1.example.com'],
      ['batch', 'aws3.example.com'],
    ] as const) {
      assert.equal(await row(pod, node).count(), 1, `no row for ${pod} on ${node}`)
    }
    const web = row('web', 'aws1.example.com')
    assert.equal((await web.locator('.badge').innerText()).replace(/\s+/g, ' ').trim(), '✔ passing')
    assert.match(await web.innerText(), /web ok: 12 connections in the pool/)
    assert.match(await web.locator('time').innerText(), /^for \d+/)
    assert.equal(await row('jobs', 'aws3.example.com').getAttribute('data-state'), 'unknown')
    assert.match(await page.locator('#summary').innerText(), /1\s*critical/)
    await screenshot(page, 'overview')
  })

  it('shows a state change as it happens, without reloading', async () => {
    fleet.target.set('/web/_status', 503, 'database unreachable: connect ECONNREFUSED')
    const web = row('web', 'aws1.example.com')
    await waitFor(
      'the critical state on the page',
      async () => (await web.getAttribute('data-state')) === 'critical',
      15_000,
    )
    assert.match(await web.locator('.badge').innerText(), /critical/)
    assert.match(await web.innerText(), /database unreachable/)
    assert.equal(await page.evaluate('window.__loadId'), 42, 'the page reloaded')
    await screenshot(page, 'overview-critical')
    fleet.target.set('/web/_status', 200, 'web ok: 12 connections in the pool')
    await waitFor('the passing state again', async () => (await web.getAttribute('data-state')) === 'passing', 15_000)
  })

  it('shows a hostile output as text, and no script from it runs', async () => {
    const evil = row('evil', 'aws1.example.com')
    assert.ok(
      (await evil.locator('pre.output-snippet').textContent())?.endsWith(`${HOSTILE}\\u202eevil`),
      'the output is not shown as text, with its bidi override as an escape',
    )
    assert.equal(await page.locator('img[src="x"]').count(), 0)
    assert.equal(await page.locator('#fleet-body script').count(), 0)
    assert.equal(await page.evaluate('window.__pwned'), undefined)
  })

  it('is usable with the keyboard: / searches, Tab reaches a pod, Enter opens its page', async () => {
    await page.keyboard.press('/')
    assert.equal(await page.evaluate('document.activeElement?.id'), 'search')
    await page.keyboard.type('evil')
    await waitFor('the filter', async () => (await page.locator('#fleet-body tr:not([hidden])').count()) === 1)
    assert.equal(await page.locator('#result-count').innerText(), '1 of 7 shown')
    // Tab past the two selects to the first visible pod link.
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate('document.activeElement?.textContent'), 'evil')
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')
    assert.equal(outline, 'solid', 'the focused link shows no focus ring')
    await page.keyboard.press('Enter')
    await page.locator('#pod-title').waitFor()
    assert.equal(await page.evaluate('document.activeElement?.id'), 'pod-title')
    assert.equal(await page.locator('#pod-title').innerText(), 'evil')
    assert.ok(
      (await page.locator('pre.output').textContent())?.endsWith(`${HOSTILE}\\u202eevil`),
      'the output is not shown as text, with its bidi override as an escape',
    )
    assert.equal(await page.evaluate('window.__pwned'), undefined)
    assert.equal(await page.evaluate('window.__loadId'), 42)
    // Back with the keyboard.
    await page.keyboard.press('Shift+Tab')
    assert.equal(await page.evaluate('document.activeElement?.textContent'), '← All pods')
    await page.keyboard.press('Enter')
    await page.locator('#overview-view:not([hidden])').waitFor()
    await page.fill('#search', '')
    await page.keyboard.press('Escape')
  })

  it("shows a pod's checks with their state timeline, latency chart, output and transitions", async () => {
    await fleet.waitForState('aws1.example.com/web/health_check', 'passing')
    fleet.target.set('/web/_status', 500, 'pool exhausted')
    await fleet.waitForState('aws1.example.com/web/health_check', 'critical')
    fleet.target.set('/web/_status', 200, 'web ok: 12 connections in the pool')
    await fleet.waitForState('aws1.example.com/web/health_check', 'passing')
    await new Promise((r) => setTimeout(r, 600)) // the history is written every 200 ms here
    await page.goto(`${fleet.url}/#/pod/web`)
    await page.locator('#pod-checks .check').first().waitFor()
    assert.equal(await page.locator('#pod-checks .check').count(), 3, 'two nodes, three checks')
    const card = page.locator('#pod-checks .check').first()
    await card.locator('.uptime svg rect').first().waitFor({ timeout: 15_000 })
    assert.match(
      (await card.locator('.uptime svg').getAttribute('aria-label')) ?? '',
      /% of \d+ checks of health_check passed/,
    )
    await card.locator('.latency svg circle.last').waitFor()
    assert.match(
      (await card.locator('.latency svg').getAttribute('aria-label')) ?? '',
      /^Latency of health_check: latest \d+ ms/,
    )
    await page.locator('#pod-transitions table').waitFor({ timeout: 15_000 })
    const transitions = await page.locator('#pod-transitions').innerText()
    assert.match(transitions, /critical/)
    assert.match(transitions, /pool exhausted/)
    await screenshot(page, 'pod')
  })

  it("shows a TLS check's certificate: the days left, its date, highlighted within the check's cert_expiry_warning", async () => {
    const expiry = fleet.monitor.state('aws1.example.com/secure/health_check')?.sslEarliestExpiry as number
    const date = new Date(expiry * 1000).toISOString().slice(0, 10)
    await page.goto(`${fleet.url}/#/pod/secure`)
    const card = page.locator('#pod-checks .check').first()
    await card.waitFor()
    const fact = card.locator('.facts dd.cert-near')
    await fact.waitFor()
    // The test CA's server certificate is valid for two days: one whole day is left.
    assert.match((await fact.textContent()) ?? '', new RegExp(`^1 day left \\(${date}\\)`))
    await page.goto(`${fleet.url}/#/`)
    await row('secure', 'aws1.example.com').locator('.cert-mark').waitFor()
    assert.equal(await row('secure', 'aws1.example.com').locator('.cert-mark').textContent(), 'certificate: 1 day left')
    assert.equal(await row('web', 'aws1.example.com').locator('.cert-mark').count(), 0)
    // cert_expiry_warning: 1 — the same certificate, more than a day left: shown, not highlighted.
    assert.equal(fleet.monitor.state('aws4.example.com/relaxed/health_check')?.sslWarningDays, 1)
    assert.equal(fleet.monitor.state('aws1.example.com/secure/health_check')?.sslWarningDays, 14)
    assert.equal(await row('relaxed', 'aws4.example.com').count(), 1)
    assert.equal(await row('relaxed', 'aws4.example.com').locator('.cert-mark').count(), 0)
    await page.goto(`${fleet.url}/#/pod/relaxed`)
    const relaxed = page.locator('#pod-checks .check').first()
    await relaxed
      .locator('.facts dd')
      .filter({ hasText: / left \(/ })
      .waitFor()
    assert.equal(await relaxed.locator('.facts dd.cert-near').count(), 0)
  })

  it('adds a silence from the page, marks the check (its true state still shown), and expires it', async () => {
    await page.goto(`${fleet.url}/`)
    await page.locator('#silence-list p').filter({ hasText: 'No silence' }).waitFor()
    // This monitor has no --auth-token-file: writes need no token, and the page says so.
    assert.match((await page.locator('#silence-token').textContent()) ?? '', /takes writes without a token/)
    assert.equal(await page.locator('#silence-pod').isDisabled(), false)
    const comment = `OPS-1 ${HOSTILE}`
    await page.fill('#silence-pod', 'evil')
    await page.fill('#silence-check', 'health_check')
    await page.fill('#silence-for', '2h')
    await page.fill('#silence-comment', comment)
    await page.fill('#silence-author', 'ana <b>')
    await page.click('#silence-form button[type="submit"]')
    const item = page.locator('#silence-list li.silence')
    await item.waitFor()
    const listed = (await (await fetch(`${fleet.url}/v1/silences`)).json()) as {
      silences: {
        id: string
        pod: string
        check?: string
        node?: string
        comment: string
        author: string
        endsAt: string
      }[]
      tokenRequired: boolean
    }
    assert.equal(listed.tokenRequired, false)
    assert.equal(listed.silences.length, 1)
    const [silence] = listed.silences
    assert.equal(silence?.pod, 'evil')
    assert.equal(silence?.check, 'health_check')
    assert.equal(silence?.node, undefined)
    assert.equal(silence?.comment, comment)
    assert.equal(silence?.author, 'ana <b>')
    assert.match(
      (await page.locator('#silence-message').textContent()) ?? '',
      /^Silenced pod evil · every node · check health_check until/,
    )
    // What a person wrote is shown as text; nothing in it runs.
    assert.equal(await item.locator('.silence-comment').textContent(), comment)
    assert.match(
      (await item.locator('.silence-meta').first().textContent()) ?? '',
      /^by ana <b> · from .* until .* · (1h \d+m|2h 0m) left$/,
    )
    assert.equal(await page.locator('img[src="x"]').count(), 0)
    assert.equal(await page.locator('#silences b, #silences script').count(), 0)
    assert.equal(await page.evaluate('window.__pwned'), undefined)
    // The check is marked silenced and keeps its true state.
    const evil = row('evil', 'aws1.example.com')
    await evil.locator('.silenced-mark').waitFor({ timeout: 20_000 })
    assert.equal(await evil.getAttribute('data-state'), 'critical')
    // The live updates keep the mark: wait for two more results of the check to arrive.
    const id = 'aws1.example.com/evil/health_check'
    const seen = fleet.monitor.state(id)?.checkedAt
    await waitFor('a new result', async () => fleet.monitor.state(id)?.checkedAt !== seen, 15_000)
    const next = fleet.monitor.state(id)?.checkedAt
    await waitFor('another result', async () => fleet.monitor.state(id)?.checkedAt !== next, 15_000)
    await new Promise((r) => setTimeout(r, 1500)) // the stream sends results every 500 ms
    assert.equal(await evil.locator('.silenced-mark').count(), 1, 'a live update dropped the silenced mark')
    await screenshot(page, 'silences')
    // On the pod's page: the mark beside the state, and who silenced it, why and until when.
    await page.goto(`${fleet.url}/#/pod/evil`)
    const card = page.locator('#pod-checks .check').first()
    await card.locator('.state-slot .silenced-mark').waitFor()
    assert.equal(await card.locator('.state-slot .badge').getAttribute('data-state'), 'critical')
    assert.match((await card.locator('dd.silenced-fact').textContent()) ?? '', /by ana <b>: OPS-1 /)
    assert.equal(await page.locator('img[src="x"]').count(), 0)

    // Expired from the page: gone from the list, the API and the check.
    await page.goto(`${fleet.url}/`)
    await item.locator('button.expire').click()
    await page.locator('#silence-list p').filter({ hasText: 'No silence' }).waitFor()
    assert.match((await page.locator('#silence-message').textContent()) ?? '', /^Expired the silence of pod evil/)
    const after = (await (await fetch(`${fleet.url}/v1/silences`)).json()) as { silences: { endsAt: string }[] }
    assert.equal(after.silences.length, 1)
    assert.ok(Date.parse(after.silences[0]?.endsAt ?? '') <= Date.now(), 'the silence did not end')
    await waitFor('the mark to go', async () => (await evil.locator('.silenced-mark').count()) === 0, 20_000)
    assert.equal(fleet.monitor.silenced(id), undefined)
  })

  it("lists a manifest's maintenance window in effect, and marks the checks it holds back", async () => {
    const box = page.locator('#maintenance-list li.maintenance')
    await box.waitFor()
    assert.match((await box.textContent()) ?? '', /maintenance window .*00:00-00:00 UTC/)
    assert.match((await box.textContent()) ?? '', /batch\/export on aws3\.example\.com/)
    assert.equal(await row('batch', 'aws3.example.com').locator('.silenced-mark').count(), 1)
    assert.equal(await row('batch', 'aws3.example.com').getAttribute('data-state'), 'unknown')
  })

  it("says what is missing or wrong in a silence, with the monitor's own sentence, and adds nothing", async () => {
    const count = async () =>
      ((await (await fetch(`${fleet.url}/v1/silences`)).json()) as { silences: unknown[] }).silences.length
    const before = await count()
    await page.fill('#silence-pod', 'web')
    await page.fill('#silence-for', '')
    await page.fill('#silence-comment', '')
    await page.click('#silence-form button[type="submit"]')
    assert.match((await page.locator('#silence-message').textContent()) ?? '', /Comment is required/)
    await page.fill('#silence-comment', 'deploy')
    await page.click('#silence-form button[type="submit"]')
    assert.match((await page.locator('#silence-message').textContent()) ?? '', /Say how long/)
    await page.fill('#silence-for', '<i>soon</i>')
    await page.click('#silence-form button[type="submit"]')
    await waitFor('the refusal', async () =>
      /^Not added \(400\): `for` "<i>soon<\/i>" is not a duration/.test(
        (await page.locator('#silence-message').textContent()) ?? '',
      ),
    )
    assert.equal(await page.locator('#silence-message').getAttribute('data-kind'), 'error')
    assert.equal(await page.locator('#silence-message i').count(), 0)
    assert.equal(await count(), before)
    await page.fill('#silence-for', '')
  })

  it('fits a narrow phone screen without sideways scrolling', async () => {
    const phone = await context.newPage()
    await phone.setViewportSize({ width: 375, height: 812 })
    await phone.goto(`${fleet.url}/`)
    await phone.locator('#fleet-body tr').first().waitFor()
    const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`)
    await screenshot(phone, 'phone')
    await phone.goto(`${fleet.url}/#/pod/evil`)
    await phone.locator('#pod-checks .check').waitFor()
    const podOverflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
    assert.ok(podOverflow <= 0, `the pod page is ${podOverflow} px wider than the screen`)
    await screenshot(phone, 'phone-pod')
    await phone.close()
  })

  it('loads everything from the monitor itself: no request leaves for the internet', () => {
    assert.ok(requests.length > 0)
    const foreign = requests.filter((url) => !url.startsWith(fleet.url))
    assert.deepEqual(foreign, [])
  })
})
