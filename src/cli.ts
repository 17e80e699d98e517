#!/usr/bin/env node
// argv -> commands. The only file that prints usage and exits.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, parseEnv, type ParseArgsConfig } from 'node:util';
import { pino } from 'pino';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { stringify } from 'yaml';
import { SIM_USAGE } from './commands/sim_usage.js';
import { components, registry } from './components/index.js';
import { configJsonSchema } from './config/jsonschema.js';
import { loadConfigFile } from './config/load.js';
import { formatProblem, type Problem } from './config/problems.js';
import type { Kind } from './engine/component.js';
import { isSecretHeader } from './engine/secrets.js';
import { preparePipeline, runPrepared, shutdownTimeoutMs, VERSION } from './service.js';

const USAGE = `sluice ${VERSION}: declarative YAML pipelines

Usage:
  sluice run <config.yaml> [-s path=value]... [-e .env]... [--log.level LEVEL] [--chilled] [--output stdout|drop|file:PATH] [--state-dir DIR]
  sluice lint [--skip-env-var-check] [--explain-compile] <file|dir|dir/...>...
  sluice echo <config.yaml> [-s path=value]... [-e .env]...
  sluice list [inputs|processors|outputs]... [--format text|json|jsonschema]
  sluice test [--log LEVEL] [file|dir|dir/...|glob]...
  sluice map <mapping.jsonata | -e EXPR> [--meta k=v]... [--now TIME] [--uuid-seed SEED] [--pretty] [--watch] [input.json | input.jsonl | -]
${SIM_USAGE}  sluice demo [--workloads N] [--schedule CRON] [--log.level LEVEL]   (what npm start runs)
  sluice --version
`;

/** An error meant for the user: printed as one line, no stack. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'run':
      return run(args);
    case 'lint':
      return lint(args);
    case 'echo':
      return echo(args);
    case 'list':
      return list(args);
    case 'test':
      // Commands other than run/lint/echo/list are loaded when used: `run` starts faster.
      return (await import('./commands/test.js')).testCommand(args);
    case 'map':
      return (await import('./commands/map.js')).mapCommand(args);
    case 'sim':
      return (await import('./commands/sim.js')).simCommand(args);
    case 'demo':
      return (await import('./commands/demo.js')).demoCommand(args);
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

const CONFIG_OPTIONS = {
  set: { type: 'string', short: 's', multiple: true },
  'env-file': { type: 'string', short: 'e', multiple: true },
} as const;

function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

/** Applies dotenv files to process.env, overriding what is set (as Redpanda Connect's -e does). */
function loadEnvFiles(files: readonly string[] | undefined): void {
  for (const file of files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read env file: ${(err as Error).message}`);
    }
    Object.assign(process.env, parseEnv(text));
  }
}

/** `--output stdout|drop|file:PATH` as a --set of the whole output section (PATH relative to the working directory). */
function outputOverride(spec: string | undefined): string[] {
  if (spec === undefined) return [];
  if (spec === 'stdout' || spec === 'drop') return [`output={${spec}: {}}`];
  if (spec.startsWith('file:') && spec.length > 5) return [`output=${JSON.stringify({ file: { path: resolve(spec.slice(5)) } })}`];
  throw new UsageError(`--output takes stdout, drop or file:PATH, not ${JSON.stringify(spec)}`);
}

function printProblems(problems: readonly Problem[]): void {
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CONFIG_OPTIONS,
    'log.level': { type: 'string' },
    chilled: { type: 'boolean', default: false },
    output: { type: 'string' },
    'state-dir': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(`run takes one config file\n\n${USAGE}`);
  loadEnvFiles(values['env-file']);
  // A dry run (the output swapped) must not consume the real run's state: it keeps its own, in a
  // throwaway folder unless --state-dir names one.
  const dryRun = values.output !== undefined;
  const stateDir = values['state-dir'] !== undefined ? resolve(values['state-dir']) : dryRun ? mkdtempSync(join(tmpdir(), 'sluice-dry-run-')) : undefined;
  const throwaway = dryRun && values['state-dir'] === undefined ? stateDir : undefined;
  try {
    return await runConfig(positionals[0]!, values, stateDir, dryRun);
  } finally {
    if (throwaway) rmSync(throwaway, { recursive: true, force: true });
  }
}

async function runConfig(
  file: string,
  values: { set?: string[]; output?: string; chilled: boolean; 'log.level'?: string },
  stateDir: string | undefined,
  dryRun: boolean,
): Promise<number> {
  const prepared = preparePipeline(file, {
    set: [...(values.set ?? []), ...outputOverride(values.output)],
    chilled: values.chilled,
    logLevel: values['log.level'],
    stateDir,
  });
  printProblems(prepared.problems);
  if (!prepared.ready) {
    const env = prepared.problems.some((p) => p.message.startsWith('required environment variables'));
    process.stderr.write(`shutting down due to config errors${env ? '; to run despite unset environment variables use --chilled' : ''}\n`);
    return 1;
  }
  const { logger, config } = prepared.ready;
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn(`Received ${signal} again, exiting now; messages in flight may be re-sent on the next run.`);
      process.exit(1);
    }
    logger.info(`Received ${signal}, the service is closing.`);
    stop.abort();
    // The watchdog: a shutdown that hangs past its timeout must not keep the process alive.
    setTimeout(() => {
      logger.error('Service failed to close cleanly within the shutdown timeout, exiting forcefully.');
      process.exit(1);
    }, shutdownTimeoutMs(config) + 1000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  logger.info({ version: VERSION }, 'Launching a sluice pipeline, use CTRL+C to close.');
  if (stateDir !== undefined) {
    logger.info(
      { state_dir: stateDir },
      dryRun ? `Dry run (--output ${values.output}): buffer and input state are kept apart from the config's, which are not touched.` : 'Buffer and input state are kept in --state-dir.',
    );
  }
  const result = await runPrepared(prepared.ready, stop.signal);
  if (!stop.signal.aborted) logger.info('Pipeline has terminated. Shutting down the service.');
  return result.undelivered > 0 ? 1 : 0;
}

async function lint(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    'skip-env-var-check': { type: 'boolean', default: false },
    'explain-compile': { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new UsageError(`lint takes at least one file\n\n${USAGE}`);
  let failed = false;
  for (const file of positionals.flatMap(expandTargets)) {
    // --explain-compile: what the mapping processors log when built (compiled, or why interpreted).
    const logged: { msg?: string; path?: string; interpreted?: string[] }[] = [];
    const logger = values['explain-compile'] ? pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }) : undefined;
    const { problems } = preparePipeline(file, { quiet: true, chilled: values['skip-env-var-check'], ...(logger ? { logger } : {}) });
    printProblems(problems);
    if (problems.some((p) => p.severity === 'error')) failed = true;
    for (const entry of logged) {
      if (entry.msg === 'Mapping runs compiled to JavaScript.') process.stdout.write(`${file} ${entry.path}: compiled\n`);
      for (const reason of entry.interpreted ?? []) process.stdout.write(`${file} ${entry.path}.${reason.replace(': ', ': interpreted: ')}\n`);
    }
  }
  return failed ? 1 : 0;
}

/** A file as is; a directory (or `dir/...`) as every .yaml/.yml below it, tests excluded. */
function expandTargets(target: string): string[] {
  const dir = target.endsWith('/...') ? target.slice(0, -4) : target;
  let stats;
  try {
    stats = statSync(dir);
  } catch {
    return [target];
  }
  if (!stats.isDirectory()) return [target];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && !/_sluice_test\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

async function echo(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, CONFIG_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`echo takes one config file\n\n${USAGE}`);
  loadEnvFiles(values['env-file']);
  const loaded = loadConfigFile(positionals[0]!, { registry, set: values.set, chilled: true });
  printProblems(loaded.problems);
  if (!loaded.config) return 1;
  process.stdout.write(stringify(scrub(loaded.config, new Set(loaded.secrets))));
  return 0;
}

const SCRUBBED = '!!!SECRET_SCRUBBED!!!';

/** The config with secret fields and credential headers replaced, for `echo`. */
function scrub(value: unknown, secrets: ReadonlySet<string>, key = ''): unknown {
  if (typeof value === 'string') return secrets.has(value) || (value !== '' && isSecretHeader(key)) ? SCRUBBED : value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets, k)]));
}

const KIND_OF: Record<string, Kind> = { inputs: 'input', processors: 'processor', outputs: 'output' };

async function list(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { format: { type: 'string', default: 'text' } });
  for (const p of positionals) if (!KIND_OF[p]) throw new UsageError(`list takes inputs, processors or outputs, not ${JSON.stringify(p)}`);
  const kinds = (positionals.length > 0 ? positionals : Object.keys(KIND_OF)).map((p) => KIND_OF[p]!);
  switch (values.format) {
    case 'jsonschema':
      process.stdout.write(`${JSON.stringify(configJsonSchema(registry), null, 2)}\n`);
      return 0;
    case 'json': {
      const out = Object.fromEntries(kinds.map((k) => [`${k}s`, components.filter((c) => c.kind === k).map((c) => c.name).sort()]));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    case 'text':
      for (const kind of kinds) {
        process.stdout.write(`${kind[0]!.toUpperCase()}${kind.slice(1)}s:\n`);
        for (const c of components.filter((s) => s.kind === kind).sort((a, b) => a.name.localeCompare(b.name))) {
          process.stdout.write(`  ${c.name.padEnd(16)} ${c.summary}\n`);
        }
        process.stdout.write('\n');
      }
      return 0;
    default:
      throw new UsageError(`--format takes text, json or jsonschema, not ${JSON.stringify(values.format)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let stdout drain, then end even if a library left a handle open.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: Error) => {
    process.stderr.write(`${err instanceof UsageError ? err.message : `error: ${err.message}`}\n`);
    if (!(err instanceof UsageError) && process.argv.includes('--log.level=debug')) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);
