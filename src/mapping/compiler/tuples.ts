// Tuple streams, as the interpreter evaluates them for context bindings (`@$x`), positional
// bindings (`#$i`) and the parent operator (`%`): from the first step that binds, a path carries
// one tuple per item — `{'@': item, x: ..., i: ..., '!0': parent}` — and evaluates each step,
// predicate and order-by in a frame binding the tuple's names (evaluateTupleStep,
// createFrameFromTuple, evaluateFilter and evaluateGroupExpression on a tuple stream).
import { predicateKeeps } from './functions.js';
import { type Fn, Frame, type Seq, append, handOver, hasOwn, newVars, seq, setKey } from './runtime.js';

/** A tuple: the item (`@`) and the names bound along the path. */
export type Tuple = Record<string, unknown>;

/** createFrameFromTuple(): a frame binding a tuple's names (the scope declaring every tuple name of the expression). */
export type TupleFrame = (tuple: Tuple | undefined, parent: Frame) => Frame;

export function tupleFrameMaker(names: ReadonlyMap<string, number>): TupleFrame {
  const entries = [...names];
  const size = entries.length;
  // A scope without names has no frame at run time (see Scope.materialized).
  if (size === 0) return (_tuple, parent) => parent;
  return (tuple, parent) => {
    const vars = newVars(size);
    if (tuple !== undefined) {
      for (let i = 0; i < size; i++) {
        const [name, slot] = entries[i]!;
        if (hasOwn(tuple, name)) vars[slot] = tuple[name];
      }
    }
    return new Frame(vars, parent, parent.run);
  };
}

/** What a step of a tuple path binds. */
export interface TupleBinding {
  readonly focus: string | undefined;
  readonly index: string | undefined;
  readonly ancestor: string | undefined;
}

const newStream = (): Seq => {
  const stream = seq();
  stream.tupleStream = true;
  return stream;
};

/** evaluateTupleStep() for a step that is not an order-by. */
export function tupleStep(
  fn: Fn,
  binding: TupleBinding,
  stages: readonly ((input: unknown, frame: Frame) => unknown)[] | undefined,
  input: readonly unknown[],
  tuples: readonly Tuple[] | undefined,
  frame: Frame,
  makeFrame: TupleFrame,
): Seq {
  let result: any = newStream();
  const stream = tuples ?? input.map((item) => ({ '@': item }) as Tuple);
  for (let ee = 0; ee < stream.length; ee++) {
    const tuple = stream[ee]!;
    let res: any = fn(tuple['@'], makeFrame(tuple, frame));
    if (res === undefined) continue;
    if (!Array.isArray(res)) res = [res];
    for (let bb = 0; bb < res.length; bb++) {
      const next: Tuple = Object.create(null);
      Object.assign(next, tuple);
      if (res.tupleStream) {
        Object.assign(next, res[bb]);
      } else {
        if (binding.focus !== undefined) {
          next[binding.focus] = res[bb];
          next['@'] = tuple['@'];
        } else {
          next['@'] = res[bb];
        }
        if (binding.index !== undefined) next[binding.index] = bb;
        if (binding.ancestor !== undefined) next[binding.ancestor] = tuple['@'];
      }
      result.push(next);
    }
  }
  if (stages !== undefined) for (const stage of stages) result = stage(result, frame);
  return result;
}

/** evaluateTupleStep() for an order-by: sorts the tuples, or makes tuples of the sorted items. */
export function tupleSort(
  sort: (input: unknown[], frame: Frame) => unknown,
  index: string | undefined,
  stages: readonly ((input: unknown, frame: Frame) => unknown)[] | undefined,
  input: unknown[],
  tuples: Tuple[] | undefined,
  frame: Frame,
): unknown {
  let result: any;
  if (tuples !== undefined) {
    result = sort(tuples, frame);
  } else {
    const sorted = sort(input, frame) as unknown[];
    result = newStream();
    for (let ss = 0; ss < sorted.length; ss++) {
      const tuple: Tuple = { '@': sorted[ss] };
      if (index !== undefined) tuple[index] = ss;
      result.push(tuple);
    }
  }
  if (stages !== undefined) for (const stage of stages) result = stage(result, frame);
  return result;
}

/** evaluateStages()'s positional binding: numbers the tuples in their current order. */
export function indexStage(name: string): (input: unknown, frame: Frame) => unknown {
  return (input) => {
    const list = input as Tuple[];
    for (let ee = 0; ee < list.length; ee++) list[ee]![name] = ee;
    return input;
  };
}

/**
 * evaluateFilter() for a predicate compiled in the tuple scope: over a tuple stream each tuple's
 * item is the context and its names are bound; over anything else nothing is bound.
 */
export function tupleFilter(predicate: Fn | number, makeFrame: TupleFrame): (input: unknown, frame: Frame) => unknown {
  return (input, frame) => {
    const tupleStream = Array.isArray(input) && (input as Seq).tupleStream === true;
    const results: Seq = tupleStream ? newStream() : seq();
    const list: unknown[] = Array.isArray(input) ? input : [input];
    if (typeof predicate === 'number') {
      let index = Math.floor(predicate);
      if (index < 0) index = list.length + index;
      const item = list[index];
      if (item !== undefined) {
        if (Array.isArray(item)) return item;
        results.push(item);
      }
      return results;
    }
    const empty = tupleStream ? undefined : makeFrame(undefined, frame);
    for (let index = 0; index < list.length; index++) {
      const item = list[index];
      const res0 = tupleStream ? predicate((item as Tuple)['@'], makeFrame(item as Tuple, frame)) : predicate(item, empty!);
      for (let k = predicateKeeps(res0, index, list.length); k > 0; k--) results.push(item);
    }
    return results;
  };
}

/** reduceTupleStream(): the tuples of one group as one tuple, each name bound to all their values. */
function reduceTupleStream(data: unknown): Tuple {
  if (!Array.isArray(data)) return data as Tuple;
  const result: Tuple = Object.create(null);
  Object.assign(result, data[0]);
  for (let ii = 1; ii < data.length; ii++) {
    const tuple = data[ii] as Tuple;
    for (const prop of Object.keys(tuple)) result[prop] = append(result[prop], tuple[prop]);
  }
  return result;
}

/** evaluateGroupExpression() over a tuple stream: keys and values see the tuples' names. */
export function tupleGroup(pairs: readonly (readonly [Fn, Fn])[], tuples: readonly Tuple[], frame: Frame, makeFrame: TupleFrame): unknown {
  const groups: Record<string, { data: unknown; exprIndex: number }> = Object.create(null);
  for (const item of tuples) {
    const env = makeFrame(item, frame);
    for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
      const key = pairs[pairIndex]![0](item['@'], env);
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
    const entry = groups[key]!;
    const tuple = reduceTupleStream(entry.data);
    const context = tuple['@'];
    delete tuple['@'];
    const value = pairs[entry.exprIndex]![1](context, makeFrame(tuple, frame));
    if (value !== undefined) setKey(result, key, value);
  }
  return result;
}
