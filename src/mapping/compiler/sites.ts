// Closures of the hottest node kinds, each made per node by perSite() (runtime.ts): a closure
// compiled from one source serves every node of its kind, so the calls it makes meet many
// targets and V8 cannot inline them; a copy per node meets one. Each factory refers to nothing
// but its parameters (perSite compiles it again from its source text).
import { type Native, apply, applyInner, isTailCall, trampoline } from './calls.js';
import { arithmetic, compare } from './operators.js';
import { type Filter, type Fn, Frame, Lambda, Run, type Seq, hasOwn, isDeepEqual, newVars, norm, seq, seq1 } from './runtime.js';

type NormFn = typeof norm;
type SeqFn = typeof seq;
type Seq1Fn = typeof seq1;
type ArithmeticFn = typeof arithmetic;
type DeepEqualFn = typeof isDeepEqual;
type CompareFn = typeof compare;
type ApplyFn = typeof apply;
type ApplyInnerFn = typeof applyInner;
type HasOwnFn = typeof hasOwn;
type TrampolineFn = typeof trampoline;
type NewVarsFn = typeof newVars;
type IsTailCallFn = typeof isTailCall;
type LambdaClass = typeof Lambda;
type FrameClass = typeof Frame;

/**
 * A predicate stage `[expr]` (not a number) as jsonata's evaluateFilter(), copied per node so its
 * call of the predicate meets one target.
 */
export function predicateStage(deps: {
  predicate: Fn;
  seq: SeqFn;
  seq1: Seq1Fn;
  predicateKeeps: (res: unknown, index: number, length: number) => number;
}): Filter {
  const { predicate, seq, seq1, predicateKeeps } = deps;
  return (input, frame) => {
    const results = seq();
    const list = Array.isArray(input) ? input : seq1(input);
    for (let index = 0; index < list.length; index++) {
      const item = list[index];
      const res = predicate(item, frame);
      // A comparison's boolean (the common predicate) needs none of predicateKeeps' checks.
      if (res === true) results.push(item);
      else if (res !== false && res !== undefined) for (let k = predicateKeeps(res, index, list.length); k > 0; k--) results.push(item);
    }
    return results;
  };
}

/** A node with predicates or a grouping: its result through them, then normalised, as jsonata's evaluate(). */
export function filtered(deps: { raw: Fn; filters: Filter[]; group: Filter | undefined; keepArray: boolean; norm: NormFn }): Fn {
  const { raw, filters, group, keepArray, norm } = deps;
  const count = filters.length;
  const first = filters[0];
  return (input, frame) => {
    let result = raw(input, frame);
    if (count === 1) result = first!(result, frame);
    else for (let i = 0; i < count; i++) result = filters[i]!(result, frame);
    if (group !== undefined) result = group(result, frame);
    return norm(result, keepArray);
  };
}

/** A node whose result may be a sequence: normalised as jsonata's evaluate() does. */
export function normalising(deps: { raw: Fn; keepArray: boolean; norm: NormFn }): Fn {
  const { raw, keepArray, norm } = deps;
  return (input, frame) => norm(raw(input, frame), keepArray);
}

/**
 * A variable read: the innermost of the frames that may bind it (`hopsList[c]` frames up, slot
 * `slots[c]`) that did at run time, else `unbound`; normalised when `normalise`.
 */
export function frameLookup(deps: {
  firstHops: number;
  firstSlot: number;
  hopsList: number[];
  slots: number[];
  unbound: (run: Run) => unknown;
  normalise: boolean;
  normal: (value: unknown) => unknown;
  UNBOUND: symbol;
}): Fn {
  const { firstHops, firstSlot, hopsList, slots, unbound, normalise, normal, UNBOUND } = deps;
  // The frames further out, and the bindings: rarely reached, kept out of the hot read below (V8
  // inlines a small read into its callers within a budget of bytecode).
  const further = (frame: Frame, from: number): unknown => {
    for (let c = from; c < slots.length; c++) {
      let f = frame;
      for (let i = hopsList[c]!; i > 0; i--) f = f.parent!;
      const value = f.vars[slots[c]!];
      if (value !== UNBOUND) return value;
    }
    return unbound(frame.run);
  };
  const read: (frame: Frame) => unknown =
    firstHops === 0
      ? (frame) => {
          const value = frame.vars[firstSlot];
          return value !== UNBOUND ? value : further(frame, 1);
        }
      : firstHops === 1
        ? (frame) => {
            const value = frame.parent!.vars[firstSlot];
            return value !== UNBOUND ? value : further(frame, 1);
          }
        : (frame) => further(frame, 0);
  if (normalise) return (_input, frame) => normal(read(frame));
  return (_input, frame) => read(frame);
}

/**
 * `$`, the context value (the item of an array input, which the evaluation wraps). Made per node:
 * its load of `outerWrapper` then learns the kinds of value one context holds (the strings a
 * filter tests, say), not those of every `$` in the expression.
 */
export function contextValue(deps: { done: (value: unknown) => unknown }): Fn {
  const { done } = deps;
  return (input) => done(input && (input as Seq).outerWrapper ? (input as Seq)[0] : input);
}

/** `and` / `or`. */
export function logical(deps: { lhs: Fn; rhs: Fn; truthy: (value: unknown) => boolean; and: boolean }): Fn {
  const { lhs, rhs, truthy } = deps;
  if (deps.and) return (input, frame) => truthy(lhs(input, frame)) && truthy(rhs(input, frame));
  return (input, frame) => truthy(lhs(input, frame)) || truthy(rhs(input, frame));
}

/** `+ - * /`: finite numbers at once, anything else as the interpreter's evaluateNumericExpression(). */
export function arithmeticOperator(deps: { lhs: Fn; rhs: Fn; op: string; arithmetic: ArithmeticFn }): Fn {
  const { lhs, rhs, op, arithmetic } = deps;
  switch (op) {
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
    default:
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return typeof l === 'number' && typeof r === 'number' && l - l === 0 && r - r === 0 ? l / r : arithmetic(op, l, r);
      };
  }
}

/** `=` / `!=`: nothing on either side is false; only two objects need isDeepEqual() (strings, numbers: `===`). */
export function equality(deps: { lhs: Fn; rhs: Fn; equal: boolean; isDeepEqual: DeepEqualFn }): Fn {
  const { lhs, rhs, isDeepEqual } = deps;
  if (deps.equal) {
    return (input, frame) => {
      const l = lhs(input, frame);
      const r = rhs(input, frame);
      if (l === undefined || r === undefined) return false;
      return l === r || (typeof l === 'object' && typeof r === 'object' && isDeepEqual(l, r));
    };
  }
  return (input, frame) => {
    const l = lhs(input, frame);
    const r = rhs(input, frame);
    if (l === undefined || r === undefined) return false;
    return !(l === r || (typeof l === 'object' && typeof r === 'object' && isDeepEqual(l, r)));
  };
}

/**
 * `$substring(text, 0, length) = literal` (or `!=`) for a literal without surrogates, without
 * cutting the substring. For a string `text` the substring (its first `length` code points)
 * equals the literal exactly when the literal has `length` units and starts `text` (units equal
 * to the literal's are as many code points), or is shorter and is `text` itself (which then has
 * fewer code points than `length`); never when it is longer. Nothing: no substring, so false for
 * both operators. Any other value is left to the interpreter (its validator rejects it).
 */
export function prefixTest(deps: { text: Fn; literal: string; length: number; equal: boolean; generic: Fn; hasOwn: HasOwnFn; handOver: () => never }): Fn {
  const { text, literal, length, equal, generic, hasOwn, handOver } = deps;
  const whole = literal.length === length;
  const shorter = literal.length < length;
  // The literal's units as constants of generated code: String.prototype.startsWith() with a
  // search string V8 cannot see as constant is a builtin call, three times slower.
  const codes = [...literal].map((unit, i) => ` && value.charCodeAt(${i}) === ${unit.charCodeAt(0)}`);
  const starts = new Function('value', `'use strict';\nreturn value.length >= ${literal.length}${codes.join('')};`) as (value: string) => boolean;
  return (input, frame) => {
    const run = frame.run;
    if (run.overrides && hasOwn(run.bindings, 'substring')) return generic(input, frame);
    const value = text(input, frame);
    if (typeof value !== 'string') return value === undefined ? false : handOver();
    const same = whole ? starts(value) : shorter && value === literal;
    return equal ? same : !same;
  };
}

/** `< <= > >=`: two numbers at once, anything else as the interpreter's evaluateComparisonExpression(). */
export function comparison(deps: { lhs: Fn; rhs: Fn; op: string; compare: CompareFn }): Fn {
  const { lhs, rhs, op, compare } = deps;
  switch (op) {
    case '<':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return typeof l === 'number' && typeof r === 'number' ? l < r : compare(op, l, r);
      };
    case '<=':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return typeof l === 'number' && typeof r === 'number' ? l <= r : compare(op, l, r);
      };
    case '>':
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return typeof l === 'number' && typeof r === 'number' ? l > r : compare(op, l, r);
      };
    default:
      return (input, frame) => {
        const l = lhs(input, frame);
        const r = rhs(input, frame);
        return typeof l === 'number' && typeof r === 'number' ? l >= r : compare(op, l, r);
      };
  }
}

/** `&`: strings at once, anything else through $string; nothing is "". */
export function concatenation(deps: { lhs: Fn; rhs: Fn; fnString: (value: unknown) => string | undefined }): Fn {
  const { lhs, rhs, fnString } = deps;
  return (input, frame) => {
    const l = lhs(input, frame);
    const r = rhs(input, frame);
    if (typeof l === 'string' && typeof r === 'string') return l + r;
    return (l === undefined ? '' : fnString(l)!).concat(r === undefined ? '' : fnString(r)!);
  };
}

/** `condition ? then : otherwise`. */
export function conditional(deps: { condition: Fn; then: Fn; otherwise: Fn | undefined; truthy: (value: unknown) => boolean }): Fn {
  const { condition, then, otherwise, truthy } = deps;
  return (input, frame) => {
    if (truthy(condition(input, frame))) return then(input, frame);
    return otherwise === undefined ? undefined : otherwise(input, frame);
  };
}

/**
 * A call of a built-in or registered function by its name. Generated once per call site (see
 * perSite): its calls of the argument closures, the check and the implementation each meet one
 * target, which V8 can then inline.
 */
export function nativeCall(deps: {
  native: Native;
  name: string;
  args: Fn[];
  check: ((args: unknown[]) => boolean) | undefined;
  done: (value: unknown) => unknown;
  apply: ApplyFn;
  applyInner: ApplyInnerFn;
  hasOwn: HasOwnFn;
}): Fn {
  const { native, name, args, check, done, apply, applyInner, hasOwn } = deps;
  const argc = args.length;
  const a0 = args[0]!;
  const a1 = args[1]!;
  const a2 = args[2]!;
  const evaluateArgs = (input: unknown, frame: Frame): unknown[] =>
    argc === 0
      ? []
      : argc === 1
        ? [a0(input, frame)]
        : argc === 2
          ? [a0(input, frame), a1(input, frame)]
          : argc === 3
            ? [a0(input, frame), a1(input, frame), a2(input, frame)]
            : args.map((arg) => arg(input, frame));
  return (input, frame) => {
    const run = frame.run;
    if (run.overrides && hasOwn(run.bindings, name)) return done(apply(run.bindings[name], evaluateArgs(input, frame), input, run));
    const values = evaluateArgs(input, frame);
    if (check !== undefined && check(values)) return done(native.invoke(values, input, run, false));
    return done(applyInner(native, values, input, run, false));
  };
}

/**
 * A call of a function value (a lambda bound to a variable, most often): apply(), with a
 * lambda without a signature run here (as invokeLambda() runs it), so its body is called from
 * this node's own copy. Up to two arguments are held in locals: a lambda's frame takes them
 * without an arguments array (a parameter without an argument is bound to nothing, as
 * `values[i]` of a shorter array is).
 */
export function functionCall(deps: {
  callee: Fn;
  args: Fn[];
  done: (value: unknown) => unknown;
  apply: ApplyFn;
  trampoline: TrampolineFn;
  newVars: NewVarsFn;
  isTailCall: IsTailCallFn;
  Lambda: LambdaClass;
  Frame: FrameClass;
  UNBOUND: symbol;
  /** For up to two arguments: the call made of `invoke` by code evaluating the callee and the arguments (inline.ts callSite()). */
  inPlace?: (invoke: (proc: unknown, v0: unknown, v1: unknown, input: unknown, frame: Frame) => unknown) => Fn;
}): Fn {
  const { callee, args, done, apply, trampoline, newVars, isTailCall, Lambda, Frame, UNBOUND, inPlace } = deps;
  const argc = args.length;
  const a0 = args[0]!;
  const a1 = args[1]!;
  const run = (proc: InstanceType<LambdaClass>, v0: unknown, v1: unknown, values: unknown[] | undefined, input: unknown, frame: Frame): unknown => {
    const def = proc.def;
    let f = proc.frame;
    if (def.frameSize === 1 && def.slots.length === 1 && values === undefined) {
      // One variable, the one parameter (the common `function($v) {...}`). Made as newVars()
      // makes it (not as `[v0]`, whose elements kind would follow the argument's type): every
      // frame's variables then have one shape for the loads that read them.
      const vars: unknown[] = [UNBOUND];
      vars[0] = v0;
      f = new Frame(vars, proc.frame, proc.frame.run);
    } else if (def.frameSize > 0) {
      const vars = newVars(def.frameSize);
      const slots = def.slots;
      if (values !== undefined) for (let i = 0; i < slots.length; i++) vars[slots[i]!] = values[i];
      else {
        if (slots.length > 0) vars[slots[0]!] = v0;
        if (slots.length > 1) vars[slots[1]!] = v1;
        for (let i = 2; i < slots.length; i++) vars[slots[i]!] = undefined;
      }
      f = new Frame(vars, proc.frame, proc.frame.run);
    }
    const result = def.body(proc.input, f);
    // A plain value (not a tail call to run) is apply()'s result as it is.
    if (typeof result !== 'object' || result === null || !isTailCall(result)) return done(result);
    return done(trampoline(result, input, frame.run));
  };
  if (argc <= 2) {
    const invoke = (proc: unknown, v0: unknown, v1: unknown, input: unknown, frame: Frame): unknown => {
      if (proc instanceof Lambda && proc.def.signature === undefined) return run(proc, v0, v1, undefined, input, frame);
      return done(apply(proc, argc === 0 ? [] : argc === 1 ? [v0] : [v0, v1], input, frame.run));
    };
    if (inPlace !== undefined) return inPlace(invoke);
    return (input, frame) => {
      const proc = callee(input, frame);
      const v0 = argc > 0 ? a0(input, frame) : undefined;
      const v1 = argc > 1 ? a1(input, frame) : undefined;
      return invoke(proc, v0, v1, input, frame);
    };
  }
  return (input, frame) => {
    const proc = callee(input, frame);
    const values = args.map((arg) => arg(input, frame));
    if (proc instanceof Lambda && proc.def.signature === undefined) return run(proc, undefined, undefined, values, input, frame);
    return done(apply(proc, values, input, frame.run));
  };
}
