/**
 * Leak checks for probe fault tests: after many timed-out checks, the process must hold
 * no more sockets, timers or other handles than before.
 */
import { activeResources } from './faults.js'
import { sleep } from './server-process.js'

/**
 * Runs `work`, then waits (up to `settleMs`) for the handle counts to return to what they
 * were before, and throws with both counts when they do not. Closing a destroyed socket
 * takes a turn of the event loop, so an immediate comparison would be unfair.
 */
export async function expectNoLeakedResources(work: () => Promise<void>, settleMs = 3000): Promise<void> {
  await sleep(50)
  const before = activeResources()
  await work()
  const deadline = Date.now() + settleMs
  let after = activeResources()
  while (Date.now() < deadline) {
    if (!grew(before.byType, after.byType)) return
    await sleep(50)
    after = activeResources()
  }
  if (grew(before.byType, after.byType)) {
    throw new Error(`handles leaked: before ${JSON.stringify(before.byType)}, after ${JSON.stringify(after.byType)}`)
  }
}

function grew(before: Record<string, number>, after: Record<string, number>): boolean {
  return Object.entries(after).some(([type, count]) => count > (before[type] ?? 0))
}

/** Runs `count` checks, `parallel` at a time. */
export async function repeat(count: number, parallel: number, run: () => Promise<unknown>): Promise<void> {
  for (let done = 0; done < count; done += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - done) }, run))
  }
}
