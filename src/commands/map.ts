// `sluice map`: the fastest loop for writing a mapping. Runs a JSONata or Bloblang mapping, exactly as the
// `mapping` processor would, on one JSON document or on JSON lines from stdin, and prints each
// result as JSON. `--watch` re-runs on every save of the mapping file.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Message, toJSONText } from '../engine/message.js';
import { DELETED, MappingSyntaxError, type CompiledExpression } from '../mapping/environment.js';
import { compileMappingText, type LanguageChoice } from '../mapping/language.js';
import { applyDeterminism, parseInstant } from './determinism.js';
import { processIO, type CommandIO } from './io.js';

const USAGE = `Usage: sluice map <mapping.jsonata | -e EXPRESSION> [options] [input.json | input.jsonl | -]

Runs a mapping on one JSON document (input.json), on JSON lines (input.jsonl, or stdin when the
input is - or omitted) and prints each result as one line of JSON.

Options:
  -e, --expression EXPR   the mapping itself instead of a file
  --lang LANG             jsonata, bloblang or auto (default: auto; Bloblang when the mapping's
                          statements are Bloblang assignments such as root = ...)
  --meta key=value        metadata for $meta("key") / $metadata("key"); repeatable
  --now TIME              freeze $now() and $millis() at an RFC 3339 time
  --uuid-seed SEED        make $uuid_v4() return the same ids on every run
  --pretty                indent the output
  -w, --watch             re-run whenever the mapping file (or input file) is saved
`;

/** The debounce of --watch: editors write a file in several steps. */
const WATCH_DEBOUNCE_MS = 100;

interface MapOptions {
  /** The mapping file, absent with -e. */
  readonly file?: string;
  readonly expression?: string;
  /** A JSON (one document) or .jsonl/.ndjson file; undefined: JSON lines from stdin. */
  readonly input?: string;
  readonly meta: Readonly<Record<string, string>>;
  readonly pretty: boolean;
  readonly watch: boolean;
  readonly now?: string;
  readonly uuidSeed?: string;
  readonly lang: LanguageChoice;
}

/** One input document and how to name it in an error (`input.json`, `stdin:3`). */
interface Document {
  readonly where: string;
  readonly text: string;
}

/** Runs `sluice map`; resolves the exit code: 1 on a usage error, a bad mapping or any document that failed. */
export async function mapCommand(args: string[], io: CommandIO = processIO()): Promise<number> {
  const options = parseOptions(args);
  if (typeof options === 'string') {
    if (options === '') io.stdout.write(USAGE);
    else io.stderr.write(`${options}\n\n${USAGE}`);
    return options === '' ? 0 : 1;
  }
  if (options.watch) return watchMapping(options, io);
  const mapping = await compileSource(options, io);
  if (!mapping) return 1;
  const restore = applyDeterminism({ now: options.now, uuidSeed: options.uuidSeed });
  try {
    const failed = await mapAll(mapping, documents(options, io), options, io);
    return failed > 0 ? 1 : 0;
  } catch (err) {
    io.stderr.write(`cannot read input: ${(err as Error).message}\n`);
    return 1;
  } finally {
    restore();
  }
}

/** The options, or a message for a usage error ('' for --help). */
function parseOptions(args: string[]): MapOptions | string {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        expression: { type: 'string', short: 'e' },
        lang: { type: 'string', default: 'auto' },
        meta: { type: 'string', multiple: true },
        now: { type: 'string' },
        'uuid-seed': { type: 'string' },
        pretty: { type: 'boolean', default: false },
        watch: { type: 'boolean', short: 'w', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return (err as Error).message;
  }
  const { values, positionals } = parsed;
  if (values.help) return '';
  const expression = values.expression;
  const [file, input, ...extra] = expression === undefined ? positionals : [undefined, ...positionals];
  if (expression === undefined && file === undefined) return 'map takes a mapping file or -e EXPRESSION';
  if (extra.length > 0) return `unexpected arguments: ${extra.join(' ')}`;
  if (values.watch && file === undefined) return '--watch needs a mapping file to watch, not -e';
  if (values.now !== undefined && parseInstant(values.now) === undefined) return `--now takes an RFC 3339 time with a zone, such as 2025-01-01T00:00:00Z, not ${JSON.stringify(values.now)}`;
  if (!['auto', 'jsonata', 'bloblang'].includes(values.lang)) return `--lang takes jsonata, bloblang or auto, not ${JSON.stringify(values.lang)}`;
  const meta: Record<string, string> = {};
  for (const pair of values.meta ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return `--meta takes key=value, not ${JSON.stringify(pair)}`;
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    file,
    expression,
    input: input === '-' ? undefined : input,
    meta,
    pretty: values.pretty,
    watch: values.watch,
    now: values.now,
    uuidSeed: values['uuid-seed'],
    lang: values.lang as LanguageChoice,
  };
}

/** Reads and compiles the mapping; prints why it cannot and resolves undefined. */
async function compileSource(options: MapOptions, io: CommandIO): Promise<CompiledExpression | undefined> {
  const name = options.file ?? 'expression';
  let source = options.expression;
  if (options.file !== undefined) {
    try {
      source = await readFile(options.file, 'utf8');
    } catch (err) {
      io.stderr.write(`cannot read mapping: ${(err as Error).message}\n`);
      return undefined;
    }
  }
  try {
    return compileMappingText(source!, options.lang);
  } catch (err) {
    if (!(err instanceof MappingSyntaxError)) throw err;
    io.stderr.write(`${name}(${err.line},${err.column}) ${err.message}\n${excerpt(source!, err.line, err.column)}`);
    return undefined;
  }
}

/** The offending line of a mapping with a caret under the column. */
export function excerpt(source: string, line: number, column: number): string {
  const text = source.split('\n')[line - 1];
  if (text === undefined) return '';
  const gutter = String(line).length;
  return `  ${line} | ${text}\n  ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, column - 1))}^\n`;
}

/** Maps every document in order; resolves how many failed. */
async function mapAll(mapping: CompiledExpression, docs: AsyncIterable<Document>, options: MapOptions, io: CommandIO): Promise<number> {
  let failed = 0;
  for await (const doc of docs) if (!(await mapOne(mapping, doc, options, io))) failed++;
  return failed;
}

/** Maps one document as the `mapping` processor would and prints the result; false when it failed. */
async function mapOne(mapping: CompiledExpression, doc: Document, options: MapOptions, io: CommandIO): Promise<boolean> {
  try {
    JSON.parse(doc.text);
  } catch (err) {
    io.stderr.write(`${doc.where}: not JSON: ${(err as Error).message}\n`);
    return false;
  }
  const message = Message.fromBytes(doc.text, options.meta);
  try {
    const result = await mapping.evaluate({ message, batch: [message], index: 0 });
    if (result === DELETED) {
      io.stderr.write(`${doc.where}: deleted by the mapping ($deleted())\n`);
      return true;
    }
    io.stdout.write(`${options.pretty ? JSON.stringify(result ?? null, null, 2) : toJSONText(result ?? null)}\n`);
    return true;
  } catch (err) {
    const text = (err as Error).message;
    // Evaluation errors name their position in the message; put it first, as file(line,col), like every sluice error.
    const at = /at line (\d+), column (\d+)/.exec(text);
    const prefix = at ? `${options.file ?? 'expression'}(${at[1]},${at[2]}) ` : '';
    io.stderr.write(`${prefix}${doc.where}: ${text}\n`);
    return false;
  }
}

/** The input documents: one file, a JSON lines file, or JSON lines from stdin (blank lines skipped). */
async function* documents(options: MapOptions, io: CommandIO): AsyncGenerator<Document> {
  const { input } = options;
  if (input !== undefined) {
    const text = await readFile(input, 'utf8');
    if (!/\.(jsonl|ndjson)$/.test(input)) {
      yield { where: input, text };
      return;
    }
    yield* lines(text.split('\n'), input);
    return;
  }
  if (io.stdin.isTTY) io.stderr.write('reading JSON lines from stdin; end with Ctrl-D\n');
  yield* lines(createInterface({ input: io.stdin, crlfDelay: Infinity }), 'stdin');
}

async function* lines(source: AsyncIterable<string> | Iterable<string>, name: string): AsyncGenerator<Document> {
  let n = 0;
  for await (const line of source) {
    n++;
    if (line.trim() !== '') yield { where: `${name}:${n}`, text: line };
  }
}

/**
 * Runs the mapping, then again after every save of the mapping file or the input file, until
 * io.signal (or SIGINT) aborts. Stdin is read once and replayed on each run.
 */
async function watchMapping(options: MapOptions, io: CommandIO): Promise<number> {
  const file = options.file!;
  const stdinDocs = options.input === undefined ? await collect(documents(options, io)) : undefined;
  const docs = () => (stdinDocs ? replay(stdinDocs) : documents(options, io));
  const run = async (reason: string) => {
    io.stderr.write(`--- ${reason} at ${new Date().toLocaleTimeString()}\n`);
    const mapping = await compileSource(options, io);
    if (!mapping) return;
    const restore = applyDeterminism({ now: options.now, uuidSeed: options.uuidSeed });
    try {
      await mapAll(mapping, docs(), options, io);
    } catch (err) {
      io.stderr.write(`${(err as Error).message}\n`);
    } finally {
      restore();
    }
  };
  const { signal, dispose } = stopSignal(io);
  const rerun = serialised(run);
  await rerun(`mapping ${file}`);
  const watchers = [file, ...(options.input ? [options.input] : [])].map((path) =>
    onSave(path, debounce(() => void rerun(`${path} changed`), WATCH_DEBOUNCE_MS)),
  );
  io.stderr.write(`watching ${file}${options.input ? ` and ${options.input}` : ''}; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  for (const w of watchers) w.close();
  dispose();
  return 0;
}

/**
 * Calls `onChange` when `path` is written. The directory is watched, not the file: editors that
 * save by writing a new file and renaming it over the old one would end a watch on the file.
 */
function onSave(path: string, onChange: () => void): FSWatcher {
  const name = basename(path);
  return watch(dirname(path), (_event, changed) => {
    if (changed === null || changed === name) onChange();
  });
}

function debounce(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** Runs `fn` one call at a time; a call made during a run is folded into one more run after it. */
function serialised(fn: (reason: string) => Promise<void>): (reason: string) => Promise<void> {
  let running: Promise<void> | undefined;
  let pending: string | undefined;
  const next = async (reason: string): Promise<void> => {
    if (running) {
      pending = reason;
      return running;
    }
    running = fn(reason).finally(() => {
      running = undefined;
      if (pending !== undefined) {
        const again = pending;
        pending = undefined;
        void next(again);
      }
    });
    return running;
  };
  return next;
}

/** io.signal, or one that SIGINT/SIGTERM abort (the CLI's case). */
function stopSignal(io: CommandIO): { signal: AbortSignal; dispose(): void } {
  if (io.signal) return { signal: io.signal, dispose: () => {} };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* replay<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}
