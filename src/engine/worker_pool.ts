// `pipeline.threads` above 1: the pipeline's processors run on worker threads, so a CPU-bound
// mapping (the JSONata interpreter, a heavy compiled one) uses every core. Each worker builds the
// same processors from the same validated config (see src/processors_worker.ts); batches go to the
// least busy worker as plain data and come back as plain data, in the order they were read
// (the engine's read loop keeps order). The engine still sees one Processor, so acks, batching
// and replays are unchanged.
//
// What crosses the thread boundary: a batch as one Wire: the text bodies concatenated into one
// string (a copy of one block, where an object per message costs the main thread a structured
// clone each), a structured body as its value, and metadata and error flags only where they are
// set. Back, each resulting batch the same way (its texts serialised in the worker, so encoding is
// parallel too), with the position of the message each result derives from, so it keeps that
// message's trace (delivery failures are traced back to their read) and, when the worker left
// them as they were, its metadata and error flag.
// Processor metrics are counted in the worker and added to the main registry with each result.
import { Worker } from 'node:worker_threads';
import type { Processor } from './component.js';
import { Message } from './message.js';
import type { Metrics } from './metrics.js';

/** A batch as it crosses between threads. */
export interface Wire {
  /** The text bodies, concatenated; message i's is text.slice(ends[i - 1] ?? 0, ends[i]). */
  readonly text: string;
  readonly ends: Uint32Array;
  /** Message i's body when it is a structured value (its text is then empty). */
  readonly values?: Record<number, unknown>;
  /** Message i's metadata: going out, where it has any; coming back, where it is not its origin's. */
  readonly metadata?: Record<number, Record<string, unknown>>;
  /** Message i's error flag, where it has one. */
  readonly errors?: Record<number, string>;
  /** Coming back: the position, in the batch sent, of the message result i derives from (-1: none). */
  readonly origins?: Int32Array;
}

/** What one processor of the chain did with one batch, counted in the worker. */
export interface ProcessorStats {
  readonly label: string;
  readonly path: string;
  received: number;
  batchReceived: number;
  sent: number;
  batchSent: number;
  errors: number;
  latencyNs: number;
}

export type WorkerRequest = { readonly id: number; readonly batch: Wire };
export type WorkerReply =
  | { readonly id: number; readonly batches: Wire[]; readonly stats: readonly ProcessorStats[] }
  | { readonly id: number; readonly failure: string; readonly stats: readonly ProcessorStats[] }
  /** Sent once, when the worker has built its processors. */
  | { readonly ready: true };

interface Slot {
  readonly worker: Worker;
  busy: number;
  ready: boolean;
}

/**
 * Processors running on `size` worker threads started from `script` with `workerData(thread)`. The
 * threads start when the pipeline starts (start()) or with the first batch, so building a pipeline
 * to lint it starts none. A worker takes about a quarter of a second to load its modules and build
 * its processors: until one is ready, batches run on `local` (the same processors built on this
 * thread, which pure processors allow) instead of waiting for it.
 */
export class WorkerPool implements Processor {
  #slots: Slot[] | undefined;
  #pending = new Map<number, { resolve: (batches: Message[][]) => void; reject: (err: Error) => void; batch: readonly Message[] }>();
  #nextId = 0;
  #closed = false;
  #failure: Error | undefined;

  constructor(
    readonly size: number,
    readonly script: URL,
    readonly workerData: (thread: number) => unknown,
    readonly metrics: Metrics,
    readonly local?: Processor,
  ) {}

  #start(): Slot[] {
    return Array.from({ length: this.size }, (_, thread) => {
      const worker = new Worker(this.script, { workerData: this.workerData(thread) });
      const slot: Slot = { worker, busy: 0, ready: false };
      worker.on('message', (reply: WorkerReply) => this.#reply(slot, reply));
      worker.on('error', (err) => this.#fail(err));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#fail(new Error(`a processor worker thread exited with code ${code}`));
      });
      // An idle worker must not keep the process alive; a busy one must (see #busy).
      worker.unref();
      return slot;
    });
  }

  /** Starts the threads before the first batch, so their start-up overlaps the input's. */
  start(): void {
    if (!this.#closed) this.#slots ??= this.#start();
  }

  process(batch: readonly Message[]): Message[][] | Promise<Message[][]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error('the processor worker threads were closed'));
    this.#slots ??= this.#start();
    const slots = this.local ? this.#slots.filter((s) => s.ready) : this.#slots;
    if (slots.length === 0) return this.local!.process(batch);
    const slot = slots.reduce((best, s) => (s.busy < best.busy ? s : best));
    const id = this.#nextId++;
    this.#busy(slot, +1);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, batch });
      const wire = toWire(batch);
      const request: WorkerRequest = { id, batch: wire };
      slot.worker.postMessage(request, [wire.ends.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...(this.#slots ?? []).map((s) => s.worker.terminate()), this.local?.close()]);
    for (const pending of this.#pending.values()) pending.reject(new Error('the processor worker threads were closed'));
    this.#pending.clear();
  }

  #reply(slot: Slot, reply: WorkerReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      return;
    }
    this.#busy(slot, -1);
    this.#count(reply.stats);
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if ('failure' in reply) {
      pending.reject(new Error(reply.failure));
      return;
    }
    pending.resolve(reply.batches.map((b) => fromWire(b, pending.batch)));
  }

  #busy(slot: Slot, change: 1 | -1): void {
    slot.busy += change;
    if (slot.busy === 0) slot.worker.unref();
    else if (change === 1 && slot.busy === 1) slot.worker.ref();
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }

  #count(stats: readonly ProcessorStats[]): void {
    const m = this.metrics;
    for (const s of stats) {
      m.counter('processor_received', 'Messages received by a processor.').labels(s.label, s.path).inc(s.received);
      m.counter('processor_batch_received', 'Batches received by a processor.').labels(s.label, s.path).inc(s.batchReceived);
      m.counter('processor_sent', 'Messages sent on by a processor.').labels(s.label, s.path).inc(s.sent);
      m.counter('processor_batch_sent', 'Batches sent on by a processor.').labels(s.label, s.path).inc(s.batchSent);
      if (s.errors > 0) m.counter('processor_error', 'Messages a processor failed on.').labels(s.label, s.path).inc(s.errors);
      m.timer('processor_latency_ns', 'Time to process a batch, in ns.').labels(s.label, s.path).observe(s.latencyNs);
    }
  }
}

/** A batch as it goes to a worker. */
export function toWire(batch: readonly Message[]): Wire {
  const texts = new Array<string>(batch.length);
  const ends = new Uint32Array(batch.length);
  let values: Record<number, unknown> | undefined;
  let metadata: Record<number, Record<string, unknown>> | undefined;
  let errors: Record<number, string> | undefined;
  let end = 0;
  for (let i = 0; i < batch.length; i++) {
    const message = batch[i]!;
    if (message.isStructured) {
      (values ??= {})[i] = message.json();
      texts[i] = '';
    } else {
      texts[i] = message.text();
      end += texts[i]!.length;
    }
    ends[i] = end;
    for (const _ in message.metadata) {
      (metadata ??= {})[i] = { ...message.metadata };
      break;
    }
    if (message.error) (errors ??= {})[i] = message.error.message;
  }
  return { text: texts.join(''), ends, ...(values ? { values } : {}), ...(metadata ? { metadata } : {}), ...(errors ? { errors } : {}) };
}

/** The messages of a Wire, made by `make(i, text)`: message i's text body (undefined when structured). */
export function eachOfWire<T>(wire: Wire, make: (i: number, text: string | undefined) => T): T[] {
  const out = new Array<T>(wire.ends.length);
  let start = 0;
  for (let i = 0; i < wire.ends.length; i++) {
    const end = wire.ends[i]!;
    out[i] = make(i, wire.values !== undefined && i in wire.values ? undefined : wire.text.slice(start, end));
    start = end;
  }
  return out;
}

/** A batch as a worker receives it. */
export function messagesOfWire(wire: Wire): Message[] {
  return eachOfWire(wire, (i, text) => {
    const metadata = wire.metadata?.[i];
    const m = text === undefined ? Message.fromJSON(wire.values![i], metadata) : Message.fromBytes(text, metadata);
    const error = wire.errors?.[i];
    return error === undefined ? m : m.withError(new Error(error));
  });
}

/** Results back on the main thread, each derived from the message it came from so it keeps that message's trace. */
function fromWire(wire: Wire, sent: readonly Message[]): Message[] {
  return eachOfWire(wire, (i, text) => {
    const origin = sent[wire.origins![i]!];
    const metadata = wire.metadata?.[i];
    const wireError = wire.errors?.[i];
    if (!origin) return Message.fromBytes(text ?? '', metadata);
    let body = origin.withBytes(text ?? '');
    if (metadata !== undefined) body = body.withMetadata(metadata);
    const error = wireError === undefined ? undefined : origin.error?.message === wireError ? origin.error : new Error(wireError);
    return body.error === error ? body : body.withError(error);
  });
}
