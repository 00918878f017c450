/**
 * The monitor's store for fleets beyond one machine: current states live in etcd, bound to
 * the writing replica's lease, so a monitor that dies takes its results with it (readers
 * then see `unknown`) and the other replicas take over its checks (see ../replicas.ts).
 *
 * The `MonitorStore` interface is synchronous and the checking path must never wait on a
 * network, so this store keeps an in-memory view of the whole prefix (kept current by one
 * etcd watch) and writes behind: every save lands in the view at once and in a bounded
 * queue that one writer drains in transactions of at most 128 operations. When etcd is
 * frozen or down the monitor keeps checking; the store logs once, keeps the latest value
 * of every key, and re-syncs (a fresh range, a fresh watch, a new lease if the old one
 * expired, every state of this replica written again) when etcd answers again.
 *
 * It talks to etcd's v3 JSON gateway over HTTP with undici (etcd/gateway.ts: every request
 * has a deadline and is cancelled at close; no gRPC stack is loaded). The queue of writes
 * is etcd/write-queue.ts, the lease etcd/lease.ts, the watch etcd/watch.ts, the options
 * and the `etcd://…` address etcd/options.ts; this file keeps the view and the writer.
 *
 * Layout under the prefix (keys are UTF-8, values JSON):
 *
 *     <prefix>/replicas/<replica>            { id, host, pid, startedAt }       lease
 *     <prefix>/state/<node>/<pod>/<check>    { replica, state: CheckState }     lease
 *     <prefix>/transitions/<at>/<replica>/<n> Transition                        bounded
 *     <prefix>/silences/<id>                 Silence                            bounded
 *
 * History is not written to etcd (it would be most of the traffic): each replica keeps
 * the bounded history of the checks it ran in memory.
 *
 * Silences are the one thing written at once rather than behind: a person who adds one
 * is told "added" only once etcd holds it (and so every replica, through its watch), and
 * is told so in one sentence when etcd does not answer. They are rare, and nothing on the
 * checking path waits for them.
 */
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { type Logger, writeLog } from '../../core/logger.js'
import { rejectUnknownKeys } from '../../core/options.js'
import { redact, redactUrl } from '../../core/redact.js'
import { sleep } from '../../core/sleep.js'
import type {
  CheckState,
  HistoryPoint,
  HistoryQuery,
  HistorySample,
  MonitorStore,
  Silence,
  Transition,
} from '../types.js'
import { StoreError } from './errors.js'
import {
  b64,
  EtcdAnswerError,
  EtcdGateway,
  EtcdRefused,
  EtcdUnavailable,
  PERMISSION_DENIED,
  prefixEnd,
  type RawKv,
  unb64,
  type WatchResult,
} from './etcd/gateway.js'
import { EtcdLease } from './etcd/lease.js'
import { connectionOf, ETCD_STORE_OPTION_KEYS, type EtcdStoreOptions, normalizePrefix } from './etcd/options.js'
import { PrefixWatch } from './etcd/watch.js'
import { WriteQueue } from './etcd/write-queue.js'
import { MemoryStore } from './memory.js'
import { DEFAULT_RETENTION, RETENTION_KEYS, type Retention, silencesToDrop } from './retention.js'

export { type EtcdSpec, type EtcdStoreOptions, parseEtcdSpec, shownEtcdSpec } from './etcd/options.js'

/** What the store knows about its link to etcd, for readiness checks and tests. */
export interface EtcdStoreStatus {
  /** etcd answered the latest request. */
  available: boolean
  /** The reason of the latest failure, while unavailable. */
  lastError?: string
  /** This replica's lease (hex), if it holds one. */
  lease?: string
  /** Keys waiting to be written (or deleted). */
  pendingWrites: number
  /** Transitions dropped because etcd was away longer than the queue holds. */
  droppedTransitions: number
}

/** A registered monitor replica. */
export interface ReplicaInfo {
  id: string
  host: string
  pid: number
  startedAt: string
}

/** Deadline of the requests `open()` makes; a refused connection still fails at once. */
const OPEN_TIMEOUT_MS = 5000

/**
 * How long a stopping replica waits at most for the others to take its checks over with
 * their published states before it revokes its lease (within the stop's flush budget).
 */
const HANDOVER_MS = 1500

/**
 * The TTL asked of etcd for a replica's lease: 2 s under `--lease-ttl` from 6 s up, 1 s
 * under it from 3 s. The option promises how long a dead monitor's checks go unchecked
 * (beyond their interval) before other replicas run them; etcd revokes an expired lease up
 * to half a second late (it sweeps every 500 ms), the survivors hear of it a few hundred ms
 * later, and running thousands of taken-over checks at once takes them about a second more
 * (measured: 5,000 checks on each of two survivors, 0.9-1.7 s on a loaded two-core machine),
 * so the lease itself runs out that much sooner.
 */
export function etcdLeaseSeconds(leaseTtlSeconds: number): number {
  if (leaseTtlSeconds >= 6) return leaseTtlSeconds - 2
  return leaseTtlSeconds >= 3 ? leaseTtlSeconds - 1 : leaseTtlSeconds
}

/**
 * A `MonitorStore` in etcd. Open it with `EtcdStore.open()` (or `openStoreAsync('etcd://…')`),
 * which fails with one sentence naming the address when etcd does not answer.
 *
 * @example
 * import { EtcdStore } from 'probekit/monitor'
 * const store = await EtcdStore.open({ endpoints: ['http://127.0.0.1:2379'], prefix: '/probekit' })
 * console.log(store.loadStates().length, 'checks in the fleet')
 * await store.shutdown()
 */
export class EtcdStore
  extends EventEmitter<{ states: []; members: []; available: [boolean]; silences: [] }>
  implements MonitorStore
{
  /** `etcd://host:port,…/prefix`, for messages. */
  readonly spec: string
  readonly prefix: string
  readonly replicaId: string
  readonly readonly: boolean
  readonly leaseTtlSeconds: number

  private readonly gateway: EtcdGateway
  private readonly logger: Logger | false
  private readonly retention: Retention
  private readonly maxTransitions: number
  private readonly closing = new AbortController()
  private closed = false

  /** Every replica's states, by check id: what `loadStates()` returns. */
  private readonly view = new Map<string, CheckState>()
  /** Which replica published each state in the view. */
  private readonly publishers = new Map<string, string>()
  /** States this replica published and still holds: written again under a new lease. */
  private readonly own = new Map<string, CheckState>()
  private readonly transitionMap = new Map<string, Transition>()
  /** The keys of each check's transitions in the view, for the per-check cap. */
  private readonly transitionKeysById = new Map<string, Set<string>>()
  private transitionKeys: string[] = []
  private transitionKeysDirty = false
  private readonly memberMap = new Map<string, ReplicaInfo>()
  /**
   * Every silence, by id, with the revision of the change that brought it: a change older
   * than what the view holds (a watch catching up after this store's own write) is ignored.
   */
  private readonly silenceMap = new Map<string, { silence: Silence; revision: number }>()
  private readonly localHistory: MemoryStore
  private readonly registration: ReplicaInfo

  private readonly queue: WriteQueue
  private writing: Promise<void> | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private pruneTimer: NodeJS.Timeout | undefined
  private readonly lease: EtcdLease
  private readonly watch: PrefixWatch
  private available = true
  /** When `available` last turned false (performance.now()). */
  private unavailableSince = Number.NEGATIVE_INFINITY
  /**
   * etcd refused a write (no permission, say): only a write it accepts ends that. A read
   * or a keepalive that works meanwhile proves nothing, and must not log "answers again".
   */
  private writeRefused = false
  private lastError: string | undefined
  private transitionSeq = 0
  /** While `open()` runs: a fresh etcd's first write (an fsync) may take longer than a request deadline. */
  private opening = true
  /** Registered among the replicas (`register()`); until then nothing is written. */
  private registered = false
  /** `register()` waiting for its registration to come back through the watch. */
  private echo: { revision: number; reached: () => void } | undefined

  private constructor(options: EtcdStoreOptions) {
    super()
    this.prefix = normalizePrefix(options.prefix)
    const tls = options.endpoints.some((e) => e.startsWith('https:'))
    this.spec = `${tls ? 'etcd+tls' : 'etcd'}://${options.endpoints.map((e) => redactUrl(e).replace(/^https?:\/\//, '')).join(',')}${this.prefix}`
    this.replicaId = options.replicaId ?? `${hostname()}-${process.pid}`
    if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(this.replicaId))
      throw new StoreError(
        `replica id ${JSON.stringify(this.replicaId)} is not usable; use letters, digits, ".", "_", "-", ":" or "@" (at most 128)`,
      )
    this.readonly = options.readonly === true
    this.leaseTtlSeconds = Math.max(2, Math.round(options.leaseTtlSeconds ?? 15))
    this.gateway = new EtcdGateway(options.endpoints, options.requestTimeoutMs ?? 2000, connectionOf(options))
    this.logger = options.logger === undefined ? console : options.logger
    this.retention = { ...DEFAULT_RETENTION, ...options.retention }
    this.localHistory = new MemoryStore(this.retention)
    this.maxTransitions = options.maxTransitions ?? 10_000
    this.queue = new WriteQueue(`${this.prefix}/transitions/`, options.maxPendingTransitions ?? 10_000)
    this.registration = { id: this.replicaId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() }
    this.watch = new PrefixWatch(this.gateway, this.prefix, this.closing.signal, {
      resync: () => this.resync(),
      changed: (result) => this.onWatch(result),
      answered: (sentAt) => this.succeeded({ sentAt }),
      failed: (error) => this.failed(error),
      available: () => this.available,
    })
    this.lease = new EtcdLease(etcdLeaseSeconds(this.leaseTtlSeconds), {
      call: (path, body) => this.call(path, body),
      granted: () => this.writeAllAgain(),
      answered: (sentAt) => this.succeeded({ sentAt }),
      failed: (error) => this.failed(error),
      resume: () => this.kick(),
      retryLater: () => this.retryLater(),
    })
  }

  /**
   * Connects: reads the prefix, and unless read-only takes a lease and registers this
   * replica; then watches the prefix. Throws a `StoreError` naming the address when etcd
   * does not answer, and when another live monitor uses the same replica id.
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    rejectUnknownKeys('EtcdStore.open', options, ETCD_STORE_OPTION_KEYS)
    rejectUnknownKeys('EtcdStore.open: retention', options.retention, RETENTION_KEYS)
    const store = new EtcdStore(options)
    try {
      // Each endpoint in turn: one member down must not stop a monitor from starting.
      for (let attempt = 1; ; attempt++) {
        try {
          await store.resync()
          break
        } catch (error) {
          if (!(error instanceof EtcdUnavailable) || attempt >= store.gateway.endpoints.length) throw error
        }
      }
      if (!store.readonly) {
        store.checkReplicaId()
        if (!options.registerLater) await store.join()
      }
    } catch (error) {
      await store.shutdown({ flushTimeoutMs: 0 })
      throw store.openError(error)
    }
    store.opening = false
    store.watch.start()
    return store
  }

  /**
   * Joins the replicas, for a store opened with `registerLater`: takes the lease, registers
   * this replica (the others hand its share over as they see it) and writes what was saved
   * meanwhile. Call it just before the monitor starts running checks. Throws a
   * `StoreError` like `open()`; a second call does nothing.
   */
  async register(): Promise<void> {
    if (this.registered || this.readonly || this.closed) return
    // Like open(): a first write may wait for etcd's fsync longer than a request deadline.
    this.opening = true
    let revision: number
    try {
      this.checkReplicaId()
      revision = await this.join()
    } catch (error) {
      throw this.openError(error)
    } finally {
      this.opening = false
    }
    this.kick()
    // The other replicas hear of this one through their watches, as this one hears of its
    // own registration: once it is back here they have (all but) let go of this share,
    // and starting now runs none of its checks twice. At most a second: a watch that is
    // slow to answer must not hold the checks back.
    await this.watched(revision, 1000)
  }

  /** Resolves once the watch has seen `revision`, or after `limitMs`. */
  private watched(revision: number, limitMs: number): Promise<void> {
    if (this.watch.revision >= revision || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const reached = () => {
        clearTimeout(timer)
        this.echo = undefined
        resolve()
      }
      const timer = setTimeout(reached, limitMs)
      this.echo = { revision, reached }
    })
  }

  private checkReplicaId(): void {
    const existing = this.memberMap.get(this.replicaId)
    if (existing && existing.host !== this.registration.host)
      throw new StoreError(
        `replica id ${JSON.stringify(this.replicaId)} is in use by a live monitor on ${existing.host} (pid ${existing.pid}); give each replica its own --replica-id`,
      )
  }

  /** Takes the lease and writes the registration; returns the revision of that write. */
  private async join(): Promise<number> {
    await this.lease.grant()
    const answer = await this.call<{ header?: { revision?: string } }>('/v3/kv/put', {
      key: b64(this.key('replicas', this.replicaId)),
      value: b64(JSON.stringify(this.registration)),
      lease: this.lease.id,
    })
    // The grant queued the registration too; it was just written.
    this.queue.delete(this.key('replicas', this.replicaId))
    this.memberMap.set(this.replicaId, this.registration)
    this.registered = true
    this.lease.keepAlive()
    return Number(answer.header?.revision ?? 0)
  }

  /** The one sentence for a failed `open()` or `register()`. */
  private openError(error: unknown): StoreError {
    if (error instanceof StoreError) return error
    const refusal = this.refusal(error)
    if (refusal) return new StoreError(refusal)
    const reason = error instanceof Error ? error.message : String(error)
    return new StoreError(
      `cannot reach etcd at ${this.gateway.endpoints.map((e) => redactUrl(e)).join(', ')} (${redact(reason)}); start etcd there, or fix the address in --store ${this.spec}`,
    )
  }

  /** The live replicas (registered under a lease that has not expired), sorted. */
  members(): string[] {
    const ids = new Set(this.memberMap.keys())
    if (!this.readonly && !this.closed) ids.add(this.replicaId)
    return [...ids].sort()
  }

  /** The registration of a live replica. */
  member(id: string): ReplicaInfo | undefined {
    return this.memberMap.get(id)
  }

  /** The state a replica published for a check, and which replica it was. */
  published(id: string): { state: CheckState; replica: string } | undefined {
    const state = this.view.get(id)
    const replica = this.publishers.get(id)
    return state && replica !== undefined ? { state: { ...state }, replica } : undefined
  }

  status(): EtcdStoreStatus {
    const status: EtcdStoreStatus = {
      available: this.available,
      pendingWrites: this.queue.size,
      droppedTransitions: this.queue.droppedTransitions,
    }
    if (!this.available && this.lastError) status.lastError = this.lastError
    if (this.lease.id) status.lease = BigInt(this.lease.id).toString(16)
    return status
  }

  // ---- MonitorStore ----

  loadStates(): CheckState[] {
    return [...this.view.values()].map((s) => ({ ...s }))
  }

  saveStates(states: readonly CheckState[]): void {
    this.assertWritable()
    for (const state of states) {
      const copy = { ...state }
      this.own.set(state.id, copy)
      this.view.set(state.id, copy)
      this.publishers.set(state.id, this.replicaId)
      this.queue.enqueue(this.key('state', state.id), { kind: 'put', value: this.stateValue(copy), leased: true })
    }
    this.kick()
  }

  /**
   * This replica no longer runs `id` (membership moved it to another): its state is not
   * written again, neither what still waits in the queue (a replica saving while it loaded,
   * before it knew the others) nor after a new lease. The key stays until the new owner
   * writes its own.
   */
  release(id: string): void {
    if (!this.own.delete(id)) return
    this.queue.delete(this.key('state', id))
  }

  /** Removes states this replica published; states of other replicas are theirs to remove. */
  removeStates(ids: readonly string[]): void {
    this.assertWritable()
    for (const id of ids) {
      this.localHistory.removeStates([id])
      if (!this.own.delete(id)) continue
      this.view.delete(id)
      this.publishers.delete(id)
      this.queue.enqueue(this.key('state', id), { kind: 'delete' })
    }
    this.kick()
  }

  addTransitions(transitions: readonly Transition[]): void {
    this.assertWritable()
    const ids = new Set<string>()
    for (const t of transitions) {
      const key = this.key('transitions', `${t.at}/${this.replicaId}/${t.index}.${++this.transitionSeq}`)
      const copy = { ...t }
      this.insertTransition(key, copy)
      this.queue.enqueue(key, { kind: 'put', value: JSON.stringify(copy), leased: false })
      ids.add(t.id)
    }
    // Each check keeps its newest `transitionsPerCheck` now, not at the next prune: a
    // check flapping or pushed in a flood cannot crowd the others out of the fleet's bound.
    const cap = Math.max(0, Math.floor(this.retention.transitionsPerCheck))
    for (const id of ids) {
      const keys = this.transitionKeysById.get(id)
      if (!keys || keys.size <= cap) continue
      const oldest = [...keys].sort().slice(0, keys.size - cap)
      for (const key of oldest) this.dropTransition(key)
      this.transitionKeysDirty = true
    }
    this.kick()
  }

  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[] {
    const limit = query.limit ?? 100
    const keys = this.sortedTransitionKeys()
    const out: Transition[] = []
    for (let i = keys.length - 1; i >= 0 && out.length < limit; i--) {
      const t = this.transitionMap.get(keys[i] as string) as Transition
      if (query.id !== undefined && t.id !== query.id) continue
      if (query.pod !== undefined && t.pod !== query.pod) continue
      if (query.since !== undefined && t.at < query.since) break
      out.push({ ...t })
    }
    return out.reverse()
  }

  /** History stays in this replica's memory (bounded by the retention); etcd holds no history. */
  addSamples(samples: readonly HistorySample[]): void {
    this.localHistory.addSamples(samples)
  }

  history(id: string, query?: HistoryQuery): HistoryPoint[] {
    return this.localHistory.history(id, query)
  }

  /** Every replica's silences, as etcd holds them. */
  loadSilences(): Silence[] {
    return [...this.silenceMap.values()].map((e) => ({ ...e.silence }))
  }

  /**
   * Writes a silence to etcd now, not behind: resolves once etcd holds it (every replica's
   * watch then brings it to that replica), rejects with a `StoreError` within the request
   * deadline when etcd does not answer or refuses. Silences beyond the retention are
   * dropped (by whichever replica saves next; deletes are idempotent).
   */
  async saveSilence(silence: Silence): Promise<void> {
    this.assertWritable()
    const key = this.key('silences', silence.id)
    const endpoint = redactUrl(this.gateway.endpoint)
    let answer: { header?: { revision?: string } }
    const sentAt = performance.now()
    try {
      answer = await this.call('/v3/kv/put', { key: b64(key), value: b64(JSON.stringify(silence)) })
    } catch (error) {
      this.failed(error, { write: true })
      const refusal = this.refusal(error)
      const reason = refusal ? undefined : redact(error instanceof Error ? error.message : String(error))
      throw new StoreError(
        refusal
          ? `the silence was not saved: ${refusal}`
          : `the silence was not saved: etcd at ${endpoint} is not answering (${reason}); add it again once etcd answers (GET /v1/silences shows whether it arrived after all)`,
      )
    }
    this.succeeded({ write: true, sentAt })
    this.setSilence({ ...silence }, Number(answer.header?.revision ?? 0))
    this.pruneSilences()
    this.safeEmit('silences')
  }

  /** Calls `listener` with every silence whenever they change (another replica's, a re-read after a broken watch). */
  watchSilences(listener: (silences: Silence[]) => void): () => void {
    const changed = () => listener(this.loadSilences())
    this.on('silences', changed)
    return () => {
      this.off('silences', changed)
    }
  }

  /** Starts `shutdown()` without waiting for it; prefer `await store.shutdown()`. */
  close(): void {
    void this.shutdown()
  }

  /**
   * Writes what is pending (waiting at most `flushTimeoutMs`, default 2 s), hands this
   * replica's checks to the others with their published states (`handOver`), then revokes
   * its lease — what is left of its states disappears at once, so the other replicas take
   * its checks over now rather than after the lease TTL — and closes every connection.
   * Safe to call more than once.
   */
  async shutdown(options: { flushTimeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.lease.stop()
    clearTimeout(this.retryTimer)
    clearTimeout(this.pruneTimer)
    this.watch.restart()
    const flushTimeoutMs = options.flushTimeoutMs ?? 2000
    if (!this.readonly && flushTimeoutMs > 0 && this.available) {
      const deadline = Date.now() + flushTimeoutMs
      while (this.queue.size > 0 && this.lease.id && this.available && Date.now() < deadline) {
        this.kick()
        await this.writing
      }
      if (this.available) {
        await this.handOver(Math.min(deadline, Date.now() + HANDOVER_MS))
        await this.lease.revoke()
      }
    }
    this.lease.lost()
    this.closing.abort()
    await this.watch.stopped()
    await this.writing?.catch(() => {})
    await this.gateway.close().catch(() => {})
    this.removeAllListeners()
  }

  // ---- internals ----

  /**
   * Gives this replica's checks to the others before its lease goes: the registration is
   * deleted first, so they take the checks over from the states still published under the
   * lease, as from a live replica — with their state and streaks, not from `unknown`, so a
   * stop moves no check through `unknown` and sends no "unknown → passing" notification
   * for each. The lease is revoked once no key is bound to it any more (the others wrote
   * those states under their own leases), or at `deadline`.
   */
  private async handOver(deadline: number): Promise<void> {
    if (!this.lease.id || this.members().every((id) => id === this.replicaId)) return
    try {
      await this.call('/v3/kv/deleterange', { key: b64(this.key('replicas', this.replicaId)) })
      while (Date.now() < deadline) {
        const answer = await this.call<{ keys?: string[] }>('/v3/lease/timetolive', { ID: this.lease.id, keys: true })
        if (!answer.keys?.length) return
        // Each answer lists the keys still bound: a replica of 50,000 checks, some 2 MB.
        await sleep(100)
      }
    } catch {
      // etcd went away meanwhile: the revoke (or the lease's own end) does the rest.
    }
  }

  private key(kind: StoreKeyKind, rest: string): string {
    return `${this.prefix}/${kind}/${rest}`
  }

  private stateValue(state: CheckState): string {
    return JSON.stringify({ replica: this.replicaId, state })
  }

  private assertWritable(): void {
    if (this.readonly) throw new Error(`the etcd store ${this.spec} is open read-only`)
  }

  private call<T>(path: string, body: unknown): Promise<T> {
    return this.gateway.call<T>(path, body, this.closing.signal, this.opening ? OPEN_TIMEOUT_MS : undefined)
  }

  /** Starts the writer if it is idle and there is something to write. */
  private kick(): void {
    if (this.writing || this.queue.size === 0 || this.closing.signal.aborted || this.readonly) return
    if (!this.available && this.retryTimer) return
    this.writing = this.writeLoop().finally(() => {
      this.writing = undefined
    })
  }

  private async writeLoop(): Promise<void> {
    while (this.queue.size > 0 && !this.closing.signal.aborted) {
      // Before `register()` nothing is written: register() kicks the writer.
      if (!this.registered) return
      if (!this.lease.id) {
        // Leased keys wait for a lease; the keepalive loop grants one and kicks again.
        if (!(await this.lease.ensure())) return
      }
      const lease = this.lease.id as string
      const batch = this.queue.nextBatch()
      const ops = batch.map(([key, op]) =>
        op.kind === 'delete'
          ? { requestDeleteRange: { key: b64(key) } }
          : { requestPut: { key: b64(key), value: b64(op.value), ...(op.leased ? { lease } : {}) } },
      )
      const sentAt = performance.now()
      try {
        await this.call('/v3/kv/txn', { success: ops })
      } catch (error) {
        this.queue.abandoned()
        if (error instanceof EtcdAnswerError && /lease not found/.test(error.message)) {
          this.lease.lost()
          continue
        }
        this.failed(error, { write: true })
        this.retryLater()
        return
      }
      this.queue.written(batch)
      this.succeeded({ write: true, sentAt })
      this.pruneTransitions()
    }
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.kick()
    }, 1000)
    this.retryTimer.unref()
  }

  /**
   * Drops the oldest transitions beyond the count and age bounds from the view. In etcd each
   * replica deletes those it wrote, and the first live replica those of replicas gone: every
   * replica deleting every excess key (idempotent, but at start-up, when every check's first
   * result is a transition, three replicas sent three deletes for each of thousands of keys).
   */
  private pruneTransitions(): void {
    const keys = this.sortedTransitionKeys()
    const cutoff = new Date(Date.now() - this.retention.transitionsMs).toISOString()
    let drop = Math.max(0, keys.length - this.maxTransitions)
    while (drop < keys.length && (this.transitionMap.get(keys[drop] as string)?.at ?? '') < cutoff) drop++
    if (drop === 0) return
    const members = this.members()
    const sweeper = members[0] === this.replicaId
    const live = new Set(members)
    for (const key of keys.slice(0, drop)) {
      const writer = this.transitionWriter(key)
      if (writer === this.replicaId || (sweeper && !live.has(writer))) this.dropTransition(key)
      else this.forgetTransition(key)
    }
    this.transitionKeys = keys.slice(drop)
  }

  /** The replica in a transition's key: `PREFIX/transitions/<at>/<replica>/<n>`. */
  private transitionWriter(key: string): string {
    return key.slice(`${this.prefix}/transitions/`.length).split('/')[1] ?? ''
  }

  /**
   * Removes a transition from the view and from etcd: one not written yet is simply never
   * written; one written (or being written now) is deleted.
   */
  private dropTransition(key: string): void {
    this.forgetTransition(key)
    this.queue.dropTransition(key)
  }

  private forgetTransition(key: string): void {
    const t = this.transitionMap.get(key)
    if (!t) return
    this.transitionMap.delete(key)
    const keys = this.transitionKeysById.get(t.id)
    keys?.delete(key)
    if (keys?.size === 0) this.transitionKeysById.delete(t.id)
  }

  /** Keeps a silence in the view unless the view holds a newer change of it; true when it changed. */
  private setSilence(silence: Silence, revision: number): boolean {
    const held = this.silenceMap.get(silence.id)
    if (held && held.revision >= revision && revision > 0) return false
    this.silenceMap.set(silence.id, { silence, revision })
    return true
  }

  /** Drops the silences beyond the retention, from the view at once and from etcd behind. */
  private pruneSilences(): void {
    const silences = [...this.silenceMap.values()].map((e) => e.silence)
    const drop = silencesToDrop(silences, Date.now(), this.retention)
    for (const id of drop) {
      this.silenceMap.delete(id)
      this.queue.enqueue(this.key('silences', id), { kind: 'delete' })
    }
    if (drop.length > 0) this.kick()
  }

  /** Everything bound to an old lease is gone: the registration and every state we hold are written again. */
  private writeAllAgain(): void {
    this.queue.enqueue(this.key('replicas', this.replicaId), {
      kind: 'put',
      value: JSON.stringify(this.registration),
      leased: true,
    })
    for (const state of this.own.values())
      this.queue.enqueue(this.key('state', state.id), { kind: 'put', value: this.stateValue(state), leased: true })
  }

  /**
   * The sentence for an error that retrying will not fix (TLS, login, permissions), naming
   * the flag or the grant that fixes it; undefined for "etcd did not answer".
   */
  private refusal(error: unknown): string | undefined {
    if (error instanceof EtcdRefused) return error.message
    if (!(error instanceof EtcdAnswerError)) return undefined
    const endpoint = redactUrl(this.gateway.endpoint)
    const user = this.gateway.user
    const access = this.readonly ? 'read' : 'readwrite'
    if (error.code === 7 || PERMISSION_DENIED.test(error.message))
      return user === undefined
        ? `etcd at ${endpoint} refused access to the prefix ${this.prefix}/ (permission denied): it has authentication on; give --etcd-user NAME and --etcd-password-file FILE for a user whose role may ${access} ${this.prefix}/`
        : `etcd refused user ${user} access to the prefix ${this.prefix}/ (permission denied); grant its role ${access} on it: etcdctl role grant-permission ROLE --prefix=true ${access} ${this.prefix}/`
    if (user === undefined && /user name is empty/i.test(error.message))
      return `etcd at ${endpoint} has authentication on; give --etcd-user NAME and --etcd-password-file FILE (or etcd://USER:PASSWORD@… in --store)`
    return undefined
  }

  private failed(error: unknown, options: { write?: boolean } = {}): void {
    if (this.closed) return
    const refusal = this.refusal(error)
    if (refusal && options.write) this.writeRefused = true
    const reason = refusal ?? redact(error instanceof Error ? error.message : String(error))
    this.lastError = reason
    if (!this.available) return
    this.available = false
    this.unavailableSince = performance.now()
    writeLog(
      this.logger,
      'error',
      refusal
        ? `monitor store: ${refusal}; checks go on and their results are kept in memory until etcd accepts them`
        : `monitor store: etcd at ${redactUrl(this.gateway.endpoint)} is not answering (${reason}); checks go on and their results are kept in memory until etcd answers again`,
      { store: this.spec },
    )
    // The watch may sit on a dead connection: restart it, it re-syncs once etcd answers.
    this.watch.restart()
    this.safeEmit('available', false)
  }

  /**
   * etcd answered a request sent at `sentAt` (performance.now()). Only an answer to a
   * request sent after etcd was found not answering proves it answers again: a busy
   * process can read an answer etcd sent before it froze after another request's deadline
   * passed, and would log "answers again" while etcd is still frozen.
   */
  private succeeded(options: { write?: boolean; sentAt: number }): void {
    if (options.sentAt < this.unavailableSince) return
    if (this.writeRefused && !options.write) return
    const wasRefused = this.writeRefused
    this.writeRefused = false
    if (this.available || this.closed) return
    this.available = true
    this.lastError = undefined
    writeLog(
      this.logger,
      'info',
      `monitor store: etcd at ${redactUrl(this.gateway.endpoint)} ${wasRefused ? 'accepts writes' : 'answers'} again; writing ${this.queue.size} pending key(s)`,
      { store: this.spec },
    )
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.kick()
    this.safeEmit('available', true)
  }

  private safeEmit(event: 'states' | 'members' | 'available' | 'silences', ...args: unknown[]): void {
    try {
      ;(this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args)
    } catch (error) {
      writeLog(this.logger, 'error', `a "${event}" listener of the etcd store threw: ${String(error)}`, {})
    }
  }

  /** Reads the whole prefix and rebuilds the view from it (this replica's own states win). */
  private async resync(): Promise<void> {
    const answer = await this.call<{ header?: { revision?: string }; kvs?: RawKv[] }>('/v3/kv/range', {
      key: b64(`${this.prefix}/`),
      range_end: prefixEnd(`${this.prefix}/`),
    })
    const revision = Number(answer.header?.revision ?? 0)
    this.watch.revision = revision
    const membersBefore = this.members().join('\n')
    // A silence this store wrote after the read began is newer than the read: it stays.
    const newer = [...this.silenceMap.values()].filter((e) => e.revision > revision)
    this.silenceMap.clear()
    for (const e of newer) this.silenceMap.set(e.silence.id, e)
    this.view.clear()
    this.publishers.clear()
    this.transitionMap.clear()
    this.transitionKeysById.clear()
    this.transitionKeys = []
    this.memberMap.clear()
    for (const kv of answer.kvs ?? []) this.applyPut(kv)
    this.transitionKeysDirty = true
    for (const [id, state] of this.own) {
      this.view.set(id, state)
      this.publishers.set(id, this.replicaId)
    }
    // Our registration or states may have gone with an expired lease: make sure they are written.
    if (!this.readonly && this.lease.id) {
      const present = new Set((answer.kvs ?? []).map((kv) => unb64(kv.key)))
      for (const [id, state] of this.own)
        if (!present.has(this.key('state', id)))
          this.queue.enqueue(this.key('state', id), { kind: 'put', value: this.stateValue(state), leased: true })
      this.kick()
    }
    // Read afresh: any state may have changed (no list of ids).
    this.safeEmit('states')
    this.safeEmit('silences')
    if (this.members().join('\n') !== membersBefore) this.safeEmit('members')
  }

  /** Applies what the watch reported to the view. */
  private onWatch(result: WatchResult): void {
    if (this.echo && this.watch.revision >= this.echo.revision) this.echo.reached()
    if (!result.events?.length) return
    this.succeeded({ sentAt: this.watch.startedAt })
    /** The checks whose published state changed: readers need only look at those. */
    const statesChanged: string[] = []
    let membersChanged = false
    let silencesChanged = false
    let transitionsAdded = false
    for (const event of result.events) {
      const key = unb64(event.kv.key)
      const kind = this.kindOf(key)
      if (event.type === 'DELETE') {
        if (kind === 'state') {
          const id = key.slice(`${this.prefix}/state/`.length)
          const mine = this.own.get(id)
          if (mine) {
            // Our key went with an expired lease: we still check this; write it again.
            if (!this.readonly) {
              this.queue.enqueue(key, { kind: 'put', value: this.stateValue(mine), leased: true })
              this.kick()
            }
            continue
          }
          if (this.view.delete(id)) statesChanged.push(id)
          this.publishers.delete(id)
        } else if (kind === 'transitions') {
          this.forgetTransition(key)
          this.transitionKeysDirty = true
        } else if (kind === 'replicas') {
          const id = key.slice(`${this.prefix}/replicas/`.length)
          if (id === this.replicaId && !this.readonly && !this.closed) {
            this.queue.enqueue(key, { kind: 'put', value: JSON.stringify(this.registration), leased: true })
            this.kick()
            continue
          }
          membersChanged = this.memberMap.delete(id) || membersChanged
        } else if (kind === 'silences') {
          const id = key.slice(`${this.prefix}/silences/`.length)
          const held = this.silenceMap.get(id)
          if (held && !(held.revision > Number(event.kv.mod_revision ?? 0))) {
            this.silenceMap.delete(id)
            silencesChanged = true
          }
        }
      } else {
        const changed = this.applyPut(event.kv)
        if (kind === 'transitions' && changed) transitionsAdded = true
        if (kind === 'state' && changed) statesChanged.push(key.slice(`${this.prefix}/state/`.length))
        if (kind === 'replicas' && changed) membersChanged = true
        if (kind === 'silences' && changed) silencesChanged = true
      }
    }
    if (statesChanged.length > 0) this.safeEmit('states', statesChanged)
    if (membersChanged) this.safeEmit('members')
    if (silencesChanged) this.safeEmit('silences')
    // Others' transitions may push this replica's own beyond the bound: it deletes those.
    if (transitionsAdded) this.schedulePrune()
  }

  /** Prunes transitions within a second (at most once a second: it sorts every key). */
  private schedulePrune(): void {
    if (this.pruneTimer || this.readonly || !this.registered || this.closed) return
    this.pruneTimer = setTimeout(() => {
      this.pruneTimer = undefined
      if (this.closed) return
      this.pruneTransitions()
      this.kick()
    }, 1000)
    this.pruneTimer.unref()
  }

  private kindOf(key: string): StoreKeyKind | undefined {
    const rest = key.slice(this.prefix.length + 1)
    const slash = rest.indexOf('/')
    const kind = rest.slice(0, slash)
    return kind === 'state' || kind === 'transitions' || kind === 'replicas' || kind === 'silences' ? kind : undefined
  }

  /** Applies a key read or watched; true when it changed what readers see (not our own echo). */
  private applyPut(kv: RawKv): boolean {
    const key = unb64(kv.key)
    const kind = this.kindOf(key)
    let value: unknown
    try {
      value = JSON.parse(unb64(kv.value))
    } catch {
      return false // not ours to read; a stray key under the prefix is ignored
    }
    if (kind === 'state') {
      const envelope = value as { replica?: unknown; state?: CheckState }
      if (typeof envelope.replica !== 'string' || typeof envelope.state?.id !== 'string') return false
      const id = key.slice(`${this.prefix}/state/`.length)
      if (envelope.replica === this.replicaId && !this.readonly) {
        // Our own write coming back; what we hold is at least as new.
        return false
      }
      // Another replica took this check over: it is theirs now, not ours to write again.
      // What still waits to be written for it (etcd was slow, or refused our writes) would
      // overwrite or delete their newer state: it is never written.
      this.own.delete(id)
      this.queue.delete(key)
      this.view.set(id, { ...envelope.state, id })
      this.publishers.set(id, envelope.replica)
      return true
    }
    if (kind === 'transitions') {
      const t = value as Transition
      if (typeof t?.id !== 'string' || typeof t.at !== 'string') return false
      if (this.transitionMap.has(key)) return false
      this.insertTransition(key, t)
      return true
    }
    if (kind === 'replicas') {
      const info = value as ReplicaInfo
      if (typeof info?.id !== 'string') return false
      const id = key.slice(`${this.prefix}/replicas/`.length)
      const had = this.memberMap.has(id)
      this.memberMap.set(id, info)
      return !had
    }
    if (kind === 'silences') {
      const silence = storedSilence(value, key.slice(`${this.prefix}/silences/`.length))
      return silence ? this.setSilence(silence, Number(kv.mod_revision ?? 0)) : false
    }
    return false
  }

  private insertTransition(key: string, t: Transition): void {
    const last = this.transitionKeys[this.transitionKeys.length - 1]
    if (!this.transitionMap.has(key)) {
      if (last !== undefined && key < last) this.transitionKeysDirty = true
      this.transitionKeys.push(key)
    }
    this.transitionMap.set(key, t)
    let keys = this.transitionKeysById.get(t.id)
    if (!keys) this.transitionKeysById.set(t.id, (keys = new Set()))
    keys.add(key)
  }

  private sortedTransitionKeys(): string[] {
    if (this.transitionKeysDirty || this.transitionKeys.length !== this.transitionMap.size) {
      this.transitionKeys = [...this.transitionMap.keys()].sort()
      this.transitionKeysDirty = false
    }
    return this.transitionKeys
  }
}

/** The kinds of keys under the prefix (the first segment after it). */
type StoreKeyKind = 'state' | 'transitions' | 'replicas' | 'silences'

/** A silence read from etcd, if it is one (its id the key's); anything else is ignored. */
function storedSilence(value: unknown, id: string): Silence | undefined {
  const s = value as Partial<Silence> | null
  if (typeof s !== 'object' || s === null || s.id !== id) return undefined
  for (const field of ['pod', 'startsAt', 'endsAt', 'comment', 'createdAt'] as const)
    if (typeof s[field] !== 'string') return undefined
  if (Number.isNaN(Date.parse(s.startsAt as string)) || Number.isNaN(Date.parse(s.endsAt as string))) return undefined
  return {
    id,
    pod: s.pod as string,
    ...(typeof s.node === 'string' ? { node: s.node } : {}),
    ...(typeof s.check === 'string' ? { check: s.check } : {}),
    startsAt: s.startsAt as string,
    endsAt: s.endsAt as string,
    comment: s.comment as string,
    author: typeof s.author === 'string' ? s.author : '',
    createdAt: s.createdAt as string,
  }
}
