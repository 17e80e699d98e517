// Paths, predicates, wildcards and object constructors, as the interpreter evaluates them.
import { mergeSort } from './functions.js';
import { inlineDeps, valueCode } from './inline.js';
import { type Tuple, type TupleBinding, type TupleFrame, tupleSort, tupleStep } from './tuples.js';
import { type Filter, type Fn, Frame, type Seq, append, handOver, hasOwn, isFunction, isSequence, lookup, norm, seq, seq1, setKey } from './runtime.js';

export function wildcard(input: unknown): unknown {
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

export function flatten(arg: unknown, flattened: unknown[] = []): unknown[] {
  if (Array.isArray(arg)) arg.forEach((item) => flatten(item, flattened));
  else flattened.push(arg);
  return flattened;
}

export function indexFilter(value: number, input: unknown): unknown {
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

export interface Step {
  readonly fn: Fn;
  readonly stages: Filter[] | undefined;
  readonly consarray: boolean;
  /** An order-by step `^(...)`: sorts the whole input sequence. */
  readonly sort?: ((input: unknown[], frame: Frame) => unknown) | undefined;
  /** Whether the path carries tuples from this step on, and what the step binds. */
  readonly tuple?: boolean;
  readonly binding?: TupleBinding;
}
export interface PathPlan {
  readonly steps: readonly Step[];
  readonly firstIsVariable: boolean;
  readonly keepSingletonArray: boolean;
  /** The path is itself flagged tuple (a parent is sought through it): it gives its tuple stream. */
  readonly tuple?: boolean;
  readonly makeFrame?: TupleFrame;
}

const NO_BINDING: TupleBinding = { focus: undefined, index: undefined, ancestor: undefined };

export function nameStep(name: string, keepArray: boolean): Fn {
  return (item) => {
    if (!Array.isArray(item)) {
      if (item === null || typeof item !== 'object' || !hasOwn(item, name) || isFunction(item)) return undefined;
      return norm((item as Record<string, unknown>)[name], keepArray);
    }
    return norm(lookup(item, name), keepArray);
  };
}

/** jsonata's evaluatePath(). */
export function evaluatePath(plan: PathPlan, input: unknown, frame: Frame): unknown {
  let inputSequence: any = Array.isArray(input) && !plan.firstIsVariable ? input : seq1(input);
  let resultSequence: any;
  let isTupleStream = false;
  let tuples: any;
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.tuple) isTupleStream = true;
    if (step.consarray) {
      resultSequence = step.fn(inputSequence, frame);
    } else if (isTupleStream) {
      tuples =
        step.sort !== undefined
          ? tupleSort(step.sort, step.binding?.index, step.stages, inputSequence, tuples as Tuple[] | undefined, frame)
          : tupleStep(step.fn, step.binding ?? NO_BINDING, step.stages, inputSequence, tuples as Tuple[] | undefined, frame, plan.makeFrame!);
    } else if (step.sort !== undefined) {
      resultSequence = step.sort(inputSequence, frame);
      if (step.stages !== undefined) for (const stage of step.stages) resultSequence = stage(resultSequence, frame);
    } else {
      resultSequence = evaluateStep(step, inputSequence, frame, i === steps.length - 1);
    }
    if (!isTupleStream && (resultSequence === undefined || resultSequence.length === 0)) break;
    if (step.binding?.focus === undefined) inputSequence = resultSequence;
  }
  if (isTupleStream) {
    if (plan.tuple) {
      resultSequence = tuples;
    } else {
      resultSequence = seq();
      for (let i = 0; i < tuples.length; i++) resultSequence.push(tuples[i]['@']);
    }
  }
  if (plan.keepSingletonArray) {
    if (Array.isArray(resultSequence) && (resultSequence as Seq).cons && !(resultSequence as Seq).sequence) resultSequence = seq1(resultSequence);
    resultSequence.keepSingleton = true;
  }
  return resultSequence;
}

/** jsonata's evaluateStep(). */
export function evaluateStep(step: Step, input: unknown[], frame: Frame, lastStep: boolean): Seq {
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

let objects = 0;
/**
 * An object constructor with literal keys: `{ k0: values[0](...), ... }` leaving out undefined
 * values, over one (non-array) input; an array input is grouped by `generic`. Generated per
 * constructor: the values are evaluated in order into locals, a path of field names read in place
 * (inline.ts valueCode(): no call, nothing for V8 to inline), any other value called from a call
 * site of its own. When no value is undefined (the common case) the object is one literal,
 * allocated at its final size with its final shape, instead of growing one property at a time.
 * Same keys, order and values either way.
 */
export function objectBuilder(keys: readonly string[], values: readonly Fn[], generic: Fn): Fn {
  const slows: Fn[] = [];
  const loads = values.map((value, i) => valueCode(value, `v${i}`, `e${i}`, slows));
  // The keys are string literals of the expression, written into the code as JSON string literals.
  const defined = keys.map((_, i) => `v${i} !== undefined`).join(' && ');
  const literal = keys.map((key, i) => `${JSON.stringify(key)}: v${i}`).join(', ');
  const stores = keys.map((key, i) => `if (v${i} !== undefined) o[${JSON.stringify(key)}] = v${i};`);
  const code = `'use strict';
const [${keys.map((_, i) => `e${i}`).join(', ')}] = values;
return function object(input, frame) {
if (Array.isArray(input)) return generic(input, frame);
${loads.join('\n')}
if (${defined || 'true'}) return { ${literal} };
const o = {};
${stores.join('\n')}
return o;
};
//# sourceURL=compiled:object:${keys.length}:${++objects}`;
  return new Function('values', 'inline', 'generic', code)(values, inlineDeps(slows), generic) as Fn;
}

/** Appends the items of `array` to `result` as fn.append (concat) does; a large array (a range) is copied in one go. */
function appendItems(result: unknown[], array: unknown[]): unknown[] {
  if (array.length > 32) return result.concat(array);
  for (let k = 0; k < array.length; k++) result.push(array[k]);
  return result;
}

let arrays = 0;
/**
 * An array constructor `[e0, e1, ...]`, generated per constructor (a call site per item). Nothing
 * is left out; an array constructor item (`nested`) is pushed whole, any other array's items are
 * appended; a range item (`range`, a fresh array) becomes the result as it is when first, where
 * the interpreter copies it into `[]` (fn.append) with the same items. `cons`: the array is a
 * path's array constructor, flagged as the interpreter flags it.
 */
export function arrayBuilder(items: readonly Fn[], range: readonly boolean[], nested: readonly boolean[], cons: boolean): Fn {
  const steps = items.map((_, i) => {
    const append = range[i]
      ? 'result = result.length === 0 ? value : appendItems(result, value);'
      : nested[i]
        ? 'result.push(value);'
        : 'if (Array.isArray(value)) result = appendItems(result, value); else result.push(value);';
    return `value = e${i}(input, frame);\nif (value !== undefined) { ${append} }`;
  });
  const code = `'use strict';
const [${items.map((_, i) => `e${i}`).join(', ')}] = items;
return function array(input, frame) {
let result = [];
let value;
${steps.join('\n')}
${cons ? "Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });" : ''}
return result;
};
//# sourceURL=compiled:array:${++arrays}`;
  return new Function('items', 'appendItems', code)(items, appendItems) as Fn;
}

/** jsonata's evaluateGroupExpression() for an object constructor (no tuple stream). */
export function evaluateGroup(pairs: readonly (readonly [Fn, Fn])[], input: unknown, frame: Frame): unknown {
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

/** evaluateDescendants(): the input and everything below it, in document order. */
export function descendants(input: unknown): unknown {
  if (input === undefined) return undefined;
  const results = seq();
  recurseDescendants(input, results);
  return results.length === 1 ? results[0] : results;
}

function recurseDescendants(input: unknown, results: unknown[]): void {
  if (!Array.isArray(input)) results.push(input);
  if (Array.isArray(input)) {
    for (const member of input) recurseDescendants(member, results);
  } else if (input !== null && typeof input === 'object' && !isFunction(input)) {
    for (const key of Object.keys(input)) recurseDescendants((input as Record<string, unknown>)[key], results);
  }
}

interface SortTerm {
  readonly descending: boolean;
  readonly key: Fn;
}

/**
 * evaluateSortExpression() for an input that is not a tuple stream: the interpreter's merge sort
 * with its comparator (nothing sorts last; mixed or non-comparable keys are its errors T2007/T2008).
 */
export function sortStep(terms: readonly SortTerm[], makeFrame?: TupleFrame): (input: unknown[], frame: Frame) => unknown {
  return (input, frame) => {
    if (input.length <= 1) return input;
    // Over a tuple stream each key sees its tuple's item and names (the terms are then compiled in the tuple scope).
    const tuples = makeFrame !== undefined && (input as Seq).tupleStream === true;
    const empty = makeFrame !== undefined && !tuples ? makeFrame(undefined, frame) : frame;
    const key = (term: SortTerm, item: unknown) => (tuples ? term.key((item as Tuple)['@'], makeFrame!(item as Tuple, frame)) : term.key(item, empty));
    return mergeSort(input, (a, b) => {
      let comp = 0;
      for (let index = 0; comp === 0 && index < terms.length; index++) {
        const term = terms[index]!;
        const aa = key(term, a);
        const bb = key(term, b);
        const atype = typeof aa;
        const btype = typeof bb;
        if (atype === 'undefined') {
          comp = btype === 'undefined' ? 0 : 1;
          continue;
        }
        if (btype === 'undefined') {
          comp = -1;
          continue;
        }
        if (!(atype === 'string' || atype === 'number') || !(btype === 'string' || btype === 'number')) return handOver();
        if (atype !== btype) return handOver();
        if (aa === bb) continue;
        comp = (aa as number) < (bb as number) ? -1 : 1;
        if (term.descending) comp = -comp;
      }
      return comp === 1;
    });
  };
}
