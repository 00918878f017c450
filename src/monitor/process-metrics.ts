/**
 * The monitor process's own figures for `/metrics`, under the names Prometheus' client
 * libraries use (prom-client, client_golang), so the dashboards written for them read
 * these too: CPU time, resident memory, start time, heap, and the garbage collector's
 * pauses. A stalled schedule (`probekit_monitor_check_run_delay_seconds`) beside a long
 * `nodejs_gc_duration_seconds{kind="major"}` says where the time went.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks'
import { Histogram, type MetricsWriter } from '../format/prometheus.js'

const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
])
/** prom-client's buckets for GC pauses, seconds. */
const GC_BUCKETS_S = [0.001, 0.01, 0.1, 1, 2, 5]

export class ProcessMetrics {
  private readonly startTimeS = Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000
  private readonly pauses = new Map<string, Histogram>()
  private observer: PerformanceObserver | undefined

  /** Starts counting garbage-collector pauses (from now on). */
  start(): void {
    if (this.observer) return
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const { detail } = entry as { detail?: { kind?: number } }
        const kind = GC_KINDS.get(detail?.kind ?? -1) ?? 'other'
        let histogram = this.pauses.get(kind)
        if (!histogram) {
          histogram = new Histogram(GC_BUCKETS_S)
          this.pauses.set(kind, histogram)
        }
        histogram.observe(entry.duration / 1000)
      }
    })
    this.observer.observe({ entryTypes: ['gc'] })
  }

  stop(): void {
    this.observer?.disconnect()
    this.observer = undefined
  }

  write(w: MetricsWriter): void {
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    w.sample(
      'process_cpu_seconds_total',
      'Total user and system CPU time spent in seconds.',
      'counter',
      {},
      (cpu.user + cpu.system) / 1e6,
    )
    w.sample('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', {}, memory.rss)
    w.sample(
      'process_start_time_seconds',
      'Start time of the process since unix epoch in seconds.',
      'gauge',
      {},
      this.startTimeS,
    )
    w.sample('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', 'gauge', {}, memory.heapTotal)
    w.sample(
      'nodejs_heap_size_used_bytes',
      'Process heap size used from Node.js in bytes.',
      'gauge',
      {},
      memory.heapUsed,
    )
    for (const kind of [...this.pauses.keys()].sort()) {
      w.histogram(
        'nodejs_gc_duration_seconds',
        'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
        { kind },
        this.pauses.get(kind) as Histogram,
      )
    }
  }
}
