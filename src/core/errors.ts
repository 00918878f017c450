import { redact } from './redact.js'

/**
 * Thrown by a check for an expected failure. Its message is the reason shown to
 * callers allowed to see details, and logged.
 */
export class NotReady extends Error {
  override name = 'NotReady'
}

/** The reason a run ended at its deadline. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded'
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${formatMs(timeoutMs)} ms`)
  }
}

function formatMs(ms: number): string {
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(1)
}

/**
 * One line saying why a check failed: the error's message (never its stack), redacted.
 * Errors without a message (some drivers throw bare codes) fall back to their code or name.
 */
export function reasonOf(error: unknown): string {
  let text: string
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    if (error.message) text = error.message
    else if (error instanceof AggregateError && error.errors.length > 0) text = reasonOf(error.errors[0])
    else if (typeof code === 'string') text = code
    else text = error.name || 'failed'
    // AggregateError from a dual-stack connect: the first member says more than "".
    if (!error.message && error instanceof AggregateError && error.errors.length > 0) {
      text = error.errors.map((e) => reasonOf(e)).join('; ')
    }
    text += causesOf(error, text)
  } else if (typeof error === 'string') text = error
  else if (error === undefined || error === null) text = 'failed'
  else {
    try {
      text = JSON.stringify(error)
    } catch {
      text = String(error)
    }
  }
  // One line: multi-line driver errors would break the verbose text format.
  const oneLine = text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
  return redact(oneLine.length > 1000 ? `${oneLine.slice(0, 1000)}…` : oneLine) || 'failed'
}

/** How many links of an `error.cause` chain a reason shows. */
const MAX_CAUSES = 3

/**
 * `: connect ECONNREFUSED 127.0.0.1:9` for a `fetch failed` whose cause says what really
 * happened: each cause in the chain that the text does not already say, a few links deep.
 */
function causesOf(error: Error, text: string): string {
  let out = ''
  let cause: unknown = error.cause
  const seen = new Set<unknown>([error])
  for (let depth = 0; depth < MAX_CAUSES && cause !== undefined && cause !== null && !seen.has(cause); depth++) {
    seen.add(cause)
    const said = cause instanceof Error ? reasonOf(withoutCause(cause)) : typeof cause === 'string' ? cause : ''
    if (said && said !== 'failed' && !`${text}${out}`.includes(said)) out += `: ${said}`
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return out
}

/** The error's own words, without its cause (which `causesOf` walks itself). */
function withoutCause(error: Error): Error {
  if (error.cause === undefined) return error
  const copy = Object.create(error) as Error
  Object.defineProperty(copy, 'cause', { value: undefined })
  return copy
}
