import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { loadManifests, MAX_MANIFEST_BYTES, ManifestError, readManifests } from '../../src/monitor/manifest.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { MemoryStore } from '../../src/monitor/store/memory.js'
import { type MonitorProcess, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir, waitFor } from '../support/server-process.js'

/** Far longer than a refusal takes; a monitor stuck reading is killed at this point. */
const DEADLINE_MS = 20_000

const mkfifo = (path: string) => execFileSync('mkfifo', [path])

async function manifestError(run: () => unknown): Promise<ManifestError> {
  try {
    await run()
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a ManifestError')
}

/** The monitor's exit status and output, or a failure naming what it printed if it has not exited by the deadline. */
async function exitOf(monitor: MonitorProcess): Promise<{ status: number | null; output: string }> {
  let timer: NodeJS.Timeout | undefined
  const status = await Promise.race([
    monitor.exited,
    new Promise<'running'>((resolve) => {
      timer = setTimeout(() => resolve('running'), DEADLINE_MS)
    }),
  ])
  clearTimeout(timer)
  if (status === 'running') {
    monitor.child.kill('SIGKILL')
    assert.fail(`the monitor was still running after ${DEADLINE_MS} ms:\n${monitor.output()}`)
  }
  return { status, output: monitor.output() }
}

describe('manifest files', () => {
  it('over 10 MB are refused before they are parsed, naming the file and the limit', async () => {
    const dir = makeTempDir('manifest-huge')
    const file = join(dir, 'big.yaml')
    writeFileSync(file, `id: big\nstatus_port: 8001\n# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`)
    writeFileSync(join(dir, 'small.yaml'), 'id: small\nstatus_port: 8001\n')
    const expected = `${file}: is 10.1 MB, over the limit of 10 MB for one manifest file; split it into smaller files`
    assert.equal((await manifestError(() => loadManifests([dir]))).message, expected)
    assert.equal((await manifestError(() => readManifests([dir]))).message, expected)
    // One byte under the limit is read.
    writeFileSync(file, `id: big\nstatus_port: 8001\n# ${'x'.repeat(MAX_MANIFEST_BYTES - 30)}\n`)
    assert.deepEqual(
      (await readManifests([dir], { node: 'n' })).map((p) => p.id),
      ['big', 'small'],
    )
  })

  it('that are a named pipe or a link to /dev/zero are refused without a read, named in one sentence', async () => {
    const dir = makeTempDir('manifest-special')
    writeFileSync(join(dir, 'a.yaml'), 'id: a\nstatus_port: 8001\n')
    const fifo = join(dir, 'pipe.yaml')
    mkfifo(fifo)
    const expected = `${fifo}: is a named pipe (FIFO), not a file; a manifest must be a regular YAML file (a link to one is fine)`
    assert.equal((await manifestError(() => readManifests([dir]))).message, expected)
    assert.equal((await manifestError(() => readManifests([fifo]))).message, expected)
    unlinkSync(fifo)
    const zero = join(dir, 'zero.yaml')
    symlinkSync('/dev/zero', zero)
    assert.equal(
      (await manifestError(() => readManifests([dir]))).message,
      `${zero}: is a device, not a file; a manifest must be a regular YAML file (a link to one is fine)`,
    )
    // A link to a regular file is read as that file.
    unlinkSync(zero)
    writeFileSync(join(dir, 'real.txt'), 'id: linked\nstatus_port: 8002\n')
    symlinkSync(join(dir, 'real.txt'), join(dir, 'linked.yaml'))
    assert.deepEqual(
      (await readManifests([dir], { node: 'n' })).map((p) => p.id),
      ['a', 'linked'],
    )
  })
})

describe('probekit monitor with a manifest that is not a regular file', () => {
  let server: Server
  let base: string
  const running: MonitorProcess[] = []

  before(async () => {
    server = createServer((_req, res) => res.end('ok\n'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const m of running) if (m.child.exitCode === null) m.child.kill('SIGKILL')
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('refuses to start with a named pipe or a link to /dev/zero among the manifests, in one sentence, status 1', async () => {
    for (const [name, make, what] of [
      ['pipe.yaml', mkfifo, 'a named pipe \\(FIFO\\)'],
      ['zero.yaml', (path: string) => symlinkSync('/dev/zero', path), 'a device'],
    ] as const) {
      const dir = makeTempDir('monitor-special')
      writeFileSync(join(dir, 'a.yaml'), `id: a\nnode: n1\nchecks:\n  - { name: up, url: "${base}/up" }\n`)
      make(join(dir, name))
      const monitor = spawnMonitor(['--store', 'memory', '--listen', 'none', dir])
      running.push(monitor)
      const { status, output } = await exitOf(monitor)
      assert.equal(status, 1, output)
      assert.match(output, new RegExp(`^probekit monitor: ${join(dir, name)}: is ${what}, not a file; [^\\n]*\\n$`))
    }
  })

  it('refuses a named pipe as --auth-token-file in one sentence instead of waiting for a writer', async () => {
    const dir = makeTempDir('monitor-token-pipe')
    writeFileSync(join(dir, 'a.yaml'), `id: a\nnode: n1\nchecks:\n  - { name: up, url: "${base}/up" }\n`)
    mkfifo(join(dir, 'tokens'))
    const monitor = spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '127.0.0.1:0',
      '--auth-token-file',
      join(dir, 'tokens'),
      join(dir, 'a.yaml'),
    ])
    running.push(monitor)
    const { status, output } = await exitOf(monitor)
    assert.notEqual(status, 0, output)
    assert.match(
      output,
      new RegExp(`${join(dir, 'tokens')} cannot be read \\(a named pipe \\(FIFO\\), not a regular file\\)`),
    )
  })

  it('fails an HTTP or gRPC check whose TLS file is a named pipe, and goes on checking the others', async () => {
    const dir = makeTempDir('monitor-tls-pipe')
    const pipe = join(dir, 'ca.pem')
    mkfifo(pipe)
    writeFileSync(
      join(dir, 'a.yaml'),
      [
        'id: a',
        'node: n1',
        'checks:',
        `  - { name: up, url: "${base}/up", interval: 1s }`,
        `  - { name: web, url: "https://127.0.0.1:1/", interval: 1s, tls: { ca_file: "${pipe}" } }`,
        `  - { name: rpc, url: "grpcs://127.0.0.1:1", interval: 1s, tls: { ca_file: "${pipe}" } }`,
      ].join('\n'),
    )
    const monitor = new Monitor({ store: new MemoryStore(), logger: false })
    try {
      await monitor.load([dir])
      monitor.start()
      const state = (check: string) => monitor.state(`n1/a/${check}`)
      await waitFor('the three checks to run', () => ['up', 'web', 'rpc'].every((c) => state(c)?.checkedAt), 10_000)
      assert.equal(state('up')?.state, 'passing')
      for (const check of ['web', 'rpc']) {
        assert.equal(state(check)?.state, 'critical', check)
        assert.equal(
          state(check)?.output,
          `cannot read the CA file ${pipe}: a named pipe (FIFO), not a regular file; fix the manifest's tls settings`,
        )
      }
    } finally {
      await monitor.stop()
    }
  })

  it('refuses to start on an unusable node name or an alias bomb with the file, the line and the key', async () => {
    const bomb = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
    for (const name of 'bcdefg') {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1)
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`)
    }
    const cases: [string, string][] = [
      [
        'id: okpod\nstatus_port: 9199\nstatus_http: true\nnode: "n\\u202eevil\\u001b[2J"\n',
        ':4: node: "n\\u202eevil\\u001b[2J" is not a usable node name; ',
      ],
      [
        `id: bomb\nstatus_port: 9199\nconfig:\n${bomb.map((l) => `  ${l}\n`).join('')}`,
        ':5: YAML aliases (*a and others) expand to too much data; ',
      ],
    ]
    for (const [text, expected] of cases) {
      const dir = makeTempDir('monitor-bad-manifest')
      const file = join(dir, 'pod.yaml')
      writeFileSync(file, text)
      const { status, output } = await exitOf(spawnMonitor(['--store', 'memory', '--listen', 'none', file]))
      assert.equal(status, 1, output)
      assert.ok(output.startsWith(`probekit monitor: ${file}${expected}`), output)
      assert.equal(output.split('\n').length, 2, output)
    }
  })

  it('a named pipe or a link to /dev/zero appearing in a watched directory: the reload fails, checks and API go on, SIGTERM stops it', async () => {
    const dir = makeTempDir('monitor-special-reload')
    writeFileSync(
      join(dir, 'a.yaml'),
      `id: a\nnode: n1\nchecks:\n  - { name: up, url: "${base}/up", interval: 500ms }\n`,
    )
    const monitor = await spawnMonitor(['--store', 'memory', '--listen', '127.0.0.1:0', dir]).started()
    running.push(monitor)
    await waitFor('the check to pass', () => /a\/up on n1: unknown → passing/.test(monitor.output()), DEADLINE_MS)

    mkfifo(join(dir, 'pipe.yaml'))
    await waitFor(
      'the failed reload',
      () =>
        /reload \(a manifest changed\) failed, keeping the running checks: .*pipe\.yaml: is a named pipe \(FIFO\)/.test(
          monitor.output(),
        ),
      DEADLINE_MS,
    )
    assert.equal((await fetch(`${monitor.url}/livez`)).status, 200)

    unlinkSync(join(dir, 'pipe.yaml'))
    symlinkSync('/dev/zero', join(dir, 'zero.yaml'))
    await waitFor(
      'the second failed reload',
      () => /keeping the running checks: .*zero\.yaml: is a device/.test(monitor.output()),
      DEADLINE_MS,
    )
    const checks = (await (await fetch(`${monitor.url}/v1/checks`)).json()) as { id: string; state: string }[]
    assert.deepEqual(
      checks.map((c) => [c.id, c.state]),
      [['n1/a/up', 'passing']],
    )

    monitor.child.kill('SIGTERM')
    const { status, output } = await exitOf(monitor)
    assert.equal(status, 0, output)
  })
})
