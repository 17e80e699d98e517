// The entry of a worker thread running `pipeline.processors` (pipeline.threads above 1; see
// engine/worker_pool.ts): builds the processors from the validated config, as the main thread did,
// and processes the batches it is sent, counting what each processor does.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { isPureProcessor, loadPureProcessors } from './components/pure_processors.js';
import { PipelineBuilder } from './engine/build.js';
import { createRegistry } from './engine/registry.js';
import type { Processor } from './engine/component.js';
import { createLogger, type LoggerConfig } from './engine/logger.js';
import type { Message } from './engine/message.js';
import { Metrics } from './engine/metrics.js';
import { counting, runProcessors } from './engine/processors.js';
import { Secrets } from './engine/secrets.js';
import { messagesOfWire, type ProcessorStats, type Wire, type WorkerReply, type WorkerRequest } from './engine/worker_pool.js';

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

// Only pure processors run on workers (see onWorkers in engine/pipeline.ts): a registry of those
// the config names (a processor node's key besides `label`), loading no other module.
const named = (data.processors as Record<string, unknown>[]).flatMap((node) => Object.keys(node).filter(isPureProcessor));
const registry = createRegistry(await loadPureProcessors(named));
const builder = new PipelineBuilder({ registry, logger, metrics: new Metrics(), secrets, baseDir: data.baseDir, strict: false, observe: counted });
const processors = builder.processors(data.processors as never[], ['pipeline', 'processors']);

/** The stats since the last reply, reset. */
function takeStats(): ProcessorStats[] {
  const out = stats.map((s) => ({ ...s }));
  for (const s of stats) Object.assign(s, { received: 0, batchReceived: 0, sent: 0, batchSent: 0, errors: 0, latencyNs: 0 });
  return out;
}

/** A resulting batch as it goes back: `origins` are positions in `sent` (found by trace, in order when they are). */
function toWire(results: readonly Message[], sent: readonly Message[]): { wire: Wire; transfer: ArrayBuffer[] } {
  const texts = new Array<string>(results.length);
  const ends = new Uint32Array(results.length);
  const origins = new Int32Array(results.length);
  let metadata: Record<number, Record<string, unknown>> | undefined;
  let errors: Record<number, string> | undefined;
  let end = 0;
  let guess = 0;
  for (let i = 0; i < results.length; i++) {
    const message = results[i]!;
    const trace = message.trace;
    // Results mostly keep their inputs' order: look where the last one was found first.
    // (By trace: a message sent flagged is a copy of the one its results trace back to.)
    const origin = sent[guess]?.trace === trace ? guess : sent.findIndex((m) => m.trace === trace);
    if (origin >= 0) guess = origin + 1;
    origins[i] = origin;
    let error = message.error?.message;
    try {
      texts[i] = message.text();
    } catch (err) {
      // A body that cannot be encoded goes back as its origin, flagged, as the mapping flags it.
      const source = sent[origin];
      texts[i] = source ? source.text() : '';
      error = `cannot encode the message: ${(err as Error).message}`;
    }
    end += texts[i]!.length;
    ends[i] = end;
    if (origin < 0 ? Object.keys(message.metadata).length > 0 : message.metadata !== sent[origin]!.metadata) (metadata ??= {})[i] = { ...message.metadata };
    if (error !== undefined) (errors ??= {})[i] = error;
  }
  const wire: Wire = { text: texts.join(''), ends, origins, ...(metadata ? { metadata } : {}), ...(errors ? { errors } : {}) };
  return { wire, transfer: [ends.buffer as ArrayBuffer, origins.buffer as ArrayBuffer] };
}

parentPort!.postMessage({ ready: true } satisfies WorkerReply);
parentPort!.on('message', (request: WorkerRequest) => {
  const batch = messagesOfWire(request.batch);
  runProcessors(processors, [batch]).then(
    (batches) => {
      const wires = batches.map((b) => toWire(b, batch));
      const reply: WorkerReply = { id: request.id, batches: wires.map((w) => w.wire), stats: takeStats() };
      parentPort!.postMessage(reply, wires.flatMap((w) => w.transfer));
    },
    (err: Error) => parentPort!.postMessage({ id: request.id, failure: err.message, stats: takeStats() } satisfies WorkerReply),
  );
});
