/**
 * What a monitor keeps of its last load of the manifests, so that a reload (SIGHUP, a
 * changed file) parses and reads only the YAML documents that changed: 50,000 checks are
 * seconds of parsing, and a reload where a tenth of them changed should cost a tenth.
 *
 * A piece of a file (documents.ts) is not read again when a piece with the same text was
 * read from the same file with the same settings (the defaults, …): what it says depends
 * on nothing else, and its place in the file only moves the lines its checks say they are
 * declared on (`source.line`), which are moved with it. A piece whose reading depends on
 * more (a push check's `token_file`, read on every load) is not kept. Only what the latest
 * load read is kept, so the cache never outgrows one load; a load that fails keeps what
 * the one before it kept.
 *
 * The pods it hands out are frozen, and the same objects from one load to the next while
 * their piece is unchanged: whoever needs one changed makes a copy. A check of a changed
 * piece that reads exactly as before (the same keys in the same order, the same values, the
 * same line) is the object handed out before too, so that the monitor, which keeps what it
 * made of each spec object, does not prepare it again, nor keep the old and the new copy.
 */
import type { DocumentText } from './documents.js'
import type { CheckSpec, PodManifest } from './types.js'

interface Kept {
  /** The line the piece started on when its pods were read (or last moved). */
  line: number
  pods: readonly PodManifest[]
}

/** Pieces by file, then by text. */
type Pieces = Map<string, Map<string, Kept>>

/** The cache of one process's loads of its manifests, one load at a time (a monitor's run one after another). */
export class ManifestCache {
  private settings: string | undefined
  /** What the last load that succeeded read, and its pods by `node/id`. */
  private kept: Pieces = new Map()
  private keptPods = new Map<string, PodManifest>()
  /** What the load under way has read so far, and its pods by `node/id`. */
  private loading: Pieces = new Map()
  private loadingPods = new Map<string, PodManifest>()

  /** Pieces kept (those of the last load that succeeded). */
  get size(): number {
    let n = 0
    for (const pieces of this.kept.values()) n += pieces.size
    return n
  }

  /** Starts a load; what was read with other `settings` is dropped. */
  begin(settings: string): void {
    if (settings !== this.settings) {
      this.kept = new Map()
      this.keptPods = new Map()
    }
    this.settings = settings
    this.discard()
  }

  /** The pods of `piece` if a piece with its text was read from `file` before, with their lines where it is now. */
  get(file: string, piece: DocumentText): readonly PodManifest[] | undefined {
    const kept = this.loading.get(file)?.get(piece.text) ?? this.kept.get(file)?.get(piece.text)
    if (!kept) return undefined
    const pods = kept.line === piece.line ? kept.pods : moved(kept.pods, piece.line - kept.line)
    this.add(file, piece, pods)
    return pods
  }

  /** Keeps the pods read from `piece` for the loads after this one; returns them frozen. */
  keep(file: string, piece: DocumentText, pods: PodManifest[]): readonly PodManifest[] {
    for (const pod of pods) {
      const before = this.keptPods.get(podKey(pod))?.checks
      if (before)
        pod.checks = pod.checks.map((check, i) => {
          const same = before[i]?.id === check.id ? before[i] : before.find((c) => c.id === check.id)
          return same && sameData(same, check) ? same : check
        })
      deepFreeze(pod)
    }
    Object.freeze(pods)
    this.add(file, piece, pods)
    return pods
  }

  /** The load succeeded: the next one reuses what it read, and nothing else. */
  commit(): void {
    this.kept = this.loading
    this.keptPods = this.loadingPods
    this.discard()
  }

  /** The load failed or stopped: the next one reuses what the last that succeeded read. */
  discard(): void {
    this.loading = new Map()
    this.loadingPods = new Map()
  }

  private add(file: string, piece: DocumentText, pods: readonly PodManifest[]): void {
    let pieces = this.loading.get(file)
    if (!pieces) this.loading.set(file, (pieces = new Map()))
    pieces.set(piece.text, { line: piece.line, pods })
    for (const pod of pods) this.loadingPods.set(podKey(pod), pod)
  }
}

const podKey = (pod: PodManifest) => `${pod.node}/${pod.id}`

/**
 * Whether `a` and `b` hold the same data in the same shape: the same own keys in the same
 * order, and the same values (objects and arrays alike, all the way down). Nothing that
 * reads the data (`JSON.stringify`, `deepStrictEqual`, `in`, a loop over the keys) tells
 * one from the other.
 */
function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const keys = Object.keys(a)
  const other = Object.keys(b)
  if (keys.length !== other.length) return false
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (key !== other[i]) return false
    if (!sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false
  }
  return true
}

/** `pods` declared `delta` lines further down. */
function moved(pods: readonly PodManifest[], delta: number): readonly PodManifest[] {
  const out = pods.map((pod) => ({ ...pod, checks: pod.checks.map((check) => movedCheck(check, delta)) }))
  for (const pod of out) deepFreeze(pod)
  return Object.freeze(out)
}

function movedCheck(check: CheckSpec, delta: number): CheckSpec {
  const { line } = check.source
  return line === undefined ? check : { ...check, source: { ...check.source, line: line + delta } }
}

/** Freezes `value` and every object and array in it (a pod: its checks, their TLS settings, labels, …). */
function deepFreeze(value: object): void {
  if (Object.isFrozen(value)) return
  Object.freeze(value)
  for (const item of Object.values(value)) if (typeof item === 'object' && item !== null) deepFreeze(item)
}
