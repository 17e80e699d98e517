// Pass 2: closures.
import { Analysis, Scope } from './analysis.js';
import { type Node, refuse } from './ast.js';
import { Composition, HOLE, type Native, apply, applyInner, directCall, fastCheck, isTailCall, partiallyApply, trampoline } from './calls.js';
import { BUILTINS, type Callees, fnString, predicateKeeps, truthy } from './functions.js';
import { callSite, namePath } from './inline.js';
import { matcherFor } from './regex.js';
import { arithmeticOperator, comparison, concatenation, conditional, contextValue, equality, filtered, frameLookup, functionCall, logical, nativeCall, normalising, predicateStage, prefixTest } from './sites.js';
import { type Tuple, type TupleFrame, indexStage, tupleFilter, tupleFrameMaker, tupleGroup } from './tuples.js';
import { arithmetic, compare, includes, range } from './operators.js';
import { type PathPlan, type Step, descendants, evaluateGroup, evaluatePath, indexFilter, nameStep, arrayBuilder, objectBuilder, sortStep, wildcard } from './paths.js';
import { type Filter, type Fn, Frame, Lambda, perSite, type LambdaDef, Run, SELF_NORMALISING, type Seq, type TailSite, Thunk, UNBOUND, handOver, hasOwn, isDeepEqual, isFunction, isNumeric, newVars, norm, normal, seq, seq1 } from './runtime.js';

/**
 * Whether a node's value is never a sequence. Constants, constructors, operators (but ..) and
 * lambdas never give one, nor a condition whose branches never do (`c ? "a" : "b"`), a block
 * whose last expression never does or a binding of such a value; anything else may, even an
 * unnormalised one (a tail call's result reaches a caller unnormalised).
 * `alone`: the node as a branch, where its own predicates, grouping or [] would apply too.
 */
function givesNoSequence(node: Node, alone: boolean): boolean {
  if (alone && (node.predicate !== undefined || node.keepArray === true || node.group !== undefined || node.stages !== undefined)) return false;
  switch (node.type) {
    case 'string':
    case 'number':
    case 'value':
    case 'unary':
    case 'lambda':
    case 'regex':
    case 'partial':
      return true;
    case 'binary':
      return node.value !== '..';
    case 'condition':
      return givesNoSequence(node.then!, true) && (node.else === undefined || givesNoSequence(node.else, true));
    // A block gives its last expression's value (nothing when empty), a binding its right side's.
    case 'block':
      return node.expressions!.length === 0 || givesNoSequence(node.expressions![node.expressions!.length - 1]!, true);
    case 'bind':
      return givesNoSequence(node.rhs as Node, true);
    default:
      return false;
  }
}

export class Emitter {
  /** perSite(), or for code compiled per evaluation ($eval's texts) the factory itself: a copy per node costs a compilation. */
  private readonly site: typeof perSite;
  constructor(
    private readonly analysis: Analysis,
    private readonly callees: Callees,
    private readonly specialise = true,
  ) {
    this.site = specialise ? perSite : (factory) => factory;
  }

  /** A node as jsonata's evaluate() runs it: the node, its predicates, then sequence normalisation. */
  compile(node: Node, scope: Scope): Fn {
    const tuple = node.tuple === true && node.predicate !== undefined ? this.tupleScope(node) : undefined;
    const filters = node.predicate?.map((stage) => (tuple !== undefined ? this.tupleFilter(stage.expr, tuple) : this.filter(stage.expr, scope)));
    const keepArray = node.keepArray === true;
    // Predicates and [] see the node's result before normalisation: only without them may a
    // variable, path or call normalise its own result (saving a closure per node).
    const group = node.type !== 'path' && node.group !== undefined ? this.group(node.group.lhs, scope) : undefined;
    const selfNormalising = filters === undefined && !keepArray && group === undefined && SELF_NORMALISING.has(node.type);
    const raw = this.raw(node, scope, selfNormalising);
    const maySequence = !givesNoSequence(node, false);
    if (filters === undefined && group === undefined) {
      if (!keepArray && (!maySequence || selfNormalising)) return raw;
      return this.site(normalising)({ raw, keepArray, norm });
    }
    return this.site(filtered)({ raw, filters: filters ?? [], group, keepArray, norm });
  }

  /** A grouping after a path carrying tuples: over a tuple stream, keys and values see the tuples' names. */
  private tupleGroup(lhs: readonly [Node, Node][], tuple: { scope: Scope; makeFrame: TupleFrame }): (input: unknown, frame: Frame) => unknown {
    const pairs = lhs.map(([key, value]) => [this.compile(key, tuple.scope), this.compile(value, tuple.scope)] as const);
    return (input, frame) => {
      if (Array.isArray(input) && (input as Seq).tupleStream) return tupleGroup(pairs, input as Tuple[], frame, tuple.makeFrame);
      if (Array.isArray(input) && input.length === 0) {
        if (!(input as Seq).sequence) return handOver();
        input = [undefined];
      }
      return evaluateGroup(pairs, input, tuple.makeFrame(undefined, frame));
    };
  }

  /** A grouping `{key: value, ...}` after an expression: evaluateGroupExpression() over its result. */
  private group(lhs: readonly [Node, Node][], scope: Scope): (input: unknown, frame: Frame) => unknown {
    const pairs = lhs.map(([key, value]) => [this.compile(key, scope), this.compile(value, scope)] as const);
    return (input, frame) => {
      // The interpreter pushes `undefined` into an empty input (mutating a document's array): only a sequence of its own is safe.
      if (Array.isArray(input) && input.length === 0) {
        if (!(input as Seq).sequence) return handOver();
        input = [undefined];
      }
      return evaluateGroup(pairs, input, frame);
    };
  }

  /** The node alone; `normalise`: a variable, path or call normalises its result too. */
  private raw(node: Node, scope: Scope, normalise: boolean): Fn {
    switch (node.type) {
      case 'string':
      case 'number':
      case 'value': {
        const value = node.value;
        return () => value;
      }
      case 'variable':
        return this.variable(node.value, scope, normalise);
      case 'path':
        return this.path(node, scope, normalise);
      case 'binary':
        return this.binary(node, scope);
      case 'unary':
        return node.value === '-' ? this.negate(node, scope) : node.value === '[' ? this.array(node, scope) : this.object(node, scope);
      case 'wildcard':
        return (input) => wildcard(input);
      case 'descendant':
        return (input) => descendants(input);
      case 'parent':
        // The item a tuple bound under this label; nothing outside a tuple.
        return this.lookup((node as unknown as { slot: { label: string } }).slot.label, scope, () => undefined);
      case 'regex': {
        const literal = node.value as RegExp;
        return () => matcherFor(literal);
      }
      case 'partial':
        return this.partial(node, scope);
      case 'condition':
        return this.condition(node, scope);
      case 'block':
        return this.block(node, scope);
      case 'bind':
        return this.bind(node, scope);
      case 'function':
        return this.call(node, scope, undefined, normalise);
      case 'apply':
        if ((node.rhs as Node).type === 'function') return this.call(node.rhs as Node, scope, this.compile(node.lhs as Node, scope), normalise);
        return this.applyValue(node, scope, normalise);
      case 'lambda':
        return node.thunk ? this.tailCall(node, scope) : this.lambda(node);
      default:
        return refuse(`a ${node.type} expression`, node);
    }
  }

  private variable(name: string, scope: Scope, normalise: boolean): Fn {
    const done = normalise ? normal : (value: unknown) => value;
    if (name === '') return this.site(contextValue)({ done });
    if (name === '$') return (_input, frame) => done(frame.run.root);
    // Unbound in the expression: a binding, else a built-in or registered function's definition.
    const definition = this.callees.definitions.get(name);
    return this.lookup(name, scope, (run) => (hasOwn(run.bindings, name) ? run.bindings[name] : definition), normalise);
  }

  /**
   * A variable's value: the innermost frame that bound it at run time, else `unbound`; with
   * `normalise`, normalised too. Made per node (perSite): its frame loads then see one frame shape.
   */
  private lookup(name: string, scope: Scope, unbound: (run: Run) => unknown, normalise = false): Fn {
    const candidates: [hops: number, slot: number][] = [];
    let hops = 0;
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      const slot = s.names.get(name);
      if (slot !== undefined) candidates.push([hops, slot]);
      if (s.materialized) hops++;
    }
    const [firstHops, firstSlot] = candidates[0] ?? [-1, -1];
    return this.site(frameLookup)({
      firstHops,
      firstSlot,
      hopsList: candidates.map(([h]) => h),
      slots: candidates.map(([, slot]) => slot),
      unbound,
      normalise,
      normal,
      UNBOUND,
    });
  }

  private filter(expr: Node, scope: Scope): Filter {
    if (expr.type === 'number') {
      const value = expr.value as number;
      return (input) => indexFilter(value, input);
    }
    const predicate = this.compile(expr, scope);
    return this.site(predicateStage)({ predicate, seq, seq1, predicateKeeps });
  }

  /** The scope binding every tuple name (made by the analysis for `key`), and how to make its frame from a tuple. */
  private tupleScope(key: object): { scope: Scope; makeFrame: TupleFrame } {
    const inner = this.analysis.tupleScopes.get(key as Node)!;
    return { scope: inner, makeFrame: tupleFrameMaker(inner.names) };
  }

  /** A predicate over what may be a tuple stream, compiled in a tuple scope. */
  private tupleFilter(expr: Node, tuple: { scope: Scope; makeFrame: TupleFrame }): Filter {
    return tupleFilter(expr.type === 'number' ? (expr.value as number) : this.compile(expr, tuple.scope), tuple.makeFrame);
  }

  private path(node: Node, scope: Scope, normalise: boolean): Fn {
    // From the first step that binds (@, #, or a parent sought), the path carries tuples: those
    // steps, their predicates and order-bys are evaluated in frames made from each tuple.
    const tupleFrom = node.steps!.findIndex((step) => step.tuple === true);
    const tuple = tupleFrom === -1 ? undefined : this.tupleScope(node.steps!);
    const steps: Step[] = node.steps!.map((step, i) => {
      const inTuples = tuple !== undefined && i >= tupleFrom;
      const s = inTuples ? tuple.scope : scope;
      return {
        fn: step.type === 'name' ? nameStep(step.value, step.keepArray === true) : step.type === 'sort' ? () => undefined : this.compile(step, s),
        stages: step.stages?.map((stage) =>
          stage.type === 'index' ? indexStage((stage as unknown as { value: string }).value) : inTuples ? this.tupleFilter(stage.expr, tuple) : this.filter(stage.expr, s),
        ),
        consarray: i === 0 && step.consarray === true,
        sort:
          step.type === 'sort'
            ? sortStep(
                step.terms!.map((term) => ({ descending: term.descending === true, key: this.compile(term.expression, s) })),
                inTuples ? tuple.makeFrame : undefined,
              )
            : undefined,
        tuple: step.tuple === true,
        binding: { focus: step.focus, index: step.index, ancestor: (step.ancestor as { label: string } | undefined)?.label },
      };
    });
    const plan: PathPlan = {
      steps,
      firstIsVariable: node.steps![0]!.type === 'variable',
      keepSingletonArray: node.keepSingletonArray === true,
      // A grouping after the path takes its tuples (evaluatePath hands it tupleBindings).
      tuple: node.tuple === true || (tuple !== undefined && node.group !== undefined),
      ...(tuple === undefined ? {} : { makeFrame: tuple.makeFrame }),
    };
    if (node.group !== undefined) {
      const group = tuple === undefined ? this.group(node.group.lhs, scope) : this.tupleGroup(node.group.lhs, tuple);
      return normalise ? (input, frame) => normal(group(evaluatePath(plan, input, frame), frame)) : (input, frame) => group(evaluatePath(plan, input, frame), frame);
    }
    if (tuple !== undefined) return normalise ? (input, frame) => normal(evaluatePath(plan, input, frame)) : (input, frame) => evaluatePath(plan, input, frame);
    const slow: Fn = normalise ? (input, frame) => normal(evaluatePath(plan, input, frame)) : (input, frame) => evaluatePath(plan, input, frame);
    if (!normalise) return slow;

    // Fast path: field names (optionally after a variable) over objects, no arrays met.
    const simple = (step: Node) => !step.stages && !step.predicate && !step.keepArray && !step.consarray;
    const first = node.steps![0]!;
    const startsWithVariable = first.type === 'variable' && simple(first);
    const rest = startsWithVariable ? node.steps!.slice(1) : node.steps!;
    if (plan.keepSingletonArray || rest.length === 0 || !rest.every((step) => step.type === 'name' && simple(step))) return slow;
    const names = rest.map((step) => step.value as string);
    const start = startsWithVariable ? steps[0]!.fn : undefined;
    return namePath(names, start, slow);
  }

  private binary(node: Node, scope: Scope): Fn {
    const op = node.value as string;
    const lhs = this.compile(node.lhs, scope);
    const rhs = this.compile(node.rhs, scope);
    if (op === '=' || op === '!=') {
      const prefix = this.prefixTest(node, scope, this.site(equality)({ lhs, rhs, equal: op === '=', isDeepEqual }));
      if (prefix !== undefined) return prefix;
    }
    switch (op) {
      case 'and':
      case 'or':
        return this.site(logical)({ lhs, rhs, truthy, and: op === 'and' });
      case '+':
      case '-':
      case '*':
      case '/':
        return this.site(arithmeticOperator)({ lhs, rhs, op, arithmetic });
      case '%':
        return (input, frame) => arithmetic(op, lhs(input, frame), rhs(input, frame));
      case '=':
      case '!=':
        return this.site(equality)({ lhs, rhs, equal: op === '=', isDeepEqual });
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.site(comparison)({ lhs, rhs, op, compare });
      case '&':
        return this.site(concatenation)({ lhs, rhs, fnString });
      case 'in':
        return (input, frame) => includes(lhs(input, frame), rhs(input, frame));
      case '..':
        return (input, frame) => range(lhs(input, frame), rhs(input, frame));
      default:
        return refuse(`the ${op} operator`);
    }
  }

  /**
   * `$substring(text, 0, n) = "literal"` (either way round, or `!=`), JSONata's idiom for a prefix
   * test, as a prefixTest() site that compares without cutting the substring; undefined for any
   * other comparison. `generic`: the comparison as compiled otherwise, for an evaluation whose
   * bindings replace $substring.
   */
  private prefixTest(node: Node, scope: Scope, generic: Fn): Fn | undefined {
    const plain = (n: Node) => !n.predicate && !n.keepArray && n.group === undefined && n.stages === undefined;
    const [call, literal] = (node.lhs as Node).type === 'string' ? [node.rhs as Node, node.lhs as Node] : [node.lhs as Node, node.rhs as Node];
    if (literal.type !== 'string' || !plain(literal) || (literal.value as string).length > 64 || /[\ud800-\udfff]/.test(literal.value as string)) return undefined;
    if (call.type !== 'function' || !plain(call) || call.arguments!.length !== 3) return undefined;
    const procedure = call.procedure!;
    if (procedure.type !== 'variable' || procedure.value !== 'substring' || !plain(procedure) || scope.declares('substring')) return undefined;
    // The built-in itself, not a registered function of that name.
    if (this.callees.byName.get('substring') !== BUILTINS.get('substring')) return undefined;
    const [text, start, length] = call.arguments!;
    const isNumber = (n: Node, value: (v: number) => boolean) => n.type === 'number' && plain(n) && value(n.value as number);
    if (!isNumber(start!, (v) => v === 0) || !isNumber(length!, (v) => Number.isInteger(v) && v >= 1)) return undefined;
    return this.site(prefixTest)({ text: this.compile(text!, scope), literal: literal.value as string, length: length!.value as number, equal: node.value === '=', generic, hasOwn, handOver });
  }

  private negate(node: Node, scope: Scope): Fn {
    const expression = this.compile(node.expression!, scope);
    return (input, frame) => {
      const value = expression(input, frame);
      if (value === undefined) return undefined;
      return isNumeric(value) ? -value : handOver();
    };
  }

  private array(node: Node, scope: Scope): Fn {
    // A range item gives a fresh array: the first one becomes the result as it is, where the
    // interpreter copies it into `[]` (fn.append) with the same items.
    const ranges = node.expressions!.map((item) => item.type === 'binary' && item.value === '..' && !item.predicate && !item.keepArray && item.group === undefined);
    const items = node.expressions!.map((item, i) => {
      if (!ranges[i]) return this.compile(item, scope);
      const lhs = this.compile(item.lhs, scope);
      const rhs = this.compile(item.rhs, scope);
      return (input: unknown, frame: Frame) => range(lhs(input, frame), rhs(input, frame), true);
    });
    const nested = node.expressions!.map((item) => item.value === '[');
    return arrayBuilder(items, ranges, nested, node.consarray === true);
  }

  private object(node: Node, scope: Scope): Fn {
    const pairs = (node.lhs as [Node, Node][]).map(([key, value]) => [this.compile(key, scope), this.compile(value, scope)] as const);
    const generic: Fn = (input, frame) => evaluateGroup(pairs, input, frame);
    const keys = (node.lhs as [Node, Node][]).map(([key]) => (key.type === 'string' && !key.predicate && !key.keepArray ? (key.value as string) : undefined));
    const literal =
      keys.every((key) => key !== undefined && key !== '_jsonata_lambda' && key !== '_jsonata_function' && key !== '__proto__') &&
      new Set(keys).size === keys.length;
    if (!literal) return generic;
    // Fast path: literal distinct keys over one (non-array) input. The object is built by a
    // function generated for these keys, so its property stores have one shape to learn.
    const values = pairs.map(([, value]) => value);
    return objectBuilder(keys as string[], values, generic);
  }

  private condition(node: Node, scope: Scope): Fn {
    const condition = this.compile(node.condition!, scope);
    const then = this.compile(node.then!, scope);
    const otherwise = node.else === undefined ? undefined : this.compile(node.else, scope);
    return this.site(conditional)({ condition, then, otherwise, truthy });
  }

  private block(node: Node, scope: Scope): Fn {
    const inner = this.analysis.scopes.get(node)!;
    const expressions = node.expressions!.map((expression) => this.compile(expression, inner));
    const size = inner.materialized ? inner.names.size : 0;
    if (expressions.length === 0) return () => undefined;
    if (size === 0 && expressions.length === 1) return expressions[0]!;
    return (input, frame) => {
      const f = size > 0 ? new Frame(newVars(size), frame, frame.run) : frame;
      let result: unknown;
      for (let i = 0; i < expressions.length; i++) result = expressions[i]!(input, f);
      return result;
    };
  }

  private bind(node: Node, scope: Scope): Fn {
    const slot = scope.names.get(node.lhs.value)!;
    const value = this.compile(node.rhs as Node, scope);
    return (input, frame) => {
      const v = value(input, frame);
      frame.vars[slot] = v;
      return v;
    };
  }

  private lambda(node: Node): Fn {
    const inner = this.analysis.scopes.get(node)!;
    const def: LambdaDef = {
      arity: node.arguments!.length,
      slots: node.arguments!.map((param) => inner.names.get(param.value)!),
      frameSize: inner.materialized ? inner.names.size : 0,
      signature: node.signature,
      body: this.compile(node.body!, inner),
    };
    return (input, frame) => new Lambda(def, input, frame);
  }

  /** The function a call names: a value bound in a frame, else a binding, a registered function or a built-in. */
  private callee(name: string, scope: Scope): Fn {
    const native = this.callees.byName.get(name);
    const definition = this.callees.definitions.get(name);
    const global =
      native === undefined
        ? (run: Run) => (hasOwn(run.bindings, name) ? run.bindings[name] : definition)
        : (run: Run) => (run.overrides && hasOwn(run.bindings, name) ? run.bindings[name] : native);
    if (scope.declares(name)) return this.lookup(name, scope, global);
    return (_input, frame) => global(frame.run);
  }

  /** A call's procedure: a name, or any expression giving a function. */
  private procedure(procedure: Node, scope: Scope): Fn {
    if (procedure.type === 'variable' && procedure.value !== '' && procedure.value !== '$' && !procedure.predicate && !procedure.keepArray && procedure.group === undefined) {
      return this.callee(procedure.value as string, scope);
    }
    return this.compile(procedure, scope);
  }

  /** jsonata's evaluateFunction(); `first` is the left side of `~>` (evaluated first). */
  private call(node: Node, scope: Scope, first: Fn | undefined, normalise: boolean): Fn {
    const done = normalise ? normal : (value: unknown) => value;
    const procedure = node.procedure!;
    const args = node.arguments!.map((arg) => this.compile(arg, scope));
    if (first !== undefined) args.unshift(first);
    const argc = args.length;
    const [a0, a1] = args;
    const evaluateArgs: (input: unknown, frame: Frame) => unknown[] =
      argc === 0
        ? () => []
        : argc === 1
          ? (input, frame) => [a0!(input, frame)]
          : argc === 2
            ? (input, frame) => [a0!(input, frame), a1!(input, frame)]
            : (input, frame) => args.map((arg) => arg(input, frame));
    const name = procedure.type === 'variable' ? (procedure.value as string) : undefined;
    const native = name === undefined ? undefined : this.callees.byName.get(name);
    if (name === undefined || native === undefined || scope.declares(name) || procedure.predicate || procedure.keepArray || procedure.group !== undefined) {
      const callee = this.procedure(procedure, scope);
      if (first !== undefined) {
        const rest = args.slice(1);
        return (input, frame) => {
          const lhs = first(input, frame);
          const proc = callee(input, frame);
          const values = [lhs];
          for (let i = 0; i < rest.length; i++) values.push(rest[i]!(input, frame));
          return done(apply(proc, values, input, frame.run));
        };
      }
      const inPlace = this.specialise ? (invoke: Parameters<typeof callSite>[2]) => callSite(callee, args, invoke) : undefined;
      return this.site(functionCall)({ callee, args, done, apply, trampoline, newVars, isTailCall, Lambda, Frame, UNBOUND, inPlace });
    }
    const direct = this.specialise ? directCall({ native, name, args, done }) : undefined;
    if (direct !== undefined) return direct;
    const check = fastCheck(native, argc);
    return this.site(nativeCall)({ native, name, args, check, done, apply, applyInner, hasOwn });
  }

  /** `proc(a, ?, c)`: the arguments first, then the procedure, as evaluatePartialApplication(). */
  private partial(node: Node, scope: Scope): Fn {
    const args = node.arguments!.map((arg) => (arg.type === 'operator' && arg.value === '?' ? undefined : this.compile(arg, scope)));
    const procedure = this.procedure(node.procedure!, scope);
    return (input, frame) => {
      const values = args.map((arg) => (arg === undefined ? HOLE : arg(input, frame)));
      return partiallyApply(procedure(input, frame), values, frame.run);
    };
  }

  /** `lhs ~> rhs` where rhs is not a call: applies the function rhs gives, or composes two functions. */
  private applyValue(node: Node, scope: Scope, normalise: boolean): Fn {
    const done = normalise ? normal : (value: unknown) => value;
    const lhs = this.compile(node.lhs as Node, scope);
    const rhs = this.compile(node.rhs as Node, scope);
    return (input, frame) => {
      const value = lhs(input, frame);
      const func = rhs(input, frame);
      if (!isFunction(func)) return handOver();
      if (isFunction(value)) return new Composition(value, func);
      return done(apply(func, [value], null, frame.run));
    };
  }

  /** A tail call in a lambda body: the interpreter returns it as a thunk for apply()'s trampoline. */
  private tailCall(node: Node, scope: Scope): Fn {
    const call = node.body!;
    const site: TailSite = { callee: this.procedure(call.procedure!, scope), args: call.arguments!.map((arg) => this.compile(arg, scope)) };
    return (input, frame) => new Thunk(site, input, frame);
  }
}
