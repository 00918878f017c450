import { statfs } from 'node:fs/promises'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS, probeCall } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { formatBytes, formatPercent, parseSize, type Size } from './bytes.js'

export interface DiskProbeOptions extends ProbeOptions {
  /** Check name. Default `disk`. */
  name?: string
  /**
   * Free space below which the check fails: bytes, a size (`'500MB'`, `'2Gi'`) or a
   * percentage of the file system (`'10%'`). Default `'5%'`.
   */
  minFree?: Size
}

const DISK_OPTION_KEYS = optionKeys<DiskProbeOptions>()({ name: true, minFree: true, ...PROBE_OPTIONS })

/**
 * Passes while the file system holding `path` has at least `minFree` available (the space
 * an unprivileged process may use, as `df` shows it). Observed value: free bytes.
 *
 * @example
 * health.add(disk('/var/lib/app', { minFree: '1GB' }))
 */
export function disk(path = '/', options: DiskProbeOptions = {}): Probe {
  checkProbeOptions(probeCall('disk', path, 'path'), options, DISK_OPTION_KEYS)
  if (typeof path !== 'string' || path === '') throw new TypeError('disk(path): path must be a directory or file path')
  const { name = 'disk', minFree = '5%', ...probeOptions } = options
  const threshold = parseSize(minFree, `disk ${path}: minFree`)
  return {
    componentType: 'system',
    ...probeOptions,
    name,
    check: async ({ signal }) => {
      let stats: Awaited<ReturnType<typeof statfs>>
      try {
        stats = await statfs(path)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') throw new NotReady(`disk ${path}: no such file or directory`)
        throw new NotReady(`disk ${path}: ${(error as Error).message}`)
      }
      if (signal.aborted) throw signal.reason
      const free = Number(stats.bavail) * Number(stats.bsize)
      const total = Number(stats.blocks) * Number(stats.bsize)
      const percent = total > 0 ? (free / total) * 100 : 0
      const summary = `${formatBytes(free)} free of ${formatBytes(total)} (${formatPercent(percent)}) at ${path}`
      const enough = threshold.percent !== undefined ? percent >= threshold.percent : free >= threshold.bytes
      if (!enough) {
        const limit = threshold.percent !== undefined ? formatPercent(threshold.percent) : formatBytes(threshold.bytes)
        throw new NotReady(`only ${summary}, below the minimum of ${limit}`)
      }
      return { message: summary, observedValue: free, observedUnit: 'bytes', componentId: path }
    },
  }
}
