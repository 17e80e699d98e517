// The JSONata environment every sluice expression runs in: mappings, `generate`, `${! }`
// interpolations and batching checks. It stands in for Bloblang, so its functions carry
// Bloblang's names ($meta, $uuid_v4, $parse_duration, ...) and semantics.
import { hash as digestOf, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import jsonata from 'jsonata';
import { parseDuration } from '../config/duration.js';
import { Message, metadataString, toJSONText } from '../engine/message.js';
import { hash } from './hash.js';
import { parseQuantity, quantityToNumber } from '../kubernetes/quantity.js';
import { compileToJavaScript, FallbackGate, type CompiledFunction } from './compiler.js';

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

/** The time and id sources in force (Bloblang's now() and uuid_v4() read the same ones). */
export function currentHooks(): Hooks {
  return hooks;
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
  /** True when the expression runs as compiled JavaScript; false when it runs in the JSONata interpreter. */
  readonly compiled: boolean;
  /** Whether it names a field anywhere (`gpu`, `a.b`): such an expression finds nothing in a body that is not a JSON object. */
  readonly readsFields: boolean;
  /** Set when the expression is a literal (`"runai"`, `42`, `true`, `null`): its value, the same at every evaluation. */
  readonly literal?: { readonly value: unknown };
  /**
   * Why the expression runs in the interpreter: `compile: false`, or the construct the compiler
   * does not cover and where it is in the expression ("... at line 2, column 14").
   */
  readonly interpretedBecause?: string;
  /**
   * Evaluates against `input` (by default the message body, parsed as JSON when it is JSON, else
   * its text). Resolves JSONata's result; `undefined` means "nothing". Rejects with an Error
   * whose message names the JSONata error code and position.
   */
  evaluate(context?: MappingContext, input?: unknown): Promise<unknown>;
  /**
   * The same evaluation without a promise where possible: returns the result itself when the
   * compiled expression succeeds; otherwise returns the Promise evaluate() would (interpreted
   * expressions, and every failure: the interpreter re-evaluates the input, so errors read
   * exactly as evaluate()'s). Never throws.
   */
  evaluateSync(context?: MappingContext, input?: unknown): unknown;
}

export interface CompileOptions {
  /** Compile to JavaScript when the compiler covers the expression (default true); false always interprets. */
  readonly compile?: boolean;
}

/** Compiles a JSONata expression with sluice's functions bound. Throws MappingSyntaxError. */
export function compileExpression(source: string, options: CompileOptions = {}): CompiledExpression {
  let parsed: jsonata.Expression;
  try {
    parsed = jsonata(source);
  } catch (err) {
    throw syntaxError(source, err);
  }
  const compilation = options.compile === false ? { ok: false as const, reason: 'compile: false' } : compileToJavaScript(parsed.ast(), COMPILER_OPTIONS);
  // The interpreter's expression holds its parser's state (~16 KB, ~30 KB with sluice's functions):
  // a compiled expression lets it go and parses again only if it ever falls back to it.
  let expression: jsonata.Expression | undefined = compilation.ok ? undefined : withFunctions(parsed);
  const interpret = async (input: unknown, evaluation: Evaluation): Promise<unknown> => {
    try {
      expression ??= withFunctions(jsonata(source));
      return await expression.evaluate(input, bindingsFor(evaluation));
    } catch (err) {
      throw evaluationError(source, err);
    }
  };
  const readsFields = namesAField(parsed.ast());
  const literal = literalOf(parsed.ast());
  if (!compilation.ok) {
    const at = compilation.position === undefined ? undefined : locate(source, compilation.position);
    return {
      source,
      compiled: false,
      readsFields,
      ...(literal ? { literal } : {}),
      interpretedBecause: at === undefined ? compilation.reason : `${compilation.reason} at line ${at.line}, column ${at.column}`,
      evaluate: (context = EMPTY_CONTEXT, input = bodyOf(context.message)) => interpret(input, { context }),
      evaluateSync: (context = EMPTY_CONTEXT, input = bodyOf(context.message)) => interpret(input, { context }),
    };
  }
  const compiled: CompiledFunction = compilation.evaluate;
  const gate = new FallbackGate();
  const evaluateSync = (context: MappingContext = EMPTY_CONTEXT, input: unknown = bodyOf(context.message)): unknown => {
    if (!gate.tryCompiled()) return interpret(input, { context });
    const evaluation: Evaluation = { context };
    try {
      const result = compiled(input, bindingsFor(evaluation));
      gate.succeeded();
      return result;
    } catch {
      // Failures, and the rare input the compiled code leaves to the interpreter, are evaluated
      // again by the interpreter, replaying the $uuid_v4() ids already drawn so a seeded sequence
      // is consumed exactly as without compilation.
      gate.handedOver();
      return interpret(input, { context, replay: evaluation.drawn });
    }
  };
  return {
    source,
    compiled: true,
    readsFields,
    ...(literal ? { literal } : {}),
    evaluate: async (context, input) => evaluateSync(context, input),
    evaluateSync,
  };
}

/** The value of a parse tree that is a bare literal (no predicate or other step on it), else undefined. */
function literalOf(node: jsonata.ExprNode): { value: unknown } | undefined {
  const { type, value, ...rest } = node as { type: string; value: unknown; position?: number };
  delete rest.position;
  if ((type === 'string' || type === 'number' || type === 'value') && Object.keys(rest).length === 0) return { value };
  return undefined;
}

/** Whether a JSONata parse tree holds a field name step anywhere. */
function namesAField(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(namesAField);
  if (node === null || typeof node !== 'object') return false;
  if ((node as { type?: unknown }).type === 'name') return true;
  return Object.values(node).some(namesAField);
}

/** One evaluation's view of the message, and the $uuid_v4() ids it drew (for a re-evaluation to replay). */
interface Evaluation {
  readonly context: MappingContext;
  drawn?: string[];
  readonly replay?: readonly string[];
  replayed?: number;
}

function bindingsFor(evaluation: Evaluation): Record<string, unknown> {
  if (hooks === realHooks) return { [CONTEXT_KEY]: evaluation };
  // Frozen time for tests: one instant per evaluation, as JSONata's own $now() guarantees.
  const now = hooks.now();
  return { [CONTEXT_KEY]: evaluation, now: () => now.toISOString(), millis: () => now.getTime() };
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
const evaluationOf = (focus: Focus) => focus.environment.lookup(CONTEXT_KEY) as Evaluation;
const contextOf = (focus: Focus) => evaluationOf(focus).context;

function uuidV4(this: Focus): string {
  const evaluation = evaluationOf(this);
  const replayed = evaluation.replayed ?? 0;
  if (evaluation.replay !== undefined && replayed < evaluation.replay.length) {
    evaluation.replayed = replayed + 1;
    return evaluation.replay[replayed]!;
  }
  const id = hooks.uuidV4();
  (evaluation.drawn ??= []).push(id);
  return id;
}

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
  uuid_v4: [uuidV4, '<:s>'],
  uuid_v5: [(name: string, namespace?: string) => uuidV5(name, namespace), '<ss?:s>'],
  parse_duration: [(text: string) => durationNs(text), '<s:n>'],
  env: [(name: string) => process.env[name] ?? null, '<s:(sl)>'],
  hostname: [() => hostname(), '<:s>'],
  deleted: [() => DELETED, '<:o>'],
  resource_quantity: [resourceQuantity, '<s:n>'],
  hash: [hashText, '<xss?:s>'],
};

// The last duration parsed: a mapping parses the same scrape interval for every message, and
// parseDuration is exact BigInt arithmetic. A text that fails to parse is never remembered.
let lastDuration: string | undefined;
let lastDurationNs = 0;
function durationNs(text: string): number {
  if (typeof text !== 'string' || text !== lastDuration) {
    lastDurationNs = parseDuration(text);
    lastDuration = text;
  }
  return lastDurationNs;
}

/**
 * `$hash(value, algorithm, encoding?)`: Connect's `.hash(algorithm)` of the value (a string as its
 * UTF-8 bytes, anything else as compact JSON). xxhash64 gives what Connect gives, the decimal text
 * of the sum, so `$hash($content(), "xxhash64")` keys a cache exactly as Connect's
 * `content().hash("xxhash64")`. Other algorithms give digest bytes, written as `encoding`: hex (the
 * default), base64 or base64url, as Connect's `.hash(a).encode(encoding)`.
 */
function hashText(value: unknown, algorithm: string, encoding = 'hex'): string | undefined {
  if (value === undefined) return undefined;
  if (algorithm.startsWith('hmac_')) throw new Error(`$hash: ${algorithm} needs a key, which $hash does not take`);
  const digest = hash(new TextEncoder().encode(typeof value === 'string' ? value : toJSONText(value)), algorithm);
  if (algorithm === 'xxhash64') return new TextDecoder().decode(digest);
  if (encoding !== 'hex' && encoding !== 'base64' && encoding !== 'base64url') throw new Error(`$hash: unknown encoding ${JSON.stringify(encoding)} (hex, base64 or base64url)`);
  return Buffer.from(digest).toString(encoding);
}

/**
 * `$resource_quantity(q)`: a Kubernetes quantity ("500m", "2Gi") as a number, parsed exactly as
 * Kubernetes does; "" is 0 (as OpenMeter's Bloblang function), a missing value stays missing.
 */
function resourceQuantity(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (text === '') return 0;
  const value = quantityToNumber(parseQuantity(text));
  if (!Number.isFinite(value)) throw new Error(`resource_quantity: ${JSON.stringify(text)} is beyond the range of a number`);
  return value;
}

// The compiler calls the same implementations. $uuid_v4() is impure: how often it is called decides
// which ids a seeded generator hands out, so call order must match the interpreter's.
const COMPILER_OPTIONS = { functions: FUNCTIONS, impure: ['uuid_v4'] };

/** `expression` with sluice's functions registered. */
function withFunctions(expression: jsonata.Expression): jsonata.Expression {
  for (const [name, [implementation, signature]] of Object.entries(FUNCTIONS)) expression.registerFunction(name, implementation, signature);
  return expression;
}

const NAMESPACES: Record<string, string> = {
  dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
  oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
  x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
};
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
// Parsed namespaces (a few distinct ones in practice; bounded all the same) and byte -> hex: the id
// of every usage event is computed here, so it is kept cheap.
const namespaceBytes = new Map<string, Buffer>();
/** byte -> the character codes of its two hex digits. */
const HEX_HIGH = Uint8Array.from({ length: 256 }, (_, i) => '0123456789abcdef'.charCodeAt(i >> 4));
const HEX_LOW = Uint8Array.from({ length: 256 }, (_, i) => '0123456789abcdef'.charCodeAt(i & 15));
const DASH = 0x2d;

/**
 * RFC 9562 version 5 (SHA-1, name-based) UUID, as Bloblang's `uuid_v5(name, ns)`: the namespace
 * is `dns`, `url`, `oid`, `x500`, any UUID, or the nil UUID when omitted. The same inputs always
 * give the same id, which is what makes a re-sent usage event deduplicate downstream.
 */
export function uuidV5(name: string, namespace = ''): string {
  let nsBytes = namespaceBytes.get(namespace);
  if (nsBytes === undefined) {
    const nsHex = (NAMESPACES[namespace] ?? (namespace === '' ? NIL_UUID : namespace)).replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(nsHex)) throw new Error(`uuid_v5: invalid namespace ${JSON.stringify(namespace)}`);
    nsBytes = Buffer.from(nsHex, 'hex');
    if (namespaceBytes.size >= 64) namespaceBytes.clear();
    namespaceBytes.set(namespace, nsBytes);
  }
  // node:crypto's one-shot hash (no Hash object per call) of the namespace then the name's UTF-8.
  const digest = digestOf('sha1', Buffer.concat([nsBytes, Buffer.from(name, 'utf8')]), 'buffer');
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  // One flat string from its character codes: cheaper than concatenating 20 pieces.
  const hi = HEX_HIGH;
  const lo = HEX_LOW;
  const d = digest;
  return String.fromCharCode(
    hi[d[0]!]!, lo[d[0]!]!, hi[d[1]!]!, lo[d[1]!]!, hi[d[2]!]!, lo[d[2]!]!, hi[d[3]!]!, lo[d[3]!]!, DASH,
    hi[d[4]!]!, lo[d[4]!]!, hi[d[5]!]!, lo[d[5]!]!, DASH,
    hi[d[6]!]!, lo[d[6]!]!, hi[d[7]!]!, lo[d[7]!]!, DASH,
    hi[d[8]!]!, lo[d[8]!]!, hi[d[9]!]!, lo[d[9]!]!, DASH,
    hi[d[10]!]!, lo[d[10]!]!, hi[d[11]!]!, lo[d[11]!]!, hi[d[12]!]!, lo[d[12]!]!,
    hi[d[13]!]!, lo[d[13]!]!, hi[d[14]!]!, lo[d[14]!]!, hi[d[15]!]!, lo[d[15]!]!,
  );
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
