// Loading, building and running one pipeline file: what `sluice run` and `sluice lint` share.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import { registry as defaultRegistry } from './components/index.js';
import { parseDuration } from './config/duration.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import { formatPath, type Problem } from './config/problems.js';
import type { RootConfig } from './config/root.js';
import { startHttpServer } from './engine/http_server.js';
import { createLogger } from './engine/logger.js';
import { Metrics } from './engine/metrics.js';
import { buildPipeline, type Pipeline, type RunResult } from './engine/pipeline.js';
import type { Registry } from './engine/registry.js';
import { Secrets } from './engine/secrets.js';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

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
  /** Logs to this logger instead (lint --explain-compile collects what building logs). */
  readonly logger?: Logger;
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
  if (!loaded.config) return { loaded, problems: loaded.problems };
  const config = loaded.config;
  const secrets = new Secrets();
  for (const secret of loaded.secrets) secrets.add(secret);
  const loggerConfig = { ...config.logger, level: options.logLevel ?? config.logger.level };
  const logger = options.logger ?? (options.quiet ? pino({ level: 'silent' }) : createLogger(loggerConfig, secrets));
  const metrics = new Metrics();
  const { pipeline, problems: buildProblems } = buildPipeline(config, {
    registry,
    logger,
    metrics,
    secrets,
    baseDir: loaded.baseDir,
    strict: config.error_handling.strict,
    // Worker threads build their processors from the built-in registry, so a custom one keeps them on the main thread.
    ...(registry === defaultRegistry
      ? { workers: { script: new URL('./processors_worker.js', import.meta.url), logger: options.quiet ? undefined : loggerConfig, secrets: loaded.secrets } }
      : {}),
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
