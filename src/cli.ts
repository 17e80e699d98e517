#!/usr/bin/env node
// argv -> commands. The only file that prints usage and exits.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs, parseEnv, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { SIM_USAGE } from './commands/sim_usage.js';
import { printable, type Problem } from './config/problems.js';
import type { Kind } from './engine/component.js';
import { VERSION } from './version.js';
import { LEADER_ELECTION_FLAGS, type LeaderElectionFlags } from './leader_election.js';
// Everything else is imported by the command that needs it: `--version` and `--help` load nothing.

const USAGE = `sluice ${VERSION}: declarative YAML pipelines

Usage:
  sluice run <config.yaml> [-s path=value]... [-e .env]... [-r resources.yaml]... [-w] [--log.level LEVEL] [--chilled] [--output stdout|drop|file:PATH] [--state-dir DIR]
             [--leader-election] [--lease-lock-namespace NS] [--lease-lock-name NAME] [--lease-lock-identity ID] [--lease-duration 15s]
             [--lease-renew-deadline 10s] [--lease-retry-period 2s] [--lease-health-check-timeout 0s]
  sluice streams [-o service.yaml] [-r resources.yaml]... <stream.yaml|dir>...
  sluice lint [--skip-env-var-check] [--explain-compile] [-r resources.yaml]... <file|dir|dir/...>...
  sluice echo <config.yaml> [-s path=value]... [-e .env]...
  sluice list [inputs|processors|outputs|rate-limits|caches]... [--format text|json|jsonschema]
  sluice list <component>
  sluice create <input>/[<processor>/...]<output>
  sluice test [--log LEVEL] [-r resources.yaml]... [file|dir|dir/...|glob]...
  sluice map <mapping.jsonata | -e EXPR> [--lang auto|jsonata|bloblang] [--meta k=v]... [--now TIME] [--uuid-seed SEED] [--pretty] [--watch] [input.json | input.jsonl | -]
${SIM_USAGE}  sluice demo [--workloads N] [--schedule CRON] [--log.level LEVEL]   (what npm start runs)
  sluice demo ingest [--events N] [--clients N] [--log.level LEVEL]
  sluice --version | -v
  sluice <command> --help
`;

/** What must happen before an early exit (the dry run's throwaway state folder is removed). */
const beforeEarlyExit: (() => void)[] = [];

// A closed stdout (`sluice run p.yaml | head -2`) ends the process at once and quietly, with exit
// code 0, as `head` expects of the command before it. What was read but not yet written is not
// acknowledged: a durable input (a buffer, run_ai's ledger) sends it again on the next run.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  for (const cleanup of beforeEarlyExit) cleanup();
  process.exit(0);
});

/** An error meant for the user: printed as one line, no stack. */
class UsageError extends Error {}

/** What each command does, after its usage line(s), for `sluice <command> --help`. */
const HELP: Record<string, string> = {
  run: 'Runs a pipeline until its input is exhausted or SIGINT/SIGTERM, then drains. Exit 0 on a clean end, 1 on config errors or a forced end.\n--output swaps the output for a dry run, whose buffer and input state live in a throwaway folder unless --state-dir.',
  lint: 'Checks config files offline (every problem of a file in one pass): file(line,col) path: message. Exit 1 if any error.',
  echo: 'Prints the config as sluice reads it: environment resolved, defaults filled, secrets scrubbed.',
  list: 'Lists the components, prints one component\'s fields (type, default, description), or the JSON Schema of config files (--format jsonschema).',
  create: 'Prints a config with the named components and every field at its default, e.g. sluice create run_ai/mapping/http_client.',
  demo: 'Runs the Run:ai collector against simulated Run:ai and OpenMeter on loopback, printing what each customer is billed.',
  sim: 'Starts a simulator on loopback and prints the environment to point a pipeline at it.',
};

/** The usage lines of `command` (and `sub`, for sim) from USAGE, then what it does. */
function commandHelp(command: string, sub: string | undefined): string {
  const prefix = `  sluice ${command}${command === 'sim' && sub && !sub.startsWith('-') ? ` ${sub}` : ''} `;
  const lines = USAGE.split('\n').filter((l) => l.startsWith(prefix) || l === prefix.trimEnd());
  return `Usage:\n${lines.join('\n')}\n\n${HELP[command]}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  // `sluice <command> --help` (test and map print their own, longer help).
  const end = args.indexOf('--');
  const flags = end === -1 ? args : args.slice(0, end);
  if (command !== undefined && HELP[command] && (flags.includes('--help') || flags.includes('-h'))) {
    process.stdout.write(commandHelp(command, args[0]));
    return 0;
  }
  switch (command) {
    case 'run':
      return run(args);
    case 'lint':
      return lint(args);
    case 'echo':
      return echo(args);
    case 'list':
      return list(args);
    case 'create': {
      const { createConfig } = await import('./commands/reference.js');
      if (args.length !== 1) throw new UsageError(`create takes one input/processor.../output spec\n\n${USAGE}`);
      const created = createConfig(args[0]!);
      if ('error' in created) throw new UsageError(created.error);
      process.stdout.write(created.yaml);
      return 0;
    }
    case 'test':
      // Commands other than run/lint/echo/list are loaded when used: `run` starts faster.
      return (await import('./commands/test.js')).testCommand(args);
    case 'map':
      return (await import('./commands/map.js')).mapCommand(args);
    case 'streams':
      return (await import('./commands/streams.js')).streamsCommand(args);
    case 'sim':
      return (await import('./commands/sim.js')).simCommand(args);
    case 'demo':
      return (await import('./commands/demo.js')).demoCommand(args);
    case '--version':
    case '-v':
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
  resources: { type: 'string', short: 'r', multiple: true },
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

async function printProblems(problems: readonly Problem[]): Promise<void> {
  const { formatProblem } = await import('./config/problems.js');
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...CONFIG_OPTIONS,
    'log.level': { type: 'string' },
    chilled: { type: 'boolean', default: false },
    output: { type: 'string' },
    'state-dir': { type: 'string' },
    ...LEADER_ELECTION_FLAGS,
    watch: { type: 'boolean', short: 'w', default: false },
  });
  if (positionals.length !== 1) throw new UsageError(`run takes one config file\n\n${USAGE}`);
  loadEnvFiles(values['env-file']);
  // A dry run (the output swapped) must not consume the real run's state: it keeps its own, in a
  // throwaway folder unless --state-dir names one.
  const dryRun = values.output !== undefined;
  const stateDir = values['state-dir'] !== undefined ? resolve(values['state-dir']) : dryRun ? mkdtempSync(join(tmpdir(), 'sluice-dry-run-')) : undefined;
  const throwaway = dryRun && values['state-dir'] === undefined ? stateDir : undefined;
  if (throwaway) beforeEarlyExit.push(() => rmSync(throwaway, { recursive: true, force: true }));
  try {
    return await runConfig(positionals[0]!, values, stateDir, dryRun);
  } finally {
    if (throwaway) rmSync(throwaway, { recursive: true, force: true });
  }
}

async function runConfig(
  file: string,
  values: { set?: string[]; resources?: string[]; output?: string; chilled: boolean; watch: boolean; 'log.level'?: string } & LeaderElectionFlags,
  stateDir: string | undefined,
  dryRun: boolean,
): Promise<number> {
  const [{ preparePipeline, runPrepared, shutdownTimeoutMs }, { parseDuration }] = await Promise.all([import('./service.js'), import('./config/duration.js')]);
  const options = {
    resources: values.resources,
    set: [...(values.set ?? []), ...outputOverride(values.output)],
    chilled: values.chilled,
    logLevel: values['log.level'],
    stateDir,
    // A dry run neither campaigns nor writes the shared watermark: it must not take over from the real replicas.
    ...(dryRun ? {} : { leaderElection: values }),
  };
  const prepared = preparePipeline(file, options);
  await printProblems(prepared.problems.filter((p) => p.severity !== 'note'));
  if (!prepared.ready) {
    // The hint only where it helps: with --chilled, unset variables are warnings already.
    const env = prepared.problems.some((p) => p.severity === 'error' && p.message.startsWith('required environment variables'));
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
    // shutdown_delay: a last chance for metrics to be scraped before the pipeline stops.
    const delay = parseDuration(config.shutdown_delay) / 1e6;
    if (delay > 0) setTimeout(() => stop.abort(), delay).unref();
    else stop.abort();
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
  const result = values.watch
    ? await (await import('./commands/watch.js')).runWatched(file, options, prepared.ready, stop.signal)
    : await runPrepared(prepared.ready, stop.signal);
  if (!stop.signal.aborted) logger.info('Pipeline has terminated. Shutting down the service.');
  return result.undelivered > 0 ? 1 : 0;
}

async function lint(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    'skip-env-var-check': { type: 'boolean', default: false },
    'explain-compile': { type: 'boolean', default: false },
    resources: CONFIG_OPTIONS.resources,
  });
  if (positionals.length === 0) throw new UsageError(`lint takes at least one file\n\n${USAGE}`);
  const { preparePipeline } = await import('./service.js');
  let failed = false;
  const { readTestFile, TEST_FILE } = await import('./commands/test/definitions.js');
  for (const file of positionals.flatMap(expandTargets)) {
    // --explain-compile: what the mapping processors log when built (compiled, or why interpreted).
    const logged: { msg?: string; path?: string; interpreted?: string[] }[] = [];
    const logger = values['explain-compile'] ? (await import('pino')).pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }) : undefined;
    // A test file (<name>_sluice_test.yaml, Connect's _benthos_test.yaml) is checked as tests; a
    // config as a pipeline, plus its inline tests.
    const isTestFile = TEST_FILE.test(file);
    const prepared = isTestFile ? undefined : preparePipeline(file, { quiet: true, chilled: values['skip-env-var-check'], resources: values.resources, ...(logger ? { logger } : {}) });
    // A config that could not be read or parsed as YAML has said so once: its tests are not read again.
    const readable = prepared === undefined || prepared.loaded.candidate !== undefined;
    const problems = [...(prepared?.problems ?? []), ...(readable ? readTestFile(file).problems : [])];
    await printProblems(problems);
    if (problems.some((p) => p.severity === 'error')) failed = true;
    for (const entry of logged) {
      if (entry.msg === 'Mapping runs compiled to JavaScript.') process.stdout.write(`${file} ${entry.path}: compiled\n`);
      for (const reason of entry.interpreted ?? []) process.stdout.write(`${file} ${entry.path}.${reason.replace(': ', ': interpreted: ')}\n`);
    }
  }
  return failed ? 1 : 0;
}

/**
 * A file as is; a directory (or `dir/...`) as every .yaml/.yml below it, tests excluded. Says on
 * stderr which files of a directory it skipped because they are not config files (JSON files,
 * the data of configs such as a json_schema's schema file, are passed over silently).
 */
function expandTargets(target: string): string[] {
  const dir = target.endsWith('/...') ? target.slice(0, -4) : target;
  let stats;
  try {
    stats = statSync(dir);
  } catch {
    return [target];
  }
  if (!stats.isDirectory()) return [target];
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory());
  const names = entries.map((e) => relative(dir, join(e.parentPath, e.name))).sort();
  // JSON files beside configs are their data (a json_schema's schema_path), not configs to report.
  const skipped = names.filter((f) => !/\.ya?ml$/.test(f) && !/\.json$/.test(f));
  if (skipped.length > 0) {
    const shown = skipped.slice(0, 10).map((f) => printable(join(dir, f)));
    const more = skipped.length > shown.length ? `, and ${skipped.length - shown.length} more` : '';
    process.stderr.write(`${printable(dir)}: skipped ${skipped.length} file(s) that are not config files (*.yaml, *.yml): ${shown.join(', ')}${more}\n`);
  }
  return names.filter((f) => /\.ya?ml$/.test(f) && !/_(sluice|benthos)_test\.ya?ml$/.test(f)).map((f) => join(dir, f));
}

async function echo(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, CONFIG_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`echo takes one config file\n\n${USAGE}`);
  loadEnvFiles(values['env-file']);
  const [{ loadConfigFile }, { registry }, { scrubConfig }, { mergeResources }, { stringify }] = await Promise.all([
    import('./config/load.js'),
    import('./components/index.js'),
    import('./config/scrub.js'),
    import('./config/resources.js'),
    import('yaml'),
  ]);
  const loaded = loadConfigFile(positionals[0]!, { registry, set: values.set, chilled: true });
  const extras = (values.resources ?? []).map((f) => loadConfigFile(f, { registry, chilled: true, resourcesOnly: true }));
  await printProblems([...loaded.problems, ...extras.flatMap((e) => e.problems)]);
  if (!loaded.config || extras.some((e) => !e.config)) return 1;
  const merged = mergeResources(loaded as typeof loaded & { config: NonNullable<typeof loaded.config> }, extras);
  await printProblems(merged.problems);
  process.stdout.write(stringify(scrubConfig(merged.config, new Set([...loaded.secrets, ...extras.flatMap((e) => e.secrets)]))));
  return 0;
}

const KIND_OF: Record<string, Kind> = { inputs: 'input', processors: 'processor', outputs: 'output', 'rate-limits': 'rate_limit', caches: 'cache' };

async function list(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { format: { type: 'string', default: 'text' } });
  if (positionals.length === 1 && !KIND_OF[positionals[0]!]) {
    // `sluice list http_client`: one component's reference.
    const { componentsNamed, componentReference } = await import('./commands/reference.js');
    const found = componentsNamed(positionals[0]!);
    if (typeof found === 'string') throw new UsageError(found);
    process.stdout.write(found.map(componentReference).join('\n'));
    return 0;
  }
  for (const p of positionals) if (!KIND_OF[p]) throw new UsageError(`list takes inputs, processors, outputs, rate-limits, caches or one component's name, not ${JSON.stringify(p)}`);
  const kinds = (positionals.length > 0 ? positionals : Object.keys(KIND_OF)).map((p) => KIND_OF[p]!);
  const { components, registry } = await import('./components/index.js');
  switch (values.format) {
    case 'jsonschema': {
      const { configJsonSchema } = await import('./config/jsonschema.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(registry), null, 2)}\n`);
      return 0;
    }
    case 'json': {
      const out = Object.fromEntries(kinds.map((k) => [`${k}s`, components.filter((c) => c.kind === k).map((c) => c.name).sort()]));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    case 'text':
      for (const kind of kinds) {
        process.stdout.write(`${kind[0]!.toUpperCase()}${kind.slice(1).replace('_', ' ')}s:\n`);
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
