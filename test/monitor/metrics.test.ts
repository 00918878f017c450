import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import {
  canConnect,
  freePort,
  ManagedProcess,
  makeTempDir,
  requireBinary,
  sleep,
  waitFor,
} from '../support/server-process.js'
import { makeTestCertificates, type TestCertificates } from '../support/tls.js'

const root = new URL('../..', import.meta.url).pathname

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A small parser of the Prometheus text format: samples, and each family's TYPE. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types.set(type[1] as string, type[2] as string)
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(match, `not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    const labelText = match[3] ?? ''
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g
    let consumed = 0
    for (let m = labelRe.exec(labelText); m; m = labelRe.exec(labelText)) {
      labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      consumed = labelRe.lastIndex
    }
    assert.equal(consumed, labelText.length, `labels not fully parsed: ${labelText}`)
    samples.push({ name: match[1] as string, labels, value: Number(match[4]) })
  }
  return { samples, types }
}

let fleet: Fleet
let certs: TestCertificates
let tlsServer: Server
let tlsPort: number

before(async () => {
  certs = makeTestCertificates()
  tlsServer = createServer({ key: certs.key, cert: certs.cert }, (_req, res) => res.end('secure ok'))
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve))
  tlsPort = (tlsServer.address() as AddressInfo).port
  const caFile = certs.caFile
  fleet = await startFleet({
    store: 'memory',
    prepare: (t) => {
      t.set('/up', 200, 'fine')
      t.set('/down', 503, 'maintenance')
    },
    manifests: (t) => ({
      'shop.yaml': [
        'id: shop',
        'node: n1',
        'checks:',
        `  - { name: health_check, url: "${t.url('/up')}", interval: 1s }`,
        `  - { name: payments, url: "${t.url('/down')}", interval: 1s }`,
        // The test CA's certificate expires in two days: a warning at the default of 14 days.
        `  - { name: tls, url: "https://127.0.0.1:${tlsPort}/", interval: 1s, tls: { ca_file: "${caFile}" }, cert_expiry_warning: 1 }`,
        `  - { name: quoting, command: 'echo "quoted \\ path"', interval: 1s }`,
      ].join('\n'),
    }),
  })
  // On a loaded machine a first check can time out; start from the steady state.
  for (const check of ['health_check', 'tls', 'quoting']) await fleet.waitForState(`n1/shop/${check}`, 'passing')
  await fleet.waitForState('n1/shop/payments', 'critical')
})

after(async () => {
  await fleet?.close()
  tlsServer?.closeAllConnections()
  await new Promise<void>((resolve) => (tlsServer ? tlsServer.close(() => resolve()) : resolve()))
})

describe('GET /metrics', () => {
  it('answers Prometheus text with the blackbox exporter names and pod/node/check/instance labels', async () => {
    const res = await fetch(`${fleet.url}/metrics`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    const { samples } = parseExposition(text)
    const find = (name: string, check: string) => samples.find((s) => s.name === name && s.labels.check === check)

    const up = find('probe_success', 'health_check') as Sample
    assert.deepEqual(up.labels, { pod: 'shop', node: 'n1', check: 'health_check', instance: fleet.target.url('/up') })
    assert.equal(up.value, 1)
    assert.equal(find('probe_success', 'payments')?.value, 0)
    assert.equal(find('probe_http_status_code', 'health_check')?.value, 200)
    assert.equal(find('probe_http_status_code', 'payments')?.value, 503)
    const duration = find('probe_duration_seconds', 'health_check')?.value as number
    assert.ok(duration > 0 && duration < 5, `duration ${duration}`)
    // Seconds to the microsecond, as written: no float noise (0.0005560000000000001).
    const durations = [...text.matchAll(/^probe_duration_seconds\{.*\} (\S+)$/gm)].map((m) => m[1])
    assert.equal(durations.length, 4)
    for (const printed of durations) assert.match(printed as string, /^\d+(\.\d{1,6})?$/)
    const critical = samples.find(
      (s) => s.name === 'probekit_check_state' && s.labels.check === 'payments' && s.labels.state === 'critical',
    )
    assert.equal(critical?.value, 1)
  })

  it("serves the monitor's own figures: runs, how late they started, the process and its GC pauses", async () => {
    const read = async () => parseExposition(await (await fetch(`${fleet.url}/metrics`)).text())
    const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    const before = await read()
    // The monitor runs in this process: a busy event loop makes the runs due meanwhile late,
    // and garbage made here is collected by its collector.
    let junk: object[] = []
    // 1.5 s: every check (each due every second) falls due in its first second, so at least
    // one whose previous run had ended starts half a second late or more.
    const busyUntil = performance.now() + 1500
    while (performance.now() < busyUntil) junk.push({ at: performance.now() })
    junk = []
    await sleep(1500)
    const { samples, types } = await read()
    for (const [name, type] of [
      ['probekit_monitor_check_runs_total', 'counter'],
      ['probekit_monitor_check_runs_skipped_total', 'counter'],
      ['probekit_monitor_check_runs_in_flight', 'gauge'],
      ['probekit_monitor_check_runs_waiting', 'gauge'],
      ['probekit_monitor_check_run_delay_seconds', 'histogram'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_start_time_seconds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_gc_duration_seconds', 'histogram'],
    ]) {
      assert.equal(types.get(name as string), type, `${name} is a ${type}`)
    }
    const runs = value(samples, 'probekit_monitor_check_runs_total') as number
    assert.ok(runs > (value(before.samples, 'probekit_monitor_check_runs_total') as number), 'runs go on')
    const count = value(samples, 'probekit_monitor_check_run_delay_seconds_count') as number
    assert.equal(count, runs, 'every run started is in the delay histogram')
    assert.equal(value(samples, 'probekit_monitor_check_run_delay_seconds_bucket', { le: '+Inf' }), count)
    // The runs due while the loop was busy started over a quarter of a second late.
    const lateNow =
      count - (value(samples, 'probekit_monitor_check_run_delay_seconds_bucket', { le: '0.25' }) as number)
    const lateBefore =
      (value(before.samples, 'probekit_monitor_check_run_delay_seconds_count') as number) -
      (value(before.samples, 'probekit_monitor_check_run_delay_seconds_bucket', { le: '0.25' }) as number)
    assert.ok(lateNow > lateBefore, `runs over 0.25 s late: ${lateBefore} before the stall, ${lateNow} after`)
    const rss = value(samples, 'process_resident_memory_bytes') as number
    assert.ok(rss > 10e6 && rss === Math.round(rss), `rss ${rss}`)
    const started = value(samples, 'process_start_time_seconds') as number
    assert.ok(started > Date.now() / 1000 - 3600 && started <= Date.now() / 1000, `start time ${started}`)
    assert.ok(
      (value(samples, 'nodejs_gc_duration_seconds_count', { kind: 'minor' }) as number) >= 1,
      'minor GCs counted',
    )
  })

  it("serves the monitor's own figures alone at /metrics/monitor, none of the checks'", async () => {
    const res = await fetch(`${fleet.url}/metrics/monitor`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const text = await res.text()
    // docs/api.md: about 4–5 KB whatever the fleet's size.
    assert.ok(Buffer.byteLength(text) < 8000, `${Buffer.byteLength(text)} bytes`)
    // Every polled check counts as a run (library probes too), push checks do not.
    assert.match(
      text,
      /^# HELP probekit_monitor_check_runs_total Check runs started: every check the monitor polls .*; push checks are not runs\.$/m,
    )
    const { samples, types } = parseExposition(text)
    assert.equal(types.get('probekit_monitor_check_run_delay_seconds'), 'histogram')
    assert.equal(types.get('process_resident_memory_bytes'), 'gauge')
    assert.ok(samples.some((s) => s.name === 'probekit_monitor_check_runs_total' && s.value > 0))
    assert.deepEqual(
      samples.filter((s) => s.name.startsWith('probe_') || s.name.startsWith('probekit_check')),
      [],
      'no per-check series',
    )
  })

  it('answers HEAD with the length GET sends, and scrapes at once with the same text', async () => {
    const head = await fetch(`${fleet.url}/metrics`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    const texts = await Promise.all([1, 2, 3].map(async () => (await fetch(`${fleet.url}/metrics`)).text()))
    for (const text of texts) assert.match(text, /^# HELP probe_success /)
    const length = Number(head.headers.get('content-length'))
    // Between HEAD and GET the figures move (durations, CPU), the length by a few bytes.
    assert.ok(Math.abs(Buffer.byteLength(texts[0] as string) - length) < 200, `HEAD ${length}`)
  })

  it('compresses the answer for a scrape that takes gzip, as Prometheus does, and only then', async () => {
    /** A raw GET (fetch would decode the body): status, headers and the bytes sent. */
    const scrape = (acceptEncoding?: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const url = new URL(`${fleet.url}/metrics`)
        const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }
        request(url, { headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }))
        })
          .on('error', reject)
          .end()
      })
    const series = (text: string) =>
      parseExposition(text)
        .samples.filter((s) => s.name.startsWith('probe_') && s.name !== 'probe_duration_seconds')
        .map((s) => `${s.name}${JSON.stringify(s.labels)}`)
        .sort()
    const [gzipped, plain, refused, none] = await Promise.all([
      scrape('gzip'),
      scrape('identity'),
      scrape('gzip;q=0, identity'),
      scrape(),
    ])
    assert.equal(gzipped.headers['content-encoding'], 'gzip')
    assert.equal(gzipped.headers.vary, 'accept-encoding')
    assert.equal(Number(gzipped.headers['content-length']), gzipped.body.length)
    const text = gunzipSync(gzipped.body).toString('utf8')
    assert.match(text, /^# HELP probe_success /)
    for (const other of [plain, refused, none]) {
      assert.equal(other.headers['content-encoding'], undefined)
      assert.deepEqual(series(other.body.toString('utf8')), series(text))
    }
    assert.ok(series(text).length >= 4, `${series(text).length} series`)
  })

  it('reports the earliest certificate expiry of an HTTPS check in Unix seconds', async () => {
    const { samples } = parseExposition(await (await fetch(`${fleet.url}/metrics`)).text())
    const expiry = samples.find((s) => s.name === 'probe_ssl_earliest_cert_expiry' && s.labels.check === 'tls')
    assert.ok(expiry, 'no probe_ssl_earliest_cert_expiry for the https check')
    const days = (expiry.value - Date.now() / 1000) / 86_400
    // The test CA signs certificates valid for two days.
    assert.ok(days > 1.9 && days <= 2.01, `expiry is ${days} days away`)
  })

  it('escapes label values: quotes and backslashes in a target survive a round trip', async () => {
    const { samples } = parseExposition(await (await fetch(`${fleet.url}/metrics`)).text())
    const quoting = samples.find((s) => s.name === 'probe_success' && s.labels.check === 'quoting')
    assert.equal(quoting?.labels.instance, 'echo "quoted \\ path"')
  })

  it('uses the same metric names and types as the Prometheus blackbox exporter probing the same target', async () => {
    const binary = requireBinary('prometheus-blackbox-exporter')
    const dir = makeTempDir('blackbox')
    const config = join(dir, 'blackbox.yml')
    writeFileSync(
      config,
      `modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      tls_config:\n        ca_file: ${certs.caFile}\n`,
    )
    const port = await freePort()
    const exporter = new ManagedProcess(
      'blackbox-exporter',
      binary,
      [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`],
      { ready: () => canConnect(port) },
    )
    await exporter.start()
    try {
      const target = encodeURIComponent(`https://127.0.0.1:${tlsPort}/`)
      const theirs = parseExposition(
        await (await fetch(`http://127.0.0.1:${port}/probe?module=http_2xx&target=${target}`)).text(),
      )
      const ours = parseExposition(await (await fetch(`${fleet.url}/metrics`)).text())
      for (const name of [
        'probe_success',
        'probe_duration_seconds',
        'probe_http_status_code',
        'probe_ssl_earliest_cert_expiry',
      ]) {
        assert.ok(theirs.types.has(name), `the blackbox exporter has no ${name}`)
        assert.equal(ours.types.get(name), theirs.types.get(name), `${name} has another type than the exporter's`)
      }
      const theirExpiry = theirs.samples.find((s) => s.name === 'probe_ssl_earliest_cert_expiry')?.value as number
      const ourExpiry = ours.samples.find((s) => s.name === 'probe_ssl_earliest_cert_expiry')?.value as number
      // Both count the certificates the server sent (here the leaf), not the CA from the trust store.
      const caExpiry = Date.parse(new X509Certificate(certs.ca).validTo) / 1000
      assert.equal(
        ourExpiry,
        theirExpiry,
        `the monitor says ${ourExpiry}, the exporter ${theirExpiry} (the CA expires at ${caExpiry})`,
      )
      assert.equal(theirs.samples.find((s) => s.name === 'probe_success')?.value, 1)
    } finally {
      await exporter.stop()
    }
  })

  it("keeps each check's target as `instance` in a real Prometheus scraping with the configuration in docs/api.md", async () => {
    const binary = requireBinary('prometheus')
    const dir = makeTempDir('prometheus')
    // The documented block, pointed at this monitor (which takes no token: an empty file).
    const docs = readFileSync(join(root, 'docs/api.md'), 'utf8')
    const block = /A scrape configuration:\n\n```yaml\n([\s\S]*?)```/.exec(docs)?.[1]
    assert.ok(block, 'docs/api.md has no scrape configuration')
    writeFileSync(join(dir, 'token'), 'no-token-needed-here\n')
    const config = join(dir, 'prometheus.yml')
    writeFileSync(
      config,
      `global: { scrape_interval: 1s }\n${block
        .replace('monitor:8008', new URL(fleet.url).host)
        .replace('/etc/prometheus/probekit.token', join(dir, 'token'))}`,
    )
    const port = await freePort()
    const prometheus = new ManagedProcess(
      'prometheus',
      binary,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { ready: () => canConnect(port) },
    )
    await prometheus.start()
    try {
      const query = async (q: string) => {
        const answer = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
        return ((await answer.json()) as { data: { result: { metric: Record<string, string> }[] } }).data.result
      }
      const [up] = await waitFor('a scrape', async () => {
        const result = await query('probe_success{check="health_check"}')
        return result.length ? result : undefined
      })
      assert.equal(up?.metric.instance, fleet.target.url('/up'))
      assert.equal(up?.metric.exported_instance, undefined)
      const [own] = await query('probekit_monitor_check_runs_total')
      assert.equal(own?.metric.instance, new URL(fleet.url).host)
    } finally {
      await prometheus.stop()
    }
  })
})
