// Environment variable interpolation, applied to a config file's text before YAML parsing, with
// Redpanda Connect's exact rules (internal/config/env_vars.go): `${VAR}`, `${VAR:default}`,
// `${{VAR}}` escapes, a `|base64decode` suffix, names of [0-9A-Za-z_.].

const ENV_VAR = /\$\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?(?:\|[0-9A-Za-z]+)?\}/g;
const ESCAPED_ENV_VAR = /\$\{(\{[0-9A-Za-z_.]+(:((\$\{[^}]+\})|[^}])*)?\})\}/g;

export interface Interpolated {
  /** The text with every reference replaced; missing variables without a default become "". */
  readonly text: string;
  /** Variables referenced without a default that are not set, in order of appearance. */
  readonly missing: readonly string[];
}

/**
 * Replaces `${...}` references in `text` with values from `env`. A default applies when the
 * variable is unset *or empty*; a variable without a default that is unset is reported in
 * `missing` (a lint error), one set to "" is not. Newlines in values become the two characters
 * `\n` so a value cannot break the YAML around it. Throws on an unknown decode function or bad
 * base64, one line per failed reference (as Go's errors.Join), never quoting the value.
 */
export function interpolateEnv(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  const errors: string[] = [];
  // Own properties only: `${constructor}` must not find Object.prototype.constructor.
  const lookup = (name: string) => (Object.hasOwn(env, name) && typeof env[name] === 'string' ? env[name] : undefined);
  const replaced = text.replace(ENV_VAR, (match) => {
    const inner = match.slice(2, -1);
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
      const [fallback, fn] = splitLastPipe(inner.slice(colon + 1));
      decoder = fn;
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
  });
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return { text: replaced.replace(ESCAPED_ENV_VAR, (_m, inner: string) => '$' + inner), missing };
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
