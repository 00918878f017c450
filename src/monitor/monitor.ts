/**
 * The monitor: manifests in, checks on a fixed-rate schedule, states out. It owns the
 * checkers, the scheduler, the push switches and the current state of every check, and
 * hands what changed to the store in batches written off the checking path — a slow disk
 * (or a slow listener of the API or webhooks) never delays a check.
 */
import { EventEmitter, setMaxListeners } from 'node:events'
import { reasonOf } from '../core/errors.js'
import { limitedLog } from '../core/log-limiter.js'
import type { Logger } from '../core/logger.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { SecretSet } from '../core/redact.js'
import { sleep } from '../core/sleep.js'
import { timeSlices } from '../core/time-slices.js'
import { type Checker, type CheckerResult, headAndTail } from './checkers/checker.js'
import { execChecker } from './checkers/exec.js'
import { grpcChecker } from './checkers/grpc.js'
import { httpChecker } from './checkers/http.js'
import { probeChecker } from './checkers/probe.js'
import { tcpChecker } from './checkers/tcp.js'
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, drainDeliveries, type PendingDeliveries } from './deliveries.js'
import { MinuteBucket, mergePoints } from './history.js'
import {
  type CheckSpec,
  checkFingerprint,
  ManifestCache,
  type PodManifest,
  type PushCheckSpec,
  readManifestsCached,
} from './manifest.js'
import { assertPushKind, type PushKind, PushWatch, pushResult } from './push.js'
import { type RunStats, Scheduler } from './scheduler.js'
import { registerSecrets } from './secrets.js'
import { type MaintenanceWindow, Silences } from './silences.js'
import { StoreWriter } from './store-writer.js'
import { applyThresholds } from './thresholds.js'
import {
  type CheckState,
  compareChecks,
  type HealthState,
  type HistoryPoint,
  type HistoryQuery,
  type MonitorStore,
  RUNNING_MARK_MS,
  type SilenceMark,
  stateOfStatus,
  type Transition,
} from './types.js'

export { ManifestError } from './manifest.js'

/**
 * A replica's share of the fleet (see replicas.ts): the monitor runs, and writes to the
 * store, only the checks it owns; for the others it shows what their owner published.
 */
export interface CheckShare {
  /** Whether this replica runs (and publishes) the check. */
  owns(id: string): boolean
  /** The state the owning replica published, for a check this one does not run. */
  published?(id: string): CheckState | undefined
  /**
   * Whether the shared store lacks this replica's state for a check it owns (a previous
   * owner's late write replaced it): the monitor then writes its state again.
   */
  republish?(id: string): boolean
  /** How long a replica found gone may have been dead already, at the worst (its lease TTL), in ms. */
  departureLagMs?(): number
  /** The check went to another replica: what this one saved for it is not to be written any more. */
  released?(id: string): void
}

export interface MonitorOptions {
  store: MonitorStore
  /** Node name for manifests that name none. Default: this host's name. */
  node?: string
  /** Checks in flight at most. Default 256. */
  concurrency?: number
  /**
   * Connections HTTP checks open to one origin (`host:port`) at most; more checks of it wait
   * for a free one. Default 64 (see `DEFAULT_CONNECTIONS_PER_ORIGIN`).
   */
  connectionsPerOrigin?: number
  /** Where transitions and store errors are logged; `false` for silence. Default console. */
  logger?: Logger | false
  /**
   * Whether each transition is logged (one line per check and 10 s). Default true; `false`
   * (`probekit monitor -q`) keeps the logger for everything else: errors, warnings such as
   * dropped notifications, and the recoveries that follow them.
   */
  logTransitions?: boolean
  /** CA file for HTTPS checks that name none (p2's preparer `ca_path`). */
  caFile?: string
  /**
   * How often an output-only change (the same state, a new body) is written to the store,
   * ms. State and streak changes are written at once. Default 5 minutes (Consul's
   * `check_update_interval`).
   */
  outputSyncMs?: number
  /**
   * How often the history timer looks for minute buckets that are over but not yet written
   * (a check that has not run since its minute ended), ms. A check's bucket is written once,
   * when its minute is over; readers of `history()` see the minute in progress from memory.
   * Default 15 s.
   */
  historyFlushMs?: number
  /**
   * Run only this replica's share of the checks (monitor replicas on an etcd store). Call
   * `rebalance()` when the share changes; `ReplicaShare.attach` does.
   */
  share?: CheckShare
  /**
   * How long `stop()` waits for pending deliveries (webhooks and other senders added with
   * `addDeliveries`), ms, counted from the call; what is left then is abandoned with one
   * log line. Default 10 000.
   */
  shutdownTimeoutMs?: number
  /**
   * Long-poll watchers are woken at most this often, ms: the changes in between are
   * answered together. With 2,000 watchers and a check changing state 1,000 times a
   * second, the monitor answers 2,000 requests per interval, not 2 million a second.
   * Default 250.
   */
  wakeIntervalMs?: number
  /**
   * The share of the monitor's time that answering woken watchers may take, from 0 to 1:
   * when the last wake-up took 100 ms to answer, the next comes no sooner than 100 ms ÷
   * this share later, so readers never take the time the checking schedule needs, however
   * many watchers there are and however large the answers. Default 0.25.
   */
  wakeShare?: number
  /** The clock silences and maintenance windows are judged by (tests set it). Default `Date.now`. */
  clock?: () => number
}

const MONITOR_OPTION_KEYS = optionKeys<MonitorOptions>()({
  store: true,
  node: true,
  concurrency: true,
  connectionsPerOrigin: true,
  logger: true,
  logTransitions: true,
  caFile: true,
  outputSyncMs: true,
  historyFlushMs: true,
  share: true,
  shutdownTimeoutMs: true,
  wakeIntervalMs: true,
  wakeShare: true,
  clock: true,
})

interface Entry {
  spec: CheckSpec
  fingerprint: string
  /** What is checked, without the schedule: a change here resets the state. */
  subject: string
  state: CheckState
  checker?: Checker
  push?: PushWatch
  /** When the state was last handed to the store (Date.now()), 0 if never. */
  savedAt: number
  unsaved: boolean
  bucket: MinuteBucket | undefined
  /**
   * The last output a run reported, before redaction, the secrets' version it was redacted
   * at, and the state's output it became.
   */
  reported: string
  reportedSecrets: number
  reportedAs: string
  /** The id of the silence (or `maintenance`) marking the check when silences last changed. */
  silencedId?: string | undefined
  /** Whether this replica runs the check (always, without a `share`). */
  owned: boolean
  /**
   * The spec's maintenance windows (none: empty), read once: every listing asks for each
   * check's silence, and reading through 50,000 specs of many shapes cost ~30 ms a listing.
   */
  windows: readonly MaintenanceWindow[]
}

const NOT_OURS = 'checked by another monitor replica, which has published no result'

/** A check taken over from another replica first runs within this long (or its interval, if shorter). */
const TAKEOVER_SPREAD_MS = 250
/** Work a (re)load does at once before it lets the event loop run, ms (see `applyLoad`). */
const LOAD_SLICE_MS = 10

/**
 * Where in its interval a check runs when monitors share a fleet: a point fixed by its id on
 * the wall clock, the same on every replica and after every restart. A fleet loaded at once
 * spreads over the interval as random points would spread it, a replica that joins runs the
 * checks it is given in their rhythm, and a replica taking over a dead one's checks can tell
 * when each of them last ran (lastPhaseAt).
 */
export function phaseMs(id: string, intervalMs: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193)
  return (hash >>> 0) % Math.max(1, Math.round(intervalMs))
}

/** How long from `nowMs` (wall clock) until the check's next phase point. */
export function nextPhaseDelayMs(id: string, intervalMs: number, nowMs: number): number {
  const interval = Math.max(1, Math.round(intervalMs))
  return (((phaseMs(id, interval) - nowMs) % interval) + interval) % interval
}

/** The check's last phase point at or before `atMs` (wall clock). */
export function lastPhaseAt(id: string, intervalMs: number, atMs: number): number {
  const interval = Math.max(1, Math.round(intervalMs))
  return atMs - ((((atMs - phaseMs(id, interval)) % interval) + interval) % interval)
}

/**
 * How long after its takeover a check first runs here. When its previous owner ran it less
 * than an interval ago (that owner is alive), when that owner would have run it next: its
 * rhythm goes on, and it does not run twice. Otherwise within TAKEOVER_SPREAD_MS, the sooner
 * the longer it went unchecked: a dead replica's checks come over all at once, more than its
 * survivors run in a quarter second, and behind that backlog the checks that waited longest
 * go first, so the longest any of them waits is its interval plus the lease TTL, not that
 * plus the backlog. A check with no known last run goes anywhere in the spread.
 */
export function takeoverDelayMs(lastRunAt: number, intervalMs: number, now: number): number {
  const spread = Math.min(intervalMs, TAKEOVER_SPREAD_MS)
  if (!Number.isFinite(lastRunAt)) return Math.random() * spread
  const sinceMs = now - lastRunAt
  if (sinceMs < intervalMs) return Math.max(0, intervalMs - sinceMs)
  return (spread * intervalMs) / sinceMs
}

/**
 * The longest a check waits for its first run when the monitor holds no result of it from
 * its last interval: a check of a long interval (an hourly one) would otherwise wait up to
 * an hour for its first result after it is added, and again after every restart.
 */
export const FIRST_RUN_SPREAD_MS = 30_000

/** When a check scheduled now first runs, and when its second run is due (none: one interval later). */
export interface FirstRuns {
  firstMs: number
  thenMs?: number
}

/**
 * When a check first runs once it is scheduled (a load, a restart, a changed schedule), by
 * when it last ran (`lastRunAt`, wall clock; NaN when never) and, with replicas, the delay
 * to its phase point from a time (`phaseDelayMs`).
 *
 * - A result from within its interval (kept in the store across a restart, or carried over
 *   a changed interval): its rhythm goes on, the next run due an interval after that
 *   result (with replicas, at its next phase point). It does not run early only because the
 *   monitor restarted.
 * - No such result: the first run comes at a random point within the interval, or within
 *   FIRST_RUN_SPREAD_MS when the interval is longer. A fleet loaded at once still spreads;
 *   a long interval's check then goes back to a point of its interval of its own (random,
 *   or its phase with replicas), at least half an interval after that first run, so a
 *   thousand hourly checks do not all run in the same 30 s of every hour.
 */
export function firstRuns(
  lastRunAt: number,
  intervalMs: number,
  now: number,
  random: () => number = Math.random,
  phaseDelayMs?: (atMs: number) => number,
): FirstRuns {
  const sinceMs = now - lastRunAt
  if (sinceMs >= 0 && sinceMs < intervalMs) {
    return { firstMs: phaseDelayMs ? phaseDelayMs(now) : intervalMs - sinceMs }
  }
  if (intervalMs <= FIRST_RUN_SPREAD_MS) return { firstMs: phaseDelayMs ? phaseDelayMs(now) : random() * intervalMs }
  const firstMs = random() * FIRST_RUN_SPREAD_MS
  let thenMs = phaseDelayMs ? firstMs + phaseDelayMs(now + firstMs) : firstMs + intervalMs / 2 + random() * intervalMs
  if (thenMs - firstMs < intervalMs / 2) thenMs += intervalMs
  return { firstMs, thenMs }
}

const DEFAULT_WAKE_INTERVAL_MS = 250
const DEFAULT_WAKE_SHARE = 0.25
/** Long-poll watchers woken per turn of the event loop; the rest wait for the next turn. */
const WAKE_BATCH = 100

/** A check of the manifests being loaded, with what `applyLoad` compares it by. */
interface WantedCheck {
  spec: CheckSpec
  fingerprint: string
  /** `subjectOf(spec)`; empty when the check is loaded already, unchanged. */
  subject: string
}

/**
 * What `applyLoad` made of a spec it was handed, kept while the spec lives: the manifest
 * cache hands out the same object while its document is unchanged, so a reload does this
 * work again only for what changed.
 */
interface Prepared {
  /** Registering its secrets read a file (a TLS key): they are registered again on every load. */
  readsFiles: boolean
  /** The version of the monitor's secrets that `spec` and `fingerprint` were made at (-1: not yet). */
  secretsVersion: number
  /** The spec as shown: its target redacted. */
  spec: CheckSpec
  fingerprint: string
}

/** The monitor's entries in reading order, and each pod's (in the same order). */
interface SortedEntries {
  all: Entry[]
  byPod: Map<string, Entry[]>
}

/** Which checks `Monitor.states()` returns: those of one pod, one node, in some states, or any mix. */
export interface StateScope {
  pod?: string | undefined
  node?: string | undefined
  /** Only checks in one of these states (`critical`, …); all when absent. */
  state?: readonly HealthState[] | undefined
}

/** What a woken long-poll gets: one snapshot shared by every watcher woken by the same change. */
export interface ChangeSnapshot {
  index: number
  /** Every check's state, sorted; shared between watchers, so read it, do not change it. */
  states: CheckState[]
}

type Waiter = { afterIndex: number; resolve: (snapshot?: ChangeSnapshot) => void }

/**
 * Watches the checks of a fleet's manifests and keeps their states.
 *
 * @example
 * import { Monitor } from 'probekit/monitor'
 * import { openStore } from 'probekit/monitor'
 * const monitor = new Monitor({ store: openStore('sqlite:monitor.sqlite') })
 * await monitor.load(['/etc/probekit/pods'])
 * monitor.on('change', (t) => console.log(`${t.id}: ${t.from} → ${t.to}`))
 * monitor.start()
 */
export class Monitor extends EventEmitter<{ change: [Transition, CheckState]; result: [CheckState] }> {
  readonly store: MonitorStore
  /**
   * Every credential the loaded manifests configure (URL userinfo, secret headers, tokens,
   * TLS keys), masked by value in every output before it is stored, served, logged or sent.
   * It only grows: a removed check's secrets stay masked while the process lives.
   */
  readonly secrets = new SecretSet()
  private readonly options: MonitorOptions
  private readonly logger: Logger | false
  private readonly scheduler: Scheduler
  private readonly entries = new Map<string, Entry>()
  // The entries sorted by pod, node and check, until a load adds or removes one.
  private sorted: SortedEntries | undefined
  private paths: string[] = []
  private unchecked: string[] = []
  private restored: Map<string, CheckState> | undefined
  /** The secrets' version the stored silences were last masked at (-1: not yet), and that masking. */
  private silencesMaskedAt = -1
  private remasking: Promise<void> = Promise.resolve()
  private currentIndex = 0
  private started = false
  private stopping: AbortController = stopController()
  private waiters = new Set<Waiter>()
  private wakeScheduled = false
  private published: ChangeSnapshot | undefined
  private publishedAt = 0
  private readonly minWakeIntervalMs: number
  private readonly wakeShare: number
  /** How long answering the last wake-up took, ms (the sum of its batches). */
  private lastWakeCostMs = 0
  private readonly writer: StoreWriter<Entry>
  private historyTimer: NodeJS.Timeout | undefined
  private runningTimer: NodeJS.Timeout | undefined
  private loading: Promise<void> = Promise.resolve()
  /** The pods of the last load, by the text of their documents: a reload reads only what changed. */
  private readonly manifests = new ManifestCache()
  private readonly prepared = new WeakMap<CheckSpec, Prepared>()
  private readonly senders = new Set<PendingDeliveries>()

  constructor(options: MonitorOptions) {
    super()
    rejectUnknownKeys('new Monitor', options, MONITOR_OPTION_KEYS)
    this.options = options
    this.store = options.store
    this.logger = options.logger === undefined ? console : options.logger
    this.scheduler = new Scheduler({ concurrency: options.concurrency ?? 256 })
    this.minWakeIntervalMs = options.wakeIntervalMs ?? DEFAULT_WAKE_INTERVAL_MS
    this.wakeShare = Math.min(1, Math.max(0.01, options.wakeShare ?? DEFAULT_WAKE_SHARE))
    this.writer = new StoreWriter<Entry>({
      store: this.store,
      logger: this.logger,
      redact: this.redact,
      stateOf: (entry, now) => {
        if (this.entries.get(entry.spec.id) !== entry || !entry.owned) return undefined
        entry.savedAt = now
        entry.unsaved = false
        // A copy: the entry's state is updated in place by the next run.
        return { ...entry.state }
      },
    })
    this.silences = new Silences(
      this.store,
      options.clock,
      () => this.silencesChanged(),
      this.redact,
      () => this.secrets.version,
    )
  }

  /** Silences (kept in the store): they hold notifications back, never states. */
  readonly silences: Silences

  /** The silence or maintenance window holding the check's notifications back now, if any. */
  silenced(id: string): SilenceMark | undefined {
    const entry = this.entries.get(id)
    return entry ? this.silences.match(entry.spec, entry.windows) : undefined
  }

  /** `text` with every credential masked: the manifests' secrets by value, and the usual patterns. */
  readonly redact = (text: string): string => this.secrets.redact(text)

  /** The highest index so far (Consul-style); raises on every change of any check. */
  get index(): number {
    return this.currentIndex
  }

  /**
   * Loads manifests (files or directories) and applies what changed since the last load:
   * new checks are added, checks no manifest names any more are removed, and changed
   * checks restart — keeping their state unless what they check changed. Throws a
   * `ManifestError` (file:line and key) and keeps the previous checks when a manifest is bad.
   */
  load(paths: string[]): Promise<void> {
    const next = this.loading.then(() => this.applyLoad(paths))
    this.loading = next.catch(() => {})
    return next
  }

  /** Loads the same paths again (SIGHUP, a changed file). */
  reload(): Promise<void> {
    return this.load(this.paths)
  }

  /**
   * Starts checking. A check with a result from its last interval (in the store) runs next
   * an interval after it; any other first runs within its interval, or within 30 s when the
   * interval is longer (firstRuns): at its point of the interval (phaseMs) with replicas, at
   * a random point without.
   */
  start(): void {
    if (this.started) return
    this.started = true
    if (this.stopping.signal.aborted) this.stopping = stopController()
    for (const entry of this.entries.values()) if (entry.owned) this.schedule(entry)
    this.scheduler.start()
    this.historyTimer = setInterval(() => this.writeEndedMinutes(), this.options.historyFlushMs ?? 15_000)
    this.historyTimer.unref()
    if (this.store.markRunning) {
      this.markRunning(true)
      this.runningTimer = setInterval(() => this.markRunning(true), RUNNING_MARK_MS)
      this.runningTimer.unref()
    }
  }

  /** Tells readers of the store that this monitor runs, or has stopped (see `MonitorStore.markRunning`). */
  private markRunning(running: boolean): void {
    try {
      this.store.markRunning?.(Date.now(), running)
    } catch (error) {
      this.writer.storeError('marking the store', error)
    }
  }

  /**
   * Registers a sender of notifications (webhooks, Alertmanager) that `stop()` drains
   * within the shutdown timeout. Returns a function that unregisters it.
   */
  addDeliveries(sender: PendingDeliveries): () => void {
    this.senders.add(sender)
    return () => this.senders.delete(sender)
  }

  /**
   * Stops every check (runs in flight end at once), writes everything pending to the
   * store, then gives pending deliveries until the shutdown timeout (counted from this
   * call) and abandons what is left, with one log line.
   */
  async stop(): Promise<void> {
    const deadline = Date.now() + (this.options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)
    this.started = false
    this.stopping.abort(new Error('the monitor is stopping'))
    const stopping = this.scheduler.stop()
    clearInterval(this.historyTimer)
    this.historyTimer = undefined
    for (const entry of this.entries.values()) {
      entry.push?.stop()
      entry.push = undefined
      this.scheduler.remove(entry.spec.id)
    }
    await stopping
    await Promise.allSettled([...this.entries.values()].map((e) => e.checker?.close()))
    for (const entry of this.entries.values()) entry.checker = undefined
    this.writeHistory(() => true)
    for (const entry of this.entries.values()) if (entry.unsaved) this.markDirty(entry)
    this.writer.flushAll()
    clearInterval(this.runningTimer)
    this.runningTimer = undefined
    if (this.store.markRunning) this.markRunning(false)
    for (const waiter of this.waiters) waiter.resolve()
    this.waiters.clear()
    await drainDeliveries(this.senders, deadline, this.logger)
    // Silences still being masked in the store, within what is left of the shutdown timeout.
    const waited = new AbortController()
    await Promise.race([this.remasking, sleep(Math.max(0, deadline - Date.now()), waited.signal)])
    waited.abort()
    this.silences.close()
    limitedLog(this.logger).flush()
  }

  /**
   * The ids of the pods the last load read with nothing to check: p2 pod manifests without
   * a `status_port`, which p2 does not check either (the start and reload lines name them).
   */
  get podsWithoutChecks(): readonly string[] {
    return this.unchecked
  }

  /**
   * How this monitor keeps its schedule: runs started and ticks skipped since it was made
   * (a run still going, or the monitor a whole interval behind), runs in flight and
   * waiting for a slot now, and how late runs started after they were due (a histogram,
   * seconds). `/metrics` serves them as `probekit_monitor_check_runs_*` and
   * `probekit_monitor_check_run_delay_seconds`.
   */
  get runStats(): RunStats {
    return { ...this.scheduler.stats, delays: this.scheduler.delays }
  }

  /**
   * All current states, sorted by pod, node and check; with `scope`, only those of that pod,
   * node and states. Only the states returned are copied (the API answers `GET /v1/pods/web`
   * or `?state=critical` from a 50,000-check monitor without copying the other 49,990).
   */
  states(scope: StateScope = {}): CheckState[] {
    const { pod, node, state: wanted } = scope
    const { all, byPod } = this.sortedEntries()
    const now = Date.now()
    const states: CheckState[] = []
    for (const entry of pod === undefined ? all : (byPod.get(pod) ?? [])) {
      if (node !== undefined && entry.spec.node !== node) continue
      const current = this.currentState(entry)
      if (wanted === undefined || wanted.includes(current.state)) states.push(this.shown(entry, current, now))
    }
    return states
  }

  /** The entries in the order of `states()`, and by pod: sorted again only after a load changed them. */
  private sortedEntries(): SortedEntries {
    if (this.sorted) return this.sorted
    const all = [...this.entries.values()].sort((a, b) => compareChecks(a.spec, b.spec))
    const byPod = new Map<string, Entry[]>()
    for (const entry of all) {
      const list = byPod.get(entry.spec.pod)
      if (list) list.push(entry)
      else byPod.set(entry.spec.pod, [entry])
    }
    this.sorted = { all, byPod }
    return this.sorted
  }

  state(id: string): CheckState | undefined {
    const entry = this.entries.get(id)
    return entry ? this.shownState(entry) : undefined
  }

  /** Whether this monitor runs the check (and so speaks for it): always, without replicas. */
  owns(id: string): boolean {
    return this.entries.get(id)?.owned ?? false
  }

  /** The manifest's alert labels of a check (`labels:` of its pod and its own). */
  labels(id: string): Readonly<Record<string, string>> {
    return this.entries.get(id)?.spec.labels ?? {}
  }

  /**
   * Re-reads the share (`options.share`): starts the checks this replica gained (taking
   * over the state their previous owner published, if it is still there), stops the ones
   * it lost, and wakes long-polls, since what other replicas publish may have changed.
   */
  rebalance(): void {
    const share = this.options.share
    if (!share) return
    // One time base for every check taken over here: their first runs keep the order their
    // delays give them, however long this loop takes.
    const now = Date.now()
    const from = this.scheduler.clock()
    for (const entry of this.entries.values()) {
      const owned = share.owns(entry.spec.id)
      if (owned === entry.owned) {
        if (owned && share.republish?.(entry.spec.id)) this.markDirty(entry)
        continue
      }
      entry.owned = owned
      if (owned) {
        const published = share.published?.(entry.spec.id)
        entry.state =
          published && published.kind === entry.spec.kind && published.target === entry.spec.target
            ? { ...published, index: this.currentIndex + 1 }
            : this.freshState(
                entry.spec,
                undefined,
                'taken over from another monitor replica; waiting for its first result',
              )
        entry.bucket = undefined
        // A state carried over is published again under this replica's lease. A fresh one
        // ("waiting for its first result") is not: its first result, due within a quarter
        // second, is, and a dead replica's checks come over thousands at once.
        if (published || entry.spec.kind === 'push' || !this.started) this.markDirty(entry)
        // Its previous owner is gone (or gave it up): its first run here goes ahead of the
        // runs waiting for a slot (those ran an interval ago), at the time takeoverDelayMs says.
        if (this.started) {
          const { id, intervalMs } = entry.spec
          // Its previous owner ran it at its phase. An owner whose state is still published
          // is alive (states live on their owner's lease) and ran it at its last phase point;
          // one whose state went with its lease ran it last before it died, at the worst a
          // lease TTL before it was found gone.
          const lagMs = published ? 0 : (share.departureLagMs?.() ?? 0)
          const first = takeoverDelayMs(lastPhaseAt(id, intervalMs, now - lagMs), intervalMs, now)
          // Then back in step with its phase, at least half an interval after this first run.
          let then = first + nextPhaseDelayMs(id, intervalMs, now + first)
          if (then - first < intervalMs / 2) then += intervalMs
          this.schedule(entry, first, true, then, from)
        }
      } else {
        if (entry.bucket && entry.bucket.count > 0) this.writer.addSample(entry.bucket.toSample(entry.spec.id))
        entry.bucket = undefined
        this.retire(entry)
        share.released?.(entry.spec.id)
        entry.state = this.freshState(entry.spec, undefined, NOT_OURS)
      }
    }
    this.raise()
  }

  /**
   * Other replicas published states of these checks (ReplicaShare calls it, with what its
   * store's watch brought): a check this replica runs whose state another replica wrote
   * over is written again, and readers (API, long-poll) wake. Ownership is unchanged by
   * what others publish: that is `rebalance()`, on a membership change.
   */
  statesPublished(ids: Iterable<string>): void {
    const share = this.options.share
    if (!share) return
    for (const id of ids) {
      const entry = this.entries.get(id)
      if (entry?.owned && share.republish?.(id)) this.markDirty(entry)
    }
    this.raise()
  }

  /** An entry's state as readers see it: for another replica's check, what that replica published. */
  private shownState(entry: Entry, now?: number): CheckState {
    return this.shown(entry, this.currentState(entry), now)
  }

  /** A check's state as its owner last reported it: this replica's, or the one its owner published. */
  private currentState(entry: Entry): Readonly<CheckState> {
    if (!entry.owned) {
      const published = this.options.share?.published?.(entry.spec.id)
      if (published) return published
    }
    return entry.state
  }

  /** A copy of `current` for readers, with the silence holding it back now. */
  private shown(entry: Entry, current: Readonly<CheckState>, now?: number): CheckState {
    const silenced = this.silences.match(entry.spec, entry.windows, now)
    return silenced ? { ...current, silenced } : { ...current }
  }

  /**
   * A check's bounded history as the store keeps it, with the minute in progress (held in
   * memory until the minute is over) added: a reader sees the latest results at once.
   */
  history(id: string, query: HistoryQuery = {}): HistoryPoint[] {
    const points = this.store.history(id, query)
    const limit = Math.max(0, Math.floor(query.limit ?? 100_000))
    if (limit === 0) return points
    const since = query.since === undefined ? Number.NaN : Date.parse(query.since)
    // Minutes handed to the store writer and not yet written (it paces history samples),
    // then the minute in progress.
    for (const sample of this.writer.pendingSamplesOf(id)) {
      const { id: _, ...point } = sample
      addPoint(points, point as HistoryPoint, since, limit)
    }
    const entry = this.entries.get(id)
    const bucket = entry?.owned ? entry.bucket : undefined
    if (bucket && bucket.count > 0) addPoint(points, bucket.toPoint(), since, limit)
    return points
  }

  /** The loaded pods (for listings); their checks are in `states()`. */
  specs(): CheckSpec[] {
    return [...this.entries.values()].map((e) => e.spec)
  }

  /**
   * Resolves with the states once the index exceeds `afterIndex`, or after `timeoutMs`
   * with the current states — the long-poll of Consul's blocking queries.
   */
  waitForChange(afterIndex: number, timeoutMs: number, signal?: AbortSignal): Promise<ChangeSnapshot> {
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(this.snapshot(afterIndex))
    const published = this.published
    const fresh = published !== undefined && performance.now() - this.publishedAt < this.wakeIntervalMs
    // Behind the last snapshot: answered from it at once. At it, with newer changes: the
    // next wake-up (at most one wake interval away) answers, so a watcher gets at most one
    // answer per snapshot however fast the index moves.
    if (this.currentIndex > afterIndex && !(fresh && afterIndex >= (published as ChangeSnapshot).index)) {
      return Promise.resolve(this.snapshot(afterIndex))
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        afterIndex,
        resolve: (snapshot) => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          this.waiters.delete(waiter)
          resolve(snapshot ?? this.snapshot(afterIndex))
        },
      }
      const onAbort = () => waiter.resolve()
      const timer = setTimeout(onAbort, timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(waiter)
      if (this.currentIndex > afterIndex) this.wake()
    })
  }

  /**
   * The states as readers see them, shared: the last snapshot while it is younger than the
   * wake interval and newer than `afterIndex`, else a new one. 2,000 watchers coming back
   * after a change cost one copy of the states, not 2,000.
   */
  private snapshot(afterIndex: number): ChangeSnapshot {
    const published = this.published
    if (
      published !== undefined &&
      published.index > afterIndex &&
      performance.now() - this.publishedAt < this.wakeIntervalMs
    ) {
      return published
    }
    return this.publish()
  }

  private publish(): ChangeSnapshot {
    this.published = { index: this.currentIndex, states: this.states() }
    this.publishedAt = performance.now()
    return this.published
  }

  /** The time between two wake-ups now: the wake interval, longer when answering the last one took long. */
  private get wakeIntervalMs(): number {
    return Math.max(this.minWakeIntervalMs, this.lastWakeCostMs / this.wakeShare)
  }

  /** Long-poll watchers waiting now. */
  get watcherCount(): number {
    return this.waiters.size
  }

  /**
   * A report for a push check: `success`, `start`, `fail` or an exit status (0 is success).
   * `checkName` is `pod/check`, `node/pod/check`, or `check` when only one push check has
   * that name. Returns false if no push check matches.
   */
  push(checkName: string, kind: PushKind, body?: string): boolean {
    assertPushKind(kind)
    const entry = this.findPush(checkName)
    if (!entry) return false
    // Redacted whole, before the push watch keeps its tail.
    const shown = body?.trim() ? this.redact(body.trim()) : undefined
    if (entry.push) entry.push.push(kind, shown)
    else if (kind !== 'start') {
      const ok = kind === 'success' || kind === 0
      const text = typeof kind === 'number' ? `push exit status ${kind}` : `push ${kind}`
      this.apply(entry, pushResult(entry.spec.id, ok ? 'pass' : 'fail', headAndTail(text, shown)))
    }
    return true
  }

  /** The push check a push to `checkName` reaches (as `push` resolves it), e.g. for its secret. */
  pushCheck(checkName: string): PushCheckSpec | undefined {
    const spec = this.findPush(checkName)?.spec
    return spec?.kind === 'push' ? spec : undefined
  }

  private findPush(name: string): Entry | undefined {
    const direct = this.entries.get(name)
    if (direct) return direct.spec.kind === 'push' ? direct : undefined
    const matches: Entry[] = []
    for (const entry of this.entries.values()) {
      if (entry.spec.kind !== 'push') continue
      const { pod, check } = entry.spec
      if (name === `${pod}/${check}` || name === check) matches.push(entry)
    }
    const exact = matches.filter((e) => name === `${e.spec.pod}/${e.spec.check}`)
    if (exact.length === 1) return exact[0]
    return matches.length === 1 ? matches[0] : undefined
  }

  private async applyLoad(paths: string[]): Promise<void> {
    const defaults: { node?: string; caFile?: string } = {}
    if (this.options.node) defaults.node = this.options.node
    if (this.options.caFile) defaults.caFile = this.options.caFile
    // A stop while this load runs ends it before it changes anything (the store may be
    // closed next); a load into a monitor stopped before it applies as ever.
    const stopping = this.stopping.signal
    const running = !stopping.aborted
    const stoppedSince = () => running && stopping.aborted
    // Read asynchronously: a slow or stuck file system holds up this load, not the checks.
    // Checks that are due come first: parsing and preparing take the time they leave.
    const behind = () => this.scheduler.behind()
    let pods: PodManifest[]
    try {
      pods = await readManifestsCached(
        this.manifests,
        paths,
        defaults,
        running ? { behind, signal: stopping } : { behind },
      )
    } catch (error) {
      if (stoppedSince()) return
      throw error
    }
    this.paths = [...paths]
    if (!this.restored) {
      this.restored = new Map()
      try {
        for (const state of this.store.loadStates()) {
          this.restored.set(state.id, state)
          this.currentIndex = Math.max(this.currentIndex, state.index)
        }
      } catch (error) {
        this.writer.storeError('reading the stored states', error)
      }
    }
    // Everything that takes time per check is done first, with the event loop free every
    // few milliseconds (a fleet of 50,000 checks takes about a second): the secrets every
    // target is redacted with, then each check's redacted target, fingerprint and, where it
    // is new or changed, its subject. What changes the monitor's checks then runs at once.
    // A spec handed to an earlier load (unchanged in its manifest) has most of it done.
    const pause = timeSlices(LOAD_SLICE_MS, behind)
    for (const pod of pods) {
      for (const read of pod.checks) {
        // The secrets of a spec registered before are in the set already (it only grows),
        // unless they come from a file, which may say something else now.
        const known = this.prepared.get(read)
        if (!known)
          this.prepared.set(read, {
            readsFiles: registerSecrets(read, this.secrets),
            secretsVersion: -1,
            spec: read,
            fingerprint: '',
          })
        else if (known.readsFiles) known.readsFiles = registerSecrets(read, this.secrets)
        await pause()
      }
      if (stoppedSince()) return
    }
    const wanted = new Map<string, WantedCheck>()
    for (const pod of pods) {
      for (const read of pod.checks) {
        const prepared = this.prepared.get(read)!
        if (prepared.secretsVersion !== this.secrets.version) {
          // What is shown of the check (a command line, a URL) carries none of its secrets.
          // A copy: the specs read are shared with the next load (the manifest cache).
          const target = this.redact(read.target)
          prepared.spec = target === read.target ? read : { ...read, target }
          prepared.fingerprint = checkFingerprint(prepared.spec)
          prepared.secretsVersion = this.secrets.version
        }
        const { spec, fingerprint } = prepared
        const unchanged = this.entries.get(spec.id)?.fingerprint === fingerprint
        wanted.set(spec.id, { spec, fingerprint, subject: unchanged ? '' : subjectOf(spec) })
        await pause()
      }
      if (stoppedSince()) return
    }
    if (stoppedSince()) return

    let changed = false
    for (const [id, entry] of this.entries) {
      if (wanted.has(id)) continue
      this.retire(entry)
      this.entries.delete(id)
      this.sorted = undefined
      this.writer.removeState(id)
      changed = true
    }
    // Stored checks that no manifest names any more are dropped on the first load.
    for (const id of this.restored.keys()) if (!wanted.has(id)) this.writer.removeState(id)

    for (const [id, { spec, fingerprint, subject }] of wanted) {
      const existing = this.entries.get(id)
      if (existing && existing.fingerprint === fingerprint) continue
      let state: CheckState
      if (existing) {
        this.retire(existing)
        state =
          existing.subject === subject
            ? { ...existing.state }
            : this.freshState(spec, existing.state, 'the check changed; waiting for its first result')
      } else {
        const stored = this.restored.get(id)
        state =
          stored && stored.kind === spec.kind && stored.target === spec.target
            ? {
                ...stored,
                // Written by an earlier run, perhaps before a secret was configured.
                output: this.redact(stored.output),
                successes: stored.successes ?? 0,
                failures: stored.failures ?? 0,
              }
            : this.freshState(spec, undefined, '')
        this.restored.delete(id)
      }
      state.target = spec.target
      const owned = this.options.share ? this.options.share.owns(id) : true
      if (!owned && !existing) state = this.freshState(spec, undefined, NOT_OURS)
      const entry: Entry = {
        spec,
        fingerprint,
        subject,
        state,
        savedAt: 0,
        unsaved: true,
        bucket: undefined,
        reported: '',
        reportedSecrets: -1,
        reportedAs: '',
        owned,
        windows: spec.maintenance ?? [],
      }
      this.entries.set(id, entry)
      this.sorted = undefined
      this.markDirty(entry)
      changed = true
      if (this.started && owned) this.schedule(entry)
    }
    this.unchecked = pods.filter((pod) => pod.checks.length === 0).map((pod) => pod.id)
    if (changed) this.raise()
    if (this.writer.hasPendingRemovals) this.writer.scheduleFlush()
    // Silences written before a secret was configured hold it in the store: mask it there.
    if (this.secrets.version !== this.silencesMaskedAt) {
      this.silencesMaskedAt = this.secrets.version
      this.remasking = this.silences
        .remask()
        .catch((error) => this.writer.storeError('masking secrets in silences', error))
    }
  }

  private freshState(spec: CheckSpec, previous: CheckState | undefined, output: string): CheckState {
    const now = new Date().toISOString()
    const state: CheckState = {
      pod: spec.pod,
      node: spec.node,
      check: spec.check,
      id: spec.id,
      kind: spec.kind,
      target: spec.target,
      state: 'unknown',
      output,
      since: now,
      successes: 0,
      failures: 0,
      index: this.currentIndex + 1,
    }
    if (previous && previous.state !== 'unknown') this.transition(state, previous.state, 'unknown', now, output)
    return state
  }

  /** Stops an entry's runs and releases its checker. */
  private retire(entry: Entry): void {
    this.scheduler.remove(entry.spec.id)
    entry.push?.stop()
    entry.push = undefined
    const checker = entry.checker
    entry.checker = undefined
    checker?.close().catch(() => {})
  }

  private schedule(entry: Entry, firstDelayMs?: number, ahead = false, thenDelayMs?: number, fromMs?: number): void {
    const { spec } = entry
    if (spec.kind === 'push') {
      const last = entry.state.checkedAt ? Date.parse(entry.state.checkedAt) : undefined
      entry.push = new PushWatch(spec, Number.isFinite(last) ? last : undefined, (outcome) =>
        this.apply(entry, outcome),
      )
      return
    }
    entry.checker ??= buildChecker(spec, this.secrets, this.options.connectionsPerOrigin)
    const checker = entry.checker
    if (firstDelayMs === undefined) {
      const lastRunAt = entry.state.checkedAt ? Date.parse(entry.state.checkedAt) : Number.NaN
      const share = this.options.share
      const runs = firstRuns(
        lastRunAt,
        spec.intervalMs,
        Date.now(),
        Math.random,
        share ? (atMs) => nextPhaseDelayMs(spec.id, spec.intervalMs, atMs) : undefined,
      )
      firstDelayMs = runs.firstMs
      thenDelayMs = runs.thenMs
    }
    this.scheduler.add(
      spec.id,
      spec.intervalMs,
      () =>
        checker.run(this.stopping.signal).then((outcome) => {
          // A result that arrives after a stop or a reload replaced the check is dropped.
          if (this.started && this.entries.get(spec.id) === entry && entry.checker === checker)
            this.apply(entry, outcome)
        }),
      // Replicas run a check at its phase, which every replica knows (see rebalance); a
      // monitor alone at a random point (firstRuns): measured at 50,000 checks on one core,
      // the fixed phases gave p99 drift of 650-860 ms in half the runs against 20-60 ms at
      // random points, a cause not yet found.
      firstDelayMs,
      ahead,
      thenDelayMs,
      fromMs,
    )
  }

  /** Applies one check result: thresholds, state, transition, events, and what to write. */
  private apply(entry: Entry, outcome: CheckerResult): void {
    // A push that reached a replica not owning the check: its owner records it (send pushes to every replica).
    if (!entry.owned) return
    const state = entry.state
    const previousState = state.state
    const previousOutput = state.output
    const seen = stateOfStatus(outcome.status)
    const next = applyThresholds(previousState, state, seen, entry.spec.thresholds)
    // Checkers redact before they cut; this is the last word for whatever reaches the state.
    // A checker reporting the very string it reported last time (the HTTP checker does for
    // a repeated answer), with no secret added since, needs no redacting again.
    let output = previousOutput
    const secretsVersion = this.secrets.version
    if (
      outcome.output !== entry.reported ||
      secretsVersion !== entry.reportedSecrets ||
      previousOutput !== entry.reportedAs
    ) {
      const redacted = this.redact(outcome.output)
      // The same text as before keeps the string already held: a fleet answering `ok` run
      // after run allocates nothing that outlives the check.
      if (redacted !== previousOutput) output = redacted
      entry.reported = outcome.output
      entry.reportedSecrets = secretsVersion
      entry.reportedAs = output
    }
    // The state is updated in place (readers, the store and listeners get copies): one object
    // per check for its lifetime, not a new one per run for the garbage collector to promote.
    const streaksChanged = next.successes !== state.successes || next.failures !== state.failures
    state.state = next.state
    state.output = output
    state.checkedAt = outcome.time
    state.durationMs = Math.round(outcome.durationMs * 1000) / 1000
    state.successes = next.successes
    state.failures = next.failures
    const { facts } = outcome
    if (facts.httpStatus !== undefined) state.httpStatus = facts.httpStatus
    else if (state.httpStatus !== undefined) delete state.httpStatus
    if (facts.sslEarliestExpiry !== undefined) state.sslEarliestExpiry = facts.sslEarliestExpiry
    else if (state.sslEarliestExpiry !== undefined) delete state.sslEarliestExpiry
    if (facts.sslSubject !== undefined) state.sslSubject = facts.sslSubject
    else if (state.sslSubject !== undefined) delete state.sslSubject
    if (facts.sslWarningDays !== undefined) state.sslWarningDays = facts.sslWarningDays
    else if (state.sslWarningDays !== undefined) delete state.sslWarningDays
    if (facts.grpcStatusCode !== undefined) state.grpcStatusCode = facts.grpcStatusCode
    else if (state.grpcStatusCode !== undefined) delete state.grpcStatusCode
    if (facts.grpcServingStatus !== undefined) state.grpcServingStatus = facts.grpcServingStatus
    else if (state.grpcServingStatus !== undefined) delete state.grpcServingStatus
    const stateChanged = next.state !== previousState
    const outputChanged = output !== previousOutput
    let transition: Transition | undefined
    if (stateChanged || outputChanged) state.index = ++this.currentIndex
    if (stateChanged) {
      state.since = outcome.time
      transition = this.transition(state, previousState, next.state, outcome.time, output)
    }
    entry.unsaved = true
    this.sample(entry, outcome.time, outcome.durationMs, seen, next.state)
    const now = Date.now()
    const outputSyncMs = this.options.outputSyncMs ?? 300_000
    if (stateChanged || streaksChanged || now - entry.savedAt >= outputSyncMs) this.markDirty(entry)
    if (stateChanged || outputChanged) this.wake()
    if (transition) {
      const level = next.state === 'critical' ? 'warn' : 'info'
      // One line per check per 10 s: a flapping check (or a flood of pushes) writes a line and a count.
      if (this.options.logTransitions !== false)
        limitedLog(this.logger).write(
          level,
          {
            cause: 'state changes',
            subject: `${entry.spec.pod}/${entry.spec.check} on ${entry.spec.node}`,
            now: next.state,
          },
          `${entry.spec.pod}/${entry.spec.check} on ${entry.spec.node}: ${transition.from} → ${transition.to}: ${firstLine(output)}`,
          {
            id: transition.id,
            from: transition.from,
            to: transition.to,
          },
        )
      this.safeEmit('change', transition, { ...state })
    }
    // A copy only for someone listening (the event stream): most runs have no listener.
    if (this.listenerCount('result') > 0) this.safeEmit('result', { ...state })
  }

  private transition(state: CheckState, from: HealthState, to: HealthState, at: string, output: string): Transition {
    const transition: Transition = {
      pod: state.pod,
      node: state.node,
      check: state.check,
      id: state.id,
      from,
      to,
      at,
      output,
      index: state.index,
    }
    this.writer.addTransition(transition)
    return transition
  }

  private safeEmit<K extends 'change' | 'result'>(
    event: K,
    ...args: K extends 'change' ? [Transition, CheckState] : [CheckState]
  ): void {
    try {
      ;(this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (error) {
      limitedLog(this.logger).write(
        'error',
        { cause: `"${event}" listener threw` },
        `a "${event}" listener of the monitor threw: ${reasonOf(error, this.secrets)}`,
        { event },
      )
    }
  }

  /**
   * A silence was added or ended (here, or on another replica through the store): the
   * event stream gets the checks whose mark changed, and long polls wake with a new index.
   */
  private silencesChanged(): void {
    const listening = this.listenerCount('result') > 0
    for (const entry of this.entries.values()) {
      const mark = this.silences.match(entry.spec, entry.windows)?.id
      if (mark === entry.silencedId) continue
      entry.silencedId = mark
      if (listening) this.safeEmit('result', this.shownState(entry))
    }
    this.raise()
  }

  private raise(): void {
    this.currentIndex++
    this.wake()
  }

  /**
   * Wakes the long-poll watchers, off the path of whatever changed: at most once per wake
   * interval, with one snapshot for all of them, answered `WAKE_BATCH` at a time with a
   * turn of the event loop between batches — 2,000 watchers never hold the loop (or the
   * checking schedule) for more than a few milliseconds.
   */
  private wake(): void {
    if (this.waiters.size === 0 || this.wakeScheduled) return
    this.wakeScheduled = true
    const deliver = (): void => {
      this.wakeScheduled = false
      if (this.waiters.size === 0) return
      const snapshot = this.publish()
      // Watchers that arrived at this very index keep waiting for the next change.
      const waiters = [...this.waiters].filter((w) => w.afterIndex < snapshot.index)
      for (const waiter of waiters) this.waiters.delete(waiter)
      let costMs = 0
      const answerFrom = (start: number): void => {
        const startedAt = performance.now()
        const end = Math.min(start + WAKE_BATCH, waiters.length)
        for (let i = start; i < end; i++) (waiters[i] as Waiter).resolve(snapshot)
        // Queued after the watchers' continuations, which write the answers: this measures them too.
        queueMicrotask(() => {
          costMs += performance.now() - startedAt
          if (end < waiters.length) setImmediate(answerFrom, end)
          else this.lastWakeCostMs = costMs
        })
      }
      answerFrom(0)
    }
    const wait = this.publishedAt + this.wakeIntervalMs - performance.now()
    if (this.published === undefined || wait <= 0) setImmediate(deliver)
    else setTimeout(deliver, wait).unref()
  }

  private sample(entry: Entry, time: string, durationMs: number, observed: HealthState, state: HealthState): void {
    const bucket = entry.bucket
    // Runs within the bucket's minute (the same ISO prefix) need no date parsing.
    if (bucket?.holds(time)) {
      bucket.add(durationMs, observed, state)
      return
    }
    const minute = MinuteBucket.minuteOf(time)
    if (bucket && bucket.minute !== minute) {
      this.writer.addSample(bucket.toSample(entry.spec.id))
      entry.bucket = undefined
    }
    entry.bucket ??= new MinuteBucket(minute)
    entry.bucket.add(durationMs, observed, state)
  }

  /**
   * Writes the buckets of minutes that are over: those of checks that have not run since
   * (a check that runs writes its bucket as its next minute starts, in `sample`).
   */
  private writeEndedMinutes(): void {
    const current = Math.floor(Date.now() / 60_000) * 60_000
    this.writeHistory((bucket) => bucket.minute < current)
  }

  /** Moves the buckets `ended` picks to the pending writes. */
  private writeHistory(ended: (bucket: MinuteBucket) => boolean): void {
    for (const entry of this.entries.values()) {
      const bucket = entry.bucket
      if (bucket && bucket.count > 0 && ended(bucket)) {
        this.writer.addSample(bucket.toSample(entry.spec.id))
        entry.bucket = undefined
      }
    }
    if (this.writer.hasPendingSamples) this.writer.scheduleFlush()
  }

  private markDirty(entry: Entry): void {
    this.writer.markDirty(entry)
  }
}

/**
 * Adds a point from memory to the points read from the store (oldest first, at most
 * `limit`): merged with a point of the same minute (the store may hold part of it, written
 * before a restart or a change of owner), in time order otherwise.
 */
function addPoint(points: HistoryPoint[], point: HistoryPoint, since: number, limit: number): void {
  const at = Date.parse(point.at)
  if (at < since) return
  let i = points.length
  while (i > 0 && Date.parse((points[i - 1] as HistoryPoint).at) > at) i--
  const before = points[i - 1]
  if (before && Date.parse(before.at) === at) {
    points[i - 1] = mergePoints(before, point)
    return
  }
  points.splice(i, 0, point)
  if (points.length > limit) points.shift()
}

/** The signal every run listens to for a stop: one listener per run in flight, by design. */
function stopController(): AbortController {
  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  return controller
}

function buildChecker(
  spec: Exclude<CheckSpec, { kind: 'push' }>,
  secrets: SecretSet,
  connectionsPerOrigin: number | undefined,
): Checker {
  switch (spec.kind) {
    case 'http':
      return httpChecker(spec, secrets, connectionsPerOrigin === undefined ? {} : { connectionsPerOrigin })
    case 'tcp':
      return tcpChecker(spec, secrets)
    case 'grpc':
      return grpcChecker(spec, secrets)
    case 'probe':
      return probeChecker(spec, secrets)
    case 'exec':
      return execChecker(spec, secrets)
  }
}

/** What a check looks at, without its schedule and thresholds. */
function subjectOf(spec: CheckSpec): string {
  // A push check's new token does not make it another check.
  const { intervalMs: _i, timeoutMs: _t, thresholds: _th, source: _s, ...rest } = spec
  if (rest.kind === 'push') delete rest.tokens
  return JSON.stringify(rest)
}

/**
 * An output as a log line shows it: the first line (at most 200 characters), then how many
 * lines follow, so a multi-line output is not mistaken for a one-liner. The whole output
 * is in the store and the API.
 */
function firstLine(text: string): string {
  const lines = text.trimEnd().split('\n')
  const first = lines[0] ?? ''
  const shown = first.length > 200 ? `${first.slice(0, 200)}…` : first
  const more = lines.length - 1
  return more > 0 ? `${shown} (+${more} more line${more === 1 ? '' : 's'})` : shown
}
