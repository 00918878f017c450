import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotReady } from '../../src/core/errors.js'
import { timed } from '../../src/probes/timed.js'

describe('timed', () => {
  it('reports how long async work took, in ms, beside the details it returned', async () => {
    const details = await timed(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      return { message: 'PONG', componentId: 'cache:6379' }
    })
    assert.equal(details.message, 'PONG')
    assert.equal(details.componentId, 'cache:6379')
    assert.equal(details.observedUnit, 'ms')
    assert.equal(typeof details.observedValue, 'number')
    assert.ok((details.observedValue as number) >= 29, `observed ${details.observedValue}`)
    // Rounded to 0.1 ms.
    assert.equal(Math.round((details.observedValue as number) * 10) / 10, details.observedValue)
  })

  it('keeps synchronous work synchronous', () => {
    const details = timed(() => ({ message: 'ok' }))
    assert.ok(!(details instanceof Promise))
    assert.equal(details.message, 'ok')
    assert.equal(details.observedUnit, 'ms')
  })

  it('lets a failure through as it was thrown, sync or async', async () => {
    assert.throws(
      () =>
        timed(() => {
          throw new NotReady('sqlite app.db: the database is closed')
        }),
      { message: 'sqlite app.db: the database is closed' },
    )
    await assert.rejects(
      timed(async () => {
        throw new NotReady('redis cache:6379: connection refused (ECONNREFUSED)')
      }),
      { message: 'redis cache:6379: connection refused (ECONNREFUSED)' },
    )
  })
})
