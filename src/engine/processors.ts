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

/** Wraps a processor with Redpanda Connect's processor metrics, labelled with its label and path. */
export function observed(processor: Processor, metrics: Metrics, label: string, path: string): Processor {
  const received = metrics.counter('processor_received', 'Messages received by a processor.').labels(label, path);
  const batchReceived = metrics.counter('processor_batch_received', 'Batches received by a processor.').labels(label, path);
  const sent = metrics.counter('processor_sent', 'Messages sent on by a processor.').labels(label, path);
  const batchSent = metrics.counter('processor_batch_sent', 'Batches sent on by a processor.').labels(label, path);
  const errors = metrics.counter('processor_error', 'Messages a processor failed on.').labels(label, path);
  const latency = metrics.timer('processor_latency_ns', 'Time to process a batch, in ns.').labels(label, path);

  const count = (batch: readonly Message[], result: Message[][], started: bigint) => {
    latency.observe(Number(process.hrtime.bigint() - started));
    let out = 0;
    let failed = 0;
    for (const b of result) {
      out += b.length;
      for (const m of b) if (m.error !== undefined) failed++;
    }
    let failedBefore = 0;
    for (const m of batch) if (m.error !== undefined) failedBefore++;
    sent.inc(out);
    batchSent.inc(result.length);
    if (failed > failedBefore) errors.inc(failed - failedBefore);
    return result;
  };

  return {
    process(batch) {
      received.inc(batch.length);
      batchReceived.inc();
      const started = process.hrtime.bigint();
      const result = processor.process(batch);
      return result instanceof Promise ? result.then((r) => count(batch, r, started)) : count(batch, result, started);
    },
    close: () => processor.close(),
  };
}
