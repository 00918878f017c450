import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotReady } from '../../src/core/errors.js'
import { runProbe } from '../../src/core/run-probe.js'
import { refusedPort } from '../support/server-process.js'

describe('runProbe', () => {
  it('passes with the details a check returns', async () => {
    const result = await runProbe(
      {
        name: 'cache',
        check: () => ({ message: 'PONG', observedValue: 1.5, observedUnit: 'ms', componentType: 'datastore' }),
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'pass')
    assert.equal(result.output, 'PONG')
    assert.equal(result.observedValue, 1.5)
    assert.equal(result.observedUnit, 'ms')
    assert.equal(result.componentType, 'datastore')
    assert.equal(result.critical, true)
    assert.ok(!Number.isNaN(Date.parse(result.time)))
  })

  it('fails with the NotReady message as the reason, never a stack', async () => {
    const result = await runProbe(
      {
        name: 'db',
        check: () => {
          throw new NotReady('db: cannot connect')
        },
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'fail')
    assert.equal(result.output, 'db: cannot connect')
    assert.doesNotMatch(result.output ?? '', /at .*\(/)
  })

  it('keeps the message of any other error, on one line', async () => {
    const result = await runProbe(
      {
        name: 'x',
        check: async () => {
          throw new Error('first line\n  second line')
        },
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.output, 'first line second line')
  })

  it('names an error without a message by its code', async () => {
    const error = Object.assign(new Error(''), { code: 'ECONNREFUSED' })
    const result = await runProbe(
      {
        name: 'x',
        check: () => {
          throw error
        },
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.output, 'ECONNREFUSED')
  })

  it('fails a check that never settles at its deadline, and fires its signal', async () => {
    let aborted: unknown
    const started = performance.now()
    const result = await runProbe(
      {
        name: 'hang',
        check: ({ signal }) =>
          new Promise(() => {
            signal.addEventListener('abort', () => {
              aborted = signal.reason
            })
          }),
      },
      { timeoutMs: 150 },
    )
    const elapsed = performance.now() - started
    assert.equal(result.status, 'fail')
    assert.equal(result.output, 'timed out after 150 ms')
    assert.ok(elapsed >= 140 && elapsed < 150 + 200, `answered after ${elapsed} ms`)
    assert.ok(aborted instanceof Error)
  })

  it('answers at the deadline even when the check ignores its signal and fails later', async () => {
    const result = await runProbe(
      { name: 'stubborn', check: () => new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 300)) },
      { timeoutMs: 50 },
    )
    assert.equal(result.output, 'timed out after 50 ms')
    // The late rejection must not become an unhandled rejection (the test runner would fail).
    await new Promise((r) => setTimeout(r, 350))
  })

  it('turns the failure of a non-critical probe into warn', async () => {
    const result = await runProbe(
      {
        name: 'search',
        critical: false,
        check: () => {
          throw new Error('down')
        },
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'warn')
    assert.equal(result.critical, false)
  })

  it('redacts credentials from reasons', async () => {
    const result = await runProbe(
      {
        name: 'db',
        check: () => {
          throw new Error('connect to postgres://app:hunter2@db:5432/app failed; password=hunter2')
        },
      },
      { timeoutMs: 1000 },
    )
    assert.doesNotMatch(result.output ?? '', /hunter2/)
    assert.match(result.output ?? '', /postgres:\/\/app:\*\*\*@db:5432\/app/)
  })

  it('shows the cause chain of a fetch that failed: the refused connection, not only "fetch failed"', async () => {
    const port = await refusedPort()
    const result = await runProbe(
      {
        name: 'search',
        check: async ({ signal }) => {
          const res = await fetch(`http://127.0.0.1:${port}/health`, { signal })
          if (!res.ok) throw new NotReady(`search answered ${res.status}`)
        },
      },
      { timeoutMs: 5000 },
    )
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`)
  })

  it('walks error.cause a few links deep, skips what is already said, survives a cycle, and redacts every link', async () => {
    const deep = new Error('one', {
      cause: new Error('two', {
        cause: new Error('three', { cause: new Error('four', { cause: new Error('five') }) }),
      }),
    })
    const looped = new Error('outer')
    looped.cause = new Error('inner', { cause: looped })
    const repeated = new Error('query failed: connection reset', { cause: new Error('connection reset') })
    const secret = new Error('cannot connect', {
      cause: new Error('auth failed for postgres://app:hunter2@db:5432/app', {
        cause: 'redis://:hunter2@cache:6379 refused',
      }),
    })
    const reasons = await Promise.all(
      [deep, looped, repeated, secret].map(async (error, i) => {
        const result = await runProbe({ name: `c${i}`, check: () => Promise.reject(error) }, { timeoutMs: 1000 })
        return result.output
      }),
    )
    assert.deepEqual(reasons, [
      'one: two: three: four',
      'outer: inner',
      'query failed: connection reset',
      'cannot connect: auth failed for postgres://app:***@db:5432/app: redis://:***@cache:6379 refused',
    ])
  })

  it('stops early when the parent signal aborts', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('closing')), 30)
    const result = await runProbe(
      { name: 'x', check: () => new Promise(() => {}) },
      { timeoutMs: 5000, signal: controller.signal },
    )
    assert.equal(result.output, 'closing')
  })

  it('passes with details of the wrong kinds turned into text: a number as componentId, a null-prototype message', async () => {
    const result = await runProbe(
      {
        name: 'db',
        // What a check written in JavaScript may return; the types ask for strings.
        check: () =>
          ({
            message: Object.assign(Object.create(null), { rows: 1 }),
            componentId: 5432,
            componentType: 7,
            observedValue: { ms: 3 },
            observedUnit: 1,
          }) as never,
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'pass')
    assert.equal(result.output, '{"rows":1}')
    assert.equal(result.componentId, '5432')
    assert.equal(result.componentType, '7')
    assert.equal(result.observedValue, '{"ms":3}')
    assert.equal(result.observedUnit, '1')
  })

  it('passes with a BigInt observed value as text, which every output can show', async () => {
    // A BigInt kept as it was made JSON.stringify throw: /readyz?format=json answered 503
    // "health check error: Do not know how to serialize a BigInt".
    const result = await runProbe(
      { name: 'queue', check: () => ({ observedValue: 12345678901234567890n }) as never },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'pass')
    assert.equal(result.observedValue, '12345678901234567890')
    assert.doesNotThrow(() => JSON.stringify(result))
  })

  it('passes with a note when the details cannot be read at all', async () => {
    const details = {
      get componentId(): string {
        throw new Error('getter boom')
      },
    }
    const result = await runProbe({ name: 'db', check: () => details }, { timeoutMs: 1000 })
    assert.equal(result.status, 'pass')
    assert.match(result.output ?? '', /details it returned cannot be read/)
  })

  it('fails with a reason saying so when what was thrown cannot be read (a getter or a proxy trap that throws)', async () => {
    const unreadableMessage = new Error('')
    Object.defineProperty(unreadableMessage, 'message', {
      get() {
        throw new Error('getter boom')
      },
    })
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('proxy trap')
        },
        ownKeys() {
          throw new Error('proxy trap')
        },
      },
    )
    for (const thrown of [unreadableMessage, trap]) {
      const result = await runProbe(
        {
          name: 'x',
          check: () => {
            throw thrown
          },
        },
        { timeoutMs: 1000 },
      )
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /^failed \(what was thrown cannot be read/)
    }
  })

  it('leaves no timer behind after a passing run', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => runProbe({ name: `p${i}`, check: () => {} }, { timeoutMs: 60_000 })),
    )
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    assert.equal(after, before)
  })
})
