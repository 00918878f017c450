/**
 * A (re)load of a large fleet lets the event loop run while it parses the manifests and
 * prepares the checks (src/monitor/manifest.ts `readManifests`, monitor.ts `applyLoad`), and
 * changes the monitor's checks at once when it is done: a reader in between sees the
 * checks before the load, never half of it.
 *
 * The slices are timed with `performance.now()`; these tests make every call to it a slice
 * later, so that every pause yields, whatever the speed of the machine. A turn of the event
 * loop alone says nothing (waiting for a file read takes many); what they count is the
 * points of the work, told apart by the clock readings made so far, at which turns ran.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { readManifests } from '../../src/monitor/manifest.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import { makeTempDir } from '../support/server-process.js'

/** `pods` pods of `checks` push checks each, one YAML document per pod. */
function fleet(pods: number, checks: number, suffix = ''): string {
  const docs: string[] = []
  for (let p = 0; p < pods; p++) {
    const lines = [`id: pod-${p}`, 'node: n1', 'checks:']
    for (let c = 0; c < checks; c++) lines.push(`  - { name: c${c}${suffix}, type: push, period: 1h }`)
    docs.push(lines.join('\n'))
  }
  return `${docs.join('\n---\n')}\n`
}

/** Clock readings so far (see the stub below). */
let readings = 0

/**
 * Runs `onTurn` on every turn of the event loop (setImmediate) until `stop()`, which
 * returns at how many points of the work (clock readings made so far) turns ran.
 */
function watchTurns(onTurn: () => void = () => {}): { stop(): number } {
  const points = new Set<number>()
  let stopped = false
  const turn = () => {
    if (stopped) return
    points.add(readings)
    onTurn()
    setImmediate(turn)
  }
  setImmediate(turn)
  return {
    stop() {
      stopped = true
      return points.size
    },
  }
}

describe('loading a fleet in slices', () => {
  const realNow = performance.now
  let file: string
  beforeEach(() => {
    file = join(makeTempDir('load-slices'), 'fleet.yaml')
    // Every reading of the clock is 50 ms after the one before: every pause is due.
    let fake = realNow.call(performance)
    performance.now = () => {
      readings++
      fake += 50
      return fake
    }
  })
  afterEach(() => {
    performance.now = realNow
  })

  it('readManifests lets the event loop run between pods', async () => {
    writeFileSync(file, fleet(40, 3))
    const turns = watchTurns()
    const pods = await readManifests([file])
    assert.equal(pods.length, 40)
    assert.ok(turns.stop() >= 40, 'a turn of the event loop between every two pods')
    assert.deepEqual(
      pods.map((p) => p.id),
      Array.from({ length: 40 }, (_, i) => `pod-${i}`),
    )
  })

  it('a reload changes the checks at once, after the turns it lets run', async () => {
    writeFileSync(file, fleet(10, 5))
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      const before = monitor.states().map((s) => s.id)
      assert.equal(before.length, 50)
      const indexBefore = monitor.index

      // Every check renamed: a reader during the reload sees all old checks or all new ones.
      writeFileSync(file, fleet(10, 5, '-new'))
      const seen: string[][] = []
      const turns = watchTurns(() => seen.push(monitor.states().map((s) => s.id)))
      await monitor.reload()
      assert.ok(turns.stop() >= 50 + 10, 'turns while the checks were prepared and the pods parsed')
      const after = monitor.states().map((s) => s.id)
      assert.equal(after.length, 50)
      assert.ok(after.every((id) => id.endsWith('-new')))
      assert.ok(monitor.index > indexBefore)
      for (const ids of seen) assert.ok(ids.join() === before.join() || ids.join() === after.join(), ids.join())
      assert.ok(
        seen.some((ids) => ids.join() === before.join()),
        'readers during the reload saw the checks before it',
      )
    } finally {
      await monitor.stop()
    }
  })

  it('a stop during a reload ends it before it changes anything', async () => {
    writeFileSync(file, fleet(10, 5))
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    await monitor.load([file])
    monitor.start()
    const before = monitor.states().map((s) => s.id)
    const indexBefore = monitor.index
    writeFileSync(file, fleet(10, 5, '-new'))
    let stopped: Promise<void> | undefined
    const turns = watchTurns(() => {
      // Once the reload is past reading the file (its first clock reading).
      if (readings > 0 && !stopped) stopped = monitor.stop()
    })
    readings = 0
    await monitor.reload()
    turns.stop()
    assert.ok(stopped, 'the stop came during the reload')
    await stopped
    assert.deepEqual(
      monitor.states().map((s) => s.id),
      before,
    )
    assert.equal(monitor.index, indexBefore)
  })

  it('a stop during the parse of a large fleet ends the load at the next pause, not after every pod', async () => {
    writeFileSync(file, fleet(3, 1))
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    await monitor.load([file])
    monitor.start()
    const before = monitor.states().map((s) => s.id)
    writeFileSync(file, fleet(400, 1, '-new'))
    let stopped: Promise<void> | undefined
    let readingsAtStop = 0
    const turns = watchTurns(() => {
      if (readings > 0 && !stopped) {
        readingsAtStop = readings
        stopped = monitor.stop()
      }
    })
    readings = 0
    await monitor.reload()
    const readingsAtEnd = readings
    turns.stop()
    assert.ok(stopped, 'the stop came during the parse')
    await stopped
    // One clock reading a pod while parsing: the load ended a pause after the stop, with
    // nearly all of the 400 pods unread.
    assert.ok(readingsAtEnd - readingsAtStop <= 3, `${readingsAtEnd - readingsAtStop} readings after the stop`)
    assert.deepEqual(
      monitor.states().map((s) => s.id),
      before,
    )
  })

  it('readManifests with an aborted signal rejects with its reason and reads nothing', async () => {
    writeFileSync(file, fleet(2, 1))
    const controller = new AbortController()
    controller.abort(new Error('stopping'))
    await assert.rejects(readManifests([file], {}, { signal: controller.signal }), /^Error: stopping$/)
  })

  it('a bad manifest found late in a sliced load changes nothing', async () => {
    writeFileSync(file, fleet(10, 5))
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    try {
      await monitor.load([file])
      const before = monitor.states().map((s) => s.id)
      writeFileSync(file, `${fleet(9, 5, '-new')}---\nid: pod-9\nnode: n1\nchecks:\n  - { name: broken, type: nope }\n`)
      await assert.rejects(monitor.reload(), /fleet\.yaml:\d+/)
      assert.deepEqual(
        monitor.states().map((s) => s.id),
        before,
      )
    } finally {
      await monitor.stop()
    }
  })
})
