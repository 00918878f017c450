/** A `push` check: critical when no push arrives within `period` plus `grace`; optionally its own `token`. */
import { resolve } from 'node:path'
import { checkToken, readTokenFile, TokenError } from '../../auth.js'
import { type CheckInput, formatDuration, type ManifestReader, type Path } from '../reader.js'
import type { PushCheckSpec } from '../types.js'

/** The keys of a push check, besides the ones every check has. */
export const PUSH_KEYS = ['period', 'grace', 'token', 'token_file']

export function readPushCheck(r: ManifestReader, { raw, path, common }: CheckInput): PushCheckSpec {
  if (raw.period === undefined) r.fail(path, 'a push check needs a `period`, as in `period: 1h`')
  const periodMs = r.duration(raw, [...path, 'period'])
  const graceMs =
    raw.grace === undefined
      ? Math.min(Math.max(periodMs * 0.1, 1000), 3_600_000)
      : r.duration(raw, [...path, 'grace'], true)
  const tokens = pushTokens(r, raw, path)
  return {
    ...common,
    kind: 'push',
    periodMs,
    graceMs,
    intervalMs: periodMs,
    target: `push every ${formatDuration(periodMs)}`,
    ...(tokens ? { tokens } : {}),
  }
}

/** A push check's `token` or `token_file` (read now, and again on every reload). */
function pushTokens(r: ManifestReader, raw: Record<string, unknown>, path: Path): string[] | undefined {
  if (raw.token !== undefined && raw.token_file !== undefined)
    r.fail([...path, 'token_file'], 'give `token` or `token_file`, not both')
  try {
    if (raw.token !== undefined) {
      // The value is never echoed: a message names the key only.
      if (typeof raw.token !== 'string') r.fail([...path, 'token'], 'must be a string (quote it)')
      checkToken(raw.token.trim())
      return [raw.token.trim()]
    }
    const file = r.str(raw, [...path, 'token_file'], false)
    if (file !== undefined) {
      r.readsOtherFiles = true
      return readTokenFile(resolve(r.dir, file))
    }
  } catch (error) {
    if (error instanceof TokenError) r.fail([...path, raw.token !== undefined ? 'token' : 'token_file'], error.message)
    throw error
  }
  return undefined
}
