// text -> env interpolation -> YAML -> --set overrides -> validated config with defaults.
// Pure: reads the file and nothing else. Every problem is collected, none thrown.
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, LineCounter, parse as parseYaml, parseDocument, Scalar, type Document, type Node } from 'yaml';
import type { Kind, Schema } from '../engine/component.js';
import { didYouMean, type Registry } from '../engine/registry.js';
import { parseDuration } from './duration.js';
import { interpolateEnv } from './env.js';
import { formatPath, type ConfigPath, type Problem } from './problems.js';
import { rootSchema, type RootConfig } from './root.js';
import type { ResourceReference } from './resources.js';
import { serviceProblems, serviceWarnings } from './service.js';

export interface LoadOptions {
  readonly registry: Registry;
  /** Variables for `${VAR}` interpolation; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `path=value` overrides (value parsed as YAML), applied after interpolation and before validation. */
  readonly set?: readonly string[];
  /** Report unset variables as a warning instead of an error (`run --chilled`, `lint --skip-env-var-check`). */
  readonly chilled?: boolean;
  /**
   * Keep durable state (fields marked `x-state`: the buffer, input ledgers) in this folder instead
   * of where the config says: how a dry run (`run --output stdout`) leaves the real state alone.
   */
  readonly stateDir?: string;
  /** A resources file (`-r`): only `*_resources` keys are allowed. */
  readonly resourcesOnly?: boolean;
}

export interface LoadedConfig {
  readonly file: string;
  /** Directory relative paths in the config resolve against. */
  readonly baseDir: string;
  /** The validated config; present only when no error was found. */
  readonly config: RootConfig | undefined;
  /**
   * The config as far as validation got, defaults filled, even when it found errors: what lint
   * builds to find the problems only building finds (a JSONata syntax error) in the same pass.
   * Undefined when the text is not YAML.
   */
  readonly candidate?: unknown;
  readonly problems: readonly Problem[];
  /** Values of fields marked `x-secret`, to scrub from logs and `echo`. */
  readonly secrets: readonly string[];
  /** Where components name resources (`resource: x`, `rate_limit: x`), checked once every resources file is loaded. */
  readonly references: readonly ResourceReference[];
  /**
   * The file position of a config path (the nearest existing node), for problems found later.
   * `inner` is a position inside that node's string value (a JSONata error's line and column).
   */
  locate(path: ConfigPath, inner?: { line: number; column: number }): { line: number; column: number };
}

const RESERVED: Record<Kind, readonly string[]> = {
  input: ['label', 'processors'],
  processor: ['label'],
  output: ['label', 'processors'],
  rate_limit: ['label'],
  cache: ['label'],
};
const LABEL = /^[a-z0-9][a-z0-9_-]*$/;

/** The largest config file read: a config is kilobytes; past this it is not one (or `/dev/zero`). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * Reads at most MAX_CONFIG_BYTES of `file` (a device or pipe included) as UTF-8; throws past it
 * without reading further.
 */
export function readConfigText(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_CONFIG_BYTES) throw new Error(`the file is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MB, the most a config may be`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

export function loadConfigFile(file: string, options: LoadOptions): LoadedConfig {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    const problem: Problem = { file, line: 1, column: 1, path: '', message: `failed to read config: ${(err as Error).message}`, severity: 'error' };
    return { file, baseDir: dirname(resolve(file)), config: undefined, problems: [problem], secrets: [], references: [], locate: () => ({ line: 1, column: 1 }) };
  }
  return loadConfigText(text, file, options);
}

export function loadConfigText(text: string, file: string, options: LoadOptions): LoadedConfig {
  const problems: Problem[] = [];
  const report = (line: number, column: number, path: ConfigPath, message: string, severity: Problem['severity'] = 'error') =>
    problems.push({ file, line, column, path: formatPath(path), message, severity });

  let interpolated: string;
  try {
    const result = interpolateEnv(text, options.env ?? process.env);
    interpolated = result.text;
    if (result.missing.length > 0) {
      const message = `required environment variables were not set: [${[...new Set(result.missing)].join(' ')}]`;
      report(1, 1, [], message, options.chilled ? 'warning' : 'error');
    }
    for (const literal of result.literalDefaults ?? []) {
      const before = text.slice(0, literal.offset).split('\n');
      report(
        before.length,
        before.at(-1)!.length + 1,
        [],
        `${literal.reference}: its default is used as written; \${${literal.inner}} inside a default is not interpolated (as in Redpanda Connect)`,
        'warning',
      );
    }
  } catch (err) {
    // As in Connect, a failed decode stops the read: the text still holding `${...}` would only
    // produce misleading problems.
    for (const line of (err as Error).message.split('\n')) report(1, 1, [], line);
    return { file, baseDir: dirname(resolve(file)), config: undefined, problems, secrets: [], references: [], locate: () => ({ line: 1, column: 1 }) };
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(interpolated, { lineCounter, prettyErrors: false });
  const pos = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  for (const error of doc.errors) {
    const { line, column } = pos(error.pos[0]);
    report(line, column, [], `YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  for (const expression of options.set ?? []) {
    const error = applySet(doc, expression);
    if (error) report(1, 1, [], error);
  }

  const locateNode = (path: ConfigPath, key = false) => {
    const node = nodeAt(doc, path, key);
    return node?.range ? pos(node.range[0]) : { line: 1, column: 1 };
  };
  const locate = (path: ConfigPath, inner?: { line: number; column: number }) => {
    const node = nodeAt(doc, path, false);
    if (!node?.range) return { line: 1, column: 1 };
    if (!inner || !isScalar(node)) return pos(node.range[0]);
    // A block scalar's text starts on the line after its `|` indicator, at its indentation.
    const block = node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED;
    const start = pos(node.range[0]);
    if (!block) {
      // A quoted scalar's text starts after its quote, a plain one at its first character.
      const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
      const column = inner.line === 1 ? start.column + inner.column - (quoted ? 0 : 1) : inner.column;
      return { line: start.line + inner.line - 1, column };
    }
    // The block's lines lost its indentation: the first non-blank line of the file's text minus
    // that of the value (an indentation indicator such as `|2` keeps some spaces in the value).
    const body = interpolated.slice(lineCounter.lineStarts[start.line] ?? interpolated.length).split('\n');
    const leading = (lines: string[]) => /^ */.exec(lines.find((l) => l.trim() !== '') ?? '')![0].length;
    const indent = leading(body) - leading(String(node.value).split('\n'));
    return { line: start.line + inner.line, column: indent + inner.column };
  };
  const baseDir = dirname(resolve(file));
  if (doc.errors.length > 0) return { file, baseDir, config: undefined, problems, secrets: [], references: [], locate };

  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    // An unresolved alias or an alias bomb ("Excessive alias count").
    report(1, 1, [], `YAML error: ${(err as Error).message}`);
    return { file, baseDir, config: undefined, problems, secrets: [], references: [], locate };
  }
  const validator = new Validator(options.registry, options.stateDir, (path, message, key, severity) => {
    const { line, column } = locateNode(path, key);
    report(line, column, path, message, severity);
  });
  if (options.resourcesOnly && isObject(raw)) {
    for (const key of Object.keys(raw).filter((k) => !k.endsWith('_resources'))) {
      const { line, column } = locateNode([key], true);
      report(line, column, [key], 'a resources file holds only *_resources lists');
    }
  }
  const config = validator.validateRoot(raw);
  if (!problems.some((p) => p.severity === 'error') && config !== undefined) {
    const root = config as RootConfig;
    for (const p of serviceProblems(root)) report(locateNode(p.path).line, locateNode(p.path).column, p.path, p.message);
    for (const p of serviceWarnings(root)) report(locateNode(p.path).line, locateNode(p.path).column, p.path, p.message, 'warning');
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  const failed = problems.some((p) => p.severity === 'error');
  return { file, baseDir, config: failed ? undefined : (config as RootConfig), candidate: config, problems, secrets: validator.secrets, references: validator.references, locate };
}

const COMPILED = new WeakMap<Registry, { ajv: Ajv; compiled: Map<Schema, ValidateFunction> }>();

type Report = (path: ConfigPath, message: string, key: boolean, severity?: Problem['severity']) => void;

/** Validates a parsed config tree against the root and component schemas, filling defaults. */
class Validator {
  readonly secrets: string[] = [];
  readonly references: ResourceReference[] = [];
  #ajv: Ajv;
  #compiled: Map<Schema, ValidateFunction>;
  #labels = new Map<string, string>();

  constructor(
    readonly registry: Registry,
    readonly stateDir: string | undefined,
    readonly report: Report,
  ) {
    // Compiling every schema costs tens of milliseconds: do it once per registry.
    let cache = COMPILED.get(registry);
    if (!cache) COMPILED.set(registry, (cache = { ajv: createAjv(), compiled: new Map() }));
    this.#ajv = cache.ajv;
    this.#compiled = cache.compiled;
  }

  validateRoot(raw: unknown): unknown {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report([], 'expected a mapping with input, pipeline and output', false);
      return undefined;
    }
    return this.#validate(rootSchema, structuredClone(raw), []);
  }

  /** Validates `data` against `schema` (defaults applied in place), then descends into component slots. */
  #validate(schema: Schema, data: unknown, path: ConfigPath): unknown {
    const validate = this.#compile(schema);
    if (!validate(data)) for (const error of validate.errors ?? []) this.#reportAjv(error, path);
    return this.#walk(schema, data, path);
  }

  #walk(schema: Schema, data: unknown, path: ConfigPath): unknown {
    const slot = schema['x-component'];
    if (typeof slot === 'string') return data === undefined ? data : this.#component(slot as Kind, data, path);
    if (schema['x-secret'] === true && typeof data === 'string' && data !== '') this.secrets.push(data);
    if (typeof schema['x-resource'] === 'string' && typeof data === 'string' && data !== '') this.references.push({ kind: schema['x-resource'] as Kind, label: data, path });
    if (schema['x-state'] === true && typeof data === 'string' && this.stateDir !== undefined) return relocated(this.stateDir, path, data);
    const properties = schema.properties as Record<string, Schema> | undefined;
    if (properties && isObject(data)) {
      for (const [key, sub] of Object.entries(properties)) if (key in data) data[key] = this.#walk(sub, data[key], [...path, key]);
    }
    const items = schema.items as Schema | undefined;
    if (items && Array.isArray(data)) return data.map((item, i) => this.#walk(items, item, [...path, i]));
    return data;
  }

  /** Checks the envelope of one component (one registered key, label, processors) and validates its config. */
  #component(kind: Kind, node: unknown, path: ConfigPath): unknown {
    if (!isObject(node)) {
      this.report(path, `expected a ${kind} (a mapping with one ${kind} type, e.g. ${kind === 'output' ? 'stdout: {}' : kind === 'input' ? 'stdin: {}' : 'log: {}'})`, false);
      return node;
    }
    const reserved = RESERVED[kind];
    let candidates = Object.keys(node).filter((k) => !reserved.includes(k));
    candidates = this.#foldSiblingOutput(kind, node, candidates, path);
    const known = candidates.filter((k) => this.registry.get(kind, k));
    if (candidates.length === 0) {
      this.report(path, `an explicit ${kind} type must be specified`, false);
      return node;
    }
    if (known.length === 0) {
      for (const name of candidates) {
        this.report([...path, name], `unknown ${kind} "${name}"${didYouMean(name, this.registry.names(kind))}`, true);
      }
      return node;
    }
    if (known.length > 1) {
      this.report(path, `a ${kind} has exactly one type, found ${known.join(' and ')}`, false);
      return node;
    }
    const name = known[0]!;
    for (const other of candidates.filter((k) => k !== name)) {
      this.report([...path, other], `field ${other} is invalid when the component type is ${name} (${kind})`, true);
    }
    this.#checkLabel(node.label, path);
    if (typeof path[0] === 'string' && path[0].endsWith('_resources') && path.length === 2 && (typeof node.label !== 'string' || node.label === '')) {
      this.report(path, 'the label field for resources must be unique and not empty', false);
    }
    if (name === 'resource' && typeof node.resource === 'string') this.references.push({ kind, label: node.resource, path: [...path, 'resource'] });
    if ('processors' in node) node.processors = this.#processorList(node.processors, [...path, 'processors']);

    const spec = this.registry.get(kind, name)!;
    let config = node[name];
    if (config === null || config === undefined) config = 'default' in spec.schema ? structuredClone(spec.schema.default) : {};
    node[name] = this.#validate(spec.schema, config, [...path, name]);
    return node;
  }

  #processorList(value: unknown, path: ConfigPath): unknown {
    if (!Array.isArray(value)) {
      this.report(path, 'expected a list of processors', false);
      return value;
    }
    return value.map((item, i) => this.#component('processor', item, [...path, i]));
  }

  /**
   * The official OpenMeter Run:ai config writes `drop_on`'s child output as a sibling of `drop_on`
   * (`output: { drop_on: {...}, output: {...} }`). Redpanda Connect rejects that; we read it as
   * the wrapper's own `output` field so the published config runs unchanged, and warn.
   */
  #foldSiblingOutput(kind: Kind, node: Record<string, unknown>, candidates: string[], path: ConfigPath): string[] {
    if (kind !== 'output' || candidates.length !== 2 || !candidates.includes('output')) return candidates;
    const wrapper = candidates.find((c) => c !== 'output')!;
    const spec = this.registry.get('output', wrapper);
    const properties = spec?.schema.properties as Record<string, unknown> | undefined;
    const inner = node[wrapper];
    if (!properties?.output || (isObject(inner) && 'output' in inner) || !(isObject(inner) || inner == null)) return candidates;
    node[wrapper] = { ...(isObject(inner) ? inner : {}), output: node.output };
    delete node.output;
    this.report([...path, 'output'], `read as ${wrapper}.output; indent it under ${wrapper}`, true, 'warning');
    return [wrapper];
  }

  #checkLabel(label: unknown, path: ConfigPath): void {
    // "" is Connect's default (every generated full config has `label: ""`): no label.
    if (label === undefined || label === '') return;
    const at = [...path, 'label'];
    if (typeof label !== 'string' || !LABEL.test(label)) {
      this.report(at, 'label must be lower case letters, digits, _ and -, not starting with _ or -', false);
      return;
    }
    const previous = this.#labels.get(label);
    if (previous !== undefined) this.report(at, `label '${label}' collides with the label at ${previous}`, false);
    else this.#labels.set(label, formatPath(path));
  }

  #compile(schema: Schema): ValidateFunction {
    let validate = this.#compiled.get(schema);
    if (!validate) {
      // A root default is applied by #component (ajv only applies defaults to properties).
      const { default: _rootDefault, ...compilable } = schema;
      validate = this.#ajv.compile(compilable);
      this.#compiled.set(schema, validate);
    }
    return validate;
  }

  #reportAjv(error: ErrorObject, base: ConfigPath): void {
    const { path, message, key } = describeAjvError(error);
    this.report([...base, ...path], message, key);
  }
}

/** An ajv error as a path (relative to the validated value), a message, and whether it points at a key (unknown field). */
export function describeAjvError(error: ErrorObject): { path: ConfigPath; message: string; key: boolean } {
  const path = pointerToPath(error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(error.params.additionalProperty);
      const known = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      return { path: [...path, field], message: `unknown field${didYouMean(field, known)}`, key: true };
    }
    case 'required':
      return { path: [...path, String(error.params.missingProperty)], message: 'field is required', key: false };
    case 'type': {
      // `timeout: 5`: a duration needs its unit, and the message shows the value with one.
      if (String(error.parentSchema?.['format'] ?? '').startsWith('duration') && typeof error.data === 'number') {
        return { path, message: `expected a duration such as "${error.data}s", got number ${error.data}`, key: false };
      }
      // A secret field's value is never quoted, even when it has the wrong type.
      const secret = (error.parentSchema as { 'x-secret'?: boolean } | undefined)?.['x-secret'] === true;
      const got = secret ? (error.data === null ? 'null' : Array.isArray(error.data) ? 'array' : typeof error.data) : typeName(error.data);
      return { path, message: `expected ${String(error.params.type).split(',').join(' or ')}, got ${got}`, key: false };
    }
    case 'enum': {
      const allowed = error.params.allowedValues as unknown[];
      const hint = typeof error.data === 'string' ? didYouMean(error.data, allowed.map(String)) : '';
      return { path, message: `${JSON.stringify(error.data)} is not one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${hint}`, key: false };
    }
    case 'format':
      return { path, message: formatMessage(String(error.params.format), error.data), key: false };
    case 'pattern': {
      // A pattern that stands for a list of values says which (`x-expected`).
      const expected = (error.parentSchema as Record<string, unknown> | undefined)?.['x-expected'];
      return { path, message: typeof expected === 'string' ? `${JSON.stringify(error.data)} is not one of ${expected}` : error.message ?? 'invalid value', key: false };
    }
    default:
      return { path, message: error.message ?? error.keyword, key: false };
  }
}

/** The ajv instance every sluice schema is compiled with: defaults applied, nothing coerced or removed. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
  ajv.addKeyword({ keyword: 'x-component', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-interpolated', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-state', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-resource', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addFormat('duration', { type: 'string', validate: isDuration });
  ajv.addFormat('duration-or-empty', { type: 'string', validate: (s: string) => s === '' || isDuration(s) });
  ajv.addFormat('signed-duration', { type: 'string', validate: isSignedDuration });
  return ajv;
}

/** A duration that is not negative: no sluice duration (a timeout, a period, an offset) means anything below zero. */
function isDuration(text: string): boolean {
  try {
    return parseDuration(text) >= 0;
  } catch {
    return false;
  }
}

function isSignedDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

function formatMessage(format: string, data: unknown): string {
  if (format.endsWith('duration') || format.startsWith('duration')) {
    if (typeof data === 'string' && isSignedDuration(data)) return `must not be negative, got ${data}`;
    return `invalid duration ${JSON.stringify(data)} (expected e.g. 30s, 1m0s, 100ms, 1h2m3s)`;
  }
  return `must be a valid ${format}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) return `number ${value} (too large to represent)`;
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : `${typeof value} ${JSON.stringify(value)}`;
}

function pointerToPath(pointer: string): ConfigPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A durable-state path moved into `dir`: named after its config path, so two state files never collide. */
function relocated(dir: string, path: ConfigPath, file: string): string {
  return resolve(dir, `${formatPath(path).replace(/[^A-Za-z0-9_.-]+/g, '_')}-${basename(file)}`);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The YAML node at `path` (its key node when `key`), or the nearest ancestor that exists. */
export function nodeAt(doc: Document, path: ConfigPath, key: boolean): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    if (key && n === path.length && n > 0) {
      const parent = prefix.length === 1 ? doc.contents : doc.getIn(prefix.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === prefix[n - 1]);
        if (pair && isScalar(pair.key)) return pair.key;
      }
      continue;
    }
    const node = n === 0 ? doc.contents : doc.getIn(prefix, true);
    if (node && typeof node === 'object' && 'range' in node && (node as Node).range) return node as Node;
  }
  return undefined;
}

/** Applies one `--set path=value`; returns an error message or undefined. */
function applySet(doc: Document, expression: string): string | undefined {
  const eq = expression.indexOf('=');
  if (eq <= 0 || eq === expression.length - 1) return `invalid set expression '${expression}': expected foo=bar syntax`;
  const path = expression
    .slice(0, eq)
    .split('.')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let value: unknown;
  try {
    value = parseYaml(expression.slice(eq + 1));
  } catch (err) {
    return `invalid set expression '${expression}': ${(err as Error).message}`;
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  try {
    doc.setIn(path, value === null || typeof value !== 'object' ? new Scalar(value) : doc.createNode(value));
  } catch (err) {
    // The path runs through a scalar (`-s input.generate.count.x=1`).
    return `invalid set expression '${expression}': ${(err as Error).message}`;
  }
  return undefined;
}
