import assert from 'node:assert/strict'
import { utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { runProbe } from '../../src/core/run-probe.js'
import { file } from '../../src/probes/file.js'
import { makeTempDir } from '../support/server-process.js'

const run = (probe: ReturnType<typeof file>) => runProbe(probe, { timeoutMs: 1000 })

describe('file probe', () => {
  const dir = makeTempDir('file-probe')

  it('passes when the file exists', async () => {
    const path = join(dir, 'ready')
    writeFileSync(path, '')
    const result = await run(file(path))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.output, `${path} exists`)
    assert.equal(result.componentType, 'system')
  })

  it('fails when the file is missing', async () => {
    const result = await run(file(join(dir, 'missing'), { name: 'heartbeat' }))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `file ${join(dir, 'missing')} does not exist`)
  })

  it('passes a fresh heartbeat and fails a stale one, with its age as observed value', async () => {
    const path = join(dir, 'alive')
    writeFileSync(path, '')
    const fresh = await run(file(path, { maxAge: 5000 }))
    assert.equal(fresh.status, 'pass', fresh.output)
    assert.equal(fresh.observedUnit, 'ms')
    assert.ok((fresh.observedValue as number) < 5000)
    const old = new Date(Date.now() - 90_000)
    utimesSync(path, old, old)
    const stale = await run(file(path, { maxAge: 60_000 }))
    assert.equal(stale.status, 'fail')
    assert.match(stale.output ?? '', /is stale: modified 9\d(\.\d)? s ago, more than 60 s/)
  })

  it('fails a heartbeat dated in the future beyond the clock slack, and reports the negative age without maxAge', async () => {
    const path = join(dir, 'ahead')
    writeFileSync(path, '')
    const inAnHour = new Date(Date.now() + 3_600_000)
    utimesSync(path, inAnHour, inAnHour)
    const ahead = await run(file(path, { maxAge: 60_000 }))
    assert.equal(ahead.status, 'fail')
    assert.match(
      ahead.output ?? '',
      /^file \S+ahead is dated (3600 s|1 h 0 min) in the future; the clock stepped back or something else wrote it$/,
    )
    const exists = await run(file(path))
    assert.equal(exists.status, 'pass', 'without maxAge only existence counts')
    assert.ok((exists.observedValue as number) < -3_500_000, `observed ${exists.observedValue}`)
    const inASecond = new Date(Date.now() + 1000)
    utimesSync(path, inASecond, inASecond)
    const slack = await run(file(path, { maxAge: 60_000 }))
    assert.equal(slack.status, 'pass', slack.output)
    assert.match(slack.output ?? '', /modified 0\.0 s ago$/)
  })

  it('takes a file:// URL, as a string or a URL, as probekit check does', async () => {
    // Read as a path, "file:///…" named a file that never exists: "does not exist", for good.
    const path = join(dir, 'with space')
    writeFileSync(path, '')
    for (const target of [pathToFileURL(path).href, pathToFileURL(path)]) {
      const result = await run(file(target))
      assert.equal(result.status, 'pass', result.output)
      assert.equal(result.output, `${path} exists`)
    }
    assert.throws(
      () => file('file://files.example/x'),
      (error: Error) =>
        error instanceof TypeError &&
        error.message ===
          'file("file://files.example/x"): not a local file URL; write file:///absolute/path, or the path itself',
    )
  })

  it('rejects a nonsense maxAge in one sentence', () => {
    assert.throws(() => file('/tmp/x', { maxAge: -1 }), /maxAge must be a positive number of ms, got -1/)
  })
})
