/**
 * Monotonic milliseconds, like `performance.now()` but without its cost: the global
 * `performance` loads perf_hooks (nine built-in modules) on first use, which `probekit
 * check` would pay on every start. Only differences between two readings mean anything.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
