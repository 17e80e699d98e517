// The window ledger of the windowed inputs (`run_ai`, `prometheus`: their `state`): one SQLite file (WAL) that
// records which usage windows were scraped, what each emitted, which were delivered, which
// resources are still owed for a window, and which windows were given up. A restart resumes from
// it: undelivered batches are emitted again byte for byte, missed windows are backfilled with the
// bounds (hence the event ids) they would have had, and windows too old to backfill become gaps.
//
// A window's life: due (in memory, derived from the resume point and the clock) -> `emitted` (its
// messages are in the outbox, committed in the same transaction as the window row) -> `done`
// (the pipeline acked its batch; with a sqlite buffer, that is once the buffer committed it).
// Because a batch's messages are stored before they are emitted and deleted only when acked, a
// window is never emitted twice with different content: every re-emission is the stored bytes.

import type Database from 'better-sqlite3';
import { openStateFile, type SyncPolicy } from '../sqlite.js';
import type { Schedule } from './schedule.js';

/** Bumped when the tables change; older files are migrated, newer ones refused. */
export const LEDGER_VERSION = 2;
/** Delivered windows older than this (behind the newest window) are pruned from the `windows` table. */
export const WINDOW_RETENTION_MS = 7 * 86_400_000;

/** A usage window in epoch ms: [start, end], scraped at its nominal schedule tick. */
export interface LedgerWindow {
  readonly start: number;
  readonly end: number;
  readonly tick: number;
}

/** One message as emitted: its body bytes and metadata, stored verbatim. */
export interface StoredMessage {
  readonly body: Uint8Array;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A batch emitted but not yet acked, to be emitted again after a restart. */
export interface PendingBatch {
  readonly id: number;
  readonly window: LedgerWindow;
  /** `window`: the window's scrape; `retry`: resources of an earlier window that failed then. */
  readonly kind: 'window' | 'retry';
  readonly messages: StoredMessage[];
}

/** A resource whose metrics failed for a window: owed, and retried at each scrape. */
export interface MissingResource {
  readonly window: LedgerWindow;
  readonly resourceId: string;
  /** The resource as listed when its window was scraped (JSON), so a retry emits the same body. */
  readonly resource: unknown;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly lastError: string;
}

export type GapReason =
  /** The window ended more than `max_backfill` before it could be scraped (downtime, a long outage). */
  | 'max_backfill'
  /** Run:ai answered 404 for the resource's metrics: it no longer exists. */
  | 'not_found'
  /** The pipeline gave the resource's message up: the sink rejected it as invalid, or a processor failed on it (strict). */
  | 'rejected'
  /** An output dropped the resource's message as configured (`drop_on`). */
  | 'dropped';

/** Usage that will not be collected, recorded so it is never silent. */
export interface Gap {
  /** Start of the first window and end of the last window given up, epoch ms. */
  readonly start: number;
  readonly end: number;
  /** Windows in the range. */
  readonly windows: number;
  /** Set when one resource of one window was given up; absent when whole windows were. */
  readonly resourceId?: string;
  readonly reason: GapReason;
  readonly detail: string;
  readonly recordedAt: number;
}

/** A window as the `windows` table keeps it. */
export interface WindowRecord extends LedgerWindow {
  readonly state: 'emitted' | 'done';
  /** Resources listed, messages emitted, resources whose metrics failed (then owed in `missing`). */
  readonly listed: number;
  readonly emitted: number;
  readonly failed: number;
}

/** What one scrape produced, recorded in one transaction before anything is emitted. */
export interface ScrapeRecord {
  /** Windows scraped for the first time, oldest first, with how many resources were listed for each. */
  readonly windows: readonly { readonly window: LedgerWindow; readonly listed: number }[];
  /** Messages to emit, one batch each: a new window's, or retried resources of an earlier window. */
  readonly batches: readonly { readonly window: LedgerWindow; readonly kind: 'window' | 'retry'; readonly messages: readonly StoredMessage[] }[];
  /** Resources whose metrics failed: new debts, or another failed attempt of an existing one. */
  readonly failed: readonly {
    readonly window: LedgerWindow;
    readonly resourceId: string;
    readonly resource: unknown;
    readonly error: string;
    /** When it may be tried again, epoch ms; absent: at the next scrape. */
    readonly retryAt?: number;
  }[];
  /** Owed resources that succeeded (their message is in `batches`). */
  readonly recovered: readonly { readonly window: LedgerWindow; readonly resourceId: string }[];
  /** Owed resources given up, each recorded as a one-resource gap. */
  readonly givenUp: readonly { readonly window: LedgerWindow; readonly resourceId: string; readonly reason: GapReason; readonly detail: string }[];
}

/** What the ledger was written for; a mismatch is reported when it is opened again. */
export interface LedgerIdentity {
  readonly resourceType: string;
  readonly schedule: string;
  readonly offsetMs: number;
}

export interface LedgerOptions {
  readonly file: string;
  /** As the sqlite buffer's `sync`: normal survives a killed process, full also power loss. */
  readonly sync: SyncPolicy;
  readonly identity: LedgerIdentity;
  /** The clock for timestamps; Date.now by default. */
  readonly now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS windows (
  start_ms INTEGER PRIMARY KEY,
  end_ms INTEGER NOT NULL,
  tick_ms INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('emitted', 'done')),
  listed INTEGER NOT NULL,
  emitted INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  scraped_at INTEGER NOT NULL,
  done_at INTEGER
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('window', 'retry')),
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  tick_ms INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  buffer_id TEXT,
  buffer_seq INTEGER
);
CREATE TABLE IF NOT EXISTS outbox_messages (
  batch_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  body BLOB NOT NULL,
  metadata TEXT NOT NULL,
  PRIMARY KEY (batch_id, seq)
);
CREATE TABLE IF NOT EXISTS missing (
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  tick_ms INTEGER NOT NULL,
  resource_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  first_failed_at INTEGER NOT NULL,
  retry_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (start_ms, resource_id)
);
CREATE TABLE IF NOT EXISTS gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  windows INTEGER NOT NULL,
  resource_id TEXT,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  recorded_at INTEGER NOT NULL
);
`;

interface WindowRow {
  start_ms: number;
  end_ms: number;
  tick_ms: number;
  state: 'emitted' | 'done';
  listed: number;
  emitted: number;
  failed: number;
}
interface OutboxRow {
  id: number;
  kind: 'window' | 'retry';
  start_ms: number;
  end_ms: number;
  tick_ms: number;
}
interface GapRow {
  id: number;
  start_ms: number;
  end_ms: number;
  windows: number;
  resource_id: string | null;
  reason: GapReason;
  detail: string;
  recorded_at: number;
}

export class WindowLedger {
  readonly file: string;
  /** What differs from the identity the file was written with, in words (empty for a new file). */
  readonly changes: readonly string[];
  #db: Database.Database;
  #now: () => number;
  #lastPrune = 0;

  /**
   * Opens (creating) the ledger file. Throws when it cannot be opened, was written by another
   * ledger version, or for another resource type (its windows would mean something else).
   */
  constructor(options: LedgerOptions) {
    this.file = options.file;
    this.#now = options.now ?? Date.now;
    const db = openStateFile(options.file, options.sync);
    try {
      db.exec(SCHEMA);
      // Files written before owed retries backed off have no retry_at: every debt is due at once.
      const columns = db.prepare('PRAGMA table_info(missing)').all() as { name: string }[];
      if (!columns.some((c) => c.name === 'retry_at')) db.exec('ALTER TABLE missing ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0');
      this.changes = checkIdentity(db, options.identity);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    this.#prune();
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  /**
   * The end of the newest window recorded (scraped, or given up as a gap), epoch ms: the next
   * window starts there. Undefined for a new ledger.
   */
  resumePoint(): number | undefined {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = 'last_end'").get() as { value: string } | undefined;
    return row === undefined ? undefined : Number(row.value);
  }

  /**
   * Where everything before is settled: the start of the oldest window with a batch not yet
   * delivered (to the sink: a batch a durable buffer holds counts as not delivered) or a resource
   * still owed, else the resume point. Under leader election this is what a new leader continues
   * from; undefined for a new ledger.
   */
  watermark(): number | undefined {
    const last = this.resumePoint();
    if (last === undefined) return undefined;
    const row = this.#db.prepare('SELECT MIN(start_ms) AS m FROM (SELECT start_ms FROM outbox UNION ALL SELECT start_ms FROM missing)').get() as { m: number | null };
    return row.m === null ? last : Math.min(row.m, last);
  }

  /**
   * Continues from a watermark another replica (the previous leader) left, ahead of this ledger:
   * every window before it was delivered or given up there, so this ledger's undelivered batches
   * and owed resources (all before it) are dropped, and the next window starts at `end`. Refused
   * (false) when `end` is not ahead of the resume point.
   */
  adopt(end: number): boolean {
    return this.#db.transaction(() => {
      const last = this.resumePoint();
      if (last !== undefined && end <= last) return false;
      this.#db.exec("DELETE FROM outbox_messages; DELETE FROM outbox; DELETE FROM missing; UPDATE windows SET state = 'done', done_at = " + String(this.#now()) + " WHERE state = 'emitted';");
      this.#setLastEnd(end);
      return true;
    })();
  }

  /** Batches emitted and not yet acked (or acked by a buffer that lost them), oldest first, with their stored messages. */
  pendingBatches(): PendingBatch[] {
    const batches = this.#db.prepare('SELECT id, kind, start_ms, end_ms, tick_ms FROM outbox WHERE buffer_id IS NULL ORDER BY id').all() as OutboxRow[];
    const select = this.#db.prepare('SELECT body, metadata FROM outbox_messages WHERE batch_id = ? ORDER BY seq');
    return batches.map((b) => ({
      id: b.id,
      kind: b.kind,
      window: { start: b.start_ms, end: b.end_ms, tick: b.tick_ms },
      messages: (select.all(b.id) as { body: Buffer; metadata: string }[]).map((m) => ({
        body: m.body,
        metadata: JSON.parse(m.metadata) as Record<string, unknown>,
      })),
    }));
  }

  /**
   * Resources owed for earlier windows, oldest window first: all of them, or with `due` only those
   * whose next retry is due at that time (epoch ms), at most `limit`.
   */
  missing(options: { due?: number; limit?: number } = {}): MissingResource[] {
    const rows = this.#db
      .prepare('SELECT start_ms, end_ms, tick_ms, resource_id, resource, attempts, last_error FROM missing WHERE retry_at <= ? ORDER BY start_ms, resource_id LIMIT ?')
      .all(options.due ?? Number.MAX_SAFE_INTEGER, options.limit ?? -1) as { start_ms: number; end_ms: number; tick_ms: number; resource_id: string; resource: string; attempts: number; last_error: string }[];
    return rows.map((r) => ({
      window: { start: r.start_ms, end: r.end_ms, tick: r.tick_ms },
      resourceId: r.resource_id,
      resource: JSON.parse(r.resource) as unknown,
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  }

  /** How many resource windows are owed. */
  owed(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM missing').get() as { n: number }).n;
  }

  /**
   * Records a scrape in one transaction, before any of it is emitted: the new windows, their
   * messages as outbox batches, new and repeated failures, recovered and given-up resources.
   * A window without messages is done at once. Returns the outbox id of each of `batches`.
   */
  recordScrape(record: ScrapeRecord): number[] {
    const now = this.#now();
    const ids = this.#db.transaction(() => {
      const emitted = new Map<number, number>();
      const failed = new Map<number, number>();
      for (const b of record.batches) if (b.kind === 'window') emitted.set(b.window.start, b.messages.length);
      for (const f of record.failed) failed.set(f.window.start, (failed.get(f.window.start) ?? 0) + 1);
      const insertWindow = this.#db.prepare(
        'INSERT INTO windows (start_ms, end_ms, tick_ms, state, listed, emitted, failed, scraped_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      let lastEnd = this.resumePoint();
      for (const { window, listed } of record.windows) {
        // Windows are recorded in order and chain exactly: a hole or an overlap is a bug, refused.
        if (lastEnd !== undefined && window.start !== lastEnd) {
          throw new Error(`window ${iso(window.start)} does not start where the last recorded window ends (${iso(lastEnd)})`);
        }
        const count = emitted.get(window.start) ?? 0;
        insertWindow.run(window.start, window.end, window.tick, count > 0 ? 'emitted' : 'done', listed, count, failed.get(window.start) ?? 0, now, count > 0 ? null : now);
        lastEnd = window.end;
      }
      if (lastEnd !== undefined && record.windows.length > 0) this.#setLastEnd(lastEnd);

      const insertBatch = this.#db.prepare('INSERT INTO outbox (kind, start_ms, end_ms, tick_ms, created_at) VALUES (?, ?, ?, ?, ?)');
      const insertMessage = this.#db.prepare('INSERT INTO outbox_messages (batch_id, seq, body, metadata) VALUES (?, ?, ?, ?)');
      const batchIds: number[] = [];
      for (const batch of record.batches) {
        const { window } = batch;
        const id = Number(insertBatch.run(batch.kind, window.start, window.end, window.tick, now).lastInsertRowid);
        for (const [seq, m] of batch.messages.entries()) insertMessage.run(id, seq, Buffer.from(m.body), JSON.stringify(m.metadata));
        batchIds.push(id);
      }

      const upsertMissing = this.#db.prepare(
        `INSERT INTO missing (start_ms, end_ms, tick_ms, resource_id, resource, attempts, last_error, first_failed_at, retry_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
         ON CONFLICT (start_ms, resource_id) DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error, retry_at = excluded.retry_at`,
      );
      for (const f of record.failed) upsertMissing.run(f.window.start, f.window.end, f.window.tick, f.resourceId, JSON.stringify(f.resource), f.error, now, f.retryAt ?? 0);
      const deleteMissing = this.#db.prepare('DELETE FROM missing WHERE start_ms = ? AND resource_id = ?');
      for (const r of record.recovered) deleteMissing.run(r.window.start, r.resourceId);
      for (const g of record.givenUp) {
        deleteMissing.run(g.window.start, g.resourceId);
        this.#insertGap({ start: g.window.start, end: g.window.end, windows: 1, resourceId: g.resourceId, reason: g.reason, detail: g.detail }, now);
      }
      return batchIds;
    })();
    this.#prune();
    return ids;
  }

  /**
   * The batch was acked: its window is done. Without `position` its messages are forgotten. With
   * one (a durable buffer committed them there) they are kept until the buffer reports that
   * position delivered (reconcile), so a buffer that loses them can be made good. Resources whose
   * messages were given up are recorded as one-resource gaps, in the same transaction.
   */
  delivered(batchId: number, options: { position?: { buffer: string; seq: number }; givenUp?: readonly { resourceId: string; reason: GapReason; detail: string }[] } = {}): void {
    const now = this.#now();
    this.#db.transaction(() => {
      const batch = this.#db.prepare('SELECT kind, start_ms, end_ms FROM outbox WHERE id = ?').get(batchId) as { kind: string; start_ms: number; end_ms: number } | undefined;
      if (batch === undefined) return;
      for (const g of options.givenUp ?? []) {
        this.#insertGap({ start: batch.start_ms, end: batch.end_ms, windows: 1, resourceId: g.resourceId, reason: g.reason, detail: g.detail }, now);
      }
      if (options.position) {
        this.#db.prepare('UPDATE outbox SET buffer_id = ?, buffer_seq = ? WHERE id = ?').run(options.position.buffer, options.position.seq, batchId);
      } else {
        this.#forget(batchId);
      }
      if (batch.kind === 'window') this.#db.prepare("UPDATE windows SET state = 'done', done_at = ? WHERE start_ms = ?").run(now, batch.start_ms);
    })();
  }

  /** Batches acked by a durable buffer and not yet reported delivered by it. */
  held(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE buffer_id IS NOT NULL').get() as { n: number }).n;
  }

  /**
   * Squares the batches handed to a durable buffer with its state: forgets those it delivered,
   * and re-opens those it lost (acked at a position above the highest it holds, or by a buffer
   * of another id: the file was torn or replaced). Returns the re-opened batches, to emit again.
   */
  reconcile(state: { buffer: string; committed: number; delivered: number }): PendingBatch[] {
    return this.#db.transaction(() => {
      const delivered = this.#db.prepare('SELECT id FROM outbox WHERE buffer_id = ? AND buffer_seq <= ?').all(state.buffer, state.delivered) as { id: number }[];
      for (const { id } of delivered) this.#forget(id);
      const lost = this.#db
        .prepare('SELECT id, start_ms FROM outbox WHERE buffer_id IS NOT NULL AND (buffer_id != ? OR buffer_seq > ?)')
        .all(state.buffer, state.committed) as { id: number; start_ms: number }[];
      if (lost.length === 0) return [];
      const reopen = this.#db.prepare('UPDATE outbox SET buffer_id = NULL, buffer_seq = NULL WHERE id = ?');
      const undone = this.#db.prepare("UPDATE windows SET state = 'emitted', done_at = NULL WHERE start_ms = ?");
      for (const { id, start_ms } of lost) {
        reopen.run(id);
        undone.run(start_ms);
      }
      const ids = new Set(lost.map((l) => l.id));
      return this.pendingBatches().filter((b) => ids.has(b.id));
    })();
  }

  /**
   * Records whole windows given up, and moves the resume point past them. A gap that continues
   * the previous one (same reason, adjacent) extends it, so one outage is one row. Returns the
   * gap as stored.
   */
  recordGap(gap: { start: number; end: number; windows: number; reason: GapReason; detail: string }): Gap {
    const now = this.#now();
    return this.#db.transaction(() => {
      const last = this.resumePoint();
      if (last !== undefined && gap.start !== last) throw new Error(`gap ${iso(gap.start)} does not start where the last recorded window ends (${iso(last)})`);
      const previous = this.#db.prepare('SELECT * FROM gaps WHERE resource_id IS NULL ORDER BY id DESC LIMIT 1').get() as GapRow | undefined;
      let stored: Gap;
      if (previous && previous.end_ms === gap.start && previous.reason === gap.reason && last === gap.start) {
        this.#db
          .prepare('UPDATE gaps SET end_ms = ?, windows = windows + ?, detail = ?, recorded_at = ? WHERE id = ?')
          .run(gap.end, gap.windows, gap.detail, now, previous.id);
        stored = { start: previous.start_ms, end: gap.end, windows: previous.windows + gap.windows, reason: gap.reason, detail: gap.detail, recordedAt: now };
      } else {
        stored = this.#insertGap({ ...gap }, now);
      }
      this.#setLastEnd(gap.end);
      return stored;
    })();
  }

  /** Every gap recorded, oldest first. */
  gaps(): Gap[] {
    return (this.#db.prepare('SELECT * FROM gaps ORDER BY id').all() as GapRow[]).map(gapOf);
  }

  /** The windows table (kept for WINDOW_RETENTION_MS), oldest first. */
  windows(): WindowRecord[] {
    return (this.#db.prepare('SELECT * FROM windows ORDER BY start_ms').all() as WindowRow[]).map((r) => ({
      start: r.start_ms,
      end: r.end_ms,
      tick: r.tick_ms,
      state: r.state,
      listed: r.listed,
      emitted: r.emitted,
      failed: r.failed,
    }));
  }

  /** Idempotent. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #forget(batchId: number): void {
    this.#db.prepare('DELETE FROM outbox_messages WHERE batch_id = ?').run(batchId);
    this.#db.prepare('DELETE FROM outbox WHERE id = ?').run(batchId);
  }

  #setLastEnd(end: number): void {
    this.#db.prepare("INSERT INTO meta (key, value) VALUES ('last_end', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(end));
  }

  #insertGap(gap: Omit<Gap, 'recordedAt'>, now: number): Gap {
    this.#db
      .prepare('INSERT INTO gaps (start_ms, end_ms, windows, resource_id, reason, detail, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(gap.start, gap.end, gap.windows, gap.resourceId ?? null, gap.reason, gap.detail, now);
    return { ...gap, recordedAt: now };
  }

  /** Drops delivered windows far behind the newest one, at most once a minute. */
  #prune(): void {
    const now = this.#now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    const last = this.resumePoint();
    if (last !== undefined) this.#db.prepare("DELETE FROM windows WHERE state = 'done' AND end_ms < ?").run(last - WINDOW_RETENTION_MS);
  }
}

function gapOf(r: GapRow): Gap {
  return {
    start: r.start_ms,
    end: r.end_ms,
    windows: r.windows,
    ...(r.resource_id === null ? {} : { resourceId: r.resource_id }),
    reason: r.reason,
    detail: r.detail,
    recordedAt: r.recorded_at,
  };
}

/** Stores the identity on first use; afterwards refuses another version or resource type and describes other changes. */
function checkIdentity(db: Database.Database, identity: LedgerIdentity): string[] {
  const read = (key: string): string | undefined => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  const write = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const version = read('version');
  if (version !== undefined && Number(version) > LEDGER_VERSION) {
    throw new Error(`the state file was written by ledger version ${version}; this sluice reads versions up to ${LEDGER_VERSION}`);
  }
  if (version === '1') {
    // Version 2 keeps batches acked by a durable buffer until it delivered them.
    db.exec('ALTER TABLE outbox ADD COLUMN buffer_id TEXT; ALTER TABLE outbox ADD COLUMN buffer_seq INTEGER;');
  }
  const resourceType = read('resource_type');
  if (resourceType !== undefined && resourceType !== identity.resourceType) {
    throw new Error(`the state file records ${resourceType} windows, not ${identity.resourceType} ones: use another state.path for another resource_type`);
  }
  const changes: string[] = [];
  const schedule = read('schedule');
  if (schedule !== undefined && schedule !== identity.schedule) changes.push(`schedule changed from ${JSON.stringify(schedule)} to ${JSON.stringify(identity.schedule)}`);
  const offset = read('metrics_offset_ms');
  if (offset !== undefined && Number(offset) !== identity.offsetMs) changes.push(`metrics_offset changed from ${offset}ms to ${identity.offsetMs}ms`);
  db.transaction(() => {
    write.run('version', String(LEDGER_VERSION));
    write.run('resource_type', identity.resourceType);
    write.run('schedule', identity.schedule);
    write.run('metrics_offset_ms', String(identity.offsetMs));
  })();
  return changes;
}

// -- planning ----------------------------------------------------------------------------------

/** Where the schedule starts after opening the ledger, and what had to be given up first. */
export interface ResumePlan {
  /** Start of the first window to scrape; its end is `tick - offset`. */
  readonly start: number;
  /** The nominal tick of that window (already past when there is something to backfill). */
  readonly tick: number;
  /** Windows between the resume point and `tick` that were due while sluice was not running. */
  readonly backfill: number;
  /** Windows too old to backfill, to record as a `max_backfill` gap. */
  readonly gap?: { readonly start: number; readonly end: number; readonly windows: number };
}

/**
 * Plans the first window after a (re)start. Without a resume point, the first window is the one
 * ending at the next tick (what a fresh input scrapes). With one, windows continue from it without
 * gap or overlap (even when the schedule changed: the first window then runs from the resume point
 * to the first new tick); windows whose tick lies more than `maxBackfillMs` before `now` are given
 * up as one gap; the rest are due at once, oldest first.
 */
export function planResume(schedule: Schedule, offsetMs: number, resume: number | undefined, now: number, maxBackfillMs: number): ResumePlan {
  if (resume === undefined) {
    const tick = schedule.next(now);
    return { start: schedule.previous(tick) - offsetMs, tick, backfill: 0 };
  }
  let start = resume;
  let tick = schedule.next(resume + offsetMs);
  const cutoff = now - maxBackfillMs;
  let skipped = 0;
  while (tick < cutoff) {
    skipped++;
    start = tick - offsetMs;
    tick = schedule.next(tick);
  }
  let backfill = 0;
  for (let t = tick; t <= now; t = schedule.next(t)) backfill++;
  const gap = skipped > 0 ? { start: resume, end: start, windows: skipped } : undefined;
  return { start, tick, backfill, ...(gap ? { gap } : {}) };
}

const iso = (ms: number): string => new Date(ms).toISOString();
