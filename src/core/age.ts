/**
 * How probekit writes an age (how long ago a file was touched, how long a check has been
 * in its state): the one formatter of the worker check, the file probe and `probekit
 * inspect`. Seconds up to an hour, so an age reads next to a `--max-age` given in seconds
 * (`95 s`, more than `60 s`); one decimal below ten seconds, where a heartbeat lives.
 *
 * @example
 * formatAge(1234)       // '1.2 s'
 * formatAge(600_000)    // '600 s'
 * formatAge(7_500_000)  // '2 h 5 min'
 * formatAge(90_000_000) // '1 d 1 h'
 */
export function formatAge(ms: number): string {
  // A clock step (or an mtime from another host) can put the past in the future: age 0.
  if (!Number.isFinite(ms) || ms < 0) ms = 0
  if (ms < 9_950) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${s} s`
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}
