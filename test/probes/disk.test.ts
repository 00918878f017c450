import assert from 'node:assert/strict'
import { statfsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { parseSize } from '../../src/probes/bytes.js'
import { disk } from '../../src/probes/disk.js'
import { makeTempDir } from '../support/server-process.js'

const run = (probe: ReturnType<typeof disk>) => runProbe(probe, { timeoutMs: 1000 })

describe('disk probe', () => {
  const dir = makeTempDir('disk-probe')
  const stats = statfsSync(dir)
  const free = Number(stats.bavail) * Number(stats.bsize)

  it('passes when free space is above the minimum, with free bytes as observed value', async () => {
    const result = await run(disk(dir, { minFree: 1000 }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.observedUnit, 'bytes')
    assert.ok(Math.abs((result.observedValue as number) - free) < 100 * 1024 * 1024)
    assert.match(result.output ?? '', new RegExp(`free of .* at ${dir}$`))
    assert.equal(result.componentType, 'system')
  })

  it('fails when the minimum in bytes is more than is free', async () => {
    const result = await run(disk(dir, { minFree: free * 2 }))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /^only .* free of .* at .*, below the minimum of /)
  })

  it('takes percentages and sizes', async () => {
    assert.equal((await run(disk(dir, { minFree: '0.001%' }))).status, 'pass')
    assert.equal((await run(disk(dir, { minFree: '100%' }))).status, 'fail')
    assert.equal((await run(disk(dir, { minFree: '1MB' }))).status, 'pass')
    assert.equal((await run(disk(dir, { minFree: '1000000Ti' }))).status, 'fail')
  })

  it('fails clearly for a path that does not exist', async () => {
    const result = await run(disk('/no/such/path'))
    assert.equal(result.output, 'disk /no/such/path: no such file or directory')
  })

  it('rejects a malformed size in one sentence', () => {
    assert.throws(() => disk(dir, { minFree: 'lots' }), /minFree must be bytes, a size like '500MB'/)
    assert.deepEqual(parseSize('512Mi', 'x'), { bytes: 512 * 1024 * 1024 })
    assert.deepEqual(parseSize('1.5GB', 'x'), { bytes: 1.5e9 })
    assert.deepEqual(parseSize('10%', 'x'), { percent: 10 })
  })
})
