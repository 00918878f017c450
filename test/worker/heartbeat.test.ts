import assert from 'node:assert/strict'
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { startHeartbeat } from '../../src/worker/heartbeat.js'
import { activeResources } from '../support/faults.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'
import { exitOf, startFixture } from './fixture-process.js'

const dir = makeTempDir('worker-heartbeat')
const ageMs = (file: string) => Date.now() - statSync(file).mtimeMs

function recordingLogger() {
  const lines: string[] = []
  const log = (...args: unknown[]) => lines.push(args.map(String).join(' '))
  return { lines, logger: { info: log, warn: log, error: log } }
}

describe('heartbeat', () => {
  it('touches the liveness file at once and then on every interval', async () => {
    const file = join(dir, 'sub', 'worker.live')
    const heartbeat = startHeartbeat({ file, intervalMs: 100 })
    try {
      assert.equal(existsSync(file), true, 'created, with its directory, by the first beat')
      const old = new Date(Date.now() - 60_000)
      utimesSync(file, old, old)
      await waitFor('the next beat', () => ageMs(file) < 1000, 2000, 20)
    } finally {
      heartbeat.stop()
    }
  })

  it('stops touching after stop(), leaving a file that goes stale', async () => {
    const file = join(dir, 'stopped.live')
    const heartbeat = startHeartbeat({ file, intervalMs: 50 })
    heartbeat.stop()
    const old = new Date(Date.now() - 60_000)
    utimesSync(file, old, old)
    await sleep(200)
    assert.ok(ageMs(file) > 50_000)
  })

  it('keeps no handle that holds the process open, and leaves none after stop()', () => {
    const before = activeResources()
    const heartbeat = startHeartbeat({ file: join(dir, 'handles.live'), intervalMs: 100 })
    heartbeat.stop()
    assert.deepEqual(activeResources().byType, before.byType)
  })

  it('defaults to a 60 s interval, as Celery', () => {
    const heartbeat = startHeartbeat({ file: join(dir, 'default.live') })
    heartbeat.stop()
    assert.equal(heartbeat.intervalMs, 60_000)
  })

  it('rejects an interval that is not a positive number, naming it', () => {
    assert.throws(() => startHeartbeat({ file: join(dir, 'x.live'), intervalMs: 0 }), /intervalMs must be a positive/)
    assert.throws(() => startHeartbeat({ file: join(dir, 'x.live'), intervalMs: Number.NaN }), /got NaN/)
    assert.throws(
      () => startHeartbeat({ file: join(dir, 'x.live'), intervalMs: 3_000_000_000 }),
      /at most 2147483647 \(24\.8 days\), got 3000000000/,
    )
  })

  it('reports a file it cannot write once, not on every beat, and keeps the worker running', async () => {
    // Its "directory" is a regular file: unwritable for every user, root included.
    const blocker = join(dir, 'not-a-directory')
    writeFileSync(blocker, '')
    const { lines, logger } = recordingLogger()
    const heartbeat = startHeartbeat({ file: join(blocker, 'w.live'), intervalMs: 20, logger })
    await sleep(150)
    heartbeat.stop()
    assert.equal(lines.length, 1, lines.join('\n'))
    assert.match(lines[0] as string, /cannot touch the liveness file .*not-a-directory\/w\.live: .*(ENOTDIR|EEXIST)/)
    assert.match(lines[0] as string, /health check will report it stale/)
  })

  it('reports a directory at the liveness file’s path instead of touching it, since the check counts only a file', async () => {
    const file = join(dir, 'replaced.live')
    mkdirSync(file)
    const { lines, logger } = recordingLogger()
    const heartbeat = startHeartbeat({ file, intervalMs: 20, logger })
    await sleep(100)
    heartbeat.stop()
    assert.equal(lines.length, 1, lines.join('\n'))
    assert.match(
      lines[0] as string,
      /cannot touch the liveness file \S+replaced\.live: it is a directory, not a file; the worker's health check will report it stale/,
    )
  })
})

describe('heartbeat in a real process', () => {
  const running: { stop(signal?: NodeJS.Signals): Promise<void> }[] = []
  after(async () => {
    for (const p of running) await p.stop('SIGKILL')
  })

  it('does not keep an otherwise finished process alive (the timer is unreferenced)', async () => {
    const file = join(dir, 'unref.live')
    const proc = await startFixture('worker-files.ts', ['heartbeat-only'], { LIVENESS_FILE: file }, 'beating\n')
    running.push(proc)
    assert.deepEqual(await exitOf(proc, 10_000), { code: 0, signal: null })
    assert.equal(existsSync(file), true)
  })

  it('goes stale while the event loop is blocked, and fresh again when it is free', async () => {
    const file = join(dir, 'blocked.live')
    const proc = await startFixture(
      'worker-files.ts',
      ['block-on-usr2'],
      { LIVENESS_FILE: file, BLOCK_MS: '2500' },
      'beating\n',
    )
    running.push(proc)
    await waitFor('a fresh heartbeat', () => ageMs(file) < 500, 5000, 20)
    proc.child?.kill('SIGUSR2')
    // 100 ms beats; while blocked for 2.5 s the file must age well past that.
    await waitFor('the liveness file to go stale', () => ageMs(file) > 1000, 5000, 50)
    await waitFor('the loop to be free again', () => proc.recentOutput.includes('unblocked'), 10_000)
    await waitFor('a fresh heartbeat after the block', () => ageMs(file) < 500, 5000, 20)
    await proc.stop()
  })
})
