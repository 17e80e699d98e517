// Error handling, type conversion and batch methods.
import { params, type MethodSpec, type Query } from '../registry.js';
import {
  BloblangError,
  bytesToString,
  cleanForOutput,
  encoder,
  Failure,
  isObject,
  NOTHING,
  toJSON,
  toText,
  typeError,
  typeOf,
  getField,
} from '../values.js';

type Thunk = () => unknown;

/** Go's strconv.ParseFloat, for the forms Bloblang sees in practice (no hex floats, no underscores). */
export function parseFloatStrict(text: string): number | undefined {
  const t = text;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return NaN;
  return undefined;
}

/** Go's value.IToNumber: numbers, numeric strings and bytes; anything else is undefined. */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return parseFloatStrict(v);
  if (v instanceof Uint8Array) return parseFloatStrict(bytesToString(v));
  return undefined;
}

/** Go's value.IToInt: integers, floats without a fraction, strconv.ParseInt(s, 0, 64) strings. */
export function toInt(v: unknown, from: string, unsigned = false): number {
  let n: number | undefined;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new BloblangError(`${from}: cannot convert float ${v} to integer: it has a fractional part`);
    n = v;
  } else if (typeof v === 'string' || v instanceof Uint8Array) {
    const s = typeof v === 'string' ? v : bytesToString(v);
    const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|[1-9][0-9_]*|0)$/.exec(s);
    if (!m) throw new BloblangError(`${from}: strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
    const body = m[2]!.replace(/_/g, '');
    const parsed = /^0[0-7]+$/.test(body) ? parseInt(body, 8) : /^0[oO]/.test(body) ? parseInt(body.slice(2), 8) : Number(body);
    n = m[1] === '-' ? -parsed : parsed;
  } else {
    throw typeError('number', v, from);
  }
  if (unsigned && n < 0) throw new BloblangError(`${from}: value ${n} is negative and cannot be converted to uint64`);
  if (!unsigned && Math.abs(n) > 2 ** 63) throw new BloblangError(`${from}: value ${n} overflows int64`);
  if (unsigned && n >= 2 ** 64) throw new BloblangError(`${from}: value ${n} overflows uint64`);
  return n;
}

/** A conversion to the Go integer type `type`, whose range is `min`..`max`: `min` 0 makes it unsigned. */
function sizedInt(type: string, min: number, max: number): MethodSpec {
  return {
    params: [],
    impl: (v, _a, site) => {
      const n = toInt(v, site.label, min === 0);
      if (n > max || n < min) throw new BloblangError(`${site.label}: value ${n} overflows ${type}`);
      return n;
    },
  };
}

/** The float32 nearest `n`, written with the fewest digits that still read back as it (as Go prints a float32). */
function shortestFloat32(n: number): number {
  const f = Math.fround(n);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

function parseBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' || v instanceof Uint8Array) {
    const s = toText(v);
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  }
  return undefined;
}

function withDefault(target: Thunk, args: unknown[], convert: (v: unknown) => unknown | undefined, what: string, from: string): unknown {
  const hasDefault = args[0] !== undefined;
  let v: unknown;
  try {
    v = target();
  } catch (err) {
    if (hasDefault) return args[0];
    throw err;
  }
  if (v instanceof Failure) return hasDefault ? args[0] : v;
  const converted = v === null ? undefined : convert(v);
  if (converted !== undefined) return converted;
  if (hasDefault) return args[0];
  throw typeError(what, v, from);
}

export const CORE: Record<string, MethodSpec> = {
  catch: {
    params: params('fallback^'),
    lazyTarget: true,
    impl: (target, [fallback], site) => {
      let v: unknown;
      try {
        v = (target as Thunk)();
      } catch (err) {
        return (fallback as Query)((err as Error).message, site);
      }
      return v instanceof Failure ? (fallback as Query)(v.error().message, site) : v;
    },
  },
  or: {
    params: params('fallback^'),
    lazyTarget: true,
    impl: (target, [fallback], site) => {
      let v: unknown;
      try {
        v = (target as Thunk)();
      } catch (err) {
        return (fallback as Query)((err as Error).message, site);
      }
      if (v instanceof Failure) return (fallback as Query)(v.error().message, site);
      return v === null || v === NOTHING ? (fallback as Query)(null, site) : v;
    },
  },
  not_null: {
    params: params('message?'),
    impl: (v, [message], site) => {
      if (v === null) throw new BloblangError(`${site.label}: ${typeof message === 'string' ? message : 'value is null'}`);
      return v;
    },
  },
  type: { params: [], impl: (v) => typeOf(v) },
  array: { params: [], impl: (v) => (Array.isArray(v) ? v : [v]) },
  not: {
    params: [],
    impl: (v, _a, site) => {
      if (typeof v !== 'boolean') throw typeError('bool', v, site.label);
      return !v;
    },
  },
  map: { params: params('query!'), impl: (v, [q], site) => (q as Query)(v, site) },
  string: { params: [], impl: (v) => toText(v) },
  bytes: { params: [], impl: (v) => (v instanceof Uint8Array ? v : encoder.encode(toText(v))) },
  number: {
    params: params('default?'),
    lazyTarget: true,
    impl: (target, args, site) => withDefault(target as Thunk, args, toNumber, 'number', site.label),
  },
  float64: { params: [], impl: (v, _a, site) => withDefault(() => v, [], toNumber, 'number', site.label) },
  float32: { params: [], impl: (v, _a, site) => shortestFloat32(withDefault(() => v, [], toNumber, 'number', site.label) as number) },
  int64: { params: [], impl: (v, _a, site) => toInt(v, site.label) },
  int32: sizedInt('int32', -2147483648, 2147483647),
  int16: sizedInt('int16', -32768, 32767),
  int8: sizedInt('int8', -128, 127),
  uint64: { params: [], impl: (v, _a, site) => toInt(v, site.label, true) },
  uint32: sizedInt('uint32', 0, 4294967295),
  uint16: sizedInt('uint16', 0, 65535),
  uint8: sizedInt('uint8', 0, 255),
  bool: {
    params: params('default?'),
    lazyTarget: true,
    impl: (target, args, site) => withDefault(target as Thunk, args, parseBool, 'bool', site.label),
  },
  length: {
    params: [],
    impl: (v, _a, site) => {
      if (typeof v === 'string') return encoder.encode(v).length;
      if (v instanceof Uint8Array || Array.isArray(v)) return v.length;
      if (isObject(v)) return Object.keys(v).length;
      throw typeError('string, bytes, array or object', v, site.label);
    },
  },
  exists: {
    params: params('path'),
    impl: (v, [path]) => {
      let cur = v;
      for (const key of splitPath(String(path))) {
        if (isObject(cur) && Object.hasOwn(cur, key)) cur = cur[key];
        else if (Array.isArray(cur) && /^\d+$/.test(key) && Number(key) < cur.length) cur = cur[Number(key)];
        else return false;
      }
      return true;
    },
  },
  get: {
    params: params('path'),
    impl: (v, [path]) => {
      let cur = v;
      for (const key of splitPath(String(path))) cur = getField(cur, key);
      return cur;
    },
  },
  from: {
    params: params('index'),
    perMessage: true,
    impl: (query, [index], site) => {
      const i = Number(index);
      const other = site.run.forMessage(i < 0 ? site.run.context.batch.length + i : i);
      if (other === undefined) throw new BloblangError(`message index ${index} is out of bounds for a batch of ${site.run.context.batch.length}`);
      return (query as Query)(null, { ...site, run: other });
    },
  },
  from_all: {
    params: [],
    perMessage: true,
    impl: (query, _a, site) => {
      const out: unknown[] = [];
      for (let i = 0; i < site.run.context.batch.length; i++) {
        try {
          out.push((query as Query)(null, { ...site, run: site.run.forMessage(i)! }));
        } catch {
          out.push(null);
        }
      }
      return out;
    },
  },
  apply: { params: params('mapping'), impl: (v, [name], site) => site.run.applyMap(String(name), v) },
  format_json: {
    params: params('indent?', 'no_indent?', 'escape_html?'),
    impl: (v, [indent, noIndent]) => {
      const value = cleanForOutput(v);
      const text = noIndent === true ? toJSON(value) : JSON.stringify(JSON.parse(toJSON(value)), null, typeof indent === 'string' ? indent : '    ');
      return encoder.encode(text);
    },
  },
  parse_json: {
    params: params('use_number?'),
    impl: (v, _a, site) => {
      const text = typeof v === 'string' ? v : v instanceof Uint8Array ? bytesToString(v) : undefined;
      if (text === undefined) throw typeError('string', v, site.label);
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new BloblangError(`${site.label}: failed to parse value as JSON: ${(err as Error).message}`);
      }
    },
  },
  not_empty: {
    params: [],
    impl: (v, _a, site) => {
      const type = typeof v === 'string' ? 'string' : Array.isArray(v) ? 'array' : isObject(v) ? 'object' : undefined;
      if (type === undefined) throw typeError('string, array or object', v, site.label);
      const empty = v === '' || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
      if (empty) throw new BloblangError(`${site.label}: ${type} value is empty`);
      return v;
    },
  },
};

/** A dot path as `.exists()` / `.get()` take it; `~1` is a dot inside a key, `~0` a tilde. */
export function splitPath(path: string): string[] {
  if (path === '') return [];
  return path.split('.').map((s) => s.replace(/~1/g, '.').replace(/~0/g, '~'));
}
