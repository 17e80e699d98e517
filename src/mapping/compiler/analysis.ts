// Pass 1: where variables live, and whether the expression stays within the covered subset.
import { type Node, refuse } from './ast.js';
import { Native } from './calls.js';
import { FUNCTION_NAMES, NOT_COMPILED } from './functions.js';

/** A block, lambda or the root: where `$x :=` binds. Frames exist at run time only for scopes that bind. */
export class Scope {
  readonly names = new Map<string, number>();
  constructor(
    readonly parent: Scope | undefined,
    readonly kind: 'root' | 'block' | 'lambda',
  ) {}
  get materialized(): boolean {
    return this.kind === 'root' || this.names.size > 0;
  }
  declare(name: string): void {
    if (!this.names.has(name)) this.names.set(name, this.names.size);
  }
  /** Whether `name` may be bound in this scope or an enclosing one. */
  declares(name: string): boolean {
    for (let s: Scope | undefined = this; s !== undefined; s = s.parent) if (s.names.has(name)) return true;
    return false;
  }
}

interface Context {
  readonly scope: Scope;
  /** Inside an item of an array or object constructor, not in a nested block or lambda. */
  readonly inConstructor: boolean;
}

/** What an item of a constructor calls: names, variables passed to functions, and whether it calls computed functions. */
interface Calls {
  readonly names: Set<string>;
  readonly args: Set<string>;
  computed: boolean;
}
const noCalls = (): Calls => ({ names: new Set(), args: new Set(), computed: false });

/**
 * Where a node's value goes, for the escape analysis of function values: an argument of a call,
 * the right side of a binding, a procedure called in place, the right side of `~>`, or anywhere else.
 */
type Role = 'arg' | 'bindRhs' | 'procedure' | 'applied' | 'other';

/**
 * Built-ins whose result may hold the argument at these positions, or part of it (`$zip(f)`,
 * `$append(x, f)`, `$filter(list)`'s items): a function passed there reaches data as surely as one
 * written in a constructor. Their other arguments (the callbacks of $filter, $sort, ...) are only
 * called. A registered function may return any of its arguments.
 */
const RETURNS_ARGUMENTS: Readonly<Record<string, readonly number[]>> = {
  zip: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  append: [0, 1],
  distinct: [0],
  reverse: [0],
  lookup: [0],
  sort: [0],
  shuffle: [0],
  filter: [0],
  single: [0],
  sift: [0],
  merge: [0],
  spread: [0],
  reduce: [0, 2],
  eval: [1],
};

export const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', 'in', '..']);

export class Analysis {
  readonly root = new Scope(undefined, 'root');
  readonly scopes = new Map<Node, Scope>();
  /**
   * Whether functions may be values here (lambdas, partial applications, regular expressions,
   * built-ins named without a call): a result holding one is then left to the interpreter.
   */
  functionValues = false;
  /** A function value (lambda, partial application, regex, built-in) may reach data directly. */
  private escapes = false;
  /** A function value is passed to a call somewhere (so a parameter may hold one). */
  private functionArgument = false;
  /** Variables bound to a lambda or a partial application. */
  private readonly functionBound = new Set<string>();
  /** Variables read as a value other than a call's argument, and as a call's argument. */
  private readonly valueRefs = new Set<string>();
  private readonly argRefs = new Set<string>();
  /** Variables read but bound nowhere in the expression (they come from the bindings or are built-ins). */
  readonly free = new Set<string>();
  /** Variables bound somewhere in the expression. */
  readonly declared = new Set<string>();
  /** Names tuples bind: context (`@$x`) and positional (`#$i`) variables, parent labels (`%`). */
  readonly tupleNames = new Set<string>();
  /**
   * Per path carrying tuples (and per tuple-giving node with predicates): the scope its steps from
   * the first binding one (or its predicates) are evaluated in; every tuple name is declared in it.
   */
  readonly tupleScopes = new Map<Node, Scope>();
  /** Per constructor of two or more items: what each item calls. */
  private readonly constructors: Calls[][] = [];
  private readonly referenced = new Set<string>();
  /** Variables bound to lambda literals, and what those lambdas call. */
  private readonly lambdaUses = new Map<string, Calls>();
  private readonly valueBound = new Set<string>();
  private readonly params = new Set<string>();

  constructor(private readonly callees: ReadonlyMap<string, Native>) {}


  run(ast: Node, impure: ReadonlySet<string>): void {
    this.visit(ast, { scope: this.root, inConstructor: false });
    for (const scope of this.tupleScopes.values()) for (const name of this.tupleNames) scope.declare(name);
    // A function reaches data when one is made where data goes, when a variable holding one is read
    // as data, or when a parameter is read as data while functions are passed to calls.
    const holdsFunction = (name: string) => this.functionBound.has(name);
    this.functionValues =
      this.escapes ||
      [...this.valueRefs].some(holdsFunction) ||
      ((this.functionArgument || [...this.argRefs].some(holdsFunction)) && [...this.valueRefs].some((name) => this.params.has(name)));
    // The interpreter evaluates the items of a constructor concurrently: two items that may call
    // an impure function would interleave differently. A function held in a variable may be one.
    if ([...impure].some((name) => this.referenced.has(name))) {
      const risky = (calls: Calls, seen: Set<string>): boolean =>
        calls.computed ||
        [...calls.names].some((name) => this.mayBeImpure(name, impure, seen)) ||
        [...calls.args].some((name) => (this.lambdaUses.has(name) || this.params.has(name)) && this.mayBeImpure(name, impure, seen));
      this.risky = risky;
      for (const items of this.constructors) {
        if (items.filter((calls) => risky(calls, new Set())).length >= 2) {
          refuse('two items of one constructor call functions with side effects (the interpreter evaluates them concurrently)');
        }
      }
    }
  }

  private risky: (calls: Calls, seen: Set<string>) => boolean = () => true;

  /** Whether calling `name` may call an impure function: a lambda-bound variable is traced through its lambdas. */
  private mayBeImpure(name: string, impure: ReadonlySet<string>, seen: Set<string>): boolean {
    if (impure.has(name)) return true;
    if (!this.declared.has(name)) return false;
    const uses = this.lambdaUses.get(name);
    if (uses === undefined || this.valueBound.has(name) || this.params.has(name)) return true;
    if (seen.has(name)) return false;
    seen.add(name);
    return this.risky(uses, seen);
  }

  private visit(node: Node, ctx: Context, calls: Calls = noCalls(), role: Role = 'other'): Calls {
    this.flags(node);
    if (node.predicate !== undefined) {
      // Over a tuple stream (a path a parent is sought through), predicates see the tuples' names.
      const predicateCtx = node.tuple ? { ...ctx, scope: this.newTupleScope(node, ctx.scope) } : ctx;
      for (const stage of node.predicate) {
        if (stage.type !== 'filter') refuse('an index binding (#)', stage.expr ?? node);
        this.visit(stage.expr, predicateCtx, calls);
      }
    }
    const tupleFrom = node.type === 'path' ? node.steps!.findIndex((step) => step.tuple === true) : -1;
    const tupleCtx = tupleFrom === -1 ? undefined : { ...ctx, scope: this.newTupleScope(node.steps!, ctx.scope) };
    if (node.group !== undefined) {
      for (const [key, value] of node.group.lhs) {
        this.visit(key, tupleCtx ?? ctx, calls);
        this.visit(value, tupleCtx ?? ctx, calls);
      }
    }
    switch (node.type) {
      case 'string':
      case 'number':
      case 'value':
      case 'wildcard':
      case 'descendant':
        break;
      case 'regex':
        this.functionMade(role, false);
        break;
      case 'parent':
        this.tupleName((node as unknown as { slot: { label: string } }).slot.label);
        break;
      case 'variable':
        this.reference(node.value, ctx, role);
        break;
      case 'path':
        node.steps!.forEach((step, i) => {
          const ctx0 = ctx;
          {
          const ctx = tupleCtx !== undefined && i >= tupleFrom ? tupleCtx : ctx0;
          this.flags(step);
          if (i === 0 && step.consarray && (step.stages || step.predicate)) refuse('a predicate on a leading array constructor', step);
          if (i === 0 && step.consarray && step.tuple) refuse('a binding on a leading array constructor', step);
          for (const stage of step.stages ?? []) {
            if (stage.type === 'index') this.tupleName((stage as unknown as { value: string }).value);
            else this.visit(stage.expr, ctx, calls);
          }
          if (step.type === 'sort') {
            for (const term of step.terms!) this.visit(term.expression, ctx, calls);
          } else if (step.type !== 'name') {
            this.visit(step, ctx, calls);
          }
          }
        });
        break;
      case 'binary':
        if (!BINARY_OPERATORS.has(node.value)) refuse(`the ${node.value} operator`, node);
        this.visit(node.lhs, ctx, calls);
        this.visit(node.rhs, ctx, calls);
        break;
      case 'unary':
        if (node.value === '-') {
          this.visit(node.expression!, ctx, calls);
        } else if (node.value === '[') {
          this.items(node.expressions!, ctx, calls);
        } else if (node.value === '{') {
          const pairs = node.lhs as [Node, Node][];
          for (const [key] of pairs) this.visit(key, { ...ctx, inConstructor: true }, calls);
          this.items(
            pairs.map(([, value]) => value),
            ctx,
            calls,
          );
        } else {
          refuse(`the unary ${node.value} operator`, node);
        }
        break;
      case 'condition':
        this.visit(node.condition!, ctx, calls);
        this.visit(node.then!, ctx, calls);
        if (node.else !== undefined) this.visit(node.else, ctx, calls);
        break;
      case 'block': {
        const scope = new Scope(ctx.scope, 'block');
        this.scopes.set(node, scope);
        const inner: Context = { scope, inConstructor: false };
        for (const expression of node.expressions!) this.visit(expression, inner, calls);
        break;
      }
      case 'bind': {
        const name = node.lhs.value as string;
        checkVariableName(name, node);
        if (ctx.inConstructor) refuse('a variable bound inside an array or object constructor (the interpreter evaluates the items concurrently)', node);
        ctx.scope.declare(name);
        this.declared.add(name);
        const rhs = node.rhs as Node;
        if (rhs.type === 'lambda' && !rhs.thunk) {
          this.functionBound.add(name);
          const uses = this.lambdaUses.get(name) ?? noCalls();
          this.lambda(rhs, ctx, uses);
          this.lambdaUses.set(name, uses);
        } else {
          if (rhs.type === 'partial') this.functionBound.add(name);
          this.valueBound.add(name);
          this.visit(rhs, ctx, calls, 'bindRhs');
        }
        break;
      }
      case 'lambda':
        if (node.thunk) {
          // A tail call, as the parser rewrites it inside a lambda body.
          this.call(node.body!, ctx, calls);
        } else {
          this.functionMade(role, true);
          // Called where it flows, within the item that makes it (items bind no variables).
          this.lambda(node, ctx, calls);
        }
        break;
      case 'function':
        this.call(node, ctx, calls);
        break;
      case 'partial':
        this.functionMade(role, true);
        this.visitProcedure(node.procedure!, ctx, calls);
        node.arguments!.forEach((arg, i) => {
          if (arg.type === 'operator' && arg.value === '?') return;
          if (arg.type === 'variable' && arg.value !== '' && arg.value !== '$') calls.args.add(arg.value);
          this.visit(arg, ctx, calls, this.argumentRole(node.procedure!, i, ctx));
        });
        break;
      case 'apply': {
        const rhs = node.rhs as Node;
        this.visit(node.lhs, ctx, calls);
        if (rhs.type === 'function') {
          this.call(rhs, ctx, calls);
        } else {
          calls.computed = true;
          this.visit(rhs, ctx, calls, 'applied');
        }
        break;
      }
      default:
        refuse(NODE_NAMES[node.type] ?? `a ${node.type} expression`, node);
    }
    return calls;
  }

  /** Items of a constructor: each is tallied on its own, for the concurrency check. */
  private items(items: readonly Node[], ctx: Context, calls: Calls): void {
    const each = items.map((item) => this.visit(item, { ...ctx, inConstructor: true }));
    for (const item of each) {
      item.names.forEach((name) => calls.names.add(name));
      item.args.forEach((name) => calls.args.add(name));
      if (item.computed) calls.computed = true;
    }
    if (each.length >= 2) this.constructors.push(each);
  }

  /** A tuple scope, keyed by the node's steps array (a path) or the node (its predicates). */
  private newTupleScope(key: object, parent: Scope): Scope {
    const scope = new Scope(parent, 'block');
    this.tupleScopes.set(key as Node, scope);
    return scope;
  }

  /** The tuple names a node binds. */
  private flags(node: Node): void {
    if (node.focus !== undefined) this.tupleName(node.focus);
    if (node.index !== undefined) this.tupleName(node.index);
    if (node.ancestor !== undefined) this.tupleName((node.ancestor as { label: string }).label);
  }

  private tupleName(name: string): void {
    if (name.startsWith('__')) refuse(`the reserved variable $${name}`);
    this.tupleNames.add(name);
    this.declared.add(name);
  }

  private lambda(node: Node, ctx: Context, calls: Calls): void {
    this.flags(node);
    const scope = new Scope(ctx.scope, 'lambda');
    this.scopes.set(node, scope);
    for (const param of node.arguments!) {
      checkVariableName(param.value, node);
      scope.declare(param.value);
      this.declared.add(param.value);
      this.params.add(param.value);
    }
    checkTailSpine(node.body!);
    this.visit(node.body!, { scope, inConstructor: false }, calls);
  }

  /**
   * A function value made here (`callable`: a lambda or partial application, which a binding or
   * an in-place call keeps out of data; a regex's matcher is kept out only by a call's argument).
   */
  private functionMade(role: Role, callable: boolean): void {
    if (role === 'arg') this.functionArgument = true;
    else if (!(callable && (role === 'bindRhs' || role === 'procedure' || role === 'applied'))) this.escapes = true;
  }

  /** A variable read; `called`: as the procedure of a call. */
  private reference(name: string, ctx: Context, role: Role | 'called'): void {
    if (name === '' || name === '$') return;
    this.referenced.add(name);
    if (role === 'called') {
      if (!ctx.scope.declares(name)) this.free.add(name);
      return;
    }
    if (ctx.scope.declares(name)) {
      (role === 'arg' ? this.argRefs : this.valueRefs).add(name);
      return;
    }
    this.free.add(name);
    // A built-in or registered function named as a value (or a binding of the same name).
    if (FUNCTION_NAMES.has(name) || this.callees.has(name)) {
      if (role === 'arg') this.functionArgument = true;
      else if (role !== 'applied') this.escapes = true;
    }
  }

  /** `proc(args)`; the procedure is evaluated first, then the arguments. */
  private call(node: Node, ctx: Context, calls: Calls): void {
    this.flags(node);
    this.visitProcedure(node.procedure!, ctx, calls);
    node.arguments!.forEach((arg, i) => {
      // A function passed by name is called by the function it is passed to.
      if (arg.type === 'variable' && arg.value !== '' && arg.value !== '$') calls.args.add(arg.value);
      this.visit(arg, ctx, calls, this.argumentRole(node.procedure!, i, ctx));
    });
  }

  /** How an argument at `position` is used: called (an 'arg'), or possibly returned as data (see RETURNS_ARGUMENTS). */
  private argumentRole(procedure: Node, position: number, ctx: Context): Role {
    if (procedure.type !== 'variable' || procedure.value === '' || procedure.value === '$' || ctx.scope.declares(procedure.value)) return 'arg';
    const name = procedure.value as string;
    if (!FUNCTION_NAMES.has(name)) return this.callees.has(name) ? 'other' : 'arg';
    return RETURNS_ARGUMENTS[name]?.includes(position) ? 'other' : 'arg';
  }

  private visitProcedure(procedure: Node, ctx: Context, calls: Calls): void {
    if (procedure.type === 'variable' && procedure.value !== '' && procedure.value !== '$' && !procedure.predicate && !procedure.keepArray && procedure.group === undefined) {
      const name = procedure.value as string;
      this.reference(name, ctx, 'called');
      calls.names.add(name);
      if (!ctx.scope.declares(name) && !this.callees.has(name) && NOT_COMPILED.has(name)) refuse(`$${name}() is not compiled`, procedure);
    } else {
      calls.computed = true;
      this.visit(procedure, ctx, calls, 'procedure');
    }
  }
}

const NODE_NAMES: Record<string, string> = {
  transform: 'a transform (|...|...|)',
  error: 'a syntax error',
  name: 'a field name outside a path',
};

function checkVariableName(name: string, node: Node): void {
  if (name === '' || name === '$') refuse('binding $ or $$', node);
  if (name.startsWith('__')) refuse(`the reserved variable $${name}`, node);
}

/** A tail call inside a predicate or [] would be filtered as a function value by the interpreter: refuse. */
function checkTailSpine(node: Node): boolean {
  let hasThunk = false;
  if (node.type === 'lambda' && node.thunk) return true;
  if (node.type === 'condition') {
    hasThunk = checkTailSpine(node.then!);
    if (node.else !== undefined && checkTailSpine(node.else)) hasThunk = true;
  } else if (node.type === 'block' && node.expressions!.length > 0) {
    hasThunk = checkTailSpine(node.expressions![node.expressions!.length - 1]!);
  }
  if (hasThunk && (node.predicate || node.keepArray || node.group !== undefined)) refuse('a predicate on a tail call', node);
  return hasThunk;
}
