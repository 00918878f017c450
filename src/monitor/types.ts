/**
 * The monitor's model: what it checks, what it saw, and how readers (inspect, the API,
 * metrics, webhooks, the dashboard) get at it. Shared by the checking side and the
 * reading side so they cannot disagree. A check's run is core's `CheckResult` (see
 * `checkers/checker.ts`); `stateOfStatus` turns its status into the monitor's state.
 */
import type { Status } from '../core/types.js'

/** Consul's health states, as p2 reported them. */
export type HealthState = 'passing' | 'warning' | 'critical' | 'unknown'

export const HEALTH_STATES: readonly HealthState[] = ['passing', 'warning', 'critical', 'unknown']

/** A state a check can reach by running: `unknown` is the monitor's own (never checked, or expired). */
export type CheckedState = Exclude<HealthState, 'unknown'>

/**
 * The severity order of the states, lowest first: "the worst state" of a history bucket,
 * of a pod's checks, of anything. `unknown` (never checked, or its result expired) ranks
 * above `passing`: a pod with a check nobody can vouch for is not shown as passing. The one
 * ranking of probekit's monitor: the stores persist these numbers (history buckets keep
 * `max(rank)`; the SQLite store's version 2 migrated files written with the older order),
 * and the dashboard's copy in `dashboard/assets/dashboard.js` is tested against it.
 */
export const STATE_RANK: Readonly<Record<HealthState, number>> = { passing: 0, unknown: 1, warning: 2, critical: 3 }

const BY_RANK: readonly HealthState[] = ['passing', 'unknown', 'warning', 'critical']

/** Orders states by severity (see `STATE_RANK`). */
export function stateRank(state: HealthState): number {
  return STATE_RANK[state]
}

/** The state of a rank, as the stores read their persisted `worst`. */
export function stateOfRank(rank: number): HealthState {
  return BY_RANK[rank] ?? 'unknown'
}

/**
 * The one boundary between core's model and the monitor's: a check result's `Status`
 * becomes a Consul state. `pass` is passing, `warn` warning (exec exit 1, HTTP 429),
 * `fail` critical.
 */
export function stateOfStatus(status: Status): CheckedState {
  return status === 'pass' ? 'passing' : status === 'warn' ? 'warning' : 'critical'
}

/** The other way, for a verdict a checker reaches in the monitor's words (exec, HTTP). */
export function statusOfState(state: CheckedState): Status {
  return state === 'passing' ? 'pass' : state === 'warning' ? 'warn' : 'fail'
}

/** Reading order of checks everywhere (inspect, the API, metrics): pod, node, then check with p2's `health_check` first. */
export function compareChecks(a: CheckKey, b: CheckKey): number {
  return (
    compareText(a.pod, b.pod) ||
    compareText(a.node, b.node) ||
    (a.check === 'health_check' ? -1 : 0) - (b.check === 'health_check' ? -1 : 0) ||
    compareText(a.check, b.check)
  )
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** How a check is carried out. */
export type CheckKind = 'http' | 'tcp' | 'grpc' | 'probe' | 'exec' | 'push'

/** The identity of one check: a check of a pod on a node. */
export interface CheckKey {
  pod: string
  node: string
  /** The check's name within its pod (`health_check` for a p2 status-port check). */
  check: string
}

/** `node/pod/check`, the id used in the API, the store and webhooks. */
export function checkId(key: CheckKey): string {
  return `${key.node}/${key.pod}/${key.check}`
}

/** The current state of one check, as stored and served. */
export interface CheckState extends CheckKey {
  id: string
  kind: CheckKind
  /** What is checked, credentials redacted (a URL, `host:port`, a command). */
  target: string
  state: HealthState
  /** Kept output of the latest check: at most 4 KB (its tail), redacted. */
  output: string
  /** When the check entered its current state (ISO 8601). */
  since: string
  /** When it was last checked (ISO 8601), if ever. */
  checkedAt?: string
  /** Duration of the latest check, ms. */
  durationMs?: number
  /** HTTP status of the latest check, for HTTP checks. */
  httpStatus?: number
  /** Earliest certificate expiry seen on the latest TLS check, Unix seconds. */
  sslEarliestExpiry?: number
  /** The subject of that certificate: `CN=api.example`, or the whole subject when it has no common name. */
  sslSubject?: string
  /** The check's `cert_expiry_warning` in days (0: none), beside the certificate it applies to. */
  sslWarningDays?: number
  /** gRPC checks: the status code the latest call ended with (0 OK; 14 UNAVAILABLE for a transport failure). */
  grpcStatusCode?: number
  /** gRPC checks: the serving status the latest Check answered (SERVING, NOT_SERVING, …). */
  grpcServingStatus?: string
  /** Set (by readers' copies only, never stored) while a silence or maintenance window holds its notifications back. */
  silenced?: SilenceMark
  /** Streak counters behind the thresholds; restored after a restart. */
  successes: number
  failures: number
  /** Raises on every change of this check; the watch API's index is the highest one. */
  index: number
}

/**
 * A silence: notifications (webhooks, Alertmanager) of the matching checks are held back
 * from `startsAt` to `endsAt`; their states stay true everywhere.
 */
export interface Silence {
  id: string
  pod: string
  /** Only this node's checks of the pod; all nodes when absent. */
  node?: string
  /** Only this check of the pod; all its checks when absent. */
  check?: string
  startsAt: string
  endsAt: string
  comment: string
  author: string
  createdAt: string
}

/** Why a check is silenced now, as readers see it (`silenced` of a state). */
export interface SilenceMark {
  /** The silence's id, or `maintenance` for a manifest window. */
  id: string
  comment: string
  author?: string
  /** When it ends (ISO 8601). */
  until: string
}

/** A change of state. */
export interface Transition extends CheckKey {
  id: string
  from: HealthState
  to: HealthState
  at: string
  output: string
  index: number
}

/** One point of a check's bounded history (raw, or a rollup of several checks). */
export interface HistoryPoint {
  /** Start of the bucket (ISO 8601). */
  at: string
  state: HealthState
  /** Mean duration in ms over the bucket. */
  durationMs?: number
  /** Checks in the bucket, and how many of them passed. */
  count: number
  passed: number
}

/** One or more check outcomes, as written to the history. */
export interface HistorySample {
  id: string
  at: string
  state: HealthState
  durationMs?: number
  count?: number
  passed?: number
}

export interface HistoryQuery {
  /** Only points at or after this time (ISO 8601). */
  since?: string
  limit?: number
}

/**
 * Where the monitor keeps state. Embedded SQLite by default; `memory` keeps nothing
 * across restarts. Writes happen off the checking path.
 */
export interface MonitorStore {
  /** Every stored current state (restored on start). */
  loadStates(): CheckState[]
  /** Writes current states that changed. */
  saveStates(states: readonly CheckState[]): void
  /** Drops checks that no manifest names any more. */
  removeStates(ids: readonly string[]): void
  addTransitions(transitions: readonly Transition[]): void
  /** The most recent transitions (at most `limit`, default 100), oldest first. */
  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[]
  /**
   * Records check outcomes into the bounded history (rolled up as it ages). A sample may
   * stand for several outcomes already aggregated: `count` of them (default 1), `passed`
   * of which passed (default 1 if `state` is passing, else 0), `state` the worst of them
   * and `durationMs` their mean.
   */
  addSamples(samples: readonly HistorySample[]): void
  history(id: string, query?: HistoryQuery): HistoryPoint[]
  /** Every stored silence (ended ones too, until pruned). A store without them keeps silences in memory only. */
  loadSilences?(): Silence[]
  /**
   * Adds a silence, or replaces the one with its id (an expired silence is saved with its
   * new `endsAt`), and drops silences beyond the retention. A store that writes over a
   * network (etcd) returns a promise that resolves once the silence is durable and rejects
   * with a `StoreError` (one sentence) when it could not be written.
   */
  saveSilence?(silence: Silence): void | Promise<void>
  /**
   * For a store that several monitors share (etcd): calls `listener` with every stored
   * silence whenever they changed — another monitor added or ended one, or the store read
   * them afresh after losing its watch. Returns a function that stops the calls. A store
   * only this monitor writes to needs none.
   */
  watchSilences?(listener: (silences: Silence[]) => void): () => void
  /**
   * For a store one monitor writes (SQLite): records at `at` (ms) that the monitor runs
   * (`running`, every `RUNNING_MARK_MS`) or has stopped. States are written when they
   * change, so without this a reader of the store could not tell a result the monitor
   * still stands by from the last word of one that stopped. A store of several monitors
   * (etcd) has leases for this and needs none.
   */
  markRunning?(at: number, running: boolean): void
  /** The latest `markRunning`, or undefined when none was made (a store of an older probekit). */
  runningMark?(): RunningMark | undefined
  close(): void
}

/** What `MonitorStore.runningMark` returns: when the monitor last said whether it runs. */
export interface RunningMark {
  /** ISO 8601. */
  at: string
  running: boolean
}

/** How often a running monitor marks its store (`MonitorStore.markRunning`). */
export const RUNNING_MARK_MS = 10_000
/**
 * A mark this old says the monitor is gone (killed, its machine lost): a reader of the
 * store then shows its checks as `unknown`. Six marks missed, so a busy monitor is not
 * taken for a dead one.
 */
export const RUNNING_MARK_STALE_MS = 6 * RUNNING_MARK_MS
