import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { reasonOf } from '../core/errors.js'
import { nonEmptyString, optionKeys, rejectUnknownKeys } from '../core/options.js'
import { signalList } from '../core/signals.js'
import { DEFAULT_READINESS_FILE } from './defaults.js'
import { notAFile } from './touch.js'

export interface ReadinessFileOptions {
  /** The readiness file. Default `/tmp/probekit-worker.ready`. */
  file?: string
  /**
   * Signals on which the file is removed as soon as they arrive, before the app's own
   * handlers run. Default `['SIGTERM', 'SIGINT']`; `[]` to leave signals alone.
   */
  signals?: readonly NodeJS.Signals[]
}

const READINESS_OPTION_KEYS = optionKeys<ReadinessFileOptions>()({ file: true, signals: true })

/** A readiness file: it exists exactly while the worker is ready to take work. */
export interface ReadinessFile {
  readonly file: string
  readonly isReady: boolean
  /** Creates the file (its content is the process id). */
  ready(): void
  /** Removes the file. */
  notReady(): void
  /** Removes the file and detaches the exit and signal hooks. */
  close(): void
}

/**
 * Creates a readiness file handle. The file is created by `ready()` and removed by
 * `notReady()`, `close()`, on process exit (`process.exit()`, an uncaught exception, the
 * event loop running dry) and when SIGTERM or SIGINT arrives — everything where the process
 * can still act. Only SIGKILL (and the OOM killer) leave it behind, so a leftover file from
 * an earlier run is removed right here, before this run is ready.
 *
 * The signal hook never swallows the app's own signal handling: it removes the file and
 * steps aside. If nothing else listens for the signal, it re-raises it so the process
 * terminates exactly as it would have without probekit.
 *
 * @example
 * import { createReadinessFile } from 'probekit/worker'
 *
 * const readiness = createReadinessFile({ file: '/tmp/worker.ready' })
 * await connectToEverything()
 * readiness.ready()
 * // health check: probekit worker --skip-ping --skip-event-loop-liveness --no-skip-readiness --readiness-file /tmp/worker.ready
 */
export function createReadinessFile(options: ReadinessFileOptions = {}): ReadinessFile {
  rejectUnknownKeys('createReadinessFile', options, READINESS_OPTION_KEYS)
  const file = nonEmptyString(
    options.file,
    DEFAULT_READINESS_FILE,
    'createReadinessFile: file',
    "a file path, e.g. '/tmp/worker.ready'",
  )
  const signals = signalList('createReadinessFile', options.signals, ['SIGTERM', 'SIGINT'])
  removeLeftover(file)
  let isReady = false
  let closed = false

  const entry: Registered = {
    signals,
    remove() {
      if (!isReady) return
      isReady = false
      try {
        rmSync(file, { force: true })
      } catch {
        // At exit there is no one left to tell; the health check will see the file.
      }
    },
  }
  register(entry)

  return {
    file,
    get isReady() {
      return isReady
    },
    ready() {
      if (closed) throw new Error(`the readiness file ${file} was closed; create a new one with createReadinessFile`)
      try {
        mkdirSync(dirname(file), { recursive: true })
        writeFileSync(file, `${process.pid}\n`)
      } catch (error) {
        // writeFileSync creates the file before it writes: on a full disk an empty file would
        // stay, and the check, which asks only that it exists, would count the worker ready.
        const kind = notAFile(file)
        if (!kind) {
          try {
            rmSync(file, { force: true })
            isReady = false
          } catch {}
        }
        if (kind)
          throw new Error(`${CANNOT_CREATE} ${file}: it is ${kind}, not a file; remove it, or give another path`)
        throw error
      }
      isReady = true
    },
    notReady() {
      entry.remove()
    },
    close() {
      entry.remove()
      if (closed) return
      closed = true
      unregister(entry)
    },
  }
}

/** How an error of `ready()` that says what is wrong with the file begins. */
export const CANNOT_CREATE = 'cannot create the readiness file'

/**
 * Removes a readiness file left by a SIGKILLed predecessor: it would claim readiness this run
 * has not earned. A directory at the path, or a file where its directory should be, claims
 * nothing (the health check counts only a regular file) and is left for `ready()` to report,
 * as a file it cannot write is: it must not stop the worker from starting. A leftover that
 * cannot be removed is an error, in one sentence.
 */
function removeLeftover(file: string): void {
  try {
    rmSync(file, { force: true })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'ERR_FS_EISDIR') return
    throw new Error(
      `cannot remove the readiness file ${file} left by an earlier run (${reasonOf(error)}); the health check would count this worker ready before it is: remove the file, or give a path the worker can write`,
    )
  }
}

interface Registered {
  signals: readonly NodeJS.Signals[]
  remove(): void
}

// One exit hook and one hook per signal for all readiness files of the process, so the
// "is anyone else handling this signal?" question has one answer.
const registered = new Set<Registered>()
const signalHooks = new Map<NodeJS.Signals, (signal: NodeJS.Signals) => void>()

function onExit(): void {
  for (const entry of registered) entry.remove()
}

function register(entry: Registered): void {
  if (registered.size === 0) process.on('exit', onExit)
  registered.add(entry)
  for (const signal of entry.signals) {
    if (signalHooks.has(signal)) continue
    const hook = (received: NodeJS.Signals) => {
      for (const e of registered) if (e.signals.includes(received)) e.remove()
      // Prepended, so every other listener is still counted here (even `once` ones).
      // Alone, we must not keep the process alive: restore the default and re-raise.
      if (process.listenerCount(received) === 1) {
        removeSignalHook(received)
        process.kill(process.pid, received)
      }
    }
    signalHooks.set(signal, hook)
    process.prependListener(signal, hook)
  }
}

function unregister(entry: Registered): void {
  registered.delete(entry)
  for (const signal of entry.signals) {
    if (![...registered].some((e) => e.signals.includes(signal))) removeSignalHook(signal)
  }
  if (registered.size === 0) process.removeListener('exit', onExit)
}

function removeSignalHook(signal: NodeJS.Signals): void {
  const hook = signalHooks.get(signal)
  if (!hook) return
  process.removeListener(signal, hook)
  signalHooks.delete(signal)
}
