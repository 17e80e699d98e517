// Runtime values of compiled code, kept in the interpreter's representation.
import { type Validator } from './ast.js';

/** Variables an evaluation sees besides its input, as jsonata's `evaluate(input, bindings)`. */
export type Bindings = Readonly<Record<string, unknown>>;

/** A sequence (or any array carrying the interpreter's flags). */
export type Seq = unknown[] & { sequence?: boolean; keepSingleton?: boolean; outerWrapper?: boolean; cons?: boolean; tupleStream?: boolean };

/** Thrown to hand an evaluation over to the interpreter. Never seen by users. */
export const HANDOVER = new Error('compiled evaluation handed over to the interpreter');
export const handOver = (): never => {
  throw HANDOVER;
};

export const UNBOUND = Symbol('unbound');
export const NO_VARS: unknown[] = [];
export function newVars(size: number): unknown[] {
  const vars: unknown[] = [UNBOUND];
  for (let i = 1; i < size; i++) vars.push(UNBOUND);
  return vars;
}
export const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);

/** Per evaluation: the bindings, the root document (`$$`) and the instant `$now()` reports. */
export class Run {
  timestamp: number | undefined = undefined;
  focus: Focus | undefined = undefined;
  constructor(
    readonly bindings: Bindings,
    readonly root: unknown,
    /** Whether a binding replaces a function the expression may call (sluice's frozen $now). */
    readonly overrides: boolean,
    readonly program: Program,
  ) {}
}

/** What a compiled expression shares with every evaluation of it. */
export interface Program {
  /** Function definition objects (built-ins as values) -> the Native compiled code calls for each. */
  readonly natives: ReadonlyMap<object, unknown>;
  /** $eval(): evaluates JSONata text against `input` as compiled code, or hands over. */
  evaluateText(source: string, input: unknown, run: Run): unknown;
}

/** A variable frame: one per block or lambda invocation that binds variables, as JSONata's createFrame. */
export class Frame {
  constructor(
    readonly vars: unknown[],
    readonly parent: Frame | undefined,
    readonly run: Run,
  ) {}
}

/** A compiled node: evaluates against `input` in `frame`. */
export type Fn = (input: unknown, frame: Frame) => unknown;
/** A compiled predicate stage: filters a value. */
export type Filter = (input: unknown, frame: Frame) => unknown;

/** The `this` JSONata gives the functions it calls. */
export interface Focus {
  input: unknown;
  readonly environment: { lookup(name: string): unknown; readonly timestamp: Date };
  readonly options: undefined;
  readonly createSequence: (...items: unknown[]) => Seq;
}

export interface LambdaDef {
  readonly arity: number;
  readonly slots: readonly number[];
  readonly frameSize: number;
  readonly signature: Validator | undefined;
  readonly body: Fn;
}

/** A lambda closure. The `_jsonata_lambda` flag makes JSONata's signature checks see a function. */
export class Lambda {
  readonly _jsonata_lambda = true;
  constructor(
    readonly def: LambdaDef,
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
}

/** A tail call returned by a lambda body, run by apply()'s trampoline as in the interpreter. */
export interface TailSite {
  readonly callee: Fn;
  readonly args: readonly Fn[];
}
export class Thunk {
  constructor(
    readonly site: TailSite,
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
}

export type Invoke = (args: unknown[], input: unknown, run: Run, rawLambdas: boolean) => unknown;

export function createSequence(...items: unknown[]): Seq {
  const sequence: Seq = [];
  sequence.sequence = true;
  if (items.length === 1) sequence.push(items[0]);
  return sequence;
}
export function seq(): Seq {
  const sequence: Seq = [];
  sequence.sequence = true;
  return sequence;
}
export function seq1(item: unknown): Seq {
  const sequence: Seq = [item];
  sequence.sequence = true;
  return sequence;
}
export const isSequence = (value: unknown): value is Seq => Array.isArray(value) && (value as Seq).sequence === true;

export function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return v._jsonata_function === true || v._jsonata_lambda === true;
}

/** utils.isNumeric: a non-NaN number; a non-finite one is the interpreter's error D1001. */
export function isNumeric(n: unknown): n is number {
  if (typeof n !== 'number') return false;
  if (Number.isNaN(n)) return false;
  if (!Number.isFinite(n)) handOver();
  return true;
}

export function isArrayOfNumbers(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false;
  let all = true;
  // Every item is checked, as the interpreter's filter() does: a non-finite one fails.
  value.forEach((item) => {
    if (!isNumeric(item)) all = false;
  });
  return all;
}

export function isDeepEqual(lhs: any, rhs: any): boolean {
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

export function isPromiseLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'then' in value && typeof (value as { then: unknown }).then === 'function';
}
export function isIterator(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Symbol.iterator in value && 'next' in value && typeof (value as { next: unknown }).next === 'function';
}

/** The interpreter's per-node result normalisation: empty sequence -> nothing, singleton -> its item. */
export function norm(result: unknown, keepArray: boolean): unknown {
  if (Array.isArray(result) && (result as Seq).sequence === true) {
    const sequence = result as Seq;
    // A tuple stream (context and positional bindings, parents) passes on as it is.
    if (sequence.tupleStream) return result;
    if (keepArray) sequence.keepSingleton = true;
    if (sequence.length === 0) return undefined;
    if (sequence.length === 1) return sequence.keepSingleton ? sequence : sequence[0];
  }
  return result;
}

/** norm() without keepArray, for the nodes that normalise their own result. */
export const normal = (result: unknown): unknown => (Array.isArray(result) ? norm(result, false) : result);
/** Node types whose compiled closure already normalises its result. */
export const SELF_NORMALISING = new Set(['variable', 'path', 'function', 'apply']);

/** functions.js lookup(). */
export function lookup(input: unknown, key: string): unknown {
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
export function append(arg1: unknown, arg2: unknown): unknown {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  const a1 = Array.isArray(arg1) ? arg1 : seq1(arg1);
  const a2 = Array.isArray(arg2) ? arg2 : [arg2];
  return a1.concat(a2);
}

export function setKey(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

export function focusOf(run: Run, input: unknown): Focus {
  let focus = run.focus;
  if (focus === undefined) {
    focus = run.focus = { input, environment: new FocusEnvironment(run), options: undefined, createSequence };
  } else {
    focus.input = input;
  }
  return focus;
}

/** The `environment` JSONata gives the functions it calls: variable look-up and the evaluation's instant. */
class FocusEnvironment {
  constructor(private readonly run: Run) {}
  lookup(name: string): unknown {
    const run = this.run;
    return name === '$' ? run.root : hasOwn(run.bindings, name) ? run.bindings[name] : undefined;
  }
  /** As the interpreter's environment.timestamp ($toMillis with a picture lacking date parts takes them from it). */
  get timestamp(): Date {
    return new Date((this.run.timestamp ??= Date.now()));
  }
}

let sites = 0;
/**
 * A fresh copy of `factory` (a function referring to nothing but its parameters and globals),
 * made from its source text: the closures one copy makes share no type feedback with another's,
 * so each call site of a hot node kind is monomorphic instead of all of them megamorphic.
 */
export function perSite<T extends (...args: any[]) => unknown>(factory: T): T {
  // The comment makes each source unique: V8 would otherwise reuse the compiled copy and its
  // feedback. It also names the copy in CPU profiles (`compiled:nativeCall:12`).
  return new Function(`'use strict';\nreturn ${factory.toString()}\n//# sourceURL=compiled:${factory.name}:${++sites}`)() as T;
}
