// Bloblang text -> syntax tree. A recursive descent parser over lexer tokens, with Connect's
// operator precedence (precedence.ts).
import type { Args, Expr, MatchCase, Program, Statement, Target } from './ast.js';
import { BloblangSyntaxError, position, syntaxError, tokenize, type Token } from './lexer.js';
import { isBinaryOperator, resolvePrecedence } from './precedence.js';

export interface ParseOptions {
  /** Reads a file named by `import "path"` / `from "path"`; absent: imports are refused. */
  readonly importFile?: (path: string) => string;
}

/** Parses a whole mapping (statements; a lone query is `root = <query>`). Throws BloblangSyntaxError. */
export function parseMapping(source: string, options: ParseOptions = {}): Program {
  const parser = new Parser(source, options);
  return parser.mapping();
}

/** Parses one query (an expression: interpolations, `check:` fields). Throws BloblangSyntaxError. */
export function parseQuery(source: string): Expr {
  const parser = new Parser(source, {});
  const expr = parser.query();
  parser.throwRecovered();
  return expr;
}

class Parser {
  readonly #source: string;
  readonly #tokens: Token[];
  readonly #options: ParseOptions;
  #i = 0;
  readonly maps = new Map<string, Statement[]>();
  /** Errors the parser read past; thrown together once the text is read. */
  readonly #recovered: BloblangSyntaxError[] = [];

  constructor(source: string, options: ParseOptions) {
    this.#source = source;
    this.#tokens = tokenize(source, this.#recovered);
    this.#options = options;
  }

  mapping(): Program {
    let program: Program;
    try {
      program = this.#mapping();
    } catch (err) {
      if (err instanceof BloblangSyntaxError) this.#recovered.push(err);
      throw this.#combined();
    }
    if (this.#recovered.length > 0) {
      const err = this.#combined();
      err.partial = program;
      throw err;
    }
    return program;
  }

  #combined(): BloblangSyntaxError {
    const all = this.#recovered.sort((a, b) => a.line - b.line || a.column - b.column);
    const first = all[0]!;
    first.others = all.slice(1);
    return first;
  }

  #mapping(): Program {
    const statements: Statement[] = [];
    this.#skipNewlines();
    // A mapping that is one query and nothing else means `root = <query>`.
    const start = this.#i;
    const mark = this.#recovered.length;
    if (!this.#startsStatement()) {
      try {
        const value = this.#expression();
        this.#skipNewlines();
        if (this.#peek().kind === 'eof') {
          const at = this.#tokens[start]!.offset;
          return { statements: [{ kind: 'assign', target: { kind: 'root', path: [] }, value, at, line: position(this.#source, at).line }], maps: this.maps };
        }
      } catch {
        // Not a lone query: parse as statements for the better error.
      }
      this.#i = start;
      this.#recovered.length = mark;
    }
    while (this.#peek().kind !== 'eof') {
      this.#statementInto(statements);
      this.#endOfStatement();
    }
    return { statements, maps: this.maps };
  }

  throwRecovered(): void {
    if (this.#recovered.length > 0) throw this.#combined();
  }

  query(): Expr {
    this.#skipNewlines();
    const expr = this.#expression();
    this.#skipNewlines();
    const next = this.#peek();
    if (next.kind !== 'eof') throw this.#unexpected(next, 'end of input');
    return expr;
  }

  // -- statements ------------------------------------------------------------------------------

  #startsStatement(): boolean {
    const t = this.#peek();
    if (t.kind === 'ident' && ['let', 'map', 'import', 'from', 'meta'].includes(t.text)) return true;
    if (t.kind === 'ident' && t.text === 'if') return false;
    // root/this/bare paths/@: a statement when an `=` follows the path.
    let j = this.#i;
    const tok = (k: number) => this.#tokens[k]!;
    if (tok(j).kind === 'meta') return tok(j + 1).text === '=' && tok(j + 1).kind === 'punct';
    if (tok(j).kind !== 'ident' && tok(j).kind !== 'string') return false;
    j++;
    while (tok(j).kind === 'punct' && tok(j).text === '.' && ['ident', 'string', 'number'].includes(tok(j + 1).kind)) j += 2;
    return tok(j).kind === 'punct' && tok(j).text === '=';
  }

  #statementInto(out: Statement[]): void {
    const t = this.#peek();
    const at = t.offset;
    const line = position(this.#source, at).line;
    if (t.kind === 'ident') {
      switch (t.text) {
        case 'let': {
          this.#next();
          const name = this.#nameOrString('variable name');
          this.#expect('=');
          out.push({ kind: 'let', name, value: this.#expression(), at, line });
          return;
        }
        case 'map': {
          this.#next();
          const name = this.#nameOrString('map name');
          this.#expect('{');
          const body = this.#block();
          if (this.maps.has(name)) throw syntaxError(this.#source, at, `map name collision: ${name}`);
          this.maps.set(name, body);
          return;
        }
        case 'import':
        case 'from': {
          this.#next();
          const path = this.#next();
          if (path.kind !== 'string') throw this.#unexpected(path, 'a quoted file path');
          const imported = this.#import(path);
          for (const [name, body] of imported.maps) this.maps.set(name, body);
          if (t.text === 'from') out.push(...imported.statements);
          return;
        }
        case 'meta': {
          this.#next();
          let key: string | undefined;
          const k = this.#peek();
          if (!(k.kind === 'punct' && k.text === '=')) key = this.#nameOrString('metadata key');
          this.#expect('=');
          out.push({ kind: 'assign', target: { kind: 'meta', key }, value: this.#expression(), at, line });
          return;
        }
        case 'if': {
          this.#next();
          const branches: [Expr, Statement[]][] = [];
          let otherwise: Statement[] | undefined;
          branches.push([this.#expression(), (this.#expect('{'), this.#block())]);
          while (this.#peekIsElse()) {
            this.#skipNewlines();
            this.#next();
            if (this.#peek().kind === 'ident' && this.#peek().text === 'if') {
              this.#next();
              branches.push([this.#expression(), (this.#expect('{'), this.#block())]);
            } else {
              this.#expect('{');
              otherwise = this.#block();
              break;
            }
          }
          out.push({ kind: 'if', branches, otherwise, at, line });
          return;
        }
      }
    }
    if (t.kind === 'meta') {
      this.#next();
      this.#expect('=');
      out.push({ kind: 'assign', target: { kind: 'meta', key: t.text === '' ? undefined : t.text }, value: this.#expression(), at, line });
      return;
    }
    const target = this.#target();
    this.#expect('=');
    out.push({ kind: 'assign', target, value: this.#expression(), at, line });
  }

  /** `root`, `root.a.b`, `this.a`, or a bare path `a.b` (all write the new document). */
  #target(): Target {
    const first = this.#next();
    const path: string[] = [];
    if (first.kind === 'ident' && (first.text === 'root' || first.text === 'this')) {
      // the document itself
    } else if (first.kind === 'ident' || first.kind === 'string') {
      path.push(first.text);
    } else {
      throw this.#unexpected(first, 'an assignment (root = ..., meta k = ..., let x = ...)');
    }
    while (this.#atPunct('.')) {
      this.#next();
      const seg = this.#next();
      if (seg.kind !== 'ident' && seg.kind !== 'string' && seg.kind !== 'number') throw this.#unexpected(seg, 'a path segment');
      path.push(seg.text);
    }
    if (!this.#atPunct('=')) throw this.#unexpected(this.#peek(), 'an assignment (root = ..., meta k = ..., let x = ...)');
    return { kind: 'root', path };
  }

  /** Statements up to the closing `}` (the `{` already read). */
  #block(): Statement[] {
    const body: Statement[] = [];
    this.#skipNewlines();
    while (!this.#atPunct('}')) {
      if (this.#peek().kind === 'eof') throw this.#unexpected(this.#peek(), '}');
      this.#statementInto(body);
      if (this.#atPunct('}')) break;
      this.#endOfStatement();
      this.#skipNewlines();
    }
    this.#next();
    return body;
  }

  #import(path: Token): Program {
    if (!this.#options.importFile) throw syntaxError(this.#source, path.offset, 'imports are not available here');
    let text: string;
    try {
      text = this.#options.importFile(path.text);
    } catch (err) {
      throw syntaxError(this.#source, path.offset, `failed to read import ${JSON.stringify(path.text)}: ${(err as Error).message}`);
    }
    try {
      return parseMapping(text, this.#options);
    } catch (err) {
      throw syntaxError(this.#source, path.offset, `in import ${JSON.stringify(path.text)}: ${(err as Error).message}`);
    }
  }

  #endOfStatement(): void {
    const t = this.#peek();
    if (t.kind === 'eof') return;
    if (t.kind !== 'newline') throw this.#unexpected(t, 'end of statement (a new line)');
    this.#skipNewlines();
  }

  #peekIsElse(): boolean {
    let j = this.#i;
    while (this.#tokens[j]!.kind === 'newline') j++;
    const t = this.#tokens[j]!;
    return t.kind === 'ident' && t.text === 'else';
  }

  // -- expressions -----------------------------------------------------------------------------

  #expression(): Expr {
    const operands: Expr[] = [this.#unary()];
    const ops: { op: string; at: number }[] = [];
    for (;;) {
      const t = this.#peekPastNewlines();
      if (t.kind !== 'punct' || !isBinaryOperator(t.text)) break;
      this.#skipNewlines();
      this.#next();
      this.#skipNewlines();
      ops.push({ op: t.text, at: t.offset });
      operands.push(this.#unary());
    }
    return resolvePrecedence(operands, ops);
  }

  #unary(): Expr {
    const t = this.#peek();
    if (t.kind === 'punct' && t.text === '!') {
      this.#next();
      return { kind: 'not', operand: this.#unary(), at: t.offset };
    }
    if (t.kind === 'punct' && t.text === '-') {
      this.#next();
      const operand = this.#unary();
      if (operand.kind === 'literal' && typeof operand.value === 'number') return { ...operand, value: -operand.value, at: t.offset };
      return { kind: 'negate', operand, at: t.offset };
    }
    return this.#postfix(this.#primary());
  }

  /** `.field`, `."quoted"`, `.0`, `.method(args)` and `.(context)` after a term. */
  #postfix(expr: Expr): Expr {
    for (;;) {
      const dot = this.#peekPastNewlines();
      if (!(dot.kind === 'punct' && dot.text === '.')) return expr;
      this.#skipNewlines();
      this.#next();
      const seg = this.#next();
      if (seg.kind === 'ident' && this.#atPunct('(')) {
        expr = { kind: 'method', target: expr, name: seg.text, args: this.#args(), at: seg.offset };
      } else if (seg.kind === 'punct' && seg.text === '-' && this.#peek().kind === 'number') {
        const index = `-${this.#next().text}`;
        if (expr.kind === 'get') expr = { ...expr, path: [...expr.path, index] };
        else expr = { kind: 'get', target: expr, path: [index], at: expr.at };
      } else if (seg.kind === 'ident' || seg.kind === 'string' || seg.kind === 'number') {
        if (expr.kind === 'get') expr = { ...expr, path: [...expr.path, seg.text] };
        else expr = { kind: 'get', target: expr, path: [seg.text], at: expr.at };
      } else if (seg.kind === 'punct' && seg.text === '(') {
        this.#skipNewlines();
        const body = this.#expression();
        this.#skipNewlines();
        this.#expect(')');
        expr = { kind: 'context', target: expr, body, at: seg.offset };
      } else {
        throw this.#unexpected(seg, 'a field name, a method or a ( after .');
      }
    }
  }

  #primary(): Expr {
    const t = this.#next();
    const at = t.offset;
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.value, float: t.float, at };
      case 'string':
        return { kind: 'literal', value: t.text, at };
      case 'var':
        return { kind: 'var', name: t.text, at };
      case 'meta':
        return { kind: 'meta', key: t.text, at };
      case 'punct':
        if (t.text === '(') {
          this.#skipNewlines();
          const inner = this.#expression();
          this.#skipNewlines();
          this.#expect(')');
          return inner;
        }
        if (t.text === '{') return this.#object(at);
        if (t.text === '[') return this.#array(at);
        throw this.#unexpected(t, 'a value, a path or a function');
      case 'ident':
        break;
      default:
        throw this.#unexpected(t, 'a value, a path or a function');
    }
    switch (t.text) {
      case 'true':
      case 'false':
        return { kind: 'literal', value: t.text === 'true', at };
      case 'null':
        return { kind: 'literal', value: null, at };
      case 'this':
        return { kind: 'this', at };
      case 'root':
        return { kind: 'root', at };
      case 'if':
        return this.#ifExpression(at);
      case 'match':
        return this.#match(at);
    }
    if (this.#atPunct('(')) return { kind: 'call', name: t.text, args: this.#args(), at };
    if (this.#atPunct('->')) {
      this.#next();
      this.#skipNewlines();
      return { kind: 'lambda', param: t.text, body: this.#expression(), at };
    }
    return { kind: 'name', name: t.text, at };
  }

  #args(): Args {
    this.#expect('(');
    const positional: Expr[] = [];
    const named: Record<string, Expr> = {};
    this.#commaSeparated(')', ', or )', () => {
      const t = this.#peek();
      const after = this.#tokens[this.#i + 1]!;
      if (t.kind === 'ident' && after.kind === 'punct' && after.text === ':') {
        this.#next();
        this.#next();
        this.#skipNewlines();
        named[t.text] = this.#expression();
      } else {
        if (Object.keys(named).length > 0) throw this.#unexpected(t, 'a named argument (cannot mix named and positional arguments)');
        positional.push(this.#expression());
      }
    });
    return { positional, named };
  }

  #object(at: number): Expr {
    const entries: [Expr, Expr][] = [];
    this.#commaSeparated('}', ', or } in the object', () => {
      const keyToken = this.#peek();
      const key = this.#expression();
      this.#skipNewlines();
      if (!this.#atPunct(':')) throw this.#unexpected(this.#peek(), ': after the object key');
      this.#next();
      this.#skipNewlines();
      const valueToken = this.#peek();
      if (valueToken.kind === 'punct' && (valueToken.text === ',' || valueToken.text === '}')) {
        // Read on as if the value were null, to report what follows too.
        this.#recovered.push(syntaxError(this.#source, valueToken.offset, `expected a value for key ${keySummary(key, keyToken)}`, 'give the key a value, or remove it'));
        entries.push([key, { kind: 'literal', value: null, at: valueToken.offset }]);
      } else {
        entries.push([key, this.#expression()]);
      }
    });
    return { kind: 'object', entries, at };
  }

  #array(at: number): Expr {
    const items: Expr[] = [];
    this.#commaSeparated(']', ', or ] in the array', () => items.push(this.#expression()));
    return { kind: 'array', items, at };
  }

  /**
   * Reads items with `item` up to `close` (then reads it too): separated by commas, new lines
   * allowed around each, a trailing comma too; anything else after an item is `expected`.
   */
  #commaSeparated(close: string, expected: string, item: () => void): void {
    this.#skipNewlines();
    while (!this.#atPunct(close)) {
      item();
      this.#skipNewlines();
      if (this.#atPunct(',')) {
        this.#next();
        this.#skipNewlines();
      } else if (!this.#atPunct(close)) {
        throw this.#unexpected(this.#peek(), expected);
      }
    }
    this.#next();
  }

  #ifExpression(at: number): Expr {
    const branches: [Expr, Expr][] = [];
    let otherwise: Expr | undefined;
    const branch = (): Expr => {
      this.#expect('{');
      this.#skipNewlines();
      const body = this.#expression();
      this.#skipNewlines();
      this.#expect('}');
      return body;
    };
    const cond = this.#expression();
    branches.push([cond, branch()]);
    while (this.#peekIsElse()) {
      this.#skipNewlines();
      this.#next();
      if (this.#peek().kind === 'ident' && this.#peek().text === 'if') {
        this.#next();
        const c = this.#expression();
        branches.push([c, branch()]);
      } else {
        otherwise = branch();
        break;
      }
    }
    return { kind: 'if', branches, otherwise, at };
  }

  #match(at: number): Expr {
    let subject: Expr | undefined;
    if (!this.#atPunct('{')) subject = this.#expression();
    this.#expect('{');
    const cases: MatchCase[] = [];
    this.#skipNewlines();
    while (!this.#atPunct('}')) {
      const t = this.#peek();
      let pattern: Expr | undefined;
      if (t.kind === 'ident' && t.text === '_' && this.#tokens[this.#i + 1]!.text === '=>') this.#next();
      else pattern = this.#expression();
      this.#skipNewlines();
      this.#expect('=>');
      this.#skipNewlines();
      let value: Expr;
      if (this.#atPunct('{') && this.#looksLikeBlock()) {
        this.#next();
        this.#skipNewlines();
        value = this.#expression();
        this.#skipNewlines();
        this.#expect('}');
      } else {
        value = this.#expression();
      }
      cases.push({ pattern, value });
      const newline = this.#peek().kind === 'newline';
      this.#skipNewlines();
      if (this.#atPunct(',')) {
        this.#next();
        this.#skipNewlines();
      } else if (!this.#atPunct('}') && !newline) {
        throw this.#unexpected(this.#peek(), 'a new line, , or } after the match case');
      }
    }
    this.#next();
    return { kind: 'match', subject, cases, at };
  }

  /** After `=>`: `{ expr }` (a braced value) rather than an object literal `{ "k": v }`. */
  #looksLikeBlock(): boolean {
    const start = this.#i;
    const mark = this.#recovered.length;
    try {
      this.#next();
      this.#skipNewlines();
      if (this.#atPunct('}')) return false;
      this.#expression();
      this.#skipNewlines();
      return this.#atPunct('}');
    } catch {
      return false;
    } finally {
      this.#i = start;
      this.#recovered.length = mark;
    }
  }

  // -- tokens ----------------------------------------------------------------------------------

  #peek(): Token {
    return this.#tokens[this.#i]!;
  }

  #peekPastNewlines(): Token {
    let j = this.#i;
    while (this.#tokens[j]!.kind === 'newline') j++;
    return this.#tokens[j]!;
  }

  #next(): Token {
    const t = this.#tokens[this.#i]!;
    if (t.kind !== 'eof') this.#i++;
    return t;
  }

  #skipNewlines(): void {
    while (this.#tokens[this.#i]!.kind === 'newline') this.#i++;
  }

  #atPunct(text: string): boolean {
    const t = this.#tokens[this.#i]!;
    return t.kind === 'punct' && t.text === text;
  }

  #expect(text: string): Token {
    const t = this.#next();
    if (t.kind !== 'punct' || t.text !== text) throw this.#unexpected(t, text);
    return t;
  }

  #nameOrString(what: string): string {
    const t = this.#next();
    if (t.kind === 'ident' || t.kind === 'string') return t.text;
    throw this.#unexpected(t, what);
  }

  #unexpected(t: Token, expected: string): Error {
    const got = t.kind === 'eof' ? 'end of input' : t.kind === 'newline' ? 'a new line' : t.kind === 'string' ? JSON.stringify(t.text) : `"${this.#source.slice(t.offset, t.offset + Math.max(1, t.text.length))}"`;
    return syntaxError(this.#source, t.offset, `expected ${expected}, got ${got}`);
  }
}

function keySummary(key: Expr, token: Token): string {
  return key.kind === 'literal' && typeof key.value === 'string' ? JSON.stringify(key.value) : `at ${token.offset}`;
}
