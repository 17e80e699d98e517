// Test definitions: the `tests:` list of a pipeline config (inline) or of a
// `<name>_sluice_test.yaml` file, in Redpanda Connect's unit-test format. They are read from the
// file's raw text: `${VAR}` in a test stays as written, because `environment` is for the config
// under test. Every problem is reported in one pass with file(line,col) and its path.
import { LineCounter, parseDocument } from 'yaml';
import { createAjv, describeAjvError, isObject, nodeAt, readConfigText } from '../../config/load.js';
import { formatPath, type ConfigPath, type Problem } from '../../config/problems.js';
import type { Schema } from '../../engine/component.js';
import { compileExpression, MappingSyntaxError } from '../../mapping/environment.js';
import { compileBloblangExpression } from '../../mapping/language.js';
import { parseInstant } from '../determinism.js';

/** One message of an input batch; at most one of the body fields is set (none: an empty body). */
export interface InputMessage {
  readonly content?: string;
  /** Any YAML value, serialised to compact JSON as the body. */
  readonly json_content?: unknown;
  /** A file whose bytes are the body, relative to the test file. */
  readonly file_content?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What one output message must satisfy; every condition set must hold. */
export interface Conditions {
  readonly content_equals?: string;
  readonly content_matches?: string;
  /** Each key's metadata value equals the one given; other keys are not checked. */
  readonly metadata_equals?: Readonly<Record<string, unknown>>;
  readonly json_equals?: unknown;
  readonly json_contains?: unknown;
  readonly file_equals?: string;
  readonly file_json_equals?: string;
  readonly file_json_contains?: string;
  /** A JSONata expression evaluated on the message; it must return true. */
  readonly jsonata?: string;
  /** A Bloblang query (Connect's condition) evaluated on the message; it must return true. */
  readonly bloblang?: string;
}

export const CONDITIONS = [
  'content_equals',
  'content_matches',
  'metadata_equals',
  'json_equals',
  'json_contains',
  'file_equals',
  'file_json_equals',
  'file_json_contains',
  'jsonata',
  'bloblang',
] as const satisfies readonly (keyof Conditions)[];

export interface TestCase {
  readonly name: string;
  /** Environment variables set while the target config is loaded and the test runs. */
  readonly environment?: Readonly<Record<string, string | number | boolean>>;
  /** `/pipeline/processors` (default), `/pipeline/processors/0`, a label, or `file.yaml#/pointer`. */
  readonly target_processors?: string;
  /** A .jsonata file (relative to the test file) run as a `mapping` processor instead. */
  readonly target_mapping?: string;
  /** Label or JSON Pointer -> processor config that replaces it. */
  readonly mocks?: Readonly<Record<string, unknown>>;
  /** Freezes `$now()` and `$millis()` at this RFC 3339 instant. */
  readonly now?: string;
  /** Makes `$uuid_v4()` return the same sequence on every run. */
  readonly uuid_seed?: string | number;
  readonly input_batch?: readonly InputMessage[];
  readonly input_batches?: readonly (readonly InputMessage[])[];
  /** Absent or []: the processors must produce nothing. */
  readonly output_batches?: readonly (readonly Conditions[])[];
}

/** A test case and where it was written. */
export interface TestDefinition {
  readonly case: TestCase;
  /** The file the test is written in; relative paths in the test resolve against its directory. */
  readonly file: string;
  /** `tests[i]`: the test's own path in its file. */
  readonly path: ConfigPath;
  /** The file position of a path inside the file (its key when `key`; else the nearest node that exists). */
  locate(path: ConfigPath, key?: boolean): { line: number; column: number };
}

export interface TestFile {
  readonly file: string;
  readonly tests: readonly TestDefinition[];
  /** Problems in the test definitions; tests are only run when there is none. */
  readonly problems: readonly Problem[];
}

const message: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    content: { type: 'string', description: 'The raw body.' },
    json_content: { description: 'Any value, serialised to JSON as the body.' },
    file_content: { type: 'string', description: 'A file whose content is the body, relative to the test file.' },
    metadata: { type: 'object', description: 'Metadata of the message.' },
  },
};

const conditions: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    content_equals: { type: 'string' },
    content_matches: { type: 'string', description: 'A regular expression the body must match (anywhere).' },
    metadata_equals: { type: 'object' },
    json_equals: { description: 'The body parsed as JSON equals this value (key order and formatting ignored).' },
    json_contains: { description: 'The body parsed as JSON holds at least this value.' },
    file_equals: { type: 'string' },
    file_json_equals: { type: 'string' },
    file_json_contains: { type: 'string' },
    jsonata: { type: 'string', description: 'A JSONata expression on the message that must return true.' },
    bloblang: { type: 'string', description: 'A Bloblang query on the message that must return true (as in Connect test files).' },
  },
};

/** The JSON Schema of one test case. */
export const testCaseSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string' },
    environment: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    target_processors: { type: 'string' },
    target_mapping: { type: 'string' },
    mocks: { type: 'object', additionalProperties: { type: 'object' }, description: 'Label or JSON Pointer -> the processor that replaces it.' },
    now: { type: 'string', description: 'Freezes $now() at this RFC 3339 instant.' },
    uuid_seed: { type: ['string', 'integer'], description: 'Makes $uuid_v4() deterministic.' },
    input_batch: { type: 'array', items: message },
    input_batches: { type: 'array', items: { type: 'array', items: message } },
    output_batches: { type: 'array', items: { type: 'array', items: conditions } },
  },
};

/** A `<name>_sluice_test.yaml` file holds tests and nothing else. */
const testFileSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['tests'],
  properties: { tests: { type: 'array', items: testCaseSchema } },
};

/** A config's inline tests: only the `tests` key is checked here, the rest is the config's own business. */
const inlineSchema: Schema = {
  type: 'object',
  properties: { tests: { type: 'array', items: testCaseSchema } },
};

const ajv = createAjv();
const validateTestFile = ajv.compile(testFileSchema);
const validateInline = ajv.compile(inlineSchema);

/** Whether a file name marks a test file rather than a config: `_sluice_test`, or Connect's `_benthos_test`. */
export const TEST_FILE = /_(sluice|benthos)_test\.ya?ml$/;

/**
 * Reads the tests of `file`: a test file (every key checked), or a config whose `tests` key is
 * read (when it has none, no tests and no problems). Never throws.
 */
export function readTestFile(file: string): TestFile {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    return { file, tests: [], problems: [problem(file, { line: 1, column: 1 }, [], `failed to read: ${(err as Error).message}`)] };
  }
  return parseTestText(text, file);
}

export function parseTestText(text: string, file: string): TestFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const pos = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const isTestFile = TEST_FILE.test(file);
  // A broken YAML file that is not a test file and shows no `tests:` key is none of our business (lint's).
  if (doc.errors.length > 0 && !isTestFile && !/^tests\s*:/m.test(text)) return { file, tests: [], problems: [] };
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => problem(file, pos(e.pos[0]), [], `YAML syntax error: ${e.message.split('\n')[0]}`));
    return { file, tests: [], problems };
  }
  const locate = (path: ConfigPath, key = false) => {
    const node = nodeAt(doc, path, key);
    return node?.range ? pos(node.range[0]) : { line: 1, column: 1 };
  };
  const data: unknown = doc.toJS() ?? {};
  if (!isTestFile && !(isObject(data) && 'tests' in data)) return { file, tests: [], problems: [] };

  const validate = isTestFile ? validateTestFile : validateInline;
  const problems: Problem[] = [];
  const malformed = new Set<unknown>();
  if (!validate(data)) {
    for (const error of validate.errors ?? []) {
      const { path, message: text, key } = describeAjvError(error);
      problems.push(problem(file, locate(path, key), path, text));
      if (path[0] === 'tests') malformed.add(path[1]);
    }
  }
  const cases = isObject(data) && Array.isArray(data.tests) ? (data.tests as unknown[]) : [];
  // Cases the schema rejected may not have the shape checkCase reads; the others are checked further.
  cases.forEach((c, i) => {
    if (malformed.has(i) || malformed.has(undefined)) return;
    for (const { path, message: text } of checkCase(c as TestCase, ['tests', i])) problems.push(problem(file, locate(path), path, text));
  });
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  const tests = cases.map((c, i): TestDefinition => ({ case: c as TestCase, file, path: ['tests', i], locate }));
  return { file, tests: problems.length === 0 ? tests : [], problems };
}

/** What the schema cannot say: exclusive fields, valid times, regexps and JSONata that compile. */
function checkCase(test: TestCase, at: ConfigPath): { path: ConfigPath; message: string }[] {
  const out: { path: ConfigPath; message: string }[] = [];
  const report = (path: ConfigPath, text: string) => out.push({ path: [...at, ...path], message: text });
  if (test.target_processors !== undefined && test.target_mapping !== undefined) {
    report(['target_mapping'], 'set target_processors or target_mapping, not both');
  }
  if (test.input_batch !== undefined && test.input_batches !== undefined) report(['input_batches'], 'set input_batch or input_batches, not both');
  if (test.input_batch === undefined && test.input_batches === undefined) report([], 'set input_batch (one batch) or input_batches (a list of batches)');
  if (test.now !== undefined && parseInstant(test.now) === undefined) {
    report(['now'], `invalid time ${JSON.stringify(test.now)}: expected RFC 3339 with a zone, such as 2025-01-01T00:00:00Z`);
  }
  const batches = test.input_batches ?? (test.input_batch ? [test.input_batch] : []);
  batches.forEach((batch, b) =>
    batch.forEach((m, i) => {
      const bodies = (['content', 'json_content', 'file_content'] as const).filter((k) => k in m);
      const path = test.input_batches ? ['input_batches', b, i] : ['input_batch', i];
      if (bodies.length > 1) report([...path, bodies[1]!], `set one of content, json_content or file_content, not ${bodies.join(' and ')}`);
    }),
  );
  (test.output_batches ?? []).forEach((batch, b) =>
    batch.forEach((c, i) => {
      const path = ['output_batches', b, i];
      if (c.content_matches !== undefined) {
        try {
          new RegExp(c.content_matches, 'u');
        } catch (err) {
          report([...path, 'content_matches'], `invalid regular expression: ${(err as Error).message}`);
        }
      }
      if (c.bloblang !== undefined) {
        try {
          compileBloblangExpression(c.bloblang);
        } catch (err) {
          report([...path, 'bloblang'], err instanceof MappingSyntaxError ? err.message : `invalid Bloblang: ${(err as Error).message}`);
        }
      }
      if (c.jsonata !== undefined) {
        try {
          compileExpression(c.jsonata);
        } catch (err) {
          report([...path, 'jsonata'], err instanceof MappingSyntaxError ? err.message : `invalid JSONata: ${(err as Error).message}`);
        }
      }
    }),
  );
  return out;
}

function problem(file: string, at: { line: number; column: number }, path: ConfigPath, text: string): Problem {
  return { file, line: at.line, column: at.column, path: formatPath(path), message: text, severity: 'error' };
}
