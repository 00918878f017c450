/**
 * stdout for `probekit check`, written with `fs.writeSync` on descriptor 1. The first use of
 * `process.stdout` builds a stream around the descriptor (a module or two, ~1.5 MB of
 * memory), which a health check running every few seconds would pay on every start; and
 * a write that returned has reached the pipe or file, so the process may exit at once.
 */
import { writeSync } from 'node:fs'

/** Whether a write had to go through `process.stdout` (a non-blocking pipe that was full). */
let viaStream = false

/**
 * Writes `text` to stdout before returning. A non-blocking descriptor that is full
 * (EAGAIN) hands the rest to `process.stdout`, which waits for the reader; a reader that
 * is gone (EPIPE) or a closed descriptor drops the text: the exit status still tells.
 */
export function writeStdout(text: string): void {
  let rest = Buffer.from(text)
  if (!viaStream) {
    try {
      while (rest.length > 0) rest = rest.subarray(writeSync(1, rest))
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return
      viaStream = true
    }
  }
  process.stdout.write(rest)
}

/** Exits with `code` now, or once `process.stdout` has passed on what `writeStdout` handed it. */
export function exitAfterStdout(code: number): void {
  if (viaStream) process.stdout.write('', () => process.exit(code))
  else process.exit(code)
}
