// A durable buffer between the processors and the output (`buffer: sqlite:`). A batch is acked
// at the input once it is committed here, removed only after the output delivered it, and sent
// again after a restart. Because processed messages are stored, a replay after a crash re-sends
// the very bytes (and ids) the first attempt sent.
import { setMaxListeners } from 'node:events';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { BufferError, BufferStore, type BufferedRow, type BufferState } from './buffer_store.js';
import type { BufferPosition, Submission } from './component.js';
import { outcomeOf, reportGivenUp, type GivenUp } from './delivery.js';
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
    path: { type: 'string', 'x-state': true, description: 'The SQLite database file, relative to the config file\'s folder.' },
    sync: {
      type: 'string',
      enum: ['off', 'normal', 'full'],
      default: 'normal',
      description: 'normal: survives a killed process; full: fsync per commit, survives power loss; off: neither guaranteed.',
    },
    read_ahead: { type: 'integer', minimum: 1, default: 1000, description: 'Buffered messages in flight to the output at once.' },
  },
};

const CHUNK = 100;
/**
 * Group commit: batches submitted while a commit is pending go into one transaction, committed
 * once the event loop has taken what arrived (setImmediate), or at once when this many messages
 * are waiting (bounding what waits in memory). Each batch is delivered only once committed.
 */
const GROUP_MAX = 1000;
/** How long the pump may wait for more commits before reading back fewer than a chunk. */
const COALESCE_MS = 5;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
/** How often a failed write to the file (a full disk, a lock) is tried again, and its error logged at most. */
const STORE_RETRY_MS = 1_000;

/** A submitted batch waiting for the group commit. */
interface Waiting {
  readonly batch: readonly Message[];
  readonly submission: { position?: BufferPosition };
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** One buffered message on its way to the output. */
interface InFlight {
  readonly id: number;
  message: Message;
}

/**
 * What the engine sees of the buffer: a sink that delivers at commit. `onProgress` is told the
 * buffer's state whenever more messages were delivered (see BufferState).
 */
export class SqliteBuffer implements Sink {
  #inner: Sink;
  #config: SqliteBufferConfig;
  #file: string;
  #logger: Logger;
  #metrics: Metrics;
  #store: BufferStore | undefined;
  #running = new AbortController();
  /** Aborted (and replaced) on every delivery, so retries waiting out a back-off go at once when the output is back. */
  #recovered = new AbortController();
  #wake: (() => void) | undefined;
  /** Messages committed since the pump was last woken for them, and the timer that will wake it. */
  #fresh = 0;
  #coalesce: NodeJS.Timeout | undefined;
  #pump: Promise<void> | undefined;
  #inFlight = 0;
  #lastDispatched = 0;
  /** Positions delivered (or given up) whose deletion could not be written yet: never dispatched again, deleted later. */
  #settled = new Set<number>();
  #givenUp: { id: number; given: GivenUp }[] = [];
  /** Why the buffer cannot take messages now (a full disk, a lock), for /ready; undefined when healthy. */
  #problem: string | undefined;
  #lastProblemLog = 0;
  #lastFailure: { at: number; error: Error } | undefined;
  #closed = false;
  /** Batches waiting for the group commit, their message count, and the commit scheduled for them. */
  #group: Waiting[] = [];
  #groupSize = 0;
  #groupCommit: NodeJS.Immediate | undefined;
  onProgress: ((state: BufferState) => void) | undefined;

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
    if (this.#store) return;
    const store = new BufferStore(this.#file, this.#config.sync);
    let pending: number;
    try {
      pending = store.pending();
    } catch (err) {
      store.close();
      throw err;
    }
    this.#store = store;
    if (pending > 0) this.#logger.info({ file: this.#file }, `${pending} buffered message(s) from a previous run will be sent.`);
    this.#pump = this.#run();
  }

  /** The buffer's state now (see BufferState); undefined before connect(). */
  state(): BufferState | undefined {
    return this.#store?.state(this.#settled);
  }

  /** Why the buffer cannot take messages now, or undefined. */
  health(): string | undefined {
    return this.#problem;
  }

  /**
   * Commits the batch, together with the batches submitted meanwhile (one transaction: group
   * commit); it then counts as delivered for the input, and `position` says where its last
   * message was committed. Nothing is delivered before its own commit, so an acknowledged batch
   * survives the process being killed. A commit that fails (a full disk, a lock) fails the
   * submissions of its group: the engine tries again later and reads no new input meanwhile.
   */
  submit(batch: readonly Message[]): Submission {
    try {
      if (!this.#store?.isOpen || this.#closed) throw new Error(`buffer ${this.#file} is not open`);
      // After a failure the file is left alone for a while: each attempt may wait on a lock
      // (synchronously), and the engine retries quickly at first.
      if (this.#lastFailure && Date.now() - this.#lastFailure.at < STORE_RETRY_MS) throw this.#lastFailure.error;
    } catch (err) {
      this.#trouble(err as Error);
      return { accepted: Promise.resolve(), delivered: Promise.reject(err) };
    }
    const submission: { accepted: Promise<void>; delivered: Promise<void>; position?: BufferPosition } = { accepted: Promise.resolve(), delivered: Promise.resolve() };
    submission.delivered = new Promise<void>((resolve, reject) => this.#group.push({ batch, submission, resolve, reject }));
    this.#groupSize += batch.length;
    if (this.#groupSize >= GROUP_MAX) this.#commitGroup();
    else this.#groupCommit ??= setImmediate(() => this.#commitGroup());
    return submission;
  }

  /** Commits the waiting batches in one transaction, then delivers (or fails) each. */
  #commitGroup(): void {
    clearImmediate(this.#groupCommit);
    this.#groupCommit = undefined;
    const group = this.#group;
    if (group.length === 0) return;
    this.#group = [];
    this.#groupSize = 0;
    let last: number[];
    try {
      if (!this.#store?.isOpen) throw new Error(`buffer ${this.#file} is not open`);
      if (this.#lastFailure && Date.now() - this.#lastFailure.at < STORE_RETRY_MS) throw this.#lastFailure.error;
      last = this.#store.insertGroup(group.map((w) => w.batch));
    } catch (err) {
      this.#trouble(err as Error);
      for (const waiting of group) waiting.reject(err as Error);
      return;
    }
    this.#healthy();
    let messages = 0;
    for (const [i, waiting] of group.entries()) {
      messages += waiting.batch.length;
      if (waiting.batch.length > 0) waiting.submission.position = { buffer: this.#store.id, seq: last[i]! };
      waiting.resolve();
    }
    this.#metrics.counter('buffer_received', 'Messages committed to the buffer.').labels('', 'buffer').inc(messages);
    this.#metrics.counter('buffer_batch_received', 'Batches committed to the buffer.').labels('', 'buffer').inc(group.length);
    this.#metrics.counter('buffer_commits', 'Transactions that committed batches to the buffer (several batches may share one).').labels('', 'buffer').inc();
    this.#wakeForCommits(messages);
  }

  /**
   * Wakes the pump for new commits: at once when a chunk's worth is waiting, else a moment later,
   * so commits of one message each (an http_server request) are read back in chunks rather than
   * one query (and one delete) per message.
   */
  #wakeForCommits(count: number): void {
    this.#fresh += count;
    if (this.#fresh >= CHUNK) {
      clearTimeout(this.#coalesce);
      this.#coalesce = undefined;
      this.#fresh = 0;
      this.#wake?.();
    } else {
      this.#coalesce ??= setTimeout(() => {
        this.#coalesce = undefined;
        this.#fresh = 0;
        this.#wake?.();
      }, COALESCE_MS);
    }
  }

  /** Resolves once every buffered message was delivered. Shutdown bounds this with its timeout. */
  async flush(): Promise<void> {
    this.#commitGroup();
    while (!this.#closed && this.#store && this.#pendingCount() > 0) {
      await this.#inner.flush();
      await sleep(20, this.#running.signal);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#coalesce);
    // Batches still waiting were accepted but not acknowledged: committing them keeps them.
    this.#commitGroup();
    this.#running.abort();
    this.#wake?.();
    await this.#inner.close();
    await this.#pump;
    if (this.#store) {
      this.#writeSettled();
      const left = this.#pendingCount();
      if (left > 0) this.#logger.warn({ file: this.#file }, `${left} buffered message(s) were not delivered; they will be sent on the next run.`);
      this.#store.close();
    }
  }

  #pendingCount(): number {
    try {
      return this.#store!.pending() - this.#settled.size;
    } catch {
      return this.#inFlight;
    }
  }

  /** Moves buffered rows to the output in order, at most read_ahead at once, until closed. */
  async #run(): Promise<void> {
    while (!this.#running.signal.aborted) {
      this.#writeSettled();
      const room = this.#config.read_ahead - this.#inFlight;
      let rows: BufferedRow[] = [];
      try {
        if (room > 0) rows = this.#store!.select(this.#lastDispatched, Math.min(room, CHUNK)).filter((r) => !this.#settled.has(r.id));
      } catch (err) {
        this.#trouble(err as Error);
        await sleep(STORE_RETRY_MS, this.#running.signal);
        continue;
      }
      if (rows.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, 200).unref();
        });
        continue;
      }
      this.#lastDispatched = rows[rows.length - 1]!.id;
      this.#inFlight += rows.length;
      await this.#deliver(rows.map((r) => ({ id: r.id, message: messageOf(r) })));
    }
  }

  /**
   * Hands rows to the output; settles each once delivered or given up, and sends what a failure
   * left undelivered again (the same bytes) after a back-off, until then.
   */
  async #deliver(rows: InFlight[]): Promise<void> {
    const attempt = async (pending: InFlight[], tries: number): Promise<void> => {
      const submission = this.#inner.submit(pending.map((r) => r.message));
      await submission.accepted;
      submission.delivered.then(
        () => this.#settle(pending, []),
        async (err: unknown) => {
          const outcome = outcomeOf(err, pending.map((r) => r.message));
          const again: InFlight[] = [];
          const done: InFlight[] = [];
          const given: { id: number; given: GivenUp }[] = [];
          for (const row of pending) {
            const result = outcome.byMember.get(row.message);
            if (result?.retry) again.push({ id: row.id, message: result.retry });
            else if (result && result.givenUp.length > 0) given.push({ id: row.id, given: result.givenUp[0]! });
            else done.push(row);
          }
          if (outcome.givenUp.length > 0) reportGivenUp(outcome.givenUp, { logger: this.#logger, metrics: this.#metrics, label: '', path: 'buffer' });
          if (done.length > 0 || given.length > 0) this.#settle(done, given);
          if (again.length === 0 || this.#running.signal.aborted) return;
          const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** tries);
          this.#logger.error({ err: outcome.reason, attempt: tries + 1 }, `Failed to send ${again.length} buffered message(s), retrying in ${wait}ms.`);
          await sleep(wait, this.#running.signal, this.#recovered.signal);
          if (!this.#running.signal.aborted) await attempt(again, tries + 1);
        },
      );
    };
    await attempt(rows, 0);
  }

  /** Rows delivered, and rows given up (kept in `given_up`): both leave the buffer. */
  #settle(delivered: readonly InFlight[], givenUp: { id: number; given: GivenUp }[]): void {
    this.#inFlight -= delivered.length + givenUp.length;
    for (const row of delivered) this.#settled.add(row.id);
    for (const entry of givenUp) this.#settled.add(entry.id);
    this.#givenUp.push(...givenUp);
    if (delivered.length > 0) {
      this.#metrics.counter('buffer_sent', 'Buffered messages delivered and removed.').labels('', 'buffer').inc(delivered.length);
      this.#metrics.counter('buffer_batch_sent', 'Batches of buffered messages delivered.').labels('', 'buffer').inc();
    }
    this.#writeSettled();
    if (delivered.length > 0) {
      // The output delivers again: retries waiting out a back-off go now.
      this.#recovered.abort();
      this.#recovered = new AbortController();
      setMaxListeners(0, this.#recovered.signal);
    }
    this.#wake?.();
  }

  /**
   * Writes what settled: deletes delivered rows, moves given-up ones to `given_up`. When the file
   * refuses (a full disk), they stay settled in memory (never sent twice by this process) and the
   * write is tried again at the next chance; a restart before then sends them again (duplicates,
   * byte-identical, never a loss).
   */
  #writeSettled(): void {
    const store = this.#store;
    if (!store?.isOpen || (this.#settled.size === 0 && this.#givenUp.length === 0)) return;
    try {
      store.giveUp(this.#givenUp);
      const givenUpIds = new Set(this.#givenUp.map((g) => g.id));
      this.#givenUp = [];
      store.delete([...this.#settled].filter((id) => !givenUpIds.has(id)));
      this.#settled.clear();
    } catch (err) {
      this.#trouble(err as Error);
      store.checkpoint();
      return;
    }
    this.#healthy();
    if (this.onProgress) {
      try {
        this.onProgress(store.state(this.#settled));
      } catch (err) {
        this.#trouble(err as Error);
      }
    }
  }

  /** Logs a file error (at most once a second), keeps it for /ready, and counts it. */
  #trouble(err: Error): void {
    if (this.#lastFailure?.error === err) return;
    this.#lastFailure = { at: Date.now(), error: err };
    this.#metrics.counter('buffer_errors', 'Buffer file errors (full disk, lock held, unreadable file).').labels('', 'buffer').inc();
    const full = err instanceof BufferError && err.full;
    this.#problem = full ? `${err.message} (new input waits until there is room)` : err.message;
    const now = Date.now();
    if (now - this.#lastProblemLog < STORE_RETRY_MS) return;
    this.#lastProblemLog = now;
    this.#logger.error({ file: this.#file, err: err.message }, full ? 'The buffer file is full; new input waits and nothing is lost. Free space to resume.' : 'Buffer file error; retrying.');
  }

  #healthy(): void {
    this.#lastFailure = undefined;
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    this.#logger.info({ file: this.#file }, 'The buffer file accepts writes again.');
  }
}

function messageOf(row: BufferedRow): Message {
  const m = Message.fromBytes(row.body, JSON.parse(row.metadata) as Record<string, unknown>);
  return row.error === null ? m : m.withError(new Error(row.error));
}
