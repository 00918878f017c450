import { closeSync, mkdirSync, openSync, type Stats, statSync, utimesSync } from 'node:fs'
import { dirname } from 'node:path'
import { reasonOf } from '../core/errors.js'
import { type Logger, writeLog } from '../core/logger.js'

/**
 * Sets a file's modification time to now, creating it (and its directory) if needed.
 * Synchronous on purpose: the heartbeat must prove that the main event loop itself ran,
 * not that a thread-pool worker did. Throws for a directory (or anything but a regular
 * file) at the path: it would take the new time, and the health check, which counts only
 * a regular file, would fail it with nothing said here.
 */
export function touchFile(file: string): void {
  const now = new Date()
  try {
    utimesSync(file, now, now)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    mkdirSync(dirname(file), { recursive: true })
    closeSync(openSync(file, 'a'))
    utimesSync(file, now, now)
    return
  }
  const kind = notAFile(file)
  if (kind) throw new Error(`it is ${kind}, not a file`)
}

/** What is at `path` when it is not a regular file (`a directory`), or undefined (also when nothing is). */
export function notAFile(path: string): string | undefined {
  let stats: Stats | undefined
  try {
    stats = statSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined // ENOTDIR, EACCES: nothing this can name; the caller's own error says it
  }
  if (!stats || stats.isFile()) return undefined
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a named pipe'
  if (stats.isSocket()) return 'a socket'
  return 'a device'
}

/**
 * A function that touches `file` and never throws: a failure (a full disk, a read-only
 * mount, a directory in its place) is logged once per run of failures, with what it means
 * for the health check.
 */
export function fileToucher(file: string, what: string, logger: Logger | false | undefined): () => void {
  let failing = false
  return () => {
    try {
      touchFile(file)
      if (failing) writeLog(logger, 'info', `probekit: the ${what} file ${file} is being updated again`, { file })
      failing = false
    } catch (error) {
      if (!failing) {
        const reason = reasonOf(error)
        writeLog(
          logger,
          'warn',
          `probekit: cannot touch the ${what} file ${file}: ${reason}; the worker's health check will report it stale`,
          { file, reason },
        )
      }
      failing = true
    }
  }
}
