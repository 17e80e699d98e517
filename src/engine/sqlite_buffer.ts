// A durable buffer between the processors and the output (`buffer: sqlite:`). A batch is acked
// at the input once it is committed here, removed only after the output delivered it, and sent
// again after a restart. Because processed messages are stored, a replay after a crash re-sends
// the very bytes (and ids) the first attempt sent.
import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Submission } from './component.js';
import { Message } from './message.js';
import type { Metrics } from './metrics.js';
import { sleep } from './sleep.js';
import type { Sink } from './sink.js';

export interface SqliteBufferConfig {
  /** Database file, relative to the config file's directory. */
  path: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL; a committed batch survives the process being
   * killed, the last commits may be lost on power failure. `full`: fsync on every commit, survives
   * power loss, slower. `off`: no fsync at all (as Redpanda Connect's sqlite buffer).
   */
  sync: 'off' | 'normal' | 'full';
  /** How many buffered messages may be on their way to the output at once. */
  read_ahead: number;
}

export const sqliteBufferSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', description: 'The SQLite database file, relative to the config file.' },
    sync: {
      type: 'string',
      enum: ['off', 'normal', 'full'],
      default: 'normal',
      description: 'normal: survives a killed process; full: fsync per commit, survives power loss; off: neither guaranteed.',
    },
    read_ahead: { type: 'integer', minimum: 1, default: 1000, description: 'Buffered messages in flight to the output at once.' },
  },
};

interface Row {
  id: number;
  body: Buffer;
  metadata: string;
  error: string | null;
}

const CHUNK = 100;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class SqliteBuffer implements Sink {
  #inner: Sink;
  #config: SqliteBufferConfig;
  #file: string;
  #logger: Logger;
  #metrics: Metrics;
  #db: Database.Database | undefined;
  #insert: ((rows: readonly Message[]) => void) | undefined;
  #running = new AbortController();
  /** Aborted (and replaced) on every delivery, so retries waiting out a back-off go at once when the output is back. */
  #recovered = new AbortController();
  #wake: (() => void) | undefined;
  #pump: Promise<void> | undefined;
  #inFlight = 0;
  #lastDispatched = 0;
  #closed = false;

  constructor(inner: Sink, config: SqliteBufferConfig, baseDir: string, logger: Logger, metrics: Metrics) {
    this.#inner = inner;
    this.#config = config;
    this.#file = resolve(baseDir, config.path);
    this.#logger = logger.child({ path: 'buffer' });
    this.#metrics = metrics;
    // Every chunk waiting to retry listens to these; there can be read_ahead / 100 of them.
    setMaxListeners(0, this.#running.signal, this.#recovered.signal);
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.#inner.connect(signal);
    if (this.#db) return;
    mkdirSync(dirname(this.#file), { recursive: true });
    const db = new Database(this.#file);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.#config.sync.toUpperCase()}`);
    db.exec('CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL, metadata TEXT NOT NULL, error TEXT)');
    const insert = db.prepare('INSERT INTO messages (body, metadata, error) VALUES (?, ?, ?)');
    this.#insert = db.transaction((rows: readonly Message[]) => {
      for (const m of rows) insert.run(Buffer.from(m.bytes()), JSON.stringify(m.metadata), m.error?.message ?? null);
    });
    this.#db = db;
    const pending = this.#pending();
    if (pending > 0) this.#logger.info({ file: this.#file }, `${pending} buffered message(s) from a previous run will be sent.`);
    this.#pump = this.#run();
  }

  /** Commits the batch; it then counts as delivered for the input. */
  submit(batch: readonly Message[]): Submission {
    try {
      if (!this.#insert) throw new Error('the buffer is not open');
      this.#insert(batch);
    } catch (err) {
      return { accepted: Promise.resolve(), delivered: Promise.reject(err) };
    }
    this.#metrics.counter('buffer_received', 'Messages committed to the buffer.').labels('', 'buffer').inc(batch.length);
    this.#wake?.();
    return { accepted: Promise.resolve(), delivered: Promise.resolve() };
  }

  /** Resolves once every buffered message was delivered. Shutdown bounds this with its timeout. */
  async flush(): Promise<void> {
    while (!this.#closed && this.#db && this.#pending() > 0) {
      await this.#inner.flush();
      await sleep(20, this.#running.signal);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running.abort();
    this.#wake?.();
    await this.#inner.close();
    await this.#pump;
    if (this.#db) {
      const left = this.#pending();
      if (left > 0) this.#logger.warn({ file: this.#file }, `${left} buffered message(s) were not delivered; they will be sent on the next run.`);
      this.#db.close();
    }
  }

  #pending(): number {
    return (this.#db!.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
  }

  /** Moves buffered rows to the output in order, at most read_ahead at once, until closed. */
  async #run(): Promise<void> {
    const select = this.#db!.prepare('SELECT id, body, metadata, error FROM messages WHERE id > ? ORDER BY id LIMIT ?');
    while (!this.#running.signal.aborted) {
      const room = this.#config.read_ahead - this.#inFlight;
      const rows = room > 0 ? (select.all(this.#lastDispatched, Math.min(room, CHUNK)) as Row[]) : [];
      if (rows.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 200).unref();
        });
        continue;
      }
      this.#lastDispatched = rows[rows.length - 1]!.id;
      this.#inFlight += rows.length;
      await this.#deliver(rows);
    }
  }

  /** Hands rows to the output; deletes them once delivered, retries them (same bytes) until then. */
  async #deliver(rows: Row[]): Promise<void> {
    const messages = rows.map((r) => {
      const m = Message.fromBytes(r.body, JSON.parse(r.metadata) as Record<string, unknown>);
      return r.error === null ? m : m.withError(new Error(r.error));
    });
    const attempt = async (tries: number): Promise<void> => {
      const submission = this.#inner.submit(messages);
      await submission.accepted;
      submission.delivered.then(
        () => this.#delivered(rows),
        async (err: Error) => {
          if (this.#running.signal.aborted) return;
          const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** tries);
          this.#logger.error({ err: err.message, attempt: tries + 1 }, `Failed to send ${rows.length} buffered message(s), retrying in ${wait}ms.`);
          await sleep(wait, this.#running.signal, this.#recovered.signal);
          if (!this.#running.signal.aborted) await attempt(tries + 1);
        },
      );
    };
    await attempt(0);
  }

  #delivered(rows: Row[]): void {
    this.#inFlight -= rows.length;
    if (!this.#db?.open) return;
    const ids = rows.map((r) => r.id);
    this.#db.prepare(`DELETE FROM messages WHERE id IN (${ids.map(() => '?').join(',')})`).run(...ids);
    this.#metrics.counter('buffer_sent', 'Buffered messages delivered and removed.').labels('', 'buffer').inc(rows.length);
    this.#recovered.abort();
    this.#recovered = new AbortController();
    setMaxListeners(0, this.#recovered.signal);
    this.#wake?.();
  }
}
