/** What a manifest says, once read: pods, their checks, and the error a mistake ends in. */
import { lineSafe } from '../../core/inert.js'
import { redact, SecretSet } from '../../core/redact.js'
import type { MaintenanceWindow } from '../silences.js'
import type { Thresholds } from '../thresholds.js'
import type { CheckKey } from '../types.js'

/** A manifest mistake: `file:line: key: what is wrong and how to fix it`. */
export class ManifestError extends Error {
  override name = 'ManifestError'
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string | undefined,
    readonly problem: string,
  ) {
    // One line, inert: a value quoted in the problem may hold a line break or an escape.
    super(lineSafe(`${file}${line ? `:${line}` : ''}: ${key ? `${key}${keySeparator(key)}` : ''}${problem}`))
  }
}

const NO_SECRETS = new SecretSet(null)

/**
 * `: ` after a key, unless the key reads as a credential's name (`checks[0].token: a token
 * of …`): every log line is redacted as a whole, and `token: a` would lose its next word to
 * the key=value mask. Such keys are followed by ` — ` instead.
 */
function keySeparator(key: string): string {
  return redact(`${key}: x`, NO_SECRETS) === `${key}: x` ? ': ' : ' — '
}

/** TLS settings of an HTTPS check (paths are resolved against the manifest's directory). */
export interface TlsSettings {
  caFile?: string
  certFile?: string
  keyFile?: string
  serverName?: string
  /** Skip certificate verification. An explicit opt-in, never a default. */
  insecure?: boolean
}

export interface CheckSpecBase extends CheckKey {
  id: string
  intervalMs: number
  /** The hard deadline of one run, always below the interval. */
  timeoutMs: number
  thresholds: Thresholds
  /** Where the check is declared, for messages. */
  source: { file: string; line?: number }
  /** What is checked, credentials redacted (a URL, `host:port`, a command). */
  target: string
  /** Alert labels from the manifest (the pod's, then the check's own over them). */
  labels?: Record<string, string>
  /** Weekly maintenance windows (the pod's and the check's own): notifications are held back inside them. */
  maintenance?: MaintenanceWindow[]
}

export interface HttpCheckSpec extends CheckSpecBase {
  kind: 'http'
  url: string
  method: string
  headers: Record<string, string>
  /** Statuses that pass; default any 2xx. */
  expectStatus?: number[]
  tls: TlsSettings
  /**
   * https: days before the earliest certificate's expiry from which the check warns (0:
   * never; default 14). An expired or not yet valid certificate is critical regardless.
   */
  certExpiryWarningDays?: number
}

export interface TcpCheckSpec extends CheckSpecBase {
  kind: 'tcp'
  host: string
  port: number
}

/** A typed target of `probekit check` (`redis://…`, `postgres://…`, …), run by the library's probes. */
export interface ProbeCheckSpec extends CheckSpecBase {
  kind: 'probe'
  url: string
}

export interface ExecCheckSpec extends CheckSpecBase {
  kind: 'exec'
  /** Run directly (an argument list) — or through `sh -c` when `shell` is set. */
  command: string[]
  shell: boolean
  cwd?: string
  env?: Record<string, string>
}

export interface PushCheckSpec extends CheckSpecBase {
  kind: 'push'
  /** How often the job is expected to report. */
  periodMs: number
  /** How late a report may be before the check turns critical. */
  graceMs: number
  /**
   * The check's own secrets (manifest `token`, or the lines of `token_file`): a push
   * carrying one may report for this check, and only this one. Never served or logged.
   */
  tokens?: string[]
}

/** `grpc.health.v1.Health/Check` on `host:port` for `service` (`grpcs` with TLS). */
export interface GrpcCheckSpec extends CheckSpecBase {
  kind: 'grpc'
  host: string
  port: number
  service: string
  /** TLS settings; undefined for plain `grpc://`. */
  tls?: TlsSettings
  /** grpcs: as for an https check, days before a certificate's expiry from which the check warns. */
  certExpiryWarningDays?: number
}

export type CheckSpec = HttpCheckSpec | TcpCheckSpec | GrpcCheckSpec | ProbeCheckSpec | ExecCheckSpec | PushCheckSpec

export interface PodManifest {
  id: string
  node: string
  file: string
  checks: CheckSpec[]
}

export interface ManifestDefaults {
  /** Node name for manifests that name none. Default: this host's name. */
  node?: string
  /** CA file for HTTPS checks that name none (p2's preparer `ca_path`). */
  caFile?: string
}
