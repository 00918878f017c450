import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'
import { NotReady } from '../core/errors.js'
import { checkProbeOptions, optionKeys, PROBE_OPTIONS } from '../core/options.js'
import type { Probe, ProbeOptions } from '../core/types.js'

export interface EventLoopProbeOptions extends ProbeOptions {
  /** Check name. Default `event-loop`. */
  name?: string
  /** The check fails when the delay percentile exceeds this many ms. */
  maxDelay: number
  /**
   * Which percentile of the delay samples to compare, 1–100. Default 99. Samples are taken
   * every 20 ms, so one stall is one sample: to fail on any single stall, use 100 (the max).
   */
  percentile?: number
  /** The rolling window the percentile covers, in ms. Default 10000. */
  window?: number
}

const EVENT_LOOP_OPTION_KEYS = optionKeys<EventLoopProbeOptions>()({
  name: true,
  maxDelay: true,
  percentile: true,
  window: true,
  ...PROBE_OPTIONS,
})

/** The probe returned by `eventLoop`: `close()` stops the measurement (health.close() calls it). */
export interface EventLoopProbe extends Probe {
  close(): void
}

const RESOLUTION_MS = 20

interface Epoch {
  histogram: IntervalHistogram
  startedAt: number
  rotateAt: number
}

/**
 * Passes while the event loop's delay — a high percentile over a rolling window — stays
 * under `maxDelay`. It proves *this process* is responsive, so it belongs in `live` (its
 * default group). Measurement (perf_hooks `monitorEventLoopDelay`, an unref'd native
 * timer) starts at the first check and stops when the health instance closes.
 *
 * The window rolls without timers of its own: two histograms are reset in turn, half a
 * window apart, and each check reads the one holding more history — between half a window
 * and a window of samples, or everything since the previous check when checks are rarer.
 *
 * @example
 * health.add(eventLoop({ maxDelay: 500 }))   // groups: ['live']
 */
export function eventLoop(options: EventLoopProbeOptions): EventLoopProbe {
  checkProbeOptions('eventLoop(options)', options, EVENT_LOOP_OPTION_KEYS)
  const { name = 'event-loop', maxDelay, percentile = 99, window = 10_000, ...probeOptions } = options ?? {}
  if (typeof maxDelay !== 'number' || !Number.isFinite(maxDelay) || maxDelay <= 0) {
    throw new TypeError(`eventLoop: maxDelay must be a positive number of ms, got ${String(maxDelay)}`)
  }
  if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)) {
    throw new TypeError(`eventLoop: percentile must be a number above 0 and at most 100, got ${String(percentile)}`)
  }
  if (typeof window !== 'number' || !Number.isFinite(window) || window < RESOLUTION_MS * 10) {
    throw new TypeError(`eventLoop: window must be at least ${RESOLUTION_MS * 10} ms, got ${String(window)}`)
  }
  let epochs: [Epoch, Epoch] | undefined
  const label = percentile === 100 ? 'max' : `p${percentile}`

  const start = (now: number): [Epoch, Epoch] => {
    const make = (rotateAt: number): Epoch => {
      const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
      histogram.enable()
      return { histogram, startedAt: now, rotateAt }
    }
    return [make(now + window), make(now + window / 2)]
  }

  return {
    groups: ['live'],
    componentType: 'system',
    ...probeOptions,
    name,
    check: () => {
      const now = performance.now()
      if (!epochs) {
        epochs = start(now)
        return { message: 'measuring (first check)', observedValue: 0, observedUnit: 'ms' }
      }
      const [a, b] = epochs
      const reading = a.startedAt <= b.startedAt ? a : b
      const samples = reading.histogram.count
      const delayMs = samples === 0 ? 0 : toDelayMs(reading.histogram.percentile(percentile))
      const maxMs = samples === 0 ? 0 : toDelayMs(reading.histogram.max)
      const spanS = Math.round((now - reading.startedAt) / 100) / 10
      rotate(epochs, now, window)
      const summary = `${label} ${delayMs} ms over the last ${spanS} s (max ${maxMs} ms)`
      if (delayMs > maxDelay) throw new NotReady(`event-loop delay ${summary} is above ${maxDelay} ms`)
      return { message: `event-loop delay ${summary}`, observedValue: delayMs, observedUnit: 'ms' }
    },
    close: () => {
      if (!epochs) return
      for (const epoch of epochs) epoch.histogram.disable()
      epochs = undefined
    },
  }
}

/** Resets the histograms whose turn has come, keeping them half a window apart. */
function rotate(epochs: [Epoch, Epoch], now: number, window: number): void {
  let rotated = 0
  for (const epoch of epochs) {
    if (now < epoch.rotateAt) continue
    epoch.histogram.reset()
    epoch.startedAt = now
    epoch.rotateAt = now + window
    rotated++
  }
  // Checks rarer than the window reset both at once: stagger them again.
  if (rotated === 2) epochs[1].rotateAt = now + window / 2
}

/** A histogram value (ns between timer ticks) as the delay beyond the tick, in ms (0.1 ms). */
function toDelayMs(nanoseconds: number): number {
  return Math.max(0, Math.round((nanoseconds / 1e6 - RESOLUTION_MS) * 10) / 10)
}
