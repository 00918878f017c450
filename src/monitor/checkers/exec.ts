/**
 * Exec checks, as Consul runs script checks: exit 0 passes, 1 warns, anything else (or a
 * failure to start) fails — passing, warning and critical to the monitor. The command runs
 * in its own process group, which is killed as a whole at the deadline, so a hung script
 * never outlives its check; and once the command has exited, what it left running in the
 * group (`daemon &`, holding its stdout open) is killed after `EXIT_GRACE_MS`, so the check
 * ends with the command's exit status instead of waiting for the deadline.
 */

import { spawn } from 'node:child_process'
import type { Deadline } from '../../core/deadline.js'
import { redact, redactCut, type SecretSet } from '../../core/redact.js'
import type { ExecCheckSpec } from '../manifest.js'
import {
  type Checker,
  type CheckerResult,
  keepTail,
  type Learnt,
  MAX_OUTPUT_BYTES,
  runAttempt,
  type Verdict,
} from './checker.js'

/**
 * Ms the output pipes may stay open after the command exits: what a background process of
 * its own writes meanwhile is kept; then the group is killed and the pipes closed.
 */
const EXIT_GRACE_MS = 100

/** Builds the checker of one exec check. */
export function execChecker(spec: ExecCheckSpec, secrets?: SecretSet): Checker {
  const [file, ...args] = spec.shell ? ['/bin/sh', '-c', spec.command.join(' ')] : spec.command
  const attempt = (deadline: Deadline, partial: Learnt): Promise<Verdict> =>
    new Promise<Verdict>((resolve, reject) => {
      const signal = deadline.signal
      if (signal.aborted) return reject(signal.reason)
      const child = spawn(file as string, args, {
        cwd: spec.cwd,
        env: spec.env ? { ...process.env, ...spec.env } : process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: the deadline kills the script and everything it started.
        detached: true,
      })
      // Only the tail is kept: a chatty script costs at most twice the cap in memory.
      let kept: Buffer[] = []
      let keptBytes = 0
      let totalBytes = 0
      const collect = (chunk: Buffer) => {
        totalBytes += chunk.length
        kept.push(chunk)
        keptBytes += chunk.length
        if (keptBytes > 2 * MAX_OUTPUT_BYTES) {
          const joined = Buffer.concat(kept)
          kept = [joined.subarray(joined.length - MAX_OUTPUT_BYTES)]
          keptBytes = MAX_OUTPUT_BYTES
        }
      }
      // Redacted before the tail is cut to size; when older output was dropped, the kept
      // part starts at a cut, and whatever credential straddled it is masked too.
      const output = () => {
        const raw = Buffer.concat(kept).toString('utf8').trimEnd()
        const cut = totalBytes !== keptBytes
        const text = cut ? redactCut(raw, { start: true }, secrets) : redact(raw, secrets)
        return keepTail(text, MAX_OUTPUT_BYTES, cut ? totalBytes : undefined)
      }
      child.stdout?.on('data', collect)
      child.stderr?.on('data', collect)
      let grace: NodeJS.Timeout | undefined
      let exited = false
      const onAbort = () => {
        clearTimeout(grace)
        killGroup(child.pid, exited)
        child.stdout?.destroy()
        child.stderr?.destroy()
        partial.output = output()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      child.once('error', (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(new Error(`cannot run ${spec.target}: ${error.message}`))
      })
      // The command exited, but something it started may hold the pipes: 'close' (below)
      // comes when they are closed, by that process or after the grace.
      child.once('exit', () => {
        exited = true
        grace = setTimeout(() => {
          killGroup(child.pid, exited)
          child.stdout?.destroy()
          child.stderr?.destroy()
        }, EXIT_GRACE_MS)
      })
      child.once('close', (code, killedBy) => {
        clearTimeout(grace)
        signal.removeEventListener('abort', onAbort)
        const text = output()
        if (killedBy) return resolve({ status: 'fail', output: text || `killed by ${killedBy}` })
        const status = code === 0 ? 'pass' : code === 1 ? 'warn' : 'fail'
        resolve({ status, output: text || `exit status ${code}` })
      })
    })
  return {
    run(signal?: AbortSignal): Promise<CheckerResult> {
      return runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
    },
    async close() {},
  }
}

/**
 * SIGKILL to the command's process group, or to the command alone when it has no group
 * (yet); once it has exited (`exited`), to the group only: its pid, reaped, may be another
 * process's by then.
 */
function killGroup(pid: number | undefined, exited: boolean): void {
  if (!pid) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    if (exited) return
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}
