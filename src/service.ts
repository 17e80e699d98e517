// Loading, building and running one pipeline file: what `sluice run` and `sluice lint` share.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { registry as defaultRegistry } from './components/index.js';
import { parseDuration } from './config/duration.js';
import { glob, GLOB } from './config/files.js';
import { loadConfigFile, loadConfigText, type LoadedConfig } from './config/load.js';
import { mergeResources } from './config/resources.js';
import { formatPath, type Problem } from './config/problems.js';
import type { ComponentNode, RootConfig } from './config/root.js';
import { Endpoints } from './engine/endpoints.js';
import { startHttpServer } from './engine/http_server.js';
import { createLogger } from './engine/logger.js';
import { Metrics, type MetricsOptions } from './engine/metrics.js';
import { compileExpression, DELETED } from './mapping/environment.js';
import { PipelineBuilder } from './engine/build.js';
import { buildPipeline, type Pipeline, type RunResult } from './engine/pipeline.js';
import type { BuildProblem } from './engine/build.js';
import type { Registry } from './engine/registry.js';
import { Secrets } from './engine/secrets.js';
import { VERSION } from './version.js';
import type { LeaseLeadership } from './kubernetes/leadership.js';
import { createLeadership, resolveLeaderElection, type LeaderElectionFlags } from './leader_election.js';
import { shardLeaseSuffix } from './windows/shard.js';

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
  /** Logs to this logger instead (lint --explain-compile collects what building logs). */
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** Resources files (`-r`, globs allowed): their `*_resources` join the config's. */
  readonly resources?: readonly string[];
  /** Set by `run`: leader election is set up (credentials discovered) with these flags over the config's section. */
  readonly leaderElection?: LeaderElectionFlags;
  /** Streams mode: the stream's id, a `stream` label on its metrics and a field of its logs. */
  readonly stream?: string;
  /** Streams mode: the shared service server's endpoints (an http_server input with no address serves there). */
  readonly endpoints?: Endpoints;
}

export interface Prepared {
  readonly loaded: LoadedConfig;
  /** Every problem: config validation, then building (bad mappings, bad cron...). */
  readonly problems: readonly Problem[];
  /** Present when there is no error among the problems. */
  readonly ready?: { config: RootConfig; pipeline: Pipeline; logger: Logger; metrics: Metrics; secrets: Secrets; tls?: { cert: Buffer; key: Buffer }; leadership?: LeaseLeadership; endpoints?: Endpoints };
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
  // A resources file checked itself (`lint -r res.yaml dir/` with res.yaml in dir/) is not its own extra.
  const resourceFiles = (options.resources ?? []).flatMap((pattern) => (GLOB.test(pattern) ? glob(pattern) : [pattern])).filter((f) => resolve(f) !== resolve(file));
  const extras = resourceFiles.map((f) => loadConfigFile(f, { registry, env: options.env, chilled: options.chilled, stateDir: options.stateDir, resourcesOnly: true }));
  const loadProblems = [...loaded.problems, ...extras.flatMap((e) => e.problems)];
  if (!loaded.config) return { loaded, problems: [...loadProblems, ...buildProblemsDespite(loaded, registry)].sort((a, b) => a.line - b.line || a.column - b.column) };
  if (extras.some((e) => !e.config)) return { loaded, problems: loadProblems };
  const merged = mergeResources(loaded as typeof loaded & { config: RootConfig }, extras);
  const config = merged.config;
  const secrets = new Secrets();
  for (const secret of [...loaded.secrets, ...extras.flatMap((e) => e.secrets)]) secrets.add(secret);
  const loggerConfig = { ...config.logger, level: options.logLevel ?? config.logger.level };
  const rootLogger = options.logger ?? (options.quiet ? pino({ level: 'silent' }) : createLogger(loggerConfig, secrets));
  const logger = options.stream === undefined ? rootLogger : rootLogger.child({ stream: options.stream });
  const serviceProblems: BuildProblem[] = [];
  const metrics = new Metrics({ ...metricsOptions(config, serviceProblems), ...(options.stream === undefined ? {} : { defaultLabels: { stream: options.stream } }) });
  const tls = readServerTls(config, loaded.baseDir, serviceProblems);
  let leadership: LeaseLeadership | undefined;
  if (options.leaderElection) {
    try {
      const settings = resolveLeaderElection(config.leader_election, options.leaderElection, options.env ?? process.env);
      // Each shard of a sharded input elects its own leader: its lease name gets the shard's suffix.
      const suffix = shardLeaseSuffix(config.input);
      if (settings) leadership = createLeadership(suffix ? { ...settings, name: `${settings.name}${suffix}` } : settings, { logger, metrics, secrets });
    } catch (err) {
      const field = (err as { field?: string }).field;
      serviceProblems.push({ path: field ? ['leader_election', field] : ['leader_election'], message: (err as Error).message });
    }
  }
  const endpoints = options.endpoints ?? new Endpoints(config.http.enabled);
  const { pipeline, problems: buildProblems } = buildPipeline(config, {
    registry,
    logger,
    metrics,
    secrets,
    baseDir: loaded.baseDir,
    strict: config.error_handling.strict,
    // Worker threads build their processors from the built-in registry, so a custom one keeps them on the main thread.
    ...(registry === defaultRegistry
      ? { workers: { script: new URL('./processors_worker.js', import.meta.url), logger: options.quiet ? undefined : loggerConfig, secrets: [...loaded.secrets, ...extras.flatMap((e) => e.secrets)] } }
      : {}),
    ...(leadership ? { leadership } : {}),
    endpoints,
  });
  const problems: Problem[] = [...loadProblems, ...merged.problems];
  for (const p of [...serviceProblems, ...buildProblems]) {
    // A resource's problem is placed in the file it came from (a -r file, or this one).
    const origin = typeof p.path[0] === 'string' && p.path[0].endsWith('_resources') ? merged.origins.get(formatPath(p.path.slice(0, 2))) : undefined;
    const at = origin ? { loaded: origin.loaded, path: [p.path[0]!, origin.index, ...p.path.slice(2)] } : { loaded, path: p.path };
    const { line, column } = at.loaded.locate(at.path, p.inner);
    problems.push({ file: at.loaded.file, line, column, path: formatPath(at.path), message: p.message, severity: p.severity ?? 'error' });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.some((p) => p.severity === 'error')) return { loaded, problems };
  return { loaded, problems, ready: { config, pipeline, logger, metrics, secrets, tls, endpoints, ...(leadership ? { leadership } : {}) } };
}

/** The `metrics` section as the registry's options; a bad `mapping` is a problem. */
function metricsOptions(config: RootConfig, problems: BuildProblem[]): MetricsOptions {
  const { prometheus, none, mapping } = config.metrics;
  let rename: MetricsOptions['rename'];
  if (mapping !== '') {
    try {
      const expression = compileExpression(mapping);
      rename = async (name) => {
        const result = await expression.evaluate(undefined, name);
        if (result === null || result === DELETED) return null;
        return typeof result === 'string' && result !== '' ? result : name;
      };
    } catch (err) {
      const { line, column } = err as { line?: number; column?: number };
      problems.push({ path: ['metrics', 'mapping'], message: (err as Error).message, inner: typeof line === 'number' && typeof column === 'number' ? { line, column } : undefined });
    }
  }
  return {
    none: none !== undefined,
    histogramBuckets: prometheus?.use_histogram_timing ? prometheus.histogram_buckets : undefined,
    processMetrics: prometheus?.add_process_metrics,
    runtimeMetrics: prometheus?.add_go_metrics,
    rename,
  };
}

/** http.cert_file and key_file, read when the config is prepared so a missing file fails before anything starts. */
function readServerTls(config: RootConfig, baseDir: string, problems: BuildProblem[]): { cert: Buffer; key: Buffer } | undefined {
  const { cert_file, key_file, enabled } = config.http;
  if (!enabled || cert_file === '' || key_file === '') return undefined;
  const read = (field: 'cert_file' | 'key_file', file: string) => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      problems.push({ path: ['http', field], message: `cannot read ${field}: ${(err as Error).message}` });
      return Buffer.alloc(0);
    }
  };
  return { cert: read('cert_file', cert_file), key: read('key_file', key_file) };
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
    .map(({ p, path }) => ({ file: loaded.file, ...loaded.locate(p.path, p.inner), path, message: p.message, severity: p.severity ?? ('error' as const) }));
}

/**
 * Runs a prepared pipeline with its HTTP server until the input is exhausted or `stop` aborts,
 * then shuts down gracefully. Resolves true on a clean end, false when the shutdown timeout forced it.
 */
export async function runPrepared(ready: NonNullable<Prepared['ready']>, stop: AbortSignal): Promise<RunResult> {
  const { config, pipeline, logger, metrics, leadership, endpoints } = ready;
  const { http } = config;
  const server = http.enabled
    ? await startHttpServer({
        address: http.address,
        metrics,
        statuses: () => pipeline.statuses(),
        version: VERSION,
        logger,
        rootPath: http.root_path,
        tls: ready.tls,
        basicAuth: http.basic_auth.enabled ? http.basic_auth : undefined,
        cors: http.cors.enabled ? http.cors : undefined,
        ...(endpoints ? { endpoints } : {}),
        ...(leadership ? { leadership: { status: () => leadership.status(), check: () => leadership.elector.check() } } : {}),
      })
    : undefined;
  // Campaigning starts with the pipeline; a leader releases the Lease once its pipeline has drained.
  leadership?.start();
  try {
    return await pipeline.run(stop);
  } finally {
    await leadership?.stop();
    await server?.close();
  }
}

/** shutdown_timeout in ms, for the CLI's watchdog. */
export function shutdownTimeoutMs(config: RootConfig): number {
  return parseDuration(config.shutdown_timeout) / 1e6;
}
