// Compiles a JSONata parse tree (`jsonata(expr).ast()`) to a tree of synchronous JavaScript
// closures that compute what jsonata@2's interpreter computes, without its promise, environment
// look-up and hook calls on every node.
//
// The contract with the caller (src/mapping/environment.ts):
// - compileToJavaScript() refuses (returns the reason and its position) any expression using
//   something not covered here — the transform operator `|...|...|` — and the caller then runs
//   that expression in the interpreter, whole.
// - A compiled function either returns exactly the interpreter's result, or throws. It throws
//   whenever the interpreter would fail, and also on anything unusual it leaves to the interpreter
//   (a non-finite number, a function where data was expected, ...). The caller then evaluates the
//   same input with the interpreter, so every error a user sees is the interpreter's own, with its
//   code, message and position.
//
// Values keep the interpreter's representation: a sequence is an array with an enumerable
// `sequence: true` (and `keepSingleton`, `outerWrapper`) property, an array built by a path's
// array constructor has a non-enumerable `cons`. Sequence semantics (singleton unwrapping,
// flattening, undefined propagation, predicates) follow node_modules/jsonata/jsonata.js: evaluate,
// evaluatePath, evaluateStep, evaluateTupleStep, evaluateFilter, evaluateGroupExpression,
// evaluateSortExpression, apply. JSONata's own function implementations are called where they are
// synchronous; the asynchronous ones ($map, $filter, $reduce, $single, $sift, $each, $sort, $match,
// $contains, $split, $replace, $eval) are re-implemented (compiler/functions.ts). Function values
// (lambdas, partial applications, compositions, built-ins named without a call) are the compiler's
// own objects, flagged as the interpreter flags its own; a result holding one is left to the
// interpreter.
//
// compiler/: ast (parse tree), runtime (values), calls (apply, signatures, partial application),
// functions (built-ins), regex (matchers), analysis (pass 1: scopes, coverage, escapes), emitter
// (pass 2: closures), sites (closures copied per node), operators, paths (steps, predicates,
// order-by, grouping, constructors), inline (paths read in place by generated code), tuples (@, #, %).
import { type Node, Refusal } from './compiler/ast.js';
import { Analysis } from './compiler/analysis.js';
import { Emitter } from './compiler/emitter.js';
import jsonata from 'jsonata';
import { type Callees, calleeTable, type CompilerOptions } from './compiler/functions.js';
import { type Bindings, Frame, NO_VARS, type Program, Run, handOver, isFunction, isSequence, newVars, seq1 } from './compiler/runtime.js';

export type { Bindings } from './compiler/runtime.js';
export type { CompilerOptions, FunctionImplementation } from './compiler/functions.js';

/**
 * A compiled expression: returns the interpreter's result for `input`, or throws when the
 * interpreter would fail or when this input needs the interpreter (see the file comment).
 */
export type CompiledFunction = (input: unknown, bindings: Bindings) => unknown;

/**
 * When to try a compiled expression before the interpreter. A compiled evaluation that throws is
 * evaluated again by the interpreter (see the file comment), so an input it fails on costs both.
 * After STREAK hand-overs in a row (an expression failing on every message: bad upstream data, a
 * wrong field type) the compiled form is skipped for SKIP_FIRST evaluations, then tried once; each
 * further hand-over doubles the skip, up to SKIP_MAX, and one success ends it. So a mapping that
 * always fails costs about what the interpreter costs, while failures scattered among successes
 * (rarely STREAK in a row) never send good messages to the slower interpreter.
 */
export class FallbackGate {
  static readonly STREAK = 8;
  static readonly SKIP_FIRST = 8;
  static readonly SKIP_MAX = 1024;
  #streak = 0;
  #skipLeft = 0;
  #skip = FallbackGate.SKIP_FIRST;

  /** Whether this evaluation should try the compiled form; false means go straight to the interpreter. */
  tryCompiled(): boolean {
    if (this.#skipLeft === 0) return true;
    this.#skipLeft--;
    return false;
  }

  /** The compiled form returned a result. */
  succeeded(): void {
    if (this.#streak === 0) return;
    this.#streak = 0;
    this.#skip = FallbackGate.SKIP_FIRST;
  }

  /** The compiled form threw: the interpreter evaluates this input. */
  handedOver(): void {
    if (++this.#streak < FallbackGate.STREAK) return;
    this.#skipLeft = this.#skip;
    this.#skip = Math.min(2 * this.#skip, FallbackGate.SKIP_MAX);
  }
}

export type Compilation =
  | { readonly ok: true; readonly evaluate: CompiledFunction }
  | { readonly ok: false; readonly reason: string; /** Where in the expression (a character offset), when known. */ readonly position?: number };

/** A parse tree compiled: runs against an input in an evaluation. */
interface Tree {
  readonly analysis: Analysis;
  run(input: unknown, run: Run): unknown;
}

function compileTree(ast: Node, callees: Callees, impure: ReadonlySet<string>, specialise = true): Tree {
  const analysis = new Analysis(callees.byName);
  analysis.run(ast, impure);
  const body = new Emitter(analysis, callees, specialise).compile(ast, analysis.root);
  const rootSize = analysis.root.names.size;
  return { analysis, run: (input, run) => body(input, new Frame(rootSize > 0 ? newVars(rootSize) : NO_VARS, undefined, run)) };
}

/** Compiles a parse tree, or says why (and where) it is left to the interpreter. */
export function compileToJavaScript(ast: unknown, options: CompilerOptions = {}): Compilation {
  try {
    const callees = calleeTable(options);
    const impure = new Set(options.impure ?? []);
    const main = compileTree(ast as Node, callees, impure);
    // $eval("..."): compiled on first use. It sees the caller's variables in the interpreter, so
    // text reading a variable this expression binds anywhere (or making function values) is left to it.
    const texts = new Map<string, Tree | null>();
    const compileText = (source: string): Tree | null => {
      try {
        const tree = compileTree(jsonata(source).ast() as Node, callees, impure, false);
        if (tree.analysis.functionValues || [...tree.analysis.free].some((name) => main.analysis.declared.has(name))) return null;
        return tree;
      } catch {
        return null;
      }
    };
    const program: Program = {
      natives: callees.natives,
      evaluateText(source, input, run) {
        let tree = texts.get(source);
        if (tree === undefined) {
          tree = compileText(source);
          if (texts.size >= 64) texts.clear();
          texts.set(source, tree);
        }
        return tree === null ? handOver() : tree.run(input, run);
      },
    };
    const functionValues = main.analysis.functionValues;
    const evaluate: CompiledFunction = (input, bindings = {}) => {
      let overrides = false;
      for (const name in bindings) if (callees.byName.has(name)) overrides = true;
      const run = new Run(bindings, input, overrides, program);
      // As jsonata's evaluate(): a JSON array input is wrapped so it is treated as one value.
      if (Array.isArray(input) && !isSequence(input)) {
        const wrapper = seq1(input);
        wrapper.outerWrapper = true;
        input = wrapper;
      }
      // A failure here is never shown (the interpreter evaluates again and reports its own), so
      // the errors JSONata's functions throw on the way skip capturing a stack trace.
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        const result = main.run(input, run);
        // A function in the result is the interpreter's own kind of object there: leave it to it.
        if (functionValues && containsFunction(result)) return handOver();
        return result;
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
    };
    return { ok: true, evaluate };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, reason: err.message, ...(err.position === undefined ? {} : { position: err.position }) };
    throw err;
  }
}

function containsFunction(value: unknown): boolean {
  if (isFunction(value)) return true;
  if (Array.isArray(value)) return value.some(containsFunction);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(containsFunction);
  return false;
}
