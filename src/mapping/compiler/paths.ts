// Paths, predicates, wildcards and object constructors, as the interpreter evaluates them.
import { fnBoolean } from './functions.js';
import { type Filter, type Fn, Frame, type Seq, append, handOver, hasOwn, isArrayOfNumbers, isFunction, isNumeric, isSequence, lookup, norm, seq, seq1, setKey } from './runtime.js';

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

export function predicateFilter(predicate: Fn, input: unknown, frame: Frame): unknown {
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

export interface Step {
  readonly fn: Fn;
  readonly stages: Filter[] | undefined;
  readonly consarray: boolean;
}
export interface PathPlan {
  readonly steps: readonly Step[];
  readonly firstIsVariable: boolean;
  readonly keepSingletonArray: boolean;
}

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

export type ObjectBuilder = (values: readonly Fn[], input: unknown, frame: Frame) => Record<string, unknown>;

/** `(values, input, frame) => ({ k0: values[0](...), ... })` leaving out undefined values, for literal keys. */
export function objectBuilder(keys: readonly string[]): ObjectBuilder {
  // The keys are string literals of the expression, written into the code as JSON string literals.
  const stores = keys.map((key, i) => `v = values[${i}](input, frame);\nif (v !== undefined) o[${JSON.stringify(key)}] = v;`);
  return new Function('values', 'input', 'frame', `'use strict';\nconst o = {};\nlet v;\n${stores.join('\n')}\nreturn o;`) as ObjectBuilder;
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
