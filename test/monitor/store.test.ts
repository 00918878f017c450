import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { MemoryStore, openStore, type SqliteStore, StoreError } from '../../src/monitor/store/index.js'
import type { CheckState, MonitorStore, Transition } from '../../src/monitor/types.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'

function state(check: string, overrides: Partial<CheckState> = {}): CheckState {
  return {
    pod: 'web',
    node: 'n1',
    check,
    id: `n1/web/${check}`,
    kind: 'http',
    target: 'http://127.0.0.1:1/_status',
    state: 'passing',
    output: 'ok',
    since: '2026-01-01T00:00:00.000Z',
    successes: 3,
    failures: 0,
    index: 1,
    ...overrides,
  }
}

/** Transitions are kept 30 days: test data is recent. */
const recent = (second: number) => new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000 + second * 1000).toISOString()

function transition(check: string, index: number, at: string, to: Transition['to'] = 'critical'): Transition {
  return { pod: 'web', node: 'n1', check, id: `n1/web/${check}`, from: 'passing', to, at, output: `t${index}`, index }
}

/** The behaviour every store shares. */
function storeContract(name: string, open: () => MonitorStore) {
  describe(`${name} store`, () => {
    it('keeps current states, replacing on save and dropping removed checks', () => {
      const store = open()
      try {
        store.saveStates([state('a'), state('b', { pod: 'api', id: 'n1/api/b' })])
        store.saveStates([state('a', { state: 'critical', failures: 2, successes: 0, index: 7 })])
        const loaded = store.loadStates().sort((x, y) => x.id.localeCompare(y.id))
        assert.deepEqual(
          loaded.map((s) => [s.id, s.state, s.failures, s.index]),
          [
            ['n1/api/b', 'passing', 0, 1],
            ['n1/web/a', 'critical', 2, 7],
          ],
        )
        store.removeStates(['n1/api/b'])
        assert.deepEqual(
          store.loadStates().map((s) => s.id),
          ['n1/web/a'],
        )
      } finally {
        store.close()
      }
    })

    it('lists the most recent transitions oldest first, filtered by check, pod and time', () => {
      const store = open()
      try {
        store.addTransitions([
          transition('a', 1, recent(1)),
          transition('b', 2, recent(2)),
          transition('a', 3, recent(3), 'passing'),
        ])
        assert.deepEqual(
          store.transitions({}).map((t) => t.index),
          [1, 2, 3],
        )
        assert.deepEqual(
          store.transitions({ id: 'n1/web/a' }).map((t) => t.index),
          [1, 3],
        )
        assert.deepEqual(
          store.transitions({ limit: 2 }).map((t) => t.index),
          [2, 3],
        )
        assert.deepEqual(
          store.transitions({ since: recent(2) }).map((t) => t.index),
          [2, 3],
        )
        assert.deepEqual(store.transitions({ pod: 'other' }), [])
      } finally {
        store.close()
      }
    })

    it('counts outcomes into minute buckets with the worst state and the mean duration', () => {
      const store = open()
      try {
        const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000
        const at = (offsetMs: number) => new Date(minute + offsetMs).toISOString()
        store.addSamples([
          { id: 'n1/web/a', at: at(1000), state: 'passing', durationMs: 10 },
          { id: 'n1/web/a', at: at(2000), state: 'critical', durationMs: 30 },
          { id: 'n1/web/a', at: at(61_000), state: 'passing', durationMs: 5, count: 4, passed: 4 },
        ])
        const points = store.history('n1/web/a')
        assert.deepEqual(points, [
          { at: at(0), state: 'critical', count: 2, passed: 1, durationMs: 20 },
          { at: at(60_000), state: 'passing', count: 4, passed: 4, durationMs: 5 },
        ])
        assert.equal(store.history('n1/web/a', { limit: 1 }).length, 1)
        assert.deepEqual(
          store.history('n1/web/a', { since: at(60_000) }).map((p) => p.count),
          [4],
        )
        assert.deepEqual(store.history('n1/web/other'), [])
      } finally {
        store.close()
      }
    })

    it('serves older history as hourly rollups', () => {
      const store = open()
      try {
        const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 10 * 3_600_000
        store.addSamples([
          { id: 'n1/web/a', at: new Date(hour + 60_000).toISOString(), state: 'passing', durationMs: 2 },
          { id: 'n1/web/a', at: new Date(hour + 30 * 60_000).toISOString(), state: 'warning', durationMs: 4 },
        ])
        assert.deepEqual(store.history('n1/web/a'), [
          { at: new Date(hour).toISOString(), state: 'warning', count: 2, passed: 1, durationMs: 3 },
        ])
      } finally {
        store.close()
      }
    })
  })
}

storeContract('memory', () => new MemoryStore())
storeContract('sqlite', () => openStore(`sqlite:${join(makeTempDir('store'), 'monitor.sqlite')}`))

describe('sqlite store', () => {
  it('keeps everything across a close and reopen, and opens read-only for inspect', () => {
    const file = join(makeTempDir('store'), 'm.sqlite')
    const first = openStore(`sqlite:${file}`)
    first.saveStates([state('a', { successes: 2, failures: 0 })])
    first.addTransitions([transition('a', 1, recent(1))])
    first.close()
    const readonly = openStore(`sqlite:${file}`, { readonly: true })
    try {
      assert.deepEqual(readonly.loadStates(), [state('a', { successes: 2, failures: 0 })])
      assert.equal(readonly.transitions({}).length, 1)
      assert.throws(() => readonly.saveStates([state('b')]), /read-only/)
    } finally {
      readonly.close()
    }
  })

  it('prunes minute buckets, rollups and transitions past their retention', () => {
    const file = join(makeTempDir('store'), 'm.sqlite')
    const store = openStore(`sqlite:${file}`, {
      retention: {
        minutesMs: 3_600_000,
        hoursMs: 48 * 3_600_000,
        transitionsMs: 24 * 3_600_000,
        transitionsPerCheck: 2,
      },
    }) as SqliteStore
    try {
      const now = Date.now()
      const ago = (ms: number) => new Date(now - ms).toISOString()
      store.addSamples([
        { id: 'n1/web/a', at: ago(72 * 3_600_000), state: 'passing' },
        { id: 'n1/web/a', at: ago(5 * 3_600_000), state: 'critical' },
        { id: 'n1/web/a', at: ago(0), state: 'passing' },
      ])
      store.addTransitions([
        transition('a', 1, ago(48 * 3_600_000)),
        transition('a', 2, ago(3000)),
        transition('a', 3, ago(2000)),
        transition('a', 4, ago(1000)),
      ])
      store.prune(now)
      assert.deepEqual(
        store.history('n1/web/a').map((p) => p.state),
        ['critical', 'passing'],
        'the 72-hour-old rollup is gone; the 5-hour-old one is served hourly, the recent minute as a minute',
      )
      assert.deepEqual(
        store.transitions({}).map((t) => t.index),
        [3, 4],
      )
      assert.equal(store.check(), 'ok')
    } finally {
      store.close()
    }
  })

  it('opens cleanly after the writing process is killed with SIGKILL mid-write', async () => {
    const file = join(makeTempDir('store'), 'killed.sqlite')
    const writer = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, '../fixtures/monitor/store-writer.ts'), file],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    writer.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    try {
      await waitFor('the writer to commit its first batch', () => out.includes('writing'), 30_000)
      await sleep(400)
    } finally {
      writer.kill('SIGKILL')
    }
    await new Promise((r) => writer.once('exit', r))
    const store = openStore(`sqlite:${file}`) as SqliteStore
    try {
      assert.equal(store.check(), 'ok')
      const states = store.loadStates()
      assert.equal(states.length, 200, 'every committed batch is whole')
      const transitions = store.transitions({ limit: 1_000_000 })
      assert.ok(
        transitions.length >= 200 && transitions.length % 200 === 0,
        `${transitions.length} transitions, whole batches`,
      )
      // And it keeps working.
      store.saveStates([state('after')])
      assert.ok(store.loadStates().some((s) => s.check === 'after'))
    } finally {
      store.close()
    }
  })
})

describe('openStore', () => {
  it('explains a store it cannot open in one sentence', () => {
    const dir = makeTempDir('store')
    const notADb = join(dir, 'notes.txt')
    writeFileSync(notADb, 'this is not a database, just some text that is long enough to have a header'.repeat(20))
    const cases: [string, { readonly?: boolean }, RegExp][] = [
      ['postgres://x', {}, /^--store "postgres:\/\/x" is not a store; use sqlite:FILE \(e\.g\. .*\) or memory$/],
      [
        'sqlite:/nonexistent/dir/m.sqlite',
        {},
        /^cannot create the store .*: the directory \/nonexistent\/dir does not exist; create it or choose another path$/,
      ],
      [`sqlite:${notADb}`, {}, /is not a SQLite database; point --store at a probekit store or a new file$/],
      [
        `sqlite:${join(dir, 'missing.sqlite')}`,
        { readonly: true },
        /^there is no store at .*missing\.sqlite; start "probekit monitor --store sqlite:.*" first, or fix the path$/,
      ],
      ['memory', { readonly: true }, /a memory store keeps nothing to read/],
    ]
    for (const [spec, options, expected] of cases) {
      assert.throws(
        () => openStore(spec, options),
        (error: unknown) => error instanceof StoreError && expected.test(error.message),
        spec,
      )
    }
  })
})
