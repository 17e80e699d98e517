// Bloblang's tokens. Newlines are tokens (they end statements); `#` comments run to the end of
// the line and are dropped. Strings are Go-quoted ("a\n", "\u00e9") or raw triple-quoted ("""x""").

export type TokenKind = 'ident' | 'number' | 'string' | 'var' | 'meta' | 'punct' | 'newline' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** ident/var/meta: the name (meta: '' for a bare `@`); punct: the operator; string: the decoded text; number: the literal. */
  readonly text: string;
  /** Character offset of the token's start in the source. */
  readonly offset: number;
  /** number tokens: the value. */
  readonly value?: number;
  /** number tokens: true when written with a fraction or exponent (a float). */
  readonly float?: boolean;
}

/** A parse error at a position of the mapping's text; line and column are 1-based. */
export class BloblangSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    /** What to write instead, when the mistake is a common one (`use # for comments`). */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'BloblangSyntaxError';
  }

  /** Every other syntax error found, when the parser could read past some. */
  others: BloblangSyntaxError[] = [];
  /** The mapping as read past the errors (when every error could be read past), for lint. */
  partial?: import('./ast.js').Program;
  /** The mapping's text. */
  source = '';
}

/** Line and column (1-based) of a character offset. */
export function position(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

export function syntaxError(source: string, offset: number, message: string, hint?: string): BloblangSyntaxError {
  const { line, column } = position(source, offset);
  return Object.assign(new BloblangSyntaxError(`line ${line} char ${column}: ${message}`, line, column, hint), { source });
}

// Longest first, so `==` is not read as `=` `=`.
const PUNCTUATION = ['->', '=>', '==', '!=', '<=', '>=', '&&', '||', '(', ')', '{', '}', '[', ']', ',', '.', ':', '=', '<', '>', '+', '-', '*', '/', '%', '!', '|'];

const isIdentStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isIdentPart = (c: string) => isIdentStart(c) || (c >= '0' && c <= '9');
const isDigit = (c: string) => c >= '0' && c <= '9';

/**
 * Splits a mapping into tokens. Throws BloblangSyntaxError on a character no token starts with or
 * an unterminated string; `//` and `/*` comments are skipped as comments and reported in
 * `recovered` (Bloblang's comments start with #), so one pass finds the errors after them too.
 */
export function tokenize(source: string, recovered: BloblangSyntaxError[] = []): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '\n') {
      tokens.push({ kind: 'newline', text: '\n', offset: i });
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      recovered.push(syntaxError(source, i, 'unexpected "//": comments start with #', 'use # for comments'));
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      recovered.push(syntaxError(source, i, 'unexpected "/*": comments start with #', 'use # for comments'));
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(source[i]!)) i++;
      tokens.push({ kind: 'ident', text: source.slice(start, i), offset: start });
      continue;
    }
    if (isDigit(c)) {
      const start = i;
      while (i < n && isDigit(source[i]!)) i++;
      let float = false;
      if (source[i] === '.' && isDigit(source[i + 1] ?? '')) {
        float = true;
        i++;
        while (i < n && isDigit(source[i]!)) i++;
      }
      const text = source.slice(start, i);
      tokens.push({ kind: 'number', text, offset: start, value: Number(text), float });
      continue;
    }
    if (c === '"') {
      const start = i;
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        if (end === -1) throw syntaxError(source, start, 'unterminated triple-quoted string');
        tokens.push({ kind: 'string', text: source.slice(i + 3, end), offset: start });
        i = end + 3;
        continue;
      }
      i++;
      while (i < n && source[i] !== '"') {
        if (source[i] === '\\') i++;
        if (source[i] === '\n') break;
        i++;
      }
      if (i >= n || source[i] !== '"') throw syntaxError(source, start, 'required: expected end quote');
      i++;
      tokens.push({ kind: 'string', text: unquote(source, start, source.slice(start, i)), offset: start });
      continue;
    }
    if (c === '$' || c === '@') {
      const start = i;
      i++;
      if (source[i] === '"' && c === '@') {
        const close = source.indexOf('"', i + 1);
        if (close === -1) throw syntaxError(source, start, 'required: expected end quote');
        tokens.push({ kind: 'meta', text: unquote(source, i, source.slice(i, close + 1)), offset: start });
        i = close + 1;
        continue;
      }
      const nameStart = i;
      while (i < n && isIdentPart(source[i]!)) i++;
      const name = source.slice(nameStart, i);
      if (c === '$' && name === '') throw syntaxError(source, start, 'expected variable name after $');
      tokens.push({ kind: c === '$' ? 'var' : 'meta', text: name, offset: start });
      continue;
    }
    const op = PUNCTUATION.find((p) => source.startsWith(p, i));
    if (op === undefined) throw syntaxError(source, i, `unexpected character ${JSON.stringify(c)}`);
    tokens.push({ kind: 'punct', text: op, offset: i });
    i += op.length;
  }
  tokens.push({ kind: 'eof', text: '', offset: n });
  return tokens;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', a: '\x07', v: '\v', "'": "'" };

/** Decodes a Go double-quoted string literal (as strconv.Unquote). */
function unquote(source: string, offset: number, literal: string): string {
  const body = literal.slice(1, -1);
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw syntaxError(source, offset, 'invalid escape at the end of a string');
    if (ESCAPES[e] !== undefined) {
      out += ESCAPES[e];
    } else if (e === 'u' || e === 'U' || e === 'x') {
      const width = e === 'u' ? 4 : e === 'U' ? 8 : 2;
      const hex = body.slice(i + 1, i + 1 + width);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) throw syntaxError(source, offset + i, `invalid \\${e} escape`);
      out += String.fromCodePoint(parseInt(hex, 16));
      i += width;
    } else {
      throw syntaxError(source, offset + i, `invalid escape \\${e}`);
    }
  }
  return out;
}
