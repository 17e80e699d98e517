// JSONata's own function implementations, taken from the library so that they behave exactly as
// in the interpreter ($round rounds half to even, $string formats numbers to 15 digits, ...).
import jsonata from 'jsonata';
import { type Node, type Validator } from './ast.js';
import { type FunctionDefinition, Native, arityOf, callBack, callFunction } from './calls.js';
import { fastJoin, fastKeys, fastRound, fastString, fastSubstring, fastType } from './fast.js';
import { evaluateMatcher } from './regex.js';
import { type Invoke, Run, focusOf, handOver, perSite, isArrayOfNumbers, isFunction, isNumeric, isIterator, isPromiseLike, isSequence, seq, setKey } from './runtime.js';

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
export const fnString = fastString(DEFINITIONS.string!.implementation) as (value: unknown) => string | undefined;
export const fnFromMillis = DEFINITIONS.fromMillis!.implementation;

/** fn.boolean as a condition sees it: nothing is false. */
export function truthy(value: unknown): boolean {
  if (value === true) return true;
  if (value === false || value === undefined) return false;
  return fnBoolean(value) === true;
}

/**
 * How many times a filter keeps item `index` of a list of `length` for its predicate's result
 * `res`, as jsonata's evaluateFilter(): a number or an array of numbers selects positions (negative
 * from the end; a position listed twice keeps the item twice), anything else keeps it once when
 * truthy.
 */
export function predicateKeeps(res: unknown, index: number, length: number): number {
  if (isNumeric(res)) res = [res];
  if (!isArrayOfNumbers(res)) return fnBoolean(res) === true ? 1 : 0;
  let kept = 0;
  for (const position of res) {
    let at = Math.floor(position);
    if (at < 0) at = length + at;
    if (at === index) kept++;
  }
  return kept;
}

/** Names whose unbound value is a function: as a value they would escape into data. */
export const FUNCTION_NAMES: ReadonlySet<string> = new Set(JSONATA_FUNCTIONS);

/**
 * Calls a synchronous implementation as the interpreter does; a promise or generator is left to
 * the interpreter. A function argument reaches it as the interpreter's closure would (a function
 * of the same arity; none of these implementations calls it).
 */
export function invokeSync(implementation: (...args: any[]) => unknown, signature?: Validator): Invoke {
  // Only a parameter of type f or x (or no signature) lets a function through validation.
  const mayTakeFunctions = signature === undefined || /[fx]/.test(signature.definition.replace(/:.*$/, ''));
  // One copy per function (perSite): its call of the implementation then meets one target.
  return perSite(invoker)({ implementation, mayTakeFunctions, isFunction, handOver, standIn, focusOf, isIterator, isPromiseLike });
}

function invoker(deps: {
  implementation: (...args: any[]) => unknown;
  mayTakeFunctions: boolean;
  isFunction: typeof isFunction;
  handOver: typeof handOver;
  standIn: typeof standIn;
  focusOf: typeof focusOf;
  isIterator: typeof isIterator;
  isPromiseLike: typeof isPromiseLike;
}): Invoke {
  const { implementation, mayTakeFunctions, isFunction, handOver, standIn, focusOf, isIterator, isPromiseLike } = deps;
  return (args, input, run, raw) => {
    if (mayTakeFunctions) for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'object' && arg !== null && isFunction(arg)) {
        if (raw) return handOver();
        args[i] = standIn(arg);
      }
    }
    const result = implementation.apply(focusOf(run, input), args);
    if (isIterator(result) || isPromiseLike(result)) return handOver();
    return result;
  };
}

/** Faster twins, equal to JSONata's own implementations (compiler/fast.ts). */
const FAST: Record<string, (original: (...args: any[]) => unknown) => (...args: any[]) => unknown> = {
  round: fastRound,
  substring: fastSubstring,
  string: fastString,
  join: fastJoin,
  keys: fastKeys,
  type: fastType,
};

/**
 * JSONata's built-ins whose implementations never read `this` (JSONata's focus: createSequence,
 * environment, options), checked against their source by a test; their faster twins only hand
 * `this` on to them. Setting up the focus costs a direct call of one of these more than the call.
 */
export const FOCUS_FREE: ReadonlySet<string> = new Set([
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'join', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power',
  'boolean', 'not', 'exists', 'type',
]);

export const BUILTINS = new Map<string, Native>();
for (const [name, definition] of Object.entries(DEFINITIONS)) {
  if (name === 'now' || name === 'millis') continue;
  const implementation = definition.implementation;
  if (implementation.constructor.name === 'AsyncFunction') continue;
  const fast = FAST[name]?.(implementation) ?? implementation;
  BUILTINS.set(name, new Native(name, definition.signature, invokeSync(fast, definition.signature), implementation, fast, FOCUS_FREE.has(name)));
}

function standIn(func: unknown): unknown {
  const closure = (): unknown => handOver();
  (closure as { arity?: number }).arity = arityOf(func);
  return closure;
}

const keysOf = (value: unknown): string[] => (typeof value === 'object' && value !== null ? Object.keys(value) : []);
const isArrayOfStrings = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** functions.js sort()'s merge sort, synchronous: the same comparisons in the same order. */
export function mergeSort(list: unknown[], swap: (a: unknown, b: unknown) => boolean): unknown[] {
  if (list.length <= 1) return list;
  const middle = Math.floor(list.length / 2);
  const left = mergeSort(list.slice(0, middle), swap);
  const right = mergeSort(list.slice(middle), swap);
  const merged: unknown[] = [];
  let l = 0;
  let r = 0;
  while (l < left.length && r < right.length) {
    if (swap(left[l], right[r])) merged.push(right[r++]);
    else merged.push(left[l++]);
  }
  while (l < left.length) merged.push(left[l++]);
  while (r < right.length) merged.push(right[r++]);
  return merged;
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
    const list = sequence as unknown[];
    const arity = arityOf(func);
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
      result = callFunction(func, args, raw, run);
      index++;
    }
    return result;
  },
  contains([str, token]) {
    if (str === undefined || token === undefined) return undefined;
    if (typeof token === 'string') return (str as string).indexOf(token) !== -1;
    return evaluateMatcher(token, str as string) !== undefined;
  },
  split([str, separator, limit]) {
    if (str === undefined) return undefined;
    if ((limit as number) < 0) return handOver();
    const text = str as string;
    let result: string[] = [];
    if (limit === undefined || (limit as number) > 0) {
      if (typeof separator === 'string') return text.split(separator, limit as number | undefined);
      let count = 0;
      let matches = evaluateMatcher(separator, text);
      if (matches === undefined) return [text];
      let start = 0;
      while (matches !== undefined && (limit === undefined || count < (limit as number))) {
        result.push(text.substring(start, matches.start));
        start = matches.end;
        matches = evaluateMatcher(matches.next, undefined);
        count++;
      }
      if (limit === undefined || count < (limit as number)) result.push(text.substring(start));
    }
    return result;
  },
  match([str, regex, limit]) {
    if (str === undefined) return undefined;
    if ((limit as number) < 0) return handOver();
    const result = seq();
    if (limit === undefined || (limit as number) > 0) {
      let count = 0;
      let matches = evaluateMatcher(regex, str as string);
      while (matches !== undefined && (limit === undefined || count < (limit as number))) {
        result.push({ match: matches.match, index: matches.start, groups: matches.groups });
        matches = evaluateMatcher(matches.next, undefined);
        count++;
      }
    }
    return result;
  },
  replace([str, pattern, replacement, limit], _input, run, raw) {
    if (str === undefined) return undefined;
    if (pattern === '' || (limit as number) < 0) return handOver();
    const text = str as string;
    if (!(limit === undefined || (limit as number) > 0)) return text;
    let result = '';
    let position = 0;
    let count = 0;
    if (typeof pattern === 'string') {
      if (typeof replacement !== 'string') return handOver();
      let index = text.indexOf(pattern, position);
      while (index !== -1 && (limit === undefined || count < (limit as number))) {
        result += text.substring(position, index);
        result += replacement;
        position = index + pattern.length;
        count++;
        index = text.indexOf(pattern, position);
      }
      return result + text.substring(position);
    }
    let matches = evaluateMatcher(pattern, text);
    if (matches === undefined) return text;
    while (matches !== undefined && (limit === undefined || count < (limit as number))) {
      result += text.substring(position, matches.start);
      const replacedWith = typeof replacement === 'string' ? substitute(replacement, matches) : callFunction(replacement, [matches], raw, run);
      if (typeof replacedWith !== 'string') return handOver();
      result += replacedWith;
      position = matches.start + matches.match.length;
      count++;
      matches = evaluateMatcher(matches.next, undefined);
    }
    return result + text.substring(position);
  },
  sort([arr, comparator], _input, run, raw) {
    if (arr === undefined) return undefined;
    const list = arr as unknown[];
    if (list.length <= 1) return list;
    if (comparator === undefined) {
      if (!isArrayOfNumbers(list) && !isArrayOfStrings(list)) return handOver();
      return mergeSort(list, (a, b) => (a as number) > (b as number));
    }
    // From a tail call the lambda itself would be called as a JavaScript function: it fails there.
    if (raw) return handOver();
    return mergeSort(list, (a, b) => Boolean(callFunction(comparator, [a, b], false, run)));
  },
  sift([arg, func], _input, run, raw) {
    const result: Record<string, unknown> = {};
    let any = false;
    for (const key of keysOf(arg)) {
      const entry = (arg as Record<string, unknown>)[key];
      if (fnBoolean(callBack(func, entry, key, arg, raw, run))) {
        setKey(result, key, entry);
        any = true;
      }
    }
    return any ? result : undefined;
  },
  each([obj, func], _input, run, raw) {
    const result = seq();
    for (const key of keysOf(obj)) {
      const value = callBack(func, (obj as Record<string, unknown>)[key], key, obj, raw, run);
      if (value !== undefined) result.push(value);
    }
    return result;
  },
  eval([expr, focus], input, run) {
    if (expr === undefined) return undefined;
    let context = input;
    if (focus !== undefined) {
      context = focus;
      if (Array.isArray(context) && !isSequence(context)) {
        const wrapper = seq();
        wrapper.push(context);
        wrapper.outerWrapper = true;
        context = wrapper;
      }
    }
    return run.program.evaluateText(expr as string, context, run);
  },
};

/** $replace()'s substitution of `$0`, `$1`… in a replacement string, as functions.js does it. */
function substitute(replacement: string, regexMatch: { match: string; groups: string[] }): string {
  let out = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const dollarVal = replacement.charAt(position);
    if (dollarVal === '$') {
      out += '$';
      position++;
    } else if (dollarVal === '0') {
      out += regexMatch.match;
      position++;
    } else {
      const maxDigits = regexMatch.groups.length === 0 ? 1 : Math.floor(Math.log(regexMatch.groups.length) * Math.LOG10E) + 1;
      index = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && index > regexMatch.groups.length) index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!isNaN(index)) {
        if (regexMatch.groups.length > 0) {
          const submatch = regexMatch.groups[index - 1];
          if (submatch !== undefined) out += submatch;
        }
        position += index.toString().length;
      } else {
        out += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  return out + replacement.substring(position);
}
for (const [name, invoke] of Object.entries(REIMPLEMENTED)) {
  BUILTINS.set(name, new Native(name, DEFINITIONS[name]!.signature, invoke, DEFINITIONS[name]!.implementation));
}

export const timestampOf = (run: Run): number => (run.timestamp ??= Date.now());
export const NOW = new Native(
  'now',
  parseSignature('<s?s?:s>'),
  (args, input, run) => fnFromMillis.call(focusOf(run, input), timestampOf(run), args[0], args[1]),
  DEFINITIONS.now!.implementation,
);
export const MILLIS = new Native('millis', parseSignature('<:n>'), (_args, _input, run) => timestampOf(run), DEFINITIONS.millis!.implementation);

/** Built-in names the compiler does not call: an expression calling one is interpreted. */
export const NOT_COMPILED = new Set(JSONATA_FUNCTIONS.filter((name) => !BUILTINS.has(name) && name !== 'now' && name !== 'millis'));
/** The functions an expression can call by name, and their definitions as values (`$string` without a call). */
export interface Callees {
  readonly byName: Map<string, Native>;
  /** name -> the definition object the interpreter's variable holds. */
  readonly definitions: Map<string, FunctionDefinition>;
  /** definition object -> the function compiled code calls for it. */
  readonly natives: Map<object, Native>;
}

/** Callee tables by `options.functions`: parsing every signature (with JSONata's parser) per expression cost most of a compile. */
const calleeTables = new WeakMap<object, Callees>();
const NO_FUNCTIONS = {};

/** The functions compiled code may call, built once per `options.functions` object. */
export function calleeTable(options: CompilerOptions): Callees {
  const key = options.functions ?? NO_FUNCTIONS;
  let table = calleeTables.get(key);
  if (table === undefined) calleeTables.set(key, (table = buildCalleeTable(options)));
  return table;
}

function buildCalleeTable(options: CompilerOptions): Callees {
  const byName = new Map(BUILTINS);
  byName.set('now', NOW);
  byName.set('millis', MILLIS);
  const definitions = new Map<string, FunctionDefinition>();
  for (const name of JSONATA_FUNCTIONS) definitions.set(name, DEFINITIONS[name] as unknown as FunctionDefinition);
  for (const [name, [implementation, signature]] of Object.entries(options.functions ?? {})) {
    const validator = parseSignature(signature);
    if (validator === undefined) {
      byName.delete(name);
      definitions.delete(name);
    } else {
      byName.set(name, new Native(name, validator, invokeSync(implementation, validator), implementation, implementation));
      definitions.set(name, { _jsonata_function: true, implementation, signature: validator });
    }
  }
  const natives = new Map<object, Native>();
  for (const [name, definition] of definitions) {
    const native = byName.get(name);
    if (native !== undefined) natives.set(definition, native);
  }
  return { byName, definitions, natives };
}
