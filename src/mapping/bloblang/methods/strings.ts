// String, bytes and encoding methods.
import { params, type MethodSpec } from '../registry.js';
import { BloblangError, bytesToString, encoder, equal, getString, isObject, toText, typeError, formatNumber } from '../values.js';
import { hash as hashBytes } from '../../hash.js';

const str = (v: unknown, from: string) => getString(v, from);

/** Applies a string function to strings (and bytes, returning bytes). */
function stringMethod(fn: (s: string, args: unknown[]) => unknown, ...specs: string[]): MethodSpec {
  return {
    params: params(...specs),
    impl: (v, args, site) => {
      if (v instanceof Uint8Array) {
        const out = fn(bytesToString(v), args);
        return typeof out === 'string' ? encoder.encode(out) : out;
      }
      return fn(str(v, site.label), args);
    },
  };
}

const regexCache = new Map<string, RegExp>();
/** A Go RE2 pattern as a JavaScript RegExp (the common subset: (?i) flags, named groups (?P<n>...)). */
export function regex(pattern: string, global = false): RegExp {
  const key = `${global ? 'g' : ''}/${pattern}`;
  let re = regexCache.get(key);
  if (re === undefined) {
    let flags = global ? 'gu' : 'u';
    let body = pattern.replace(/\(\?P</g, '(?<');
    const m = /^\(\?([imsU]+)\)/.exec(body);
    if (m) {
      body = body.slice(m[0].length);
      if (m[1]!.includes('i')) flags += 'i';
      if (m[1]!.includes('m')) flags += 'm';
      if (m[1]!.includes('s')) flags += 's';
    }
    try {
      re = new RegExp(body, flags);
    } catch (err) {
      throw new BloblangError(`failed to compile regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    }
    if (regexCache.size > 256) regexCache.clear();
    regexCache.set(key, re);
  }
  re.lastIndex = 0;
  return re;
}

/** Go's regexp ReplaceAllString expansion: `$1`, `${1}`, `$name`, `${name}`; `$$` is a dollar. */
function goReplacement(template: string): string {
  return template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_m, all: string, braced?: string, bare?: string) => {
    if (all === '$') return '$$';
    const name = braced ?? bare!;
    return /^\d+$/.test(name) ? `$${name}` : `$<${name}>`;
  });
}

/** Go's fmt.Sprintf for the verbs mappings use: %s %v %d %f %.Nf %q %x %t %%. */
export function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g, (whole, flags: string, width: string | undefined, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const v = args[i++];
    let out: string;
    switch (verb) {
      case 's':
      case 'v':
        out = toText(v);
        break;
      case 'd':
        out = typeof v === 'number' ? String(Math.trunc(v)) : `%!d(${toText(v)})`;
        break;
      case 'f':
      case 'F':
        out = typeof v === 'number' ? v.toFixed(precision === undefined ? 6 : Number(precision)) : `%!f(${toText(v)})`;
        break;
      case 'e':
        out = typeof v === 'number' ? v.toExponential(precision === undefined ? 6 : Number(precision)).replace(/e([+-])(\d)$/, 'e$10$2') : `%!e(${toText(v)})`;
        break;
      case 'g':
        out = typeof v === 'number' ? formatNumber(v) : `%!g(${toText(v)})`;
        break;
      case 'q':
        out = JSON.stringify(toText(v));
        break;
      case 'x':
      case 'X': {
        out = typeof v === 'number' ? Math.trunc(v).toString(16) : Buffer.from(typeof v === 'string' ? v : toText(v)).toString('hex');
        if (verb === 'X') out = out.toUpperCase();
        break;
      }
      case 't':
        out = typeof v === 'boolean' ? String(v) : `%!t(${toText(v)})`;
        break;
      default:
        return whole;
    }
    if (width !== undefined && out.length < Number(width)) {
      const pad = (flags.includes('0') && !flags.includes('-') ? '0' : ' ').repeat(Number(width) - out.length);
      out = flags.includes('-') ? out + pad : pad + out;
    }
    return out;
  }) + (i < args.length ? `%!(EXTRA ${args.slice(i).map((a) => toText(a)).join(', ')})` : '');
}

/** Connect's hash; an unknown algorithm or a missing key is a mapping error. */
function hash(input: Uint8Array, algorithm: string, key?: string, polynomial?: string): Uint8Array {
  try {
    return hashBytes(input, algorithm, key, polynomial);
  } catch (err) {
    throw new BloblangError((err as Error).message);
  }
}

const asBytes = (v: unknown, from: string): Uint8Array => (v instanceof Uint8Array ? v : encoder.encode(str(v, from)));

function encode(input: Uint8Array, scheme: string): string {
  const b = Buffer.from(input);
  switch (scheme) {
    case 'base64':
      return b.toString('base64');
    case 'base64url':
      return b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    case 'base64rawurl':
      return b.toString('base64url');
    case 'hex':
      return b.toString('hex');
    case 'ascii85':
    default:
      throw new BloblangError(`unrecognised encoding type: ${scheme}`);
  }
}

function decode(input: string, scheme: string): Uint8Array {
  switch (scheme) {
    case 'base64':
    case 'base64url':
    case 'base64rawurl':
      return Buffer.from(input, scheme === 'base64' ? 'base64' : 'base64url');
    case 'hex':
      if (!/^([0-9a-fA-F]{2})*$/.test(input)) throw new BloblangError('encoding/hex: invalid byte');
      return Buffer.from(input, 'hex');
    default:
      throw new BloblangError(`unrecognised encoding type: ${scheme}`);
  }
}

export const STRINGS: Record<string, MethodSpec> = {
  uppercase: stringMethod((s) => s.toUpperCase()),
  lowercase: stringMethod((s) => s.toLowerCase()),
  capitalize: stringMethod((s) => s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase())),
  trim: stringMethod((s, [cut]) => (typeof cut === 'string' ? trimChars(s, cut) : s.trim()), 'cutset?'),
  trim_prefix: stringMethod((s, [prefix]) => (s.startsWith(String(prefix)) ? s.slice(String(prefix).length) : s), 'prefix'),
  trim_suffix: stringMethod((s, [suffix]) => (String(suffix) !== '' && s.endsWith(String(suffix)) ? s.slice(0, s.length - String(suffix).length) : s), 'suffix'),
  has_prefix: stringMethod((s, [prefix]) => s.startsWith(toText(prefix)), 'value'),
  has_suffix: stringMethod((s, [suffix]) => s.endsWith(toText(suffix)), 'value'),
  replace_all: stringMethod((s, [old, replacement]) => s.split(toText(old)).join(toText(replacement)), 'old', 'new'),
  replace: stringMethod((s, [old, replacement]) => s.split(toText(old)).join(toText(replacement)), 'old', 'new'),
  replace_all_many: stringMethod((s, [pairs]) => {
    if (!Array.isArray(pairs) || pairs.length % 2 !== 0) throw new BloblangError('invalid arg, replacements should be in pairs and must therefore be even');
    let out = s;
    for (let k = 0; k < pairs.length; k += 2) out = out.split(toText(pairs[k])).join(toText(pairs[k + 1]));
    return out;
  }, 'values'),
  split: stringMethod((s, [delim]) => (toText(delim) === '' ? [...s] : s.split(toText(delim))), 'delimiter'),
  format: { params: params('args*'), impl: (v, [rest], site) => sprintf(str(v, site.label), rest as unknown[]) },
  quote: stringMethod((s) => JSON.stringify(s)),
  unquote: stringMethod((s) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      throw new BloblangError('invalid syntax');
    }
  }),
  index_of: stringMethod((s, [sub]) => s.indexOf(toText(sub)), 'value'),
  re_match: stringMethod((s, [pattern]) => regex(toText(pattern)).test(s), 'pattern'),
  re_find_all: stringMethod((s, [pattern]) => s.match(regex(toText(pattern), true)) ?? [], 'pattern'),
  re_find_all_submatch: stringMethod((s, [pattern]) => [...s.matchAll(regex(toText(pattern), true))].map((m) => [...m].map((g) => g ?? '')), 'pattern'),
  re_find_object: stringMethod((s, [pattern]) => {
    const m = regex(toText(pattern)).exec(s);
    return m ? groupObject(m, groupNames(toText(pattern))) : {};
  }, 'pattern'),
  re_find_all_object: stringMethod((s, [pattern]) => {
    const names = groupNames(toText(pattern));
    return [...s.matchAll(regex(toText(pattern), true))].map((m) => groupObject(m, names));
  }, 'pattern'),
  re_replace_all: stringMethod((s, [pattern, value]) => s.replace(regex(toText(pattern), true), goReplacement(toText(value))), 'pattern', 'value'),
  re_replace: stringMethod((s, [pattern, value]) => s.replace(regex(toText(pattern), true), goReplacement(toText(value))), 'pattern', 'value'),
  escape_html: stringMethod((s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')),
  escape_url_query: stringMethod((s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())),
  unescape_url_query: stringMethod((s) => decodeURIComponent(s.replace(/\+/g, ' '))),
  hash: {
    params: params('algorithm', 'key?', 'polynomial?'),
    impl: (v, [algorithm, key, polynomial], site) =>
      hash(asBytes(v, site.label), toText(algorithm), key === undefined ? undefined : toText(key), polynomial === undefined ? undefined : toText(polynomial)),
  },
  encode: { params: params('scheme'), impl: (v, [scheme], site) => encode(asBytes(v, site.label), toText(scheme)) },
  decode: {
    params: params('scheme'),
    impl: (v, [scheme], site) => decode(v instanceof Uint8Array ? bytesToString(v) : str(v, site.label), toText(scheme)),
  },
  contains: {
    params: params('value'),
    impl: (v, [value], site) => {
      if (typeof v === 'string' || v instanceof Uint8Array) return toText(v).includes(toText(value));
      if (Array.isArray(v)) return v.some((item) => equal(item, value));
      if (isObject(v)) return Object.values(v).some((item) => equal(item, value));
      throw typeError('string, array or object', v, site.label);
    },
  },
  slice: {
    params: params('low', 'high?'),
    impl: (v, [low, high], site) => {
      if (typeof v !== 'string' && !Array.isArray(v) && !(v instanceof Uint8Array)) throw typeError('string, bytes or array', v, site.label);
      const len = v.length;
      const resolve = (x: unknown, fallback: number) => {
        if (x === undefined) return fallback;
        const n = Number(x);
        return n < 0 ? len + n : n;
      };
      const hi = Math.max(0, Math.min(len, resolve(high, len)));
      const lo = Math.max(0, resolve(low, 0));
      if (lo > hi) throw new BloblangError(`lower slice bound ${lo} must be lower than or equal to upper bound (${hi}) and target length (${len})`);
      return v.slice(lo, hi);
    },
  },
};

/** Each capture group's key as Connect names it: its name when it has one, else its index. */
function groupNames(pattern: string): string[] {
  const names = ['0'];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(') {
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(pattern.slice(i));
      if (named) names.push(named[1]!);
      else if (pattern[i + 1] !== '?') names.push(String(names.length));
    }
  }
  return names;
}

function groupObject(m: RegExpMatchArray, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < m.length; i++) out[names[i] ?? String(i)] = m[i] ?? '';
  return out;
}

function trimChars(s: string, cut: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && cut.includes(s[start]!)) start++;
  while (end > start && cut.includes(s[end - 1]!)) end--;
  return s.slice(start, end);
}
