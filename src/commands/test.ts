// `sluice test [paths...]`: runs the unit tests written inline under a config's `tests:` key or in
// `<name>_sluice_test.yaml` files beside it, in Redpanda Connect's format. Prints PASS/FAIL per
// test with what differed, then `N passed, N failed`. Exit code 1 on any failure.
import { existsSync, statSync } from 'node:fs';
import { normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { registry as defaultRegistry } from '../components/index.js';
import { glob, GLOB, walk } from '../config/files.js';
import { loadConfigFile } from '../config/load.js';
import { resourceLists } from '../config/resources.js';
import type { ComponentNode } from '../config/root.js';
import type { Kind } from '../engine/component.js';
import { formatProblem } from '../config/problems.js';
import { createLogger } from '../engine/logger.js';
import type { Registry } from '../engine/registry.js';
import { Secrets } from '../engine/secrets.js';
import { processIO, type CommandIO, type Writable } from './io.js';
import type { Failure } from './test/conditions.js';
import { readTestFile, TEST_FILE, type TestDefinition } from './test/definitions.js';
import { runTest, type RunOptions } from './test/run.js';

const USAGE = `Usage: sluice test [--log LEVEL] [-r resources.yaml]... [path...]

Runs the tests under a config's "tests:" key and in <name>_sluice_test.yaml (or Redpanda
Connect's <name>_benthos_test.yaml) files.
A path is a file, a directory (searched recursively, as is dir/...) or a glob ('tests/**/*.yaml').
With no path, ./... is tested. Directories named fixtures (and node_modules, hidden ones) are
skipped unless named. --log prints the processors' logs at LEVEL to stderr. -r adds the
resources of a file (globs allowed) to every config tested, as \`run -r\` does.
`;

export interface TestCommandOptions {
  readonly registry?: Registry;
}

/** Runs every test found under `args`' paths; resolves the exit code (0: all passed). */
export async function testCommand(args: string[], io: CommandIO = processIO(), options: TestCommandOptions = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { log: { type: 'string' }, resources: { type: 'string', short: 'r', multiple: true }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (parsed.values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let logger: Logger;
  try {
    logger = parsed.values.log ? createLogger({ level: parsed.values.log, format: 'logfmt', add_timestamp: false, static_fields: {} }, new Secrets()) : pino({ level: 'silent' });
  } catch (err) {
    io.stderr.write(`--log: ${(err as Error).message}\n`);
    return 1;
  }
  const targets = parsed.positionals.length > 0 ? parsed.positionals : ['./...'];
  const { suites, problems } = discover(targets);
  for (const problem of problems) io.stderr.write(`${problem}\n`);
  const tally = { passed: 0, failed: 0 };
  const registry = options.registry ?? defaultRegistry;
  const resources: { [K in Kind]?: ComponentNode[] } = {};
  for (const file of (parsed.values.resources ?? []).flatMap((pattern) => (GLOB.test(pattern) ? glob(pattern) : [pattern]))) {
    const loaded = loadConfigFile(file, { registry, chilled: true, resourcesOnly: true });
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    for (const p of errors) io.stderr.write(`${formatProblem(p)}\n`);
    if (!loaded.config || errors.length > 0) return 1;
    for (const [kind, nodes] of Object.entries(resourceLists(loaded.config)) as [Kind, ComponentNode[]][]) (resources[kind] ??= []).push(...nodes);
  }
  const runOptions: RunOptions = { registry, logger, configs: new Map(), resources };
  for (const suite of suites) await runSuite(suite, runOptions, io.stdout, tally);
  if (tally.passed + tally.failed === 0) {
    io.stderr.write(`no tests found in ${targets.join(' ')}\n`);
    return 1;
  }
  io.stdout.write(`\n${tally.passed} passed, ${tally.failed} failed\n`);
  return tally.failed > 0 || problems.length > 0 ? 1 : 0;
}

/** A file to read tests from, and the config its targets point into by default. */
interface Suite {
  readonly testFile: string;
  readonly config: string | undefined;
}

async function runSuite(suite: Suite, options: RunOptions, out: Writable, tally: { passed: number; failed: number }) {
  const { tests, problems } = readTestFile(suite.testFile);
  if (problems.length > 0) {
    out.write(`FAIL ${suite.testFile}: invalid test definitions\n`);
    for (const p of problems) out.write(`  ${formatProblem(p)}\n`);
    tally.failed++;
    return;
  }
  for (const test of tests) {
    const failures = await runTest(test, suite.config, options);
    out.write(failures.length === 0 ? `PASS ${where(test, test.path)} ${test.case.name}\n` : formatFailures(test, failures));
    if (failures.length === 0) tally.passed++;
    else tally.failed++;
  }
}

/** A failed test: its FAIL line, then each failure at its place in the test file with its details. */
function formatFailures(test: TestDefinition, failures: readonly Failure[]): string {
  let text = `FAIL ${where(test, test.path)} ${test.case.name}\n`;
  for (const failure of failures) {
    text += failure.path ? `  ${where(test, failure.path)} ${failure.message}\n` : `  ${failure.message}\n`;
    for (const line of failure.details) text += `      ${line}\n`;
  }
  return text;
}

function where(test: TestDefinition, path: readonly (string | number)[]): string {
  const { line, column } = test.locate(path, typeof path[path.length - 1] === 'string');
  return `${test.file}(${line},${column})`;
}

/**
 * The test suites named by `targets`: each test file (with its sibling config), each config with
 * inline tests, and the test file beside a config named directly. Missing paths are problems.
 */
function discover(targets: readonly string[]): { suites: Suite[]; problems: string[] } {
  const problems: string[] = [];
  const files: string[] = [];
  for (const target of targets) {
    const found = expand(target);
    if (typeof found === 'string') problems.push(found);
    else files.push(...found.map((f) => normalize(f)));
  }
  const suites = new Map<string, Suite>();
  const add = (testFile: string, config: string | undefined) => {
    if (!suites.has(testFile)) suites.set(testFile, { testFile, config });
  };
  for (const file of files) {
    if (TEST_FILE.test(file)) {
      const base = file.replace(TEST_FILE, '');
      add(file, [`${base}.yaml`, `${base}.yml`].find((f) => existsSync(f)));
      continue;
    }
    add(file, file);
    for (const suffix of ['_sluice_test', '_benthos_test']) {
      for (const ext of ['.yaml', '.yml']) {
        const testFile = file.replace(/\.ya?ml$/, `${suffix}${ext}`);
        if (existsSync(testFile)) add(testFile, file);
      }
    }
  }
  return { suites: [...suites.values()], problems };
}

const YAML = /\.ya?ml$/;
/**
 * Directories discovery skips below a target: `fixtures` holds test inputs, some failing on
 * purpose (name one as the target to test it).
 */
const SKIPPED_DIRS = ['fixtures'];

/** The YAML files one target names, or a problem. */
function expand(target: string): string[] | string {
  if (GLOB.test(target)) {
    const files = glob(target, SKIPPED_DIRS).filter((f) => YAML.test(f));
    return files.length > 0 ? files : `${target}: no YAML file matches`;
  }
  const path = target.endsWith('/...') ? target.slice(0, -4) || '.' : target;
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return `${target}: no such file or directory`;
  }
  if (stats.isDirectory()) return walk(path, SKIPPED_DIRS).filter((f) => YAML.test(f));
  return YAML.test(path) ? [path] : `${target}: not a YAML file (.yaml or .yml)`;
}
