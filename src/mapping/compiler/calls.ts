// Calling functions as the interpreter does: signatures, apply()'s trampoline, lambdas.
import { type Validator } from './ast.js';
import { Frame, type Invoke, Lambda, Run, Thunk, handOver, isFunction, isIterator, isPromiseLike, newVars } from './runtime.js';

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
  constructor(
    readonly name: string,
    readonly signature: Validator | undefined,
    readonly invoke: Invoke,
  ) {
    this.params = signature === undefined ? [] : parseParams(signature.definition);
  }
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
export function fastCheck(native: Native, argc: number): ((args: unknown[]) => boolean) | undefined {
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
export function apply(proc: unknown, args: unknown[], callInput: unknown, run: Run): unknown {
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
export function applyInner(proc: unknown, args: unknown[], callInput: unknown, run: Run, rawLambdas: boolean): unknown {
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
export function invokeLambda(lambda: Lambda, args: unknown[], callInput: unknown): unknown {
  const def = lambda.def;
  const validated = def.signature === undefined ? args : def.signature.validate(args, callInput);
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
  if (!(func instanceof Lambda)) return handOver();
  const args = [value];
  if (func.def.arity >= 2) args.push(index);
  if (func.def.arity >= 3) args.push(whole);
  return apply(func, args, rawLambdas ? func.input : null, run);
}
