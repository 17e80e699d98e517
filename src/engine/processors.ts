import type { Processor } from './component.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';

/**
 * Runs batches through processors in order. Each processor sees every batch the previous one
 * produced; an empty result filters. Synchronous processors are not awaited, so a chain of
 * them costs no promise per batch.
 */
export async function runProcessors(processors: readonly Processor[], batches: Message[][]): Promise<Message[][]> {
  let current = batches;
  for (const processor of processors) {
    const next: Message[][] = [];
    for (const batch of current) {
      let result = processor.process(batch);
      if (result instanceof Promise) result = await result;
      for (const b of result) if (b.length > 0) next.push(b);
    }
    current = next;
    if (current.length === 0) break;
  }
  return current;
}

/** What one processor call did, as Redpanda Connect's processor metrics count it. */
export interface BatchCount {
  readonly sent: number;
  readonly batchSent: number;
  /** Messages flagged by this call (flagged before it do not count). */
  readonly errors: number;
}

export function countBatch(batch: readonly Message[], result: readonly Message[][]): BatchCount {
  let sent = 0;
  let failed = 0;
  for (const b of result) {
    sent += b.length;
    for (const m of b) if (m.error !== undefined) failed++;
  }
  let failedBefore = 0;
  for (const m of batch) if (m.error !== undefined) failedBefore++;
  return { sent, batchSent: result.length, errors: Math.max(0, failed - failedBefore) };
}

/**
 * Wraps a processor so each call is counted: `record` gets the batch's size, what the call did
 * and its duration in ns. The wrapper keeps the processor's `cpuBound`.
 */
export function counting(processor: Processor, record: (received: number, count: BatchCount, latencyNs: number) => void): Processor {
  const done = (batch: readonly Message[], result: Message[][], started: bigint): Message[][] => {
    record(batch.length, countBatch(batch, result), Number(process.hrtime.bigint() - started));
    return result;
  };
  return {
    process(batch) {
      const started = process.hrtime.bigint();
      const result = processor.process(batch);
      return result instanceof Promise ? result.then((r) => done(batch, r, started)) : done(batch, result, started);
    },
    close: () => processor.close(),
    ...(processor.cpuBound ? { cpuBound: true } : {}),
  };
}

/** Wraps a processor with Redpanda Connect's processor metrics, labelled with its label and path. */
export function observed(processor: Processor, metrics: Metrics, label: string, path: string): Processor {
  const received = metrics.counter('processor_received', 'Messages received by a processor.').labels(label, path);
  const batchReceived = metrics.counter('processor_batch_received', 'Batches received by a processor.').labels(label, path);
  const sent = metrics.counter('processor_sent', 'Messages sent on by a processor.').labels(label, path);
  const batchSent = metrics.counter('processor_batch_sent', 'Batches sent on by a processor.').labels(label, path);
  const errors = metrics.counter('processor_error', 'Messages a processor failed on.').labels(label, path);
  errors.inc(0);
  const latency = metrics.timer('processor_latency_ns', 'Time to process a batch, in ns.').labels(label, path);
  // Per call, the counts are additions to plain numbers; they reach their series when read.
  let pending = { received: 0, batches: 0, sent: 0, batchSent: 0 };
  metrics.deferred(() => {
    if (pending.batches === 0) return;
    const p = pending;
    pending = { received: 0, batches: 0, sent: 0, batchSent: 0 };
    received.inc(p.received);
    batchReceived.inc(p.batches);
    sent.inc(p.sent);
    batchSent.inc(p.batchSent);
  });
  return counting(processor, (n, count, latencyNs) => {
    pending.received += n;
    pending.batches++;
    pending.sent += count.sent;
    pending.batchSent += count.batchSent;
    if (count.errors > 0) errors.inc(count.errors);
    latency.observe(latencyNs);
  });
}
