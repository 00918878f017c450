/**
 * Every checker (http, tcp, grpc, probe, exec) is a probe to the monitor: one run under the
 * check's hard deadline, ending in core's `CheckResult`. Deadlines are core's `Deadline`,
 * the one deadline mechanism of probekit; checkers only react to it. The monitor turns the result's status into its state at one place
 * (`stateOfStatus` in ../types.ts).
 */
import { isoTime, monotonicMs } from '../../core/clock.js'
import { Deadline } from '../../core/deadline.js'
import { reasonOf } from '../../core/errors.js'
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
 * Runs `attempt` under `timeoutMs`, on core's `Deadline`. The attempt returns a verdict (any
 * status) or throws for an error (fail, with the error's one-line reason); at the deadline
 * (or when `signal` aborts) the deadline fires — the attempt's `onAbort` listener or its
 * `signal` — and the result fails at once, `timed out after N ms`; a late outcome is
 * dropped. `partial` collects what the attempt learnt before failing (e.g. the HTTP
 * status). `secrets` (the monitor's manifest credentials) are masked in the reason before
 * it is cut.
 *
 * The result is built as `runProbe` builds it, without its layers: one promise per run,
 * and no AbortSignal unless the attempt asks for one — the monitor runs thousands of these
 * a second.
 */
export function runAttempt(
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  attempt: (deadline: Deadline, partial: Learnt) => Promise<Verdict>,
  secrets?: SecretSet,
): Promise<CheckerResult> {
  const startedAt = Date.now()
  const started = monotonicMs()
  const partial: Learnt = {}
  return new Promise<CheckerResult>((resolve) => {
    let done = false
    const finish = (verdict: Verdict | undefined, error: unknown): void => {
      if (done) return
      done = true
      resolve(resultOf(name, startedAt, started, partial, verdict, error, secrets))
    }
    const deadline = new Deadline(timeoutMs, signal, (reason) => finish(undefined, reason))
    if (deadline.aborted) return
    let running: Promise<Verdict>
    try {
      running = attempt(deadline, partial)
    } catch (error) {
      deadline.clear()
      finish(undefined, error)
      return
    }
    running.then(
      (verdict) => {
        deadline.clear()
        finish(verdict, undefined)
      },
      (error: unknown) => {
        deadline.clear()
        finish(undefined, error ?? new Error('failed'))
      },
    )
  })
}

/** The result of one run: the verdict's, or a failure with the error's reason; facts learnt either way. */
function resultOf(
  name: string,
  startedAt: number,
  started: number,
  partial: Learnt,
  verdict: Verdict | undefined,
  error: unknown,
  secrets: SecretSet | undefined,
): CheckerResult {
  // Key by key, not with rest and spread (this runs thousands of times a second); every
  // fact a checker sets is carried, whatever facts there are.
  const facts: Record<string, unknown> = {}
  for (const key in partial) if (key !== 'output') facts[key] = partial[key as keyof Learnt]
  let status: Status
  let output: string
  if (verdict !== undefined) {
    for (const key in verdict) if (key !== 'status' && key !== 'output') facts[key] = verdict[key as keyof Verdict]
    status = verdict.status
    output = verdict.output
  } else {
    status = 'fail'
    output = reasonOf(error, secrets)
    if (partial.output) output = keepTail(`${output}\n${partial.output}`)
  }
  return {
    name,
    status,
    time: isoTime(startedAt),
    durationMs: monotonicMs() - started,
    critical: true,
    output,
    facts: facts as CheckFacts,
  }
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

/**
 * `head: body` within `max` bytes, the head whole and the body's tail kept (`keepTail`):
 * a push's `push exit status 3` stays in its output however long the job's report.
 */
export function headAndTail(head: string, body: string | undefined, max = MAX_OUTPUT_BYTES): string {
  if (body === undefined) return keepTail(head, max)
  return `${head}: ${keepTail(body, Math.max(256, max - Buffer.byteLength(head) - 2))}`
}
