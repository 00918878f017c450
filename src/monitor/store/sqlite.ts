/**
 * The embedded store: one SQLite file, no server to run. Write-ahead logging with
 * `synchronous=NORMAL` makes every batch one transaction that a crash (even `kill -9`
 * mid-write) either keeps or drops whole; the file always opens cleanly afterwards.
 * The monitor batches writes off its checking path; this class only runs them.
 *
 * Bounded on disk: each check keeps at most `transitionsPerCheck` transitions, enforced in
 * the transaction that writes them (a flood of pushes cannot outgrow it between prunes),
 * and the file runs with `auto_vacuum = INCREMENTAL`, so pages that pruning frees are
 * given back to the file system instead of staying in the file for ever.
 */
import { optionKeys, rejectUnknownKeys } from '../../core/options.js'
import {
  type CheckState,
  type HistoryPoint,
  type HistoryQuery,
  type HistorySample,
  type MonitorStore,
  type RunningMark,
  type Silence,
  stateOfRank,
  stateRank,
  type Transition,
} from '../types.js'
import {
  DEFAULT_RETENTION,
  HOUR_MS,
  MINUTE_MS,
  minuteCutoff,
  RETENTION_KEYS,
  type Retention,
  sampleTotals,
  silenceSweepDue,
  silencesToDrop,
} from './retention.js'
import {
  openSqliteDatabase,
  type SqliteDatabase,
  type SqliteDriverName,
  type SqliteStatement,
} from './sqlite-driver.js'

type Database = SqliteDatabase
type Statement = SqliteStatement

// 2: history's `worst` holds STATE_RANK, where unknown ranks above passing (version 1
// stored unknown 0, passing 1).
const SCHEMA_VERSION = 2

const SCHEMA = `
CREATE TABLE IF NOT EXISTS states (
  id TEXT PRIMARY KEY,
  pod TEXT NOT NULL,
  node TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  pod TEXT NOT NULL,
  at TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_id ON transitions (id, seq);
CREATE INDEX IF NOT EXISTS transitions_by_pod ON transitions (pod, seq);
CREATE INDEX IF NOT EXISTS transitions_by_at ON transitions (at);
CREATE TABLE IF NOT EXISTS history (
  id TEXT NOT NULL,
  resolution INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  count INTEGER NOT NULL,
  passed INTEGER NOT NULL,
  duration_sum REAL NOT NULL,
  timed INTEGER NOT NULL,
  worst INTEGER NOT NULL,
  PRIMARY KEY (id, resolution, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_by_age ON history (resolution, bucket);
CREATE TABLE IF NOT EXISTS monitor (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  ends_at TEXT NOT NULL,
  body TEXT NOT NULL
);
`

// Pruning deletes rows; doing it at most this often keeps it off every batch.
const PRUNE_EVERY_MS = 5 * MINUTE_MS
// The write-ahead log is cut back to this size when it is reset, so one burst of writes
// does not leave a large -wal file behind.
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
// SQLite's auto_vacuum values.
const AUTO_VACUUM_INCREMENTAL = 2

export interface SqliteStoreOptions {
  retention?: Partial<Retention>
  /** Open an existing store for reading only (what `probekit inspect` does). */
  readonly?: boolean
  /** The SQLite driver; default `PROBEKIT_SQLITE_DRIVER`, else node:sqlite where Node has it, else better-sqlite3. */
  driver?: SqliteDriverName
}

const SQLITE_STORE_OPTION_KEYS = optionKeys<SqliteStoreOptions>()({ retention: true, readonly: true, driver: true })

export class SqliteStore implements MonitorStore {
  readonly file: string
  /** Which SQLite runs this store: Node's built-in `node:sqlite` or the `better-sqlite3` package. */
  readonly driver: SqliteDriverName
  private readonly db: Database
  private readonly retention: Retention
  private silencesSweptAt = Number.NEGATIVE_INFINITY
  private lastPrune = 0
  private readonly stmt: {
    saveState: Statement
    removeState: Statement
    markRunning: Statement
    removeHistory: Statement
    addTransition: Statement
    capTransitions: Statement
    addHistory: Statement
  }

  /** Opens (creating if needed) the store in `file`. Use `openStore('sqlite:FILE')` for friendly errors. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    rejectUnknownKeys('new SqliteStore', options, SQLITE_STORE_OPTION_KEYS)
    rejectUnknownKeys('new SqliteStore: retention', options.retention, RETENTION_KEYS)
    this.file = file
    this.retention = { ...DEFAULT_RETENTION, ...options.retention }
    const readonly = options.readonly === true
    const db = openSqliteDatabase(file, { readonly, busyTimeoutMs: 5000, driver: options.driver })
    this.db = db
    this.driver = db.driver
    try {
      if (!readonly) {
        // Before WAL: a new file takes auto_vacuum only while nothing has been written to it.
        useIncrementalVacuum(db)
        db.pragma('journal_mode = WAL')
        db.pragma('synchronous = NORMAL')
        db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`)
      }
      const version = Number(firstValue(db.pragma('user_version')) ?? 0)
      if (version > SCHEMA_VERSION)
        throw new Error(
          `${file} was written by a newer probekit (store version ${version}); upgrade probekit or use another file`,
        )
      if (readonly && version === 0) throw new Error(`${file} is not a probekit monitor store (it has no tables)`)
      if (readonly && version < SCHEMA_VERSION)
        throw new Error(
          `${file} was written by an older probekit (store version ${version}); start "probekit monitor" on it once to upgrade it`,
        )
      if (!readonly) {
        db.transaction(() => {
          db.exec(SCHEMA)
          if (version === 1) db.exec('UPDATE history SET worst = CASE worst WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE worst END')
          db.pragma(`user_version = ${SCHEMA_VERSION}`)
        })
      }
    } catch (error) {
      db.close()
      throw error
    }
    if (readonly) {
      // Reads only: the write statements are prepared lazily by the methods that never run.
      this.stmt = new Proxy({} as SqliteStore['stmt'], {
        get: () => {
          throw new Error(`${file} is open read-only`)
        },
      })
      return
    }
    this.stmt = {
      saveState: db.prepare(
        'INSERT INTO states (id, pod, node, body) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET pod = excluded.pod, node = excluded.node, body = excluded.body',
      ),
      removeState: db.prepare('DELETE FROM states WHERE id = ?'),
      markRunning: db.prepare(
        'INSERT INTO monitor (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      removeHistory: db.prepare('DELETE FROM history WHERE id = ?'),
      addTransition: db.prepare('INSERT INTO transitions (id, pod, at, body) VALUES (?, ?, ?, ?)'),
      // Everything older than the check's newest N, found through the (id, seq) index.
      capTransitions: db.prepare(
        'DELETE FROM transitions WHERE id = ? AND seq <= (SELECT seq FROM transitions WHERE id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
      ),
      addHistory: db.prepare(
        `INSERT INTO history (id, resolution, bucket, count, passed, duration_sum, timed, worst) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id, resolution, bucket) DO UPDATE SET
           count = count + excluded.count, passed = passed + excluded.passed,
           duration_sum = duration_sum + excluded.duration_sum, timed = timed + excluded.timed,
           worst = max(worst, excluded.worst)`,
      ),
    }
  }

  loadStates(): CheckState[] {
    const rows = this.db.prepare('SELECT body FROM states ORDER BY pod, node, id').all() as { body: string }[]
    const out: CheckState[] = []
    for (const row of rows) {
      try {
        out.push(JSON.parse(row.body) as CheckState)
      } catch {
        // A row that does not parse is dropped: the check starts from unknown again.
      }
    }
    return out
  }

  loadSilences(): Silence[] {
    const rows = this.db.prepare('SELECT body FROM silences ORDER BY ends_at').all() as { body: string }[]
    const out: Silence[] = []
    for (const row of rows) {
      try {
        out.push(JSON.parse(row.body) as Silence)
      } catch {}
    }
    return out
  }

  saveSilence(silence: Silence): void {
    this.db
      .prepare(
        'INSERT INTO silences (id, ends_at, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET ends_at = excluded.ends_at, body = excluded.body',
      )
      .run(silence.id, silence.endsAt, JSON.stringify(silence))
    // Bounded: past the bound at once, and week-old ended ones at most once a minute.
    const now = Date.now()
    const count = Number((this.db.prepare('SELECT count(*) AS n FROM silences').get() as { n: number }).n)
    if (!silenceSweepDue(count, now, this.silencesSweptAt, this.retention)) return
    this.silencesSweptAt = now
    const rows = this.db.prepare('SELECT id, ends_at AS endsAt FROM silences').all() as Silence[]
    const drop = silencesToDrop(rows, now, this.retention)
    if (drop.length === 0) return
    const remove = this.db.prepare('DELETE FROM silences WHERE id = ?')
    this.db.transaction(() => {
      for (const id of drop) remove.run(id)
    })
  }

  saveStates(states: readonly CheckState[]): void {
    if (states.length === 0) return
    this.db.transaction(() => {
      for (const s of states) this.stmt.saveState.run(s.id, s.pod, s.node, JSON.stringify(s))
    })
  }

  removeStates(ids: readonly string[]): void {
    if (ids.length === 0) return
    this.db.transaction(() => {
      for (const id of ids) {
        this.stmt.removeState.run(id)
        this.stmt.removeHistory.run(id)
      }
    })
  }

  addTransitions(transitions: readonly Transition[]): void {
    if (transitions.length === 0) return
    const cap = Math.max(0, Math.floor(this.retention.transitionsPerCheck))
    this.db.transaction(() => {
      const ids = new Set<string>()
      for (const t of transitions) {
        this.stmt.addTransition.run(t.id, t.pod, t.at, JSON.stringify(t))
        ids.add(t.id)
      }
      for (const id of ids) this.stmt.capTransitions.run(id, id, cap)
    })
    this.maybePrune()
  }

  transitions(query: { id?: string; pod?: string; since?: string; limit?: number }): Transition[] {
    const where: string[] = []
    const params: (string | number)[] = []
    if (query.id !== undefined) {
      where.push('id = ?')
      params.push(query.id)
    }
    if (query.pod !== undefined) {
      where.push('pod = ?')
      params.push(query.pod)
    }
    if (query.since !== undefined) {
      where.push('at >= ?')
      params.push(query.since)
    }
    params.push(Math.max(0, Math.floor(query.limit ?? 100)))
    const sql = `SELECT body FROM transitions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`
    const rows = this.db.prepare(sql).all(...params) as { body: string }[]
    return rows.reverse().map((r) => JSON.parse(r.body) as Transition)
  }

  addSamples(samples: readonly HistorySample[]): void {
    if (samples.length === 0) return
    this.db.transaction(() => {
      for (const sample of samples) {
        const at = Date.parse(sample.at)
        if (!Number.isFinite(at)) continue
        const t = sampleTotals(sample)
        const rank = stateRank(sample.state)
        const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS
        const hour = Math.floor(at / HOUR_MS) * HOUR_MS
        this.stmt.addHistory.run(sample.id, MINUTE_MS, minute, t.count, t.passed, t.durationSum, t.timed, rank)
        this.stmt.addHistory.run(sample.id, HOUR_MS, hour, t.count, t.passed, t.durationSum, t.timed, rank)
      }
    })
    this.maybePrune()
  }

  history(id: string, query: HistoryQuery = {}): HistoryPoint[] {
    const cutoff = minuteCutoff(Date.now(), this.retention)
    const since = query.since ? Date.parse(query.since) : 0
    const rows = this.db
      .prepare(
        `SELECT bucket, count, passed, duration_sum, timed, worst FROM history
         WHERE id = ? AND bucket >= ? AND ((resolution = ? AND bucket < ?) OR (resolution = ? AND bucket >= ?))
         ORDER BY bucket DESC LIMIT ?`,
      )
      .all(
        id,
        Number.isFinite(since) ? since : 0,
        HOUR_MS,
        cutoff,
        MINUTE_MS,
        cutoff,
        Math.max(0, Math.floor(query.limit ?? 100_000)),
      ) as { bucket: number; count: number; passed: number; duration_sum: number; timed: number; worst: number }[]
    return rows.reverse().map((r) => {
      const point: HistoryPoint = {
        at: new Date(r.bucket).toISOString(),
        state: stateOfRank(r.worst),
        count: r.count,
        passed: r.passed,
      }
      if (r.timed > 0) point.durationMs = r.duration_sum / r.timed
      return point
    })
  }

  /**
   * Applies retention now (also done every few minutes as batches are written), then gives
   * the freed pages back to the file system, so the file shrinks.
   */
  prune(now = Date.now()): void {
    this.lastPrune = now
    const transitionsBefore = new Date(now - this.retention.transitionsMs).toISOString()
    this.db.transaction(() => {
      this.db
        .prepare('DELETE FROM history WHERE resolution = ? AND bucket < ?')
        .run(MINUTE_MS, minuteCutoff(now, this.retention))
      this.db
        .prepare('DELETE FROM history WHERE resolution = ? AND bucket < ?')
        .run(HOUR_MS, now - this.retention.hoursMs)
      this.db.prepare('DELETE FROM transitions WHERE at < ?').run(transitionsBefore)
      // Keep the newest N transitions of each check.
      this.db
        .prepare(
          `DELETE FROM transitions WHERE seq IN (
             SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY id ORDER BY seq DESC) AS n FROM transitions) WHERE n > ?)`,
        )
        .run(this.retention.transitionsPerCheck)
    })
    this.shrink()
  }

  /**
   * Truncates the pages pruning freed off the end of the file (`incremental_vacuum`), then
   * folds the write-ahead log into the file so the shrink reaches the disk now. The
   * checkpoint waits at most a moment for readers (`probekit inspect`); if one holds it
   * back, the next checkpoint finishes the job.
   */
  private shrink(): void {
    this.db.pragma('incremental_vacuum')
    this.db.pragma('busy_timeout = 100')
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)')
    } finally {
      this.db.pragma('busy_timeout = 5000')
    }
  }

  private maybePrune(): void {
    const now = Date.now()
    if (now - this.lastPrune >= PRUNE_EVERY_MS) this.prune(now)
  }

  /** Quick structural check of the file (`PRAGMA quick_check`): `ok` or the first problems. */
  markRunning(at: number, running: boolean): void {
    const mark: RunningMark = { at: new Date(at).toISOString(), running }
    this.stmt.markRunning.run('running', JSON.stringify(mark))
  }

  runningMark(): RunningMark | undefined {
    try {
      const row = this.db.prepare("SELECT value FROM monitor WHERE key = 'running'").get() as
        | { value: string }
        | undefined
      if (!row) return undefined
      const mark = JSON.parse(row.value) as RunningMark
      return typeof mark.at === 'string' && typeof mark.running === 'boolean' ? mark : undefined
    } catch {
      // A store from before the table (written by an older probekit): no mark.
      return undefined
    }
  }

  check(): string {
    const rows = this.db.pragma('quick_check') as { quick_check: string }[]
    return rows.map((r) => r.quick_check).join('; ')
  }

  close(): void {
    if (!this.db.isOpen) return
    if (this.db.readonly) {
      this.db.close()
      return
    }
    try {
      // Fold the write-ahead log into the main file so a stopped monitor leaves one file.
      this.db.pragma('wal_checkpoint(TRUNCATE)')
    } catch {}
    this.db.close()
  }
}

function firstValue(rows: Record<string, unknown>[]): unknown {
  const row = rows[0]
  return row ? Object.values(row)[0] : undefined
}

/**
 * Switches the file to `auto_vacuum = INCREMENTAL`. A new file takes it at once; a file
 * created before by an earlier probekit (auto_vacuum off) is rebuilt once with
 * `VACUUM`, which needs free disk space about the size of the file and time in proportion
 * to it, at start-up only.
 */
function useIncrementalVacuum(db: Database): void {
  if (Number(firstValue(db.pragma('auto_vacuum'))) === AUTO_VACUUM_INCREMENTAL) return
  db.pragma('auto_vacuum = INCREMENTAL')
  // Does the pragma hold by itself (a new, empty file)? Otherwise the file is rebuilt.
  if (Number(firstValue(db.pragma('auto_vacuum'))) !== AUTO_VACUUM_INCREMENTAL) db.exec('VACUUM')
}
