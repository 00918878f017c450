import { readFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'
import { formatBytes, formatPercent, type ParsedSize, parseSize, type Size } from './bytes.js'

export interface MemoryProbeOptions extends ProbeOptions {
  /** Check name. Default `memory`. */
  name?: string
  /** Most V8 heap in use: bytes, a size (`'512MB'`) or a percentage of the heap limit (`'90%'`). */
  maxHeapUsed?: Size
  /**
   * Most resident memory: bytes, a size (`'1Gi'`) or a percentage of the memory available to
   * the process (the cgroup limit in a container, else the machine's memory).
   */
  maxRss?: Size
}

const MEMORY_OPTION_KEYS = optionKeys<MemoryProbeOptions>()({
  name: true,
  maxHeapUsed: true,
  maxRss: true,
  ...PROBE_OPTIONS,
})

/**
 * Passes while heap used and RSS are under their thresholds (without thresholds it only
 * reports them). Observed value: heap used, in bytes.
 *
 * @example
 * health.add(memory({ maxHeapUsed: '90%', maxRss: '1.5Gi' }))
 */
export function memory(options: MemoryProbeOptions = {}): Probe {
  checkProbeOptions('memory(options)', options, MEMORY_OPTION_KEYS)
  const { name = 'memory', maxHeapUsed, maxRss, ...probeOptions } = options ?? {}
  const heapLimit = maxHeapUsed === undefined ? undefined : parseSize(maxHeapUsed, 'memory: maxHeapUsed')
  const rssLimit = maxRss === undefined ? undefined : parseSize(maxRss, 'memory: maxRss')
  // The memory available to the process does not change while it runs: read it once.
  let available: number | undefined
  const memoryAvailable = () => (available ??= availableMemory())
  return {
    componentType: 'system',
    ...probeOptions,
    name,
    check: () => {
      const { heapUsed, rss } = process.memoryUsage()
      const problems: string[] = []
      if (heapLimit) {
        const limit = resolve(heapLimit, () => getHeapStatistics().heap_size_limit)
        if (heapUsed > limit) problems.push(`heap used ${formatBytes(heapUsed)} is above ${describe(heapLimit, limit)}`)
      }
      if (rssLimit) {
        const limit = resolve(rssLimit, memoryAvailable)
        if (rss > limit) problems.push(`rss ${formatBytes(rss)} is above ${describe(rssLimit, limit)}`)
      }
      if (problems.length > 0) throw new NotReady(problems.join('; '))
      return {
        message: `heap used ${formatBytes(heapUsed)}, rss ${formatBytes(rss)}`,
        observedValue: heapUsed,
        observedUnit: 'bytes',
      }
    },
  }
}

function resolve(size: ParsedSize, whole: () => number): number {
  return size.percent !== undefined ? (whole() * size.percent) / 100 : size.bytes
}

function describe(size: ParsedSize, limit: number): string {
  return size.percent !== undefined
    ? `${formatPercent(size.percent)} of ${formatBytes((limit * 100) / size.percent)} (${formatBytes(limit)})`
    : formatBytes(limit)
}

/** The cgroup (v2, then v1) memory limit when the process has one, else the machine's memory. */
function availableMemory(): number {
  const machine = totalmem()
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const limit = Number(readFileSync(file, 'utf8').trim())
      if (Number.isFinite(limit) && limit > 0 && limit < machine) return limit
    } catch {}
  }
  return machine
}
