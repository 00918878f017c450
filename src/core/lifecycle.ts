import { reasonOf } from './errors.js'
import type { Group, Status } from './types.js'

/** The process's own state, as the app or the graceful-shutdown helper sets it. */
export type LifecyclePhase = 'starting' | 'ready' | 'not ready' | 'shutting down' | 'broken'

export interface LifecycleVerdict {
  status: Status
  reason?: string
}

const PASS: LifecycleVerdict = { status: 'pass' }

/**
 * Readiness reflects the process's own state besides its dependencies: it fails while
 * startup tasks are pending, while the app says it is not ready, and from the moment
 * shutdown begins (for good). Liveness fails only when the app declares itself broken.
 */
export class Lifecycle {
  private pending = new Map<number, string>()
  private nextTaskId = 0
  private failedTask: string | undefined
  private notReadyReason: string | undefined
  private brokenReason: string | undefined
  private shuttingDown = false
  /** Bumped on every change, so callers can cache verdicts cheaply. */
  version = 0

  constructor(
    private readonly onChange: () => void,
    initiallyReady = true,
  ) {
    if (!initiallyReady) this.notReadyReason = 'starting'
  }

  get phase(): LifecyclePhase {
    if (this.brokenReason !== undefined) return 'broken'
    if (this.shuttingDown) return 'shutting down'
    if (this.pending.size > 0) return 'starting'
    if (this.failedTask !== undefined || this.notReadyReason !== undefined) return 'not ready'
    return 'ready'
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown
  }

  /** The verdict for a group: live fails only when broken; ready and startup on any non-ready phase. */
  verdict(group: Group): LifecycleVerdict {
    if (this.brokenReason !== undefined) return { status: 'fail', reason: `broken: ${this.brokenReason}` }
    if (group === 'live') return PASS
    if (this.shuttingDown) return { status: 'fail', reason: 'shutting down' }
    if (this.pending.size > 0) {
      return { status: 'fail', reason: `starting: waiting for ${[...this.pending.values()].join(', ')}` }
    }
    if (this.failedTask !== undefined) return { status: 'fail', reason: this.failedTask }
    if (this.notReadyReason !== undefined) return { status: 'fail', reason: this.notReadyReason }
    return PASS
  }

  /** Keeps readiness at `starting` until `task` settles; a rejected task keeps it failed. */
  startupTask<T>(name: string, task: Promise<T> | (() => Promise<T>)): Promise<T> {
    const id = this.nextTaskId++
    this.pending.set(id, name)
    this.changed()
    const promise = typeof task === 'function' ? Promise.resolve().then(task) : task
    return promise.then(
      (value) => {
        this.pending.delete(id)
        this.changed()
        return value
      },
      (error: unknown) => {
        this.pending.delete(id)
        this.failedTask = `startup task ${name} failed: ${reasonOf(error)}`
        this.changed()
        throw error
      },
    )
  }

  ready(): void {
    if (this.notReadyReason === undefined) return
    this.notReadyReason = undefined
    this.changed()
  }

  notReady(reason = 'not ready'): void {
    this.notReadyReason = reason
    this.changed()
  }

  broken(reason = 'broken'): void {
    this.brokenReason = reason
    this.changed()
  }

  beginShutdown(): void {
    if (this.shuttingDown) return
    this.shuttingDown = true
    this.changed()
  }

  private changed(): void {
    this.version++
    this.onChange()
  }
}
