import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { formatAge } from '../core/age.js'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'

export interface FileProbeOptions extends ProbeOptions {
  /** Check name. Default `file`. */
  name?: string
  /** The file must have been modified within this many ms (e.g. a heartbeat file). */
  maxAge?: number
  /** Fail when `path` is a directory or anything else but a regular file. Default false: any path that exists. */
  regularFile?: boolean
}

const FILE_OPTION_KEYS = optionKeys<FileProbeOptions>()({
  name: true,
  maxAge: true,
  regularFile: true,
  ...PROBE_OPTIONS,
})

/**
 * How far in the future a file's modification time may be and the file still count as
 * fresh. The writer and the reader share a clock, so a small lead is only rounding (coarse
 * file-system timestamps, a touch landing just after the reader took the time). A larger
 * one means the clock stepped back or something else dated the file; read as age 0, a
 * heartbeat dated an hour ahead would pass for an hour whatever the worker does.
 */
export const FUTURE_TOLERANCE_MS = 2000

/**
 * Why a file modified `ageMs` ago cannot count as fresh because it is dated in the future
 * (`ageMs` below -FUTURE_TOLERANCE_MS), or undefined. The file probe's `maxAge` and
 * `probekit worker` both judge by it.
 */
export function futureDated(ageMs: number): string | undefined {
  if (ageMs >= -FUTURE_TOLERANCE_MS) return undefined
  return `is dated ${formatAge(-ageMs)} in the future; the clock stepped back or something else wrote it`
}

/**
 * Passes when `path` exists and, with `maxAge`, was modified within the last `maxAge` ms —
 * the check for heartbeat and readiness files that workers touch; with `maxAge`, a file
 * dated more than FUTURE_TOLERANCE_MS in the future fails too. Observed value: the file's
 * age in ms (negative for a file dated in the future).
 *
 * @example
 * health.add(file('/tmp/worker-alive', { maxAge: 60_000 }), { groups: ['live'] })
 */
export function file(pathOrUrl: string | URL, options: FileProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('file', pathOrUrl, 'path'), options, FILE_OPTION_KEYS)
  const path = localPath(pathOrUrl)
  const { name = 'file', maxAge, regularFile = false, ...probeOptions } = options
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0)) {
    throw new TypeError(`file ${path}: maxAge must be a positive number of ms, got ${String(maxAge)}`)
  }
  return {
    componentType: 'system',
    ...probeOptions,
    name,
    check: async ({ signal }) => {
      let stats: Stats
      try {
        stats = await stat(path)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotReady(`file ${path} does not exist`)
        throw new NotReady(`file ${path}: ${(error as Error).message}`)
      }
      if (signal.aborted) throw signal.reason
      if (regularFile && !stats.isFile())
        throw new NotReady(`file ${path} is ${stats.isDirectory() ? 'a directory, ' : ''}not a file`)
      // Negative when the file is dated in the future (a clock step, another host's touch).
      const ageMs = Date.now() - stats.mtimeMs
      if (maxAge !== undefined) {
        const ahead = futureDated(ageMs)
        if (ahead) throw new NotReady(`file ${path} ${ahead}`)
        if (ageMs > maxAge) {
          throw new NotReady(`file ${path} is stale: modified ${formatAge(ageMs)} ago, more than ${formatAge(maxAge)}`)
        }
      }
      return {
        message: maxAge === undefined ? `${path} exists` : `${path} modified ${formatAge(ageMs)} ago`,
        observedValue: Math.round(ageMs),
        observedUnit: 'ms',
        componentId: path,
      }
    },
  }
}

/**
 * The path to stat: a path as it is, or a `file:` URL (string or URL object), as
 * `probekit check file:///…` and `sqlite('file:…')` take it. Read as a path, the URL named a
 * file that never exists, and the check failed with "does not exist" for good.
 */
function localPath(pathOrUrl: string | URL): string {
  const isUrl = pathOrUrl instanceof URL || (typeof pathOrUrl === 'string' && /^file:/i.test(pathOrUrl))
  if (!isUrl) {
    if (typeof pathOrUrl !== 'string' || pathOrUrl === '') {
      throw new TypeError('file(path): path must be a file path or a file:// URL')
    }
    return pathOrUrl
  }
  try {
    return fileURLToPath(pathOrUrl)
  } catch {
    throw new TypeError(
      `file(${JSON.stringify(String(pathOrUrl))}): not a local file URL; write file:///absolute/path, or the path itself`,
    )
  }
}
