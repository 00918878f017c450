import { redact, redactCut, renderValue, type SecretSet } from './redact.js'

/** Reasons are cut to this many characters. */
const MAX_REASON = 1000
/** A message longer than this (a driver quoting a whole response) is cut, at a word, before it is redacted. */
const MAX_MESSAGE = 64 * 1024

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
 * One line saying why a check failed: the error's message (never its stack), redacted
 * (with `secrets` masked by value too) before it is cut to 1,000 characters. Errors without
 * a message (some drivers throw bare codes) fall back to their code or name; anything thrown
 * that is not an Error is rendered with its secret keys (password, token, …) masked. It
 * never throws: a thrown value whose `message` getter or proxy trap throws is said to be
 * unreadable, since its callers (a probe's run, a lifecycle task, a shutdown hook, a log
 * line) must end in a reason whatever was thrown.
 */
export function reasonOf(error: unknown, secrets?: SecretSet): string {
  try {
    return readReason(error, secrets)
  } catch {
    return 'failed (what was thrown cannot be read: a getter or proxy trap of it threw)'
  }
}

function readReason(error: unknown, secrets?: SecretSet): string {
  let text: string
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    if (error.message) text = error.message
    else if (error instanceof AggregateError && error.errors.length > 0) text = reasonOf(error.errors[0], secrets)
    else if (typeof code === 'string') text = code
    else text = error.name || 'failed'
    // AggregateError from a dual-stack connect: the first member says more than "".
    if (!error.message && error instanceof AggregateError && error.errors.length > 0) {
      text = error.errors.map((e) => reasonOf(e, secrets)).join('; ')
    }
    text += causesOf(error, text)
  } else if (typeof error === 'string') text = error
  else if (error === undefined || error === null) text = 'failed'
  else text = renderValue(error)
  // One line: multi-line driver errors would break the verbose text format. Redacted whole,
  // then cut: a cut first could leave half a credential that no pattern recognises.
  // (split, not /\s*[\r\n]+\s*/: that pattern backtracks quadratically over a long run of spaces)
  const flat = text
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
  const oneLine =
    flat.length > MAX_MESSAGE ? redactCut(flat.slice(0, MAX_MESSAGE), { end: true }, secrets) : redact(flat, secrets)
  return (oneLine.length > MAX_REASON ? `${oneLine.slice(0, MAX_REASON)}…` : oneLine) || 'failed'
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
