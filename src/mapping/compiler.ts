// Compiles a JSONata parse tree (`jsonata(expr).ast()`) to a tree of synchronous JavaScript
// closures that compute what jsonata@2's interpreter computes, without its promise, environment
// look-up and hook calls on every node.
//
// The contract with the caller (src/mapping/environment.ts):
// - compileToJavaScript() refuses (returns the reason) any expression using something not covered
//   here; the caller then runs that expression in the interpreter, whole.
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
// evaluatePath, evaluateStep, evaluateFilter, evaluateGroupExpression, apply. JSONata's own function
// implementations are called where they are synchronous; the few asynchronous ones covered ($map,
// $filter, $reduce, $single, $contains, $split, $replace) are re-implemented (compiler/functions.ts).
//
// compiler/: ast (parse tree), runtime (values), calls (apply, signatures), functions (built-ins),
// analysis (pass 1: what is covered), emitter (pass 2: closures), operators, paths.
import { type Node, Refusal } from './compiler/ast.js';
import { Analysis } from './compiler/analysis.js';
import { Emitter } from './compiler/emitter.js';
import { calleeTable, type CompilerOptions } from './compiler/functions.js';
import { type Bindings, Frame, NO_VARS, Run, isSequence, newVars, seq1 } from './compiler/runtime.js';

export type { Bindings } from './compiler/runtime.js';
export type { CompilerOptions, FunctionImplementation } from './compiler/functions.js';

/**
 * A compiled expression: returns the interpreter's result for `input`, or throws when the
 * interpreter would fail or when this input needs the interpreter (see the file comment).
 */
export type CompiledFunction = (input: unknown, bindings: Bindings) => unknown;

export type Compilation = { readonly ok: true; readonly evaluate: CompiledFunction } | { readonly ok: false; readonly reason: string };

/** Compiles a parse tree, or says why it is left to the interpreter. */
export function compileToJavaScript(ast: unknown, options: CompilerOptions = {}): Compilation {
  try {
    const callees = calleeTable(options);
    const analysis = new Analysis(callees);
    analysis.run(ast as Node, new Set(options.impure ?? []));
    const emitter = new Emitter(analysis, callees);
    const body = emitter.compile(ast as Node, analysis.root);
    const rootSize = analysis.root.names.size;
    const evaluate: CompiledFunction = (input, bindings = {}) => {
      let overrides = false;
      for (const name in bindings) if (callees.has(name)) overrides = true;
      const run = new Run(bindings, input, overrides);
      const frame = new Frame(rootSize > 0 ? newVars(rootSize) : NO_VARS, undefined, run);
      // As jsonata's evaluate(): a JSON array input is wrapped so it is treated as one value.
      if (Array.isArray(input) && !isSequence(input)) {
        const wrapper = seq1(input);
        wrapper.outerWrapper = true;
        input = wrapper;
      }
      return body(input, frame);
    };
    return { ok: true, evaluate };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, reason: err.message };
    throw err;
  }
}
