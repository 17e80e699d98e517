// Checks the batches a test's processors produced against its `output_batches`. Every failed
// condition is reported, each with what was expected, what was received and where it differs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigPath } from '../../config/problems.js';
import { metadataString, type Message } from '../../engine/message.js';
import { bodyOf, compileExpression } from '../../mapping/environment.js';
import { compileBloblangExpression } from '../../mapping/language.js';
import { CONDITIONS, type Conditions } from './definitions.js';
import { jsonContains, jsonDifferences, jsonEqual, preview, shorten } from './diff.js';

/** One thing a test found wrong. */
export interface Failure {
  /** The place in the test file this is about (a condition, `output_batches`); absent: the test as a whole. */
  readonly path?: ConfigPath;
  readonly message: string;
  /** Indented lines under the message: expected, received, differences. */
  readonly details: readonly string[];
}

interface CheckContext {
  readonly message: Message;
  readonly batch: readonly Message[];
  readonly index: number;
  /** The test file's directory: `file_*` paths resolve against it. */
  readonly baseDir: string;
}

/** A failed check's detail lines, or undefined when it holds. */
type Check = (expected: any, context: CheckContext) => Promise<string[] | undefined> | string[] | undefined;

/** Compares produced batches with the expected ones: counts first, then every condition of every message. */
export async function checkOutput(
  expected: readonly (readonly Conditions[])[],
  received: readonly (readonly Message[])[],
  at: ConfigPath,
  baseDir: string,
): Promise<Failure[]> {
  if (received.length !== expected.length) {
    const message = `expected ${expected.length} output batch${expected.length === 1 ? '' : 'es'}, received ${received.length}`;
    return [{ path: [...at, 'output_batches'], message, details: describeBatches(received) }];
  }
  const failures: Failure[] = [];
  for (let b = 0; b < expected.length; b++) {
    const want = expected[b]!;
    const got = received[b]!;
    if (want.length !== got.length) {
      const message = `batch ${b}: expected ${want.length} message${want.length === 1 ? '' : 's'}, received ${got.length}`;
      failures.push({ path: [...at, 'output_batches', b], message, details: describeBatches([got], b) });
      continue;
    }
    for (let i = 0; i < want.length; i++) {
      const context = { message: got[i]!, batch: got, index: i, baseDir };
      failures.push(...(await checkMessage(want[i]!, context, [...at, 'output_batches', b, i], `batch ${b} message ${i}`)));
    }
  }
  return failures;
}

async function checkMessage(conditions: Conditions, context: CheckContext, at: ConfigPath, where: string): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const name of CONDITIONS) {
    if (!(name in conditions)) continue;
    const details = await CHECKS[name](conditions[name], context);
    if (!details) continue;
    const error = context.message.error;
    if (error) details.push(`note: a processor flagged this message as failed: ${error.message}`);
    failures.push({ path: [...at, name], message: `${where}: ${name} failed`, details });
  }
  return failures;
}

const CHECKS: Record<(typeof CONDITIONS)[number], Check> = {
  content_equals: (expected: string, { message }) => {
    const text = message.text();
    return text === expected ? undefined : textMismatch(expected, text);
  },
  content_matches: (pattern: string, { message }) => {
    const text = message.text();
    return new RegExp(pattern, 'u').test(text) ? undefined : [`pattern:  ${pattern}`, `received: ${showText(text)}`];
  },
  metadata_equals: (expected: Record<string, unknown>, { message }) => {
    const lines: string[] = [];
    for (const [key, want] of Object.entries(expected)) {
      const got = message.metadata[key];
      if (got === undefined) lines.push(`${key}: missing, expected ${preview(want)}`);
      else if (!metadataEqual(want, got)) lines.push(`${key}: expected ${preview(want)}, received ${preview(got)}`);
    }
    return lines.length === 0 ? undefined : [...lines, `received metadata: ${preview(message.metadata, 1000)}`];
  },
  json_equals: (expected: unknown, { message }) => compareJSON(expected, message, false),
  json_contains: (expected: unknown, { message }) => compareJSON(expected, message, true),
  file_equals: (file: string, { message, baseDir }) => {
    const read = readText(baseDir, file);
    if ('error' in read) return [read.error];
    const text = message.text();
    return text === read.text ? undefined : [`expected: the content of ${file}`, ...textMismatch(read.text, text)];
  },
  file_json_equals: (file: string, context) => compareFileJSON(file, context, false),
  file_json_contains: (file: string, context) => compareFileJSON(file, context, true),
  jsonata: async (source: string, { message, batch, index }) => {
    try {
      const result = await compileExpression(source).evaluate({ message, batch, index }, bodyOf(message));
      return result === true ? undefined : [`returned ${preview(result)}, want true`, `received: ${preview(bodyOf(message), 1000)}`];
    } catch (err) {
      return [`failed: ${(err as Error).message}`];
    }
  },
  bloblang: async (source: string, { message, batch, index }) => {
    try {
      const result = await compileBloblangExpression(source).evaluate({ message, batch, index });
      return result === true ? undefined : [`returned ${preview(result)}, want true`, `received: ${preview(bodyOf(message), 1000)}`];
    } catch (err) {
      return [`failed: ${(err as Error).message}`];
    }
  },
};

/** Expected and received text; when both are JSON, also where they differ. */
function textMismatch(expected: string, received: string): string[] {
  const lines = [`expected: ${showText(expected)}`, `received: ${showText(received)}`];
  try {
    const differences = jsonDifferences(JSON.parse(expected), JSON.parse(received));
    return differences.length === 0 ? [...lines, 'the JSON is equal: only formatting or key order differ (json_equals ignores them)'] : [...lines, ...differences];
  } catch {
    return lines;
  }
}

/** Text as it is when that is unambiguous on one line, else as a JSON string (escapes and quotes shown). */
function showText(text: string): string {
  return text !== '' && text === text.trim() && !/[\x00-\x1f]/.test(text) ? text : JSON.stringify(text);
}

function compareJSON(expected: unknown, message: Message, contains: boolean): string[] | undefined {
  let received: unknown;
  try {
    received = message.json();
  } catch {
    return [`received content is not JSON: ${JSON.stringify(message.text())}`];
  }
  if (contains ? jsonContains(expected, received) : jsonEqual(expected, received)) return undefined;
  const lines = jsonDifferences(expected, received, contains);
  // The whole received value, unshortened, so a correct result can be pasted into the test as is.
  return [...lines, `received: ${JSON.stringify(received)}`];
}

function compareFileJSON(file: string, context: CheckContext, contains: boolean): string[] | undefined {
  const read = readText(context.baseDir, file);
  if ('error' in read) return [read.error];
  let expected: unknown;
  try {
    expected = JSON.parse(read.text);
  } catch (err) {
    return [`${file} is not JSON: ${(err as Error).message}`];
  }
  const result = compareJSON(expected, context.message, contains);
  return result && [`expected: the JSON in ${file}`, ...result];
}

function readText(baseDir: string, file: string): { text: string } | { error: string } {
  try {
    return { text: readFileSync(resolve(baseDir, file), 'utf8') };
  } catch (err) {
    return { error: `cannot read ${file}: ${(err as Error).message}` };
  }
}

/** Metadata compares by value, and a scalar also by its text: Run:ai metadata are strings, YAML makes `30` a number. */
function metadataEqual(want: unknown, got: unknown): boolean {
  if (jsonEqual(want, got)) return true;
  const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  return scalar(want) && scalar(got) && metadataString(want) === metadataString(got);
}

/** The received messages, one line each, for count mismatches. */
function describeBatches(batches: readonly (readonly Message[])[], first = 0): string[] {
  const lines: string[] = [];
  batches.forEach((batch, b) =>
    batch.forEach((m, i) => {
      const flagged = m.error ? ` (flagged as failed: ${m.error.message})` : '';
      lines.push(`received batch ${first + b} message ${i}: ${shorten(m.text(), 300)}${flagged}`);
    }),
  );
  return lines;
}
