// Loading, building and running one pipeline file: what `sluice run` and `sluice lint` share.
import { pino, type Logger } from 'pino';
import { registry as defaultRegistry } from './components/index.js';
import { parseDuration } from './config/duration.js';
import { loadConfigFile, loadConfigText, type LoadedConfig } from './config/load.js';
import { formatPath, type Problem } from './config/problems.js';
import type { ComponentNode, RootConfig } from './config/root.js';
import { startHttpServer } from './engine/http_server.js';
import { createLogger } from './engine/logger.js';
import { Metrics } from './engine/metrics.js';
import { PipelineBuilder } from './engine/build.js';
import { buildPipeline, type Pipeline, type RunResult } from './engine/pipeline.js';
import type { Registry } from './engine/registry.js';
import { Secrets } from './engine/secrets.js';
import { VERSION } from './version.js';

export { VERSION };

export interface PrepareOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly set?: readonly string[];
  /** Unset env variables are warnings, not errors. */
  readonly chilled?: boolean;
  /** Keep durable state (buffer, ledgers) in this folder instead of where the config says. */
  readonly stateDir?: string;
  /** Overrides logger.level (`--log.level`). */
  readonly logLevel?: string;
  /** Silences the logger (lint). */
  readonly quiet?: boolean;
  readonly registry?: Registry;
}

export interface Prepared {
  readonly loaded: LoadedConfig;
  /** Every problem: config validation, then building (bad mappings, bad cron...). */
  readonly problems: readonly Problem[];
  /** Present when there is no error among the problems. */
  readonly ready?: { config: RootConfig; pipeline: Pipeline; logger: Logger; metrics: Metrics; secrets: Secrets };
}

/** Loads, validates and builds a pipeline without connecting anything: the offline half of `run`, all of `lint`. */
export function preparePipeline(file: string, options: PrepareOptions = {}): Prepared {
  const registry = options.registry ?? defaultRegistry;
  const loaded = loadConfigFile(file, { registry, env: options.env, set: options.set, chilled: options.chilled, stateDir: options.stateDir });
  return prepareLoaded(loaded, registry, options);
}

/** preparePipeline for YAML text; `file` names it in problems, and relative paths resolve against its folder. */
export function preparePipelineText(text: string, file: string, options: PrepareOptions = {}): Prepared {
  const registry = options.registry ?? defaultRegistry;
  const loaded = loadConfigText(text, file, { registry, env: options.env, set: options.set, chilled: options.chilled, stateDir: options.stateDir });
  return prepareLoaded(loaded, registry, options);
}

function prepareLoaded(loaded: LoadedConfig, registry: Registry, options: PrepareOptions): Prepared {
  const file = loaded.file;
  if (!loaded.config) return { loaded, problems: [...loaded.problems, ...buildProblemsDespite(loaded, registry)].sort((a, b) => a.line - b.line || a.column - b.column) };
  const config = loaded.config;
  const secrets = new Secrets();
  for (const secret of loaded.secrets) secrets.add(secret);
  const loggerConfig = { ...config.logger, level: options.logLevel ?? config.logger.level };
  const logger = options.quiet ? pino({ level: 'silent' }) : createLogger(loggerConfig, secrets);
  const metrics = new Metrics();
  const { pipeline, problems: buildProblems } = buildPipeline(config, {
    registry,
    logger,
    metrics,
    secrets,
    baseDir: loaded.baseDir,
    strict: config.error_handling.strict,
  });
  const problems: Problem[] = [...loaded.problems];
  for (const p of buildProblems) {
    const { line, column } = loaded.locate(p.path, p.inner);
    problems.push({ file, line, column, path: formatPath(p.path), message: p.message, severity: 'error' });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.some((p) => p.severity === 'error')) return { loaded, problems };
  return { loaded, problems, ready: { config, pipeline, logger, metrics, secrets } };
}

/**
 * The problems building finds (bad mappings, bad cron...) in a config that has errors already, so
 * that every problem of a file is reported in one pass. Each part is built on its own and nothing
 * is connected or opened; a problem at or around a path that already has one is left out, since
 * it would only restate it.
 */
function buildProblemsDespite(loaded: LoadedConfig, registry: Registry): Problem[] {
  const candidate = loaded.candidate as Partial<Record<'input' | 'output', unknown>> & { pipeline?: { processors?: unknown } } | undefined;
  if (candidate === null || typeof candidate !== 'object') return [];
  const builder = new PipelineBuilder({
    registry,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    secrets: new Secrets(),
    baseDir: loaded.baseDir,
    strict: false,
  });
  const attempt = (build: () => unknown) => {
    try {
      build();
    } catch {
      // A part too broken to build: validation has said why.
    }
  };
  if (candidate.input) attempt(() => builder.input(candidate.input as ComponentNode, ['input']));
  if (Array.isArray(candidate.pipeline?.processors)) {
    candidate.pipeline.processors.forEach((node, i) => attempt(() => builder.processor(node as ComponentNode, ['pipeline', 'processors', i])));
  }
  if (candidate.output) attempt(() => builder.sink(candidate.output as ComponentNode, ['output']));
  void builder.closeProcessors();
  const known = loaded.problems.filter((p) => p.severity === 'error' && p.path !== '').map((p) => p.path);
  const related = (a: string, b: string) => a === b || (a.startsWith(b) && /^[.[]/.test(a.slice(b.length))) || (b.startsWith(a) && /^[.[]/.test(b.slice(a.length)));
  return builder.problems
    .map((p) => ({ p, path: formatPath(p.path) }))
    .filter(({ path }) => !known.some((k) => related(path, k)))
    .map(({ p, path }) => ({ file: loaded.file, ...loaded.locate(p.path, p.inner), path, message: p.message, severity: 'error' as const }));
}

/**
 * Runs a prepared pipeline with its HTTP server until the input is exhausted or `stop` aborts,
 * then shuts down gracefully. Resolves true on a clean end, false when the shutdown timeout forced it.
 */
export async function runPrepared(ready: NonNullable<Prepared['ready']>, stop: AbortSignal): Promise<RunResult> {
  const { config, pipeline, logger, metrics } = ready;
  const server = config.http.enabled
    ? await startHttpServer({ address: config.http.address, metrics, statuses: () => pipeline.statuses(), version: VERSION, logger })
    : undefined;
  try {
    return await pipeline.run(stop);
  } finally {
    await server?.close();
  }
}

/** shutdown_timeout in ms, for the CLI's watchdog. */
export function shutdownTimeoutMs(config: RootConfig): number {
  return parseDuration(config.shutdown_timeout) / 1e6;
}
