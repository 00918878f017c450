import { lineSafe } from '../core/inert.js'
import type { CheckResult, Report } from '../core/types.js'

export interface TextOptions {
  /** The word for the last line, e.g. `readyz` → `readyz check passed`. */
  label: string
  /** List every check (Kubernetes `?verbose`). Failing reports are always verbose. */
  verbose: boolean
  /** Whether reasons may be shown; otherwise `reason withheld`. */
  showReasons: boolean
}

export const WITHHELD = 'reason withheld'

/**
 * The Kubernetes API server's health text: `ok`, or with `?verbose` one line per check
 * (`[+]postgres ok`, `[-]redis failed: reason`) and a last line `readyz check passed|failed`.
 * Warnings (non-critical failures) read `[!]name warn: reason`; they do not fail the group.
 */
export function formatText(report: Report, options: TextOptions): string {
  if (!options.verbose && report.status !== 'fail') return 'ok'
  let out = ''
  for (const check of report.checks) out += `${checkLine(check, options.showReasons)}\n`
  if (report.excluded) for (const name of report.excluded) out += `[+]${name} excluded: ok\n`
  if (report.unmatchedExcludes && report.unmatchedExcludes.length > 0) {
    const names = report.unmatchedExcludes.map((n) => JSON.stringify(n)).join(', ')
    out += `warn: some health checks cannot be excluded: no matches for ${names}\n`
  }
  out += `${options.label} check ${report.status === 'fail' ? 'failed' : 'passed'}\n`
  return out
}

/**
 * One check's line. The reason is what a dependency said: shown inert (`lineSafe`), so an
 * escape sequence cannot reach the terminal of whoever curls the endpoint, and a newline
 * in it cannot forge a `[+]name ok` line of its own.
 */
export function checkLine(check: CheckResult, showReasons: boolean): string {
  if (check.status === 'pass') return `[+]${check.name} ok`
  const reason = showReasons ? lineSafe(check.output ?? 'failed') : WITHHELD
  return check.status === 'warn' ? `[!]${check.name} warn: ${reason}` : `[-]${check.name} failed: ${reason}`
}
