// Bloblang for sluice: compile a mapping or a query once, execute it per message.
//
//   compileBloblangMapping(text)  the `mapping`/`bloblang` processors: statements assigning root,
//                                 meta and variables; execute() gives the new body and metadata.
//                                 The `mutation` processor runs the same mapping with mutate():
//                                 root starts as the input document, and `this` is root.
//   compileBloblangQuery(text)    `${! }` interpolations, `check:` fields, test conditions: one
//                                 expression evaluated against the message.
//
// Both compile the syntax tree to JavaScript closures (evaluate.ts) and throw BloblangSyntaxError
// (with line and column in the text) on a bad mapping, an unknown function or method, or wrong
// arguments; a failure while executing throws BloblangError with Connect's message.
import type { Expr, Program } from './ast.js';
import { Compiler, UNPARSED, type Fn, type StatementFn } from './evaluate.js';
import { parseMapping, parseQuery, type ParseOptions } from './parser.js';
import type { BloblangContext, Run, Sources } from './registry.js';
import { BloblangError, cleanForOutput, DELETED, NOTHING } from './values.js';

export { BloblangSyntaxError } from './lexer.js';
export { BloblangError, DELETED, NOTHING, Timestamp } from './values.js';
export type { BloblangContext, Sources } from './registry.js';
export { parseMapping, parseQuery } from './parser.js';

/** What one execution produced. */
export interface MappingResult {
  /** The new body: NOTHING when root was never assigned (keep the input's), DELETED to drop the message. */
  readonly root: unknown;
  /** The new metadata, or undefined when the mapping did not change it. */
  readonly meta: Record<string, unknown> | undefined;
}

export interface BloblangMapping {
  readonly source: string;
  readonly program: Program;
  execute(context: BloblangContext, sources: Sources): MappingResult;
  /**
   * Runs the mapping as Connect's `mutation`: root starts as the message's document (NOTHING when
   * the body is not JSON) and `this` reads root as it stands, so each statement sees the previous
   * ones' changes. The input message is not modified. root is NOTHING in the result when the
   * mapping left the document as it was.
   */
  mutate(context: BloblangContext, sources: Sources): MappingResult;
}

export interface BloblangQuery {
  readonly source: string;
  readonly expr: Expr;
  /** The query's value for the message (NOTHING and DELETED as such). */
  evaluate(context: BloblangContext, sources: Sources): unknown;
}

class MappingRun implements Run {
  meta: Record<string, unknown>;
  metaOwned = false;
  readonly vars: Map<string, unknown>;
  root: unknown = NOTHING;
  #document: unknown;
  #parsed = false;

  constructor(
    readonly context: BloblangContext,
    readonly sources: Sources,
    readonly maps: ReadonlyMap<string, StatementFn[]>,
    vars?: Map<string, unknown>,
  ) {
    this.meta = context.message.metadata as Record<string, unknown>;
    this.vars = vars ?? new Map();
  }

  document(): unknown {
    if (!this.#parsed) {
      try {
        this.#document = this.context.message.json();
      } catch (err) {
        throw new BloblangError(`unable to reference message as structured (with 'this'): parse as json: ${(err as Error).message}`);
      }
      this.#parsed = true;
    }
    return this.#document;
  }

  applyMap(name: string, value: unknown): unknown {
    const body = this.maps.get(name);
    if (body === undefined) throw new BloblangError(`map ${name} was not found`);
    const sub = new MappingRun(this.context, this.sources, this.maps);
    sub.meta = this.meta;
    sub.metaOwned = this.metaOwned;
    for (const statement of body) statement(value, sub);
    if (sub.metaOwned) {
      this.meta = sub.meta;
      this.metaOwned = true;
    }
    return sub.root === NOTHING ? null : sub.root;
  }

  forMessage(index: number): Run | undefined {
    const message = this.context.batch[index];
    if (message === undefined) return undefined;
    return new MappingRun({ message, batch: this.context.batch, index }, this.sources, this.maps, this.vars);
  }
}

/**
 * A run of the `mutation` processor: `this` at the top level is root. The document is not copied:
 * every assignment (setPath) and method copies what it changes and never writes into a value it
 * was given, which `mapping` already relies on (`root = this` then `root.a = 1` leaves the
 * message's parsed body as it was), so root can start as the parsed body itself. Measured on a
 * 60-field document (Node 20): a deep copy per message costs 12.5 µs with structuredClone, 2.8 µs
 * with a recursive copy; an assignment copies only the objects on its path (1.5 µs for the
 * 60-field top level), and a mutation that changes nothing copies nothing.
 */
class MutationRun extends MappingRun {
  /** Why the body has no document (not JSON); undefined when it has one. */
  #parseError: string | undefined;

  constructor(context: BloblangContext, sources: Sources, maps: ReadonlyMap<string, StatementFn[]>) {
    super(context, sources, maps);
    try {
      this.root = context.message.json();
    } catch (err) {
      this.#parseError = (err as Error).message;
    }
  }

  override document(): unknown {
    if (this.root === NOTHING && this.#parseError !== undefined) {
      throw new BloblangError(`unable to reference message as structured (with 'this'): parse as json: ${this.#parseError}`);
    }
    return this.root === NOTHING || this.root === DELETED ? null : this.root;
  }
}

/** Compiles a mapping; throws BloblangSyntaxError. `importFile` resolves `import "path"`. */
export function compileBloblangMapping(source: string, options: ParseOptions = {}): BloblangMapping {
  const program = parseMapping(source, options);
  const compiler = new Compiler(source);
  const statements = compiler.program(program);
  const maps = compiler.maps;
  return {
    source,
    program,
    execute(context, sources) {
      const run = new MappingRun(context, sources, maps);
      for (const statement of statements) statement(UNPARSED, run);
      return { root: run.root, meta: run.metaOwned ? run.meta : undefined };
    },
    mutate(context, sources) {
      const run = new MutationRun(context, sources, maps);
      const input = run.root;
      for (const statement of statements) statement(UNPARSED, run);
      return { root: run.root === input ? NOTHING : run.root, meta: run.metaOwned ? run.meta : undefined };
    },
  };
}

/** Compiles one query (an expression); throws BloblangSyntaxError. */
export function compileBloblangQuery(source: string): BloblangQuery {
  const expr = parseQuery(source);
  const fn: Fn = new Compiler(source).expr(expr);
  const noMaps = new Map<string, StatementFn[]>();
  return {
    source,
    expr,
    evaluate(context, sources) {
      return fn(UNPARSED, new MappingRun(context, sources, noMaps), undefined);
    },
  };
}

/** A result as plain JSON data: DELETED/NOTHING as given, bytes as text, timestamps as RFC 3339. */
export function plain(value: unknown): unknown {
  if (value === DELETED || value === NOTHING) return value;
  return cleanForOutput(value);
}
