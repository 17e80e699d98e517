// Bloblang syntax tree -> JavaScript closures. Each expression becomes one function of
// (this, run, captures); a mapping becomes a list of statement functions run in order. Errors are
// exceptions (BloblangError) so `.catch()`, `.or()` and `|` recover from them, and each statement
// wraps its error as Connect does: `failed assignment (line N): <cause>`.
import type { Args, BinaryOp, Expr, Program, Statement } from './ast.js';
import { FUNCTIONS } from './functions.js';
import { syntaxError } from './lexer.js';
import { METHODS } from './methods/index.js';
import type { CallSite, Captures, MethodSpec, ParamSpec, Query, Run } from './registry.js';
import { BloblangError, bytesToString, copyObject, DELETED, equal, Failure, getBool, getField, getNumber, isObject, NOTHING, Timestamp, typeOf } from './values.js';

export type Fn = (ctx: unknown, run: Run, caps: Captures | undefined) => unknown;
export type StatementFn = (ctx: unknown, run: Run) => void;

/** The top-level `this` before the message body is parsed: resolved through run.document(). */
export const UNPARSED: unique symbol = Symbol('unparsed');

const self = (ctx: unknown, run: Run): unknown => (ctx === UNPARSED ? run.document() : ctx);

export class Compiler {
  readonly #source: string;
  readonly maps = new Map<string, StatementFn[]>();

  constructor(source: string) {
    this.#source = source;
  }

  program(program: Program): StatementFn[] {
    for (const name of program.maps.keys()) this.maps.set(name, []);
    for (const [name, body] of program.maps) this.maps.get(name)!.push(...body.map((s) => this.statement(s)));
    return program.statements.map((s) => this.statement(s));
  }

  statement(s: Statement): StatementFn {
    const fail = (err: unknown): never => {
      throw new BloblangError(`failed assignment (line ${s.line}): ${(err as Error).message}`);
    };
    /** Evaluates a statement's expression; a failure names the statement's line. */
    const evaluate = (value: Fn, ctx: unknown, run: Run): unknown => {
      try {
        return value(ctx, run, undefined);
      } catch (err) {
        return fail(err);
      }
    };
    switch (s.kind) {
      case 'let': {
        const value = this.expr(s.value);
        const name = s.name;
        return (ctx, run) => {
          const v = evaluate(value, ctx, run);
          if (v !== NOTHING) run.vars.set(name, v);
        };
      }
      case 'if': {
        const branches = s.branches.map(([cond, body]) => [this.expr(cond), body.map((b) => this.statement(b))] as const);
        const otherwise = s.otherwise?.map((b) => this.statement(b));
        return (ctx, run) => {
          for (const [cond, body] of branches) {
            let hit: boolean;
            try {
              hit = getBool(cond(ctx, run, undefined), 'if condition');
            } catch (err) {
              fail(err);
            }
            if (hit!) {
              for (const st of body) st(ctx, run);
              return;
            }
          }
          if (otherwise) for (const st of otherwise) st(ctx, run);
        };
      }
      case 'assign': {
        const value = this.expr(s.value);
        const target = s.target;
        if (target.kind === 'meta') {
          const key = target.key;
          return (ctx, run) => {
            let v: unknown;
            try {
              v = value(ctx, run, undefined);
              if (v === NOTHING) return;
              assignMeta(run, key, v);
            } catch (err) {
              fail(err);
            }
          };
        }
        const path = target.path;
        return (ctx, run) => {
          const v = evaluate(value, ctx, run);
          if (v === NOTHING) return;
          run.root = path.length === 0 ? v : setPath(run.root, path, 0, v);
        };
      }
    }
  }

  expr(e: Expr): Fn {
    switch (e.kind) {
      case 'literal': {
        const v = e.value;
        return () => v;
      }
      case 'this':
        return self;
      case 'root':
        return (_ctx, run) => (run.root === NOTHING ? null : run.root);
      case 'name': {
        const name = e.name;
        return (ctx, run, caps) => {
          for (let c = caps; c !== undefined; c = c.parent) if (c.name === name) return c.value;
          return getField(self(ctx, run), name);
        };
      }
      case 'var': {
        const name = e.name;
        return (_ctx, run) => {
          const v = run.vars.get(name);
          if (v === undefined && !run.vars.has(name)) throw new BloblangError(`variable ${name} undefined`);
          return v;
        };
      }
      case 'meta': {
        const key = e.key;
        if (key === '') return (_ctx, run) => copyObject(run.meta);
        return (_ctx, run) => run.meta[key] ?? null;
      }
      case 'get':
        return this.#get(e.target, e.path);
      case 'object':
        return this.#object(e);
      case 'array': {
        const items = e.items.map((i) => this.expr(i));
        return (ctx, run, caps) => {
          const out: unknown[] = [];
          for (const item of items) {
            const v = item(ctx, run, caps);
            if (v !== NOTHING && v !== DELETED) out.push(v);
          }
          return out;
        };
      }
      case 'call':
        return this.#call(e.name, e.args, e.at);
      case 'method':
        return this.#method(e.target, e.name, e.args, e.at);
      case 'context': {
        const target = this.expr(e.target);
        const body = this.query(e.body);
        return (ctx, run, caps) => body(target(ctx, run, caps), { run, ctx, captures: caps, label: 'context' });
      }
      case 'binary':
        return this.#binary(e.op, this.expr(e.left), this.expr(e.right), labelOf(e.left, this.#source), labelOf(e.right, this.#source));
      case 'not': {
        const operand = this.expr(e.operand);
        return (ctx, run, caps) => !getBool(operand(ctx, run, caps), labelOf(e.operand, this.#source));
      }
      case 'negate': {
        const operand = this.expr(e.operand);
        return (ctx, run, caps) => -getNumber(operand(ctx, run, caps), labelOf(e.operand, this.#source));
      }
      case 'if': {
        const branches = e.branches.map(([c, v]) => [this.expr(c), this.expr(v)] as const);
        const otherwise = e.otherwise ? this.expr(e.otherwise) : undefined;
        return (ctx, run, caps) => {
          for (const [cond, value] of branches) if (getBool(cond(ctx, run, caps), 'if condition')) return value(ctx, run, caps);
          return otherwise ? otherwise(ctx, run, caps) : NOTHING;
        };
      }
      case 'match':
        return this.#match(e);
      case 'lambda':
        throw syntaxError(this.#source, e.at, 'a lambda (x -> ...) is only valid as an argument of a method or a function');
    }
  }

  /** An argument evaluated against a value: `this` = value, or a lambda's capture = value. */
  query(e: Expr): Query {
    if (e.kind === 'lambda') {
      const body = this.expr(e.body);
      const param = e.param;
      if (param === '_') return (_v, site) => body(site.ctx, site.run, site.captures);
      return (v, site) => body(site.ctx, site.run, { name: param, value: v, parent: site.captures });
    }
    const body = this.expr(e);
    return (v, site) => body(v, site.run, site.captures);
  }

  #get(targetExpr: Expr, path: string[]): Fn {
    const target = this.expr(targetExpr);
    if (path.length === 1) {
      const key = path[0]!;
      return (ctx, run, caps) => getField(target(ctx, run, caps), key);
    }
    return (ctx, run, caps) => {
      let v = target(ctx, run, caps);
      for (const key of path) v = getField(v, key);
      return v;
    };
  }

  #object(e: Extract<Expr, { kind: 'object' }>): Fn {
    const entries = e.entries.map(([k, v]) => {
      const staticKey = k.kind === 'literal' && typeof k.value === 'string' ? k.value : undefined;
      if (k.kind === 'literal' && staticKey === undefined) throw syntaxError(this.#source, k.at, 'object keys must be strings or queries that resolve to strings');
      return { staticKey, key: staticKey === undefined ? this.expr(k) : undefined, keyLabel: labelOf(k, this.#source), value: this.expr(v) };
    });
    return (ctx, run, caps) => {
      const out: Record<string, unknown> = {};
      for (const entry of entries) {
        let key = entry.staticKey;
        if (key === undefined) {
          const k = entry.key!(ctx, run, caps);
          if (typeof k === 'string') key = k;
          else if (k instanceof Uint8Array) key = bytesToString(k);
          else throw new BloblangError(`${entry.keyLabel}: mapping returned invalid key type: ${typeOf(k)}`);
        }
        const v = entry.value(ctx, run, caps);
        if (v === NOTHING || v === DELETED) continue;
        out[key] = v;
      }
      return out;
    };
  }

  #match(e: Extract<Expr, { kind: 'match' }>): Fn {
    const subject = e.subject ? this.expr(e.subject) : undefined;
    const cases = e.cases.map((c) => {
      const literal = c.pattern !== undefined && isLiteral(c.pattern);
      return {
        any: c.pattern === undefined,
        literal,
        pattern: c.pattern === undefined ? undefined : literal ? this.expr(c.pattern) : this.expr(c.pattern),
        value: this.expr(c.value),
      };
    });
    return (ctx, run, caps) => {
      const subjectValue = subject ? subject(ctx, run, caps) : ctx;
      for (const c of cases) {
        if (!c.any) {
          if (c.literal) {
            if (!equal(subjectValue, c.pattern!(subjectValue, run, caps))) continue;
          } else {
            const hit = c.pattern!(subjectValue, run, caps);
            if (typeof hit !== 'boolean') {
              // A non-boolean query pattern is compared with the subject, as a literal would be.
              if (!equal(subjectValue, hit)) continue;
            } else if (!hit) continue;
          }
        }
        return c.value(subjectValue, run, caps);
      }
      return NOTHING;
    };
  }

  #bind(spec: { params: readonly ParamSpec[] }, args: Args, what: string, at: number): ((ctx: unknown, run: Run, caps: Captures | undefined) => unknown)[] {
    const { positional, named } = args;
    const specs = spec.params;
    const ordered: (Expr | undefined)[] = [];
    if (Object.keys(named).length > 0) {
      for (const key of Object.keys(named)) {
        if (!specs.some((p) => p.name === key)) throw syntaxError(this.#source, at, `${what}: unknown parameter ${key} (parameters: ${specs.map((p) => p.name).join(', ') || 'none'})`);
      }
      for (const p of specs) ordered.push(named[p.name]);
    } else {
      const rest = specs.findIndex((p) => p.rest);
      if (rest === -1 && positional.length > specs.length) {
        throw syntaxError(this.#source, at, `${what}: wrong number of arguments, expected ${specs.length}, got ${positional.length}`);
      }
      ordered.push(...positional);
    }
    specs.forEach((p, i) => {
      if (!p.optional && ordered[i] === undefined) throw syntaxError(this.#source, at, `${what}: missing parameter ${p.name}`);
    });
    return ordered.map((arg, i) => {
      const p = specs[Math.min(i, specs.length - 1)];
      if (arg === undefined) return () => undefined;
      if (p?.query) {
        const q = this.query(arg);
        return () => q;
      }
      if (p?.lambda) {
        if (arg.kind === 'lambda') {
          const q = this.query(arg);
          return () => q;
        }
        const value = this.expr(arg);
        const q: Query = (_v, site) => value(site.ctx, site.run, site.captures);
        return () => q;
      }
      if (arg.kind === 'lambda') throw syntaxError(this.#source, arg.at, `${what}: parameter ${p?.name ?? i} takes a value, not a lambda`);
      return this.expr(arg);
    });
  }

  /** The target of a method that takes failures as values: a call there may return a Failure rather than throw. */
  #softTarget(e: Expr): Fn {
    if (e.kind === 'call') return this.#call(e.name, e.args, e.at, true);
    if (e.kind === 'method') return this.#method(e.target, e.name, e.args, e.at, true);
    return this.expr(e);
  }

  #call(name: string, args: Args, at: number, soft = false): Fn {
    const spec = FUNCTIONS[name];
    if (spec === undefined) throw syntaxError(this.#source, at, `unrecognised function '${name}'${suggest(name, Object.keys(FUNCTIONS))}`);
    const label = `function ${name}`;
    const argFns = this.#bind(spec, args, label, at);
    const rest = spec.params.findIndex((p) => p.rest);
    const impl = spec.impl;
    const state: Record<string, unknown> = {};
    return (ctx, run, caps) => {
      const site: CallSite = { run, ctx, captures: caps, label, state };
      const values = collect(argFns, rest, ctx, run, caps);
      let result: unknown;
      try {
        result = impl(values, site);
      } catch (err) {
        throw annotate(err, label);
      }
      if (result instanceof Failure && !soft) throw result.error();
      return result;
    };
  }

  #method(targetExpr: Expr, name: string, args: Args, at: number, soft = false): Fn {
    const spec: MethodSpec | undefined = METHODS[name];
    if (spec === undefined) throw syntaxError(this.#source, at, `unrecognised method '${name}'${suggest(name, Object.keys(METHODS))}`);
    const target = spec.lazyTarget ? this.#softTarget(targetExpr) : this.expr(targetExpr);
    const label = `method ${name}`;
    const argFns = this.#bind(spec, args, label, at);
    const rest = spec.params.findIndex((p) => p.rest);
    const impl = spec.impl;
    const from = labelOf(targetExpr, this.#source);
    if (spec.perMessage) {
      return (ctx, run, caps) => {
        const site: CallSite = { run, ctx, captures: caps, label: from };
        const perMessage: Query = (_v, s) => target(UNPARSED, s.run, caps);
        return impl(perMessage, collect(argFns, rest, ctx, run, caps), site);
      };
    }
    if (spec.lazyTarget) {
      return (ctx, run, caps) => {
        const site: CallSite = { run, ctx, captures: caps, label: from };
        const thunk = () => target(ctx, run, caps);
        const result = impl(thunk, collect(argFns, rest, ctx, run, caps), site);
        if (result instanceof Failure && !soft) throw result.error();
        return result;
      };
    }
    return (ctx, run, caps) => {
      const t = target(ctx, run, caps);
      const site: CallSite = { run, ctx, captures: caps, label: from };
      const values = collect(argFns, rest, ctx, run, caps);
      let result: unknown;
      try {
        result = impl(t, values, site);
      } catch (err) {
        throw annotate(err, from);
      }
      if (result instanceof Failure && !soft) throw result.error();
      return result;
    };
  }

  #binary(op: BinaryOp, left: Fn, right: Fn, leftLabel: string, rightLabel: string): Fn {
    const mismatch = (verb: string, l: unknown, r: unknown) =>
      new BloblangError(`cannot ${verb} types ${typeOf(l)} (from ${leftLabel}) and ${typeOf(r)} (from ${rightLabel})`);
    const numbers = (verb: string, f: (a: number, b: number) => unknown): Fn => (ctx, run, caps) => {
      const l = left(ctx, run, caps);
      const r = right(ctx, run, caps);
      if (typeof l !== 'number' || typeof r !== 'number') throw mismatch(verb, l, r);
      return f(l, r);
    };
    switch (op) {
      case '+':
        return (ctx, run, caps) => {
          const l = left(ctx, run, caps);
          const r = right(ctx, run, caps);
          if (typeof l === 'number') {
            if (typeof r !== 'number') throw mismatch('add', l, r);
            return l + r;
          }
          if ((typeof l === 'string' || l instanceof Uint8Array) && (typeof r === 'string' || r instanceof Uint8Array)) {
            return (typeof l === 'string' ? l : bytesToString(l)) + (typeof r === 'string' ? r : bytesToString(r));
          }
          throw mismatch('add', l, r);
        };
      case '-':
        return numbers('subtract', (a, b) => a - b);
      case '*':
        return numbers('multiply', (a, b) => a * b);
      case '/':
        return numbers('divide', (a, b) => {
          if (b === 0) throw new BloblangError(`${rightLabel}: attempted to divide by zero`);
          return a / b;
        });
      case '%':
        return numbers('modulo', (a, b) => {
          const x = Math.trunc(a);
          const y = Math.trunc(b);
          if (y === 0) throw new BloblangError(`${rightLabel}: attempted to divide by zero`);
          return x % y === 0 ? 0 : x % y;
        });
      case '|':
        return (ctx, run, caps) => {
          let l: unknown;
          try {
            l = left(ctx, run, caps);
          } catch {
            return right(ctx, run, caps);
          }
          return l === null || l === undefined || l === NOTHING ? right(ctx, run, caps) : l;
        };
      case '&&':
      case '||': {
        const and = op === '&&';
        return (ctx, run, caps) => {
          const l = getBool(left(ctx, run, caps), leftLabel);
          if (and ? !l : l) return l;
          return getBool(right(ctx, run, caps), rightLabel);
        };
      }
      default:
        return this.#compare(op, left, right, mismatch);
    }
  }

  #compare(op: BinaryOp, left: Fn, right: Fn, mismatch: (verb: string, l: unknown, r: unknown) => Error): Fn {
    const eq = op === '==' || op === '!=';
    const order = (c: number): boolean => (op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0);
    return (ctx, run, caps) => {
      const l = left(ctx, run, caps);
      const r = right(ctx, run, caps);
      if (eq) return equal(l, r) === (op === '==');
      if (typeof l === 'number' && typeof r === 'number') return order(l - r);
      if ((typeof l === 'string' || l instanceof Uint8Array) && (typeof r === 'string' || r instanceof Uint8Array)) {
        const a = typeof l === 'string' ? l : bytesToString(l);
        const b = typeof r === 'string' ? r : bytesToString(r);
        return order(a < b ? -1 : a > b ? 1 : 0);
      }
      if (l instanceof Timestamp && r instanceof Timestamp) {
        const d = l.unixNanos - r.unixNanos;
        return order(d < 0n ? -1 : d > 0n ? 1 : 0);
      }
      throw mismatch('compare', l, r);
    };
  }
}

const NO_ARGS: unknown[] = [];

function collect(argFns: Fn[], rest: number, ctx: unknown, run: Run, caps: Captures | undefined): unknown[] {
  const n = argFns.length;
  if (n === 0 && rest === -1) return NO_ARGS;
  const values = new Array<unknown>(n);
  for (let i = 0; i < n; i++) values[i] = argFns[i]!(ctx, run, caps);
  if (rest === -1) return values;
  return [...values.slice(0, rest), values.slice(rest).filter((v) => v !== undefined)];
}

function annotate(err: unknown, from: string): Error {
  if (err instanceof BloblangError) return err;
  return new BloblangError(`${from}: ${(err as Error).message ?? String(err)}`);
}

function isLiteral(e: Expr): boolean {
  if (e.kind === 'literal') return true;
  if (e.kind === 'array') return e.items.every(isLiteral);
  if (e.kind === 'object') return e.entries.every(([k, v]) => k.kind === 'literal' && isLiteral(v));
  return false;
}

/** Sets a path in a copy of `target` (the input document may be shared): DELETED removes the key. */
function setPath(target: unknown, path: string[], i: number, v: unknown): unknown {
  const key = path[i]!;
  if (Array.isArray(target) && /^-?\d+$/.test(key)) {
    const copy = target.slice();
    const index = Number(key) < 0 ? copy.length + Number(key) : Number(key);
    if (i === path.length - 1) {
      if (v === DELETED) copy.splice(index, 1);
      else copy[index] = v;
    } else {
      copy[index] = setPath(copy[index], path, i + 1, v);
    }
    return copy;
  }
  const copy: Record<string, unknown> = isObject(target) ? copyObject(target) : {};
  if (i === path.length - 1) {
    if (v === DELETED) delete copy[key];
    else copy[key] = v;
  } else {
    copy[key] = setPath(copy[key], path, i + 1, v);
  }
  return copy;
}

function assignMeta(run: Run, key: string | undefined, v: unknown): void {
  if (key === undefined) {
    if (v === DELETED) run.meta = {};
    else if (isObject(v)) run.meta = copyObject(v);
    else throw new BloblangError(`setting root meta object requires object value, received: ${typeOf(v)}`);
    run.metaOwned = true;
    return;
  }
  if (!run.metaOwned) {
    run.meta = copyObject(run.meta);
    run.metaOwned = true;
  }
  if (v === DELETED || v === null) delete run.meta[key];
  else run.meta[key] = v;
}

/** How an expression is named in error messages, as Connect annotates its functions. */
function labelOf(e: Expr, source: string): string {
  switch (e.kind) {
    case 'literal':
      return e.value === null ? 'null literal' : `${typeof e.value === 'boolean' ? 'boolean' : typeof e.value} literal`;
    case 'this':
      return 'field `this`';
    case 'root':
      return 'field `root`';
    case 'name':
      return `field \`this.${e.name}\``;
    case 'var':
      return `variable \`${e.name}\``;
    case 'meta':
      return e.key === '' ? 'metadata' : `metadata value \`@${e.key}\``;
    case 'get': {
      const base = e.target.kind === 'this' ? 'this' : e.target.kind === 'root' ? 'root' : e.target.kind === 'name' ? `this.${e.target.name}` : undefined;
      if (base !== undefined) return `field \`${base}.${e.path.map(quoteSegment).join('.')}\``;
      return labelOf(e.target, source);
    }
    case 'object':
      return 'object literal';
    case 'array':
      return 'array literal';
    case 'call':
      return `function ${e.name}`;
    case 'method':
      return `method ${e.name}`;
    default:
      return 'expression';
  }
}

function quoteSegment(s: string): string {
  return /^[A-Za-z0-9_]+$/.test(s) ? s : JSON.stringify(s);
}

/** ` (did you mean x?)` for the nearest known name, or ''. */
export function suggest(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
