// Runs one built pipeline: input -> input.processors -> pipeline.processors -> output sink, with
// acknowledgements flowing back. A batch the output fails is replayed from its processed form, so
// processors never re-run and an event keeps its id across retries.
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { parseDuration } from '../config/duration.js';
import type { RootConfig } from '../config/root.js';
import { PipelineBuilder, type BuildEnvironment, type BuildProblem, type BuiltInput } from './build.js';
import type { Ack, Processor } from './component.js';
import type { Message } from './message.js';
import { runProcessors } from './processors.js';
import type { Sink } from './sink.js';
import { sleep } from './sleep.js';
import { SqliteBuffer } from './sqlite_buffer.js';

export interface ComponentStatus {
  readonly label: string;
  readonly path: string;
  readonly connected: boolean;
  readonly error?: string;
}

export interface RunResult {
  /** Messages read but not delivered when the shutdown timeout ran out (their inputs were nacked). */
  readonly undelivered: number;
}

/** Builds every component of a validated config. Returns the problems of create() instead of throwing. */
export function buildPipeline(config: RootConfig, env: BuildEnvironment): { pipeline: Pipeline; problems: BuildProblem[] } {
  const builder = new PipelineBuilder(env);
  const input = builder.input(config.input, ['input']);
  const processors = builder.processors(config.pipeline.processors, ['pipeline', 'processors']);
  let sink: Sink = builder.sink(config.output, ['output']);
  if (config.buffer.sqlite) sink = new SqliteBuffer(sink, config.buffer.sqlite, env.baseDir, env.logger, env.metrics);
  const threads = config.pipeline.threads > 0 ? config.pipeline.threads : availableParallelism();
  const pipeline = new Pipeline({
    input,
    processors: [...input.processors, ...processors],
    sink,
    outputLabel: typeof config.output.label === 'string' ? config.output.label : '',
    builder,
    logger: env.logger,
    threads,
    strict: env.strict,
    shutdownTimeoutMs: parseDuration(config.shutdown_timeout) / 1e6,
    env,
  });
  return { pipeline, problems: builder.problems };
}


interface PipelineParts {
  input: BuiltInput;
  processors: Processor[];
  sink: Sink;
  outputLabel: string;
  builder: PipelineBuilder;
  logger: Logger;
  threads: number;
  strict: boolean;
  shutdownTimeoutMs: number;
  env: BuildEnvironment;
}

/** One read's messages on their way to the output; acks the input once, when all have settled. */
class Transaction {
  #ack: Ack;
  #settled = false;
  constructor(
    ack: Ack,
    readonly size: number,
  ) {
    this.#ack = ack;
  }
  get settled(): boolean {
    return this.#settled;
  }
  settle(error?: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#ack(error);
  }
}

const REPLAY_BACKOFF_MIN_MS = 1;
const REPLAY_BACKOFF_MAX_MS = 1000;

export class Pipeline {
  #parts: PipelineParts;
  #status = { input: { connected: false, error: undefined as string | undefined }, output: { connected: false, error: undefined as string | undefined } };
  #open = new Set<Transaction>();
  #replaying = 0;
  #replayDrained: (() => void)[] = [];
  #idle: (() => void)[] = [];
  #forced = new AbortController();
  #finished = false;

  constructor(parts: PipelineParts) {
    this.#parts = parts;
  }

  /** Connection state of the input and output, for /ready. */
  statuses(): ComponentStatus[] {
    const { input, outputLabel } = this.#parts;
    return [
      { label: input.label, path: 'input', ...this.#status.input },
      { label: outputLabel, path: 'output', ...this.#status.output },
    ];
  }

  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Connects (output first), then moves batches until the input is exhausted or `stop` aborts.
   * Then drains: in-flight batches and partial batches are delivered within shutdown_timeout;
   * past it, writes are aborted and what was not delivered is nacked and counted.
   */
  async run(stop: AbortSignal): Promise<RunResult> {
    const { input, logger } = this.#parts;
    try {
      await this.#connect('output', (signal) => this.#parts.sink.connect(signal), stop);
      await this.#connect('input', (signal) => input.input.connect(signal), stop);
      if (!stop.aborted) {
        logger.info('Pipeline is running.');
        await this.#readLoop(stop);
      }
      return await this.#drain();
    } finally {
      this.#finished = true;
    }
  }

  async #connect(which: 'input' | 'output', connect: (signal: AbortSignal) => Promise<void>, stop: AbortSignal): Promise<void> {
    const path = which === 'input' ? this.#parts.input.path : 'output';
    for (let delay = 500; !stop.aborted; delay = Math.min(delay * 2, 30_000)) {
      try {
        await connect(stop);
        this.#status[which] = { connected: true, error: undefined };
        this.#parts.logger.info({ path }, `The ${which} is connected.`);
        return;
      } catch (err) {
        const message = this.#parts.env.secrets.scrub((err as Error).message);
        this.#status[which] = { connected: false, error: message };
        this.#parts.logger.error({ path, err: message }, `Failed to connect the ${which}, retrying in ${delay}ms.`);
        await sleep(delay, stop);
      }
    }
  }

  async #readLoop(stop: AbortSignal): Promise<void> {
    const { input, processors, threads, logger } = this.#parts;
    const received = this.#parts.env.metrics.counter('input_received', 'Messages received by the input.').labels(input.label, input.path);
    let inOrder: Promise<void> = Promise.resolve();
    let processing = 0;
    let slotFreed: (() => void) | undefined;
    let readFailures = 0;

    while (!stop.aborted) {
      await this.#replaysDrained(stop);
      while (processing >= threads) await new Promise<void>((resolve) => (slotFreed = resolve));
      let read;
      try {
        read = await input.input.read(stop);
        readFailures = 0;
      } catch (err) {
        readFailures++;
        const wait = Math.min(1000, 100 * 2 ** (readFailures - 1));
        logger.error({ path: input.path, err: this.#parts.env.secrets.scrub((err as Error).message) }, `Failed to read from the input, retrying in ${wait}ms.`);
        await sleep(wait, stop);
        continue;
      }
      if (read === null) {
        if (!stop.aborted) logger.info('The input is exhausted.');
        break;
      }
      received.inc(read.batch.length);
      const transaction = new Transaction(read.ack, read.batch.length);
      this.#open.add(transaction);
      processing++;
      const processed = runProcessors(processors, [read.batch]).catch((err: Error) => [read.batch.map((m) => m.withError(err))]);
      // Batches are handed to the output in the order they were read, however long each took to process.
      inOrder = inOrder.then(async () => {
        const batches = await processed;
        processing--;
        slotFreed?.();
        await this.#handOver(batches, transaction);
      });
    }
    await inOrder;
  }

  /** Submits a read's processed batches to the output; resolves once the output accepted them. */
  async #handOver(batches: Message[][], transaction: Transaction): Promise<void> {
    let refused: Error | undefined;
    if (this.#parts.strict) [batches, refused] = this.#refuseErrored(batches);
    const deliveries: Promise<void>[] = [];
    for (const batch of batches) {
      const submission = this.#parts.sink.submit(batch);
      deliveries.push(submission.delivered.catch((err: Error) => this.#replay(batch, err, 1)));
      await submission.accepted;
    }
    Promise.all(deliveries).then(
      () => this.#settle(transaction, refused),
      (err: Error) => this.#settle(transaction, err),
    );
  }

  #settle(transaction: Transaction, error?: Error): void {
    this.#open.delete(transaction);
    transaction.settle(error);
    if (this.#open.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /**
   * Strict mode: messages a processor flagged are not sent. Their input is nacked (an input that
   * can re-queue does), never replayed here, since replaying cannot un-fail a processor.
   */
  #refuseErrored(batches: Message[][]): [Message[][], Error | undefined] {
    let first: Error | undefined;
    let count = 0;
    const kept = batches
      .map((batch) =>
        batch.filter((m) => {
          if (m.error === undefined) return true;
          first ??= m.error;
          count++;
          return false;
        }),
      )
      .filter((b) => b.length > 0);
    if (count === 0) return [batches, undefined];
    const { env, outputLabel, logger } = this.#parts;
    env.metrics.counter('output_rejected', 'Messages refused because a processor flagged them (strict mode).').labels(outputLabel, 'output').inc(count);
    logger.error({ err: first!.message }, `Refused ${count} message(s) flagged by a failed processor (error_handling.strict).`);
    return [kept, new Error(`refused by strict error handling: ${first!.message}`)];
  }

  /** Re-submits the same processed messages after a back-off until they are delivered or shutdown is forced. */
  async #replay(batch: Message[], error: Error, attempt: number): Promise<void> {
    const { logger, env } = this.#parts;
    if (this.#forced.signal.aborted) throw error;
    const wait = Math.min(REPLAY_BACKOFF_MAX_MS, REPLAY_BACKOFF_MIN_MS * 1.1 ** attempt);
    logger.error({ err: env.secrets.scrub(error.message), attempt }, `Failed to send ${batch.length} message(s), replaying them.`);
    this.#replaying++;
    let submission;
    try {
      await sleep(wait, this.#forced.signal);
      if (this.#forced.signal.aborted) throw error;
      submission = this.#parts.sink.submit(batch);
      await submission.accepted;
    } finally {
      if (--this.#replaying === 0) for (const wake of this.#replayDrained.splice(0)) wake();
    }
    return submission.delivered.catch((err: Error) => this.#replay(batch, err, attempt + 1));
  }

  /** Replays go out before new data is read, so a failing output holds the input back. */
  async #replaysDrained(stop: AbortSignal): Promise<void> {
    if (this.#replaying === 0 || stop.aborted) return;
    await Promise.race([new Promise<void>((resolve) => this.#replayDrained.push(resolve)), sleep(REPLAY_BACKOFF_MAX_MS, stop)]);
  }

  async #drain(): Promise<RunResult> {
    const { input, sink, builder, logger, shutdownTimeoutMs } = this.#parts;
    await input.input.close();
    const timer = new AbortController();
    const deadline = sleep(shutdownTimeoutMs, timer.signal).then(() => false);
    const drained = (async () => {
      await sink.flush();
      if (this.#open.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      return true;
    })();
    const clean = await Promise.race([drained, deadline]);
    timer.abort();
    let undelivered = 0;
    if (!clean) {
      this.#forced.abort();
      for (const transaction of [...this.#open]) {
        undelivered += transaction.size;
        this.#settle(transaction, new Error('shutdown timeout reached before delivery'));
      }
      logger.warn(
        `Shutdown timeout reached: ${undelivered} message(s) were not confirmed delivered; inputs that can replay will send them again, possibly as duplicates.`,
      );
    }
    await sink.close();
    await builder.closeProcessors();
    return { undelivered };
  }
}
