/**
 * Monitor replicas sharing one fleet. Every replica loads the same manifests and registers
 * itself in etcd under its lease (see store/etcd.ts); each check belongs to exactly one live
 * replica, chosen by rendezvous (highest-random-weight) hashing of the check id over the
 * live replica ids. Every replica computes the same answer from the same membership with no
 * coordination, and a change of membership moves only the checks of the replica that left
 * (or the share the newcomer takes): when a monitor dies, its lease expires, its
 * registration disappears, and its checks move to the others within one lease TTL; when it
 * comes back, they move back.
 */
import { type Logger, writeLog } from '../core/logger.js'
import type { CheckShare, Monitor } from './monitor.js'
import { type EtcdStore, etcdLeaseSeconds } from './store/etcd.js'
import type { CheckState } from './types.js'

/**
 * The replica that owns `id` among `members`: the one with the highest hash of
 * (replica, check). Undefined when there are no members.
 *
 * @example
 * rendezvousOwner('web-1/carsales/health_check', ['monitor-a', 'monitor-b']) // 'monitor-b' (say)
 */
export function rendezvousOwner(id: string, members: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = -1
  const idHash = mix(fnv1a(id, 0x811c9dc5))
  for (const member of members) {
    // Each side hashed and mixed on its own first: ids and replica names that differ in one
    // character (web/a, web/b; mon-a, mon-b) must not give correlated scores.
    const score = mix(idHash ^ mix(fnv1a(member, 0x811c9dc5) ^ 0x9e3779b9))
    if (score > bestScore || (score === bestScore && best !== undefined && member < best)) {
      best = member
      bestScore = score
    }
  }
  return best
}

/** 32-bit FNV-1a over UTF-16 code units, continuing from `seed`. */
function fnv1a(text: string, seed: number): number {
  let hash = seed
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** MurmurHash3's finaliser: spreads FNV's weak low bits over the whole word. */
function mix(h: number): number {
  let x = h
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

/**
 * This replica's share of the fleet, from an etcd store's live membership. Give it to the
 * Monitor as `share`, then `attach` it so the monitor rebalances when membership changes
 * (and its API shows what the other replicas publish).
 *
 * @example
 * import { Monitor, openStoreAsync, ReplicaShare } from 'probekit/monitor'
 * const store = await openStoreAsync('etcd://127.0.0.1:2379/probekit', {
 *   etcd: { replicaId: 'monitor-a', registerLater: true },
 * })
 * const share = new ReplicaShare(store as EtcdStore)
 * const monitor = new Monitor({ store, share })
 * await monitor.load(['/etc/probekit/pods'])
 * share.attach(monitor)
 * await (store as EtcdStore).register()
 * monitor.start()
 */
export class ReplicaShare implements CheckShare {
  readonly store: EtcdStore
  private membersKey = ''
  private members: string[] = []
  private readonly owners = new Map<string, boolean>()
  private detach: (() => void) | undefined

  constructor(store: EtcdStore) {
    this.store = store
    this.refresh()
  }

  /** This replica's id. */
  get self(): string {
    return this.store.replicaId
  }

  /** The live replicas this share was computed over, sorted. */
  liveMembers(): string[] {
    return [...this.members]
  }

  /** Whether this replica checks `id` (memoised until membership changes). */
  owns(id: string): boolean {
    let owned = this.owners.get(id)
    if (owned === undefined) {
      owned = rendezvousOwner(id, this.members) === this.self
      this.owners.set(id, owned)
    }
    return owned
  }

  /** The replica that checks `id`. */
  ownerOf(id: string): string | undefined {
    return rendezvousOwner(id, this.members)
  }

  /** What the owning replica published for a check this replica does not own. */
  published(id: string): CheckState | undefined {
    return this.store.published(id)?.state
  }

  /**
   * How long before it is found gone a replica may have died: the lease it held in etcd (it
   * may have died just after renewing it), plus etcd's sweep of expired leases (every
   * 500 ms) and a second for the news to arrive and be read. For the order of the checks
   * taken over (Monitor.rebalance), erring long is cheap and erring short is not: with a
   * death put too early, checks the dead replica ran just before it died go first; with a
   * death put too late, checks it last ran an interval before it died would go last.
   */
  departureLagMs(): number {
    return etcdLeaseSeconds(this.store.leaseTtlSeconds) * 1000 + 1500
  }

  /** The check moved to another replica: this one's saved state for it is never written again. */
  released(id: string): void {
    this.store.release(id)
  }

  /** True when the store does not hold this replica's own state for `id` (another replica wrote last). */
  republish(id: string): boolean {
    return this.store.published(id)?.replica !== this.self
  }

  /**
   * Re-reads membership; true when it changed (and ownership was recomputed). Membership
   * is kept as it was while etcd does not answer: a replica cut off from etcd goes on
   * checking its share (the others take it over once its lease expires; a check run twice
   * for a while is harmless, a check run by nobody is not).
   */
  refresh(): boolean {
    const members = this.store.members()
    const key = members.join('\n')
    if (key === this.membersKey) return false
    this.membersKey = key
    this.members = members
    this.owners.clear()
    return true
  }

  /**
   * Keeps `monitor` in step: on a membership change it recomputes the share and the monitor
   * starts the checks it gained and stops those it lost; when other replicas publish, the
   * monitor's readers (API, long-poll) hear of it. Each membership change is logged with
   * this replica's share. Call once; `close()` undoes it.
   */
  attach(
    monitor: Pick<Monitor, 'rebalance' | 'specs' | 'statesPublished'>,
    options: { logger?: Logger | false } = {},
  ): void {
    const logger = options.logger === undefined ? console : options.logger
    this.detach?.()
    let timer: NodeJS.Timeout | undefined
    /** The checks other replicas published since the last turn; 'all' after a re-read. */
    let published: Set<string> | 'all' | undefined
    // A burst of published states (a replica starting, or re-syncing thousands) is looked
    // at once, and only for the checks it names: at start-up replicas publish thousands of
    // states a second, and a pass over the whole fleet for each burst made every replica's
    // checks late for as long as that lasted (ownership does not change with what others
    // publish; a membership change is onMembers, below).
    const onStates = (ids?: readonly string[]) => {
      if (ids === undefined || published === 'all') published = 'all'
      else {
        published ??= new Set()
        for (const id of ids) published.add(id)
      }
      timer ??= setTimeout(() => {
        timer = undefined
        const changed = published
        published = undefined
        if (changed === 'all') monitor.rebalance()
        else if (changed) monitor.statesPublished(changed)
      }, 100)
    }
    const onMembers = () => {
      if (!this.refresh()) return
      monitor.rebalance()
      const ids = monitor.specs().map((s) => s.id)
      const mine = ids.filter((id) => this.owns(id)).length
      writeLog(
        logger,
        'info',
        `monitor replicas: ${this.members.length} live (${this.members.join(', ')}); ${this.self} runs ${mine} of ${ids.length} checks`,
        { replicas: this.members, owned: mine, checks: ids.length },
      )
    }
    this.store.on('states', onStates)
    this.store.on('members', onMembers)
    this.detach = () => {
      clearTimeout(timer)
      this.store.off('states', onStates)
      this.store.off('members', onMembers)
    }
    this.membersKey = ''
    onMembers()
  }

  close(): void {
    this.detach?.()
    this.detach = undefined
  }
}
