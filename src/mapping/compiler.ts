// Compiles a JSONata parse tree (`jsonata(expr).ast()`) to a tree of synchronous JavaScript
// closures that compute what jsonata@2's interpreter computes, without its promise, environment
// look-up and hook calls on every node.
//
// The contract with the caller (src/mapping/environment.ts):
// - compileToJavaScript() refuses (returns the reason) any expression using something not covered
//   here; the caller then runs that expression in the interpreter, whole.
// - A compiled function either returns exactly the interpreter's result, or throws. It throws
//   whenever the interpreter would fail, and also on anything unusual it leaves to the interpreter
//   (a non-finite number, a function where data was expected, ...). The caller then evaluates the
//   same input with the interpreter, so every error a user sees is the interpreter's own, with its
//   code, message and position.
//
// Values keep the interpreter's representation: a sequence is an array with an enumerable
// `sequence: true` (and `keepSingleton`, `outerWrapper`) property, an array built by a path's
// array constructor has a non-enumerable `cons`. Sequence semantics (singleton unwrapping,
// flattening, undefined propagation, predicates) follow node_modules/jsonata/jsonata.js: evaluate,
// evaluatePath, evaluateStep, evaluateFilter, evaluateGroupExpression, apply. JSONata's own function
// implementations are called where they are synchronous; the few asynchronous ones covered ($map,
// $filter, $reduce, $single, $contains, $split, $replace) are re-implemented below.
import jsonata from 'jsonata';

/** Variables an evaluation sees besides its input, as jsonata's `evaluate(input, bindings)`. */
export type Bindings = Readonly<Record<string, unknown>>;

/**
 * A compiled expression: returns the interpreter's result for `input`, or throws when the
 * interpreter would fail or when this input needs the interpreter (see the file comment).
 */
export type CompiledFunction = (input: unknown, bindings: Bindings) => unknown;

/** A function registered on the expression (`registerFunction`): called with JSONata's focus as `this`. */
export type FunctionImplementation = (this: any, ...args: any[]) => unknown;

export interface CompilerOptions {
  /** name -> [implementation, JSONata signature], as registered on the interpreted expression. */
  readonly functions?: Readonly<Record<string, readonly [FunctionImplementation, string]>>;
  /**
   * Registered functions whose results depend on the order of calls ($uuid_v4 with a seeded
   * generator). The interpreter evaluates the items of an array or object constructor
   * concurrently, so the compiler refuses a constructor in which two items call such functions.
   * ($random and $shuffle draw from an unseeded source: their order cannot be observed.)
   */
  readonly impure?: readonly string[];
}

export type Compilation = { readonly ok: true; readonly evaluate: CompiledFunction } | { readonly ok: false; readonly reason: string };

/** Compiles a parse tree, or says why it is left to the interpreter. */
export function compileToJavaScript(ast: unknown, options: CompilerOptions = {}): Compilation {
  try {
    const callees = calleeTable(options);
    const analysis = new Analysis(callees);
    analysis.run(ast as Node, new Set(options.impure ?? []));
    const emitter = new Emitter(analysis, callees);
    const body = emitter.compile(ast as Node, analysis.root);
    const rootSize = analysis.root.names.size;
    const evaluate: CompiledFunction = (input, bindings = {}) => {
      let overrides = false;
      for (const name in bindings) if (callees.has(name)) overrides = true;
      const run = new Run(bindings, input, overrides);
      const frame = new Frame(rootSize > 0 ? newVars(rootSize) : NO_VARS, undefined, run);
      // As jsonata's evaluate(): a JSON array input is wrapped so it is treated as one value.
      if (Array.isArray(input) && !isSequence(input)) {
        const wrapper = seq1(input);
        wrapper.outerWrapper = true;
        input = wrapper;
      }
      return body(input, frame);
    };
    return { ok: true, evaluate };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, reason: err.message };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The parse tree, as jsonata@2's parser leaves it after its post-processing (processAST).

interface Validator {
  readonly definition: string;
  validate(args: unknown[], context: unknown): unknown[];
}

interface Stage {
  readonly type: string;
  readonly expr: Node;
}

interface Node {
  readonly type: string;
  readonly value?: any;
  readonly position?: number;
  readonly steps?: Node[];
  readonly stages?: Stage[];
  readonly predicate?: Stage[];
  readonly group?: unknown;
  readonly lhs?: any;
  readonly rhs?: any;
  readonly expression?: Node;
  readonly expressions?: Node[];
  readonly condition?: Node;
  readonly then?: Node;
  readonly else?: Node;
  readonly procedure?: Node;
  readonly arguments?: Node[];
  readonly body?: Node;
  readonly signature?: Validator;
  readonly thunk?: boolean;
  readonly keepArray?: boolean;
  readonly keepSingletonArray?: boolean;
  readonly consarray?: boolean;
  readonly tuple?: boolean;
  readonly focus?: string;
  readonly index?: string;
  readonly ancestor?: unknown;
  readonly seekingParent?: unknown;
}

class Refusal extends Error {}
const refuse = (reason: string): never => {
  throw new Refusal(reason);
};

// ---------------------------------------------------------------------------------------------
// Runtime values.

/** A sequence (or any array carrying the interpreter's flags). */
type Seq = unknown[] & { sequence?: boolean; keepSingleton?: boolean; outerWrapper?: boolean; cons?: boolean };

/** Thrown to hand an evaluation over to the interpreter. Never seen by users. */
const HANDOVER = new Error('compiled evaluation handed over to the interpreter');
const handOver = (): never => {
  throw HANDOVER;
};

const UNBOUND = Symbol('unbound');
const NO_VARS: unknown[] = [];
function newVars(size: number): unknown[] {
  const vars: unknown[] = [UNBOUND];
  for (let i = 1; i < size; i++) vars.push(UNBOUND);
  return vars;
}
const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/** Per evaluation: the bindings, the root document (`$$`) and the instant `$now()` reports. */
class Run {
  timestamp: number | undefined = undefined;
  focus: Focus | undefined = undefined;
  constructor(
    readonly bindings: Bindings,
    readonly root: unknown,
    /** Whether a binding replaces a function the expression may call (sluice's frozen $now). */
    readonly overrides: boolean,
  ) {}
}

/** A variable frame: one per block or lambda invocation that binds variables, as JSONata's createFrame. */
class Frame {
  constructor(
    readonly vars: unknown[],
    readonly parent: Frame | undefined,
    readonly run: Run,
  ) {}
}

/** A compiled node: evaluates against `input` in `frame`. */
type Fn = (input: unknown, frame: Frame) => unknown;
/** A compiled predicate stage: filters a value. */
type Filter = (input: unknown, frame: Frame) => unknown;

/** The `this` JSONata gives the functions it calls. */
interface Focus {
  input: unknown;
  readonly environment: { lookup(name: string): unknown };
  readonly options: undefined;
  readonly createSequence: (...items: unknown[]) => Seq;
}

interface LambdaDef {
  readonly arity: number;
  readonly slots: readonly number[];
  readonly frameSize: number;
  readonly signature: Validator | undefined;
  readonly body: Fn;
}

/** A lambda closure. The `_jsonata_lambda` flag makes JSONata's signature checks see a function. */
class Lambda {
  readonly _jsonata_lambda = true;
  constructor(
    readonly def: LambdaDef,
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
}

/** A tail call returned by a lambda body, run by apply()'s trampoline as in the interpreter. */
interface TailSite {
  readonly callee: Fn;
  readonly args: readonly Fn[];
}
class Thunk {
  constructor(
    readonly site: TailSite,
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
}

type Invoke = (args: unknown[], input: unknown, run: Run, rawLambdas: boolean) => unknown;

interface Param {
  readonly letter: string;
  readonly types: string;
  readonly array: boolean;
  optional: boolean;
  context: boolean;
  subtype?: string;
}

/** A function the compiled code calls by name: JSONata's built-ins and the registered functions. */
class Native {
  readonly params: Param[] | undefined;
  constructor(
    readonly name: string,
    readonly signature: Validator | undefined,
    readonly invoke: Invoke,
  ) {
    this.params = signature === undefined ? [] : parseParams(signature.definition);
  }
}

function createSequence(...items: unknown[]): Seq {
  const sequence: Seq = [];
  sequence.sequence = true;
  if (items.length === 1) sequence.push(items[0]);
  return sequence;
}
function seq(): Seq {
  const sequence: Seq = [];
  sequence.sequence = true;
  return sequence;
}
function seq1(item: unknown): Seq {
  const sequence: Seq = [item];
  sequence.sequence = true;
  return sequence;
}
const isSequence = (value: unknown): value is Seq => Array.isArray(value) && (value as Seq).sequence === true;

function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return v._jsonata_function === true || v._jsonata_lambda === true;
}

/** utils.isNumeric: a non-NaN number; a non-finite one is the interpreter's error D1001. */
function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number') return false;
  if (Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) handOver();
  return true;
}

function isArrayOfNumbers(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false;
  let all = true;
  // Every item is checked, as the interpreter's filter() does: a non-finite one fails.
  value.forEach((item) => {
    if (!isNumeric(item)) all = false;
  });
  return all;
}

function isDeepEqual(lhs: any, rhs: any): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs === 'object' && typeof rhs === 'object' && lhs !== null && rhs !== null) {
    if (Array.isArray(lhs) && Array.isArray(rhs)) {
      if (lhs.length !== rhs.length) return false;
      for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
      return true;
    }
    const lkeys = Object.getOwnPropertyNames(lhs).sort();
    const rkeys = Object.getOwnPropertyNames(rhs).sort();
    if (lkeys.length !== rkeys.length) return false;
    for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
    for (const key of lkeys) if (!isDeepEqual(lhs[key], rhs[key])) return false;
    return true;
  }
  return false;
}

function isPromiseLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'then' in value && typeof (value as { then: unknown }).then === 'function';
}
function isIterator(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Symbol.iterator in value && 'next' in value && typeof (value as { next: unknown }).next === 'function';
}

/** The interpreter's per-node result normalisation: empty sequence -> nothing, singleton -> its item. */
function norm(result: unknown, keepArray: boolean): unknown {
  if (Array.isArray(result) && (result as Seq).sequence === true) {
    const sequence = result as Seq;
    if (keepArray) sequence.keepSingleton = true;
    if (sequence.length === 0) return undefined;
    if (sequence.length === 1) return sequence.keepSingleton ? sequence : sequence[0];
  }
  return result;
}

/** norm() without keepArray, for the nodes that normalise their own result. */
const normal = (result: unknown): unknown => (Array.isArray(result) ? norm(result, false) : result);
/** Node types whose compiled closure already normalises its result. */
const SELF_NORMALISING = new Set(['variable', 'path', 'function', 'apply']);

/** functions.js lookup(). */
function lookup(input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const result = seq();
    for (let i = 0; i < input.length; i++) {
      const res = lookup(input[i], key);
      if (res !== undefined) {
        if (Array.isArray(res)) res.forEach((value) => result.push(value));
        else result.push(res);
      }
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && hasOwn(input, key) && !isFunction(input)) return (input as Record<string, unknown>)[key];
  return undefined;
}

/** functions.js append(). */
function append(arg1: unknown, arg2: unknown): unknown {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  const a1 = Array.isArray(arg1) ? arg1 : seq1(arg1);
  const a2 = Array.isArray(arg2) ? arg2 : [arg2];
  return a1.concat(a2);
}

function setKey(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

// ---------------------------------------------------------------------------------------------
// JSONata's own function implementations, taken from the library so that they behave exactly as
// in the interpreter ($round rounds half to even, $string formats numbers to 15 digits, ...).

const JSONATA_FUNCTIONS = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter',
  'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join',
  'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round',
  'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'map', 'zip', 'filter', 'single', 'reduce',
  'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'each', 'error',
  'assert', 'type', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode',
  'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'eval', 'toMillis',
  'fromMillis', 'clone', 'now', 'millis',
];

interface Definition {
  readonly implementation: (...args: any[]) => unknown;
  readonly signature?: Validator;
}

// Evaluating `{"sum": $sum, ...}` returns the interpreter's function definitions themselves.
const DEFINITIONS = (await jsonata(`{${JSONATA_FUNCTIONS.map((name) => `"${name}": $${name}`).join(', ')}}`).evaluate(null)) as Record<
  string,
  Definition
>;

/** A JSONata signature validator, parsed by JSONata itself. */
function parseSignature(signature: string): Validator | undefined {
  try {
    const validator = (jsonata(`function()${signature}{0}`).ast() as Node).signature;
    return validator?.definition === signature ? validator : undefined;
  } catch {
    return undefined;
  }
}

const fnBoolean = DEFINITIONS.boolean!.implementation as (value: unknown) => boolean | undefined;
const fnString = DEFINITIONS.string!.implementation as (value: unknown) => string | undefined;
const fnFromMillis = DEFINITIONS.fromMillis!.implementation;

/** fn.boolean as a condition sees it: nothing is false. */
function truthy(value: unknown): boolean {
  if (value === true) return true;
  if (value === false || value === undefined) return false;
  return fnBoolean(value) === true;
}

function focusOf(run: Run, input: unknown): Focus {
  let focus = run.focus;
  if (focus === undefined) {
    const bindings = run.bindings;
    focus = run.focus = {
      input,
      environment: { lookup: (name: string) => (name === '$' ? run.root : hasOwn(bindings, name) ? bindings[name] : undefined) },
      options: undefined,
      createSequence,
    };
  } else {
    focus.input = input;
  }
  return focus;
}

/** Calls a synchronous implementation as the interpreter does; a promise or generator is left to the interpreter. */
function invokeSync(implementation: (...args: any[]) => unknown): Invoke {
  return (args, input, run) => {
    const result = implementation.apply(focusOf(run, input), args);
    if (isIterator(result) || isPromiseLike(result)) return handOver();
    return result;
  };
}

const BUILTINS = new Map<string, Native>();
for (const [name, definition] of Object.entries(DEFINITIONS)) {
  if (name === 'now' || name === 'millis') continue;
  const implementation = definition.implementation;
  if (implementation.constructor.name === 'AsyncFunction') continue;
  BUILTINS.set(name, new Native(name, definition.signature, invokeSync(implementation)));
}

/**
 * Calls a lambda passed to a higher-order function with (value, index, whole) as far as it takes
 * them. Called from a normal call site, JSONata wraps the lambda (its context is then null); from
 * a tail call it passes the lambda itself (its context is then the lambda's own input).
 */
function callBack(func: unknown, value: unknown, index: unknown, whole: unknown, rawLambdas: boolean, run: Run): unknown {
  if (!(func instanceof Lambda)) return handOver();
  const args = [value];
  if (func.def.arity >= 2) args.push(index);
  if (func.def.arity >= 3) args.push(whole);
  return apply(func, args, rawLambdas ? func.input : null, run);
}

/** The asynchronous built-ins, re-implemented synchronously (their signatures are JSONata's). */
const REIMPLEMENTED: Record<string, Invoke> = {
  map([arr, func], _input, run, raw) {
    if (arr === undefined) return undefined;
    const list = arr as unknown[];
    const result = seq();
    for (let i = 0; i < list.length; i++) {
      const res = callBack(func, list[i], i, list, raw, run);
      if (res !== undefined) result.push(res);
    }
    return result;
  },
  filter([arr, func], _input, run, raw) {
    if (arr === undefined) return undefined;
    const list = arr as unknown[];
    const result = seq();
    for (let i = 0; i < list.length; i++) {
      const entry = list[i];
      if (fnBoolean(callBack(func, entry, i, list, raw, run))) result.push(entry);
    }
    return result;
  },
  single([arr, func], _input, run, raw) {
    if (arr === undefined) return undefined;
    const list = arr as unknown[];
    let found = false;
    let result: unknown;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i];
      const positive = func === undefined ? true : fnBoolean(callBack(func, entry, i, list, raw, run));
      if (positive) {
        if (found) return handOver();
        result = entry;
        found = true;
      }
    }
    if (!found) return handOver();
    return result;
  },
  reduce([sequence, func, init], _input, run, raw) {
    if (sequence === undefined) return undefined;
    if (!(func instanceof Lambda)) return handOver();
    const list = sequence as unknown[];
    const arity = func.def.arity;
    if (arity < 2) return handOver();
    let result: unknown;
    let index: number;
    if (init === undefined && list.length > 0) {
      result = list[0];
      index = 1;
    } else {
      result = init;
      index = 0;
    }
    while (index < list.length) {
      const args = [result, list[index]];
      if (arity >= 3) args.push(index);
      if (arity >= 4) args.push(list);
      result = apply(func, args, raw ? func.input : null, run);
      index++;
    }
    return result;
  },
  contains([str, token]) {
    if (str === undefined || token === undefined) return undefined;
    if (typeof token !== 'string') return handOver();
    return (str as string).indexOf(token) !== -1;
  },
  split([str, separator, limit]) {
    if (str === undefined) return undefined;
    if ((limit as number) < 0) return handOver();
    let result: string[] = [];
    if (limit === undefined || (limit as number) > 0) {
      if (typeof separator !== 'string') return handOver();
      result = (str as string).split(separator, limit as number | undefined);
    }
    return result;
  },
  replace([str, pattern, replacement, limit]) {
    if (str === undefined) return undefined;
    if (pattern === '' || (limit as number) < 0) return handOver();
    if (typeof pattern !== 'string' || typeof replacement !== 'string') return handOver();
    const text = str as string;
    if (!(limit === undefined || (limit as number) > 0)) return text;
    let result = '';
    let position = 0;
    let count = 0;
    let index = text.indexOf(pattern, position);
    while (index !== -1 && (limit === undefined || count < (limit as number))) {
      result += text.substring(position, index);
      result += replacement;
      position = index + pattern.length;
      count++;
      index = text.indexOf(pattern, position);
    }
    return result + text.substring(position);
  },
};
for (const [name, invoke] of Object.entries(REIMPLEMENTED)) {
  BUILTINS.set(name, new Native(name, DEFINITIONS[name]!.signature, invoke));
}

const timestampOf = (run: Run): number => (run.timestamp ??= Date.now());
const NOW = new Native('now', parseSignature('<s?s?:s>'), (args, input, run) => fnFromMillis.call(focusOf(run, input), timestampOf(run), args[0], args[1]));
const MILLIS = new Native('millis', parseSignature('<:n>'), (_args, _input, run) => timestampOf(run));

/** Built-in names the compiler does not call: an expression calling one is interpreted. */
const NOT_COMPILED = new Set(JSONATA_FUNCTIONS.filter((name) => !BUILTINS.has(name) && name !== 'now' && name !== 'millis'));
/** Higher-order functions whose second argument may be a lambda. */
const HIGHER_ORDER = new Set(['map', 'filter', 'single', 'reduce']);

/** Callee tables by `options.functions`: parsing every signature (with JSONata's parser) per expression cost most of a compile. */
const calleeTables = new WeakMap<object, ReadonlyMap<string, Native>>();

/** The functions compiled code may call directly, built once per `options.functions` object. */
export function calleeTable(options: CompilerOptions): ReadonlyMap<string, Native> {
  const key = options.functions ?? NO_FUNCTIONS;
  let table = calleeTables.get(key);
  if (table === undefined) calleeTables.set(key, (table = buildCalleeTable(options)));
  return table;
}

const NO_FUNCTIONS = {};

function buildCalleeTable(options: CompilerOptions): Map<string, Native> {
  const table = new Map(BUILTINS);
  table.set('now', NOW);
  table.set('millis', MILLIS);
  for (const [name, [implementation, signature]] of Object.entries(options.functions ?? {})) {
    const validator = parseSignature(signature);
    if (validator === undefined) table.delete(name);
    else table.set(name, new Native(name, validator, invokeSync(implementation)));
  }
  return table;
}

/**
 * The parameters of a simple signature, to check common calls without JSONata's validator (which
 * builds a string and runs a regular expression per call). Undefined when the signature is not
 * simple (`+`, nested choices); such calls always go through the validator.
 */
function parseParams(definition: string): Param[] | undefined {
  const CLASSES: Record<string, string> = { s: 's', n: 'n', b: 'b', l: 'l', o: 'o', a: 'asnblfo', f: 'f', j: 'asnblo', x: 'asnblfo' };
  const params: Param[] = [];
  let i = 1;
  while (i < definition.length) {
    const c = definition[i]!;
    const previous = params[params.length - 1];
    if (c === ':' || c === '>') break;
    if (CLASSES[c] !== undefined) {
      params.push({ letter: c, types: CLASSES[c], array: c === 'a', optional: false, context: false });
      i++;
    } else if (c === '(') {
      const end = definition.indexOf(')', i);
      const choice = definition.slice(i + 1, end);
      if (end === -1 || !/^[snblofajx]+$/.test(choice)) return undefined;
      params.push({ letter: '(', types: choice, array: false, optional: false, context: false });
      i = end + 1;
    } else if (c === '<' && previous !== undefined && (previous.letter === 'a' || previous.letter === 'f')) {
      let depth = 1;
      let end = i + 1;
      for (; end < definition.length && depth > 0; end++) {
        if (definition[end] === '<') depth++;
        else if (definition[end] === '>') depth--;
      }
      if (previous.letter === 'a') previous.subtype = definition.slice(i + 1, end - 1);
      i = end;
    } else if (c === '?' && previous !== undefined) {
      previous.optional = true;
      i++;
    } else if (c === '-' && previous !== undefined) {
      previous.optional = true;
      previous.context = true;
      i++;
    } else {
      return undefined;
    }
  }
  return params;
}

/** signature.js getSymbol(). */
function symbolOf(value: unknown): string {
  if (isFunction(value)) return 'f';
  switch (typeof value) {
    case 'string':
      return 's';
    case 'number':
      return 'n';
    case 'boolean':
      return 'b';
    case 'object':
      return value === null ? 'l' : Array.isArray(value) ? 'a' : 'o';
    default:
      return 'm';
  }
}

/**
 * A check that `argc` arguments are exactly what the validator would return, so it can be
 * skipped: each argument's type is the one its parameter names, positionally, and every missing
 * parameter is optional and not taken from the context.
 */
function fastCheck(native: Native, argc: number): ((args: unknown[]) => boolean) | undefined {
  const params = native.params;
  if (native.signature === undefined || params === undefined || argc > params.length) return undefined;
  for (let j = argc; j < params.length; j++) if (!params[j]!.optional || params[j]!.context) return undefined;
  const used = params.slice(0, argc);
  const size = params.length;
  return (args) => {
    for (let i = 0; i < argc; i++) {
      const param = used[i]!;
      const arg = args[i];
      if (arg === undefined) {
        if (param.letter === 'f') return false;
        continue;
      }
      const symbol = symbolOf(arg);
      if (param.array) {
        if (symbol !== 'a') return false;
        if (param.subtype !== undefined) {
          const list = arg as unknown[];
          const expected = param.subtype.charAt(0);
          for (let k = 0; k < list.length; k++) if (symbolOf(list[k]) !== expected) return false;
        }
      } else if (!param.types.includes(symbol)) {
        return false;
      }
    }
    while (args.length < size) args.push(undefined);
    return true;
  };
}

/** jsonata's apply(): applies a function and runs the tail calls it returns. */
function apply(proc: unknown, args: unknown[], callInput: unknown, run: Run): unknown {
  let result = applyInner(proc, args, callInput, run, false);
  while (result instanceof Thunk) {
    const { site, input, frame } = result;
    const next = site.callee(input, frame);
    const nextArgs = site.args.map((arg) => arg(input, frame));
    result = applyInner(next, nextArgs, callInput, run, true);
  }
  return result;
}

/** jsonata's applyInner(). */
function applyInner(proc: unknown, args: unknown[], callInput: unknown, run: Run, rawLambdas: boolean): unknown {
  if (proc instanceof Lambda) return invokeLambda(proc, args, callInput);
  if (proc instanceof Native) {
    const validated = proc.signature === undefined ? args : proc.signature.validate(args, callInput);
    return proc.invoke(validated, callInput, run, rawLambdas);
  }
  if (typeof proc === 'function') {
    // A plain JavaScript function passed in the bindings (sluice's frozen $now / $millis).
    const result = (proc as (...a: unknown[]) => unknown).apply(callInput, args);
    if (isPromiseLike(result) || isIterator(result)) return handOver();
    return result;
  }
  return handOver();
}

/** jsonata's applyProcedure() for a compiled lambda: may return a Thunk. */
function invokeLambda(lambda: Lambda, args: unknown[], callInput: unknown): unknown {
  const def = lambda.def;
  const validated = def.signature === undefined ? args : def.signature.validate(args, callInput);
  let frame = lambda.frame;
  if (def.frameSize > 0) {
    frame = new Frame(newVars(def.frameSize), lambda.frame, lambda.frame.run);
    for (let i = 0; i < def.slots.length; i++) frame.vars[def.slots[i]!] = validated[i];
  }
  return def.body(lambda.input, frame);
}

// ---------------------------------------------------------------------------------------------
// Pass 1: what the expression binds and calls, and whether it stays within the covered subset.

/** A block, lambda or the root: where `$x :=` binds. Frames exist at run time only for scopes that bind. */
class Scope {
  readonly names = new Map<string, number>();
  constructor(
    readonly parent: Scope | undefined,
    readonly kind: 'root' | 'block' | 'lambda',
  ) {}
  get materialized(): boolean {
    return this.kind === 'root' || this.names.size > 0;
  }
  declare(name: string): void {
    if (!this.names.has(name)) this.names.set(name, this.names.size);
  }
}

interface Context {
  readonly scope: Scope;
  /** Inside an item of an array or object constructor, not in a nested block or lambda. */
  readonly inConstructor: boolean;
  /** The variable the enclosing named lambda is bound to. */
  readonly owner: string | undefined;
  readonly inLambda: boolean;
}

const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', 'in', '..']);

class Analysis {
  readonly root = new Scope(undefined, 'root');
  readonly scopes = new Map<Node, Scope>();
  /** Variables bound to lambdas: they may only be called (or passed to $map and friends). */
  readonly lambdaBound = new Set<string>();
  readonly valueBound = new Set<string>();
  readonly params = new Set<string>();
  readonly valueRefs = new Set<string>();
  readonly called = new Set<string>();
  readonly higherOrderWithLambda = new Set<string>();
  /** Per lambda-bound variable: the functions its lambdas call or pass on. */
  readonly uses = new Map<string, Set<string>>();
  /** Per constructor of two or more items: the functions each item calls. */
  readonly constructors: Set<string>[][] = [];

  constructor(private readonly callees: ReadonlyMap<string, Native>) {}

  run(ast: Node, impure: Set<string>): void {
    this.visit(ast, { scope: this.root, inConstructor: false, owner: undefined, inLambda: false });
    for (const name of this.lambdaBound) {
      if (this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} holds both a function and a value`);
      if (this.valueRefs.has(name)) refuse(`the function $${name} is used as a value`);
    }
    for (const name of this.called) {
      if (this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} is called but holds a value`);
      if (!this.lambdaBound.has(name) && !this.callees.has(name) && NOT_COMPILED.has(name)) refuse(`$${name}() is not compiled`);
    }
    for (const name of this.higherOrderWithLambda) {
      if (this.lambdaBound.has(name) || this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} is redefined`);
    }
    this.checkAcyclic();
    // Which lambda-bound variables reach an impure function.
    let grew = true;
    while (grew) {
      grew = false;
      for (const [name, uses] of this.uses) {
        if (!impure.has(name) && [...uses].some((used) => impure.has(used))) {
          impure.add(name);
          grew = true;
        }
      }
    }
    for (const items of this.constructors) {
      if (items.filter((used) => [...used].some((name) => impure.has(name))).length >= 2) {
        refuse('two items of one constructor call functions with side effects (the interpreter evaluates them concurrently)');
      }
    }
  }

  /**
   * Refuses recursion (through lambda-bound names): compiled calls use JavaScript's stack, so deep
   * recursion would overflow where the interpreter, a promise per step, keeps going.
   */
  private checkAcyclic(): void {
    const state = new Map<string, 'visiting' | 'done'>();
    const walk = (name: string): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') refuse(`recursive function $${name}`);
      state.set(name, 'visiting');
      for (const used of this.uses.get(name) ?? []) if (this.lambdaBound.has(used)) walk(used);
      state.set(name, 'done');
    };
    for (const name of this.lambdaBound) walk(name);
  }

  private visit(node: Node, ctx: Context): Set<string> {
    const used = new Set<string>();
    const add = (names: Set<string>) => names.forEach((name) => used.add(name));
    checkFlags(node);
    for (const stage of node.predicate ?? []) {
      if (stage.type !== 'filter') refuse('an index binding (#)');
      add(this.visit(stage.expr, ctx));
    }
    switch (node.type) {
      case 'string':
      case 'number':
      case 'value':
      case 'wildcard':
        break;
      case 'variable':
        if (node.value !== '' && node.value !== '$') this.valueRefs.add(node.value);
        break;
      case 'path':
        node.steps!.forEach((step, i) => {
          checkFlags(step);
          if (step.type === 'sort') refuse('an order-by (^)');
          if (i === 0 && step.consarray && (step.stages || step.predicate)) refuse('a predicate on a leading array constructor');
          for (const stage of step.stages ?? []) {
            if (stage.type !== 'filter') refuse('an index binding (#)');
            add(this.visit(stage.expr, ctx));
          }
          if (step.type !== 'name') add(this.visit(step, ctx));
        });
        break;
      case 'binary':
        if (!BINARY_OPERATORS.has(node.value)) refuse(`the ${node.value} operator`);
        add(this.visit(node.lhs, ctx));
        add(this.visit(node.rhs, ctx));
        break;
      case 'unary':
        if (node.value === '-') {
          add(this.visit(node.expression!, ctx));
        } else if (node.value === '[') {
          const items = node.expressions!.map((item) => this.visit(item, { ...ctx, inConstructor: true }));
          items.forEach(add);
          if (items.length >= 2) this.constructors.push(items);
        } else if (node.value === '{') {
          const values: Set<string>[] = [];
          for (const [key, value] of node.lhs as [Node, Node][]) {
            add(this.visit(key, { ...ctx, inConstructor: true }));
            values.push(this.visit(value, { ...ctx, inConstructor: true }));
          }
          values.forEach(add);
          if (values.length >= 2) this.constructors.push(values);
        } else {
          refuse(`the unary ${node.value} operator`);
        }
        break;
      case 'condition':
        add(this.visit(node.condition!, ctx));
        add(this.visit(node.then!, ctx));
        if (node.else !== undefined) add(this.visit(node.else, ctx));
        break;
      case 'block': {
        const scope = new Scope(ctx.scope, 'block');
        this.scopes.set(node, scope);
        const inner: Context = { ...ctx, scope, inConstructor: false };
        const last = node.expressions!.length - 1;
        node.expressions!.forEach((expression, i) => {
          add(expression.type === 'bind' ? this.visitBind(expression, inner, i < last) : this.visit(expression, inner));
        });
        break;
      }
      case 'bind':
        add(this.visitBind(node, ctx, false));
        break;
      case 'lambda':
        if (!node.thunk || !ctx.inLambda) refuse('a function used as a value');
        add(this.visitCall(node.body!, ctx, 0));
        break;
      case 'function':
        add(this.visitCall(node, ctx, 0));
        break;
      case 'apply': {
        const rhs = node.rhs as Node;
        if (rhs.type !== 'function' || rhs.predicate || rhs.keepArray || rhs.group) refuse('~> to something other than a function call');
        add(this.visit(node.lhs, ctx));
        add(this.visitCall(rhs, ctx, 1));
        break;
      }
      default:
        refuse(NODE_NAMES[node.type] ?? `a ${node.type} expression`);
    }
    return used;
  }

  /** `$name := value`; a lambda may only be bound as a statement of a block (so it never becomes a result). */
  private visitBind(node: Node, ctx: Context, statement: boolean): Set<string> {
    checkFlags(node);
    const name = node.lhs.value as string;
    checkVariableName(name);
    if (ctx.inConstructor) refuse('a variable bound inside an array or object constructor (the interpreter evaluates the items concurrently)');
    ctx.scope.declare(name);
    const rhs = node.rhs as Node;
    if (rhs.type === 'lambda' && !rhs.thunk) {
      if (!statement) refuse('a function used as a value');
      this.lambdaBound.add(name);
      const used = this.visitLambda(rhs, ctx, name);
      const uses = this.uses.get(name) ?? new Set<string>();
      used.forEach((n) => uses.add(n));
      this.uses.set(name, uses);
      return used;
    }
    this.valueBound.add(name);
    return this.visit(rhs, ctx);
  }

  private visitLambda(node: Node, ctx: Context, owner: string | undefined): Set<string> {
    checkFlags(node);
    if (node.predicate || node.keepArray) refuse('a predicate on a function');
    const scope = new Scope(ctx.scope, 'lambda');
    this.scopes.set(node, scope);
    for (const param of node.arguments!) {
      checkVariableName(param.value);
      scope.declare(param.value);
      this.params.add(param.value);
    }
    checkTailSpine(node.body!);
    return this.visit(node.body!, { scope, inConstructor: false, owner: owner ?? ctx.owner, inLambda: true });
  }

  /** `$name(args)`; `extra` arguments come first (the left side of ~>). */
  private visitCall(node: Node, ctx: Context, extra: number): Set<string> {
    if (node.type === 'partial') refuse('a partial application');
    checkFlags(node);
    const procedure = node.procedure!;
    if (procedure.type !== 'variable' || procedure.value === '' || procedure.value === '$' || procedure.predicate || procedure.keepArray) {
      refuse('calling a computed function');
    }
    const name = procedure.value as string;
    const used = new Set<string>([name]);
    this.called.add(name);
    node.arguments!.forEach((arg, i) => {
      const functionArgument = HIGHER_ORDER.has(name) && i + extra === 1;
      if (arg.type === 'lambda' && !arg.thunk) {
        if (!functionArgument) refuse(`a function passed to $${name}()`);
        this.higherOrderWithLambda.add(name);
        this.visitLambda(arg, ctx, undefined).forEach((n) => used.add(n));
      } else if (functionArgument && arg.type === 'variable' && !arg.predicate && !arg.keepArray && arg.value !== '' && arg.value !== '$') {
        this.higherOrderWithLambda.add(name);
        used.add(arg.value);
      } else {
        this.visit(arg, ctx).forEach((n) => used.add(n));
      }
    });
    return used;
  }
}

const NODE_NAMES: Record<string, string> = {
  regex: 'a regular expression',
  descendant: 'the descendant operator (**)',
  parent: 'the parent operator (%)',
  transform: 'a transform (|...|...|)',
  partial: 'a partial application',
  sort: 'an order-by (^)',
  error: 'a syntax error',
  name: 'a field name outside a path',
};

function checkFlags(node: Node): void {
  if (node.group !== undefined) refuse('a grouping ({} after a path)');
  if (node.focus !== undefined || node.index !== undefined || node.tuple || node.ancestor !== undefined || node.seekingParent !== undefined) {
    refuse('a context or index binding (@, #, %)');
  }
}

function checkVariableName(name: string): void {
  if (name === '' || name === '$') refuse('binding $ or $$');
  if (name.startsWith('__')) refuse(`the reserved variable $${name}`);
}

/** A tail call inside a predicate or [] would be filtered as a function value by the interpreter: refuse. */
function checkTailSpine(node: Node): boolean {
  let hasThunk = false;
  if (node.type === 'lambda' && node.thunk) return true;
  if (node.type === 'condition') {
    hasThunk = checkTailSpine(node.then!);
    if (node.else !== undefined && checkTailSpine(node.else)) hasThunk = true;
  } else if (node.type === 'block' && node.expressions!.length > 0) {
    hasThunk = checkTailSpine(node.expressions![node.expressions!.length - 1]!);
  }
  if (hasThunk && (node.predicate || node.keepArray)) refuse('a predicate on a tail call');
  return hasThunk;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: closures.

/** Names whose unbound value is a function: as a value they would escape into data. */
const FUNCTION_NAMES = new Set(JSONATA_FUNCTIONS);

class Emitter {
  private readonly functionNames: Set<string>;

  constructor(
    private readonly analysis: Analysis,
    private readonly callees: ReadonlyMap<string, Native>,
  ) {
    this.functionNames = new Set([...FUNCTION_NAMES, ...callees.keys()]);
  }

  /** A node as jsonata's evaluate() runs it: the node, its predicates, then sequence normalisation. */
  compile(node: Node, scope: Scope): Fn {
    const filters = node.predicate?.map((stage) => this.filter(stage.expr, scope));
    const keepArray = node.keepArray === true;
    // Predicates and [] see the node's result before normalisation: only without them may a
    // variable, path or call normalise its own result (saving a closure per node).
    const selfNormalising = filters === undefined && !keepArray && SELF_NORMALISING.has(node.type);
    const raw = this.raw(node, scope, selfNormalising);
    // Constants, constructors, operators (but ..) and lambdas never give a sequence; anything
    // else may, even an unnormalised one (a tail call's result reaches a caller unnormalised).
    const maySequence = !(
      node.type === 'string' ||
      node.type === 'number' ||
      node.type === 'value' ||
      node.type === 'unary' ||
      node.type === 'lambda' ||
      (node.type === 'binary' && node.value !== '..')
    );
    if (filters === undefined) {
      if (!keepArray && (!maySequence || selfNormalising)) return raw;
      return (input, frame) => norm(raw(input, frame), keepArray);
    }
    return (input, frame) => {
      let result = raw(input, frame);
      for (const filter of filters) result = filter(result, frame);
      return norm(result, keepArray);
    };
  }

  /** The node alone; `normalise`: a variable, path or call normalises its result too. */
  private raw(node: Node, scope: Scope, normalise: boolean): Fn {
    switch (node.type) {
      case 'string':
      case 'number':
      case 'value': {
        const value = node.value;
        return () => value;
      }
      case 'variable':
        return this.variable(node.value, scope, normalise);
      case 'path':
        return this.path(node, scope, normalise);
      case 'binary':
        return this.binary(node, scope);
      case 'unary':
        return node.value === '-' ? this.negate(node, scope) : node.value === '[' ? this.array(node, scope) : this.object(node, scope);
      case 'wildcard':
        return (input) => wildcard(input);
      case 'condition':
        return this.condition(node, scope);
      case 'block':
        return this.block(node, scope);
      case 'bind':
        return this.bind(node, scope);
      case 'function':
        return this.call(node, scope, undefined, normalise);
      case 'apply':
        return this.call(node.rhs as Node, scope, this.compile(node.lhs as Node, scope), normalise);
      case 'lambda':
        return this.tailCall(node, scope);
      default:
        return refuse(`a ${node.type} expression`);
    }
  }

  private variable(name: string, scope: Scope, normalise: boolean): Fn {
    const done = normalise ? normal : (value: unknown) => value;
    if (name === '') return (input) => done(input && (input as Seq).outerWrapper ? (input as Seq)[0] : input);
    if (name === '$') return (_input, frame) => done(frame.run.root);
    const functionName = this.functionNames.has(name);
    const lookup = this.lookup(name, scope, (run) => {
      if (hasOwn(run.bindings, name)) {
        const value = run.bindings[name];
        return isFunction(value) ? handOver() : value;
      }
      return functionName ? handOver() : undefined;
    });
    return normalise ? (input, frame) => normal(lookup(input, frame)) : lookup;
  }

  /** A variable's value: the innermost frame that bound it at run time, else `unbound`. */
  private lookup(name: string, scope: Scope, unbound: (run: Run) => unknown): Fn {
    const candidates: [hops: number, slot: number][] = [];
    let hops = 0;
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      const slot = s.names.get(name);
      if (slot !== undefined) candidates.push([hops, slot]);
      if (s.materialized) hops++;
    }
    if (candidates.length === 0) return (_input, frame) => unbound(frame.run);
    const [firstHops, firstSlot] = candidates[0]!;
    if (candidates.length === 1 && firstHops === 0) {
      return (_input, frame) => {
        const value = frame.vars[firstSlot];
        return value !== UNBOUND ? value : unbound(frame.run);
      };
    }
    const hopsList = candidates.map(([h]) => h);
    const slots = candidates.map(([, slot]) => slot);
    return (_input, frame) => {
      if (firstHops === 0) {
        const value = frame.vars[firstSlot];
        if (value !== UNBOUND) return value;
      }
      for (let c = firstHops === 0 ? 1 : 0; c < slots.length; c++) {
        let f = frame;
        for (let i = hopsList[c]!; i > 0; i--) f = f.parent!;
        const value = f.vars[slots[c]!];
        if (value !== UNBOUND) return value;
      }
      return unbound(frame.run);
    };
  }

  private filter(expr: Node, scope: Scope): Filter {
    if (expr.type === 'number') {
      const value = expr.value as number;
      return (input) => indexFilter(value, input);
    }
    const predicate = this.compile(expr, scope);
    return (input, frame) => predicateFilter(predicate, input, frame);
  }

  private path(node: Node, scope: Scope, normalise: boolean): Fn {
    const steps: Step[] = node.steps!.map((step, i) => ({
      fn: step.type === 'name' ? nameStep(step.value, step.keepArray === true) : this.compile(step, scope),
      stages: step.stages?.map((stage) => this.filter(stage.expr, scope)),
      consarray: i === 0 && step.consarray === true,
    }));
    const plan: PathPlan = { steps, firstIsVariable: node.steps![0]!.type === 'variable', keepSingletonArray: node.keepSingletonArray === true };
    const slow: Fn = normalise ? (input, frame) => normal(evaluatePath(plan, input, frame)) : (input, frame) => evaluatePath(plan, input, frame);
    if (!normalise) return slow;

    // Fast path: field names (optionally after a variable) over objects, no arrays met.
    const simple = (step: Node) => !step.stages && !step.predicate && !step.keepArray && !step.consarray;
    const first = node.steps![0]!;
    const startsWithVariable = first.type === 'variable' && simple(first);
    const rest = startsWithVariable ? node.steps!.slice(1) : node.steps!;
    if (plan.keepSingletonArray || rest.length === 0 || !rest.every((step) => step.type === 'name' && simple(step))) return slow;
    const names = rest.map((step) => step.value as string);
    const start = startsWithVariable ? steps[0]!.fn : undefined;
    return (input, frame) => {
      let value: unknown;
      if (start !== undefined) {
        value = start(input, frame);
        if (value === undefined) return undefined;
      } else {
        value = input;
      }
      if (Array.isArray(value)) return slow(input, frame);
      for (let i = 0; i < names.length; i++) {
        if (value === null || typeof value !== 'object') return undefined;
        const key = names[i]!;
        if (!hasOwn(value, key)) return undefined;
        const object = value as Record<string, unknown> & { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
        if (object._jsonata_function === true || object._jsonata_lambda === true) return undefined;
        value = object[key];
        if (value === undefined) return undefined;
        if (Array.isArray(value)) return slow(input, frame);
      }
      return value;
    };
  }

  private binary(node: Node, scope: Scope): Fn {
    const op = node.value as string;
    const lhs = this.compile(node.lhs, scope);
    const rhs = this.compile(node.rhs, scope);
    switch (op) {
      case 'and':
        return (input, frame) => truthy(lhs(input, frame)) && truthy(rhs(input, frame));
      case 'or':
        return (input, frame) => truthy(lhs(input, frame)) || truthy(rhs(input, frame));
      case '+':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return typeof l === 'number' && typeof r === 'number' && l - l === 0 && r - r === 0 ? l + r : arithmetic(op, l, r);
        };
      case '-':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return typeof l === 'number' && typeof r === 'number' && l - l === 0 && r - r === 0 ? l - r : arithmetic(op, l, r);
        };
      case '*':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return typeof l === 'number' && typeof r === 'number' && l - l === 0 && r - r === 0 ? l * r : arithmetic(op, l, r);
        };
      case '/':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return typeof l === 'number' && typeof r === 'number' && l - l === 0 && r - r === 0 ? l / r : arithmetic(op, l, r);
        };
      case '%':
        return (input, frame) => arithmetic(op, lhs(input, frame), rhs(input, frame));
      case '=':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return l === undefined || r === undefined ? false : isDeepEqual(l, r);
        };
      case '!=':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          return l === undefined || r === undefined ? false : !isDeepEqual(l, r);
        };
      case '<':
      case '<=':
      case '>':
      case '>=':
        return (input, frame) => compare(op, lhs(input, frame), rhs(input, frame));
      case '&':
        return (input, frame) => {
          const l = lhs(input, frame);
          const r = rhs(input, frame);
          if (typeof l === 'string' && typeof r === 'string') return l + r;
          return (l === undefined ? '' : fnString(l)!).concat(r === undefined ? '' : fnString(r)!);
        };
      case 'in':
        return (input, frame) => includes(lhs(input, frame), rhs(input, frame));
      case '..':
        return (input, frame) => range(lhs(input, frame), rhs(input, frame));
      default:
        return refuse(`the ${op} operator`);
    }
  }

  private negate(node: Node, scope: Scope): Fn {
    const expression = this.compile(node.expression!, scope);
    return (input, frame) => {
      const value = expression(input, frame);
      if (value === undefined) return undefined;
      return isNumeric(value) ? -value : handOver();
    };
  }

  private array(node: Node, scope: Scope): Fn {
    const items = node.expressions!.map((item) => this.compile(item, scope));
    const nested = node.expressions!.map((item) => item.value === '[');
    const cons = node.consarray === true;
    return (input, frame) => {
      const result: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const value = items[i]!(input, frame);
        if (value === undefined) continue;
        if (nested[i] || !Array.isArray(value)) result.push(value);
        else for (let k = 0; k < value.length; k++) result.push(value[k]);
      }
      if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
      return result;
    };
  }

  private object(node: Node, scope: Scope): Fn {
    const pairs = (node.lhs as [Node, Node][]).map(([key, value]) => [this.compile(key, scope), this.compile(value, scope)] as const);
    const generic: Fn = (input, frame) => evaluateGroup(pairs, input, frame);
    const keys = (node.lhs as [Node, Node][]).map(([key]) => (key.type === 'string' && !key.predicate && !key.keepArray ? (key.value as string) : undefined));
    const literal =
      keys.every((key) => key !== undefined && key !== '_jsonata_lambda' && key !== '_jsonata_function' && key !== '__proto__') &&
      new Set(keys).size === keys.length;
    if (!literal) return generic;
    // Fast path: literal distinct keys over one (non-array) input. The object is built by a
    // function generated for these keys, so its property stores have one shape to learn.
    const values = pairs.map(([, value]) => value);
    const build = objectBuilder(keys as string[]);
    return (input, frame) => (Array.isArray(input) ? generic(input, frame) : build(values, input, frame));
  }

  private condition(node: Node, scope: Scope): Fn {
    const condition = this.compile(node.condition!, scope);
    const then = this.compile(node.then!, scope);
    const otherwise = node.else === undefined ? undefined : this.compile(node.else, scope);
    return (input, frame) => {
      if (truthy(condition(input, frame))) return then(input, frame);
      return otherwise === undefined ? undefined : otherwise(input, frame);
    };
  }

  private block(node: Node, scope: Scope): Fn {
    const inner = this.analysis.scopes.get(node)!;
    const expressions = node.expressions!.map((expression) => this.compile(expression, inner));
    const size = inner.materialized ? inner.names.size : 0;
    if (expressions.length === 0) return () => undefined;
    if (size === 0 && expressions.length === 1) return expressions[0]!;
    return (input, frame) => {
      const f = size > 0 ? new Frame(newVars(size), frame, frame.run) : frame;
      let result: unknown;
      for (let i = 0; i < expressions.length; i++) result = expressions[i]!(input, f);
      return result;
    };
  }

  private bind(node: Node, scope: Scope): Fn {
    const slot = scope.names.get(node.lhs.value)!;
    const rhs = node.rhs as Node;
    const value = rhs.type === 'lambda' && !rhs.thunk ? this.lambda(rhs) : this.compile(rhs, scope);
    return (input, frame) => {
      const v = value(input, frame);
      frame.vars[slot] = v;
      return v;
    };
  }

  private lambda(node: Node): Fn {
    const inner = this.analysis.scopes.get(node)!;
    const def: LambdaDef = {
      arity: node.arguments!.length,
      slots: node.arguments!.map((param) => inner.names.get(param.value)!),
      frameSize: inner.materialized ? inner.names.size : 0,
      signature: node.signature,
      body: this.compile(node.body!, inner),
    };
    return (input, frame) => new Lambda(def, input, frame);
  }

  /** The function a call names: a lambda bound in a frame, else a binding, a registered function or a built-in. */
  private callee(name: string, scope: Scope): Fn {
    const native = this.callees.get(name);
    const global = (run: Run) => (run.overrides && hasOwn(run.bindings, name) ? run.bindings[name] : native === undefined ? handOver() : native);
    if (this.analysis.lambdaBound.has(name)) return this.lookup(name, scope, global);
    return (_input, frame) => global(frame.run);
  }

  private argument(arg: Node, scope: Scope): Fn {
    if (arg.type === 'lambda' && !arg.thunk) return this.lambda(arg);
    return this.compile(arg, scope);
  }

  /** jsonata's evaluateFunction(); `first` is the left side of `~>`. */
  private call(node: Node, scope: Scope, first: Fn | undefined, normalise: boolean): Fn {
    const done = normalise ? normal : (value: unknown) => value;
    const name = node.procedure!.value as string;
    const args = node.arguments!.map((arg) => this.argument(arg, scope));
    if (first !== undefined) args.unshift(first);
    const argc = args.length;
    const [a0, a1] = args;
    const evaluateArgs: (input: unknown, frame: Frame) => unknown[] =
      argc === 0
        ? () => []
        : argc === 1
          ? (input, frame) => [a0!(input, frame)]
          : argc === 2
            ? (input, frame) => [a0!(input, frame), a1!(input, frame)]
            : (input, frame) => args.map((arg) => arg(input, frame));
    const native = this.callees.get(name);
    if (this.analysis.lambdaBound.has(name) || native === undefined) {
      const callee = this.callee(name, scope);
      return (input, frame) => {
        const proc = callee(input, frame);
        return done(apply(proc, evaluateArgs(input, frame), input, frame.run));
      };
    }
    const check = fastCheck(native, argc);
    return (input, frame) => {
      const run = frame.run;
      if (run.overrides && hasOwn(run.bindings, name)) return done(apply(run.bindings[name], evaluateArgs(input, frame), input, run));
      const values = evaluateArgs(input, frame);
      if (check !== undefined && check(values)) return done(native.invoke(values, input, run, false));
      return done(applyInner(native, values, input, run, false));
    };
  }

  /** A tail call in a lambda body: the interpreter returns it as a thunk for apply()'s trampoline. */
  private tailCall(node: Node, scope: Scope): Fn {
    const call = node.body!;
    const site: TailSite = { callee: this.callee(call.procedure!.value, scope), args: call.arguments!.map((arg) => this.argument(arg, scope)) };
    return (input, frame) => new Thunk(site, input, frame);
  }
}

// ---------------------------------------------------------------------------------------------
// Operators and paths, as the interpreter evaluates them.

function arithmetic(op: string, lhs: unknown, rhs: unknown): unknown {
  if (lhs !== undefined && !isNumeric(lhs)) return handOver();
  if (rhs !== undefined && !isNumeric(rhs)) return handOver();
  if (lhs === undefined || rhs === undefined) return undefined;
  const l = lhs as number;
  const r = rhs as number;
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return l / r;
    default:
      return l % r;
  }
}

function compare(op: string, lhs: unknown, rhs: unknown): unknown {
  const ltype = typeof lhs;
  const rtype = typeof rhs;
  const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
  const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
  if (!lcomparable || !rcomparable) return handOver();
  if (ltype === 'undefined' || rtype === 'undefined') return undefined;
  if (ltype !== rtype) return handOver();
  const l = lhs as string | number;
  const r = rhs as string | number;
  switch (op) {
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    default:
      return l >= r;
  }
}

function includes(lhs: unknown, rhs: unknown): boolean {
  if (lhs === undefined || rhs === undefined) return false;
  const list = Array.isArray(rhs) ? rhs : [rhs];
  for (let i = 0; i < list.length; i++) if (list[i] === lhs) return true;
  return false;
}

function range(lhs: unknown, rhs: unknown): unknown {
  if (lhs !== undefined && !Number.isInteger(lhs)) return handOver();
  if (rhs !== undefined && !Number.isInteger(rhs)) return handOver();
  if (lhs === undefined || rhs === undefined) return undefined;
  const l = lhs as number;
  const r = rhs as number;
  if (l > r) return undefined;
  const size = r - l + 1;
  if (size > 1e7) return handOver();
  const result: Seq = new Array<unknown>(size);
  for (let item = l, index = 0; item <= r; item++, index++) result[index] = item;
  result.sequence = true;
  return result;
}

function wildcard(input: unknown): unknown {
  let results: Seq = seq();
  let value = input;
  if (Array.isArray(value) && (value as Seq).outerWrapper && value.length > 0) value = value[0];
  if (value !== null && typeof value === 'object' && !isFunction(value)) {
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (Array.isArray(item)) results = append(results, flatten(item)) as Seq;
      else results.push(item);
    }
  }
  return results;
}

function flatten(arg: unknown, flattened: unknown[] = []): unknown[] {
  if (Array.isArray(arg)) arg.forEach((item) => flatten(item, flattened));
  else flattened.push(arg);
  return flattened;
}

function indexFilter(value: number, input: unknown): unknown {
  const results = seq();
  const list = Array.isArray(input) ? input : seq1(input);
  let index = Math.floor(value);
  if (index < 0) index = list.length + index;
  const item = list[index];
  if (item !== undefined) {
    if (Array.isArray(item)) return item;
    results.push(item);
  }
  return results;
}

function predicateFilter(predicate: Fn, input: unknown, frame: Frame): unknown {
  const results = seq();
  const list = Array.isArray(input) ? input : seq1(input);
  for (let index = 0; index < list.length; index++) {
    const item = list[index];
    let res = predicate(item, frame);
    if (isNumeric(res)) res = [res];
    if (isArrayOfNumbers(res)) {
      res.forEach((ires) => {
        let ii = Math.floor(ires);
        if (ii < 0) ii = list.length + ii;
        if (ii === index) results.push(item);
      });
    } else if (fnBoolean(res)) {
      results.push(item);
    }
  }
  return results;
}

interface Step {
  readonly fn: Fn;
  readonly stages: Filter[] | undefined;
  readonly consarray: boolean;
}
interface PathPlan {
  readonly steps: readonly Step[];
  readonly firstIsVariable: boolean;
  readonly keepSingletonArray: boolean;
}

function nameStep(name: string, keepArray: boolean): Fn {
  return (item) => {
    if (!Array.isArray(item)) {
      if (item === null || typeof item !== 'object' || !hasOwn(item, name) || isFunction(item)) return undefined;
      return norm((item as Record<string, unknown>)[name], keepArray);
    }
    return norm(lookup(item, name), keepArray);
  };
}

/** jsonata's evaluatePath(). */
function evaluatePath(plan: PathPlan, input: unknown, frame: Frame): unknown {
  let inputSequence: any = Array.isArray(input) && !plan.firstIsVariable ? input : seq1(input);
  let resultSequence: any;
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.consarray) resultSequence = step.fn(inputSequence, frame);
    else resultSequence = evaluateStep(step, inputSequence, frame, i === steps.length - 1);
    if (resultSequence === undefined || resultSequence.length === 0) break;
    inputSequence = resultSequence;
  }
  if (plan.keepSingletonArray) {
    if (Array.isArray(resultSequence) && (resultSequence as Seq).cons && !(resultSequence as Seq).sequence) resultSequence = seq1(resultSequence);
    resultSequence.keepSingleton = true;
  }
  return resultSequence;
}

/** jsonata's evaluateStep(). */
function evaluateStep(step: Step, input: unknown[], frame: Frame, lastStep: boolean): Seq {
  const result: unknown[] = [];
  for (let i = 0; i < input.length; i++) {
    let res = step.fn(input[i], frame);
    if (step.stages !== undefined) for (const stage of step.stages) res = stage(res, frame);
    if (res !== undefined) result.push(res);
  }
  if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0] as Seq;
  const resultSequence = seq();
  result.forEach((res) => {
    if (!Array.isArray(res) || (res as Seq).cons) resultSequence.push(res);
    else res.forEach((value) => resultSequence.push(value));
  });
  return resultSequence;
}

type ObjectBuilder = (values: readonly Fn[], input: unknown, frame: Frame) => Record<string, unknown>;

/** `(values, input, frame) => ({ k0: values[0](...), ... })` leaving out undefined values, for literal keys. */
function objectBuilder(keys: readonly string[]): ObjectBuilder {
  // The keys are string literals of the expression, written into the code as JSON string literals.
  const stores = keys.map((key, i) => `v = values[${i}](input, frame);\nif (v !== undefined) o[${JSON.stringify(key)}] = v;`);
  return new Function('values', 'input', 'frame', `'use strict';\nconst o = {};\nlet v;\n${stores.join('\n')}\nreturn o;`) as ObjectBuilder;
}

/** jsonata's evaluateGroupExpression() for an object constructor (no tuple stream). */
function evaluateGroup(pairs: readonly (readonly [Fn, Fn])[], input: unknown, frame: Frame): unknown {
  const items = Array.isArray(input) ? input : seq1(input);
  // The interpreter pushes `undefined` into an empty input array (mutating the document): leave that to it.
  if (items.length === 0) return handOver();
  const groups: Record<string, { data: unknown; exprIndex: number }> = Object.create(null);
  for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
    const item = items[itemIndex];
    for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
      const key = pairs[pairIndex]![0](item, frame);
      if (typeof key !== 'string' && key !== undefined) return handOver();
      if (key === undefined) continue;
      if (key === '_jsonata_lambda' || key === '_jsonata_function') return handOver();
      const group = groups[key];
      if (group !== undefined) {
        if (group.exprIndex !== pairIndex) return handOver();
        group.data = append(group.data, item);
      } else {
        groups[key] = { data: item, exprIndex: pairIndex };
      }
    }
  }
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(groups)) {
    const group = groups[key]!;
    const value = pairs[group.exprIndex]![1](group.data, frame);
    if (value !== undefined) setKey(result, key, value);
  }
  return result;
}
