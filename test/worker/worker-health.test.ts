import assert from 'node:assert/strict'
import { existsSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run } from '../../src/cli/worker.js'
import {
  createLastWorkFile,
  createWorkerHealth,
  DEFAULT_LIVENESS_FILE,
  DEFAULT_READINESS_FILE,
} from '../../src/worker/index.js'
import { activeResources } from '../support/faults.js'
import { makeTempDir, waitFor } from '../support/server-process.js'

const dir = makeTempDir('worker-health')

async function check(...argv: string[]) {
  let line = ''
  const code = await run(argv, { write: (t: string) => (line += t) })
  return { code, line }
}

describe('createWorkerHealth', () => {
  it('keeps the files that probekit worker checks, by the same default names', () => {
    assert.equal(DEFAULT_LIVENESS_FILE, '/tmp/probekit-worker.live')
    assert.equal(DEFAULT_READINESS_FILE, '/tmp/probekit-worker.ready')
  })

  it('beats at once, is ready on ready(), records work on workDone(), and cleans up on close()', async () => {
    const livenessFile = join(dir, 'a.live')
    const readinessFile = join(dir, 'a.ready')
    const lastWorkFile = join(dir, 'a.last-work')
    const before = activeResources()
    const health = createWorkerHealth({ livenessFile, readinessFile, lastWorkFile, heartbeatIntervalMs: 50 })
    const argv = [
      '--skip-ping',
      '--liveness-file',
      livenessFile,
      '--readiness-file',
      readinessFile,
      '--no-skip-readiness',
    ]
    const lastWork = ['--last-work-file', lastWorkFile, '--last-work-max-age', '1m']

    assert.match((await check(...argv)).line, /^failed readiness: /, 'alive but not ready yet')
    health.ready()
    assert.equal((await check(...argv)).code, 0)
    assert.match((await check(...argv, ...lastWork)).line, /^failed last work: \S+ does not exist/)
    health.workDone()
    assert.equal((await check(...argv, ...lastWork)).code, 0)

    health.close()
    health.close()
    assert.equal(existsSync(readinessFile), false)
    // A finished fs request (the checks' stat) stays listed for a turn or two of the event
    // loop, and handles of earlier tests may still be closing: nothing may be left beyond
    // what was there before.
    const grown = () =>
      Object.entries(activeResources().byType).filter(([type, count]) => count > (before.byType[type] ?? 0))
    await waitFor('no timer or handle left behind', () => grown().length === 0, 3000).catch(() =>
      assert.deepEqual(grown(), [], 'no timer left behind'),
    )
    health.workDone()
    health.ready()
    assert.equal(existsSync(readinessFile), false, 'a closed handle does nothing')
  })

  it('leaves out what is set to false', () => {
    const health = createWorkerHealth({ livenessFile: false, readinessFile: false })
    assert.equal(health.livenessFile, undefined)
    assert.equal(health.readinessFile, undefined)
    health.ready()
    assert.equal(health.isReady, false)
    health.close()
  })
})

describe('createLastWorkFile', () => {
  it('touches the file each time work is done', () => {
    const file = join(dir, 'b.last-work')
    const lastWork = createLastWorkFile({ file })
    lastWork.touch()
    const old = new Date(Date.now() - 600_000)
    utimesSync(file, old, old)
    lastWork.touch()
    assert.ok(Date.now() - statSync(file).mtimeMs < 60_000)
  })

  it('needs a file, and says how to give one', () => {
    assert.throws(
      () => createLastWorkFile({ file: '' }),
      /needs a file path, e\.g\. \{ file: "\/tmp\/worker\.last-work" \}/,
    )
  })
})
