/**
 * Silences and maintenance windows: they hold a check's notifications back (webhooks,
 * Alertmanager) for a time, and never its state. A silence is added at run time (CLI, API)
 * and kept in the store; a maintenance window is declared in a manifest and repeats weekly.
 */

import { randomUUID } from 'node:crypto'
import { calendarProblem } from '../core/clock.js'
import { redact as redactText } from '../core/redact.js'
import { DEFAULT_RETENTION, silencesToDrop } from './store/retention.js'
import type { CheckKey, MonitorStore, Silence, SilenceMark } from './types.js'

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
export type Weekday = (typeof WEEKDAYS)[number]

/** A weekly window of a manifest's `maintenance:`: on `days`, from `from` to `to` (HH:MM) in `tz`. */
export interface MaintenanceWindow {
  days: Weekday[]
  /** Minutes after midnight. */
  fromMinute: number
  /** Minutes after midnight; at or before `fromMinute`, the window runs past midnight into the next day. */
  toMinute: number
  /** An IANA time zone, e.g. `Europe/Berlin`. */
  tz: string
}

/** What a person gives to add a silence. */
export interface SilenceInput {
  pod: string
  node?: string
  check?: string
  /** From now, ms. One of `forMs` and `until`; either ends at most `MAX_SILENCE_MS` from now. */
  forMs?: number
  /** ISO 8601 with a zone (or anything Date.parse reads that ends in one); a time without a zone is refused. */
  until?: string
  comment: string
  author?: string
}

/** A time of day followed by its zone: `06:00Z`, `06:00:00.000+01:00`, `06:00:00 GMT`. */
const ZONED_TIME = /\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$/i

/** A mistake in what was asked (an API 400, a CLI usage error). */
export class SilenceError extends Error {}

/**
 * The longest a silence may last, from when it is added: a year. Alertmanager sets no
 * maximum; a year still covers a passive replica muted between failovers months apart,
 * while a silence meant to last for ever hides a check that should be fixed or removed
 * (and years past 9999 are not even a plain ISO 8601 time). What recurs belongs in a
 * manifest's `maintenance:` window.
 */
export const MAX_SILENCE_MS = 365 * 86_400_000
/** `MAX_SILENCE_MS` as the sentences that refuse a longer silence name it. */
export const MAX_SILENCE_TEXT = '365d (a year)'

/** Whether a silence is about `key`: its pod, on its node and of its check when it names them. */
export function covers(silence: Silence, key: CheckKey): boolean {
  return (
    silence.pod === key.pod &&
    (!silence.node || silence.node === key.node) &&
    (!silence.check || silence.check === key.check)
  )
}

/** Ended silences are kept this long (for `silence list`), then forgotten. */
const KEEP_ENDED_MS = DEFAULT_RETENTION.endedSilencesMs
/** Characters a silence's comment may have. */
export const MAX_COMMENT = 1000
const MAX_SILENCES = DEFAULT_RETENTION.maxSilences

/**
 * The silences a monitor knows: read from the store at start, and — for a store several
 * monitors share (etcd) — replaced whenever the store says another monitor changed them,
 * so a silence added on one replica mutes the checks every replica runs.
 */
export class Silences {
  /** Every silence kept (those not ended for more than a week), by id. */
  private all = new Map<string, Held>()
  /**
   * The same silences by pod (a silence always names one): `match` runs for every check when
   * silences change and when the API lists them, so it reads only the silences of the
   * check's pod, with their times already parsed — 50,000 checks and 10,000 silences cost
   * 50,000 look-ups, not 500 million comparisons.
   */
  private byPod = new Map<string, Held[]>()
  private readonly unwatch: (() => void) | undefined

  /**
   * `changed` is told after every change that takes effect: a silence added or ended here,
   * or the store's set replaced because another monitor changed it.
   */
  constructor(
    private readonly store: MonitorStore,
    private readonly now: () => number = Date.now,
    private readonly changed: () => void = () => {},
    /**
     * Masks credentials in what a person typed (a comment naming a token, a URL with its
     * password), as a silence is listed, logged and sent with notifications: the monitor's
     * `redact`, which knows its manifests' secrets. Default: the usual patterns only.
     */
    private readonly redact: (text: string) => string = (text) => redactText(text),
    /**
     * A number that changes when `redact` learns a secret (a reload adding one): comments
     * kept from before, and those another replica wrote, are masked again with it.
     */
    private readonly secretsVersion: () => number = () => 0,
  ) {
    this.replace(store.loadSilences?.() ?? [])
    this.unwatch = store.watchSilences?.((silences) => {
      this.replace(silences)
      this.changed()
    })
  }

  /** Stops following the store's changes. */
  close(): void {
    this.unwatch?.()
  }

  /** Every silence not ended for more than a week, newest end first. */
  list(): Silence[] {
    const cutoff = this.now() - KEEP_ENDED_MS
    return [...this.all.values()]
      .filter((h) => h.endsMs > cutoff)
      .sort((a, b) => b.endsMs - a.endsMs || a.silence.id.localeCompare(b.silence.id))
      .map((h) => this.shown(h))
  }

  /**
   * Masks, in the store too, the comments and authors that hold a secret learnt since they
   * were written (a reload configured it, or another replica wrote the silence): once masked,
   * a secret stays masked after the manifest that named it is gone and the monitor restarted,
   * and in `probekit inspect --store`, which reads the store. Resolves once the store holds
   * every change; the first store error rejects (a store that is down is not asked again
   * for each silence), the silences not yet written still masked as shown.
   */
  async remask(): Promise<void> {
    for (const held of [...this.all.values()]) {
      const { silence } = held
      const comment = this.redact(silence.comment)
      const author = silence.author === undefined ? undefined : this.redact(silence.author)
      if (comment === silence.comment && author === silence.author) continue
      const masked: Silence = { ...silence, comment }
      if (author !== undefined) masked.author = author
      await this.store.saveSilence?.(masked)
      // Unless it changed meanwhile (ended, or replaced from the store).
      if (this.all.get(silence.id) === held) this.set(masked)
    }
  }

  /** The silence as it is shown: its comment and author masked with every secret known now. */
  private shown(h: Held): Silence {
    const version = this.secretsVersion()
    if (h.shownAt !== version) {
      h.comment = this.redact(h.silence.comment)
      if (h.silence.author !== undefined) h.author = this.redact(h.silence.author)
      h.shownAt = version
    }
    const silence = { ...h.silence, comment: h.comment }
    if (h.author !== undefined) silence.author = h.author
    return silence
  }

  /**
   * Adds a silence; resolves once the store holds it (for etcd: once etcd confirmed the
   * write). Rejects with a `SilenceError` for a mistake in `input`, and with the store's
   * `StoreError` when the store could not keep it — then the silence is not added.
   *
   * At most `MAX_SILENCES` silences are in force (not ended) at once. Ended silences are
   * kept a week for `silence list`, but never stand in the way: past the bound, the one that
   * ended first is forgotten, as the store forgets it.
   */
  async add(input: SilenceInput): Promise<Silence> {
    const now = this.now()
    const pod = name(input.pod, 'pod', true) as string
    const node = name(input.node, 'node', false)
    const check = name(input.check, 'check', false)
    let endsAt: number
    if (input.forMs !== undefined && input.until !== undefined)
      throw new SilenceError('give `for` or `until`, not both')
    if (input.forMs !== undefined) {
      if (typeof input.forMs !== 'number' || !(input.forMs > 0))
        throw new SilenceError('`for` must be a positive duration')
      if (!(input.forMs <= MAX_SILENCE_MS))
        throw new SilenceError(
          `\`for\` is longer than a silence may last, ${MAX_SILENCE_TEXT}; add another when it ends`,
        )
      endsAt = now + input.forMs
    } else if (input.until !== undefined) {
      const impossible = typeof input.until === 'string' ? calendarProblem(input.until) : undefined
      if (impossible) throw new SilenceError(`\`until\` ${JSON.stringify(input.until)} is not a time: ${impossible}`)
      endsAt = Date.parse(input.until)
      if (Number.isNaN(endsAt))
        throw new SilenceError(
          `\`until\` ${JSON.stringify(input.until)} is not a time; use ISO 8601, e.g. 2026-12-05T06:00:00Z`,
        )
      // Date.parse reads a time without a zone in the monitor's own zone (UTC in most
      // containers), not the zone of whoever typed it: the window would be off by hours.
      if (!ZONED_TIME.test(input.until.trim()))
        throw new SilenceError(
          `\`until\` ${JSON.stringify(input.until)} names no time zone, so it would be read in the monitor's; add one, e.g. 2026-12-05T06:00:00Z or 2026-12-05T07:00:00+01:00`,
        )
      if (endsAt <= now) throw new SilenceError(`\`until\` ${input.until} is in the past`)
      if (endsAt - now > MAX_SILENCE_MS)
        throw new SilenceError(
          `\`until\` ${input.until} is further away than a silence may last, ${MAX_SILENCE_TEXT}; add another when it ends`,
        )
    } else throw new SilenceError('say how long: `for` (e.g. 2h) or `until` (a time)')
    const comment = typeof input.comment === 'string' ? input.comment.trim() : ''
    if (!comment) throw new SilenceError('a silence needs a `comment`: why (a ticket, the maintenance)')
    if (comment.length > MAX_COMMENT) throw new SilenceError(`the comment is over ${MAX_COMMENT} characters`)
    const author = typeof input.author === 'string' && input.author.trim() ? input.author.trim().slice(0, 200) : ''
    this.forgetEnded(now)
    let inForce = 0
    for (const h of this.all.values()) if (h.endsMs > now) inForce++
    if (inForce >= MAX_SILENCES)
      throw new SilenceError(
        `${MAX_SILENCES} silences are in force, the most a monitor keeps; end some first (probekit silence list, then probekit silence expire ID)`,
      )
    const silence: Silence = {
      id: randomUUID(),
      pod,
      ...(node ? { node } : {}),
      ...(check ? { check } : {}),
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
      comment: this.redact(comment),
      author: this.redact(author),
      createdAt: new Date(now).toISOString(),
    }
    await this.store.saveSilence?.(silence)
    this.set(silence)
    // Beyond the bound, what the stores drop (those that end first: ended ones, as at most
    // MAX_SILENCES are in force), by the stores' own rule.
    if (this.all.size > MAX_SILENCES) {
      const kept = [...this.all.values()].map((h) => h.silence)
      for (const id of silencesToDrop(kept, now, DEFAULT_RETENTION)) this.delete(id)
    }
    this.changed()
    return { ...silence }
  }

  /**
   * Ends a silence now; undefined if there is no such silence. Like `add`, resolves once
   * the store holds the new end, and rejects with the store's error when it could not.
   */
  async expire(id: string): Promise<Silence | undefined> {
    const held = this.all.get(id)
    if (!held) return undefined
    const now = this.now()
    if (held.endsMs > now) {
      const ended = { ...held.silence, endsAt: new Date(now).toISOString() }
      await this.store.saveSilence?.(ended)
      this.set(ended)
      this.changed()
      return this.shown(this.all.get(id) as Held)
    }
    return this.shown(held)
  }

  /**
   * The silence holding `key`'s notifications back now (the one that lasts longest), or a
   * manifest window's. `now` (ms) lets a caller asking for many checks read the clock once.
   */
  match(key: CheckKey, windows: readonly MaintenanceWindow[] = [], now?: number): SilenceMark | undefined {
    // Asked for every check each time the API lists them: most checks, most of the time, have
    // neither a silence nor a window.
    const ofPod = this.byPod.get(key.pod)
    if (ofPod === undefined && windows.length === 0) return undefined
    now ??= this.now()
    let found: Held | undefined
    for (const h of ofPod ?? []) {
      if (h.startsMs > now || h.endsMs <= now || !covers(h.silence, key)) continue
      if (!found || h.endsMs > found.endsMs) found = h
    }
    if (found) {
      const { id, comment, author, endsAt } = this.shown(found)
      return { id, comment, author, until: endsAt }
    }
    for (const window of windows) {
      const until = windowEnd(window, now)
      if (until !== undefined)
        return { id: 'maintenance', comment: describeWindow(window), until: new Date(until).toISOString() }
    }
    return undefined
  }

  private replace(silences: readonly Silence[]): void {
    this.all = new Map()
    this.byPod = new Map()
    for (const silence of silences) this.set({ ...silence })
  }

  private set(silence: Silence): void {
    if (this.all.has(silence.id)) this.delete(silence.id)
    const held: Held = {
      silence,
      startsMs: Date.parse(silence.startsAt),
      endsMs: Date.parse(silence.endsAt),
      shownAt: Number.NaN,
      comment: '',
    }
    this.all.set(silence.id, held)
    const ofPod = this.byPod.get(silence.pod)
    if (ofPod) ofPod.push(held)
    else this.byPod.set(silence.pod, [held])
  }

  private delete(id: string): void {
    const held = this.all.get(id)
    if (!held) return
    this.all.delete(id)
    const ofPod = this.byPod.get(held.silence.pod) ?? []
    const rest = ofPod.filter((h) => h !== held)
    if (rest.length) this.byPod.set(held.silence.pod, rest)
    else this.byPod.delete(held.silence.pod)
  }

  private forgetEnded(now: number): void {
    for (const [id, h] of this.all) if (h.endsMs <= now - KEEP_ENDED_MS) this.delete(id)
  }
}

/** A silence as `Silences` holds it: with its times parsed once. */
interface Held {
  silence: Silence
  startsMs: number
  endsMs: number
  /** The secrets' version `comment` and `author` were masked at (NaN: not yet). */
  shownAt: number
  comment: string
  author?: string
}

function name(value: unknown, what: string, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw new SilenceError(`a silence needs a \`${what}\``)
    return undefined
  }
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value))
    throw new SilenceError(`${what} ${JSON.stringify(value)} is not a ${what} name (letters, digits, ".", "_", "-")`)
  return value
}

/**
 * When the window that `now` falls in ends (ms), or undefined outside it. The wall clock
 * of `tz` decides, so a window keeps its local hours across daylight-saving changes.
 */
export function windowEnd(window: MaintenanceWindow, now: number): number | undefined {
  const { day, minute } = wallClock(now, window.tz)
  const overnight = window.toMinute <= window.fromMinute
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] as Weekday
  let left: number | undefined
  if (window.days.includes(day) && minute >= window.fromMinute && (overnight || minute < window.toMinute))
    left = overnight ? 24 * 60 - minute + window.toMinute : window.toMinute - minute
  else if (overnight && window.days.includes(yesterday) && minute < window.toMinute) left = window.toMinute - minute
  if (left === undefined) return undefined
  // To the minute: the seconds already gone in this minute are not counted twice.
  return now - (now % 60_000) + left * 60_000
}

const formats = new Map<string, Intl.DateTimeFormat>()

function wallClock(now: number, tz: string): { day: Weekday; minute: number } {
  let format = formats.get(tz)
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    formats.set(tz, format)
  }
  const parts = format.formatToParts(now)
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  return {
    day: get('weekday').toLowerCase().slice(0, 3) as Weekday,
    minute: Number(get('hour')) * 60 + Number(get('minute')),
  }
}

/** Whether `tz` is a time zone this Node knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

function describeWindow(w: MaintenanceWindow): string {
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
  return `maintenance window ${w.days.join(',')} ${hhmm(w.fromMinute)}-${hhmm(w.toMinute)} ${w.tz}`
}
