import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryStore } from '../../src/monitor/store/memory.js'
import { StoreWriter } from '../../src/monitor/store-writer.js'
import type { HistorySample } from '../../src/monitor/types.js'
import { waitFor } from '../support/server-process.js'

/** A writer over a memory store that records the size of each history transaction; `at` is the last minute. */
function recordingWriter() {
  const store = new MemoryStore()
  const written: number[] = []
  const addSamples = store.addSamples.bind(store)
  store.addSamples = (samples) => {
    written.push(samples.length)
    addSamples(samples)
  }
  const writer = new StoreWriter<string>({ store, logger: false, redact: (t) => t, stateOf: () => undefined })
  const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString()
  return { store, written, writer, at }
}

describe('StoreWriter', () => {
  it('writes a burst of history samples in small paced transactions, and tells what is still pending', async () => {
    const { store, written, writer, at } = recordingWriter()
    const samples: HistorySample[] = []
    for (let i = 0; i < 1000; i++)
      samples.push({ id: `pod/node/c${i % 10}`, at, state: 'passing', count: 12, passed: 12 })
    for (const sample of samples) writer.addSample(sample)
    assert.equal(writer.pendingSamplesOf('pod/node/c3').length, 100)
    await waitFor('every sample written', () => !writer.hasPendingSamples, 10_000)
    // A minute's end hands over every check's sample at once; none is written in a transaction of more than 200.
    assert.equal(
      written.reduce((a, b) => a + b, 0),
      1000,
    )
    assert.ok(written.length >= 5, `written in ${written.length} transactions`)
    assert.ok(
      written.every((n) => n <= 200),
      `transaction sizes ${written.join(', ')}`,
    )
    assert.deepEqual(writer.pendingSamplesOf('pod/node/c3'), [])
    assert.equal(store.history('pod/node/c3')[0]?.count, 12 * 100)
  })

  it('writes a backlog larger than 250 transactions of 200 a 250th at a time, so it stays bounded', async () => {
    const { written, writer, at } = recordingWriter()
    for (let i = 0; i < 100_000; i++)
      writer.addSample({ id: `p/n/c${i % 100}`, at, state: 'passing', count: 1, passed: 1 })
    await waitFor('the first transaction', () => written.length > 0, 10_000)
    assert.equal(written[0], 400)
    writer.flushAll()
    assert.equal(writer.hasPendingSamples, false)
  })

  it('writes everything pending at once on flushAll (a stop)', () => {
    const store = new MemoryStore()
    const writer = new StoreWriter<string>({ store, logger: false, redact: (t) => t, stateOf: () => undefined })
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString()
    for (let i = 0; i < 700; i++) writer.addSample({ id: 'p/n/c', at, state: 'passing', count: 1, passed: 1 })
    writer.flushAll()
    assert.equal(writer.hasPendingSamples, false)
    assert.equal(store.history('p/n/c')[0]?.count, 700)
  })
})
