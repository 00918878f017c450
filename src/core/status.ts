import type { Status } from './types.js'

const rank: Record<Status, number> = { pass: 0, warn: 1, fail: 2 }

/** The worse of two statuses: fail > warn > pass. */
export function worse(a: Status, b: Status): Status {
  return rank[a] >= rank[b] ? a : b
}

/** The worst status of a list; an empty list passes. */
export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = 'pass'
  for (const status of statuses) if (rank[status] > rank[worst]) worst = status
  return worst
}

/** pass and warn keep serving (200); fail takes the instance out (503). */
export function httpStatusFor(status: Status): 200 | 503 {
  return status === 'fail' ? 503 : 200
}
