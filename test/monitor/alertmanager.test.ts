import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type AlertmanagerOptions, type AlertSource, startAlertmanager } from '../../src/monitor/alertmanager.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import type { CheckState } from '../../src/monitor/types.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { spawnMonitor } from '../support/monitor-process.js'
import { freePort, makeTempDir, refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type AlertmanagerServer, alertsOf, startAlertmanager as startServer } from '../support/servers/alertmanager.js'

/** What Alertmanager's webhook receiver config POSTs (the fields the tests read). */
interface Notification {
  status: 'firing' | 'resolved'
  groupLabels: Record<string, string>
  alerts: { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string> }[]
}

/** The webhook receiver Alertmanager notifies: every notification, in order. */
class Receiver {
  notifications: Notification[] = []
  private server: Server | undefined
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (text += c))
      req.on('end', () => {
        this.notifications.push(JSON.parse(text) as Notification)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/alerts`
    return this
  }

  close(): Promise<void> {
    this.server?.closeAllConnections()
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

class Log {
  lines: string[] = []
  info = (m: string) => this.lines.push(`info ${m}`)
  warn = (m: string) => this.lines.push(`warn ${m}`)
  error = (m: string) => this.lines.push(`error ${m}`)
}

// Push checks change state on demand: each report is one check result.
const NIGHTLY = 'n1/jobs/nightly'
const BACKUP = 'n1/jobs/backup'
let fleet: Fleet
let receiver: Receiver
let am: AlertmanagerServer

before(async () => {
  receiver = await new Receiver().start()
  am = await startServer({ webhookUrl: receiver.url, groupBy: ['pod'] })
  fleet = await startFleet({
    store: 'memory',
    manifests: () => ({
      'jobs.yaml': [
        'id: jobs',
        'node: n1',
        'labels: { team: ops }',
        'checks:',
        '  - { name: nightly, type: push, period: 1h, labels: { runbook: nightly-job } }',
        '  - { name: backup, type: push, period: 1h }',
        '',
      ].join('\n'),
    }),
  })
  for (const name of ['nightly', 'backup']) fleet.monitor.push(name, 'success')
  await fleet.waitForState(NIGHTLY, 'passing')
  await fleet.waitForState(BACKUP, 'passing')
})

// Each test starts from passing checks, no alert in Alertmanager and an empty receiver.
beforeEach(async () => {
  for (const [id, name] of [
    [NIGHTLY, 'nightly'],
    [BACKUP, 'backup'],
  ] as const) {
    if (fleet.monitor.state(id)?.state !== 'passing') {
      fleet.monitor.push(name, 'success')
      await fleet.waitForState(id, 'passing')
    }
  }
  await am.restart()
  receiver.notifications = []
})

after(async () => {
  await fleet?.close()
  await am?.stop()
  await receiver?.close()
})

const active = async (check: string) =>
  (await alertsOf(am)).filter((a) => a.labels.check === check && a.status.state === 'active')

/** A silence as Alertmanager's `GET /api/v2/silences` answers it (the fields the tests read). */
interface AmSilence {
  id: string
  status: { state: string }
  matchers: { name: string; value: string; isEqual: boolean; isRegex: boolean }[]
  comment: string
  createdBy: string
  endsAt: string
}

const amSilences = async () => (await (await fetch(`${am.url}/api/v2/silences`)).json()) as AmSilence[]

/** Whether Alertmanager holds `check`'s alert, silenced. */
const suppressed = async (check: string) =>
  (await alertsOf(am)).some((a) => a.labels.check === check && a.status.state === 'suppressed')

/** A sender that mirrors the fleet's silences into the test's Alertmanager, with short periods. */
const mirroring = (options: Partial<AlertmanagerOptions> = {}) =>
  startAlertmanager(fleet.monitor, {
    urls: [am.url],
    resendMs: 200,
    timeoutMs: 1000,
    muted: (s: CheckState) => fleet.monitor.silenced(s.id),
    logger: false,
    ...options,
  })

describe('alerts to a real Alertmanager', () => {
  it('a failing check appears in Alertmanager with its labels, annotations and link, and reaches the receiver', async () => {
    const alerts = startAlertmanager(fleet.monitor, {
      urls: [am.url],
      externalUrl: 'https://probekit.example.com/',
      logger: false,
    })
    try {
      fleet.monitor.push('nightly', 'fail', 'exit 3: disk full')
      await fleet.waitForState(NIGHTLY, 'critical')
      const [alert] = await waitFor('the alert in Alertmanager', async () => {
        const found = await active('nightly')
        return found.length ? found : undefined
      })
      assert.deepEqual(alert?.labels, {
        alertname: 'ProbekitCheckFailing',
        pod: 'jobs',
        node: 'n1',
        check: 'nightly',
        state: 'critical',
        severity: 'critical',
        team: 'ops',
        runbook: 'nightly-job',
      })
      assert.match(alert?.annotations.description ?? '', /disk full/)
      assert.equal(alert?.annotations.summary, 'jobs on n1: nightly is critical')
      assert.equal(alert?.annotations.dashboard, 'https://probekit.example.com/#/pod/jobs')
      assert.equal(alert?.generatorURL, 'https://probekit.example.com/#/pod/jobs')
      // Ends well after the next re-send, so Alertmanager does not resolve it in between.
      assert.ok(Date.parse(alert?.endsAt ?? '') > Date.now() + 60_000)
      const note = await waitFor('the notification', () => receiver.notifications.find((n) => n.status === 'firing'))
      assert.deepEqual(note.groupLabels, { pod: 'jobs' })
      assert.equal(note.alerts[0]?.labels.check, 'nightly')
    } finally {
      await alerts.close()
    }
  })

  it('recovery resolves the alert: gone from Alertmanager and a resolved notification', async () => {
    const alerts = startAlertmanager(fleet.monitor, { urls: [am.url], logger: false })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the alert', async () => (await active('nightly')).length === 1)
      await waitFor('the firing notification', () => receiver.notifications.some((n) => n.status === 'firing'))
      fleet.monitor.push('nightly', 'success')
      await fleet.waitForState(NIGHTLY, 'passing')
      await waitFor('the alert resolved', async () => (await active('nightly')).length === 0)
      const resolved = await waitFor('the resolved notification', () =>
        receiver.notifications.find((n) => n.status === 'resolved'),
      )
      assert.equal(resolved.alerts[0]?.labels.check, 'nightly')
      assert.equal(alerts.pending, 0)
    } finally {
      await alerts.close()
    }
  })

  it('two failing checks of one pod arrive in one notification, grouped by pod', async () => {
    const alerts = startAlertmanager(fleet.monitor, { urls: [am.url], logger: false })
    try {
      fleet.monitor.push('nightly', 'fail')
      fleet.monitor.push('backup', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await fleet.waitForState(BACKUP, 'critical')
      const note = await waitFor('a notification with both alerts', () =>
        receiver.notifications.find((n) => n.alerts.length === 2),
      )
      assert.deepEqual(note.groupLabels, { pod: 'jobs' })
      assert.deepEqual(note.alerts.map((a) => a.labels.check).sort(), ['backup', 'nightly'])
      // Alertmanager's group_wait gathered them: no notification carried one of them alone.
      assert.equal(receiver.notifications.filter((n) => n.alerts.length === 1).length, 0)
    } finally {
      await alerts.close()
    }
  })

  it('a check already failing when the sender starts (a restarted monitor) is sent at once', async () => {
    fleet.monitor.push('backup', 'fail')
    await fleet.waitForState(BACKUP, 'critical')
    const alerts = startAlertmanager(fleet.monitor, { urls: [am.url], resendMs: 3_600_000, logger: false })
    try {
      await waitFor('the alert', async () => (await active('backup')).length === 1)
    } finally {
      await alerts.close()
    }
  })

  it('a killed Alertmanager gets the alert again once it is back: one log line down, one back', async () => {
    const log = new Log()
    const alerts = startAlertmanager(fleet.monitor, { urls: [am.url], resendMs: 500, backoffMs: 100, logger: log })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the alert', async () => (await active('nightly')).length === 1)
      await am.process.kill()
      await waitFor('the unreachable line', () => log.lines.some((l) => /unreachable/.test(l)))
      await sleep(1500) // several re-sends and retries fail meanwhile
      await am.process.start() // same port, empty storage
      await waitFor('the alert again', async () => (await active('nightly')).length === 1)
      await waitFor('the reachable line', () => log.lines.some((l) => /reachable again/.test(l)))
      assert.equal(log.lines.filter((l) => /unreachable/.test(l)).length, 1, log.lines.join('\n'))
      assert.equal(log.lines.filter((l) => /reachable again/.test(l)).length, 1, log.lines.join('\n'))
    } finally {
      await alerts.close()
    }
  })

  it('an Alertmanager that refuses every post while a check flaps is logged once, not once a post', async () => {
    let posts = 0
    const refusing = createServer((req, res) => {
      posts++
      req.resume()
      req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('bad alert'))
    })
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve))
    const log = new Log()
    const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`
    const alerts = startAlertmanager(fleet.monitor, { urls: [url], resendMs: 60_000, logger: log })
    try {
      for (let i = 0; i < 10; i++) {
        fleet.monitor.push('nightly', 'fail')
        await fleet.waitForState(NIGHTLY, 'critical')
        await waitFor('the post', () => alerts.pending === 0)
        fleet.monitor.push('nightly', 'success')
        await fleet.waitForState(NIGHTLY, 'passing')
        await waitFor('the post', () => alerts.pending === 0)
      }
      assert.ok(posts >= 10, `posts: ${posts}`)
      const refused = log.lines.filter((l) => /refused/.test(l))
      assert.equal(refused.length, 1, log.lines.join('\n'))
      assert.match(
        refused[0] ?? '',
        /^error alertmanager http:\/\/127\.0\.0\.1:\d+\/: refused 1 alert: answered 400: bad alert$/,
      )
    } finally {
      await alerts.close()
      refusing.closeAllConnections()
      await new Promise((resolve) => refusing.close(resolve))
    }
  })

  it('a frozen Alertmanager delays nothing and the queue stays bounded', async () => {
    const log = new Log()
    const alerts = startAlertmanager(fleet.monitor, {
      urls: [am.url],
      resendMs: 200,
      timeoutMs: 300,
      backoffMs: 50,
      maxQueue: 1,
      logger: log,
    })
    try {
      am.process.freeze()
      fleet.monitor.push('nightly', 'fail')
      fleet.monitor.push('backup', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await fleet.waitForState(BACKUP, 'critical')
      await waitFor('the unreachable line', () => log.lines.some((l) => /unreachable/.test(l)))
      assert.ok(alerts.pending <= 2, `pending ${alerts.pending}`) // one queued, one in flight
      assert.ok(
        log.lines.some((l) => /dropping the oldest/.test(l)),
        log.lines.join('\n'),
      )
    } finally {
      am.process.thaw()
      await alerts.close()
    }
  })

  it('a stopping monitor gives a frozen Alertmanager the shutdown timeout, then abandons with one line', async () => {
    const dir = makeTempDir('alert-stop')
    writeFileSync(
      join(dir, 'jobs.yaml'),
      'id: jobs\nnode: n1\nchecks:\n  - { name: nightly, type: push, period: 1h }\n',
    )
    const log = new Log()
    const monitor = new Monitor({ store: openStore('memory'), logger: log, shutdownTimeoutMs: 500 })
    await monitor.load([dir])
    monitor.start()
    const alerts = startAlertmanager(monitor, { urls: [am.url], timeoutMs: 60_000, logger: log })
    am.process.freeze()
    try {
      monitor.push('nightly', 'fail')
      await waitFor('an alert in flight', () => alerts.pending > 0)
      await monitor.stop()
      assert.equal(alerts.pending, 0)
      const lines = log.lines.filter((l) => /abandoned/.test(l))
      assert.equal(lines.length, 1, log.lines.join('\n'))
      assert.match(lines[0] as string, /abandoned 1 pending notification \(Alertmanager: 1\)/)
    } finally {
      am.process.thaw()
      await alerts.close()
    }
  })

  it("sends the URL's userinfo as Basic auth, as webhooks do, and logs the URL without user or password", async () => {
    // A real receiver in Alertmanager's place behind a proxy that wants Basic auth.
    const received: { path: string; authorization: string | undefined; body: string }[] = []
    const proxy = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (body += c))
      req.on('end', () => {
        received.push({ path: req.url ?? '', authorization: req.headers.authorization, body })
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const port = (proxy.address() as AddressInfo).port
    const downPort = await refusedPort()
    const log = new Log()
    const alerts = startAlertmanager(fleet.monitor, {
      urls: [
        `http://am-user:am%40pw-4567@127.0.0.1:${port}/am/`,
        `http://am-user:am%40pw-4567@127.0.0.1:${downPort}/am`,
      ],
      backoffMs: 50,
      logger: log,
    })
    try {
      fleet.monitor.push('nightly', 'fail', 'exit 1')
      await fleet.waitForState(NIGHTLY, 'critical')
      const post = await waitFor('the alert at the receiver', () => received.find((r) => r.body.includes('nightly')))
      assert.equal(post.path, '/am/api/v2/alerts')
      assert.equal(post.authorization, `Basic ${Buffer.from('am-user:am@pw-4567').toString('base64')}`)
      const line = await waitFor('the unreachable line', () => log.lines.find((l) => /unreachable/.test(l)))
      assert.match(line, new RegExp(`^error alertmanager http://127\\.0\\.0\\.1:${downPort}/am: unreachable \\(`))
      assert.doesNotMatch(line, /am-user|pw-4567/)
      assert.equal(log.lines.filter((l) => /unreachable/.test(l)).length, 1, log.lines.join('\n'))
      // The password is the monitor's secret now: masked wherever a target echoes it.
      assert.equal(fleet.monitor.redact('am@pw-4567 am%40pw-4567'), '*** ***')
    } finally {
      await alerts.close()
      proxy.closeAllConnections()
      await new Promise((resolve) => proxy.close(resolve))
    }
  })

  it('refuses an external URL with a user or password, which every alert would carry on; links a pod after a base’s path and query', async () => {
    const withPassword = 'https://ops:dash-pw-8812@probekit.example.com/'
    assert.throws(
      () => startAlertmanager(fleet.monitor, { urls: [am.url], externalUrl: withPassword, logger: false }),
      (error: Error) =>
        /^alertmanager: externalUrl "https:\/\/ops:\*\*\*@probekit\.example\.com\/" holds a user or password, which every alert would carry to wherever Alertmanager sends it; give the address without them$/.test(
          error.message,
        ),
    )
    const monitor = spawnMonitor([
      '--alertmanager',
      am.url,
      '--external-url',
      withPassword,
      '--store',
      'memory',
      '--listen',
      'none',
      'pods/',
    ])
    assert.equal(await monitor.exited, 1)
    assert.match(
      monitor.output(),
      /usage error: --external-url "https:\/\/ops:\*\*\*@probekit\.example\.com\/" holds a user or password/,
    )
    assert.doesNotMatch(monitor.output(), /dash-pw-8812/)

    const alerts = startAlertmanager(fleet.monitor, {
      urls: [am.url],
      externalUrl: 'https://ops.example.com/probekit?tenant=shop',
      logger: false,
    })
    try {
      fleet.monitor.push('nightly', 'fail', 'exit 1')
      await fleet.waitForState(NIGHTLY, 'critical')
      const [alert] = await waitFor('the alert in Alertmanager', async () => {
        const found = await active('nightly')
        return found.length ? found : undefined
      })
      assert.equal(alert?.generatorURL, 'https://ops.example.com/probekit/?tenant=shop#/pod/jobs')
      assert.equal(alert?.annotations.dashboard, 'https://ops.example.com/probekit/?tenant=shop#/pod/jobs')
    } finally {
      await alerts.close()
    }
  })

  it('a check another replica owns is not sent from here', async () => {
    const notOurs: AlertSource = {
      states: () => fleet.monitor.states(),
      owns: () => false,
      labels: (id) => fleet.monitor.labels(id),
      redact: (text) => fleet.monitor.redact(text),
      on: (event, listener) => fleet.monitor.on(event, listener),
      off: (event, listener) => fleet.monitor.off(event, listener),
    }
    const alerts = startAlertmanager(notOurs, { urls: [am.url], resendMs: 100, logger: false })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await sleep(500) // five rounds of the replica that does not own it
      assert.equal(alerts.pending, 0)
      assert.deepEqual(await active('nightly'), [])
    } finally {
      await alerts.close()
    }
  })

  it('a check that fails while silenced reaches Alertmanager silenced there; once the silence ends and it still fails, one notification', async () => {
    const alerts = startAlertmanager(fleet.monitor, {
      urls: [am.url],
      resendMs: 200,
      muted: (s: CheckState) => fleet.monitor.silenced(s.id) !== undefined,
      logger: false,
    })
    const silence = await fleet.monitor.silences.add({
      pod: 'jobs',
      check: 'nightly',
      forMs: 3_600_000,
      comment: 'OPS-9',
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await sleep(1000) // rounds while silenced, and Alertmanager's group_wait
      assert.deepEqual(await active('nightly'), [])
      await waitFor('the alert, silenced', () => suppressed('nightly'))
      assert.equal(receiver.notifications.length, 0)
      await fleet.monitor.silences.expire(silence.id)
      await waitFor('the alert', async () => (await active('nightly')).length === 1)
      await waitFor('the notification', () => receiver.notifications.length === 1)
      await sleep(1500) // more re-sends: Alertmanager does not notify again inside repeat_interval
      assert.equal(receiver.notifications.length, 1)
    } finally {
      await fleet.monitor.silences.expire(silence.id)
      await alerts.close()
    }
  })

  it('an Alertmanager URL with a query (a proxy token) gets its silences beside its alerts, with the query, and they end with ours', async () => {
    const log = new Log()
    const alerts = mirroring({ urls: [`${am.url}/?tenant=shop`], logger: log })
    const silence = await fleet.monitor.silences.add({
      pod: 'jobs',
      check: 'nightly',
      forMs: 3_600_000,
      comment: 'OPS-11',
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the alert, silenced', () => suppressed('nightly'))
      assert.deepEqual(
        (await amSilences()).map((s) => s.status.state),
        ['active'],
      )
      await fleet.monitor.silences.expire(silence.id)
      await waitFor('the alert active again', async () => (await active('nightly')).length === 1)
      await waitFor('the silence there expired', async () =>
        (await amSilences()).every((s) => s.status.state === 'expired'),
      )
      assert.deepEqual(
        log.lines.filter((l) => l.includes('silence')),
        [],
      )
    } finally {
      await fleet.monitor.silences.expire(silence.id)
      await alerts.close()
    }
  })

  it('an Alertmanager that lost its silences (restarted with empty storage) during ours gets a new one at the next renewal, not 404s for the rest of ours', async () => {
    const log = new Log()
    const alerts = mirroring({ logger: log })
    const silence = await fleet.monitor.silences.add({
      pod: 'jobs',
      check: 'nightly',
      forMs: 3_600_000,
      comment: 'OPS-12',
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the alert, silenced', () => suppressed('nightly'))
      await am.restart() // its silences gone
      // Renewed within four resend periods and the timeout (1.8 s): a new silence there.
      await waitFor('the alert, silenced again', () => suppressed('nightly'), 5000)
      await sleep(1000)
      assert.ok(await suppressed('nightly'), 'still silenced')
      assert.deepEqual(
        log.lines.filter((l) => l.includes('not found')),
        [],
      )
    } finally {
      await fleet.monitor.silences.expire(silence.id)
      await alerts.close()
    }
  })

  it('a monitor that stops during a silence leaves the silence there outlasting its alert: the alert resolves silenced, nothing notifies', async () => {
    const alerts = mirroring({ resendMs: 500, timeoutMs: 500 })
    const silence = await fleet.monitor.silences.add({
      pod: 'jobs',
      check: 'nightly',
      forMs: 3_600_000,
      comment: 'OPS-13',
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the alert, silenced', () => suppressed('nightly'))
      await sleep(3000) // renewals
      await alerts.close() // stopped (killed): nothing more is sent, nothing expired
      const [alert] = (await alertsOf(am)).filter((a) => a.labels.check === 'nightly')
      const active = (await amSilences()).filter((s) => s.status.state === 'active')
      assert.equal(active.length, 1)
      assert.ok(
        Date.parse(active[0]?.endsAt ?? '') > Date.parse(alert?.endsAt ?? ''),
        `the silence (until ${active[0]?.endsAt}) outlasts the alert (until ${alert?.endsAt})`,
      )
      await sleep(Date.parse(alert?.endsAt ?? '') - Date.now() + 2500) // past its endsAt, and group_interval
      assert.deepEqual(receiver.notifications, [])
    } finally {
      await fleet.monitor.silences.expire(silence.id)
      await alerts.close()
    }
  })

  it('a check already firing when a silence begins stays firing in Alertmanager, silenced there, across a restart of the monitor: no recovery is announced while it fails, and the silence there ends with ours', async () => {
    const alerts = mirroring()
    let silenceId: string | undefined
    let restarted: ReturnType<typeof startAlertmanager> | undefined
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(NIGHTLY, 'critical')
      await waitFor('the notification', () => receiver.notifications.length === 1)
      silenceId = (
        await fleet.monitor.silences.add({
          pod: 'jobs',
          check: 'nightly',
          forMs: 3_600_000,
          comment: 'OPS-10 failover',
          author: 'ana',
        })
      ).id
      await waitFor('Alertmanager to silence it', () => suppressed('nightly'))
      const [mirrored] = await amSilences()
      assert.equal(mirrored?.status.state, 'active')
      assert.equal(mirrored.createdBy, 'ana')
      assert.equal(mirrored.comment, `probekit silence ${silenceId}: OPS-10 failover`)
      assert.deepEqual(mirrored.matchers.map((m) => `${m.name}=${m.value} ${m.isEqual && !m.isRegex}`).sort(), [
        'alertname=ProbekitCheckFailing true',
        'check=nightly true',
        'node=n1 true',
        'pod=jobs true',
      ])
      // Past the alert's endsAt (four resend periods and the timeout: 1.8 s), through
      // renewals of the silence: still firing, still silenced, nothing more to the receiver.
      await sleep(4000)
      const held = (await alertsOf(am)).filter((a) => a.labels.check === 'nightly')
      assert.deepEqual(
        held.map((a) => a.status.state),
        ['suppressed'],
      )
      assert.deepEqual(
        receiver.notifications.map((n) => n.status),
        ['firing'],
      )
      const renewed = await amSilences()
      assert.deepEqual(
        renewed.map((s) => [s.id, s.status.state]),
        [[mirrored.id, 'active']],
        'renewed in place, none replaced',
      )
      // The monitor restarts meanwhile (a new sender, which has told Alertmanager nothing):
      // it sends the failing check with its silence again, so the alert neither resolves
      // nor notifies past its endsAt.
      await alerts.close()
      restarted = mirroring()
      await sleep(3000)
      assert.deepEqual(
        (await alertsOf(am)).filter((a) => a.labels.check === 'nightly').map((a) => a.status.state),
        ['suppressed'],
      )
      assert.deepEqual(
        receiver.notifications.map((n) => n.status),
        ['firing'],
      )
      // Ours ends while the check still fails: so does Alertmanager's, and the alert is
      // active again (notified before the silence, so not again).
      await fleet.monitor.silences.expire(silenceId)
      await waitFor('the alert active again', async () => (await active('nightly')).length === 1)
      assert.deepEqual(
        (await amSilences()).filter((s) => s.status.state !== 'expired'),
        [],
      )
      // It recovers: resolved, and announced.
      fleet.monitor.push('nightly', 'success')
      await waitFor('the resolved notification', () => receiver.notifications.some((n) => n.status === 'resolved'))
    } finally {
      if (silenceId) await fleet.monitor.silences.expire(silenceId)
      await alerts.close()
      await restarted?.close()
    }
  })

  it("a long comment reaches Alertmanager's silence cut by characters and marked, never inside a surrogate pair", async () => {
    const alerts = mirroring()
    // 'probekit silence <id>: ' puts the cut at an odd offset into the pairs.
    const silence = await fleet.monitor.silences.add({
      pod: 'jobs',
      check: 'backup',
      forMs: 3_600_000,
      comment: '🚧'.repeat(480),
    })
    try {
      fleet.monitor.push('backup', 'fail')
      let comment = ''
      await waitFor("Alertmanager's silence", async () => {
        const [held] = await amSilences()
        comment = held?.comment ?? ''
        return comment !== ''
      })
      assert.ok(comment.endsWith('🚧…'), comment.slice(-10))
      assert.ok(!comment.includes('\uFFFD'), 'no replacement character')
      assert.equal(Array.from(comment).length, 501)
    } finally {
      await fleet.monitor.silences.expire(silence.id)
      await alerts.close()
    }
  })

  it('probekit monitor --alertmanager sends a failing check, named by --alert-name, and resolves it when it passes', async () => {
    const dir = makeTempDir('alert-cli')
    const port = await freePort() // nothing listens: the check fails
    const manifest = join(dir, 'web.yaml')
    writeFileSync(
      manifest,
      `id: web\nnode: n1\nchecks:\n  - { name: up, type: tcp, address: "127.0.0.1:${port}", interval: 500ms }\n`,
    )
    const monitor = spawnMonitor(
      [
        '--store',
        'memory',
        '--listen',
        'none',
        '--alertmanager',
        am.url,
        '--alert-resend',
        '1s',
        '--alert-name',
        'WebDown',
        manifest,
      ],
      dir,
    )
    try {
      const alert = await waitFor('the alert', async () => (await active('up'))[0])
      assert.equal(alert.labels.alertname, 'WebDown')
      assert.equal(alert.labels.pod, 'web')
      const target = createServer().listen(port, '127.0.0.1')
      try {
        await waitFor('the alert resolved', async () => (await active('up')).length === 0)
      } finally {
        target.close()
      }
    } finally {
      assert.equal(await monitor.stop(), 0, monitor.output())
    }
  })

  it('a monitor that fails to start (its --listen port taken) tells Alertmanager nothing, though its store holds a failing check', async () => {
    const dir = makeTempDir('alert-no-start')
    const port = await freePort() // nothing listens: the check fails
    const manifest = join(dir, 'web.yaml')
    writeFileSync(
      manifest,
      `id: web\nnode: n1\nchecks:\n  - { name: down, type: tcp, address: "127.0.0.1:${port}", interval: 500ms }\n`,
    )
    const store = `sqlite:${join(dir, 'monitor.sqlite')}`
    // A first monitor, without Alertmanager, leaves the check critical in the store.
    const first = spawnMonitor(['--store', store, '--listen', '127.0.0.1:0', manifest], dir)
    await first.started()
    await waitFor('the check critical', async () => {
      const res = await fetch(`${first.url}/v1/checks/n1/web/down`)
      return res.ok && ((await res.json()) as CheckState).state === 'critical'
    })
    const taken = createServer().listen(0, '127.0.0.1')
    await new Promise((resolve) => taken.once('listening', resolve))
    try {
      assert.equal(await first.stop(), 0, first.output())
      const second = spawnMonitor(
        [
          '--store',
          store,
          '--listen',
          `127.0.0.1:${(taken.address() as AddressInfo).port}`,
          '--alertmanager',
          am.url,
          manifest,
        ],
        dir,
      )
      assert.equal(await second.exited, 1)
      assert.match(second.output(), /is already in use/)
      await sleep(500)
      assert.deepEqual(
        (await alertsOf(am)).filter((a) => a.labels.check === 'down'),
        [],
      )
    } finally {
      taken.close()
    }
  })

  it('probekit monitor refuses alert flags without --alertmanager, and a URL that is not http', async () => {
    const dir = makeTempDir('alert-files')
    writeFileSync(join(dir, 'bad'), '# the HA pair\nhttp://am-1:9093\nam-2:9093\n')
    writeFileSync(join(dir, 'empty'), '# nothing yet\n\n')
    for (const [args, expected] of [
      [['--alert-resend', '30s'], /usage error: --alert-resend is for alerts; add --alertmanager URL/],
      [['--alertmanager', 'am:9093'], /usage error: --alertmanager "am:9093" is not an http:\/\/ or https:\/\/ URL/],
      [
        ['--alertmanager-file', join(dir, 'bad')],
        /usage error: --alertmanager-file \S+\/bad:3: "am-2:9093" is not an http:\/\/ or https:\/\/ URL/,
      ],
      [
        ['--alertmanager-file', join(dir, 'empty')],
        /usage error: --alertmanager-file \S+\/empty holds no URL; write one a line/,
      ],
      [['--alertmanager-file', join(dir, 'missing')], /usage error: --alertmanager-file \S+\/missing: no such file/],
    ] as const) {
      const monitor = spawnMonitor([...args, '--store', 'memory', '--listen', 'none', 'pods/'])
      assert.equal(await monitor.exited, 1)
      assert.match(monitor.output(), expected)
    }
  })
})
