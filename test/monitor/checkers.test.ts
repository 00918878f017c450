import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { MAX_OUTPUT_BYTES } from '../../src/monitor/checkers/checker.js'
import { execChecker } from '../../src/monitor/checkers/exec.js'
import { probeChecker } from '../../src/monitor/checkers/probe.js'
import { tcpChecker } from '../../src/monitor/checkers/tcp.js'
import { type CheckSpec, parseManifest } from '../../src/monitor/manifest.js'
import { blackholeServer, type FaultServer } from '../support/faults.js'
import { makeTempDir, refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type MariaDbServer, startMariaDb } from '../support/servers/mariadb.js'
import { type NatsServer, startNats } from '../support/servers/nats.js'

function specOf<K extends CheckSpec['kind']>(kind: K, lines: string): Extract<CheckSpec, { kind: K }> {
  const [check] = parseManifest(`id: t\nchecks:\n  - name: c\n${lines}`, '/tmp/t.yaml', { node: 'n' }).flatMap(
    (p) => p.checks,
  )
  assert.equal(check?.kind, kind)
  return check as Extract<CheckSpec, { kind: K }>
}

/**
 * Whether process `pid` still runs. A killed process whose parent died too is a zombie until
 * PID 1 reaps it, which some inits do late; it is dead all the same.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

describe('TCP checker', () => {
  let blackhole: FaultServer
  before(async () => {
    blackhole = await blackholeServer()
  })
  after(() => blackhole.close())

  it('is critical on a refused connection, naming the reason', async () => {
    const port = await refusedPort()
    const outcome = await tcpChecker(specOf('tcp', `    type: tcp\n    address: 127.0.0.1:${port}\n`)).run()
    assert.equal(outcome.status, 'fail')
    assert.equal(outcome.output, `tcp 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
  })

  it('ends a connection that never completes at the deadline', async () => {
    const started = Date.now()
    const outcome = await tcpChecker(
      specOf('tcp', `    type: tcp\n    address: ${blackhole.address}\n    interval: 5s\n    timeout: 500ms\n`),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.equal(outcome.output, 'timed out after 500 ms')
    assert.ok(Date.now() - started < 3000)
  })
})

describe('exec checker', () => {
  it('maps exit 0, 1 and others to passing, warning and critical, as Consul does', async () => {
    const states = []
    for (const code of [0, 1, 2, 127]) {
      const outcome = await execChecker(specOf('exec', `    command: "echo exit ${code}; exit ${code}"\n`)).run()
      states.push([outcome.status, outcome.output])
    }
    assert.deepEqual(states, [
      ['pass', 'exit 0'],
      ['warn', 'exit 1'],
      ['fail', 'exit 2'],
      ['fail', 'exit 127'],
    ])
  })

  it('runs an argument list without a shell', async () => {
    const outcome = await execChecker(specOf('exec', '    command: ["echo", "$HOME; not expanded"]\n')).run()
    assert.equal(outcome.output, '$HOME; not expanded')
  })

  it('is critical when the command cannot start', async () => {
    const outcome = await execChecker(specOf('exec', '    command: ["/nonexistent/check"]\n')).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /cannot run \/nonexistent\/check: .*ENOENT/)
  })

  it('kills the whole process group at the deadline', async () => {
    const dir = makeTempDir('exec')
    const pidFile = `${dir}/child.pid`
    const outcome = await execChecker(
      specOf(
        'exec',
        `    command: "sleep 30 & echo $! > ${pidFile}; echo started; wait"\n    interval: 5s\n    timeout: 500ms\n`,
      ),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.match(outcome.output, /^timed out after 500 ms/)
    assert.match(outcome.output, /started/, 'what the script printed before the deadline is kept')
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await waitFor('the background sleep to be killed', () => !alive(pid), 2000, 20)
  })

  it('ends with the exit status of a command that left a process holding its output, and kills that process', async () => {
    const dir = makeTempDir('exec')
    const pidFile = `${dir}/child.pid`
    const started = Date.now()
    const outcome = await execChecker(
      specOf(
        'exec',
        `    command: "sleep 30 & echo $! > ${pidFile}; echo left running; exit 1"\n    interval: 5s\n    timeout: 4s\n`,
      ),
    ).run()
    assert.deepEqual([outcome.status, outcome.output], ['warn', 'left running'])
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms: the check waited for the background sleep`)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await waitFor('the background sleep to be killed', () => !alive(pid), 2000, 20)
  })

  it('keeps only the tail of a chatty script, within 4 KB, noting what was captured', async () => {
    const outcome = await execChecker(
      specOf('exec', '    command: "for i in $(seq 1 20000); do echo line $i; done; echo password=hunter2 done"\n'),
    ).run()
    assert.equal(outcome.status, 'pass')
    assert.ok(Buffer.byteLength(outcome.output) <= MAX_OUTPUT_BYTES)
    assert.match(outcome.output, /^\[captured \d+ bytes, showing the last \d+\]\n/)
    assert.match(outcome.output, /line 20000\npassword=\*\*\* done$/)
  })
})

describe('typed-target checker', () => {
  let nats: NatsServer
  before(async () => {
    nats = await startNats()
  })
  after(() => nats.stop())

  it('checks a nats:// target with the library probe', async () => {
    const outcome = await probeChecker(specOf('probe', `    url: ${nats.url}\n`)).run()
    assert.equal(outcome.status, 'pass', outcome.output)
    assert.match(outcome.output, /^nats:\/\/127\.0\.0\.1:\d+ ok/)
  })

  it('is critical when the server is down, within the deadline', async () => {
    const port = await refusedPort()
    const outcome = await probeChecker(
      specOf('probe', `    url: nats://127.0.0.1:${port}\n    interval: 5s\n    timeout: 1s\n`),
    ).run()
    assert.equal(outcome.status, 'fail')
    assert.ok(outcome.durationMs < 2000)
    await sleep(10)
  })
})

describe('typed-target checker for MariaDB', () => {
  let maria: MariaDbServer
  before(async () => {
    maria = await startMariaDb()
  })
  after(() => maria.stop())

  it('checks a mariadb:// target from a manifest as it checks mysql://', async () => {
    const url = maria.url.replace(/^mysql:/, 'mariadb:')
    const outcome = await probeChecker(specOf('probe', `    url: ${url}\n`)).run()
    assert.equal(outcome.status, 'pass', outcome.output)
    assert.match(outcome.output, /^mariadb:\/\/.*127\.0\.0\.1:\d+.* ok/)
  })
})
