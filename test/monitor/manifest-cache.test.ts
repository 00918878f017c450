/**
 * A reload reads only the YAML documents that changed (src/monitor/manifest/cache.ts): an
 * unchanged document's pods are the very objects of the last load, and what comes back is
 * always what reading every file afresh gives — the same pods at the same lines, the same
 * errors naming the same file, line and key.
 */
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  type CheckSpec,
  loadManifests,
  ManifestCache,
  type ManifestDefaults,
  ManifestError,
  type PodManifest,
  readManifestsCached,
} from '../../src/monitor/manifest.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import { makeTempDir } from '../support/server-process.js'

/** A pod of `checks` http checks whose URLs end in `/v<version>`. */
function pod(id: string, version = 0, checks = 2): string {
  const lines = [`id: ${id}`, 'node: n1', 'checks:']
  for (let c = 0; c < checks; c++)
    lines.push(`  - name: c${c}`, `    url: http://${id}.internal:8080/health/v${version}`)
  return lines.join('\n')
}

const manifest = (...docs: string[]) => `${docs.join('\n---\n')}\n`

/** Reads `paths` through `cache` and checks that it is what reading them afresh gives (or the same error). */
async function read(cache: ManifestCache, paths: string[], defaults: ManifestDefaults = {}): Promise<PodManifest[]> {
  let fresh: PodManifest[] | Error
  try {
    fresh = loadManifests(paths, defaults)
  } catch (error) {
    fresh = error as Error
  }
  let cached: PodManifest[] | Error
  try {
    cached = await readManifestsCached(cache, paths, defaults)
  } catch (error) {
    cached = error as Error
  }
  if (fresh instanceof Error) {
    assert.ok(cached instanceof ManifestError, `expected ${fresh.message}, got ${String(cached)}`)
    assert.equal(cached.message, fresh.message)
    throw cached
  }
  assert.deepEqual(cached, fresh)
  return cached as PodManifest[]
}

const checksOf = (pods: PodManifest[]): CheckSpec[] => pods.flatMap((p) => p.checks)

describe('reloading manifests through a cache', () => {
  it('gives the pods of an unchanged document as the same objects, and reads a changed one again', async () => {
    const file = join(makeTempDir('cache-same'), 'fleet.yaml')
    writeFileSync(file, manifest(pod('a'), pod('b'), pod('c')))
    const cache = new ManifestCache()
    const first = await read(cache, [file])
    const again = await read(cache, [file])
    for (let i = 0; i < 3; i++) assert.equal(again[i], first[i], `pod ${i} was read again`)

    writeFileSync(file, manifest(pod('a'), pod('b', 1), pod('c')))
    const changed = await read(cache, [file])
    assert.equal(changed[0], first[0])
    assert.notEqual(changed[1], first[1])
    assert.equal(changed[1]?.checks[0]?.kind === 'http' && changed[1].checks[0].url, 'http://b.internal:8080/health/v1')
    assert.equal(changed[2], first[2])
  })

  it('gives a check that reads as before the same object, though its document changed', async () => {
    const file = join(makeTempDir('cache-same-check'), 'pod.yaml')
    const web = (path: string) =>
      `id: web\nnode: n1\nchecks:\n  - { name: home, url: "http://web.internal/" }\n  - { name: api, url: "http://web.internal${path}" }\n  - { name: db, type: tcp, address: "db.internal:5432" }`
    writeFileSync(file, web('/api'))
    const cache = new ManifestCache()
    const [before] = await read(cache, [file])
    writeFileSync(file, web('/api/v2'))
    const [after] = await read(cache, [file])
    assert.notEqual(after, before)
    assert.equal(after?.checks[0], before?.checks[0])
    assert.notEqual(after?.checks[1], before?.checks[1])
    assert.equal(after?.checks[2], before?.checks[2])
    // The same check on another line is not: it says where it is declared.
    writeFileSync(file, `# the web pod\n${web('/api/v2')}`)
    const [moved] = await read(cache, [file])
    assert.notEqual(moved?.checks[0], after?.checks[0])
  })

  it('moves the lines of a document that moved, and names the line a mistake is on now', async () => {
    const file = join(makeTempDir('cache-moved'), 'fleet.yaml')
    writeFileSync(file, manifest(pod('a'), pod('b')))
    const cache = new ManifestCache()
    const first = await read(cache, [file])
    assert.deepEqual(
      checksOf(first).map((c) => c.source.line),
      [4, 6, 12, 14],
    )

    // A pod inserted above: a and b are 9 lines further down, their pods otherwise unchanged.
    writeFileSync(file, manifest(pod('new'), pod('a'), pod('b')))
    const moved = await read(cache, [file])
    assert.deepEqual(
      checksOf(moved).map((c) => c.source.line),
      [4, 6, 12, 14, 20, 22],
    )
    // Moved once, then kept where they are now.
    const again = await read(cache, [file])
    assert.equal(again[1], moved[1])

    // A mistake below the moved documents names its own line, as a fresh read does.
    writeFileSync(
      file,
      manifest(pod('new'), pod('a'), pod('b'), 'id: d\nnode: n1\nchecks:\n  - { name: x, type: smtp }'),
    )
    const error = await read(cache, [file]).then(
      () => assert.fail('expected a ManifestError'),
      (e: ManifestError) => e,
    )
    assert.equal(error.file, file)
    assert.equal(error.line, 28)
    assert.equal(error.key, 'checks[0].type')
    assert.match(error.message, /fleet\.yaml:28: checks\[0\]\.type: unknown check type "smtp"/)
  })

  it('reads every document again when the defaults change', async () => {
    const file = join(makeTempDir('cache-defaults'), 'pod.yaml')
    writeFileSync(file, 'id: web\nstatus_port: 8443\n')
    const cache = new ManifestCache()
    const first = await read(cache, [file], { node: 'web-1' })
    assert.equal(first[0]?.node, 'web-1')
    const other = await read(cache, [file], { node: 'web-2' })
    assert.equal(other[0]?.node, 'web-2')
    const withCa = await read(cache, [file], { node: 'web-2', caFile: '/etc/ca.pem' })
    assert.notEqual(withCa[0], other[0])
    const spec = withCa[0]?.checks[0]
    assert.equal(spec?.kind === 'http' && spec.tls.caFile, '/etc/ca.pem')
  })

  it('splits a file only where YAML ends a document, whatever the block scalars and quoted strings hold', async () => {
    const dir = makeTempDir('cache-split')
    const file = join(dir, 'fleet.yaml')
    const exec = (id: string, command: string) => `id: ${id}\nnode: n1\nchecks:\n  - name: run\n    command: ${command}`
    // Each text, and what reading it gives: its pods' ids, or the line and start of its error.
    const cases: [string, string][] = [
      // `---` inside a block scalar and a plain one, indented: part of the command.
      [manifest(exec('a', '|\n      echo one\n      ---\n      echo two'), pod('b')), 'a,b'],
      [manifest(exec('a', 'echo one\n      --- two'), pod('b')), 'a,b'],
      // `---` at the start of a line ends the block scalar and the document…
      [`${exec('a', '|\n      echo one')}\n---\n${pod('b')}\n`, 'a,b'],
      // … and a quoted string that has not ended there is a mistake.
      [`${exec('a', '"echo one')}\n---\necho two"\n---\n${pod('b')}\n`, '5: YAML syntax error'],
      [`${exec('a', "'echo one")}\n---\n${pod('b')}\n`, '14: YAML syntax error'],
      // Lines that only look like a marker.
      [manifest(exec('a', '"echo ---x"'), `# ---\n${pod('b')}`), 'a,b'],
      [manifest(pod('a'), `---x\n${pod('b')}`), '9: YAML syntax error'],
      // `...` ends a document; the next may follow without `---`.
      [`${pod('a')}\n...\n${pod('b')}\n---\n${pod('c')}\n`, 'a,b,c'],
      // A directive applies to what follows it: such a file is one piece.
      [`%YAML 1.2\n---\n${pod('a')}\n---\n${pod('b')}\n`, 'a,b'],
      // A stray end marker before any document, a trailing `---`, a document of comments only:
      // empty documents, skipped; an explicit null is not empty.
      [`...\n---\n${pod('a')}\n`, 'a'],
      [`${pod('a')}\n---\n`, 'a'],
      [`${pod('a')}\n---\n# nothing yet\n---\n${pod('b')}\n---`, 'a,b'],
      [`${pod('a')}\n---\n~\n`, '9: a manifest must be a YAML mapping'],
      [`\uFEFF${manifest(pod('a'), pod('b'))}`, 'a,b'],
      [manifest(pod('a'), pod('b')).replaceAll('\n', '\r\n'), 'a,b'],
      [`--- # the fleet\n${pod('a')}\n---\t\n${pod('b')}\n`, 'a,b'],
    ]
    for (const [text, expected] of cases) {
      const cache = new ManifestCache()
      writeFileSync(file, text)
      const first = await read(cache, [file]).catch((error: Error) => error)
      const again = await read(cache, [file]).catch((error: Error) => error)
      let outcome: string
      if (first instanceof Error) {
        assert.ok(first instanceof ManifestError && again instanceof ManifestError)
        outcome = `${first.line}: ${first.problem}`
      } else {
        assert.ok(Array.isArray(again))
        for (const [i, pod] of first.entries()) assert.equal(again[i], pod, 'read from the cache')
        outcome = first.map((p) => p.id).join()
      }
      assert.ok(outcome.startsWith(expected), `${JSON.stringify(text)}: ${outcome}`)
    }
  })

  it('finds every mistake and duplicate on every load, naming file, line and key', async () => {
    const dir = makeTempDir('cache-errors')
    const pods = join(dir, 'pods')
    mkdirSync(pods)
    writeFileSync(join(pods, 'a.yaml'), manifest(pod('a'), pod('b')))
    const cache = new ManifestCache()
    await read(cache, [pods])

    // A pod declared again in another file: refused, though a.yaml is read from the cache.
    writeFileSync(join(pods, 'z.yaml'), pod('b'))
    for (let attempt = 0; attempt < 2; attempt++)
      await assert.rejects(read(cache, [pods]), {
        message: `${join(pods, 'z.yaml')}: id: pod "b" on node "n1" is also declared in ${join(pods, 'a.yaml')}; give each pod one manifest`,
      })
    rmSync(join(pods, 'z.yaml'))

    // A mistake in a document after unchanged ones, then the same file fixed.
    writeFileSync(join(pods, 'a.yaml'), manifest(pod('a'), pod('b'), 'id: c\nnode: n1\nstatus_port: eighty'))
    for (let attempt = 0; attempt < 2; attempt++)
      await assert.rejects(read(cache, [pods]), {
        message: `${join(pods, 'a.yaml')}:19: status_port: "eighty" is not a port; use a number from 1 to 65535`,
      })
    writeFileSync(join(pods, 'a.yaml'), manifest(pod('a'), pod('b'), 'id: c\nnode: n1\nstatus_port: 80'))
    assert.equal((await read(cache, [pods])).length, 3)

    // A YAML syntax error, in a piece of its own and in the middle of the file.
    writeFileSync(join(pods, 'a.yaml'), manifest(pod('a'), 'id: x\nnode: [n1\n', pod('b')))
    await assert.rejects(read(cache, [pods]), /a\.yaml:\d+: YAML syntax error/)
  })

  it("reads a push check's token_file again on every load", async () => {
    const dir = makeTempDir('cache-token-file')
    const file = join(dir, 'cron.yaml')
    writeFileSync(join(dir, 'token'), 'first-token-0123\n')
    writeFileSync(
      file,
      'id: cron\nnode: n1\nchecks:\n  - { name: nightly, type: push, period: 1d, token_file: token }\n',
    )
    const cache = new ManifestCache()
    const tokensOf = (pods: PodManifest[]) => (pods[0]?.checks[0]?.kind === 'push' ? pods[0].checks[0].tokens : [])
    assert.deepEqual(tokensOf(await read(cache, [file])), ['first-token-0123'])
    writeFileSync(join(dir, 'token'), 'second-token-4567\n')
    assert.deepEqual(tokensOf(await read(cache, [file])), ['second-token-4567'])
  })

  it('keeps only what the latest load read, however many reloads change it', async () => {
    const dir = makeTempDir('cache-bounded')
    const pods = join(dir, 'pods')
    mkdirSync(pods)
    const cache = new ManifestCache()
    for (let version = 0; version < 30; version++) {
      // Every document changes; files come and go.
      writeFileSync(join(pods, 'fleet.yaml'), manifest(...['a', 'b', 'c', 'd'].map((id) => pod(id, version))))
      writeFileSync(join(pods, `extra-${version}.yaml`), pod(`extra-${version}`, version))
      if (version > 0) rmSync(join(pods, `extra-${version - 1}.yaml`))
      await read(cache, [pods])
      assert.equal(cache.size, 5, `after load ${version}`)
    }
    // A load that fails keeps what the last good one read.
    writeFileSync(join(pods, 'fleet.yaml'), manifest(pod('a', 99), 'id: bad id'))
    await assert.rejects(read(cache, [pods]))
    assert.equal(cache.size, 5)
  })
})

describe('a monitor reloading through its cache', () => {
  it('masks secrets in the targets it shows on every reload (the specs it is handed are frozen)', async () => {
    const file = join(makeTempDir('cache-monitor'), 'pod.yaml')
    // The header's token is registered as a secret and masked where the URL repeats it.
    const write = (version: number) =>
      writeFileSync(
        file,
        manifest(
          'id: api\nnode: n1\nchecks:\n  - name: health\n    url: http://api.internal/health/Zq9Xv7Kw\n    headers: { Authorization: "Bearer Zq9Xv7Kw" }',
          pod('other', version),
        ),
      )
    write(0)
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      for (let version = 1; version <= 2; version++) {
        write(version)
        await monitor.reload()
        const states = monitor.states()
        assert.equal(states.find((s) => s.pod === 'api')?.target, 'http://api.internal/health/***')
        assert.equal(states.find((s) => s.pod === 'other' && s.check === 'c0')?.target.endsWith(`/v${version}`), true)
      }
    } finally {
      await monitor.stop()
    }
  })

  it('masks a secret that a changed document adds in the targets of the unchanged ones', async () => {
    const file = join(makeTempDir('cache-new-secret'), 'pod.yaml')
    const api = 'id: api\nnode: n1\nchecks:\n  - name: health\n    url: http://api.internal/health/Qm4Lp8Rt'
    writeFileSync(file, manifest(api, pod('other')))
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      const target = () => monitor.states().find((s) => s.pod === 'api')?.target
      assert.equal(target(), 'http://api.internal/health/Qm4Lp8Rt')
      writeFileSync(file, manifest(api, `${pod('other')}\n    headers: { Authorization: "Bearer Qm4Lp8Rt" }`))
      await monitor.reload()
      assert.equal(target(), 'http://api.internal/health/***')
    } finally {
      await monitor.stop()
    }
  })

  it('registers what a TLS key file says now on every reload, its manifest unchanged', async () => {
    const dir = makeTempDir('cache-key-file')
    const file = join(dir, 'pod.yaml')
    const key = (line: string) => `-----BEGIN PRIVATE KEY-----\n${line}\n-----END PRIVATE KEY-----\n`
    writeFileSync(join(dir, 'client.key'), key('FirstKeyLine0123456789'))
    writeFileSync(join(dir, 'client.pem'), '')
    writeFileSync(
      file,
      'id: api\nnode: n1\nchecks:\n  - name: health\n    url: https://api.internal/health\n    tls: { cert_file: client.pem, key_file: client.key }\n',
    )
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      writeFileSync(join(dir, 'client.key'), key('SecondKeyLine987654321'))
      await monitor.reload()
      assert.equal(monitor.redact('FirstKeyLine0123456789 SecondKeyLine987654321'), '*** ***')
    } finally {
      await monitor.stop()
    }
  })
})
