// Turns validated component configs into running parts. Knows no concrete component: it looks
// every type up in the registry. Errors thrown by create() are collected with their config path,
// so `lint` reports every bad mapping at once.
import type { Logger } from 'pino';
import type { LoggerConfig } from './logger.js';
import { formatPath, type ConfigPath } from '../config/problems.js';
import type { ComponentNode } from '../config/root.js';
import type { BatchingConfig } from './batching.js';
import { FieldErrors, type Builder, type Built, type Cache, type ChildOutput, type ComponentSpec, type Input, type Kind, type Output, type Processor, type RateLimit, type Settings, type Submission } from './component.js';
import { allDelivered } from './delivery.js';
import type { Message } from './message.js';
import type { Metrics } from './metrics.js';
import { observed, runProcessors } from './processors.js';
import type { Registry } from './registry.js';
import type { Leadership } from './leadership.js';
import type { Endpoints } from './endpoints.js';
import type { Secrets } from './secrets.js';
import { Batcher, Writer, type Sink, type SinkContext } from './sink.js';

export interface BuildEnvironment {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly secrets: Secrets;
  readonly baseDir: string;
  /** error_handling.strict */
  readonly strict: boolean;
  /** Wraps each processor built to count what it does; Redpanda Connect's processor metrics by default. */
  readonly observe?: (processor: Processor, label: string, path: string) => Processor;
  /**
   * How a worker thread builds `pipeline.processors` itself (the script: src/processors_worker.ts;
   * the logger config and secrets it logs with). Without it, `pipeline.threads` above 1 runs the
   * processors concurrently on the main thread.
   */
  readonly workers?: { readonly script: URL; readonly logger?: LoggerConfig; readonly secrets: readonly string[] };
  /** Leader election among replicas, handed to every component (Settings.leadership). */
  readonly leadership?: Leadership;
  /** The service HTTP server's endpoints, handed to every component (Settings.endpoints). */
  readonly endpoints?: Endpoints;
}

/** A create() failure, addressed by config path. */
export interface BuildProblem {
  readonly path: ConfigPath;
  readonly message: string;
  /** Where in the field's text the problem is (a JSONata syntax error's line and column). */
  readonly inner?: { line: number; column: number };
  /** A warning or a note (information for `lint`) is not an error; absent means an error. */
  readonly severity?: 'warning' | 'note';
}

/** Further problems an error thrown by create() carries in `more` (every syntax error of a mapping, lint warnings). */
export interface MoreProblem {
  readonly message: string;
  readonly line: number;
  readonly column: number;
  /** Absent: an error. */
  readonly severity?: 'warning';
}

export interface BuiltInput {
  readonly input: Input;
  readonly processors: Processor[];
  readonly label: string;
  readonly path: string;
}

/** The one explicit component key of a node, with its label and processors. */
export function splitComponent(registry: Registry, kind: Kind, node: ComponentNode) {
  const type = Object.keys(node).find((k) => k !== 'label' && k !== 'processors' && registry.get(kind, k));
  if (type === undefined) throw new Error(`no ${kind} type in ${JSON.stringify(node)}`);
  return {
    type,
    spec: registry.get(kind, type)!,
    label: typeof node.label === 'string' ? node.label : '',
    config: node[type],
    processors: Array.isArray(node.processors) ? (node.processors as ComponentNode[]) : [],
  };
}

export class PipelineBuilder {
  readonly problems: BuildProblem[] = [];
  #env: BuildEnvironment;
  #closables: { close(): Promise<void> }[] = [];
  #resources = new Map<string, unknown>();

  constructor(env: BuildEnvironment) {
    this.#env = env;
  }

  input(node: ComponentNode, path: ConfigPath): BuiltInput {
    const { type, spec, label, config, processors } = splitComponent(this.#env.registry, 'input', node);
    const input = this.#create(spec, config, [...path, type], label, FAILED_INPUT);
    return { input, label, path: formatPath(path), processors: this.processors(processors, [...path, 'processors']) };
  }

  processors(nodes: readonly ComponentNode[], path: ConfigPath): Processor[] {
    return nodes.map((node, i) => this.processor(node, [...path, i]));
  }

  /**
   * Builds every resource (`input_resources`, `processor_resources`, `output_resources`,
   * `rate_limit_resources`, `cache_resources`), before the components that name them, so their
   * problems are reported with the rest. Each is built once and shared by every reference.
   */
  resources(lists: { readonly [K in Kind]?: readonly ComponentNode[] }): void {
    for (const kind of Object.keys(lists) as Kind[]) {
      (lists[kind] ?? []).forEach((node, i) => {
        const path: ConfigPath = [`${kind}_resources`, i];
        const label = typeof node.label === 'string' ? node.label : '';
        let built: unknown;
        switch (kind) {
          case 'input':
            built = childInput(this.input(node, path));
            break;
          case 'processor':
            built = this.processor(node, path);
            break;
          case 'output':
            built = childOutput(this.sink(node, path));
            break;
          default: {
            const { type, spec, config } = splitComponent(this.#env.registry, kind, node);
            built = this.#create(spec, config, [...path, type], label, kind === 'rate_limit' ? FAILED_RATE_LIMIT : FAILED_CACHE);
          }
        }
        this.#resources.set(`${kind}/${label}`, built);
        if (kind !== 'processor') this.#closables.push(built as { close(): Promise<void> });
      });
    }
  }

  /** A resource built by resources(); throws when the config has none of that kind and label. */
  resource<K extends Kind>(kind: K, label: string): Built[K] {
    const found = this.#resources.get(`${kind}/${label}`);
    if (found === undefined) throw new Error(`${kind.replace('_', ' ')} resource '${label}' was not found`);
    return found as Built[K];
  }

  /** One processor at `at` (e.g. `pipeline.processors[2]`). */
  processor(node: ComponentNode, at: ConfigPath): Processor {
    const { type, spec, label, config } = splitComponent(this.#env.registry, 'processor', node);
    const processor = this.#create(spec, config, [...at, type], label, FAILED_PROCESSOR);
    return this.#env.observe ? this.#env.observe(processor, label, formatPath(at)) : observed(processor, this.#env.metrics, label, formatPath(at));
  }

  /** An output with its processors, batching policy and max_in_flight in front. */
  sink(node: ComponentNode, path: ConfigPath): Sink {
    const { type, spec, label, config, processors } = splitComponent(this.#env.registry, 'output', node);
    const componentPath = [...path, type];
    const output = this.#create(spec, config, componentPath, label, FAILED_OUTPUT);
    const context: SinkContext = {
      label,
      path: formatPath(path),
      logger: this.#env.logger.child({ label, path: formatPath(path) }),
      metrics: this.#env.metrics,
      strict: this.#env.strict,
    };
    let sink: Sink = new Writer(output, context);
    const batching = (config as { batching?: BatchingConfig } | null)?.batching;
    if (batching && !Batcher.isNoop(batching)) {
      const batchingPath = [...componentPath, 'batching'];
      const problem = Batcher.problem(batching);
      if (problem) this.problems.push({ path: batchingPath, message: problem });
      const batchProcessors = this.processors(batching.processors as ComponentNode[], [...batchingPath, 'processors']);
      try {
        sink = new Batcher(sink as Writer, batching, batchProcessors, context);
      } catch (err) {
        // A `check` that does not compile: reported at the field, with its position in the expression.
        const { line, column } = err as { line?: number; column?: number };
        const inner = typeof line === 'number' && typeof column === 'number' ? { line, column } : undefined;
        this.problems.push({ path: [...batchingPath, 'check'], message: (err as Error).message, inner });
      }
    }
    if (processors.length > 0) sink = processingSink(sink, this.processors(processors, [...path, 'processors']));
    return sink;
  }

  /** Closes every processor and resource built so far (other outputs and inputs are closed by their owners). Idempotent per component. */
  async closeProcessors(): Promise<void> {
    await Promise.allSettled(this.#closables.map((c) => c.close()));
  }

  #settings(path: ConfigPath, label: string): Settings {
    const pathText = formatPath(path);
    const builder: Builder = {
      processors: (configs, at) => this.processors(configs as ComponentNode[], parsePath(at)),
      output: (config, at) => childOutput(this.sink(config as ComponentNode, parsePath(at))),
      input: (config, at) => childInput(this.input(config as ComponentNode, parsePath(at))),
      resource: (kind, label) => this.resource(kind, label),
    };
    return {
      logger: this.#env.logger.child(label ? { label, path: pathText } : { path: pathText }),
      path: pathText,
      label,
      baseDir: this.#env.baseDir,
      metrics: this.#env.metrics,
      secrets: this.#env.secrets,
      build: builder,
      note: (message, options = {}) => {
        const { field, line, column, warning } = options;
        const inner = line !== undefined && column !== undefined ? { line, column } : undefined;
        this.problems.push({ path: field ? [...path, ...parsePath(field)] : path, message, severity: warning ? 'warning' : 'note', inner });
      },
      ...(this.#env.leadership ? { leadership: this.#env.leadership } : {}),
      ...(this.#env.endpoints ? { endpoints: this.#env.endpoints } : {}),
    };
  }

  #create<K extends Kind>(spec: ComponentSpec<K>, config: unknown, path: ConfigPath, label: string, fallback: () => any): any {
    try {
      const component = spec.create(config, this.#settings(path, label));
      if (spec.kind === 'processor') this.#closables.push(component as Processor);
      return component;
    } catch (err) {
      if (err instanceof FieldErrors) {
        for (const p of err.problems) this.problems.push({ path: p.field ? [...path, ...parsePath(p.field)] : path, message: p.message });
        return fallback();
      }
      const { field, line, column, more } = err as { field?: string; line?: number; column?: number; more?: readonly MoreProblem[] };
      const at = field ? [...path, ...parsePath(field)] : path;
      this.problems.push({
        path: at,
        message: (err as Error).message,
        inner: typeof line === 'number' && typeof column === 'number' ? { line, column } : undefined,
      });
      for (const p of more ?? []) this.problems.push({ path: at, message: p.message, inner: { line: p.line, column: p.column }, severity: p.severity });
      return fallback();
    }
  }
}

/** Runs processors in front of a sink (an output's `processors`, a buffer's `post_processors`). */
export function processingSink(inner: Sink, processors: Processor[]): Sink {
  return {
    connect: (signal) => inner.connect(signal),
    flush: () => inner.flush(),
    close: () => inner.close(),
    submit(batch: readonly Message[]): Submission {
      const handed = runProcessors(processors, [batch.slice()]).then((batches) => batches.map((b) => ({ messages: b, submission: inner.submit(b) })));
      return {
        accepted: handed.then((subs) => Promise.all(subs.map((s) => s.submission.accepted))).then(() => {}),
        delivered: handed.then((subs) => allDelivered(subs.map((s) => ({ messages: s.messages, delivered: s.submission.delivered })))),
      };
    },
  };
}

/** A sink seen as an Output, for wrappers that deliver through a child. */
function childOutput(sink: Sink): ChildOutput {
  return {
    connect: (signal) => sink.connect(signal),
    submit: (batch) => sink.submit(batch),
    flush: () => sink.flush(),
    async write(batch) {
      const submission = sink.submit(batch);
      await Promise.all([submission.accepted, submission.delivered]);
    },
    async close() {
      await sink.flush();
      await sink.close();
    },
  };
}

/** An input with its processors in front, for wrappers that read through a child. */
function childInput(built: BuiltInput): Input {
  if (built.processors.length === 0) return built.input;
  return {
    connect: (signal) => built.input.connect(signal),
    close: () => built.input.close(),
    async read(signal) {
      const read = await built.input.read(signal);
      if (read === null) return null;
      const inBatches = read.batches ?? [read.batch];
      const batches = await runProcessors(built.processors, inBatches).catch((err: Error) => inBatches.map((b) => b.map((m) => m.withError(err))));
      return read.batches ? { batch: batches.flat(), batches, ack: read.ack } : { batch: batches.flat(), ack: read.ack };
    },
  };
}

/** `pipeline.processors[0].catch` -> ['pipeline', 'processors', 0, 'catch'] */
export function parsePath(text: string): ConfigPath {
  const out: (string | number)[] = [];
  for (const match of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(match[2] !== undefined ? Number(match[2]) : match[1]!);
  return out;
}

// Stand-ins returned when create() failed, so building goes on and reports every problem.
const FAILED_INPUT = (): Input => ({ connect: async () => {}, read: async () => null, close: async () => {} });
const FAILED_PROCESSOR = (): Processor => ({ process: (batch) => [batch.slice()], close: async () => {} });
const FAILED_RATE_LIMIT = (): RateLimit => ({ access: async () => false, close: async () => {} });
const FAILED_CACHE = (): Cache => ({ get: async () => undefined, set: async () => {}, add: async () => true, delete: async () => {}, close: async () => {} });
const FAILED_OUTPUT = (): Output => ({
  connect: async () => {},
  write: async () => {
    throw new Error('output failed to build');
  },
  close: async () => {},
});
