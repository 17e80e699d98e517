// The public API for embedding sluice in a Node program: build a pipeline from YAML text or a
// config object, add components of your own, run it and stop it. `import { createStream } from 'sluice'`.
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { components } from './components/index.js';
import { formatProblem, type Problem } from './config/problems.js';
import type { RootConfig } from './config/root.js';
import type { ComponentSpec } from './engine/component.js';
import type { Metrics } from './engine/metrics.js';
import type { RunResult } from './engine/pipeline.js';
import { createRegistry } from './engine/registry.js';
import { preparePipelineText, runPrepared, VERSION } from './service.js';

export { defineInput, defineOutput, defineProcessor } from './engine/component.js';
export type { Ack, Built, ComponentSpec, Input, Kind, Output, Processor, ReadResult, Schema, Settings } from './engine/component.js';
export { Message, type Json, type Metadata } from './engine/message.js';
export type { RunResult } from './engine/pipeline.js';
export type { RootConfig } from './config/root.js';
export type { Problem } from './config/problems.js';
export { components, VERSION };

export interface StreamOptions {
  /** Components added to sluice's own (a custom input, processor or output), by their `name`. */
  readonly components?: readonly ComponentSpec[];
  /** Variables for `${VAR}` interpolation; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `path=value` overrides, as `sluice run -s`. */
  readonly set?: readonly string[];
  /** Overrides `logger.level` (logs go to stderr). */
  readonly logLevel?: string;
  /**
   * The name problems carry; relative paths in the config resolve against its folder. Default
   * `sluice.yaml` in the working directory.
   */
  readonly file?: string;
  /** Serve the config's `http` section (/ping, /ready, /metrics). Off unless true. */
  readonly http?: boolean;
}

/** A config that cannot be built: every problem, one line each, as `sluice lint` prints them. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** One pipeline, built and not yet connected. */
export interface Stream {
  /** The validated config, defaults filled in. */
  readonly config: RootConfig;
  /** Its Prometheus metrics (`await stream.metrics.registry.metrics()` for the text format). */
  readonly metrics: Metrics;
  /** Warnings found while loading (errors throw ConfigError instead). */
  readonly warnings: readonly Problem[];
  /**
   * Connects (output first) and moves messages until the input is exhausted or stop() is called;
   * resolves once everything in flight is delivered or shutdown_timeout ran out. Call it once.
   */
  run(): Promise<RunResult>;
  /** Stops reading and drains, as SIGTERM does; resolves with run()'s result. Safe to call twice. */
  stop(): Promise<RunResult>;
}

/**
 * Builds a pipeline from YAML text or a config object (the same shape as a YAML file). Reads local
 * files and compiles mappings, opens no socket. Throws ConfigError listing every problem.
 */
export function createStream(config: string | Record<string, unknown>, options: StreamOptions = {}): Stream {
  const text = typeof config === 'string' ? config : stringify(config);
  const registry = options.components?.length ? createRegistry([...components, ...options.components]) : undefined;
  const set = [...(options.http ? [] : ['http.enabled=false']), ...(options.set ?? [])];
  const file = resolve(options.file ?? 'sluice.yaml');
  const prepared = preparePipelineText(text, file, { registry, env: options.env, set, logLevel: options.logLevel });
  if (!prepared.ready) throw new ConfigError(prepared.problems);
  const ready = prepared.ready;
  const stop = new AbortController();
  let running: Promise<RunResult> | undefined;
  return {
    config: ready.config,
    metrics: ready.metrics,
    warnings: prepared.problems.filter((p) => p.severity === 'warning'),
    run() {
      if (running) throw new Error('run() was already called on this stream');
      running = runPrepared(ready, stop.signal);
      return running;
    },
    async stop() {
      stop.abort();
      return running ?? { undelivered: 0 };
    },
  };
}
