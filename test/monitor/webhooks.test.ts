import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { CheckState, HealthState } from '../../src/monitor/types.js'
import { startWebhooks, type TransitionSource, type WebhookNotification } from '../../src/monitor/webhooks.js'
import { blackholeServer } from '../support/faults.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import {
  canConnect,
  freePort,
  ManagedProcess,
  makeTempDir,
  refusedPort,
  sleep,
  waitFor,
} from '../support/server-process.js'

const root = new URL('../..', import.meta.url).pathname

interface Received {
  at: number
  body: WebhookNotification
  headers: IncomingMessage['headers']
  status: number
}

/** A real webhook receiver; `answer` decides each response's status. */
class Receiver {
  received: Received[] = []
  answer: (attempt: number) => number = () => 200
  private server: Server | undefined
  url = ''

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => (text += c))
      req.on('end', () => {
        const status = this.answer(this.received.length + 1)
        this.received.push({ at: Date.now(), body: JSON.parse(text), headers: req.headers, status })
        res.writeHead(status).end()
      })
    })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`
    return this
  }

  get delivered(): WebhookNotification[] {
    return this.received.filter((r) => r.status < 300).map((r) => r.body)
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}

class Log {
  lines: string[] = []
  info = (m: string) => this.lines.push(`info ${m}`)
  warn = (m: string) => this.lines.push(`warn ${m}`)
  error = (m: string) => this.lines.push(`error ${m}`)
}

// A push check makes transitions on demand: each report is one check result.
const ID = 'n1/jobs/nightly'
let fleet: Fleet
let receiver: Receiver

before(async () => {
  fleet = await startFleet({
    store: 'memory',
    manifests: (t) => ({
      'jobs.yaml': `id: jobs\nnode: n1\nchecks:\n  - name: nightly\n    type: push\n    period: 1h\n  - name: health_check\n    url: ${t.url('/up')}\n    interval: 1s\n`,
    }),
    prepare: (t) => t.set('/up', 200),
  })
  await fleet.waitForFirstResults()
  fleet.monitor.push('nightly', 'success')
  await fleet.waitForState(ID, 'passing')
  receiver = await new Receiver().start()
})

// Each test starts from a passing push check and an empty receiver, whatever the one
// before it left behind.
beforeEach(async () => {
  if (fleet.monitor.state(ID)?.state !== 'passing') {
    fleet.monitor.push('nightly', 'success')
    await fleet.waitForState(ID, 'passing')
  }
  receiver.received = []
  receiver.answer = () => 200
})

after(async () => {
  await receiver?.close()
  await fleet?.close()
})

describe('webhooks', () => {
  it('send one JSON notification per transition, in order, to every URL', async () => {
    const second = await new Receiver().start()
    const hooks = startWebhooks(fleet.monitor, { urls: [receiver.url, second.url], minIntervalMs: 0, logger: false })
    try {
      fleet.monitor.push('nightly', 'fail', 'exit 3: disk full')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the first notification', () => receiver.delivered.length === 1 && second.delivered.length === 1)
      fleet.monitor.push('nightly', 'success')
      await fleet.waitForState(ID, 'passing')
      await waitFor('the second notification', () => receiver.delivered.length === 2 && second.delivered.length === 2)
      await sleep(200)
      assert.equal(receiver.delivered.length, 2, 'more notifications than transitions')
      const [down, up] = receiver.delivered as [WebhookNotification, WebhookNotification]
      assert.equal(down.event, 'transition')
      assert.equal(down.id, ID)
      assert.equal(down.pod, 'jobs')
      assert.equal(down.node, 'n1')
      assert.equal(down.check, 'nightly')
      assert.equal(down.from, 'passing')
      assert.equal(down.to, 'critical')
      assert.match(down.output, /disk full/)
      assert.equal(down.transitions.length, 1)
      assert.match(down.text, /^jobs on n1: nightly passing → critical/)
      assert.deepEqual([up.from, up.to], ['critical', 'passing'])
      assert.ok(up.index > down.index)
      assert.match(receiver.received[0]?.headers['content-type'] ?? '', /^application\/json/)
    } finally {
      await hooks.close()
      await second.close()
    }
  })

  it("send the URL's userinfo as Basic auth, and log the URL as scheme://host/… with its secret path masked", async () => {
    const port = new URL(receiver.url).port
    const log = new Log()
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`http://hook-user:hook%40pw-123@127.0.0.1:${port}/hook`],
      minIntervalMs: 0,
      logger: false,
    })
    const downPort = await refusedPort()
    const secretPath = '/services/T0001/B0002/slack-secret-part'
    const down = startWebhooks(fleet.monitor, {
      urls: [`http://127.0.0.1:${downPort}${secretPath}`],
      minIntervalMs: 0,
      backoffMs: 50,
      retries: 1,
      logger: log,
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the notification', () => receiver.delivered.length === 1)
      const expected = `Basic ${Buffer.from('hook-user:hook@pw-123').toString('base64')}`
      assert.equal(receiver.received[0]?.headers.authorization, expected)
      await waitFor('the webhook to give up', () => log.lines.some((l) => l.startsWith('error')), 10_000)
      const line = log.lines.find((l) => l.startsWith('error')) ?? ''
      assert.match(line, new RegExp(`webhook http://127\\.0\\.0\\.1:${downPort}/…: gave up`))
      assert.doesNotMatch(line, /slack-secret-part/)
      // The path and the password are the monitor's secrets now: masked wherever they appear.
      assert.equal(fleet.monitor.redact(`see ${secretPath} and hook@pw-123`), 'see *** and ***')
    } finally {
      await hooks.close()
      await down.close()
    }
  })

  it('name each of two failing URLs of one host apart in the log, by their place in the list, and say what to do about a redirect', async () => {
    // Two chat hooks on one host, one refusing with 404, the other moved (301): each has
    // its own line, not one folded into the other's count, and the redirect says what to do.
    const hookHost = createServer((req, res) => {
      req.resume()
      if (req.url?.startsWith('/services/AAAA1111')) res.writeHead(404).end()
      else res.writeHead(301, { location: 'https://moved.example/services/BBBB2222/secret2' }).end()
    })
    await new Promise<void>((resolve) => hookHost.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(hookHost.address() as AddressInfo).port}`
    const log = new Log()
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`${base}/services/AAAA1111/secret1`, receiver.url, `${base}/services/BBBB2222/secret2`],
      minIntervalMs: 0,
      logger: log,
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      await waitFor('both to give up', () => log.lines.filter((l) => l.startsWith('error')).length === 2)
      const lines = log.lines.filter((l) => l.startsWith('error')).sort()
      assert.match(lines[0] ?? '', new RegExp(`^error webhook ${base}/… \\(#1\\): gave up .*: answered 404$`))
      assert.match(
        lines[1] ?? '',
        new RegExp(
          `^error webhook ${base}/… \\(#3\\): gave up .*: answered 301, a redirect, which is not followed; give the URL it redirects to$`,
        ),
      )
      assert.ok(lines.every((l) => !/AAAA1111|BBBB2222|secret|moved\.example/.test(l)))
    } finally {
      await hooks.close()
      hookHost.closeAllConnections()
      await new Promise<void>((resolve) => hookHost.close(() => resolve()))
    }
  })

  it('mask the secret-looking path segments and query values of the URL each on its own, not its plain words', async () => {
    const port = new URL(receiver.url).port
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`http://127.0.0.1:${port}/hooks/PathTok-31337x/alerts?sig=QuerySig-4242&format=json&channel=ops-alerts`],
      minIntervalMs: 0,
      logger: false,
    })
    try {
      // A receiver (or a target) echoes the parts apart, not the URL whole.
      assert.equal(fleet.monitor.redact('token PathTok-31337x sig QuerySig-4242'), 'token *** sig ***')
      assert.equal(
        fleet.monitor.redact('hooks alerts format=json channel=ops-alerts'),
        'hooks alerts format=json channel=ops-alerts',
      )
      fleet.monitor.push('nightly', 'fail', 'receiver said: unknown hook PathTok-31337x (sig QuerySig-4242)')
      await fleet.waitForState(ID, 'critical')
      const [sent] = await waitFor('the notification', () =>
        receiver.delivered.length ? receiver.delivered : undefined,
      )
      assert.equal(sent?.output, 'push fail: receiver said: unknown hook *** (sig ***)')
    } finally {
      await hooks.close()
    }
  })

  it('coalesce the transitions of one check inside the minimum interval into the next notification', async () => {
    const hooks = startWebhooks(fleet.monitor, { urls: [receiver.url], minIntervalMs: 1500, logger: false })
    try {
      const firstDispatchNotBefore = Date.now()
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the first notification', () => receiver.delivered.length === 1)
      // Three more transitions inside the interval: passing, critical, passing.
      fleet.monitor.push('nightly', 'success')
      await fleet.waitForState(ID, 'passing')
      fleet.monitor.push('nightly', 1)
      await fleet.waitForState(ID, 'critical')
      fleet.monitor.push('nightly', 0)
      await fleet.waitForState(ID, 'passing')
      await sleep(500)
      assert.equal(receiver.delivered.length, 1, 'a notification went out inside the minimum interval')
      await waitFor('the coalesced notification', () => receiver.delivered.length === 2, 5000)
      const coalesced = receiver.delivered[1] as WebhookNotification
      // The interval runs from the first dispatch, which came after the first push.
      const gap = (receiver.received[1]?.at as number) - firstDispatchNotBefore
      assert.ok(gap >= 1490, `the coalesced notification came ${gap} ms after the first, inside the minimum interval`)
      assert.deepEqual(
        coalesced.transitions.map((t) => `${t.from}->${t.to}`),
        ['critical->passing', 'passing->critical', 'critical->passing'],
      )
      assert.deepEqual([coalesced.from, coalesced.to], ['critical', 'passing'])
      assert.match(coalesced.text, /\(3 changes\)/)
    } finally {
      await hooks.close()
    }
  })

  it('retry with a growing backoff after 500s, and deliver once the receiver recovers', async () => {
    // A receiver of its own: nothing an earlier test left in flight can take an attempt.
    const receiver = await new Receiver().start()
    receiver.answer = (attempt) => (attempt <= 2 ? 500 : 200)
    const log = new Log()
    const hooks = startWebhooks(fleet.monitor, {
      urls: [receiver.url],
      minIntervalMs: 0,
      backoffMs: 200,
      retries: 4,
      logger: log,
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      const seen = () =>
        JSON.stringify(receiver.received.map((r) => ({ status: r.status, to: r.body.to, index: r.body.index })))
      await waitFor('the delivery after two 500s', () => receiver.delivered.length === 1, 10_000).catch((e) => {
        throw new Error(`${(e as Error).message}; received ${seen()}; log ${JSON.stringify(log.lines)}`)
      })
      assert.deepEqual(
        receiver.received.map((r) => r.status),
        [500, 500, 200],
        `received ${seen()}`,
      )
      const [a, b, c] = receiver.received.map((r) => r.at) as [number, number, number]
      // Backoff 200 ms then 400 ms, each jittered down to no less than half.
      assert.ok(b - a >= 95, `first retry after ${b - a} ms`)
      assert.ok(c - b >= 195, `second retry after ${c - b} ms`)
      assert.equal(
        receiver.received[0]?.body.index,
        receiver.received[2]?.body.index,
        'a retry is the same notification',
      )
      // The receiver counts a delivery before its answer reaches the sender, which logs then.
      await waitFor('the log line of the delivery', () =>
        log.lines.some((l) => /delivered n1\/jobs\/nightly after 2 retries/.test(l)),
      ).catch((e) => {
        throw new Error(`${(e as Error).message}; log ${JSON.stringify(log.lines)}`)
      })
    } finally {
      await hooks.close()
      await receiver.close()
    }
    fleet.monitor.push('nightly', 'success')
    await fleet.waitForState(ID, 'passing')
  })

  it('give up after the bounded retries when the receiver is down, without delaying any check', async () => {
    const downPort = await refusedPort()
    const log = new Log()
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`http://127.0.0.1:${downPort}/hook`],
      minIntervalMs: 0,
      backoffMs: 100,
      retries: 2,
      logger: log,
    })
    try {
      const checkedBefore = fleet.monitor.state('n1/jobs/health_check')?.checkedAt as string
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the webhook to give up', () => log.lines.some((l) => l.startsWith('error')), 10_000)
      assert.match(
        log.lines.find((l) => l.startsWith('error')) ?? '',
        /gave up on the notification for n1\/jobs\/nightly \(passing -> critical\): .*ECONNREFUSED/,
      )
      assert.equal(hooks.pending, 0)
      // The HTTP check kept its schedule meanwhile.
      await waitFor(
        'the next HTTP check',
        () => (fleet.monitor.state('n1/jobs/health_check')?.checkedAt as string) > checkedBefore,
      )
    } finally {
      await hooks.close()
    }
    fleet.monitor.push('nightly', 'success')
    await fleet.waitForState(ID, 'passing')
  })

  it('abandon a request at its timeout when the receiver never answers, and close promptly', async () => {
    const hole = await blackholeServer()
    const log = new Log()
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`http://${hole.address}/hook`],
      minIntervalMs: 0,
      timeoutMs: 300,
      retries: 1,
      backoffMs: 100,
      logger: log,
    })
    try {
      fleet.monitor.push('nightly', 'fail')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the webhook to give up', () => log.lines.some((l) => l.startsWith('error')), 10_000)
      assert.match(log.lines.find((l) => l.startsWith('error')) ?? '', /timed out after 300 ms/)
    } finally {
      const started = Date.now()
      await hooks.close()
      assert.ok(Date.now() - started < 1000)
      await hole.close()
    }
    fleet.monitor.push('nightly', 'success')
    await fleet.waitForState(ID, 'passing')
  })

  it('hold a dozen requests to receivers that never answer without a listener-leak warning', async () => {
    // Three URLs of a receiver that takes requests and never answers: four requests each
    // in flight at once, every one of them listening for the shutdown deadline.
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    const hooks = startWebhooks(fleet.monitor, {
      urls: [`${base}/a`, `${base}/b`, `${base}/c`],
      minIntervalMs: 0,
      timeoutMs: 400,
      retries: 2,
      backoffMs: 50,
      logger: false,
    })
    try {
      for (let i = 0; i < 3; i++) {
        fleet.monitor.push('nightly', 'fail')
        await fleet.waitForState(ID, 'critical')
        fleet.monitor.push('nightly', 'success')
        await fleet.waitForState(ID, 'passing')
      }
      await waitFor('twelve requests in flight', () => hooks.pending >= 12)
      await sleep(1500) // through timeouts and retries
      assert.deepEqual(warnings, [])
    } finally {
      process.off('warning', onWarning)
      await hooks.close()
      silent.closeAllConnections()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })

  it('are sent by `probekit monitor --webhook-file FILE`, the URL out of the process list, and the monitor stops cleanly', async () => {
    const dir = makeTempDir('monitor-webhook')
    writeFileSync(
      join(dir, 'cron.yaml'),
      'id: cron\nnode: n9\nchecks:\n  - { name: backup, type: push, period: 1h }\n  - { name: rotate, type: push, period: 1h }\n',
    )
    const hooks = join(makeTempDir('monitor-webhook-urls'), 'webhooks')
    writeFileSync(hooks, `# the ops channel\n\n${receiver.url}\n`)
    const port = await freePort()
    const monitor = new ManagedProcess(
      'probekit monitor',
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/bin.ts'),
        'monitor',
        '--store',
        'memory',
        '--listen',
        `127.0.0.1:${port}`,
        '--webhook-file',
        hooks,
        '--webhook-min-interval',
        '0',
        dir,
      ],
      { cwd: root, ready: () => canConnect(port) },
    )
    await monitor.start()
    try {
      const commandLine = readFileSync(`/proc/${monitor.pid}/cmdline`, 'utf8')
      assert.ok(!commandLine.includes(receiver.url), commandLine)
      // A first result that passes is no news: nothing is sent for it.
      const first = await fetch(`http://127.0.0.1:${port}/v1/push/cron/rotate`, { method: 'POST' })
      assert.equal(first.status, 200)
      const push = await fetch(`http://127.0.0.1:${port}/v1/push/cron/backup/fail`, {
        method: 'POST',
        body: 'tar: exit 2',
      })
      assert.equal(push.status, 200)
      await waitFor('the notification from the monitor command', () => receiver.delivered.length >= 1, 20_000).catch(
        (error: Error) => {
          const answers = receiver.received.map((r) => r.status).join(', ') || 'none'
          throw new Error(
            `${error.message}; the receiver answered: ${answers}\n--- monitor ---\n${monitor.recentOutput}`,
          )
        },
      )
      const notification = receiver.delivered[0] as WebhookNotification
      assert.deepEqual([notification.id, notification.from, notification.to], ['n9/cron/backup', 'unknown', 'critical'])
      assert.match(notification.output, /tar: exit 2/)
      // What came after the rotate check's first result was sent, and nothing for it.
      await sleep(300)
      assert.deepEqual(
        receiver.delivered.map((n) => n.id),
        ['n9/cron/backup'],
      )
    } finally {
      await monitor.stop('SIGTERM')
    }
    assert.equal(monitor.child?.exitCode, 0, monitor.recentOutput)
  })

  it("send nothing for a check's first result when it passes, and announce a return from an unknown they announced", async () => {
    // The monitor's change events, as a replica taking checks over or a restart makes them.
    const source = new EventEmitter()
    const hooks = startWebhooks(source as TransitionSource, { urls: [receiver.url], minIntervalMs: 0, logger: false })
    const state = fleet.monitor.state(ID) as CheckState
    let index = 1000
    const change = (id: string, from: HealthState, to: HealthState) =>
      source.emit(
        'change',
        {
          id,
          pod: 'jobs',
          node: 'n1',
          check: id.split('/')[2],
          from,
          to,
          at: new Date().toISOString(),
          output: 'x',
          index: ++index,
        },
        { ...state, id, state: to },
      )
    try {
      change('n1/jobs/a', 'unknown', 'passing')
      change('n1/jobs/b', 'unknown', 'critical')
      await waitFor('the failure', () => receiver.delivered.length === 1)
      change('n1/jobs/a', 'passing', 'unknown')
      change('n1/jobs/a', 'unknown', 'passing')
      change('n1/jobs/b', 'critical', 'unknown')
      change('n1/jobs/b', 'unknown', 'passing')
      await waitFor('the returns', () => receiver.delivered.length === 5)
      await sleep(200)
      assert.deepEqual(
        receiver.delivered.map((n) => `${n.check} ${n.from} → ${n.to}`),
        [
          'b unknown → critical',
          'a passing → unknown',
          'a unknown → passing',
          'b critical → unknown',
          'b unknown → passing',
        ],
      )
    } finally {
      await hooks.close()
    }
  })

  it("put the checker's verdict line in the chat text, and a program's last line", async () => {
    const hooks = startWebhooks(fleet.monitor, { urls: [receiver.url], minIntervalMs: 0, logger: false })
    const HTTP_ID = 'n1/jobs/health_check'
    try {
      fleet.target.set('/up', 503, 'upstream says:\nthe last line of a body')
      await fleet.waitForState(HTTP_ID, 'critical')
      await waitFor('the HTTP notification', () => receiver.delivered.some((n) => n.id === HTTP_ID))
      const http = receiver.delivered.find((n) => n.id === HTTP_ID) as WebhookNotification
      assert.match(http.text, /^jobs on n1: health_check passing → critical: .*503/)
      assert.doesNotMatch(http.text, /the last line of a body/)

      fleet.monitor.push('nightly', 'fail', 'tar: reading\ntar: exit 2: disk full')
      await fleet.waitForState(ID, 'critical')
      await waitFor('the push notification', () => receiver.delivered.some((n) => n.id === ID))
      const push = receiver.delivered.find((n) => n.id === ID) as WebhookNotification
      assert.match(push.text, /^jobs on n1: nightly passing → critical: tar: exit 2: disk full$/)
    } finally {
      await hooks.close()
      fleet.target.set('/up', 200)
      await fleet.waitForState(HTTP_ID, 'passing')
    }
  })

  it('refuse a URL that is not http(s) with one sentence', () => {
    assert.throws(
      () => startWebhooks(fleet.monitor, { urls: ['ftp://example.com/hook'] }),
      /webhook URL "ftp:\/\/example.com\/hook" must start with http:\/\/ or https:\/\//,
    )
  })
})
