import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { memory } from '../../src/probes/memory.js'

const run = (probe: ReturnType<typeof memory>) => runProbe(probe, { timeoutMs: 1000 })

describe('memory probe', () => {
  it('reports heap used as the observed value and passes under generous limits', async () => {
    const result = await run(memory({ maxHeapUsed: '16GB', maxRss: '100%' }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.observedUnit, 'bytes')
    assert.ok((result.observedValue as number) > 1_000_000)
    assert.match(result.output ?? '', /^heap used .*B, rss .*B$/)
    assert.equal(result.componentType, 'system')
  })

  it('fails when the heap is above its limit, naming both numbers', async () => {
    const result = await run(memory({ maxHeapUsed: 1000 }))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /^heap used .* is above 1 kB$/)
  })

  it('fails on rss and on a heap percentage', async () => {
    const rss = await run(memory({ maxRss: '1MB' }))
    assert.match(rss.output ?? '', /^rss .* is above 1 MB$/)
    const heap = await run(memory({ maxHeapUsed: '0.01%' }))
    assert.match(heap.output ?? '', /^heap used .* is above 0\.01% of .*/)
  })

  it('rejects a malformed limit in one sentence', () => {
    assert.throws(() => memory({ maxRss: '12 parsecs' }), /memory: maxRss must be bytes, a size like/)
  })
})
