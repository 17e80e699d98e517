// The SQLite file behind `buffer: sqlite`: processed messages in commit order, the messages given
// up downstream of the buffer (kept, with why), and the buffer's identity. Every statement's error
// names the file. A lock held by another process fails a statement after a short wait
// (src/sqlite.ts), and the caller retries later: the event loop is never blocked for long.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openStateFile, type SyncPolicy } from '../sqlite.js';
import type { GivenUp } from './delivery.js';
import type { Message } from './message.js';

/** A buffered message as stored. */
export interface BufferedRow {
  readonly id: number;
  readonly body: Buffer;
  readonly metadata: string;
  readonly error: string | null;
}

/**
 * Where the buffer stands, for inputs that keep what they emitted until it is safe (run_ai's
 * ledger): `committed` is the highest position ever committed to this file (positions above it
 * were lost if they had been acked), `delivered` the highest position at or below which every
 * message reached the output (or was given up).
 */
export interface BufferState {
  /** Changes when the file is created anew: positions of another id mean nothing here. */
  readonly buffer: string;
  readonly committed: number;
  readonly delivered: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL, metadata TEXT NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS given_up (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  body BLOB NOT NULL,
  metadata TEXT NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  given_up_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** An error of the buffer file, naming it. `full` when the disk (or file size limit) is full. */
export class BufferError extends Error {
  readonly full: boolean;
  constructor(file: string, doing: string, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: string }).code ?? '';
    const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
    super(`buffer ${file}: ${doing}: ${busy ? `${message} (another process holds a lock on the file)` : message}`, { cause });
    this.name = 'BufferError';
    this.full = code === 'SQLITE_FULL' || /disk is full|EFBIG|file too large/i.test(message) || code === 'SQLITE_IOERR_WRITE';
  }
}

export class BufferStore {
  readonly file: string;
  readonly id: string;
  #db: Database.Database;
  #insert: (batches: readonly (readonly Message[])[]) => number[];
  #select: Database.Statement;
  #giveUp: (entries: readonly { id: number; given: GivenUp }[]) => void;

  /** Opens (creating) the file. Throws a BufferError naming it when it cannot be opened. */
  constructor(file: string, sync: SyncPolicy) {
    this.file = file;
    let db: Database.Database | undefined;
    try {
      db = openStateFile(file, sync);
      db.exec(SCHEMA);
      const row = db.prepare("SELECT value FROM meta WHERE key = 'buffer_id'").get() as { value: string } | undefined;
      this.id = row?.value ?? randomUUID();
      if (!row) db.prepare("INSERT INTO meta (key, value) VALUES ('buffer_id', ?)").run(this.id);
    } catch (err) {
      db?.close();
      throw new BufferError(file, 'cannot open it', err);
    }
    this.#db = db;
    const insert = db.prepare('INSERT INTO messages (body, metadata, error) VALUES (?, ?, ?)');
    this.#insert = db.transaction((batches: readonly (readonly Message[])[]) =>
      batches.map((rows) => {
        let last = 0;
        for (const m of rows) last = Number(insert.run(Buffer.from(m.bytes()), JSON.stringify(m.metadata), m.error?.message ?? null).lastInsertRowid);
        return last;
      }),
    );
    this.#select = db.prepare('SELECT id, body, metadata, error FROM messages WHERE id > ? ORDER BY id LIMIT ?');
    const keep = db.prepare('INSERT INTO given_up (body, metadata, kind, reason, given_up_at) SELECT body, metadata, ?, ?, ? FROM messages WHERE id = ?');
    const remove = db.prepare('DELETE FROM messages WHERE id = ?');
    this.#giveUp = db.transaction((entries: readonly { id: number; given: GivenUp }[]) => {
      const now = Date.now();
      for (const { id, given } of entries) {
        keep.run(given.kind, given.reason, now, id);
        remove.run(id);
      }
    });
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  /** Commits the messages in one transaction; returns the position of the last. */
  insert(messages: readonly Message[]): number {
    return this.insertGroup([messages])[0]!;
  }

  /** Commits several batches, in order, in one transaction; returns the position of each one's last message (0 for an empty one). */
  insertGroup(batches: readonly (readonly Message[])[]): number[] {
    return this.#run('cannot commit messages', () => this.#insert(batches));
  }

  /** Up to `limit` rows after position `after`, in order. */
  select(after: number, limit: number): BufferedRow[] {
    return this.#run('cannot read messages', () => this.#select.all(after, limit) as BufferedRow[]);
  }

  delete(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.#run('cannot delete delivered messages', () => {
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        this.#db.prepare(`DELETE FROM messages WHERE id IN (${chunk.map(() => '?').join(',')})`).run(...chunk);
      }
    });
  }

  /** Moves rows to `given_up`, with why, in one transaction. */
  giveUp(entries: readonly { id: number; given: GivenUp }[]): void {
    if (entries.length > 0) this.#run('cannot record messages given up', () => this.#giveUp(entries));
  }

  pending(): number {
    return this.#run('cannot count messages', () => (this.#db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n);
  }

  /** The state as stored; `settled` are positions delivered whose deletion is still to be written. */
  state(settled: ReadonlySet<number> = new Set()): BufferState {
    return this.#run('cannot read its state', () => {
      const seq = this.#db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq: number } | undefined;
      const committed = seq?.seq ?? 0;
      let delivered = committed;
      for (const { id } of this.#db.prepare('SELECT id FROM messages ORDER BY id').iterate() as Iterable<{ id: number }>) {
        if (settled.has(id)) continue;
        delivered = id - 1;
        break;
      }
      return { buffer: this.id, committed, delivered };
    });
  }

  /** Frees the WAL's space once it is checkpointed: what a full disk needs first. Best effort. */
  checkpoint(): void {
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A busy or full file: the next checkpoint may succeed.
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #run<T>(doing: string, statement: () => T): T {
    try {
      return statement();
    } catch (err) {
      throw new BufferError(this.file, doing, err);
    }
  }
}
