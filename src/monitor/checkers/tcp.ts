/** TCP checks: passing when a connection opens (it is closed at once), critical otherwise. */
import { Socket } from 'node:net'
import type { SecretSet } from '../../core/redact.js'
import type { TcpCheckSpec } from '../manifest.js'
import { type Checker, type CheckOutcome, runAttempt, type Verdict } from './checker.js'

/** Builds the checker of one TCP check. */
export function tcpChecker(spec: TcpCheckSpec, secrets?: SecretSet): Checker {
  const attempt = (signal: AbortSignal): Promise<Verdict> =>
    new Promise<Verdict>((resolve, reject) => {
      const socket = new Socket()
      const onAbort = () => {
        // The deadline fired: destroy the half-open socket so nothing waits on the kernel's timeout.
        socket.destroy()
        reject(signal.reason)
      }
      const finish = (error?: Error) => {
        signal.removeEventListener('abort', onAbort)
        socket.destroy()
        if (error) reject(new Error(`TCP connect ${spec.target}: ${describe(error)}`))
        else resolve({ state: 'passing', output: `TCP connect ${spec.target}: Success` })
      }
      if (signal.aborted) return reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      socket.once('error', finish)
      socket.connect({ host: spec.host, port: spec.port }, () => finish())
    })
  return {
    run(signal?: AbortSignal): Promise<CheckOutcome> {
      return runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
    },
    async close() {},
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'timed out',
}

function describe(error: NodeJS.ErrnoException): string {
  const code = error.code
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`
  return error.message
}
