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
  /** Why each startup task that rejected failed, by task name: failing again under one name replaces its reason. */
  private readonly failedTasks = new Map<string, string>()
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
    // A failed startup task outweighs those still pending: readiness cannot come any more,
    // and the change (its log line, its event) is due when the task fails, not when the
    // slowest other task ends.
    if (this.failedTasks.size > 0) return 'not ready'
    if (this.pending.size > 0) return 'starting'
    if (this.notReadyReason !== undefined) return 'not ready'
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
    const waiting = this.pending.size > 0 ? [...this.pending.values()].join(', ') : undefined
    if (this.failedTasks.size > 0) {
      const failed = [...this.failedTasks.values()].join('; ')
      return { status: 'fail', reason: waiting === undefined ? failed : `${failed}; still waiting for ${waiting}` }
    }
    if (waiting !== undefined) return { status: 'fail', reason: `starting: waiting for ${waiting}` }
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
        this.failedTasks.set(name, `startup task ${name} failed: ${reasonOf(error)}`)
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
