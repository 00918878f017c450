/**
 * SIGSTOP is delivered asynchronously: on a busy (virtual) machine a thread of the target
 * can still run, and answer, for a moment after kill() returns. Tests that prove "fails
 * while frozen" wait until every thread of the process is really stopped.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { ManagedProcess } from './server-process.js'
import { waitFor } from './server-process.js'

/** Freezes `proc` and resolves once every one of its threads is in the stopped state. */
export async function freezeFully(proc: ManagedProcess): Promise<void> {
  proc.freeze()
  const pid = proc.pid
  if (!pid) throw new Error(`${proc.name} has no process to freeze`)
  await waitFor(`${proc.name} to be stopped`, () => allThreadsStopped(pid), 5000, 5)
}

function allThreadsStopped(pid: number): boolean {
  const threads = readdirSync(`/proc/${pid}/task`)
  return threads.every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    // The state is the field after the parenthesised command name: T = stopped.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T'
  })
}
