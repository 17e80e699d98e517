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
 * `\n` so a value cannot break the YAML around it. Throws on an unknown decode function or bad base64.
 */
export function interpolateEnv(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  const replaced = text.replace(ENV_VAR, (match) => {
    const inner = match.slice(2, -1);
    const colon = inner.indexOf(':');
    let value: string;
    let decoder: string | undefined;
    if (colon === -1) {
      const [name, fn] = splitLastPipe(inner);
      decoder = fn;
      const found = env[name];
      if (found === undefined) missing.push(name);
      value = found ?? '';
    } else {
      const [fallback, fn] = splitLastPipe(inner.slice(colon + 1));
      decoder = fn;
      const found = env[inner.slice(0, colon)];
      value = found === undefined || found === '' ? fallback : found;
    }
    if (decoder !== undefined) value = decode(decoder, value);
    return value.replaceAll('\n', '\\n');
  });
  return { text: replaced.replace(ESCAPED_ENV_VAR, (_m, inner: string) => '$' + inner), missing };
}

function splitLastPipe(text: string): [string, string | undefined] {
  const pipe = text.lastIndexOf('|');
  return pipe === -1 ? [text, undefined] : [text.slice(0, pipe), text.slice(pipe + 1)];
}

function decode(fn: string, value: string): string {
  if (fn !== 'base64decode') throw new Error(`unknown env var decode function: ${fn}`);
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
    throw new Error(`failed to decode base64-encoded env var: illegal base64 data in ${JSON.stringify(value)}`);
  }
  return Buffer.from(value, 'base64').toString('utf8');
}
