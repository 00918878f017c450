/**
 * What every checker (http, tcp, probe, exec) gives the scheduler: one run under the check's
 * hard deadline, ending in a state and a kept output. Deadlines are enforced by the core's
 * `runProbe`, the one deadline mechanism of probekit; checkers only react to its signal.
 */
import type { SecretSet } from '../../core/redact.js'
import { runProbe } from '../../core/run-probe.js'
import type { HealthState } from '../types.js'

export type CheckedState = Exclude<HealthState, 'unknown'>

/** The outcome of one run. */
export interface CheckOutcome {
  state: CheckedState
  /** At most 4 KB (its tail), redacted. */
  output: string
  durationMs: number
  /** When the run started (ISO 8601). */
  at: string
  httpStatus?: number
  /** Earliest `notAfter` of the peer's certificate chain, Unix seconds. */
  sslEarliestExpiry?: number
  /** gRPC checks: the call's status code and the serving status answered. */
  grpcStatusCode?: number
  grpcServingStatus?: string
}

/** What an attempt reports; fields found before a failure (an HTTP status) survive it. */
export interface Verdict {
  state: CheckedState
  output: string
  httpStatus?: number
  sslEarliestExpiry?: number
  grpcStatusCode?: number
  grpcServingStatus?: string
}

export interface Checker {
  /** One run; never throws and never outlives the check's deadline. */
  run(signal?: AbortSignal): Promise<CheckOutcome>
  /** Releases pooled connections. */
  close(): Promise<void>
}

/**
 * Runs `attempt` under `timeoutMs` with `runProbe`. The attempt returns a verdict (any
 * state) or throws for an error (critical, with the error's one-line reason); at the
 * deadline its signal fires and the outcome is critical, `timed out after N ms`.
 * `partial` collects what the attempt learnt before failing (e.g. the HTTP status).
 * `secrets` (the monitor's manifest credentials) are masked in the reason before it is cut.
 */
export async function runAttempt(
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  attempt: (signal: AbortSignal, partial: Partial<Verdict>) => Promise<Verdict>,
  secrets?: SecretSet,
): Promise<CheckOutcome> {
  const partial: Partial<Verdict> = {}
  let verdict: Verdict | undefined
  const options: { timeoutMs: number; signal?: AbortSignal; secrets?: SecretSet } = { timeoutMs }
  if (signal) options.signal = signal
  if (secrets) options.secrets = secrets
  const result = await runProbe(
    {
      name,
      check: async ({ signal: deadline }) => {
        verdict = await attempt(deadline, partial)
      },
    },
    options,
  )
  const outcome: CheckOutcome =
    result.status === 'pass' && verdict
      ? { ...verdict, durationMs: result.durationMs, at: result.time }
      : { state: 'critical', output: result.output ?? 'failed', durationMs: result.durationMs, at: result.time }
  if (outcome.httpStatus === undefined && partial.httpStatus !== undefined) outcome.httpStatus = partial.httpStatus
  if (outcome.sslEarliestExpiry === undefined && partial.sslEarliestExpiry !== undefined)
    outcome.sslEarliestExpiry = partial.sslEarliestExpiry
  if (outcome.grpcStatusCode === undefined && partial.grpcStatusCode !== undefined)
    outcome.grpcStatusCode = partial.grpcStatusCode
  if (verdict === undefined && partial.output) outcome.output = keepTail(`${outcome.output}\n${partial.output}`)
  return outcome
}

/** Kept output is at most this many bytes. */
export const MAX_OUTPUT_BYTES = 4096

/**
 * The tail of `text` within `max` bytes. When something was cut, the first line says how
 * much was captured, so a reader knows they see the end of a longer output.
 */
export function keepTail(text: string, max = MAX_OUTPUT_BYTES, totalBytes?: number): string {
  const bytes = Buffer.from(text, 'utf8')
  const total = totalBytes ?? bytes.length
  if (total === bytes.length && bytes.length <= max) return text
  // The note takes well under 64 bytes; the tail gets the rest.
  const room = max - 64
  let tail = bytes.length > room ? bytes.subarray(bytes.length - room) : bytes
  // Do not start in the middle of a UTF-8 sequence.
  let skip = 0
  while (skip < 4 && skip < tail.length && ((tail[skip] as number) & 0xc0) === 0x80) skip++
  tail = tail.subarray(skip)
  return `[captured ${total} bytes, showing the last ${tail.length}]\n${tail.toString('utf8')}`
}
