// Calling functions as the interpreter does: signatures, apply()'s trampoline, lambdas.
import { type Validator } from './ast.js';
import { inlineDeps, valueCode } from './inline.js';
import { type Fn, Frame, type Invoke, Lambda, Run, Thunk, focusOf, handOver, hasOwn, isFunction, isIterator, isPromiseLike, newVars, norm } from './runtime.js';

export interface Param {
  readonly letter: string;
  readonly types: string;
  readonly array: boolean;
  optional: boolean;
  context: boolean;
  subtype?: string;
}

/** A function the compiled code calls by name: JSONata's built-ins and the registered functions. */
export class Native {
  readonly params: Param[] | undefined;
  /** How many arguments a partial application of it takes: its JavaScript parameters, as the interpreter counts them. */
  readonly partialArity: number;
  /** fastCheck() per argument count, made on first use (null: none exists for that count). */
  #checks: (((args: unknown[]) => boolean) | null)[] = [];
  constructor(
    readonly name: string,
    readonly signature: Validator | undefined,
    readonly invoke: Invoke,
    /** The JavaScript implementation JSONata would call (its parameters name a partial application's). */
    source: (...args: any[]) => unknown,
    /**
     * The synchronous implementation `invoke` calls with JSONata's focus as `this` and the
     * validated arguments (a faster twin of JSONata's own, see fast.ts), when `invoke` is
     * invokeSync()'s: a call site may then call it directly (directCall()).
     */
    readonly implementation?: (...args: any[]) => unknown,
    /** Whether `implementation` never reads `this`: a direct call then skips setting up JSONata's focus. */
    readonly focusFree = false,
  ) {
    this.params = signature === undefined ? [] : parseParams(signature.definition);
    this.partialArity = /\(([^)]*)\)/.exec(source.toString())![1]!.split(',').length;
  }

  /**
   * The signature's validation of `args`, as the interpreter's validator gives it. Arguments that
   * fastCheck() accepts are returned as they are (padded) without running JSONata's validator,
   * which builds a symbol string and matches a regular expression on every call.
   */
  validate(args: unknown[], callInput: unknown): unknown[] {
    const signature = this.signature;
    if (signature === undefined) return args;
    const argc = args.length;
    let check = this.#checks[argc];
    if (check === undefined) check = this.#checks[argc] = fastCheck(this, argc) ?? null;
    return check !== null && check(args) ? args : signature.validate(args, callInput);
  }
}

/** A `?` in a partial application. */
export const HOLE = Symbol('?');

/**
 * A partial application (`$f(?, 2)`): the interpreter makes it a lambda without a signature whose
 * parameters are the holes, so it is called without validation.
 */
export class Partial {
  readonly _jsonata_lambda = true;
  readonly arity: number;
  constructor(
    readonly target: Lambda | Native,
    /** One per parameter of the target: a bound value or HOLE. */
    readonly slots: readonly unknown[],
  ) {
    this.arity = slots.filter((slot) => slot === HOLE).length;
  }
}

/** `f ~> g` for two functions: the interpreter's `λ($x){ $g($f($x)) }`. */
export class Composition {
  readonly _jsonata_lambda = true;
  readonly arity = 1;
  constructor(
    readonly f: unknown,
    readonly g: unknown,
  ) {}
}

/** A function definition object (`_jsonata_function`), as the interpreter holds built-ins and registered functions. */
export interface FunctionDefinition {
  readonly _jsonata_function: true;
  readonly implementation: (...args: any[]) => unknown;
  readonly signature?: Validator;
}

const isDefinition = (value: unknown): value is FunctionDefinition =>
  typeof value === 'object' && value !== null && (value as { _jsonata_function?: unknown })._jsonata_function === true;

/** utils.getFunctionArity() for the values compiled code holds. */
export function arityOf(func: unknown): number {
  if (func instanceof Lambda) return func.def.arity;
  if (func instanceof Partial || func instanceof Composition) return func.arity;
  if (isDefinition(func)) return func.implementation.length;
  if (typeof func === 'function') {
    const arity = (func as { arity?: unknown }).arity;
    return typeof arity === 'number' ? arity : func.length;
  }
  return handOver();
}
/**
 * The parameters of a simple signature, to check common calls without JSONata's validator (which
 * builds a string and runs a regular expression per call). Undefined when the signature is not
 * simple (`+`, nested choices); such calls always go through the validator.
 */
export function parseParams(definition: string): Param[] | undefined {
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
export function symbolOf(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return 's';
    case 'number':
      return 'n';
    case 'boolean':
      return 'b';
    case 'function':
      return 'f';
    case 'object':
      // A flagged object (a lambda, a definition) is a function, as isFunction() says.
      return value === null ? 'l' : isFunction(value) ? 'f' : Array.isArray(value) ? 'a' : 'o';
    default:
      return 'm';
  }
}

const SYMBOL_BITS: Readonly<Record<string, number>> = { s: 1, n: 2, b: 4, l: 8, a: 16, o: 32, f: 64, m: 128 };
/** symbolOf() as one bit of SYMBOL_BITS. */
function symbolBit(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 1;
    case 'number':
      return 2;
    case 'boolean':
      return 4;
    case 'function':
      return 64;
    case 'object':
      return value === null ? 8 : isFunction(value) ? 64 : Array.isArray(value) ? 16 : 32;
    default:
      return 128;
  }
}

/**
 * For each of `argc` arguments (`v0`, `v1`, ... in generated code), a JavaScript condition that
 * holds only when the validator would return that argument as it is: its type is the one its
 * parameter names, positionally, and every missing parameter is optional and not taken from the
 * context. Undefined when no such conditions exist (a signature that is not simple, too many
 * arguments). `functions: false`: the conditions also exclude function values.
 */
function argumentConditions(native: Native, argc: number, functions: boolean): string[] | undefined {
  const params = native.params;
  if (native.signature === undefined || params === undefined || argc > params.length) return undefined;
  for (let j = argc; j < params.length; j++) if (!params[j]!.optional || params[j]!.context) return undefined;
  const conditions: string[] = [];
  for (let i = 0; i < argc; i++) {
    const param = params[i]!;
    const v = `v${i}`;
    let mask = [...param.types].reduce((m, symbol) => m | (SYMBOL_BITS[symbol] ?? 0), 0);
    if (!functions) mask &= ~SYMBOL_BITS.f!;
    if (mask === 0) return undefined;
    let test: string;
    if (param.array) {
      test = `symbolBit(${v}) === ${SYMBOL_BITS.a}`;
      if (param.subtype !== undefined) {
        const symbol = param.subtype.charAt(0);
        test += symbol === 's' ? ` && stringItems(${v})` : ` && itemsAre(${v}, ${JSON.stringify(symbol)})`;
      }
    } else {
      const only = { 1: 'string', 2: 'number', 4: 'boolean' }[mask];
      test = only !== undefined ? `typeof ${v} === '${only}'` : `(symbolBit(${v}) & ${mask}) !== 0`;
    }
    // Nothing passes validation as nothing, but for a function parameter.
    conditions.push(param.letter === 'f' ? `(${v} !== undefined && ${test})` : `(${v} === undefined || ${test})`);
  }
  return conditions;
}

/** itemsAre(list, 's') (the items of $join's array) without symbolOf()'s switch per item. */
function stringItems(list: unknown[]): boolean {
  for (let k = 0; k < list.length; k++) if (typeof list[k] !== 'string') return false;
  return true;
}

/** Whether every item's signature symbol is `symbol`. */
function itemsAre(list: unknown[], symbol: string): boolean {
  for (let k = 0; k < list.length; k++) if (symbolOf(list[k]) !== symbol) return false;
  return true;
}

/**
 * A check that `argc` arguments are exactly what the validator would return, so it can be
 * skipped (see argumentConditions); it pads the arguments with undefined to the parameters' count,
 * as the validator does.
 */
export function fastCheck(native: Native, argc: number): ((args: unknown[]) => boolean) | undefined {
  const conditions = argumentConditions(native, argc, true);
  if (conditions === undefined) return undefined;
  const loads = conditions.map((_, i) => `const v${i} = args[${i}];`).join('\n');
  const make = new Function(
    'symbolBit',
    'itemsAre',
    'stringItems',
    `'use strict';\nreturn function check(args) {\n${loads}\nif (!(${conditions.join(' && ') || 'true'})) return false;\nwhile (args.length < ${native.params!.length}) args.push(undefined);\nreturn true;\n};`,
  );
  return make(symbolBit, itemsAre, stringItems) as (args: unknown[]) => boolean;
}

/** What a call site generated by directCall() refers to. */
export interface DirectCallDeps {
  readonly native: Native;
  readonly name: string;
  readonly args: readonly Fn[];
  readonly done: (value: unknown) => unknown;
}

/**
 * A call of a built-in or registered function by its name, generated for this call site: its
 * arguments evaluated into locals and, where they are exactly what the validator would return
 * (argumentConditions(), functions excluded: invokeSync() would wrap those), the implementation
 * called with them directly, as invokeSync()'s invoker calls it (JSONata's focus as `this`, the
 * arguments padded to the parameters' count, a promise or generator left to the interpreter).
 * Any other arguments take applyInner() (the validator), as before. Undefined when the function
 * has no such implementation or the call's arguments cannot be checked that way.
 */
export function directCall(deps: DirectCallDeps): Fn | undefined {
  const { native, name, args, done } = deps;
  const implementation = native.implementation;
  if (implementation === undefined) return undefined;
  const argc = args.length;
  const conditions = argumentConditions(native, argc, false);
  if (conditions === undefined) return undefined;
  const values = args.map((_, i) => `v${i}`);
  const padded = [...values];
  while (padded.length < native.params!.length) padded.push('undefined');
  // A path of field names as an argument is read in place (inline.ts valueCode()).
  const slows: Fn[] = [];
  const loads = args.map((arg, i) => valueCode(arg, `v${i}`, `a${i}`, slows));
  const code = `'use strict';
const [${args.map((_, i) => `a${i}`).join(', ')}] = args;
return function call(input, frame) {
  const run = frame.run;
  if (run.overrides && hasOwn(run.bindings, name)) return done(apply(run.bindings[name], [${args.map((_, i) => `a${i}(input, frame)`).join(', ')}], input, run));
${loads.join('\n')}
  if (${conditions.join(' && ') || 'true'}) {
    const r = implementation.call(${native.focusFree ? 'undefined' : 'focusOf(run, input)'}${padded.map((v) => `, ${v}`).join('')});
    if (typeof r === 'object' && r !== null && (isIterator(r) || isPromiseLike(r))) return handOver();
    return done(r);
  }
  return done(applyInner(native, [${values.join(', ')}], input, run, false));
};
//# sourceURL=compiled:call:${name.replace(/[^\w$]/g, '_')}:${++directCalls}`;
  const make = new Function('args', 'native', 'name', 'implementation', 'done', 'apply', 'applyInner', 'hasOwn', 'focusOf', 'isIterator', 'isPromiseLike', 'handOver', 'symbolBit', 'itemsAre', 'stringItems', 'inline', code);
  return make(args, native, name, implementation, done, apply, applyInner, hasOwn, focusOf, isIterator, isPromiseLike, handOver, symbolBit, itemsAre, stringItems, inlineDeps(slows)) as Fn;
}
let directCalls = 0;

/** jsonata's apply(): applies a function and runs the tail calls it returns. */
export function apply(proc: unknown, args: unknown[], callInput: unknown, run: Run): unknown {
  return trampoline(applyInner(proc, args, callInput, run, false), callInput, run);
}

/** apply()'s loop: runs the tail calls a first result returns, until a value. */
export function trampoline(first: unknown, callInput: unknown, run: Run): unknown {
  let result = first;
  for (;;) {
    if (result instanceof Thunk) {
      const { site, input, frame } = result;
      const next = site.callee(input, frame);
      const nextArgs = site.args.map((arg) => arg(input, frame));
      result = applyInner(next, nextArgs, callInput, run, true);
    } else if (result instanceof TailResult) {
      result = applyInner(result.proc, result.args, callInput, run, true);
    } else {
      return result;
    }
  }
}

/** Whether a lambda's result is a tail call for apply()'s trampoline to run. */
export const isTailCall = (result: unknown): boolean => result instanceof Thunk || result instanceof TailResult;

/** A tail call with its procedure and arguments already evaluated (a composition's $g). */
class TailResult {
  constructor(
    readonly proc: unknown,
    readonly args: unknown[],
  ) {}
}

/** applyProcedure() for a partial application: no validation; unfilled parameters are undefined. */
function invokePartial(partial: Partial, args: unknown[], run: Run): unknown {
  const full: unknown[] = [];
  let next = 0;
  for (const slot of partial.slots) {
    if (slot !== HOLE) full.push(slot);
    else if (next < partial.arity && next < args.length) full.push(args[next++]);
    else full.push(undefined);
  }
  const target = partial.target;
  if (target instanceof Lambda) return runLambda(target, full);
  // A native: called as applyNativeFunction() does, with the arguments bound so far (functions
  // bound at the partial application are raw lambdas; any given now would be wrapped: leave those).
  for (let i = 0; i < args.length; i++) if (isFunction(args[i])) return handOver();
  if (target.name === 'eval') return handOver();
  return target.invoke(full, undefined, run, true);
}

/** Partially applies a function value (`proc(args with HOLEs)`), as evaluatePartialApplication(). */
export function partiallyApply(proc: unknown, args: unknown[], run: Run): Partial {
  if (proc instanceof Lambda) {
    const slots = proc.def.slots.map((_, i) => (i < args.length ? args[i] : undefined));
    return new Partial(proc, slots);
  }
  if (proc instanceof Partial) {
    // Its parameters are its holes.
    let next = 0;
    const slots = proc.slots.map((slot) => {
      if (slot !== HOLE) return slot;
      const i = next++;
      return i < args.length ? args[i] : undefined;
    });
    return new Partial(proc.target, slots);
  }
  const native = proc instanceof Native ? proc : isDefinition(proc) ? (run.program.natives.get(proc) as Native | undefined) : undefined;
  if (native === undefined) return handOver();
  const slots: unknown[] = [];
  for (let i = 0; i < native.partialArity; i++) slots.push(i < args.length ? args[i] : undefined);
  return new Partial(native, slots);
}

/** jsonata's applyInner(). */
export function applyInner(proc: unknown, args: unknown[], callInput: unknown, run: Run, rawLambdas: boolean): unknown {
  if (proc instanceof Lambda) return invokeLambda(proc, args, callInput);
  if (proc instanceof Native) return proc.invoke(proc.validate(args, callInput), callInput, run, rawLambdas);
  if (proc instanceof Partial) return invokePartial(proc, args, run);
  if (proc instanceof Composition) {
    // The body `$g($f($x))`: $f($x) is an ordinary call (its context is the chain's, null), $g a tail call.
    const x = norm(apply(proc.f, [args[0]], null, run), false);
    return new TailResult(proc.g, [x]);
  }
  if (isDefinition(proc)) {
    const native = run.program.natives.get(proc) as Native | undefined;
    if (native === undefined) return handOver();
    return native.invoke(native.validate(args, callInput), callInput, run, rawLambdas);
  }
  if (typeof proc === 'function') {
    // A plain JavaScript function: a regular expression's matcher, or one passed in the bindings
    // (sluice's frozen $now / $millis).
    const result = (proc as (...a: unknown[]) => unknown).apply(callInput, args);
    if (isPromiseLike(result) || isIterator(result)) return handOver();
    return result;
  }
  return handOver();
}

/** jsonata's applyProcedure() for a compiled lambda: may return a Thunk. */
export function invokeLambda(lambda: Lambda, args: unknown[], callInput: unknown): unknown {
  const def = lambda.def;
  return runLambda(lambda, def.signature === undefined ? args : def.signature.validate(args, callInput));
}

function runLambda(lambda: Lambda, validated: unknown[]): unknown {
  const def = lambda.def;
  let frame = lambda.frame;
  if (def.frameSize > 0) {
    frame = new Frame(newVars(def.frameSize), lambda.frame, lambda.frame.run);
    for (let i = 0; i < def.slots.length; i++) frame.vars[def.slots[i]!] = validated[i];
  }
  return def.body(lambda.input, frame);
}

/**
 * Calls a lambda passed to a higher-order function with (value, index, whole) as far as it takes
 * them. Called from a normal call site, JSONata wraps the lambda (its context is then null); from
 * a tail call it passes the lambda itself (its context is then the lambda's own input).
 */
export function callBack(func: unknown, value: unknown, index: unknown, whole: unknown, rawLambdas: boolean, run: Run): unknown {
  const arity = arityOf(func);
  const args = [value];
  if (arity >= 2) args.push(index);
  if (arity >= 3) args.push(whole);
  return callFunction(func, args, rawLambdas, run);
}

/**
 * Calls a function argument as a built-in does (`func.apply(this, args)`): through the closure the
 * interpreter wraps it in (context null), or, from a tail call, the lambda itself (its own input).
 */
export function callFunction(func: unknown, args: unknown[], rawLambdas: boolean, run: Run): unknown {
  if (!rawLambdas) return apply(func, args, null, run);
  if (func instanceof Lambda) return apply(func, args, func.input, run);
  // Other values have no apply() of their own there (the interpreter fails), or are plain functions.
  if (typeof func === 'function') return apply(func, args, undefined, run);
  return handOver();
}
