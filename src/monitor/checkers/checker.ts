/**
 * Every checker (http, tcp, grpc, probe, exec) is a probe to the monitor: one run under the
 * check's hard deadline, ending in core's `CheckResult`. Deadlines are enforced by the
 * core's `runProbe`, the one deadline mechanism of probekit; checkers only react to its
 * signal. The monitor turns the result's status into its state at one place
 * (`stateOfStatus` in ../types.ts).
 */
import type { SecretSet } from '../../core/redact.js'
import { runProbe } from '../../core/run-probe.js'
import type { CheckResult, Probe, Status } from '../../core/types.js'

/**
 * What a run tells the monitor beyond core's result: the facts behind the blackbox
 * exporter's metrics and the state's extra fields. A checker sets only what it saw.
 */
export interface CheckFacts {
  /** HTTP checks: the response's status code. */
  httpStatus?: number
  /** TLS checks: the earliest `notAfter` of the peer's certificate chain, Unix seconds. */
  sslEarliestExpiry?: number
  /** TLS checks: the subject of that certificate (`CN=api.example`). */
  sslSubject?: string
  /** TLS checks: the check's `cert_expiry_warning`, days (0: no warning before the end). */
  sslWarningDays?: number
  /** gRPC checks: the call's status code (0 OK; 14 UNAVAILABLE for a transport failure). */
  grpcStatusCode?: number
  /** gRPC checks: the serving status answered (SERVING, NOT_SERVING, …). */
  grpcServingStatus?: string
}

/**
 * One run of a check: core's `CheckResult` (`status` pass/warn/fail, `output`, `time` when
 * the run started, `durationMs`) with its output always set — at most 4 KB (its tail),
 * redacted — and the monitor's facts. `warn` is a verdict of the check itself (exec exit 1,
 * HTTP 429), not a non-critical failure: checks are always `critical`.
 */
export interface CheckerResult extends CheckResult {
  output: string
  facts: CheckFacts
}

/** What an attempt reports; facts found before a failure (an HTTP status) survive it. */
export interface Verdict extends CheckFacts {
  status: Status
  output: string
}

/** What an attempt learnt before it failed: facts, and output gathered so far (an exec's). */
export type Learnt = CheckFacts & { output?: string }

export interface Checker {
  /** One run; never throws and never outlives the check's deadline. */
  run(signal?: AbortSignal): Promise<CheckerResult>
  /** Releases pooled connections. */
  close(): Promise<void>
}

/**
 * Runs `attempt` under `timeoutMs` with `runProbe`. The attempt returns a verdict (any
 * status) or throws for an error (fail, with the error's one-line reason); at the
 * deadline its signal fires and the result fails, `timed out after N ms`.
 * `partial` collects what the attempt learnt before failing (e.g. the HTTP status).
 * `secrets` (the monitor's manifest credentials) are masked in the reason before it is cut.
 */
export async function runAttempt(
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  attempt: (signal: AbortSignal, partial: Learnt) => Promise<Verdict>,
  secrets?: SecretSet,
): Promise<CheckerResult> {
  const partial: Learnt = {}
  let verdict: Verdict | undefined
  const result = await runProbe(
    {
      name,
      check: ({ signal: deadline }) =>
        attempt(deadline, partial).then((found) => {
          verdict = found
        }),
    },
    runOptions(timeoutMs, signal, secrets),
  )
  // runProbe's result is this run's own: completed in place, not copied.
  const completed = result as CheckerResult
  // Key by key, not with rest and spread (this runs thousands of times a second); every
  // fact a checker sets is carried, whatever facts there are.
  const facts: Record<string, unknown> = {}
  for (const key in partial) if (key !== 'output') facts[key] = partial[key as keyof Learnt]
  if (result.status === 'pass' && verdict) {
    const found = verdict as Verdict
    for (const key in found) if (key !== 'status' && key !== 'output') facts[key] = found[key as keyof Verdict]
    completed.status = found.status
    completed.output = found.output
    completed.facts = facts as CheckFacts
    return completed
  }
  let output = result.output ?? 'failed'
  if (verdict === undefined && partial.output) output = keepTail(`${output}\n${partial.output}`)
  completed.status = 'fail'
  completed.output = output
  completed.facts = facts as CheckFacts
  return completed
}

/**
 * Runs a probe of probekit/probes as a check: its result as it is, a passing probe's
 * message (or `ok`) as the output.
 */
export async function runCheckProbe(
  probe: Probe,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  secrets?: SecretSet,
): Promise<CheckerResult> {
  const result = await runProbe(probe, runOptions(timeoutMs, signal, secrets))
  return { ...result, output: keepTail(result.output ?? (result.status === 'pass' ? 'ok' : 'failed')), facts: {} }
}

function runOptions(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  secrets: SecretSet | undefined,
): { timeoutMs: number; signal?: AbortSignal; secrets?: SecretSet } {
  const options: { timeoutMs: number; signal?: AbortSignal; secrets?: SecretSet } = { timeoutMs }
  if (signal) options.signal = signal
  if (secrets) options.secrets = secrets
  return options
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
