/**
 * TCP checks: the `tcp()` probe of probekit/probes, run like every other check. Passing
 * when a connection opens (it is closed at once), critical otherwise, in the probe's words
 * (`connected to host:port`, `tcp host:port: connection refused (ECONNREFUSED)`).
 */
import type { SecretSet } from '../../core/redact.js'
import { tcp } from '../../probes/tcp.js'
import type { TcpCheckSpec } from '../manifest.js'
import { type Checker, type CheckerResult, runCheckProbe } from './checker.js'

/** Builds the checker of one TCP check. */
export function tcpChecker(spec: TcpCheckSpec, secrets?: SecretSet): Checker {
  // The check's deadline is the only limit: the connect phase may use all of it (the
  // deadline fires first, and says `timed out after N ms`).
  const probe = tcp({ host: spec.host, port: spec.port }, { name: spec.id, connectTimeout: spec.timeoutMs + 1000 })
  return {
    run(signal?: AbortSignal): Promise<CheckerResult> {
      return runCheckProbe(probe, spec.timeoutMs, signal, secrets)
    },
    async close() {},
  }
}
