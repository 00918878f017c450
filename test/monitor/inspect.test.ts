import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { formatTree, type InspectDocument, toInspect } from '../../src/monitor/inspect.js'
import { openStore } from '../../src/monitor/store/index.js'
import { type Fleet, startFleet } from '../support/monitor-fleet.js'
import { refusedPort, waitFor } from '../support/server-process.js'

const root = new URL('../..', import.meta.url).pathname

/** Runs the CLI from the sources, as `probekit inspect …`. */
function inspect(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'inspect', ...args],
      { cwd: root, timeout: 60_000 },
      (error, stdout) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
    )
  })
}

// A p2 pod manifest as p2 wrote it (plus where to reach the status port), and a pod with
// two checks, one of them answering with markup and control characters.
let fleet: Fleet
const NODE = hostname()
const HOSTILE = 'boom <script>alert(1)</script>\x1b[2J\x07 end'

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

  it('says in one sentence that the store does not exist, without creating it', async () => {
    const missing = join(fleet.dir, 'nothing-here.sqlite')
    const { code, stdout } = await inspect('--store', `sqlite:${missing}`)
    assert.equal(code, 1)
    assert.match(stdout, /there is no store at .*nothing-here\.sqlite; start "probekit monitor --store sqlite:/)
    assert.equal(stdout.trim().split('\n').length, 1)
    assert.equal(existsSync(missing), false, 'inspect created a store')
  })

  it('says the API is unreachable, naming the address', async () => {
    const port = await refusedPort()
    const { code, stdout } = await inspect('--api', `http://127.0.0.1:${port}`)
    assert.equal(code, 1)
    assert.equal(
      stdout.trim(),
      `probekit inspect: cannot reach the monitor API at http://127.0.0.1:${port}: connection refused; is "probekit monitor" running and listening there?`,
    )
  })

  it('reports usage errors: a bad format, two sources, a stray argument', async () => {
    const format = await inspect('--format', 'yaml')
    assert.equal(format.code, 1)
    assert.match(format.stdout, /usage error: --format "yaml" is not a format; use json or tree/)
    const both = await inspect('--store', 'sqlite:x', '--api', 'http://127.0.0.1:1')
    assert.match(both.stdout, /usage error: --store and --api are two sources; choose one/)
    const stray = await inspect('isup')
    assert.match(stray.stdout, /usage error: unexpected argument "isup"; to pick a pod, write --pod isup/)
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
