// The entry of a worker thread running `pipeline.processors` (pipeline.threads above 1; see
// engine/worker_pool.ts): builds the processors from the validated config, as the main thread did,
// and processes the batches it is sent, counting what each processor does.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { registry } from './components/index.js';
import { PipelineBuilder } from './engine/build.js';
import type { Processor } from './engine/component.js';
import { createLogger, type LoggerConfig } from './engine/logger.js';
import type { Message } from './engine/message.js';
import { Metrics } from './engine/metrics.js';
import { counting, runProcessors } from './engine/processors.js';
import { Secrets } from './engine/secrets.js';
import { messageOfWire, type ProcessorStats, type WireOut, type WorkerReply, type WorkerRequest } from './engine/worker_pool.js';

/** What the main thread hands each worker. */
export interface ProcessorsWorkerData {
  readonly processors: readonly unknown[];
  readonly baseDir: string;
  /** Undefined: silent (lint, tests). */
  readonly logger?: LoggerConfig;
  readonly secrets: readonly string[];
  readonly thread: number;
}

const data = workerData as ProcessorsWorkerData;
const secrets = new Secrets();
for (const secret of data.secrets) secrets.add(secret);
const logger = data.logger ? createLogger(data.logger, secrets).child({ thread: data.thread }) : pino({ level: 'silent' });
const stats: ProcessorStats[] = [];

/** Counts into `stats`, sent to the main thread with each result (see WorkerPool#count). */
function counted(processor: Processor, label: string, path: string): Processor {
  const s: ProcessorStats = { label, path, received: 0, batchReceived: 0, sent: 0, batchSent: 0, errors: 0, latencyNs: 0 };
  stats.push(s);
  return counting(processor, (received, count, latencyNs) => {
    s.received += received;
    s.batchReceived++;
    s.sent += count.sent;
    s.batchSent += count.batchSent;
    s.errors += count.errors;
    s.latencyNs += latencyNs;
  });
}

const builder = new PipelineBuilder({ registry, logger, metrics: new Metrics(), secrets, baseDir: data.baseDir, strict: false, observe: counted });
const processors = builder.processors(data.processors as never[], ['pipeline', 'processors']);

/** The stats since the last reply, reset. */
function takeStats(): ProcessorStats[] {
  const out = stats.map((s) => ({ ...s }));
  for (const s of stats) Object.assign(s, { received: 0, batchReceived: 0, sent: 0, batchSent: 0, errors: 0, latencyNs: 0 });
  return out;
}

function toWire(message: Message, batch: readonly Message[]): WireOut {
  const origin = batch.indexOf(message.trace);
  const metadata = { ...message.metadata };
  try {
    return { text: message.text(), metadata, origin, ...(message.error ? { error: message.error.message } : {}) };
  } catch (err) {
    // A body that cannot be encoded goes back as its origin, flagged, as the mapping flags it.
    const source = batch[origin];
    return { text: source ? source.text() : '', metadata, origin, error: `cannot encode the message: ${(err as Error).message}` };
  }
}

parentPort!.on('message', (request: WorkerRequest) => {
  const batch = request.batch.map(messageOfWire);
  runProcessors(processors, [batch]).then(
    (batches) => parentPort!.postMessage({ id: request.id, batches: batches.map((b) => b.map((m) => toWire(m, batch))), stats: takeStats() } satisfies WorkerReply),
    (err: Error) => parentPort!.postMessage({ id: request.id, failure: err.message, stats: takeStats() } satisfies WorkerReply),
  );
});
