import type { IncomingMessage, ServerResponse } from 'node:http'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { jsonSafe } from '../core/inert.js'
import type { CheckState, SilenceMark, Transition } from './types.js'

/** What the event stream needs of a monitor (the Monitor class has it). */
export interface EventSource {
  readonly index: number
  states(): CheckState[]
  /** The silence holding a check's notifications back now (states from `states()` carry it already). */
  silenced?(id: string): SilenceMark | undefined
  on(event: 'change', listener: (transition: Transition, state: CheckState) => void): unknown
  on(event: 'result', listener: (state: CheckState) => void): unknown
  off(event: 'change', listener: (transition: Transition, state: CheckState) => void): unknown
  off(event: 'result', listener: (state: CheckState) => void): unknown
}

export interface EventStreamOptions {
  /** How often gathered updates go out, ms. Default 500. */
  flushMs?: number
  /** A comment line at this interval keeps proxies from closing an idle stream, ms. Default 15 000. */
  heartbeatMs?: number
  /**
   * A client that lets this much output pile up unread, beyond its snapshot, is dropped
   * (it reconnects for a fresh one). Default 4 MB.
   */
  maxBufferedBytes?: number
  /**
   * What every client together may hold unread (snapshots included): past it the clients
   * holding the most are dropped, and new streams wait (`overBudget`). Default 64 MB.
   */
  maxTotalBufferedBytes?: number
}

/** States per part of a snapshot. */
const SNAPSHOT_PART = 500

/**
 * Server-sent events for the dashboard (`GET /v1/events`):
 *
 * - `snapshot` on connect: `{ index, heartbeatMs, states }`, every check, and how often a
 *   comment line comes when nothing else does;
 * - `change` per transition: `{ transition, state }`;
 * - `states`: `{ index, states }` with the checks whose latest result changed since the
 *   previous batch.
 *
 * The monitor's listeners only note what changed; serialising and writing happen on a
 * timer, once per batch for all clients, so a burst of results or a slow browser never
 * reaches the checking path.
 */
export class EventStream {
  /** Each open stream, with the size of the snapshot it was sent first. */
  private readonly clients = new Map<ServerResponse, number>()
  private readonly dirty = new Map<string, CheckState>()
  private changes: { transition: Transition; state: CheckState }[] = []
  private flushTimer: NodeJS.Timeout | undefined
  private heartbeatTimer: NodeJS.Timeout | undefined
  private readonly flushMs: number
  private readonly heartbeatMs: number
  private readonly maxBufferedBytes: number
  private readonly maxTotalBufferedBytes: number
  private lastSnapshotBytes = 0
  /** Streams whose snapshot is being written, with what was broadcast meanwhile, to follow it. */
  private readonly pending = new Map<ServerResponse, string[]>()

  private readonly onChange = (transition: Transition, state: CheckState): void => {
    // Bounded: a storm of transitions between two flushes keeps the latest ones.
    if (this.changes.length >= 1000) this.changes.shift()
    this.changes.push({ transition, state })
    this.dirty.set(state.id, state)
  }

  private readonly onResult = (state: CheckState): void => {
    this.dirty.set(state.id, state)
  }

  constructor(
    private readonly monitor: EventSource,
    options: EventStreamOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 500
    this.heartbeatMs = options.heartbeatMs ?? 15_000
    this.maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024
    this.maxTotalBufferedBytes = options.maxTotalBufferedBytes ?? 64 * 1024 * 1024
  }

  /**
   * Whether the open streams hold as much unread output as they may: a new stream would
   * add a whole snapshot to it, so it should be refused (503) until readers catch up.
   */
  get overBudget(): boolean {
    return this.bufferedBytes + this.lastSnapshotBytes > this.maxTotalBufferedBytes
  }

  /** What the open streams hold unread, bytes. */
  get bufferedBytes(): number {
    let total = 0
    for (const res of this.clients.keys()) total += res.writableLength
    return total
  }

  get clientCount(): number {
    return this.clients.size
  }

  /** Answers one `GET /v1/events` request and keeps the stream open until the client leaves. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to; events must arrive as they happen.
      'x-accel-buffering': 'no',
    })
    req.socket.setNoDelay(true)
    req.socket.setTimeout(0)
    if (this.clients.size === 0) this.subscribe()
    // The states now; what changes from here on is broadcast to this stream after them.
    const index = this.monitor.index
    const states = this.monitor.states()
    // A large fleet's snapshot alone may be over the per-client bound: it is not held against
    // it (the size of the last one stands in until this one is written).
    this.clients.set(res, this.lastSnapshotBytes)
    this.pending.set(res, [])
    res.on('close', () => {
      this.clients.delete(res)
      this.pending.delete(res)
      if (this.clients.size === 0) this.unsubscribe()
    })
    void this.writeSnapshot(res, index, states)
  }

  /**
   * `event: snapshot` with `{ index, states }` on one data line, written `SNAPSHOT_PART`
   * states at a time with the event loop free between parts (50,000 checks are ~10 MB of
   * JSON), then what was broadcast meanwhile.
   */
  private async writeSnapshot(res: ServerResponse, index: number, states: CheckState[]): Promise<void> {
    let bytes = 0
    const write = (text: string): void => {
      bytes += Buffer.byteLength(text)
      res.write(text)
    }
    // heartbeatMs tells the page how long a silent stream may be before it is dead.
    write(`retry: 2000\nevent: snapshot\ndata: {"index":${index},"heartbeatMs":${this.heartbeatMs},"states":[`)
    for (let start = 0; start < states.length; start += SNAPSHOT_PART) {
      if (start > 0) {
        await nextTurn()
        if (!this.pending.has(res)) return
      }
      const part = states.slice(start, start + SNAPSHOT_PART).map((state) => JSON.stringify(state))
      write(jsonSafe(`${start > 0 ? ',' : ''}${part.join(',')}`))
    }
    write(']}\n\n')
    const queued = this.pending.get(res)
    if (!queued) return
    this.pending.delete(res)
    this.lastSnapshotBytes = bytes
    this.clients.set(res, bytes)
    for (const chunk of queued) res.write(chunk)
  }

  /** Ends every stream. */
  close(): void {
    for (const res of this.clients.keys()) res.end()
    this.clients.clear()
    this.pending.clear()
    this.unsubscribe()
  }

  private subscribe(): void {
    this.monitor.on('change', this.onChange)
    this.monitor.on('result', this.onResult)
    this.flushTimer = setInterval(() => this.flush(), this.flushMs)
    this.heartbeatTimer = setInterval(() => this.broadcast(': heartbeat\n\n'), this.heartbeatMs)
    this.flushTimer.unref()
    this.heartbeatTimer.unref()
  }

  private unsubscribe(): void {
    this.monitor.off('change', this.onChange)
    this.monitor.off('result', this.onResult)
    clearInterval(this.flushTimer)
    clearInterval(this.heartbeatTimer)
    this.flushTimer = this.heartbeatTimer = undefined
    this.dirty.clear()
    this.changes = []
  }

  private flush(): void {
    if (this.dirty.size === 0 && this.changes.length === 0) return
    let out = ''
    for (const { transition, state } of this.changes)
      out += `event: change\ndata: ${jsonSafe(JSON.stringify({ transition, state: this.marked(state) }))}\n\n`
    if (this.dirty.size > 0) {
      const states = [...this.dirty.values()].map((s) => this.marked(s))
      out += `event: states\ndata: ${jsonSafe(JSON.stringify({ index: this.monitor.index, states }))}\n\n`
    }
    this.changes = []
    this.dirty.clear()
    this.broadcast(out)
  }

  /**
   * The state as readers see it: the monitor's events carry the state it stores, without
   * the silence mark that `states()` adds; without this a live update would drop the
   * dashboard's "silenced" until the next snapshot.
   */
  private marked(state: CheckState): CheckState {
    const mark = this.monitor.silenced?.(state.id)
    if (mark) return { ...state, silenced: mark }
    if (state.silenced === undefined) return state
    const { silenced: _, ...rest } = state
    return rest
  }

  private broadcast(chunk: string): void {
    let total = 0
    for (const [res, snapshotBytes] of this.clients) {
      const queued = this.pending.get(res)
      if (queued) {
        // Its snapshot is being written: this follows it.
        queued.push(chunk)
        total += res.writableLength
        continue
      }
      if (res.writableLength > this.maxBufferedBytes + snapshotBytes) {
        res.destroy()
        continue
      }
      res.write(chunk)
      total += res.writableLength
    }
    if (total <= this.maxTotalBufferedBytes) return
    // Together they hold too much: the readers furthest behind go first (they reconnect).
    const behind = [...this.clients.keys()].sort((a, b) => b.writableLength - a.writableLength)
    for (const res of behind) {
      if (total <= this.maxTotalBufferedBytes) break
      total -= res.writableLength
      this.clients.delete(res)
      res.destroy() // its 'close' unsubscribes once no stream is left
    }
  }
}
