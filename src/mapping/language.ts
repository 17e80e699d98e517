// Which language a mapping or a query is written in, and Bloblang behind the same
// CompiledExpression interface as JSONata (for `check:` fields, `${! }`, test conditions, log
// fields and `generate`).
//
// The rule (documented in the README):
//   a MAPPING is Bloblang when one of its statements (at the start of a line, outside strings
//   and brackets) is a Bloblang assignment or declaration: `root = ...`, `root.a.b = ...`,
//   `this.x = ...`, `meta k = ...`, `meta = ...`, `@k = ...`, `let x = ...`, `map name {`,
//   `import "..."`, `from "..."`, `if <query> {`; or when it is a Bloblang query (below). Otherwise JSONata.
//   a QUERY is Bloblang when, outside strings, it calls a function without JSONata's `$`
//   (`meta("k")`, `content()`, `error()`), reads `@metadata`, starts a path with `this` or
//   `root`, uses a lambda `->`, or an operator JSONata lacks (`==`, `&&`, `||`). Otherwise JSONata. Text both languages read alike (a
//   literal, `"a" != "b"`) runs as JSONata, with the same result.
import { Message } from '../engine/message.js';
import { lintMapping } from './bloblang/lint.js';
import { compileBloblangMapping, compileBloblangQuery, BloblangSyntaxError, DELETED as BLOBLANG_DELETED, NOTHING, plain } from './bloblang/index.js';
import { bodyOf, compileExpression, currentHooks, DELETED, MappingSyntaxError, type CompileOptions, type CompiledExpression, type MappingContext } from './environment.js';

export type Language = 'jsonata' | 'bloblang';
export type LanguageChoice = Language | 'auto';

/** Text with string literals and comments blanked out (same length), so scans see only code. */
function code(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === '`') {
      const close = findClose(source, i, c);
      out += c + ' '.repeat(Math.max(0, close - i - 1)) + (close < source.length ? c : '');
      i = close;
    } else if (c === '#' && !/[\w$]/.test(source[i - 1] ?? '')) {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      out += ' '.repeat(stop - i);
      i = stop - 1;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += ' '.repeat(stop - i);
      i = stop - 1;
    } else {
      out += c;
    }
  }
  return out;
}

function findClose(source: string, from: number, quote: string): number {
  for (let i = from + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === quote) return i;
  }
  return source.length;
}

const STATEMENT = [
  /^(root|this)(\s*\.\s*("[^"]*"|[\w-]+))*\s*=(?!=)/,
  /^meta(\s+("[^"]*"|\w+))?\s*=(?!=)/,
  /^@(\w+)?\s*=(?!=)/,
  /^let\s+("[^"]*"|\w+)\s*=(?!=)/,
  /^map\s+\w+\s*\{/,
  /^(import|from)\s+"/,
  /^if\s.*\{$/,
];

/** The language a `mapping` text is written in (see the file comment for the rule). */
export function detectMappingLanguage(source: string): Language {
  const scanned = code(source);
  // Statements start lines; the text of strings is blank in `scanned`, so read keys from the source.
  let depth = 0;
  let lineStart = 0;
  let depthAtStart = 0;
  for (let i = 0; i <= scanned.length; i++) {
    const c = scanned[i];
    if (i === scanned.length || c === '\n') {
      if (depthAtStart === 0) {
        const line = source.slice(lineStart, i).trim();
        if (STATEMENT.some((re) => re.test(line))) return 'bloblang';
      }
      lineStart = i + 1;
      depthAtStart = depth;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return detectQueryLanguage(source);
}

/** The language of a query (`check:`, `${! }`): see the file comment for the rule. */
export function detectQueryLanguage(source: string): Language {
  const scanned = code(source);
  if (/(^|[^\w$.])(?!function\b|and\b|or\b|in\b)[A-Za-z_]\w*\s*\(/.test(scanned)) return 'bloblang';
  if (/(^|[^\w$])@/.test(scanned)) return 'bloblang';
  if (/(^|[^\w$."])(this|root)\b(?!\s*:)/.test(scanned)) return 'bloblang';
  if (/->/.test(scanned)) return 'bloblang';
  // Operators JSONata lacks (its equality is `=`, its logic `and`/`or`): `"${DEBUG:false}" == "true"`.
  if (/==|&&|\|\|/.test(scanned)) return 'bloblang';
  return 'jsonata';
}

/** Compiles a query in the chosen (or detected) language. Throws MappingSyntaxError. */
export function compileQuery(source: string, lang: LanguageChoice = 'auto', options: CompileOptions = {}): CompiledExpression {
  const language = lang === 'auto' ? detectQueryLanguage(source) : lang;
  return language === 'bloblang' ? compileBloblangExpression(source) : compileExpression(source, options);
}

/** Compiles a mapping (statements, or one expression) in the chosen (or detected) language. Throws MappingSyntaxError. */
export function compileMappingText(source: string, lang: LanguageChoice = 'auto', options: CompileOptions = {}): CompiledExpression {
  const language = lang === 'auto' ? detectMappingLanguage(source) : lang;
  return language === 'bloblang' ? compileBloblangMappingExpression(source) : compileExpression(source, options);
}

/**
 * A Bloblang mapping as a CompiledExpression whose value is the mapping's root (deleted() is the
 * environment's DELETED; a root never assigned is the input document, as the processor keeps it).
 */
export function compileBloblangMappingExpression(source: string): CompiledExpression & { readonly language: 'bloblang' } {
  let mapping: ReturnType<typeof compileBloblangMapping>;
  try {
    mapping = compileBloblangMapping(source);
  } catch (err) {
    throw asSyntaxError(err);
  }
  const evaluateSync = (context: MappingContext = EMPTY_CONTEXT): unknown => {
    const { root } = mapping.execute(context, currentHooks());
    if (root === BLOBLANG_DELETED) return DELETED;
    if (root === NOTHING) return bodyOf(context.message);
    return plain(root);
  };
  return bloblangExpression(source, evaluateSync);
}

/** A compiled Bloblang evaluation as a CompiledExpression: a failure rejects rather than throws, as JSONata's do. */
function bloblangExpression(source: string, evaluateSync: (context?: MappingContext) => unknown): CompiledExpression & { readonly language: 'bloblang' } {
  return {
    source,
    language: 'bloblang',
    compiled: true,
    // JSONata's warning for field reads on a body that is not an object; Bloblang reports those itself.
    readsFields: false,
    evaluate: async (context) => evaluateSync(context),
    evaluateSync: (context) => {
      try {
        return evaluateSync(context);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}

/** A Bloblang query as a CompiledExpression: deleted() is the environment's DELETED, nothing is undefined, bytes read as text. */
export function compileBloblangExpression(source: string): CompiledExpression & { readonly language: 'bloblang' } {
  let query: ReturnType<typeof compileBloblangQuery>;
  try {
    query = compileBloblangQuery(source);
  } catch (err) {
    throw asSyntaxError(err);
  }
  const evaluateSync = (context: MappingContext = EMPTY_CONTEXT): unknown => {
    const value = query.evaluate(context, currentHooks());
    if (value === BLOBLANG_DELETED) return DELETED;
    if (value === NOTHING) return undefined;
    return plain(value);
  };
  return bloblangExpression(source, evaluateSync);
}

/**
 * A Bloblang syntax error as the MappingSyntaxError every sluice caller reports with file(line,col);
 * the other syntax errors found in the same pass, and lint warnings on what could be read, ride
 * along in `more` (each reported at its own line).
 */
export function asSyntaxError(err: unknown): unknown {
  if (!(err instanceof BloblangSyntaxError)) return err;
  const text = (e: BloblangSyntaxError) => `Bloblang syntax error at line ${e.line}, column ${e.column}: ${e.message.replace(/^line \d+ char \d+: /, '')}${e.hint ? ` (${e.hint})` : ''}`;
  const more = [
    ...err.others.map((o) => ({ message: text(o), line: o.line, column: o.column })),
    ...(err.partial ? lintMapping(err.source, err.partial).map((w) => ({ ...w, severity: 'warning' as const })) : []),
  ];
  return Object.assign(new MappingSyntaxError(text(err), err.line, err.column), { more });
}

const EMPTY_CONTEXT: MappingContext = { message: Message.fromJSON(null), batch: [], index: 0 };
