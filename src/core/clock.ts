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
 *
 * Written from the UTC fields rather than by `toISOString`, whose first call in a process
 * sets up V8's time zone data: ~1 ms and ~0.8 MB that `probekit check` would pay on every
 * start (and it is twice as fast after). Years outside 1000–9999 (and invalid times) take
 * `toISOString`, which writes them its own way.
 */
export function isoTime(ms: number): string {
  if (ms !== isoMs) {
    const date = new Date(ms)
    const year = date.getUTCFullYear()
    iso =
      year >= 1000 && year <= 9999
        ? `${year}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${three(date.getUTCMilliseconds())}Z`
        : date.toISOString()
    isoMs = ms
  }
  return iso
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`
}

function three(n: number): string {
  return n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`
}

/**
 * The longest a Node timer waits: 2^31 - 1 ms (24.8 days). A longer `setTimeout` fires
 * after 1 ms, with a warning; whoever waits longer arms a timer of this length and looks
 * again when it fires.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Why a time written as ISO 8601 (`2026-02-30T06:00Z`) names a day or an hour the calendar
 * has not, or undefined. Date.parse rolls such a time over without a word (February 30 is
 * March 2, 23:60 midnight), so a silence or a query would quietly be for another time.
 */
export function calendarProblem(text: string): string | undefined {
  const match = /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/i.exec(text)
  if (!match) return undefined
  const [, year, month, day, hour, minute, second] = match
  const m = Number(month)
  if (m < 1 || m > 12) return `month ${month} is not one of 01–12`
  // Day 0 of the next month is the last day of this one.
  const days = new Date(Date.UTC(Number(year), m, 0)).getUTCDate()
  if (Number(day) < 1 || Number(day) > days) return `${year}-${month} has no day ${day} (it has ${days})`
  if (hour !== undefined && (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59))
    return `${hour}:${minute}${second === undefined ? '' : `:${second}`} is not a time of day (00:00 to 23:59:59)`
  return undefined
}
