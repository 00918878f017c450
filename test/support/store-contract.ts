/** The store contract: fixtures and the tests every `MonitorStore` must pass. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Retention } from '../../src/monitor/store/retention.js'
import type { CheckState, MonitorStore, Silence, Transition } from '../../src/monitor/types.js'

export function state(check: string, overrides: Partial<CheckState> = {}): CheckState {
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
export const recent = (second: number) =>
  new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000 + second * 1000).toISOString()

export function transition(
  check: string,
  index: number,
  at: string = new Date(Date.now() - 60_000 + index * 10).toISOString(),
  to: Transition['to'] = 'critical',
): Transition {
  return { pod: 'web', node: 'n1', check, id: `n1/web/${check}`, from: 'passing', to, at, output: `t${index}`, index }
}

/** A silence of pod `web` ending `endsInMs` from now (negative: ended that long ago). */
export function silence(id: string, endsInMs: number, overrides: Partial<Silence> = {}): Silence {
  const now = Date.now()
  return {
    id,
    pod: 'web',
    startsAt: new Date(Math.min(now, now + endsInMs) - 3_600_000).toISOString(),
    endsAt: new Date(now + endsInMs).toISOString(),
    comment: `why ${id}`,
    author: 'ana',
    createdAt: new Date(Math.min(now, now + endsInMs) - 3_600_000).toISOString(),
    ...overrides,
  }
}

/** What a store can be opened with for a contract test. */
export interface ContractOptions {
  retention?: Partial<Retention>
}

/** A store that closes asynchronously (etcd's flushes and revokes its lease) is awaited. */
async function closeStore(store: MonitorStore): Promise<void> {
  const shutdown = (store as { shutdown?: () => Promise<void> }).shutdown
  if (shutdown) await shutdown.call(store)
  else store.close()
}

/**
 * The behaviour every store shares: memory and SQLite (test/monitor/store.test.ts) and etcd
 * (test/monitor/etcd-store.test.ts) run these same tests.
 */
export function storeContract(
  name: string,
  open: (options?: ContractOptions) => MonitorStore | Promise<MonitorStore>,
): void {
  describe(`${name} store`, () => {
    it('keeps current states, replacing on save and dropping removed checks', async () => {
      const store = await open()
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
        await closeStore(store)
      }
    })

    it("keeps every field of a state, a TLS check's certificate facts too", async () => {
      const store = await open()
      try {
        const tls = state('tls', {
          target: 'https://127.0.0.1:1/_status',
          state: 'warning',
          output: 'certificate CN=api.example expires in 3 days (2026-12-07T10:00:00Z)\nHTTP GET …: 200 OK',
          checkedAt: '2026-01-01T00:00:01.000Z',
          durationMs: 12.5,
          httpStatus: 200,
          sslEarliestExpiry: 1_796_637_600,
          sslSubject: 'CN=api.example',
        })
        store.saveStates([tls])
        assert.deepEqual(
          store.loadStates().find((s) => s.id === tls.id),
          tls,
        )
      } finally {
        await closeStore(store)
      }
    })

    it('lists the most recent transitions oldest first, filtered by check, pod and time', async () => {
      const store = await open()
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
        await closeStore(store)
      }
    })

    it("keeps at most the documented 1,000 newest transitions of a check flooded with 50,000, and the other checks' too", async () => {
      const store = await open()
      try {
        const base = Date.now() - 3_600_000
        store.addTransitions([transition('quiet', 1, new Date(base).toISOString())])
        const batch = 100
        let index = 0
        for (let b = 0; b < 50_000 / batch; b++) {
          const transitions: Transition[] = []
          for (let i = 0; i < batch; i++) {
            index++
            const t = transition(
              'flood',
              index,
              new Date(base + index).toISOString(),
              index % 2 ? 'critical' : 'passing',
            )
            transitions.push({
              ...t,
              from: index % 2 ? 'passing' : 'critical',
              output: `flood ${index} ${'x'.repeat(200)}`,
            })
          }
          store.addTransitions(transitions)
          // Bounded after every write, not only when a pruner comes round.
          const kept = store.transitions({ id: 'n1/web/flood', limit: 1_000_000 }).length
          if (kept > 1000 + batch)
            assert.fail(`after batch ${b + 1}, ${kept} transitions of the flooded check are kept`)
        }
        const flood = store.transitions({ id: 'n1/web/flood', limit: 1_000_000 })
        assert.ok(flood.length >= 1000 && flood.length <= 1000 + batch, `${flood.length} kept`)
        assert.equal(flood.at(-1)?.index, 50_000, 'the newest is kept')
        assert.deepEqual(
          flood.map((t) => t.index),
          Array.from({ length: flood.length }, (_, i) => 50_000 - flood.length + 1 + i),
          'the newest, in order',
        )
        assert.deepEqual(
          store.transitions({ id: 'n1/web/quiet' }).map((t) => t.index),
          [1],
          'the quiet check keeps its transition',
        )
        assert.ok(store.transitions({ limit: 1_000_000 }).length <= 1001 + batch)
      } finally {
        await closeStore(store)
      }
    })

    it('counts outcomes into minute buckets with the worst state and the mean duration', async () => {
      const store = await open()
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
        await closeStore(store)
      }
    })

    it('keeps silences: adds them, replaces one by its id (an expiry), and reads them all back', async () => {
      const store = await open()
      try {
        assert.ok(store.saveSilence && store.loadSilences, `the ${name} store keeps silences`)
        const pod = silence('s-pod', 3_600_000)
        const check = silence('s-check', 7_200_000, { node: 'n1', check: 'db', author: '' })
        await store.saveSilence(pod)
        await store.saveSilence(check)
        const ended = { ...pod, endsAt: new Date().toISOString() }
        await store.saveSilence(ended)
        const byId = (a: Silence, b: Silence) => a.id.localeCompare(b.id)
        assert.deepEqual(store.loadSilences().sort(byId), [check, ended])
        // Copies: changing what was read changes nothing stored.
        const read = store.loadSilences().find((s) => s.id === 's-check') as Silence
        read.comment = 'changed'
        assert.equal(store.loadSilences().find((s) => s.id === 's-check')?.comment, 'why s-check')
      } finally {
        await closeStore(store)
      }
    })

    it('drops silences a week after they ended, and beyond the count those that end first', async () => {
      const store = await open({ retention: { maxSilences: 3 } })
      try {
        assert.ok(store.saveSilence && store.loadSilences)
        const day = 24 * 3_600_000
        await store.saveSilence(silence('ended-8-days-ago', -8 * day))
        assert.deepEqual(store.loadSilences(), [], 'a silence that ended more than a week ago is not kept')
        await store.saveSilence(silence('ended-yesterday', -day))
        for (const hours of [1, 2, 3]) await store.saveSilence(silence(`ends-in-${hours}h`, hours * 3_600_000))
        assert.deepEqual(
          store
            .loadSilences()
            .map((s) => s.id)
            .sort(),
          ['ends-in-1h', 'ends-in-2h', 'ends-in-3h'],
        )
      } finally {
        await closeStore(store)
      }
    })

    it('serves older history as hourly rollups', async () => {
      const store = await open()
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
        await closeStore(store)
      }
    })
  })
}
