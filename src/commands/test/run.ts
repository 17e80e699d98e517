// Runs one test case: sets its environment, freezes time and ids, builds the processors it
// targets from the config (with mocks swapped in) or its mapping file, feeds its input batches
// through them and checks what comes out. Only processors run: inputs and outputs never do.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfigFile, loadConfigText, type LoadedConfig } from '../../config/load.js';
import { formatPath, formatProblem, type ConfigPath, type Problem } from '../../config/problems.js';
import { resourceLists } from '../../config/resources.js';
import type { ComponentNode, RootConfig } from '../../config/root.js';
import { PipelineBuilder } from '../../engine/build.js';
import type { Kind, Processor } from '../../engine/component.js';
import { Message } from '../../engine/message.js';
import { Metrics } from '../../engine/metrics.js';
import { runProcessors } from '../../engine/processors.js';
import type { Registry } from '../../engine/registry.js';
import { Secrets } from '../../engine/secrets.js';
import { applyDeterminism } from '../determinism.js';
import { checkOutput, type Failure } from './conditions.js';
import { isObject } from '../../config/load.js';
import type { InputMessage, TestDefinition } from './definitions.js';

export interface RunOptions {
  readonly registry: Registry;
  /** Where the processors under test log (silent unless `--log`). */
  readonly logger: Logger;
  /**
   * Configs already loaded in this run, by file and test environment: validating a config builds
   * every component schema, which would otherwise dominate a test's time.
   */
  readonly configs?: Map<string, LoadedConfig>;
  /** Resources from `-r` files, added to every config's own (after them). */
  readonly resources?: { readonly [K in Kind]?: readonly ComponentNode[] };
}

const DEFAULT_TARGET = '/pipeline/processors';
const LABEL = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Runs `test`; `config` is the file a target without `file.yaml#` points into (the test's own
 * file for inline tests, the sibling `<name>.yaml` of a test file, or undefined when there is
 * none). Resolves the failures found, [] when the test passed. Never throws.
 */
export async function runTest(test: TestDefinition, config: string | undefined, options: RunOptions): Promise<Failure[]> {
  const restoreEnv = applyEnvironment(test.case.environment);
  let restoreHooks = () => {};
  try {
    restoreHooks = applyDeterminism({ now: test.case.now, uuidSeed: test.case.uuid_seed });
    const target = buildTarget(test, config, options);
    if ('failures' in target) return target.failures;
    try {
      const failures = await exercise(test, target.processors);
      // Unset variables and other warnings are harmless until a test fails; then they may be why.
      return failures.length > 0 ? [...failures, ...target.warnings.map((p) => note(`note: ${formatProblem(p)}`))] : [];
    } finally {
      await target.close();
    }
  } catch (err) {
    return [note(`the test could not run: ${(err as Error).message}`)];
  } finally {
    restoreHooks();
    restoreEnv();
  }
}

/** Feeds each input batch through the processors on its own, as the pipeline would, and checks the result. */
async function exercise(test: TestDefinition, processors: readonly Processor[]): Promise<Failure[]> {
  const inputs = readInputs(test);
  if ('failures' in inputs) return inputs.failures;
  const output: Message[][] = [];
  for (const [b, batch] of inputs.batches.entries()) {
    try {
      output.push(...(await runProcessors(processors, [batch])));
    } catch (err) {
      const path = test.case.input_batches ? [...test.path, 'input_batches', b] : [...test.path, 'input_batch'];
      return [{ path, message: `the processors failed on input batch ${b}: ${(err as Error).message}`, details: [] }];
    }
  }
  return checkOutput(test.case.output_batches ?? [], output, test.path, dirname(test.file));
}

interface BuiltTarget {
  readonly processors: Processor[];
  readonly warnings: readonly Problem[];
  close(): Promise<void>;
}

function buildTarget(test: TestDefinition, config: string | undefined, options: RunOptions): BuiltTarget | { failures: Failure[] } {
  if (test.case.target_mapping !== undefined) return buildMapping(test, options);
  const target = parseTarget(test, config);
  if ('failure' in target) return { failures: [target.failure] };
  const loaded = loadConfig(target.file, test, options);
  const errors = loaded.problems.filter((p) => p.severity === 'error');
  if (!loaded.config || errors.length > 0) return { failures: errors.map((p) => note(formatProblem(p))) };
  // A copy: mocks are swapped into it, and the cached config serves the next test.
  const root = structuredClone(loaded.config) as unknown as Record<string, unknown>;
  const mockFailures = applyMocks(root, test, target.file, options.registry);
  if (mockFailures.length > 0) return { failures: mockFailures };
  const selected = select(root, target.selector, options.registry);
  if ('error' in selected) {
    return { failures: [{ path: [...test.path, 'target_processors'], message: `${selected.error} in ${target.file}`, details: [] }] };
  }
  const builder = builderFor(loaded.baseDir, options);
  // The config's resources, for `resource:` processors (each test builds its own, as in Connect).
  const own = resourceLists(root as unknown as RootConfig);
  for (const [kind, nodes] of Object.entries(options.resources ?? {}) as [Kind, ComponentNode[]][]) own[kind] = [...(own[kind] ?? []), ...nodes];
  builder.resources(own);
  let processors = builder.processors(selected.nodes, selected.path);
  if (selected.index !== undefined) processors = [processors[selected.index]!];
  if (builder.problems.some((p) => p.severity !== 'note')) {
    const failures = builder.problems.filter((p) => p.severity !== 'note').map((p) => {
      const { line, column } = loaded.locate(p.path, p.inner);
      return note(formatProblem({ file: target.file, line, column, path: formatPath(p.path), message: p.message, severity: 'error' }));
    });
    return { failures };
  }
  return { processors, warnings: loaded.problems, close: () => builder.closeProcessors() };
}

/** The target config loaded with the test's environment in effect (it is already set in process.env). */
function loadConfig(file: string, test: TestDefinition, options: RunOptions): LoadedConfig {
  const key = `${file}\0${JSON.stringify(test.case.environment ?? {})}`;
  let loaded = options.configs?.get(key);
  if (!loaded) {
    loaded = loadConfigFile(file, { registry: options.registry, chilled: true });
    options.configs?.set(key, loaded);
  }
  return loaded;
}

/** A `target_mapping` file run as a `mapping` processor; a syntax error points into the file. */
function buildMapping(test: TestDefinition, options: RunOptions): BuiltTarget | { failures: Failure[] } {
  const file = near(test.file, test.case.target_mapping!);
  // Relative to the working directory, as the test file's own path is, so errors name the file as the user sees it.
  const builder = builderFor(process.cwd(), options);
  const processors = builder.processors([{ mapping: { file } }], ['target_mapping']);
  if (builder.problems.some((p) => p.severity !== 'note')) {
    const failures = builder.problems.filter((p) => p.severity !== 'note').map((p): Failure => {
      if (p.inner) return note(`${file}(${p.inner.line},${p.inner.column}) ${p.message}`);
      // A syntax error already located in the file: `file(line,col): ...`.
      if (p.message.startsWith(`${file}(`)) return note(p.message);
      return { path: [...test.path, 'target_mapping'], message: p.message, details: [] };
    });
    return { failures };
  }
  return { processors, warnings: [], close: () => builder.closeProcessors() };
}

function builderFor(baseDir: string, options: RunOptions): PipelineBuilder {
  return new PipelineBuilder({
    registry: options.registry,
    logger: options.logger,
    metrics: new Metrics(),
    secrets: new Secrets(),
    baseDir,
    strict: false,
  });
}

/** `file.yaml#/pointer`, `/pointer` or `label` -> the config file and what to select in it. */
function parseTarget(test: TestDefinition, config: string | undefined): { file: string; selector: string } | { failure: Failure } {
  const text = test.case.target_processors ?? DEFAULT_TARGET;
  const hash = text.indexOf('#');
  const file = hash === -1 ? config : near(test.file, text.slice(0, hash));
  const selector = (hash === -1 ? text : text.slice(hash + 1)) || DEFAULT_TARGET;
  const at = [...test.path, 'target_processors'];
  if (file === undefined) {
    const message = `no config to test: ${siblingName(test.file)} does not exist; name one with target_processors: 'file.yaml#/pipeline/processors', or test a mapping file with target_mapping`;
    return { failure: { path: test.case.target_processors === undefined ? test.path : at, message, details: [] } };
  }
  if (!selector.startsWith('/') && !LABEL.test(selector)) {
    const message = `${JSON.stringify(text)} is not a JSON Pointer (/pipeline/processors/0), a processor label, or file.yaml#/pointer`;
    return { failure: { path: at, message, details: [] } };
  }
  return { file, selector };
}

interface Selection {
  /** The processor list to build. */
  readonly nodes: ComponentNode[];
  /** Its config path, so build errors point at the right place. */
  readonly path: ConfigPath;
  /** When one processor was selected: its index in `nodes`. */
  readonly index?: number;
}

/** The processors a JSON Pointer or label selects in a validated config. */
function select(root: Record<string, unknown>, selector: string, registry: Registry): Selection | { error: string } {
  const path = selector.startsWith('/') ? parsePointer(selector) : findLabel(root, selector, registry);
  if (path === undefined) {
    const labels = processorNodes(root, registry).flatMap(({ node }) => (typeof node.label === 'string' ? [node.label] : []));
    return { error: `no processor is labelled ${JSON.stringify(selector)}${labels.length ? ` (labels: ${labels.join(', ')})` : ''}` };
  }
  const value = getAt(root, path);
  if (Array.isArray(value) && value.every((n) => isProcessor(n, registry))) return { nodes: value as ComponentNode[], path };
  const parent = getAt(root, path.slice(0, -1));
  const index = path[path.length - 1];
  if (isProcessor(value, registry) && Array.isArray(parent) && typeof index === 'number') {
    return { nodes: parent as ComponentNode[], path: path.slice(0, -1), index };
  }
  return { error: value === undefined ? `${selector} matches nothing` : `${selector} is not a processor or a list of processors` };
}

/** Replaces each mocked processor (by label or JSON Pointer) with its mock, validated like any processor. */
function applyMocks(root: Record<string, unknown>, test: TestDefinition, file: string, registry: Registry): Failure[] {
  const failures: Failure[] = [];
  for (const [key, mock] of Object.entries(test.case.mocks ?? {})) {
    const at = [...test.path, 'mocks', key];
    const validated = validateProcessor(mock, registry);
    if ('problems' in validated) {
      for (const p of validated.problems) failures.push({ path: at, message: `invalid mock: ${p}`, details: [] });
      continue;
    }
    const path = key.startsWith('/') ? parsePointer(key) : findLabel(root, key, registry);
    // JSON Pointer's append form (`/pipeline/processors/-`, as Connect's own mock tests use): the
    // mock is added at the end of that processor list.
    if (path !== undefined && path[path.length - 1] === '-') {
      const list = getAt(root, path.slice(0, -1));
      if (Array.isArray(list) && list.every((n) => isProcessor(n, registry))) {
        list.push(validated.node);
        continue;
      }
    }
    if (path === undefined || !isProcessor(getAt(root, path), registry)) {
      failures.push({ path: at, message: `mock target ${JSON.stringify(key)} matches no processor in ${file}`, details: [] });
      continue;
    }
    setAt(root, path, validated.node);
  }
  return failures;
}

/** A processor config checked against its schema with defaults filled, exactly as in a pipeline. */
function validateProcessor(node: unknown, registry: Registry): { node: ComponentNode } | { problems: string[] } {
  const prefix = 'pipeline.processors[0]';
  const loaded = loadConfigText(JSON.stringify({ pipeline: { processors: [node] } }), 'mock', { registry, chilled: true });
  const errors = loaded.problems.filter((p) => p.severity === 'error');
  if (!loaded.config || errors.length > 0) {
    return { problems: errors.map((p) => (p.path.startsWith(prefix) && p.path !== prefix ? `${p.path.slice(prefix.length).replace(/^\./, '')}: ` : '') + p.message) };
  }
  return { node: loaded.config.pipeline.processors[0]! };
}

function readInputs(test: TestDefinition): { batches: Message[][] } | { failures: Failure[] } {
  const { input_batch, input_batches } = test.case;
  const batches = input_batches ?? [input_batch ?? []];
  const failures: Failure[] = [];
  const out = batches.map((batch, b) =>
    batch.map((m, i) => {
      try {
        return toMessage(m, test.file);
      } catch (err) {
        const path = input_batches ? [...test.path, 'input_batches', b, i] : [...test.path, 'input_batch', i];
        failures.push({ path: [...path, 'file_content'], message: (err as Error).message, details: [] });
        return Message.fromBytes('');
      }
    }),
  );
  return failures.length > 0 ? { failures } : { batches: out };
}

function toMessage(m: InputMessage, testFile: string): Message {
  const metadata = { ...(m.metadata ?? {}) };
  if ('json_content' in m) return Message.fromBytes(JSON.stringify(m.json_content ?? null), metadata);
  if (m.file_content !== undefined) {
    const file = near(testFile, m.file_content);
    try {
      return Message.fromBytes(readFileSync(file), metadata);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return Message.fromBytes(m.content ?? '', metadata);
}

/** Sets the test's variables in process.env (so `${VAR}` and `$env()` see them); returns the restore function. */
function applyEnvironment(environment: TestDefinition['case']['environment']): () => void {
  if (!environment) return () => {};
  const previous = Object.keys(environment).map((k) => [k, process.env[k]] as const);
  for (const [k, v] of Object.entries(environment)) process.env[k] = String(v);
  return () => {
    for (const [k, v] of previous) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

function isProcessor(node: unknown, registry: Registry): node is ComponentNode {
  return isObject(node) && Object.keys(node).some((k) => k !== 'label' && registry.get('processor', k) !== undefined);
}

/** Every processor node in the config (nested ones included), with its path; `tests` is skipped. */
function processorNodes(root: unknown, registry: Registry): { node: ComponentNode; path: ConfigPath }[] {
  const out: { node: ComponentNode; path: ConfigPath }[] = [];
  const walk = (value: unknown, path: ConfigPath): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (isObject(value)) {
      if (Array.isArray(getAt(root, path.slice(0, -1))) && isProcessor(value, registry)) out.push({ node: value, path });
      for (const [k, v] of Object.entries(value)) if (!(path.length === 0 && k === 'tests')) walk(v, [...path, k]);
    }
  };
  walk(root, []);
  return out;
}

function findLabel(root: unknown, label: string, registry: Registry): ConfigPath | undefined {
  return processorNodes(root, registry).find(({ node }) => node.label === label)?.path;
}

/** RFC 6901: `/pipeline/processors/0` -> ['pipeline', 'processors', 0]. */
function parsePointer(pointer: string): ConfigPath {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function getAt(root: unknown, path: ConfigPath): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function setAt(root: unknown, path: ConfigPath, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
}

/** A path written in a test file, relative to that file's directory. */
function near(testFile: string, path: string): string {
  return isAbsolute(path) ? path : join(dirname(testFile), path);
}

/** `foo.yaml` for `foo_sluice_test.yaml` (or Connect's `foo_benthos_test.yaml`). */
export function siblingName(testFile: string): string {
  return testFile.replace(/_(sluice|benthos)_test(\.ya?ml)$/, '$2');
}

function note(message: string): Failure {
  return { message, details: [] };
}
