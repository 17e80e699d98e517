// The engine's side of an output: concurrency up to max_in_flight, the batching policy, and the
// counting every output gets (output_sent, output_batch_sent, output_error, output_latency_ns).
import type { Logger } from 'pino';
import type { BufferState } from './buffer_store.js';
import { parseDuration } from '../config/duration.js';
import type { CompiledExpression } from '../mapping/environment.js';
import { compileQuery } from '../mapping/language.js';
import type { BatchingConfig } from './batching.js';
import type { Output, Processor, Submission } from './component.js';
import { allDelivered, DeliveryError, outcomeOf, type GivenUp, type Outcome } from './delivery.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';
import { runProcessors } from './processors.js';

export interface Sink {
  connect(signal: AbortSignal): Promise<void>;
  submit(batch: readonly Message[]): Submission;
  /** Flushes partial batches now (shutdown). Resolves once they were handed on. */
  flush(): Promise<void>;
  /** Aborts writes still running (forced shutdown), then closes the output. Idempotent. */
  close(): Promise<void>;
  /** A durable buffer's state (see BufferState), once connected. */
  state?(): BufferState | undefined;
  /** A durable buffer calls this whenever more of it was delivered. */
  onProgress?: ((state: BufferState) => void) | undefined;
  /** Why the sink cannot take messages now (for /ready), or undefined. */
  health?(): string | undefined;
  /**
   * Batches submitted one after another may be submitted as one: the sink regroups messages by
   * its own policy (a batching policy adds message by message), so their boundaries are lost
   * anyway. The engine then hands over a read's batches in one submission.
   */
  readonly joinsBatches?: boolean;
}

export interface SinkContext {
  readonly label: string;
  readonly path: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Give up messages flagged by a failed processor instead of writing them (error_handling.strict). */
  readonly strict: boolean;
}

type Count = { inc(value?: number): void };

/** Runs an output's write() with at most `maxInFlight` calls at once, counting what it delivers. */
export class Writer implements Sink {
  #output: Output;
  #context: SinkContext;
  #limit: number;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  #abort = new AbortController();
  #closed = false;
  /** The output's series, looked up once: an output without batching writes every message alone. */
  #series: { error: Count; latency: { observe(ns: number): void }; sent: Count; batchSent: Count };

  constructor(output: Output, context: SinkContext) {
    this.#output = output;
    this.#context = context;
    this.#limit = Math.max(1, output.maxInFlight ?? 1);
    const { metrics, label, path } = context;
    this.#series = {
      error: metrics.counter('output_error', 'Batches that failed to send.').labels(label, path),
      latency: metrics.timer('output_latency_ns', 'Time to write a batch, in ns.').labels(label, path),
      sent: metrics.counter('output_sent', 'Messages sent (an archived batch counts the messages in it).').labels(label, path),
      batchSent: metrics.counter('output_batch_sent', 'Batches sent.').labels(label, path),
    };
    // Shown from the start, as in Connect.
    this.#series.error.inc(0);
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.#output.connect(signal);
  }

  /**
   * `count` is how many original messages the batch stands for (an archived batch is one message
   * standing for N). Messages that cannot be sent are given up here, before the output sees them:
   * in strict mode those a processor flagged, and any whose body cannot be encoded (a non-finite
   * number, nesting too deep): replaying cannot fix either, so they must not be replayed.
   */
  submit(batch: readonly Message[], count = batch.length): Submission {
    const givenUp = this.#unsendable(batch);
    const sendable = givenUp.length === 0 ? batch : batch.filter((m) => !givenUp.some((g) => g.message === m));
    if (sendable.length === 0) return { accepted: Promise.resolve(), delivered: Promise.reject(withGivenUp(undefined, sendable, givenUp)) };
    let submission: Submission;
    if (this.#output.submit) {
      const started = process.hrtime.bigint();
      const inner = this.#output.submit(sendable);
      submission = { accepted: inner.accepted, delivered: this.#observe(inner.delivered, count, started) };
    } else {
      let accept!: () => void;
      const accepted = new Promise<void>((resolve) => (accept = resolve));
      const delivered = this.#acquire().then(async () => {
        accept();
        try {
          await this.#observe(this.#output.write(sendable, this.#abort.signal), count, process.hrtime.bigint());
        } finally {
          this.#release();
        }
      });
      submission = { accepted, delivered };
    }
    if (givenUp.length === 0) return submission;
    return {
      accepted: submission.accepted,
      delivered: submission.delivered.then(
        () => Promise.reject(withGivenUp(undefined, sendable, givenUp)),
        (err: unknown) => Promise.reject(withGivenUp(err, sendable, givenUp)),
      ),
    };
  }

  async flush(): Promise<void> {
    await this.#output.flush?.();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new Error('output closed'));
    await this.#output.close();
  }

  /** The messages of `batch` that cannot be sent, each with why (reported where the failure lands). */
  #unsendable(batch: readonly Message[]): GivenUp[] {
    const givenUp: GivenUp[] = [];
    for (const message of batch) {
      if (this.#context.strict && message.error !== undefined) {
        givenUp.push({ message, kind: 'rejected', reason: `processing failed: ${message.error.message}` });
        continue;
      }
      try {
        message.bytes();
      } catch (err) {
        givenUp.push({ message, kind: 'rejected', reason: `cannot encode the message: ${(err as Error).message}` });
      }
    }
    return givenUp;
  }

  async #observe(write: Promise<void>, count: number, started: bigint): Promise<void> {
    const series = this.#series;
    try {
      await write;
    } catch (err) {
      series.error.inc();
      throw err;
    }
    series.latency.observe(Number(process.hrtime.bigint() - started));
    series.sent.inc(count);
    series.batchSent.inc();
  }

  async #acquire(): Promise<void> {
    if (this.#inFlight < this.#limit) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#inFlight--;
  }
}

interface Held {
  readonly messages: readonly Message[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * An output's batching policy with Redpanda Connect's flush rules: whichever of `count`,
 * `byte_size`, `check` fires first, or `period` after the last flush. Batching processors run at
 * flush time; their resulting batches are joined into one. The messages held carry their
 * submissions' delivery promises, so acks flow back to every input batch that contributed.
 */
export class Batcher implements Sink {
  #writer: Writer;
  #processors: Processor[];
  #context: SinkContext;
  #count: number;
  #byteSize: number;
  #periodMs: number;
  #check: CompiledExpression | undefined;
  #held: Held[] = [];
  #heldCount = 0;
  #heldBytes = 0;
  #lastFlush = Date.now();
  #timer: NodeJS.Timeout | undefined;
  readonly joinsBatches: boolean;

  constructor(writer: Writer, policy: BatchingConfig, processors: Processor[], context: SinkContext) {
    this.#writer = writer;
    this.#processors = processors;
    this.#context = context;
    this.#count = policy.count;
    this.#byteSize = policy.byte_size;
    this.#periodMs = policy.period === '' ? 0 : parseDuration(policy.period) / 1e6;
    this.#check = policy.check === '' ? undefined : compileQuery(policy.check);
    // A check sees the submitted batch as its `batch`: keep the batches the processors made.
    this.joinsBatches = this.#check === undefined;
  }

  /** Connect's IsNoop: a policy with no trigger but `count <= 1` means no batching at all. */
  static isNoop(policy: BatchingConfig): boolean {
    return policy.count <= 1 && policy.byte_size === 0 && policy.period === '' && policy.check === '' && policy.processors.length === 0;
  }

  /** Connect's validity rule: processors need a trigger to run on. Returns a problem or undefined. */
  static problem(policy: BatchingConfig): string | undefined {
    if (Batcher.isNoop(policy)) return undefined;
    const triggers = policy.count > 0 || policy.byte_size > 0 || policy.period !== '' || policy.check !== '';
    return triggers ? undefined : 'batch policy must have at least one active trigger (count, byte_size, period or check)';
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.#writer.connect(signal);
  }

  /**
   * Adds the messages, splitting them where `count` is reached so no flushed batch is larger than
   * `count` (as Connect, which adds message by message). Delivered once every part is.
   */
  submit(batch: readonly Message[]): Submission {
    const accepted: Promise<void>[] = [];
    const parts: { messages: readonly Message[]; delivered: Promise<void> }[] = [];
    for (let start = 0; start < batch.length || start === 0; ) {
      const room = this.#count > 0 ? Math.max(1, this.#count - this.#heldCount) : batch.length;
      const part = batch.slice(start, start + room);
      start += Math.max(1, part.length);
      let held!: Held;
      parts.push({ messages: part, delivered: new Promise<void>((resolve, reject) => (held = { messages: part, resolve, reject })) });
      this.#held.push(held);
      this.#heldCount += part.length;
      if (this.#byteSize > 0) for (const m of part) this.#heldBytes += m.byteLength;
      // A count flush takes the held messages synchronously, before the next part is added.
      accepted.push(this.#afterAdd(part));
    }
    // One part (the common case): its own promises, as allDelivered() would settle them.
    if (parts.length === 1) return { accepted: accepted[0]!, delivered: parts[0]!.delivered };
    return { accepted: Promise.all(accepted).then(() => {}), delivered: allDelivered(parts) };
  }

  async flush(): Promise<void> {
    if (this.#held.length > 0) await this.#flush('shutdown');
    await this.#writer.flush();
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writer.close();
  }

  async #afterAdd(batch: readonly Message[]): Promise<void> {
    if (this.#count > 0 && this.#heldCount >= this.#count) return this.#flush('count');
    if (this.#byteSize > 0 && this.#heldBytes >= this.#byteSize) return this.#flush('size');
    if (this.#check) {
      for (const [index, message] of batch.entries()) {
        if (await this.#checkFires(message, batch, index)) return this.#flush('check');
      }
    }
    if (this.#periodMs > 0 && this.#timer === undefined && this.#held.length > 0) {
      const wait = Math.max(0, this.#lastFlush + this.#periodMs - Date.now());
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#held.length > 0) void this.#flush('period');
      }, wait);
    }
  }

  async #checkFires(message: Message, batch: readonly Message[], index: number): Promise<boolean> {
    try {
      return (await this.#check!.evaluate({ message, batch, index })) === true;
    } catch (err) {
      this.#context.logger.error({ err: (err as Error).message }, 'Batch check failed.');
      return false;
    }
  }

  /** Takes everything held, runs the batching processors, and hands one batch to the writer. */
  async #flush(mechanism: string): Promise<void> {
    const held = this.#held;
    const count = this.#heldCount;
    this.#held = [];
    this.#heldCount = 0;
    this.#heldBytes = 0;
    this.#lastFlush = Date.now();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (held.length === 0) return;
    if (mechanism !== 'shutdown') {
      this.#context.metrics.counter('batch_created', 'Batches created by a batching policy.', ['label', 'path', 'mechanism']).labels(this.#context.label, this.#context.path, mechanism).inc();
    }
    const messages = held.flatMap((h) => h.messages);
    let batches: Message[][];
    try {
      batches = await runProcessors(this.#processors, [messages]);
    } catch (err) {
      this.#context.logger.error({ err: (err as Error).message }, 'Batch processors failed, the batch has been rejected.');
      for (const h of held) h.reject(err);
      return;
    }
    const joined = batches.flat();
    if (joined.length === 0) {
      for (const h of held) h.resolve();
      return;
    }
    const submission = this.#writer.submit(joined, count);
    submission.delivered.then(
      () => {
        for (const h of held) h.resolve();
      },
      (err: unknown) => settleHeld(held, outcomeOf(err, messages)),
    );
    await submission.accepted;
  }
}

/**
 * Settles each submission that contributed to a flushed batch with its own share of the outcome:
 * delivered when none of its messages failed, else failed with just its messages.
 */
function settleHeld(held: readonly Held[], outcome: Outcome): void {
  for (const h of held) {
    const retry: Message[] = [];
    const givenUp: GivenUp[] = [];
    for (const m of h.messages) {
      const result = outcome.byMember.get(m);
      if (result?.retry) retry.push(result.retry);
      if (result) givenUp.push(...result.givenUp);
    }
    if (retry.length === 0 && givenUp.length === 0) h.resolve();
    else h.reject(new DeliveryError(retry.length > 0 ? outcome.reason : givenUp[0]!.reason, { undelivered: retry, givenUp }));
  }
}

/** A failure (or success: `err` undefined) of `sent`, with `givenUp` (messages never sent) added. */
function withGivenUp(err: unknown, sent: readonly Message[], givenUp: readonly GivenUp[]): DeliveryError {
  if (err === undefined) return new DeliveryError(givenUp[0]!.reason, { undelivered: [], givenUp });
  const reason = err instanceof Error ? err.message : String(err);
  if (!(err instanceof DeliveryError)) return new DeliveryError(reason, { undelivered: sent, givenUp, cause: err });
  return new DeliveryError(reason, { undelivered: err.undelivered ?? sent.filter((m) => !err.givenUp.some((g) => g.message === m)), givenUp: [...err.givenUp, ...givenUp], cause: err });
}
