import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { formatAge } from '../core/age.js'
import { NotReady } from '../core/errors.js'
import type { Probe, ProbeOptions } from '../core/types.js'

export interface FileProbeOptions extends ProbeOptions {
  /** Check name. Default `file`. */
  name?: string
  /** The file must have been modified within this many ms (e.g. a heartbeat file). */
  maxAge?: number
  /** Fail when `path` is a directory or anything else but a regular file. Default false: any path that exists. */
  regularFile?: boolean
}

/**
 * Passes when `path` exists and, with `maxAge`, was modified within the last `maxAge` ms —
 * the check for heartbeat and readiness files that workers touch. Observed value: the
 * file's age in ms.
 *
 * @example
 * health.add(file('/tmp/worker-alive', { maxAge: 60_000 }), { groups: ['live'] })
 */
export function file(path: string, options: FileProbeOptions = {}): Probe {
  if (typeof path !== 'string' || path === '') throw new TypeError('file(path): path must be a file path')
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
      if (regularFile && !stats.isFile()) throw new NotReady(`file ${path} is not a file`)
      // A clock step or a file touched from another host can put mtime in the future: age 0.
      const ageMs = Math.max(0, Date.now() - stats.mtimeMs)
      if (maxAge !== undefined && ageMs > maxAge) {
        throw new NotReady(`file ${path} is stale: modified ${formatAge(ageMs)} ago, more than ${formatAge(maxAge)}`)
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
