/**
 * Typed targets (`redis://`, `postgres://`, `mysql://`, …) are checked by the same probes
 * as `probekit check` and the library, run through `runProbe` like every other check. A
 * passing probe is `passing`, a failing one `critical`, with the probe's own reason.
 */
import type { Deadline } from '../../core/deadline.js'
import { redact, type SecretSet } from '../../core/redact.js'
import type { Probe } from '../../core/types.js'
import type { ProbeCheckSpec } from '../manifest.js'
import { type Checker, type CheckerResult, runAttempt, type Verdict } from './checker.js'

type ProbeForTarget = (target: string, options?: { name?: string }) => Promise<Probe>

// Loaded on first use: a fleet without typed targets never pays for the probe table.
let loading: Promise<ProbeForTarget> | undefined

function loadProbeForTarget(): Promise<ProbeForTarget> {
  loading ??= import('../../probes/url.js').then((m) => m.probeForTarget)
  return loading
}

/** Builds the checker of one typed-target check. */
export function probeChecker(spec: ProbeCheckSpec, secrets?: SecretSet): Checker {
  let probe: Promise<Probe> | undefined
  const attempt = async ({ signal }: Deadline): Promise<Verdict> => {
    probe ??= loadProbeForTarget().then((probeForTarget) => probeForTarget(spec.url, { name: spec.check }))
    probe.catch(() => {
      probe = undefined
    })
    const details = await (await probe).check({ signal })
    const message =
      details && typeof details === 'object' && details.message ? `: ${redact(String(details.message), secrets)}` : ''
    return { status: 'pass', output: `${spec.target} ok${message}` }
  }
  return {
    run(signal?: AbortSignal): Promise<CheckerResult> {
      return runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
    },
    async close() {},
  }
}
