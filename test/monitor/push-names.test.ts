// Push checks whose names read as reports (`fail`, `start`, an exit status): the whole path
// names the check when it can, so each is reachable, and no push lands on another check.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Fleet, getJson, startFleet } from '../support/monitor-fleet.js'

let fleet: Fleet

before(async () => {
  fleet = await startFleet({
    store: 'memory',
    manifests: () => ({
      'backup.yaml': [
        'id: backup',
        'node: n1',
        'checks:',
        '  - { name: fail, type: push, period: 1h }',
        '  - { name: start, type: push, period: 1h }',
        "  - { name: '3', type: push, period: 1h }",
        '',
      ].join('\n'),
      'other.yaml': 'id: other\nnode: n1\nchecks:\n  - { name: backup, type: push, period: 1h }\n',
    }),
  })
})

after(async () => {
  await fleet?.close()
})

const push = (path: string) => getJson(`${fleet.url}/v1/push/${path}`, { method: 'POST' })
const stateOf = (id: string) => fleet.monitor.states().find((s) => s.id === id)?.state

describe('push checks named like a report', () => {
  it('takes a whole path that names a push check as that check, in each of its forms', async () => {
    for (const [path, check] of [
      ['backup/fail', 'backup/fail'],
      ['n1/backup/start', 'n1/backup/start'],
      ['backup/3', 'backup/3'],
    ] as const) {
      const res = await push(path)
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`)
      assert.deepEqual(res.body, { ok: true, check, kind: 'success' }, path)
    }
    await fleet.waitForState('n1/backup/fail', 'passing')
    await fleet.waitForState('n1/backup/start', 'passing')
    await fleet.waitForState('n1/backup/3', 'passing')
    // Pod other's check backup was not touched by any of them.
    assert.equal(stateOf('n1/other/backup'), 'unknown')
  })

  it('reads a report after the whole name, and a report after another check by its own name', async () => {
    const failed = await push('backup/fail/fail')
    assert.deepEqual(failed.body, { ok: true, check: 'backup/fail', kind: 'fail' })
    await fleet.waitForState('n1/backup/fail', 'critical')
    const exit = await push('n1/backup/3/0')
    assert.deepEqual(exit.body, { ok: true, check: 'n1/backup/3', kind: 'success', exitStatus: 0 })
    const other = await push('other/backup/fail')
    assert.deepEqual(other.body, { ok: true, check: 'other/backup', kind: 'fail' })
    await fleet.waitForState('n1/other/backup', 'critical')
  })
})
