import assert from 'node:assert/strict'
import { utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
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

  it('rejects a nonsense maxAge in one sentence', () => {
    assert.throws(() => file('/tmp/x', { maxAge: -1 }), /maxAge must be a positive number of ms, got -1/)
  })
})
