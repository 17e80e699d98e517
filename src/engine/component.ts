import type { Logger } from 'pino';
import type { Endpoints } from './endpoints.js';
import type { Leadership } from './leadership.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';
import type { Secrets } from './secrets.js';

/**
 * Settles one read. Called exactly once per read by the engine:
 * - with no error when every message of the batch was delivered or deliberately filtered;
 * - with an `Undeliverable` error (engine/delivery.ts) when the messages it lists will never be
 *   delivered (rejected as invalid, failed by a processor in strict mode, dropped by `drop_on`)
 *   and every other message was: the input must not send the read again, and may record the loss;
 * - with any other error when the engine gave up on the read (shutdown timeout): nothing is known
 *   delivered, and an input that can replay or persist the batch does so.
 * With a durable buffer, "delivered" means committed to the buffer, and `buffered` says where:
 * an input that keeps what it emitted (run_ai's ledger) keeps it until the buffer reports that
 * position delivered (Input.buffered), so a buffer that lost it can be made good.
 */
export type Ack = (error?: Error, buffered?: BufferPosition) => void;

/** A position in a durable buffer: the buffer's identity and a commit sequence number. */
export interface BufferPosition {
  readonly buffer: string;
  readonly seq: number;
}

export interface ReadResult {
  /** The messages read (with `batches`: all of theirs, in order). */
  readonly batch: Message[];
  /**
   * Several batches read at once, as that many reads would give them: each is processed as a
   * batch of its own, in order. One read costs the engine one transaction, however many batches
   * it holds; `ack` is called once, when every message of every batch has settled.
   */
  readonly batches?: Message[][];
  readonly ack: Ack;
}

export interface Input {
  /** Opens the source: sockets, timers, schedules start here. Retried with back-off until it resolves. */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Waits for the next batch. Resolves null once the source is exhausted (the pipeline then
   * drains and stops). When `signal` aborts it should resolve null promptly.
   */
  read(signal: AbortSignal): Promise<ReadResult | null>;
  /** Releases resources. Idempotent and safe without connect(). */
  close(): Promise<void>;
  /**
   * Called only when the pipeline has a durable buffer: first before connect(), with the buffer's
   * state as it was opened (what it holds: `committed` is its highest position ever, so positions
   * acked above it, or acked by a buffer of another id, were lost), then whenever `delivered`
   * advances (every position at or below it reached the output or was given up).
   */
  buffered?(state: { readonly buffer: string; readonly committed: number; readonly delivered: number }): void;
}

/** What a processor sees of the batch around a message, for `$batch_index()` and friends. */
export interface Processor {
  /**
   * Maps a batch to zero or more batches; [] filters it (its messages are acked). Never mutates
   * `batch`. A failure on one message flags that message (`withError`) instead of throwing; a throw
   * fails the whole batch.
   */
  process(batch: readonly Message[]): Message[][] | Promise<Message[][]>;
  /** Idempotent and safe without use. */
  close(): Promise<void>;
  /** Called when a pipeline starts running, before its first read: starts what processing needs (worker threads). */
  start?(): void;
  /**
   * Its CPU time dominates a message's cost (e.g. a mapping in the JSONata interpreter), so
   * running it on worker threads pays for copying messages to them (`pipeline.threads`).
   */
  readonly cpuBound?: boolean;
}

export interface Output {
  /** Opens connections. Retried with back-off until it resolves. */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Delivers a batch. Resolves once every message is delivered; rejects once the output's own
   * retries are exhausted, and the engine then replays the same messages later (processors are
   * not re-run). `signal` aborts at forced shutdown.
   */
  write(batch: readonly Message[], signal: AbortSignal): Promise<void>;
  /** Idempotent and safe without connect(). */
  close(): Promise<void>;
  /** How many write() calls may run at once; 1 when absent. */
  readonly maxInFlight?: number;
  /**
   * For outputs that wrap others (`drop_on`, `fallback`...): hands the batch on and reports
   * acceptance and delivery separately, so the wrapped output's batching and back-pressure
   * apply. When present the engine calls it instead of write(), with no max_in_flight limit.
   */
  submit?(batch: readonly Message[]): Submission;
  /** Hands on partial batches now (shutdown). Wrappers forward it to their children. */
  flush?(): Promise<void>;
}

/** One hand-over of a batch to an output built by the engine. */
export interface Submission {
  /** Resolves once the output has room for the messages: awaiting it is back-pressure. */
  readonly accepted: Promise<void>;
  /**
   * Resolves once every message was delivered; rejects otherwise, with a DeliveryError
   * (engine/delivery.ts) saying which messages are still to send and which were given up.
   */
  readonly delivered: Promise<void>;
  /** Set by a durable buffer once `delivered` resolved: where the batch's last message was committed. */
  readonly position?: BufferPosition;
}

/** An output built by the engine for a wrapper, with its processors and batching policy in front. */
export interface ChildOutput extends Output {
  submit(batch: readonly Message[]): Submission;
  flush(): Promise<void>;
}

/** Builds child components for composite ones (`catch`, `drop_on`, `fallback`, `schedule`, batching processors). */
export interface Builder {
  /** Builds the processors at `path` (e.g. `pipeline.processors[2].catch`) from validated configs. */
  processors(configs: readonly unknown[], path: string): Processor[];
  /**
   * Builds a complete output at `path`, including its `processors` and `batching` policy. Its
   * write() resolves once the messages passed in were delivered (possibly batched with others);
   * submit() reports acceptance first, which wrappers should prefer.
   */
  output(config: unknown, path: string): ChildOutput;
  /**
   * Builds a complete input at `path` (e.g. `input.schedule.input`), including its `processors`:
   * each read returns the processed messages as one batch, with the child's ack. For inputs that
   * wrap others (`schedule`); the wrapper connects, reads and closes it.
   */
  input(config: unknown, path: string): Input;
  /**
   * The resource labelled `label` among the config's `<kind>_resources` (built when the pipeline
   * was built, shared by every reference). Throws when there is none. Call it when the component
   * is first used (connect, process...), not in create(): the loader has checked the reference.
   */
  resource<K extends Kind>(kind: K, label: string): Built[K];
}

/** What the engine hands a component. What the user wrote is its config. */
export interface Settings {
  /** pino child logger bound to `{ path, label? }`. */
  readonly logger: Logger;
  /** The config path of this component, e.g. `pipeline.processors[1]`: the address in errors and metrics. */
  readonly path: string;
  /** The component's `label`, or '' when none was set. */
  readonly label: string;
  /** Directory of the config file: relative file paths resolve against it. */
  readonly baseDir: string;
  readonly metrics: Metrics;
  /** Values to scrub from every log line; components add credentials they obtain at run time. */
  readonly secrets: Secrets;
  readonly build: Builder;
  /**
   * Records a note for `lint` (which mapping language was detected), or with `warning` a warning
   * (a mapping that runs but reads null), at this component or its `field`, at a line and column
   * of the field's text.
   */
  note?(message: string, options?: { field?: string; line?: number; column?: number; warning?: boolean }): void;
  /** Set when replicas elect a leader: scheduled inputs scrape only while it leads (engine/leadership.ts). */
  readonly leadership?: Leadership;
  /** The service HTTP server's endpoints (absent in lint and worker threads): where an http_server input with no address of its own serves. */
  readonly endpoints?: Endpoints;
}

/** A rate limit resource (`rate_limit_resources`), shared by the components naming it. */
export interface RateLimit {
  /**
   * Resolves once one more access is allowed (waiting as long as needed): true when it had to
   * wait (the limit was triggered). Rejects when `signal` aborts.
   */
  access(signal: AbortSignal): Promise<boolean>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** A cache resource (`cache_resources`): keys to bytes, each key with an optional time to live. */
export interface Cache {
  /** The value, or undefined when the key is absent or expired. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Sets the value; `ttlMs` overrides the cache's default time to live. */
  set(key: string, value: Uint8Array, ttlMs?: number): Promise<void>;
  /** Sets the value only if the key is absent; false when it was present (a duplicate). */
  add(key: string, value: Uint8Array, ttlMs?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface Built {
  input: Input;
  processor: Processor;
  output: Output;
  rate_limit: RateLimit;
  cache: Cache;
}
export type Kind = keyof Built;

/**
 * JSON Schema for a component's config (draft-07, as ajv validates it), with these extra keywords:
 * - `x-component: 'processor' | 'output'` marks a child component slot; it is validated with the
 *   child's own schema and its path (`...catch[0].mapping`).
 * - `x-secret: true` marks a string that must never be logged or echoed.
 * - `x-interpolated: true` marks a string that accepts `${! jsonata }` interpolation.
 * - `x-expected: '"a", "b"'` names the values a `pattern` stands for, in its error message.
 * - `x-resource: '<kind>'` marks a string naming a resource of that kind (http_client's
 *   `rate_limit`): the loader checks that it exists.
 * - `x-state: true` marks the path of a durable state file (a buffer, a ledger): a dry run keeps
 *   its state elsewhere (`run --output`, `--state-dir`), so it never consumes the real run's.
 */
export type Schema = Record<string, unknown>;

export interface ComponentSpec<K extends Kind = Kind, C = any> {
  readonly kind: K;
  /** lower_snake_case YAML key; equals the file name. */
  readonly name: string;
  /** One sentence, shown by `sluice list`. */
  readonly summary: string;
  /** Defaults live here and nowhere else: ajv applies them before create() sees the config. */
  readonly schema: Schema;
  /** The smallest valid config; the contract suite builds it. */
  readonly example: unknown;
  /** Turns a validated config into a component. May read local files and compile; no sockets, no timers. */
  create(config: C, settings: Settings): Built[K];
  /**
   * A processor whose output depends only on its input batch, with no effect outside it (no
   * metrics of its own, no shared cache, no I/O but logging): it may run on worker threads
   * (`pipeline.threads` above 1), built there from the same config.
   */
  readonly pure?: boolean;
}

/**
 * Thrown by create() for every problem of a config at once, each at its field (a path relative to
 * the component, e.g. `http.timeout`; '' for the component itself), so lint reports them all.
 */
export class FieldErrors extends Error {
  override readonly name = 'FieldErrors';
  constructor(readonly problems: readonly { readonly field: string; readonly message: string }[]) {
    super(problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('\n'));
  }
}

export const defineInput = <C>(spec: Omit<ComponentSpec<'input', C>, 'kind'>): ComponentSpec<'input', C> => ({
  kind: 'input',
  ...spec,
});
export const defineProcessor = <C>(spec: Omit<ComponentSpec<'processor', C>, 'kind'>): ComponentSpec<'processor', C> => ({
  kind: 'processor',
  ...spec,
});
export const defineRateLimit = <C>(spec: Omit<ComponentSpec<'rate_limit', C>, 'kind'>): ComponentSpec<'rate_limit', C> => ({
  kind: 'rate_limit',
  ...spec,
});
export const defineCache = <C>(spec: Omit<ComponentSpec<'cache', C>, 'kind'>): ComponentSpec<'cache', C> => ({
  kind: 'cache',
  ...spec,
});
export const defineOutput = <C>(spec: Omit<ComponentSpec<'output', C>, 'kind'>): ComponentSpec<'output', C> => ({
  kind: 'output',
  ...spec,
});

/** A processor that needs no cleanup. */
export function processor(process: Processor['process']): Processor {
  return { process, close: async () => {} };
}
