// The JSONata environment every sluice expression runs in: mappings, `generate`, `${! }`
// interpolations and batching checks. It stands in for Bloblang, so its functions carry
// Bloblang's names ($meta, $uuid_v4, $parse_duration, ...) and semantics.
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import jsonata from 'jsonata';
import { parseDuration } from '../config/duration.js';
import { Message, metadataString } from '../engine/message.js';

/** What an expression can see besides its input document. */
export interface MappingContext {
  /** The message being mapped (metadata, error flag, raw content). */
  readonly message: Message;
  /** The batch it belongs to, for `$batch_index()` / `$batch_size()`. */
  readonly batch: readonly Message[];
  readonly index: number;
}

/** Time and randomness, replaceable so tests can produce stable golden output. */
export interface Hooks {
  now(): Date;
  uuidV4(): string;
}
const realHooks: Hooks = { now: () => new Date(), uuidV4: randomUUID };
let hooks: Hooks = realHooks;

/** Replaces `$now()`/`$millis()`/`$uuid_v4()` sources for every expression (sluice test). Returns a restore function. */
export function useHooks(replacement: Hooks): () => void {
  const previous = hooks;
  hooks = replacement;
  return () => {
    hooks = previous;
  };
}

/** Returned by `$deleted()`: a mapping whose result is this drops (and acks) the message. */
export const DELETED: Readonly<Record<string, never>> = Object.freeze({});

const EMPTY_CONTEXT: MappingContext = { message: Message.fromJSON(null), batch: [], index: 0 };
const CONTEXT_KEY = '__sluice_context';

/** A syntax error in an expression, located in the expression's own text. */
export class MappingSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'MappingSyntaxError';
  }
}

/** An expression compiled once (at build time) and evaluated per message. */
export interface CompiledExpression {
  readonly source: string;
  /**
   * Evaluates against `input` (by default the message body, parsed as JSON when it is JSON, else
   * its text). Resolves JSONata's result; `undefined` means "nothing". Rejects with an Error
   * whose message names the JSONata error code and position.
   */
  evaluate(context?: MappingContext, input?: unknown): Promise<unknown>;
}

/** Compiles a JSONata expression with sluice's functions bound. Throws MappingSyntaxError. */
export function compileExpression(source: string): CompiledExpression {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source);
  } catch (err) {
    throw syntaxError(source, err);
  }
  for (const [name, [implementation, signature]] of Object.entries(FUNCTIONS)) {
    expression.registerFunction(name, implementation, signature);
  }
  return {
    source,
    async evaluate(context = EMPTY_CONTEXT, input = bodyOf(context.message)) {
      try {
        return await expression.evaluate(input, bindingsFor(context));
      } catch (err) {
        throw evaluationError(source, err);
      }
    },
  };
}

function bindingsFor(context: MappingContext): Record<string, unknown> {
  if (hooks === realHooks) return { [CONTEXT_KEY]: context };
  // Frozen time for tests: one instant per evaluation, as JSONata's own $now() guarantees.
  const now = hooks.now();
  return { [CONTEXT_KEY]: context, now: () => now.toISOString(), millis: () => now.getTime() };
}

/** The document an expression sees for a message: its JSON value, or its text when the body is not JSON. */
export function bodyOf(message: Message): unknown {
  try {
    return message.json();
  } catch {
    return message.text();
  }
}

type Focus = { environment: { lookup(name: string): unknown } };
const contextOf = (focus: Focus) => focus.environment.lookup(CONTEXT_KEY) as MappingContext;

// name -> [implementation, JSONata signature]. Functions read the message through the evaluation's
// bindings (not a closure), so one compiled expression serves concurrent evaluations safely.
const FUNCTIONS: Record<string, [(this: Focus, ...args: any[]) => unknown, string]> = {
  meta: [
    function (this: Focus, key?: string) {
      const { metadata } = contextOf(this).message;
      if (key === undefined) return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, metadataString(v)]));
      const value = metadata[key];
      if (value === undefined || value === null) return null;
      const text = metadataString(value);
      return text === '' ? null : text;
    },
    '<s?:(so)>',
  ],
  metadata: [
    function (this: Focus, key?: string) {
      const { metadata } = contextOf(this).message;
      if (key === undefined) return { ...metadata };
      return metadata[key] ?? null;
    },
    '<s?:x>',
  ],
  content: [
    function (this: Focus) {
      return contextOf(this).message.text();
    },
    '<:s>',
  ],
  errored: [
    function (this: Focus) {
      return contextOf(this).message.error !== undefined;
    },
    '<:b>',
  ],
  error_message: [
    function (this: Focus) {
      return contextOf(this).message.error?.message ?? null;
    },
    '<:(sl)>',
  ],
  batch_index: [
    function (this: Focus) {
      return contextOf(this).index;
    },
    '<:n>',
  ],
  batch_size: [
    function (this: Focus) {
      return contextOf(this).batch.length;
    },
    '<:n>',
  ],
  uuid_v4: [() => hooks.uuidV4(), '<:s>'],
  uuid_v5: [(name: string, namespace?: string) => uuidV5(name, namespace), '<ss?:s>'],
  parse_duration: [(text: string) => parseDuration(text), '<s:n>'],
  env: [(name: string) => process.env[name] ?? null, '<s:(sl)>'],
  hostname: [() => hostname(), '<:s>'],
  deleted: [() => DELETED, '<:o>'],
};

const NAMESPACES: Record<string, string> = {
  dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
  oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
  x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
};
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * RFC 9562 version 5 (SHA-1, name-based) UUID, as Bloblang's `uuid_v5(name, ns)`: the namespace
 * is `dns`, `url`, `oid`, `x500`, any UUID, or the nil UUID when omitted. The same inputs always
 * give the same id, which is what makes a re-sent usage event deduplicate downstream.
 */
export function uuidV5(name: string, namespace = ''): string {
  const ns = NAMESPACES[namespace] ?? (namespace === '' ? NIL_UUID : namespace);
  const nsHex = ns.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(nsHex)) throw new Error(`uuid_v5: invalid namespace ${JSON.stringify(namespace)}`);
  const hash = createHash('sha1').update(Buffer.from(nsHex, 'hex')).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface JsonataError {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

/** Line and column (1-based) of a character offset in `source`. */
export function locate(source: string, position: number): { line: number; column: number } {
  const before = source.slice(0, Math.max(0, position));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

function syntaxError(source: string, err: unknown): MappingSyntaxError {
  const e = err as JsonataError;
  // JSONata reports the position just past the offending token.
  const { line, column } = locate(source, (e.position ?? 0) - (e.token?.length ?? 0));
  return new MappingSyntaxError(`JSONata syntax error at line ${line}, column ${column}: ${e.message ?? String(err)}`, line, column);
}

function evaluationError(source: string, err: unknown): Error {
  const e = err as JsonataError;
  if (err instanceof Error && e.code === undefined) return err;
  const where = e.position === undefined ? '' : (({ line, column }) => ` at line ${line}, column ${column}`)(locate(source, e.position - (e.token?.length ?? 0)));
  return new Error(`mapping failed${where}: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`);
}
