// `pipeline.threads` above 1: the pipeline's processors run on worker threads, so a CPU-bound
// mapping (the JSONata interpreter, a heavy compiled one) uses every core. Each worker builds the
// same processors from the same validated config (see src/processors_worker.ts); batches go to the
// least busy worker as plain data and come back as plain data, in the order they were read
// (the engine's read loop keeps order). The engine still sees one Processor, so acks, batching
// and replays are unchanged.
//
// What crosses the thread boundary: a message's body (its value when it is structured, else its
// text), metadata and error flag; back, each resulting message's text (serialised in the worker,
// so encoding is parallel too), metadata, error flag and the position of the message it derives
// from, so it keeps that message's trace (delivery failures are traced back to their read).
// Processor metrics are counted in the worker and added to the main registry with each result.
import { Worker } from 'node:worker_threads';
import type { Processor } from './component.js';
import { Message } from './message.js';
import type { Metrics } from './metrics.js';

/** A message as it crosses to a worker. */
export interface WireIn {
  readonly value?: unknown;
  readonly text?: string;
  readonly metadata: Record<string, unknown>;
  readonly error?: string;
}

/** A message as it comes back: `origin` is the position, in the batch sent, of the message it derives from (-1: none). */
export interface WireOut {
  readonly text: string;
  readonly metadata: Record<string, unknown>;
  readonly error?: string;
  readonly origin: number;
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

export type WorkerRequest = { readonly id: number; readonly batch: readonly WireIn[] };
export type WorkerReply =
  | { readonly id: number; readonly batches: WireOut[][]; readonly stats: readonly ProcessorStats[] }
  | { readonly id: number; readonly failure: string; readonly stats: readonly ProcessorStats[] };

interface Slot {
  readonly worker: Worker;
  busy: number;
}

/**
 * Processors running on `size` worker threads started from `script` with `workerData(thread)`. The
 * threads start with the first batch, so building a pipeline to lint it starts none.
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
  ) {}

  #start(): Slot[] {
    return Array.from({ length: this.size }, (_, thread) => {
      const worker = new Worker(this.script, { workerData: this.workerData(thread) });
      const slot: Slot = { worker, busy: 0 };
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

  process(batch: readonly Message[]): Promise<Message[][]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error('the processor worker threads were closed'));
    this.#slots ??= this.#start();
    const slot = this.#slots.reduce((best, s) => (s.busy < best.busy ? s : best));
    const id = this.#nextId++;
    this.#busy(slot, +1);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, batch });
      const request: WorkerRequest = { id, batch: batch.map(toWire) };
      slot.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all((this.#slots ?? []).map((s) => s.worker.terminate()));
    for (const pending of this.#pending.values()) pending.reject(new Error('the processor worker threads were closed'));
    this.#pending.clear();
  }

  #reply(slot: Slot, reply: WorkerReply): void {
    this.#busy(slot, -1);
    this.#count(reply.stats);
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if ('failure' in reply) {
      pending.reject(new Error(reply.failure));
      return;
    }
    pending.resolve(reply.batches.map((b) => b.map((m) => fromWire(m, pending.batch))));
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

export function toWire(message: Message): WireIn {
  const body = message.isStructured ? { value: message.json() } : { text: message.text() };
  return { ...body, metadata: { ...message.metadata }, ...(message.error ? { error: message.error.message } : {}) };
}

/** A message as a worker receives it. */
export function messageOfWire(wire: WireIn): Message {
  const m = wire.value !== undefined ? Message.fromJSON(wire.value, wire.metadata) : Message.fromBytes(wire.text ?? '', wire.metadata);
  return wire.error === undefined ? m : m.withError(new Error(wire.error));
}

/** A result back on the main thread, derived from the message it came from so it keeps that message's trace. */
function fromWire(wire: WireOut, sent: readonly Message[]): Message {
  const origin = sent[wire.origin];
  const body = origin ? origin.withBytes(wire.text).withMetadata(wire.metadata) : Message.fromBytes(wire.text, wire.metadata);
  const error = wire.error === undefined ? undefined : (origin?.error?.message === wire.error ? origin.error : new Error(wire.error));
  return body.error === error ? body : body.withError(error);
}
