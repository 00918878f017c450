import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createReadinessFile } from '../../src/worker/readiness.js'
import { makeTempDir, waitFor } from '../support/server-process.js'
import { exitOf, startFixture } from './fixture-process.js'

const dir = makeTempDir('worker-readiness')
let n = 0
const nextFile = () => join(dir, `worker-${++n}.ready`)

describe('readiness file', () => {
  it('exists exactly between ready() and notReady()', () => {
    const file = nextFile()
    const readiness = createReadinessFile({ file })
    assert.equal(existsSync(file), false)
    readiness.ready()
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`)
    assert.equal(readiness.isReady, true)
    readiness.notReady()
    assert.equal(existsSync(file), false)
    readiness.ready()
    readiness.close()
    assert.equal(existsSync(file), false)
  })

  it('removes a file left behind by an earlier, killed run before this run is ready', () => {
    const file = nextFile()
    writeFileSync(file, '12345\n')
    const readiness = createReadinessFile({ file })
    assert.equal(existsSync(file), false)
    readiness.close()
  })

  it('starts beside a directory at its path, or a file where its directory should be, and ready() says why it cannot write', () => {
    // Neither claims readiness (the check counts only a regular file), so neither stops a worker from starting.
    const replaced = join(dir, 'replaced.ready')
    mkdirSync(replaced)
    const readiness = createReadinessFile({ file: replaced })
    assert.throws(
      () => readiness.ready(),
      /cannot create the readiness file \S+replaced\.ready: it is a directory, not a file; remove it/,
    )
    assert.equal(readiness.isReady, false)
    readiness.close()
    const blocker = join(dir, 'a-file')
    writeFileSync(blocker, '')
    const underFile = createReadinessFile({ file: join(blocker, 'w.ready') })
    assert.throws(() => underFile.ready(), /(EEXIST|ENOTDIR).*a-file/)
    underFile.close()
  })

  it('leaves no empty file behind when ready() fails on a full disk, for the check would count it as ready', (t) => {
    if (process.getuid?.() !== 0) return t.skip('mounting a full file system needs root')
    const full = join(dir, 'full-disk')
    mkdirSync(full)
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', full], { encoding: 'utf8' })
    assert.equal(mounted.status, 0, `mount: ${mounted.stderr}`)
    try {
      writeFileSync(join(full, 'filler'), Buffer.alloc(64 * 1024)) // stops at the 16 KB the mount holds
    } catch {}
    try {
      const file = join(full, 'worker.ready')
      const readiness = createReadinessFile({ file })
      assert.throws(() => readiness.ready(), /ENOSPC/)
      assert.equal(readiness.isReady, false)
      assert.equal(existsSync(file), false, 'an empty readiness file would pass probekit worker --no-skip-readiness')
      readiness.close()
    } finally {
      spawnSync('umount', [full])
    }
  })

  it('creates missing directories when the worker becomes ready', () => {
    const file = join(dir, 'nested', 'deeper', 'worker.ready')
    const readiness = createReadinessFile({ file })
    readiness.ready()
    assert.equal(existsSync(file), true)
    readiness.close()
  })

  it('detaches its exit and signal hooks when the last file is closed', () => {
    const before = {
      exit: process.listenerCount('exit'),
      term: process.listenerCount('SIGTERM'),
      int: process.listenerCount('SIGINT'),
    }
    const a = createReadinessFile({ file: nextFile() })
    const b = createReadinessFile({ file: nextFile(), signals: ['SIGTERM', 'SIGHUP'] })
    assert.equal(process.listenerCount('SIGTERM'), before.term + 1, 'one hook per signal, whatever the number of files')
    assert.equal(process.listenerCount('SIGHUP') > 0, true)
    a.close()
    b.close()
    assert.deepEqual(
      {
        exit: process.listenerCount('exit'),
        term: process.listenerCount('SIGTERM'),
        int: process.listenerCount('SIGINT'),
      },
      before,
    )
    assert.equal(process.listenerCount('SIGHUP'), 0)
  })

  it('refuses ready() after close() with a sentence saying what to do', () => {
    const readiness = createReadinessFile({ file: nextFile() })
    readiness.close()
    assert.throws(() => readiness.ready(), /was closed; create a new one with createReadinessFile/)
  })
})

describe('readiness file in a real process that ends', () => {
  const running: { stop(signal?: NodeJS.Signals): Promise<void> }[] = []
  after(async () => {
    for (const p of running) await p.stop('SIGKILL')
  })

  async function start(scenario: string) {
    const file = nextFile()
    const proc = await startFixture('worker-files.ts', [scenario], { READINESS_FILE: file }, 'ready\n')
    running.push(proc)
    return { file, proc }
  }

  it('is removed when the process calls process.exit()', async () => {
    const { file, proc } = await start('exit')
    assert.deepEqual(await exitOf(proc), { code: 3, signal: null })
    assert.equal(existsSync(file), false)
  })

  it('is removed when the process dies of an uncaught exception', async () => {
    const { file, proc } = await start('uncaught')
    assert.equal((await exitOf(proc)).code, 1)
    assert.match(proc.recentOutput, /boom/)
    assert.equal(existsSync(file), false)
  })

  it('is removed when the process dies of an unhandled rejection', async () => {
    const { file, proc } = await start('unhandled-rejection')
    assert.equal((await exitOf(proc)).code, 1)
    assert.equal(existsSync(file), false)
  })

  it('is removed when the event loop runs dry and the process ends by itself', async () => {
    const { file, proc } = await start('loop-empties')
    assert.deepEqual(await exitOf(proc), { code: 0, signal: null })
    assert.equal(existsSync(file), false)
  })

  it('is removed on SIGTERM, and a process without its own handler still terminates by the signal', async () => {
    const { file, proc } = await start('signal-default')
    assert.equal(existsSync(file), true)
    proc.child?.kill('SIGTERM')
    assert.deepEqual(await exitOf(proc), { code: null, signal: 'SIGTERM' })
    assert.equal(existsSync(file), false)
  })

  it("is removed on SIGTERM before the app's own handler runs, and the app still decides how to exit", async () => {
    const { file, proc } = await start('app-sigterm')
    proc.child?.kill('SIGTERM')
    await waitFor('the app to handle SIGTERM', () => proc.recentOutput.includes('app handled SIGTERM'), 10_000)
    assert.match(proc.recentOutput, /ready file present: false/)
    assert.equal(existsSync(file), false)
    assert.deepEqual(await exitOf(proc), { code: 7, signal: null })
  })

  it('is removed on SIGINT (Ctrl-C) too', async () => {
    const { file, proc } = await start('signal-default')
    proc.child?.kill('SIGINT')
    assert.deepEqual(await exitOf(proc), { code: null, signal: 'SIGINT' })
    assert.equal(existsSync(file), false)
  })
})
