// JSONata's own function implementations, taken from the library so that they behave exactly as
// in the interpreter ($round rounds half to even, $string formats numbers to 15 digits, ...).
import jsonata from 'jsonata';
import { type Node, type Validator } from './ast.js';
import { Native, apply, callBack } from './calls.js';
import { type Invoke, Lambda, Run, focusOf, handOver, isIterator, isPromiseLike, seq } from './runtime.js';

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

export const JSONATA_FUNCTIONS = [
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter',
  'lowercase', 'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join',
  'formatNumber', 'formatBase', 'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round',
  'abs', 'sqrt', 'power', 'random', 'boolean', 'not', 'map', 'zip', 'filter', 'single', 'reduce',
  'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge', 'reverse', 'each', 'error',
  'assert', 'type', 'sort', 'shuffle', 'distinct', 'base64encode', 'base64decode',
  'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'eval', 'toMillis',
  'fromMillis', 'clone', 'now', 'millis',
];

export interface Definition {
  readonly implementation: (...args: any[]) => unknown;
  readonly signature?: Validator;
}

// Evaluating `{"sum": $sum, ...}` returns the interpreter's function definitions themselves.
export const DEFINITIONS = (await jsonata(`{${JSONATA_FUNCTIONS.map((name) => `"${name}": $${name}`).join(', ')}}`).evaluate(null)) as Record<
  string,
  Definition
>;

/** A JSONata signature validator, parsed by JSONata itself. */
export function parseSignature(signature: string): Validator | undefined {
  try {
    const validator = (jsonata(`function()${signature}{0}`).ast() as Node).signature;
    return validator?.definition === signature ? validator : undefined;
  } catch {
    return undefined;
  }
}

export const fnBoolean = DEFINITIONS.boolean!.implementation as (value: unknown) => boolean | undefined;
export const fnString = DEFINITIONS.string!.implementation as (value: unknown) => string | undefined;
export const fnFromMillis = DEFINITIONS.fromMillis!.implementation;

/** fn.boolean as a condition sees it: nothing is false. */
export function truthy(value: unknown): boolean {
  if (value === true) return true;
  if (value === false || value === undefined) return false;
  return fnBoolean(value) === true;
}

/** Calls a synchronous implementation as the interpreter does; a promise or generator is left to the interpreter. */
export function invokeSync(implementation: (...args: any[]) => unknown): Invoke {
  return (args, input, run) => {
    const result = implementation.apply(focusOf(run, input), args);
    if (isIterator(result) || isPromiseLike(result)) return handOver();
    return result;
  };
}

export const BUILTINS = new Map<string, Native>();
for (const [name, definition] of Object.entries(DEFINITIONS)) {
  if (name === 'now' || name === 'millis') continue;
  const implementation = definition.implementation;
  if (implementation.constructor.name === 'AsyncFunction') continue;
  BUILTINS.set(name, new Native(name, definition.signature, invokeSync(implementation)));
}
/** The asynchronous built-ins, re-implemented synchronously (their signatures are JSONata's). */
export const REIMPLEMENTED: Record<string, Invoke> = {
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

export const timestampOf = (run: Run): number => (run.timestamp ??= Date.now());
export const NOW = new Native('now', parseSignature('<s?s?:s>'), (args, input, run) => fnFromMillis.call(focusOf(run, input), timestampOf(run), args[0], args[1]));
export const MILLIS = new Native('millis', parseSignature('<:n>'), (_args, _input, run) => timestampOf(run));

/** Built-in names the compiler does not call: an expression calling one is interpreted. */
export const NOT_COMPILED = new Set(JSONATA_FUNCTIONS.filter((name) => !BUILTINS.has(name) && name !== 'now' && name !== 'millis'));
/** Higher-order functions whose second argument may be a lambda. */
export const HIGHER_ORDER = new Set(['map', 'filter', 'single', 'reduce']);

export function calleeTable(options: CompilerOptions): Map<string, Native> {
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
