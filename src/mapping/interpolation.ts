// `${! <jsonata> }` interpolation in string fields that declare it (x-interpolated): log
// messages, URLs, headers, file paths. `${{! ... }}` escapes to a literal `${! ... }`.
import { toJSONText } from '../engine/message.js';
import type { CompiledExpression, MappingContext } from './environment.js';
import { compileQuery } from './language.js';

export interface Interpolated {
  /** True when the text holds no `${! }`: render() then always returns the same string. */
  readonly isStatic: boolean;
  /** Renders against a message; rejects when an expression fails. */
  render(context?: MappingContext): Promise<string>;
}

type Part = string | CompiledExpression;

/** Compiles an interpolated string. Throws (MappingSyntaxError or Error) on a bad expression or an unclosed `${!`. */
export function compileInterpolation(text: string): Interpolated {
  const parts = parse(text);
  if (parts.every((p) => typeof p === 'string')) {
    const fixed = parts.join('');
    return { isStatic: true, render: async () => fixed };
  }
  return {
    isStatic: false,
    async render(context) {
      let out = '';
      for (const part of parts) {
        if (typeof part === 'string') {
          out += part;
        } else {
          const value = part.evaluateSync(context);
          out += renderValue(value instanceof Promise ? await value : value);
        }
      }
      return out;
    },
  };
}

/** How an interpolated value reads as text: strings as they are, nothing and null as `null` (as Connect), the rest as JSON. */
export function renderValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return 'null';
  return toJSONText(value);
}

function parse(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('${{!', i)) {
      const end = closingBrace(text, i + 4);
      if (end !== -1 && text[end + 1] === '}') {
        literal += '${!' + text.slice(i + 4, end) + '}';
        i = end + 2;
        continue;
      }
    }
    if (text.startsWith('${!', i)) {
      const end = closingBrace(text, i + 3);
      if (end === -1) throw new Error(`unclosed interpolation "\${!" at character ${i + 1}`);
      if (literal) parts.push(literal);
      literal = '';
      parts.push(compileQuery(text.slice(i + 3, end).trim()));
      i = end + 1;
      continue;
    }
    literal += text[i];
    i++;
  }
  if (literal) parts.push(literal);
  return parts;
}

/** Index of the `}` closing an interpolation that starts at `from`, skipping nested braces and quoted strings. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      const close = text.indexOf(c, i + 1);
      if (close === -1) return -1;
      i = close;
    } else if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
