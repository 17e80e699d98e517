// An in-memory buffer between the processors and the output (`buffer: memory:`), as Redpanda
// Connect's: a batch is acked at the input once it is held here, so a slow or failing output no
// longer holds the input back until `limit` bytes are held; then the input waits (back-pressure).
// What is held is lost if the process dies: use the sqlite buffer where that matters.
import type { Logger } from 'pino';
import type { BatchingConfig } from './batching.js';
import type { Submission } from './component.js';
import { outcomeOf, reportGivenUp } from './delivery.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';
import type { Sink } from './sink.js';
import { sleep } from './sleep.js';

export interface MemoryBufferConfig {
  /** Bytes of message bodies held at most (an estimate of the memory used). */
  limit: number;
  batch_policy: BatchingConfig & { enabled: boolean };
}

export const memoryBufferSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Holds processed messages in memory and acks them at the input (lost if the process dies). When `limit` bytes are held, the input waits.',
  properties: {
    limit: {
      type: 'integer',
      minimum: 1,
      default: 524288000,
      description: 'The most bytes of message bodies held; past it new input waits (back-pressure). Real memory use is higher: set it well below the RAM available.',
    },
    batch_policy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Groups the messages leaving the buffer into batches (as an output\'s batching, when enabled).',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Whether to batch the messages leaving the buffer.' },
        count: { type: 'integer', minimum: 0, default: 0, description: 'Flush once this many messages are held; 0 disables.' },
        byte_size: { type: 'integer', minimum: 0, default: 0, description: 'Flush once the bodies held reach this many bytes; 0 disables.' },
        period: { type: 'string', default: '', format: 'duration-or-empty', description: 'Flush a partial batch this long after the last flush; empty disables.' },
        check: { type: 'string', default: '', description: 'A JSONata expression evaluated on each new message; true flushes.' },
        processors: { type: 'array', default: [], items: { 'x-component': 'processor' }, description: 'Processors run on each batch when it is flushed.' },
      },
    },
  },
};

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

interface Held {
  readonly messages: readonly Message[];
  readonly bytes: number;
}

export class MemoryBuffer implements Sink {
  #inner: Sink;
  #limit: number;
  #logger: Logger;
  #metrics: Metrics;
  #queue: Held[] = [];
  /** Bytes held: queued, or handed on and not yet delivered. */
  #used = 0;
  /** Submissions waiting for room, oldest first. */
  #waiting: { bytes: number; admit: () => void }[] = [];
  #wake: (() => void) | undefined;
  #drained: (() => void)[] = [];
  #running = new AbortController();
  #pump: Promise<void> | undefined;
  #closed = false;

  constructor(inner: Sink, config: MemoryBufferConfig, logger: Logger, metrics: Metrics) {
    this.#inner = inner;
    this.#limit = config.limit;
    this.#logger = logger.child({ path: 'buffer' });
    this.#metrics = metrics;
    this.#gauge().set(0);
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.#inner.connect(signal);
    this.#pump ??= this.#run();
  }

  /** Accepted (and delivered, as far as the input is concerned) once there is room for it. */
  submit(batch: readonly Message[]): Submission {
    let bytes = 0;
    for (const m of batch) bytes += m.byteLength;
    // A batch larger than the limit is let in alone, when nothing else is held.
    const fits = this.#waiting.length === 0 && (this.#used === 0 || this.#used + bytes <= this.#limit);
    const admitted = fits ? Promise.resolve() : new Promise<void>((admit) => this.#waiting.push({ bytes, admit }));
    const held = admitted.then(() => {
      if (this.#closed) throw new Error('the memory buffer is closed');
      if (fits) this.#used += bytes;
      this.#queue.push({ messages: batch, bytes });
      this.#gauge().set(this.#used);
      this.#metrics.counter('buffer_received', 'Messages committed to the buffer.').labels('', 'buffer').inc(batch.length);
      this.#metrics.counter('buffer_batch_received', 'Batches committed to the buffer.').labels('', 'buffer').inc();
      this.#wake?.();
    });
    return { accepted: held.catch(() => {}), delivered: held };
  }

  /** Resolves once everything held was delivered (shutdown bounds this with its timeout). */
  async flush(): Promise<void> {
    while (!this.#closed && this.#used > 0) {
      await this.#inner.flush();
      await Promise.race([new Promise<void>((resolve) => this.#drained.push(resolve)), sleep(50, this.#running.signal)]);
    }
    await this.#inner.flush();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running.abort();
    this.#wake?.();
    for (const w of this.#waiting.splice(0)) w.admit();
    await this.#inner.close();
    await this.#pump;
    const lost = this.#queue.reduce((n, h) => n + h.messages.length, 0);
    if (this.#used > 0) this.#logger.warn({ queued: lost }, 'The memory buffer closed with messages not delivered; they are lost.');
  }

  #gauge() {
    return this.#metrics.gauge('buffer_memory_bytes', 'Bytes of message bodies held by the memory buffer.').labels('', 'buffer');
  }

  /** Hands held batches to the output in order, as fast as it accepts them. */
  async #run(): Promise<void> {
    while (!this.#running.signal.aborted) {
      const next = this.#queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      await this.#deliver(next, next.messages, 0);
    }
  }

  /** Submits `messages` (of `held`); what a failure leaves undelivered is sent again after a back-off, until delivered. */
  async #deliver(held: Held, messages: readonly Message[], tries: number): Promise<void> {
    const submission = this.#inner.submit(messages);
    await submission.accepted;
    submission.delivered.then(
      () => this.#release(held),
      async (err: unknown) => {
        const outcome = outcomeOf(err, messages);
        if (outcome.givenUp.length > 0) reportGivenUp(outcome.givenUp, { logger: this.#logger, metrics: this.#metrics, label: '', path: 'buffer' });
        if (outcome.retry.length === 0 || this.#running.signal.aborted) return this.#release(held);
        const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** tries);
        this.#logger.error({ err: outcome.reason, attempt: tries + 1 }, `Failed to send ${outcome.retry.length} buffered message(s), retrying in ${wait}ms.`);
        await sleep(wait, this.#running.signal);
        if (this.#running.signal.aborted) return;
        await this.#deliver(held, outcome.retry, tries + 1);
      },
    );
  }

  #release(held: Held): void {
    this.#used -= held.bytes;
    this.#metrics.counter('buffer_sent', 'Buffered messages delivered and removed.').labels('', 'buffer').inc(held.messages.length);
    this.#metrics.counter('buffer_batch_sent', 'Batches of buffered messages delivered.').labels('', 'buffer').inc();
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (this.#used > 0 && this.#used + next.bytes > this.#limit) break;
      this.#waiting.shift();
      this.#used += next.bytes;
      next.admit();
    }
    this.#gauge().set(this.#used);
    if (this.#used === 0) for (const wake of this.#drained.splice(0)) wake();
  }
}
