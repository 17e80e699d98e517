// Runs one built pipeline: input -> input.processors -> pipeline.processors -> output sink, with
// acknowledgements flowing back. A batch the output fails is replayed from its processed form, so
// processors never re-run and an event keeps its id across retries.
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { parseDuration } from '../config/duration.js';
import { resourceLists } from '../config/resources.js';
import type { RootConfig } from '../config/root.js';
import { PipelineBuilder, processingSink, splitComponent, type BuildEnvironment, type BuildProblem, type BuiltInput } from './build.js';
import type { Ack, BufferPosition, Processor, Submission } from './component.js';
import { outcomeOf, reportGivenUp, Undeliverable, type GivenUp } from './delivery.js';
import type { Message } from './message.js';
import { runProcessors } from './processors.js';
import { Batcher, type Sink, type Writer } from './sink.js';
import { MemoryBuffer, type MemoryBufferConfig } from './memory_buffer.js';
import type { ComponentNode } from '../config/root.js';
import { sleep } from './sleep.js';
import { SqliteBuffer } from './sqlite_buffer.js';
import { WorkerPool } from './worker_pool.js';

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
  builder.resources(resourceLists(config));
  const input = builder.input(config.input, ['input']);
  let processors = builder.processors(config.pipeline.processors, ['pipeline', 'processors']);
  let sink: Sink = builder.sink(config.output, ['output']);
  let preBuffer: Processor[] = [];
  if (config.buffer.sqlite) {
    const { pre_processors: pre = [], post_processors: post = [] } = config.buffer.sqlite;
    preBuffer = builder.processors(pre, ['buffer', 'sqlite', 'pre_processors']);
    if (post.length > 0) sink = processingSink(sink, builder.processors(post, ['buffer', 'sqlite', 'post_processors']));
    sink = new SqliteBuffer(sink, config.buffer.sqlite, env.baseDir, env.logger, env.metrics);
  }
  if (config.buffer.memory) sink = memoryBuffer(builder, sink, config.buffer.memory, env);
  const threads = config.pipeline.threads > 0 ? config.pipeline.threads : availableParallelism();
  if (config.pipeline.threads > 1 && builder.problems.length === 0) processors = onWorkers(config, env, processors);
  const pipeline = new Pipeline({
    input,
    processors: [...input.processors, ...processors, ...preBuffer],
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

/** `buffer.memory`, with its batch_policy (when enabled) between it and the output. */
function memoryBuffer(builder: PipelineBuilder, sink: Sink, config: MemoryBufferConfig, env: BuildEnvironment): Sink {
  const { enabled, ...policy } = config.batch_policy;
  if (enabled && !Batcher.isNoop(policy)) {
    const at = ['buffer', 'memory', 'batch_policy'];
    const problem = Batcher.problem(policy);
    if (problem) builder.problems.push({ path: at, message: problem });
    const processors = builder.processors(policy.processors as ComponentNode[], [...at, 'processors']);
    const context = { label: '', path: 'buffer', logger: env.logger.child({ path: 'buffer' }), metrics: env.metrics, strict: env.strict };
    try {
      sink = new Batcher(sink as Writer, policy, processors, context);
    } catch (err) {
      builder.problems.push({ path: [...at, 'check'], message: (err as Error).message });
    }
  }
  return new MemoryBuffer(sink, config, env.logger, env.metrics);
}

/**
 * `pipeline.threads` above 1: the processors on that many worker threads when that pays: when
 * one of them is CPU-bound (a mapping in the JSONata interpreter) and every one is pure (see
 * ComponentSpec.pure). Otherwise, and without a worker script, they run on the main thread, up to
 * `threads` batches at a time, as bench/threads.mjs measured copying to workers to cost more
 * than a compiled mapping. The workers build their own processors; the ones built here run the
 * batches that come before a worker is ready.
 */
function onWorkers(config: RootConfig, env: BuildEnvironment, built: Processor[]): Processor[] {
  const { threads, processors } = config.pipeline;
  if (!env.workers || !built.some((p) => p.cpuBound)) return built;
  const impure = processors.map((node) => splitComponent(env.registry, 'processor', node)).find((c) => c.spec.pure !== true);
  if (impure) {
    env.logger.info({ threads, processor: impure.type }, `Processors run on the main thread: ${impure.type} cannot run on a worker thread (pipeline.threads).`);
    return built;
  }
  const { script, logger, secrets } = env.workers;
  env.logger.info({ threads }, `Processors run on ${threads} worker threads.`);
  // The processors built here serve until a worker is ready (see WorkerPool).
  const local: Processor = {
    process: (batch) => runProcessors(built, [[...batch]]),
    close: async () => {
      await Promise.all(built.map((p) => p.close()));
    },
  };
  return [new WorkerPool(threads, script, (thread) => ({ processors, baseDir: env.baseDir, logger, secrets, thread }), env.metrics, local)];
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
  /** Messages of this read that will never be delivered, with why. */
  readonly givenUp: GivenUp[] = [];
  /** Where a durable buffer committed the last of this read's messages. */
  position: BufferPosition | undefined;
  readonly readAt = process.hrtime.bigint();
  constructor(
    ack: Ack,
    readonly batch: readonly Message[],
  ) {
    this.#ack = ack;
  }
  get size(): number {
    return this.batch.length;
  }
  /** Records where a durable buffer committed some of this read's messages: the read's position is the highest. */
  committed(position: BufferPosition | undefined): void {
    if (position && (this.position?.buffer !== position.buffer || position.seq > this.position.seq)) this.position = position;
  }
  /** Acks the read: with `error` (nothing known delivered), else Undeliverable when messages were given up, else nothing. */
  settle(error?: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    if (error === undefined && this.givenUp.length > 0) error = new Undeliverable(this.givenUp.map((g) => ({ index: this.#indexOf(g.message), kind: g.kind, reason: g.reason })));
    if (error !== undefined && !(error instanceof Undeliverable)) this.#ack(error);
    else this.#ack(error, this.position);
  }
  /** The position in the read of the message a processed message derives from. */
  #indexOf(message: Message): number | undefined {
    const i = this.batch.indexOf(message.trace);
    return i < 0 ? undefined : i;
  }
}

const REPLAY_BACKOFF_MIN_MS = 1;
const REPLAY_BACKOFF_MAX_MS = 1000;
const noop = (): void => {};

export class Pipeline {
  #parts: PipelineParts;
  #status = { input: { connected: false, error: undefined as string | undefined }, output: { connected: false, error: undefined as string | undefined } };
  #open = new Set<Transaction>();
  #replaying = 0;
  #replayDrained: (() => void)[] = [];
  #idle: (() => void)[] = [];
  #forced = new AbortController();
  #finished = false;
  /** Set once the drain flushed the output: partial batches are no longer left to fill up. */
  #flushed = false;

  constructor(parts: PipelineParts) {
    this.#parts = parts;
  }

  /** Connection state of the input and output (and the buffer's, when it has trouble), for /ready. */
  statuses(): ComponentStatus[] {
    const { input, outputLabel, sink } = this.#parts;
    const statuses: ComponentStatus[] = [
      { label: input.label, path: 'input', ...this.#status.input },
      { label: outputLabel, path: 'output', ...this.#status.output },
    ];
    const problem = sink.health?.();
    if (problem !== undefined) statuses.push({ label: '', path: 'buffer', connected: false, error: problem });
    return statuses;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Connects (output first), then moves batches until the input is exhausted or `stop` aborts.
   * Then drains: in-flight batches and partial batches are delivered within shutdown_timeout;
   * past it, writes are aborted and what was not delivered is nacked and counted. The timeout
   * starts when reading stops, whatever the output is doing: a blocked output cannot hold it up.
   */
  async run(stop: AbortSignal): Promise<RunResult> {
    const { input, logger } = this.#parts;
    for (const processor of this.#parts.processors) processor.start?.();
    try {
      await this.#connect('output', (signal) => this.#parts.sink.connect(signal), stop);
      this.#linkBuffer();
      await this.#connect('input', (signal) => input.input.connect(signal), stop);
      let handedOver: { readonly done: Promise<void> } = { done: Promise.resolve() };
      if (!stop.aborted) {
        logger.info('Pipeline is running.');
        handedOver = await this.#readLoop(stop);
      }
      return await this.#drain(handedOver.done);
    } finally {
      this.#finished = true;
    }
  }

  /**
   * Tells an input that keeps what it emitted where a durable buffer stands: before it connects,
   * as the buffer advances, and a last time after the drain (#reportBuffer).
   */
  #linkBuffer(): void {
    const { input, sink } = this.#parts;
    if (!input.input.buffered || !sink.state) return;
    this.#reportBuffer();
    sink.onProgress = (state) => input.input.buffered!(state);
  }

  #reportBuffer(): void {
    const { input, sink } = this.#parts;
    if (!input.input.buffered) return;
    let state;
    try {
      state = sink.state?.();
    } catch (err) {
      this.#parts.logger.error({ err: (err as Error).message }, 'Cannot read the buffer\'s state.');
    }
    if (state) input.input.buffered(state);
  }

  async #connect(which: 'input' | 'output', connect: (signal: AbortSignal) => Promise<void>, stop: AbortSignal): Promise<void> {
    const path = which === 'input' ? this.#parts.input.path : 'output';
    const label = which === 'input' ? this.#parts.input.label : this.#parts.outputLabel;
    const { metrics } = this.#parts.env;
    const series = (event: 'up' | 'failed' | 'lost') => metrics.counter(`${which}_connection_${event}`, `Times the ${which} ${event === 'up' ? 'connected' : event === 'failed' ? 'failed to connect' : 'lost its connection'}.`).labels(label, path);
    // Connect shows the three series from the start; sluice never detects a lost connection.
    for (const event of ['up', 'failed', 'lost'] as const) series(event).inc(0);
    for (let delay = 500; !stop.aborted; delay = Math.min(delay * 2, 30_000)) {
      try {
        await connect(stop);
        series('up').inc();
        this.#status[which] = { connected: true, error: undefined };
        this.#parts.logger.info({ path }, `The ${which} is connected.`);
        return;
      } catch (err) {
        const message = this.#parts.env.secrets.scrub((err as Error).message);
        series('failed').inc();
        this.#status[which] = { connected: false, error: message };
        this.#parts.logger.error({ path, err: message }, `Failed to connect the ${which}, retrying in ${delay}ms.`);
        await sleep(delay, stop);
      }
    }
  }

  /**
   * Reads until the input is exhausted or `stop` aborts; resolves then with the hand-over of what
   * was read (which a blocked output may hold up: the drain bounds it with its timeout).
   */
  async #readLoop(stop: AbortSignal): Promise<{ readonly done: Promise<void> }> {
    const { input, processors, threads, logger } = this.#parts;
    const received = this.#parts.env.metrics.counter('input_received', 'Messages received by the input.').labels(input.label, input.path);
    let inOrder: Promise<void> = Promise.resolve();
    // Reads being processed: with several threads, two per thread, so a worker thread finds its
    // next batch already queued when it finishes one instead of waiting for the read loop.
    let processing = 0;
    const maxProcessing = threads > 1 ? 2 * threads : 1;
    // Reads not yet accepted by the output (processing, or waiting for room): bounded, so an output
    // that takes nothing (a full buffer, a blocked write) stops the reading instead of queueing reads.
    let unaccepted = 0;
    const maxUnaccepted = maxProcessing + threads;
    let slotFreed: (() => void) | undefined;
    let readFailures = 0;

    while (!stop.aborted) {
      await this.#replaysDrained(stop);
      while ((processing >= maxProcessing || unaccepted >= maxUnaccepted) && !stop.aborted) await new Promise<void>((resolve) => (slotFreed = resolve));
      if (stop.aborted) break;
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
      const transaction = new Transaction(read.ack, read.batch);
      this.#open.add(transaction);
      processing++;
      unaccepted++;
      const batches = read.batches ?? [read.batch];
      const processed = runProcessors(processors, batches).catch((err: Error) => batches.map((b) => b.map((m) => m.withError(err))));
      // A processing slot frees when its read is processed, even while an earlier read is still
      // being processed: a worker thread that finished takes the next read instead of waiting.
      void processed.then(() => {
        processing--;
        slotFreed?.();
      });
      // Batches are handed to the output in the order they were read, however long each took to process.
      inOrder = inOrder.then(async () => {
        const batches = await processed;
        await this.#handOver(batches, transaction);
        unaccepted--;
        slotFreed?.();
      });
    }
    // Wakes a wait for a processing slot when stop aborted it.
    slotFreed?.();
    return { done: inOrder };
  }

  /** Submits a read's processed batches to the output; resolves once the output accepted them. */
  async #handOver(batches: Message[][], transaction: Transaction): Promise<void> {
    if (this.#parts.strict) batches = this.#refuseErrored(batches, transaction);
    // One submission (and one delivery to follow) per read, not per batch, where the sink regroups.
    if (batches.length > 1 && this.#parts.sink.joinsBatches) batches = [batches.flat()];
    const deliveries: Promise<void>[] = [];
    for (const batch of batches) {
      const submission = this.#parts.sink.submit(batch);
      submission.delivered.catch(noop);
      deliveries.push(this.#deliver(batch, submission, transaction));
      await submission.accepted;
    }
    Promise.all(deliveries).then(
      () => this.#settle(transaction),
      (err: Error) => this.#settle(transaction, err),
    );
  }

  #settle(transaction: Transaction, error?: Error): void {
    this.#open.delete(transaction);
    const { input, env } = this.#parts;
    env.metrics.timer('input_latency_ns', 'Time from a read to its acknowledgement, in ns.').labels(input.label, input.path).observe(Number(process.hrtime.bigint() - transaction.readAt));
    transaction.settle(error);
    if (this.#open.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  /**
   * Strict mode: messages a processor flagged are not sent. They are given up (the input learns
   * which), never replayed, since replaying cannot un-fail a processor.
   */
  #refuseErrored(batches: Message[][], transaction: Transaction): Message[][] {
    const refused: GivenUp[] = [];
    const kept = batches
      .map((batch) =>
        batch.filter((m) => {
          if (m.error === undefined) return true;
          refused.push({ message: m, kind: 'rejected', reason: `processing failed (error_handling.strict): ${m.error.message}` });
          return false;
        }),
      )
      .filter((b) => b.length > 0);
    if (refused.length > 0) this.#giveUp(transaction, refused);
    return kept;
  }

  #giveUp(transaction: Transaction, givenUp: readonly GivenUp[]): void {
    if (givenUp.length === 0) return;
    transaction.givenUp.push(...givenUp);
    const { env, outputLabel, logger } = this.#parts;
    reportGivenUp(givenUp, { logger, metrics: env.metrics, label: outputLabel, path: 'output' });
  }

  /**
   * Resolves once every message of `batch` was delivered or given up. What a failure leaves
   * undelivered is submitted again after a back-off (the same processed messages: processors do
   * not re-run), until delivered or until shutdown is forced (then it rejects).
   */
  async #deliver(batch: readonly Message[], submission: Submission, transaction: Transaction): Promise<void> {
    const { logger, env } = this.#parts;
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      try {
        await submission.delivered;
        transaction.committed(submission.position);
        return;
      } catch (err) {
        const outcome = outcomeOf(err, pending);
        this.#giveUp(transaction, outcome.givenUp);
        if (outcome.retry.length === 0) return;
        if (this.#forced.signal.aborted) throw err;
        pending = outcome.retry;
        logger.error({ err: env.secrets.scrub(outcome.reason), attempt }, `Failed to send ${pending.length} message(s), replaying them.`);
      }
      this.#replaying++;
      try {
        await sleep(Math.min(REPLAY_BACKOFF_MAX_MS, REPLAY_BACKOFF_MIN_MS * 1.1 ** attempt), this.#forced.signal);
        if (this.#forced.signal.aborted) throw new Error('shutdown timeout reached before delivery');
        submission = this.#parts.sink.submit(pending);
        submission.delivered.catch(noop);
        // Nothing more will be read to fill a batch these join: flush it, as the drain did the rest.
        if (this.#flushed) this.#parts.sink.flush().catch(noop);
        await submission.accepted;
      } finally {
        if (--this.#replaying === 0) for (const wake of this.#replayDrained.splice(0)) wake();
      }
    }
  }

  /** Replays go out before new data is read, so a failing output holds the input back. */
  async #replaysDrained(stop: AbortSignal): Promise<void> {
    if (this.#replaying === 0 || stop.aborted) return;
    await Promise.race([new Promise<void>((resolve) => this.#replayDrained.push(resolve)), sleep(REPLAY_BACKOFF_MAX_MS, stop)]);
  }

  async #drain(handedOver: Promise<void>): Promise<RunResult> {
    const { input, sink, builder, logger, shutdownTimeoutMs } = this.#parts;
    const timer = new AbortController();
    const deadline = sleep(shutdownTimeoutMs, timer.signal).then(() => false);
    const drained = (async () => {
      await input.input.close();
      await handedOver;
      this.#flushed = true;
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
        { undelivered },
        `Shutdown timeout reached: ${undelivered} message(s) were not confirmed delivered; inputs that can replay will send them again, possibly as duplicates.`,
      );
    }
    this.#reportBuffer();
    await sink.close();
    await builder.closeProcessors();
    return { undelivered };
  }
}
