import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gzipSync } from 'node:zlib'
import { formatTree, type InspectDocument, toInspect } from '../../src/monitor/inspect.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import type { SqliteStore } from '../../src/monitor/store/sqlite.js'
import type { CheckState } from '../../src/monitor/types.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { makeTempDir, refusedPort, waitFor } from '../support/server-process.js'

const root = new URL('../..', import.meta.url).pathname

/** Runs the CLI from the sources, as `probekit inspect …`. */
function inspect(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'inspect', ...args],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

// A p2 pod manifest as p2 wrote it (plus where to reach the status port), and a pod with
// two checks, one of them answering with markup and control characters.
let fleet: Fleet
const NODE = hostname()
const HOSTILE = 'boom <script>alert(1)</script>\x1b[2J\x07 \u202egnp.exe\u202c end'
/** A raw bidirectional control ("Trojan Source": U+202E shows what follows reversed). */
const RAW_BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/

before(async () => {
  fleet = await startFleet({
    prepare: (t) => {
      t.set('/_status', 200, '[/data/pods/isup/bin/launch]\nPATH=/usr/bin\n')
      t.set('/search/_status', 500, HOSTILE)
    },
    manifests: (t) => ({
      'isup.yaml': `id: isup\nstatus_port: ${t.port}\nstatus_http: true\nstatus:\n  host: 127.0.0.1\n  interval: 1s\nlaunchables:\n  isup:\n    launchable_type: hoist\n    launchable_id: isup\n    location: isup.tar.gz\n`,
      'search.yaml': `id: search\nnode: n2\nchecks:\n  - { name: health_check, url: "${t.url('/search/_status')}", interval: 1s }\n  - { name: port, type: tcp, address: "127.0.0.1:${t.port}", interval: 1s }\n`,
    }),
  })
  // On a loaded machine a first check can time out; start from the steady state.
  await fleet.waitForState(`${NODE}/isup/health_check`, 'passing')
  await fleet.waitForState('n2/search/port', 'passing')
  await fleet.waitForState('n2/search/health_check', 'critical')
  // inspect --store reads what the monitor wrote, a moment after the change.
  await waitFor('the states in the store', () => {
    const store = openStore(fleet.storeSpec, { readonly: true })
    try {
      const states = store.loadStates()
      return states.filter((s) => s.state === 'passing').length === 2 && states.some((s) => s.state === 'critical')
    } finally {
      store.close()
    }
  })
})

after(async () => {
  await fleet?.close()
})

describe('probekit inspect', () => {
  it("prints p2-inspect's JSON from the SQLite store, while the monitor runs", async () => {
    const { code, stdout } = await inspect('--store', fleet.storeSpec, '--pod', 'isup')
    assert.equal(code, 0, stdout)
    const doc = JSON.parse(stdout) as InspectDocument
    assert.deepEqual(Object.keys(doc), ['isup'])
    assert.deepEqual(Object.keys(doc.isup ?? {}), [NODE])
    const check = doc.isup?.[NODE]?.health_check
    assert.equal(check?.status, 'passing')
    assert.match(check?.output ?? '', /\/data\/pods\/isup\/bin\/launch/)
    assert.equal(check?.target, `http://127.0.0.1:${fleet.target.port}/_status`)
    assert.match(stdout, /^\{\n {4}"isup": \{/, 'not pretty-printed like p2-inspect | python -m json.tool')
  })

  it('lists every check of a pod beside health_check, and filters by node', async () => {
    const { stdout } = await inspect('--store', fleet.storeSpec, '--node', 'n2')
    const doc = JSON.parse(stdout) as InspectDocument
    assert.deepEqual(Object.keys(doc), ['search'])
    assert.deepEqual(Object.keys(doc.search?.n2 ?? {}), ['health_check', 'port'])
    assert.equal(doc.search?.n2?.health_check?.status, 'critical')
    assert.equal(doc.search?.n2?.port?.status, 'passing')
    const none = await inspect('--store', fleet.storeSpec, '--pod', 'nope')
    assert.equal(none.stdout.trim(), '{}')
  })

  it('reads the same fleet from a running monitor with --api', async () => {
    const fromApi = JSON.parse((await inspect('--api', fleet.url)).stdout) as InspectDocument
    const fromStore = JSON.parse((await inspect('--store', fleet.storeSpec)).stdout) as InspectDocument
    const statuses = (doc: InspectDocument) =>
      Object.entries(doc).flatMap(([pod, nodes]) =>
        Object.entries(nodes).flatMap(([node, checks]) =>
          Object.entries(checks).map(([name, c]) => `${pod}/${node}/${name}=${c.status}`),
        ),
      )
    assert.deepEqual(statuses(fromApi), statuses(fromStore))
    assert.equal(statuses(fromApi).length, 3)
  })

  it('marks a check silenced from the silences kept in the store, as --api does', async () => {
    const res = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'search', check: 'port', for: '1h', comment: 'OPS-9 cable swap', author: 'ana' }),
    })
    assert.equal(res.status, 201)
    const { silence } = (await res.json()) as { silence: { id: string; endsAt: string } }
    try {
      const doc = JSON.parse((await inspect('--store', fleet.storeSpec, '--node', 'n2')).stdout) as InspectDocument
      assert.deepEqual(doc.search?.n2?.port?.silenced, {
        id: silence.id,
        comment: 'OPS-9 cable swap',
        author: 'ana',
        until: silence.endsAt,
      })
      assert.equal(doc.search?.n2?.health_check?.silenced, undefined, 'only the silenced check')
      const fromApi = JSON.parse((await inspect('--api', fleet.url, '--node', 'n2')).stdout) as InspectDocument
      assert.deepEqual(fromApi.search?.n2?.port?.silenced, doc.search?.n2?.port?.silenced)
      const tree = await inspect('--store', fleet.storeSpec, '--node', 'n2', '--format', 'tree')
      assert.match(tree.stdout, /silenced until .* by ana: OPS-9 cable swap/)
    } finally {
      await fetch(`${fleet.url}/v1/silences/${silence.id}`, { method: 'DELETE' })
    }
    const after = JSON.parse((await inspect('--store', fleet.storeSpec, '--node', 'n2')).stdout) as InspectDocument
    assert.equal(after.search?.n2?.port?.silenced, undefined, 'an ended silence marks nothing')
  })

  it('prints a tree for people, with a symbol and a word per state and no raw control characters', async () => {
    const { code, stdout } = await inspect('--store', fleet.storeSpec, '--format', 'tree')
    assert.equal(code, 0)
    assert.match(stdout, /^isup\n {2}\S+\n {4}✔ health_check +passing +for /m)
    assert.match(stdout, /✖ health_check +critical/)
    assert.match(stdout, /<script>alert\(1\)<\/script>/)
    assert.ok(!stdout.includes('\x1b') && !stdout.includes('\x07'), 'control characters reached the terminal')
  })

  it("escapes the bidirectional controls of a target's body and a silence's comment, in the tree and in JSON", async () => {
    const comment = 'OPS-9 \u202e6202 litnu\u202c \u2066x\u2069 \u200f\u200e\u061c'
    const res = await fetch(`${fleet.url}/v1/silences`, {
      method: 'POST',
      body: JSON.stringify({ pod: 'search', check: 'health_check', for: '1h', comment, author: 'ana\u202e' }),
    })
    assert.equal(res.status, 201)
    const { silence } = (await res.json()) as { silence: { id: string } }
    try {
      for (const source of [
        ['--api', fleet.url],
        ['--store', fleet.storeSpec],
      ]) {
        const tree = await inspect(...source, '--node', 'n2', '--format', 'tree')
        assert.equal(tree.code, 0, tree.stdout)
        assert.doesNotMatch(tree.stdout, RAW_BIDI, `${source[0]} --format tree`)
        assert.match(
          tree.stdout,
          /by ana\\u202e: OPS-9 \\u202e6202 litnu\\u202c \\u2066x\\u2069 \\u200f\\u200e\\u061c\n/,
        )
        assert.match(tree.stdout, /\\u202egnp\.exe\\u202c end/)
        const json = await inspect(...source, '--node', 'n2')
        assert.doesNotMatch(json.stdout, RAW_BIDI, `${source[0]} --format json`)
        const check = (JSON.parse(json.stdout) as InspectDocument).search?.n2?.health_check
        assert.equal(check?.silenced?.comment, comment, 'the JSON says the same to a parser')
        assert.match(check?.output ?? '', /\u202egnp\.exe\u202c end/)
      }
    } finally {
      await fetch(`${fleet.url}/v1/silences/${silence.id}`, { method: 'DELETE' })
    }
  })

  it('says silenced until the end of the silence that lasts longest, comparing times, not text', async () => {
    // A store may hold a silence from before their maximum: a year past 9999 is written
    // "+010000-…", which as text sorts before "2030-…".
    const spec = `sqlite:${join(makeTempDir('inspect-until'), 'monitor.sqlite')}`
    const store = openStore(spec)
    const now = new Date().toISOString()
    store.saveStates([
      {
        id: 'n1/web/db',
        pod: 'web',
        node: 'n1',
        check: 'db',
        kind: 'tcp',
        target: '127.0.0.1:5432',
        state: 'passing',
        output: '',
        since: now,
        successes: 1,
        failures: 0,
        index: 1,
      },
    ])
    const silence = (id: string, endsAt: string) => ({
      id,
      pod: 'web',
      startsAt: now,
      endsAt,
      comment: id,
      author: 'ana',
      createdAt: now,
    })
    store.saveSilence?.(silence('far', '+010000-01-01T00:00:00.000Z'))
    store.saveSilence?.(silence('near', '2030-01-01T00:00:00.000Z'))
    store.close()
    const tree = await inspect('--store', spec, '--format', 'tree')
    assert.equal(tree.code, 0, tree.stdout)
    assert.match(tree.stdout, /silenced until \+010000-01-01T00:00:00\.000Z by ana: far\n/)
    const doc = JSON.parse((await inspect('--store', spec)).stdout) as InspectDocument
    assert.equal(doc.web?.n1?.db?.silenced?.id, 'far')
  })

  it('says in one sentence that the store does not exist, without creating it', async () => {
    const missing = join(fleet.dir, 'nothing-here.sqlite')
    const { code, stdout, stderr } = await inspect('--store', `sqlite:${missing}`)
    assert.equal(code, 1)
    assert.equal(stdout, '', 'the error goes to stderr, never into a redirected document')
    assert.match(stderr, /there is no store at .*nothing-here\.sqlite; start "probekit monitor --store sqlite:/)
    assert.equal(stderr.trim().split('\n').length, 1)
    assert.equal(existsSync(missing), false, 'inspect created a store')
  })

  it('says the API is unreachable, naming the address', async () => {
    const port = await refusedPort()
    const { code, stderr } = await inspect('--api', `http://127.0.0.1:${port}`)
    assert.equal(code, 1)
    assert.equal(
      stderr.trim(),
      `probekit inspect: cannot reach the monitor API at http://127.0.0.1:${port}: connection refused; is "probekit monitor" running and listening there?`,
    )
  })

  it('refuses an answer of more than 500 MB, and one that does not end within 10 s, in one sentence each', async () => {
    // 600 MB of JSON whitespace as 600 gzip members of 1 MB each, some 1 KB apiece on the
    // wire: fetch inflates it. A 2 GB answer read whole aborted node with a V8 fatal error.
    const member = gzipSync(Buffer.alloc(1024 * 1024, 32))
    let endless = false
    const hostile = createServer((req, res) => {
      if (!endless && req.headers['accept-encoding']?.includes('gzip')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        let sent = 0
        const more = () => {
          while (sent < 600) {
            sent++
            if (!res.write(member)) return void res.once('drain', more)
          }
          res.end()
        }
        return more()
      }
      // Then an answer that starts and never ends.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('[')
    })
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve))
    const api = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`
    try {
      const huge = await inspect('--api', api)
      assert.equal(huge.code, 1)
      assert.equal(
        huge.stderr.trim(),
        `probekit inspect: the monitor API at ${api} answered more than 500 MB; is --api the monitor's --listen address?`,
      )
      endless = true
      const slow = await inspect('--api', api)
      assert.equal(slow.code, 1)
      assert.equal(
        slow.stderr.trim(),
        `probekit inspect: the monitor API at ${api} did not finish its answer within 10 s (1 bytes came)`,
      )
    } finally {
      hostile.closeAllConnections()
      await new Promise<void>((resolve) => hostile.close(() => resolve()))
    }
  })

  it('refuses JSON that is not an inspect document, and one nested too deep to print, in one sentence each', async () => {
    const deep = 100_000
    const answers = [
      '{"checks":[]}',
      '[]',
      '{"web":{"n1":{"db":{"status":"passing"}}}}',
      `{"web":{"n1":{"db":{"status":"passing","output":"","x":${'['.repeat(deep)}${']'.repeat(deep)}}}}}`,
    ]
    let next = 0
    const hostile = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(answers[next++])
    })
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve))
    const api = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`
    try {
      for (let i = 0; i < 3; i++) {
        const wrong = await inspect('--api', api)
        assert.equal(wrong.code, 1, answers[i])
        assert.equal(wrong.stdout, '', 'a document of another shape was printed as checks')
        assert.equal(
          wrong.stderr.trim(),
          `probekit inspect: the monitor API at ${api} answered JSON that is not an inspect document (pods of nodes of checks); is --api the monitor's --listen address?`,
        )
      }
      const nested = await inspect('--api', api)
      assert.equal(nested.code, 1)
      assert.equal(
        nested.stderr.trim(),
        `probekit inspect: the monitor API at ${api} answered JSON nested too deep to print; is --api the monitor's --listen address?`,
      )
    } finally {
      hostile.closeAllConnections()
      await new Promise<void>((resolve) => hostile.close(() => resolve()))
    }
  })

  it('refuses an --api URL with a password, and a port fetch never connects to, saying why (not "is it running?")', async () => {
    const creds = await inspect('--api', 'http://ops:hunter2@127.0.0.1:8008')
    assert.equal(creds.code, 1)
    assert.match(
      creds.stderr,
      /usage error: --api "http:\/\/ops:\*\*\*@127\.0\.0\.1:8008" holds a user or password; the monitor API takes a bearer token instead, read from a file with --token-file FILE$/m,
    )
    assert.doesNotMatch(creds.stdout + creds.stderr, /hunter2/)
    const blocked = await inspect('--api', 'http://127.0.0.1:6000')
    assert.equal(blocked.code, 1)
    assert.match(
      blocked.stderr,
      /usage error: --api http:\/\/127\.0\.0\.1:6000: port 6000 is one fetch never connects to \(it belongs to another protocol, as browsers have it\); give the monitor another --listen port$/m,
    )
  })

  it('reports usage errors: a bad format, two sources, a stray argument', async () => {
    const format = await inspect('--format', 'yaml')
    assert.equal(format.code, 1)
    assert.match(format.stderr, /usage error: --format "yaml" is not a format; use json or tree/)
    const both = await inspect('--store', 'sqlite:x', '--api', 'http://127.0.0.1:1')
    assert.match(both.stderr, /usage error: --store and --api are two sources; choose one/)
    const stray = await inspect('isup')
    assert.match(stray.stderr, /usage error: unexpected argument "isup"; to pick a pod, write --pod isup/)
  })

  it('explains itself with --help, examples included', async () => {
    const { code, stdout } = await inspect('--help')
    assert.equal(code, 0)
    assert.match(stdout, /Usage: probekit inspect/)
    assert.match(stdout, /Examples:\n {2}probekit inspect --pod/)
  })
})

describe('the inspect document', () => {
  it('puts health_check first in each node and carries extra fields beside status and output', () => {
    const now = new Date().toISOString()
    const base = {
      node: 'n',
      kind: 'http' as const,
      target: 't',
      output: 'o',
      since: now,
      successes: 0,
      failures: 0,
      index: 1,
    }
    const doc = toInspect([
      { ...base, id: 'n/p/zz', pod: 'p', check: 'zz', state: 'passing' },
      { ...base, id: 'n/p/health_check', pod: 'p', check: 'health_check', state: 'warning', httpStatus: 429 },
    ])
    assert.deepEqual(Object.keys(doc.p?.n ?? {}), ['health_check', 'zz'])
    assert.deepEqual(doc.p?.n?.health_check, {
      status: 'warning',
      output: 'o',
      since: now,
      target: 't',
      kind: 'http',
      httpStatus: 429,
    })
    assert.match(formatTree(doc), /▲ health_check +warning/)
    assert.equal(formatTree({}), 'no checks recorded\n')
  })

  it('shows the bidirectional controls of every field as \\u escapes in the tree', () => {
    const now = new Date().toISOString()
    const doc: InspectDocument = {
      'web\u202e': {
        'n1\u2066': {
          'db\u200f': {
            status: 'critical',
            output: 'first\nrefused \u202etrats\u202c\u061c',
            since: now,
            target: 'tcp://\u2067host\u2069:5432',
            kind: 'tcp',
            silenced: { id: 's1', comment: 'OPS-1 \u202e', author: 'ana\u200e', until: '2027-01-01T00:00:00.000Z' },
          },
        },
      },
    }
    const tree = formatTree(doc, { now: Date.parse(now) })
    assert.doesNotMatch(tree, RAW_BIDI)
    assert.match(tree, /^web\\u202e\n {2}n1\\u2066\n {4}✖ db\\u200f +critical .* tcp:\/\/\\u2067host\\u2069:5432\n/)
    assert.match(tree, /silenced until 2027-01-01T00:00:00\.000Z by ana\\u200e: OPS-1 \\u202e\n/)
    assert.match(tree, /\n {8}refused \\u202etrats\\u202c\\u061c\n/)
  })

  it('escapes a state that is none of the four (an API answering something else), with colour too', () => {
    const now = new Date().toISOString()
    const status = 'critical\x1b]0;pwn\x07\x1b[2J\u202e\u009b'
    const doc = {
      web: { n1: { db: { status, output: '', since: now, target: 't', kind: 'http' } } },
    } as unknown as InspectDocument
    for (const color of [false, true]) {
      const tree = formatTree(doc, { now: Date.parse(now), color })
      // The only escapes left are the colour's own.
      const bare = tree.replaceAll('\x1b[90m', '').replaceAll('\x1b[0m', '')
      for (const raw of ['\x07', '\x1b', '\u009b', '\u202e']) assert.ok(!bare.includes(raw), `color: ${color}`)
      assert.ok(bare.includes('    ? db  critical\\x1b]0;pwn\\x07\\x1b[2J\\u202e\\x9b  for'), JSON.stringify(tree))
      assert.doesNotMatch(tree, /undefined/)
    }
  })

  it('shows the end of a long output line, marked as cut, and whole characters only', () => {
    const now = new Date().toISOString()
    // 299 characters after the emoji: the last 300 would begin with its second half.
    const body = `${'x'.repeat(3_800)}😀${'y'.repeat(280)} database is locked`
    const doc: InspectDocument = {
      web: { n1: { db: { status: 'critical', output: `first\n${body}`, since: now, target: 't', kind: 'http' } } },
    }
    const lines = formatTree(doc, { now: Date.parse(now) }).split('\n')
    assert.equal(lines[3], '        first')
    const shown = lines[4] as string
    assert.ok(shown.endsWith('y database is locked'), shown.slice(-40))
    assert.ok(shown.startsWith('        …y'), 'cut at the start, after the emoji it would have split')
    assert.equal(shown.length, 8 + 1 + 299)
  })

  it('keeps pods, nodes and checks named like what every object inherits as entries of their own', () => {
    const now = new Date().toISOString()
    const state = (pod: string, node: string, check: string) => ({
      id: `${node}/${pod}/${check}`,
      pod,
      node,
      check,
      state: 'passing' as const,
      kind: 'push' as const,
      target: 't',
      output: 'o',
      since: now,
      successes: 1,
      failures: 0,
      index: 1,
    })
    const toStringBefore = Function.prototype.toString
    const doc = toInspect([state('constructor', '__proto__', 'toString'), state('__proto__', 'constructor', 'valueOf')])
    assert.equal(Function.prototype.toString, toStringBefore, 'nothing outside the document changed')
    assert.equal(Object.getPrototypeOf({}), Object.prototype)
    assert.deepEqual(
      JSON.parse(JSON.stringify(doc)),
      JSON.parse(
        `{"__proto__":{"constructor":{"valueOf":{"status":"passing","output":"o","since":"${now}","target":"t","kind":"push"}}},` +
          `"constructor":{"__proto__":{"toString":{"status":"passing","output":"o","since":"${now}","target":"t","kind":"push"}}}}`,
      ),
    )
    const tree = formatTree(doc)
    assert.match(tree, /^__proto__\n {2}constructor\n {4}✔ valueOf /m)
    assert.match(tree, /^constructor\n {2}__proto__\n {4}✔ toString /m)
  })
})

describe('a store whose monitor is gone', () => {
  it('reads as unknown once its monitor stopped, or has not marked the store for a minute, saying since when and what it saw last', async () => {
    const spec = `sqlite:${join(makeTempDir('inspect-gone'), 'store.sqlite')}`
    const store = openStore(spec) as SqliteStore
    const state: CheckState = {
      id: 'n1/web/port',
      pod: 'web',
      node: 'n1',
      check: 'port',
      kind: 'tcp',
      target: '127.0.0.1:1',
      state: 'passing',
      output: 'connected to 127.0.0.1:1',
      since: '2026-01-01T00:00:00.000Z',
      successes: 1,
      failures: 0,
      index: 1,
    }
    store.saveStates([state])
    const read = async () => {
      const run = await inspect('--store', spec)
      assert.equal(run.code, 0, run.stderr)
      return (JSON.parse(run.stdout) as InspectDocument).web?.n1?.port
    }
    try {
      assert.equal((await read())?.status, 'passing', 'no mark (a store of an older probekit): as stored')
      store.markRunning(Date.now(), true)
      assert.equal((await read())?.status, 'passing', 'a monitor that marks the store stands by its results')
      const lastSeen = new Date(Date.now() - 61_000).toISOString()
      store.markRunning(Date.parse(lastSeen), true)
      assert.deepEqual(await read(), {
        status: 'unknown',
        output: `the monitor has not marked this store since ${lastSeen} (is it running?); its last result was passing: connected to 127.0.0.1:1`,
        since: lastSeen,
        target: '127.0.0.1:1',
        kind: 'tcp',
      })
      const stoppedAt = new Date().toISOString()
      store.markRunning(Date.parse(stoppedAt), false)
      const stopped = await read()
      assert.equal(stopped?.status, 'unknown')
      assert.equal(
        stopped?.output,
        `the monitor stopped at ${stoppedAt}; its last result was passing: connected to 127.0.0.1:1`,
      )
    } finally {
      store.close()
    }
  })

  it('is marked by the monitor: running from start(), stopped by stop()', async () => {
    const store = openStore(`sqlite:${join(makeTempDir('inspect-mark'), 'store.sqlite')}`) as SqliteStore
    const monitor = new Monitor({ store, logger: false })
    try {
      assert.equal(store.runningMark(), undefined)
      monitor.start()
      assert.equal(store.runningMark()?.running, true)
      await monitor.stop()
      assert.equal(store.runningMark()?.running, false)
    } finally {
      store.close()
    }
  })
})
