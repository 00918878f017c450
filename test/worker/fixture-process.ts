/** Starts the worker fixtures (test/fixtures/worker-*.ts) as real child processes. */
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { ManagedProcess } from '../support/server-process.js'

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** Spawns `node --import tsx test/fixtures/<file> …args` and resolves once it printed `readyLine`. */
export async function startFixture(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyLine: string | ((output: string) => boolean),
): Promise<ManagedProcess> {
  const isReady = typeof readyLine === 'string' ? (out: string) => out.includes(readyLine) : readyLine
  const proc: ManagedProcess = new ManagedProcess(
    file,
    process.execPath,
    ['--import', 'tsx', `${fixtures}${file}`, ...args],
    { env, ready: (): boolean => isReady(proc.recentOutput), readyTimeoutMs: 30_000 },
  )
  return proc.start()
}

/** Resolves with how the process ended (at most `timeoutMs` from now). */
export async function exitOf(
  proc: ManagedProcess,
  timeoutMs = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = proc.child
  if (!child) throw new Error('the fixture never started')
  if (child.exitCode === null && child.signalCode === null) {
    await Promise.race([
      once(child, 'exit'),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${proc.name} did not exit within ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ])
  }
  return { code: child.exitCode, signal: child.signalCode }
}
