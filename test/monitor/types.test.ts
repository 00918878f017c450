import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { sortStates } from '../../src/monitor/inspect.js'
import {
  compareChecks,
  HEALTH_STATES,
  STATE_RANK,
  stateOfRank,
  stateOfStatus,
  stateRank,
} from '../../src/monitor/types.js'

describe("the monitor's states", () => {
  it("turns core's statuses into Consul's states at one place: warn stays warning", () => {
    assert.deepEqual((['pass', 'warn', 'fail'] as const).map(stateOfStatus), ['passing', 'warning', 'critical'])
  })

  it('ranks passing < unknown < warning < critical, and reads every rank back', () => {
    const bySeverity = [...HEALTH_STATES].sort((a, b) => stateRank(a) - stateRank(b))
    assert.deepEqual(bySeverity, ['passing', 'unknown', 'warning', 'critical'])
    for (const state of HEALTH_STATES) assert.equal(stateOfRank(stateRank(state)), state)
    assert.equal(stateOfRank(99), 'unknown')
  })

  it("ships the same ranking to the dashboard's script", () => {
    const script = readFileSync(new URL('../../src/monitor/dashboard/assets/dashboard.js', import.meta.url), 'utf8')
    const literal = /const RANK = (\{[^}]*\})/.exec(script)?.[1]
    assert.ok(literal, 'dashboard.js declares const RANK = { … }')
    const shipped = JSON.parse(literal.replace(/(\w+):/g, '"$1":')) as Record<string, number>
    assert.deepEqual(shipped, { ...STATE_RANK })
  })

  it("orders checks by pod, node, then check with p2's health_check first, everywhere", () => {
    const keys = [
      { pod: 'web', node: 'b', check: 'db' },
      { pod: 'api', node: 'a', check: 'queue' },
      { pod: 'web', node: 'a', check: 'db' },
      { pod: 'web', node: 'a', check: 'health_check' },
      { pod: 'api', node: 'a', check: 'health_check' },
    ]
    const expected = ['api/a/health_check', 'api/a/queue', 'web/a/health_check', 'web/a/db', 'web/b/db']
    const ids = (list: typeof keys) => list.map((k) => `${k.pod}/${k.node}/${k.check}`)
    assert.deepEqual(ids([...keys].sort(compareChecks)), expected)
    assert.deepEqual(ids(sortStates([...keys])), expected)
  })
})
