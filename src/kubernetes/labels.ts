// Kubernetes label selectors ("app=seed,tier!=batch", "env in (prod, staging)", "!canary"), parsed
// as k8s.io/apimachinery pkg/labels Parse does, so a selector the API server would refuse is
// refused when the config is built, and the simulator filters exactly as the server does.
//
//   selector    ::= requirement ("," requirement)*  (or empty: everything)
//   requirement ::= key | "!" key | key ("=" | "==" | "!=") value | key ("in" | "notin") "(" values ")"
//                 | key (">" | "<") integer

export type Operator = 'exists' | '!' | '=' | '!=' | 'in' | 'notin' | 'gt' | 'lt';

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

/** A parsed selector; matches() tells whether a set of labels is selected. */
export interface Selector {
  readonly requirements: readonly Requirement[];
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
}

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

type Token = { kind: 'id' | 'op' | 'in' | 'notin' | 'open' | 'close' | 'comma' | 'end'; text: string; at: number };

const SYMBOLS = ['!=', '==', '=', '!', '(', ')', ',', '>', '<'];
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Parses `text`; throws a SelectorError naming the position and the problem. */
export function parseSelector(text: string): Selector {
  const tokens = lex(text);
  let i = 0;
  const next = (): Token => tokens[i++]!;
  const peek = (): Token => tokens[i]!;
  const requirements: Requirement[] = [];
  if (peek().kind === 'end') return selector(requirements);
  for (;;) {
    let token = next();
    if (token.kind === 'op' && token.text === '!') {
      const key = expectKey(next(), text);
      requirements.push({ key, operator: '!', values: [] });
    } else {
      const key = expectKey(token, text);
      token = peek();
      if (token.kind === 'comma' || token.kind === 'end') {
        requirements.push({ key, operator: 'exists', values: [] });
      } else if (token.kind === 'in' || token.kind === 'notin') {
        next();
        if (next().kind !== 'open') throw fail(text, token.at, `expected "(" after "${token.text}"`);
        const values: string[] = [];
        for (;;) {
          const value = next();
          if (value.kind === 'close' && values.length === 0) throw fail(text, value.at, `for "in" and "notin", the set of values can't be empty`);
          if (!isWord(value)) throw fail(text, value.at, 'expected a value');
          values.push(checkValue(value, text));
          const after = next();
          if (after.kind === 'close') break;
          if (after.kind !== 'comma') throw fail(text, after.at, 'expected "," or ")"');
        }
        requirements.push({ key, operator: token.kind, values });
      } else if (token.kind === 'op' && token.text !== '!') {
        next();
        const value = isWord(peek()) ? next() : { kind: 'id' as const, text: '', at: token.at + token.text.length };
        if (token.text === '>' || token.text === '<') {
          if (!/^-?\d+$/.test(value.text)) throw fail(text, value.at, `for "${token.text}", the value must be an integer, got "${value.text}"`);
          requirements.push({ key, operator: token.text === '>' ? 'gt' : 'lt', values: [value.text] });
        } else {
          requirements.push({ key, operator: token.text === '!=' ? '!=' : '=', values: [checkValue(value, text)] });
        }
      } else {
        throw fail(text, token.at, `expected an operator after "${key}"`);
      }
    }
    const separator = next();
    if (separator.kind === 'end') return selector(requirements);
    if (separator.kind !== 'comma') throw fail(text, separator.at, 'expected ","');
  }
}

function selector(requirements: Requirement[]): Selector {
  return { requirements, matches: (labels) => requirements.every((r) => satisfied(r, labels ?? {})) };
}

function satisfied(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key]! : undefined;
  switch (r.operator) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case '=':
    case 'in':
      return has && r.values.includes(value!);
    case '!=':
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value!)) return false;
      const [left, right] = [BigInt(value!), BigInt(r.values[0]!)];
      return r.operator === 'gt' ? left > right : left < right;
    }
  }
}

/**
 * Whether a token reads as a key or a value: a word, including the words `in` and `notin`, which
 * are operators only where an operator is expected (Kubernetes' parser reads them as identifiers
 * in keys and values, so `tier=in` and `in in (notin)` are selectors).
 */
const isWord = (token: Token): boolean => token.kind === 'id' || token.kind === 'in' || token.kind === 'notin';

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const symbol = SYMBOLS.find((s) => text.startsWith(s, i));
    if (symbol !== undefined) {
      const kind = symbol === '(' ? 'open' : symbol === ')' ? 'close' : symbol === ',' ? 'comma' : 'op';
      tokens.push({ kind, text: symbol, at: i });
      i += symbol.length;
      continue;
    }
    const start = i;
    while (i < text.length && !/\s/.test(text[i]!) && !SYMBOLS.some((s) => text.startsWith(s, i))) i++;
    const word = text.slice(start, i);
    tokens.push({ kind: word === 'in' ? 'in' : word === 'notin' ? 'notin' : 'id', text: word, at: start });
  }
  tokens.push({ kind: 'end', text: '', at: text.length });
  return tokens;
}

/** A label key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
function expectKey(token: Token, text: string): string {
  if (!isWord(token)) throw fail(text, token.at, token.kind === 'end' ? 'expected a label key' : `expected a label key, got "${token.text}"`);
  const slash = token.text.indexOf('/');
  const prefix = slash < 0 ? undefined : token.text.slice(0, slash);
  const name = slash < 0 ? token.text : token.text.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    throw fail(text, token.at, `invalid label key "${token.text}": the prefix must be a DNS subdomain`);
  }
  if (!NAME.test(name)) {
    throw fail(text, token.at, `invalid label key "${token.text}": a name of at most 63 alphanumerics, "-", "_" or ".", starting and ending alphanumeric`);
  }
  return token.text;
}

function checkValue(token: Token, text: string): string {
  if (token.text !== '' && !NAME.test(token.text)) {
    throw fail(text, token.at, `invalid label value "${token.text}": at most 63 alphanumerics, "-", "_" or ".", starting and ending alphanumeric`);
  }
  return token.text;
}

function fail(text: string, at: number, message: string): SelectorError {
  return new SelectorError(`label selector ${JSON.stringify(text)} at column ${at + 1}: ${message}`);
}
