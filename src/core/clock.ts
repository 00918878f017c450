/**
 * Monotonic milliseconds, like `performance.now()` but without its cost: the global
 * `performance` loads perf_hooks (nine built-in modules) on first use, which `probekit
 * check` would pay on every start. Only differences between two readings mean anything.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

let isoMs = Number.NaN
let iso = ''

/**
 * `new Date(ms).toISOString()`, the string kept for the last millisecond asked: a monitor
 * starting ten checks in the same millisecond builds one Date and one string, not ten.
 */
export function isoTime(ms: number): string {
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString()
    isoMs = ms
  }
  return iso
}
