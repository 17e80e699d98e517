// Pass 1: what the expression binds and calls, and whether it stays within the covered subset.
import { type Node, refuse } from './ast.js';
import { Native } from './calls.js';
import { HIGHER_ORDER, NOT_COMPILED } from './functions.js';

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
}

export interface Context {
  readonly scope: Scope;
  /** Inside an item of an array or object constructor, not in a nested block or lambda. */
  readonly inConstructor: boolean;
  /** The variable the enclosing named lambda is bound to. */
  readonly owner: string | undefined;
  readonly inLambda: boolean;
}

export const BINARY_OPERATORS = new Set(['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or', 'in', '..']);

export class Analysis {
  readonly root = new Scope(undefined, 'root');
  readonly scopes = new Map<Node, Scope>();
  /** Variables bound to lambdas: they may only be called (or passed to $map and friends). */
  readonly lambdaBound = new Set<string>();
  readonly valueBound = new Set<string>();
  readonly params = new Set<string>();
  readonly valueRefs = new Set<string>();
  readonly called = new Set<string>();
  readonly higherOrderWithLambda = new Set<string>();
  /** Per lambda-bound variable: the functions its lambdas call or pass on. */
  readonly uses = new Map<string, Set<string>>();
  /** Per constructor of two or more items: the functions each item calls. */
  readonly constructors: Set<string>[][] = [];

  constructor(private readonly callees: ReadonlyMap<string, Native>) {}

  run(ast: Node, impure: Set<string>): void {
    this.visit(ast, { scope: this.root, inConstructor: false, owner: undefined, inLambda: false });
    for (const name of this.lambdaBound) {
      if (this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} holds both a function and a value`);
      if (this.valueRefs.has(name)) refuse(`the function $${name} is used as a value`);
    }
    for (const name of this.called) {
      if (this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} is called but holds a value`);
      if (!this.lambdaBound.has(name) && !this.callees.has(name) && NOT_COMPILED.has(name)) refuse(`$${name}() is not compiled`);
    }
    for (const name of this.higherOrderWithLambda) {
      if (this.lambdaBound.has(name) || this.valueBound.has(name) || this.params.has(name)) refuse(`$${name} is redefined`);
    }
    this.checkAcyclic();
    // Which lambda-bound variables reach an impure function.
    let grew = true;
    while (grew) {
      grew = false;
      for (const [name, uses] of this.uses) {
        if (!impure.has(name) && [...uses].some((used) => impure.has(used))) {
          impure.add(name);
          grew = true;
        }
      }
    }
    for (const items of this.constructors) {
      if (items.filter((used) => [...used].some((name) => impure.has(name))).length >= 2) {
        refuse('two items of one constructor call functions with side effects (the interpreter evaluates them concurrently)');
      }
    }
  }

  /**
   * Refuses recursion (through lambda-bound names): compiled calls use JavaScript's stack, so deep
   * recursion would overflow where the interpreter, a promise per step, keeps going.
   */
  private checkAcyclic(): void {
    const state = new Map<string, 'visiting' | 'done'>();
    const walk = (name: string): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') refuse(`recursive function $${name}`);
      state.set(name, 'visiting');
      for (const used of this.uses.get(name) ?? []) if (this.lambdaBound.has(used)) walk(used);
      state.set(name, 'done');
    };
    for (const name of this.lambdaBound) walk(name);
  }

  private visit(node: Node, ctx: Context): Set<string> {
    const used = new Set<string>();
    const add = (names: Set<string>) => names.forEach((name) => used.add(name));
    checkFlags(node);
    for (const stage of node.predicate ?? []) {
      if (stage.type !== 'filter') refuse('an index binding (#)');
      add(this.visit(stage.expr, ctx));
    }
    switch (node.type) {
      case 'string':
      case 'number':
      case 'value':
      case 'wildcard':
        break;
      case 'variable':
        if (node.value !== '' && node.value !== '$') this.valueRefs.add(node.value);
        break;
      case 'path':
        node.steps!.forEach((step, i) => {
          checkFlags(step);
          if (step.type === 'sort') refuse('an order-by (^)');
          if (i === 0 && step.consarray && (step.stages || step.predicate)) refuse('a predicate on a leading array constructor');
          for (const stage of step.stages ?? []) {
            if (stage.type !== 'filter') refuse('an index binding (#)');
            add(this.visit(stage.expr, ctx));
          }
          if (step.type !== 'name') add(this.visit(step, ctx));
        });
        break;
      case 'binary':
        if (!BINARY_OPERATORS.has(node.value)) refuse(`the ${node.value} operator`);
        add(this.visit(node.lhs, ctx));
        add(this.visit(node.rhs, ctx));
        break;
      case 'unary':
        if (node.value === '-') {
          add(this.visit(node.expression!, ctx));
        } else if (node.value === '[') {
          const items = node.expressions!.map((item) => this.visit(item, { ...ctx, inConstructor: true }));
          items.forEach(add);
          if (items.length >= 2) this.constructors.push(items);
        } else if (node.value === '{') {
          const values: Set<string>[] = [];
          for (const [key, value] of node.lhs as [Node, Node][]) {
            add(this.visit(key, { ...ctx, inConstructor: true }));
            values.push(this.visit(value, { ...ctx, inConstructor: true }));
          }
          values.forEach(add);
          if (values.length >= 2) this.constructors.push(values);
        } else {
          refuse(`the unary ${node.value} operator`);
        }
        break;
      case 'condition':
        add(this.visit(node.condition!, ctx));
        add(this.visit(node.then!, ctx));
        if (node.else !== undefined) add(this.visit(node.else, ctx));
        break;
      case 'block': {
        const scope = new Scope(ctx.scope, 'block');
        this.scopes.set(node, scope);
        const inner: Context = { ...ctx, scope, inConstructor: false };
        const last = node.expressions!.length - 1;
        node.expressions!.forEach((expression, i) => {
          add(expression.type === 'bind' ? this.visitBind(expression, inner, i < last) : this.visit(expression, inner));
        });
        break;
      }
      case 'bind':
        add(this.visitBind(node, ctx, false));
        break;
      case 'lambda':
        if (!node.thunk || !ctx.inLambda) refuse('a function used as a value');
        add(this.visitCall(node.body!, ctx, 0));
        break;
      case 'function':
        add(this.visitCall(node, ctx, 0));
        break;
      case 'apply': {
        const rhs = node.rhs as Node;
        if (rhs.type !== 'function' || rhs.predicate || rhs.keepArray || rhs.group) refuse('~> to something other than a function call');
        add(this.visit(node.lhs, ctx));
        add(this.visitCall(rhs, ctx, 1));
        break;
      }
      default:
        refuse(NODE_NAMES[node.type] ?? `a ${node.type} expression`);
    }
    return used;
  }

  /** `$name := value`; a lambda may only be bound as a statement of a block (so it never becomes a result). */
  private visitBind(node: Node, ctx: Context, statement: boolean): Set<string> {
    checkFlags(node);
    const name = node.lhs.value as string;
    checkVariableName(name);
    if (ctx.inConstructor) refuse('a variable bound inside an array or object constructor (the interpreter evaluates the items concurrently)');
    ctx.scope.declare(name);
    const rhs = node.rhs as Node;
    if (rhs.type === 'lambda' && !rhs.thunk) {
      if (!statement) refuse('a function used as a value');
      this.lambdaBound.add(name);
      const used = this.visitLambda(rhs, ctx, name);
      const uses = this.uses.get(name) ?? new Set<string>();
      used.forEach((n) => uses.add(n));
      this.uses.set(name, uses);
      return used;
    }
    this.valueBound.add(name);
    return this.visit(rhs, ctx);
  }

  private visitLambda(node: Node, ctx: Context, owner: string | undefined): Set<string> {
    checkFlags(node);
    if (node.predicate || node.keepArray) refuse('a predicate on a function');
    const scope = new Scope(ctx.scope, 'lambda');
    this.scopes.set(node, scope);
    for (const param of node.arguments!) {
      checkVariableName(param.value);
      scope.declare(param.value);
      this.params.add(param.value);
    }
    checkTailSpine(node.body!);
    return this.visit(node.body!, { scope, inConstructor: false, owner: owner ?? ctx.owner, inLambda: true });
  }

  /** `$name(args)`; `extra` arguments come first (the left side of ~>). */
  private visitCall(node: Node, ctx: Context, extra: number): Set<string> {
    if (node.type === 'partial') refuse('a partial application');
    checkFlags(node);
    const procedure = node.procedure!;
    if (procedure.type !== 'variable' || procedure.value === '' || procedure.value === '$' || procedure.predicate || procedure.keepArray) {
      refuse('calling a computed function');
    }
    const name = procedure.value as string;
    const used = new Set<string>([name]);
    this.called.add(name);
    node.arguments!.forEach((arg, i) => {
      const functionArgument = HIGHER_ORDER.has(name) && i + extra === 1;
      if (arg.type === 'lambda' && !arg.thunk) {
        if (!functionArgument) refuse(`a function passed to $${name}()`);
        this.higherOrderWithLambda.add(name);
        this.visitLambda(arg, ctx, undefined).forEach((n) => used.add(n));
      } else if (functionArgument && arg.type === 'variable' && !arg.predicate && !arg.keepArray && arg.value !== '' && arg.value !== '$') {
        this.higherOrderWithLambda.add(name);
        used.add(arg.value);
      } else {
        this.visit(arg, ctx).forEach((n) => used.add(n));
      }
    });
    return used;
  }
}

export const NODE_NAMES: Record<string, string> = {
  regex: 'a regular expression',
  descendant: 'the descendant operator (**)',
  parent: 'the parent operator (%)',
  transform: 'a transform (|...|...|)',
  partial: 'a partial application',
  sort: 'an order-by (^)',
  error: 'a syntax error',
  name: 'a field name outside a path',
};

export function checkFlags(node: Node): void {
  if (node.group !== undefined) refuse('a grouping ({} after a path)');
  if (node.focus !== undefined || node.index !== undefined || node.tuple || node.ancestor !== undefined || node.seekingParent !== undefined) {
    refuse('a context or index binding (@, #, %)');
  }
}

export function checkVariableName(name: string): void {
  if (name === '' || name === '$') refuse('binding $ or $$');
  if (name.startsWith('__')) refuse(`the reserved variable $${name}`);
}

/** A tail call inside a predicate or [] would be filtered as a function value by the interpreter: refuse. */
export function checkTailSpine(node: Node): boolean {
  let hasThunk = false;
  if (node.type === 'lambda' && node.thunk) return true;
  if (node.type === 'condition') {
    hasThunk = checkTailSpine(node.then!);
    if (node.else !== undefined && checkTailSpine(node.else)) hasThunk = true;
  } else if (node.type === 'block' && node.expressions!.length > 0) {
    hasThunk = checkTailSpine(node.expressions![node.expressions!.length - 1]!);
  }
  if (hasThunk && (node.predicate || node.keepArray)) refuse('a predicate on a tail call');
  return hasThunk;
}
