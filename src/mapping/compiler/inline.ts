// Values that generated code computes in place instead of calling their compiled closure: a
// path of field names (after a variable or not), read where an object constructor, a call of a
// built-in or a call of a function value needs it. V8 inlines the closures an optimised function
// calls only within a budget of bytecode (~920 bytes a function, so most of a mapping's closures
// stay calls); a value computed in place costs none of it, and no call.
import { type Fn, type Frame, hasOwn } from './runtime.js';

/**
 * JavaScript reading the field names `names` from `value` (a `let` it updates; `v` a scratch
 * `let`; `refs`: the names of hasOwn() and Object.prototype in the code), as evaluatePath() over
 * objects alone: `none` runs where the path gives nothing, `slow` where it meets an array (in
 * `value` or a field), which evaluatePath() must take over.
 */
export function nameStepsCode(names: readonly string[], none: string, slow: string, refs = { hasOwn: 'hasOwn', OBJECT: 'OBJECT' }): string {
  // The names are string literals of the expression, written into the code as JSON string literals.
  // A field is JSONata's when it is the object's own (lookup()'s hasOwnProperty). For an object whose
  // prototype is Object.prototype, a value read for a name Object.prototype does not have is its own,
  // so hasOwn() runs only for other objects. The prototype is read as `value.__proto__`: V8 folds
  // that load (Object.prototype's accessor) to a constant for the shapes the code has met, where
  // Object.getPrototypeOf() stays a call (~5 ns a step). The accessor gives the prototype unless a
  // property named __proto__ on the way shadows it with Object.prototype itself as its value, which
  // no JSON document and no JSONata value can hold (JSON.parse makes an own __proto__ of a parsed value).
  const steps = names.map((name) => {
    const key = JSON.stringify(name);
    return `if (value === null || typeof value !== 'object' || value._jsonata_function === true || value._jsonata_lambda === true) ${none}
v = value[${key}];
if (v === undefined || ((value.__proto__ !== ${refs.OBJECT} || ${key} in ${refs.OBJECT}) && !${refs.hasOwn}(value, ${key}))) ${none}
value = v;
if (Array.isArray(value)) ${slow}`;
  });
  return `if (Array.isArray(value)) ${slow}\n${steps.join('\n')}`;
}

/** The field names of a path namePath() made, its start and its `slow` (for valueCode() to read them in place). */
export const NAME_PATHS = new WeakMap<Fn, { readonly names: readonly string[]; readonly start: Fn | undefined; readonly slow: Fn }>();

/**
 * A path of field names (after an optional variable) as a function generated for these names, so
 * each of its property loads learns the one document shape it meets. Over objects alone it gives
 * what evaluatePath() gives; at the first array met (in the start value or a field) it hands the
 * whole path to `slow`.
 */
export function namePath(names: readonly string[], start: Fn | undefined, slow: Fn): Fn {
  const make = new Function(
    'start',
    'slow',
    'hasOwn',
    'OBJECT',
    `'use strict';
return function path(input, frame) {
let value = input;
let v;
${start === undefined ? '' : 'value = start(input, frame);\nif (value === undefined) return undefined;'}
${nameStepsCode(names, 'return undefined;', 'return slow(input, frame);')}
return value;
};
//# sourceURL=compiled:path:${names.join('.')}`,
  ) as (start: Fn | undefined, slow: Fn, has: typeof hasOwn, object: object) => Fn;
  const path = make(start, slow, hasOwn, Object.prototype);
  NAME_PATHS.set(path, { names, start, slow });
  return path;
}

/**
 * JavaScript setting `target` (a name it declares) to the value of compiled `value` for
 * `(input, frame)`: a path NAME_PATHS knows is read in place, its `slow` (and start) appended to
 * `slows` (the code refers to them as `inline.slows[k]`, and to `inline.hasOwn`, `inline.OBJECT`: see
 * inlineDeps()); any other value is called as `call`, a name of the generated code holding it.
 */
export function valueCode(value: Fn, target: string, call: string, slows: Fn[]): string {
  const path = NAME_PATHS.get(value);
  if (path === undefined) return `const ${target} = ${call}(input, frame);`;
  slows.push(path.slow);
  const slow = `inline.slows[${slows.length - 1}]`;
  let first = 'let value = input;';
  if (path.start !== undefined) {
    slows.push(path.start);
    first = `let value = inline.slows[${slows.length - 1}](input, frame);\nif (value === undefined) { ${target} = undefined; break ${target}_; }`;
  }
  const steps = nameStepsCode(path.names, `{ ${target} = undefined; break ${target}_; }`, `{ ${target} = ${slow}(input, frame); break ${target}_; }`, {
    hasOwn: 'inline.hasOwn',
    OBJECT: 'inline.OBJECT',
  });
  return `let ${target};
${target}_: {
${first}
let v;
${steps}
${target} = value;
}`;
}

/** What code from valueCode() refers to as `inline`. */
export const inlineDeps = (slows: readonly Fn[]) => ({ slows, hasOwn, OBJECT: Object.prototype });

let calls = 0;
/**
 * A call of a function value with up to two arguments, generated for this node: the callee, then
 * each argument (valueCode(): a path of field names read in place), then `invoke` with them.
 */
export function callSite(callee: Fn, args: readonly Fn[], invoke: (proc: unknown, v0: unknown, v1: unknown, input: unknown, frame: Frame) => unknown): Fn {
  const slows: Fn[] = [];
  const code = `'use strict';
const [a0, a1] = args;
return function call(input, frame) {
const proc = callee(input, frame);
${args.map((arg, i) => valueCode(arg, `v${i}`, `a${i}`, slows)).join('\n')}
return invoke(proc, ${args.length > 0 ? 'v0' : 'undefined'}, ${args.length > 1 ? 'v1' : 'undefined'}, input, frame);
};
//# sourceURL=compiled:lambda-call:${++calls}`;
  return new Function('callee', 'args', 'invoke', 'inline', code)(callee, args, invoke, inlineDeps(slows)) as Fn;
}
