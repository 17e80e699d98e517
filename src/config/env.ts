// Environment variable interpolation, applied to a config file's text before YAML parsing, with
// Redpanda Connect's exact rules (internal/config/env_vars.go): `${VAR}`, `${VAR:default}`,
// `${{VAR}}` escapes, a `|base64decode` suffix, names of [0-9A-Za-z_.].

export interface Interpolated {
  /** The text with every reference replaced; missing variables without a default become "". */
  readonly text: string;
  /** Variables referenced without a default that are not set, in order of appearance. */
  readonly missing: readonly string[];
  /**
   * References whose default holds another variable's reference (`${A:${B}}`), which is used as
   * written, not interpolated (as in Redpanda Connect): where (offset in the text) and the inner
   * reference. Absent when there are none.
   */
  readonly literalDefaults?: readonly { readonly offset: number; readonly reference: string; readonly inner: string }[];
}

/** Decode functions a reference may end with (`${VAR|base64decode}`). */
const DECODERS = new Set(['base64decode']);

const isNameChar = (code: number): boolean =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 46;
const isFnChar = (code: number): boolean => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);

/**
 * Where the reference opening at `at` (`${` plus `skip` more characters, e.g. 1 for the `{` of an
 * escape) ends: the index of its closing `}`, -1 when nothing closes it there, or -2 when no `}`
 * follows at all (so no later reference can close either). One pass, no backtracking: what
 * Redpanda Connect's pattern `\$\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?(?:\|[0-9A-Za-z]+)?\}`
 * matches, found in linear time (the regex backtracks quadratically on `${A:` + `${` * n).
 */
function referenceEnd(text: string, at: number, skip: number): number {
  let j = at + 2 + skip;
  const nameStart = j;
  while (j < text.length && isNameChar(text.charCodeAt(j))) j++;
  if (j === nameStart) return -1;
  const c = text[j];
  if (c === '}') return j;
  if (c === '|') {
    const fnStart = ++j;
    while (j < text.length && isFnChar(text.charCodeAt(j))) j++;
    return j > fnStart && text[j] === '}' ? j : -1;
  }
  if (c !== ':') return -1;
  // The default: any characters but `}`, where `${...}` (at least one character inside) may hold
  // one. A nested `${...}` is taken whenever a `}` follows it; at the end of the text without a
  // closing `}`, the regex backtracks to the last nested one and ends at its `}`.
  let lastNestedClose = -1;
  for (let k = j + 1; k < text.length; ) {
    if (text.charCodeAt(k) === 125) return k;
    if (text.charCodeAt(k) === 36 && text.charCodeAt(k + 1) === 123) {
      const close = text.indexOf('}', k + 2);
      if (close === -1) return lastNestedClose >= 0 ? lastNestedClose : -2;
      if (close > k + 2) {
        lastNestedClose = close;
        k = close + 1;
        continue;
      }
    }
    k++;
  }
  return lastNestedClose >= 0 ? lastNestedClose : -2;
}

/**
 * Replaces `${...}` references in `text` with values from `env`. A default applies when the
 * variable is unset *or empty*; a variable without a default that is unset is reported in
 * `missing` (a lint error), one set to "" is not. Newlines in values become the two characters
 * `\n` so a value cannot break the YAML around it. Throws on an unknown decode function or bad
 * base64, one line per failed reference (as Go's errors.Join), never quoting the value.
 *
 * Differences from Redpanda Connect, on purpose: after a default, `|word` is a decode function
 * only when `word` is one (`${A:hello|world}` defaults to `hello|world`; Connect fails on an
 * unknown decode function `world`); a default holding another reference is reported in
 * `literalDefaults`. Linear in the length of the text.
 */
export function interpolateEnv(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  const errors: string[] = [];
  const literalDefaults: { offset: number; reference: string; inner: string }[] = [];
  // Own properties only: `${constructor}` must not find Object.prototype.constructor.
  const lookup = (name: string) => (Object.hasOwn(env, name) && typeof env[name] === 'string' ? env[name] : undefined);
  const resolveReference = (inner: string, offset: number): string => {
    const colon = inner.indexOf(':');
    let value: string;
    let decoder: string | undefined;
    if (colon === -1) {
      const [name, fn] = splitLastPipe(inner);
      decoder = fn;
      const found = lookup(name);
      if (found === undefined) missing.push(name);
      value = found ?? '';
    } else {
      let [fallback, fn] = splitLastPipe(inner.slice(colon + 1));
      if (fn !== undefined && !DECODERS.has(fn)) {
        fallback = inner.slice(colon + 1);
        fn = undefined;
      }
      decoder = fn;
      const nested = /\$\{([0-9A-Za-z_.]+)(?=[}:|])/.exec(fallback);
      if (nested) literalDefaults.push({ offset, reference: `\${${inner}}`, inner: nested[1]! });
      const found = lookup(inner.slice(0, colon));
      value = found === undefined || found === '' ? fallback : found;
    }
    if (decoder !== undefined) {
      try {
        value = decode(decoder, value);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return value.replaceAll('\n', '\\n');
  };
  const replaced = scan(text, 0, (start, end) => resolveReference(text.slice(start + 2, end), start));
  if (errors.length > 0) throw new Error(errors.join('\n'));
  // `${{X}}` is the escape of `${X}`, undone after substitution (as in Connect).
  const unescaped = scan(replaced, 1, (start, end) => (replaced[end + 1] === '}' ? `$${replaced.slice(start + 2, end + 1)}` : undefined));
  return { text: unescaped, missing, ...(literalDefaults.length > 0 ? { literalDefaults } : {}) };
}

/**
 * Rewrites every reference of `text` (opening `${` plus `skip` characters) with `replace(start,
 * closing brace index)`; a replace that returns undefined leaves the text (for an escape, the
 * second closing brace is consumed with it). Linear.
 */
function scan(text: string, skip: number, replace: (start: number, end: number) => string | undefined): string {
  let out = '';
  let copied = 0;
  let i = text.indexOf('${');
  while (i !== -1) {
    if (skip === 1 && text[i + 2] !== '{') {
      i = text.indexOf('${', i + 1);
      continue;
    }
    const end = referenceEnd(text, i, skip);
    if (end === -2) break;
    if (end === -1) {
      i = text.indexOf('${', i + 1);
      continue;
    }
    const value = replace(i, end);
    if (value === undefined) {
      i = text.indexOf('${', i + 1);
      continue;
    }
    out += text.slice(copied, i) + value;
    copied = end + 1 + skip;
    i = text.indexOf('${', copied);
  }
  return out + text.slice(copied);
}

function splitLastPipe(text: string): [string, string | undefined] {
  const pipe = text.lastIndexOf('|');
  return pipe === -1 ? [text, undefined] : [text.slice(0, pipe), text.slice(pipe + 1)];
}

function decode(fn: string, value: string): string {
  if (fn !== 'base64decode') throw new Error(`unknown env var decode function: ${fn}`);
  const bad = illegalBase64At(value);
  if (bad !== -1) throw new Error(`failed to decode base64-encoded env var: illegal base64 data at input byte ${bad}`);
  return Buffer.from(value, 'base64').toString('utf8');
}

/**
 * The offset at which Go's base64.StdEncoding.DecodeString fails on `text`, or -1 when it decodes
 * (a port of decodeQuantum's checks: padding required, CR and LF ignored). Only the offset is
 * reported, as Go does: the value may be a secret.
 */
function illegalBase64At(text: string): number {
  const isNewline = (i: number) => text[i] === '\n' || text[i] === '\r';
  let si = 0;
  while (si < text.length) {
    for (let j = 0; j < 4; j++) {
      if (si === text.length) return j === 0 ? -1 : si - j;
      const c = text[si++]!;
      if (/[A-Za-z0-9+/]/.test(c)) continue;
      if (c === '\n' || c === '\r') {
        j--;
        continue;
      }
      if (c !== '=' || j < 2) return si - 1;
      if (j === 2) {
        while (si < text.length && isNewline(si)) si++;
        if (si === text.length) return text.length;
        if (text[si] !== '=') return si - 1;
        si++;
      }
      while (si < text.length && isNewline(si)) si++;
      return si < text.length ? si : -1;
    }
  }
  return -1;
}
