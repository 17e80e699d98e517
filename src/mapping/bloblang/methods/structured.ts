// Array and object methods.
import { params, type CallSite, type MethodSpec, type Query } from '../registry.js';
import { BloblangError, copyObject, DELETED, equal, getArray, getBool, getNumber, getString, isObject, NOTHING, toText, typeError, typeOf } from '../values.js';
import { splitPath } from './core.js';

const entry = (key: string, value: unknown) => ({ key, value });
const sortedKeys = (o: Record<string, unknown>) => Object.keys(o).sort();

function compareValues(a: unknown, b: unknown, from: string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new BloblangError(`${from}: cannot compare ${typeOf(a)} and ${typeOf(b)}: expected array of all numbers or all strings`);
}

function withoutPath(v: unknown, path: string[], i: number): unknown {
  if (!isObject(v)) return v;
  const key = path[i]!;
  if (!Object.hasOwn(v, key)) return v;
  const copy = copyObject(v);
  if (i === path.length - 1) delete copy[key];
  else copy[key] = withoutPath(copy[key], path, i + 1);
  return copy;
}

function pickPath(source: Record<string, unknown>, out: Record<string, unknown>, path: string[], i: number): void {
  const key = path[i]!;
  if (!Object.hasOwn(source, key)) return;
  if (i === path.length - 1) {
    out[key] = source[key];
    return;
  }
  const next = source[key];
  if (!isObject(next)) return;
  const child = isObject(out[key]) ? (out[key] as Record<string, unknown>) : {};
  out[key] = child;
  pickPath(next, child, path, i + 1);
}

/** Connect's merge: objects merge key by key, colliding values become arrays; arrays concatenate. */
function mergeValues(a: unknown, b: unknown): unknown {
  if (isObject(a) && isObject(b)) {
    const out = copyObject(a);
    for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? mergeValues(out[k], v) : v;
    return out;
  }
  if (Array.isArray(a)) return Array.isArray(b) ? [...a, ...b] : [...a, b];
  if (Array.isArray(b)) return [a, ...b];
  return [a, b];
}

/** Connect's assign: like merge, but colliding non-object values are replaced by the argument's. */
function assignValues(a: unknown, b: unknown): unknown {
  if (isObject(a) && isObject(b)) {
    const out = copyObject(a);
    for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? assignValues(out[k], v) : v;
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  return b;
}

function mapEach(v: unknown, query: Query, site: CallSite): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      const r = query(item, site);
      if (r === DELETED) continue;
      out.push(r === NOTHING ? item : r);
    }
    return out;
  }
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(v)) {
      const r = query(entry(key, value), site);
      if (r === DELETED) continue;
      out[key] = r === NOTHING ? value : r;
    }
    return out;
  }
  throw typeError('object or array', v, site.label);
}

export const STRUCTURED: Record<string, MethodSpec> = {
  map_each: { params: params('query!'), impl: (v, [q], site) => mapEach(v, q as Query, site) },
  map_each_key: {
    params: params('query!'),
    impl: (v, [q], site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(v)) {
        const k = (q as Query)(key, site);
        if (k === NOTHING) {
          out[key] = value;
          continue;
        }
        if (typeof k !== 'string') throw new BloblangError(`${site.label}: unexpected result from key mapping: expected string, got ${typeOf(k)}`);
        out[k] = value;
      }
      return out;
    },
  },
  filter: {
    params: params('query!'),
    impl: (v, [q], site) => {
      const keep = (x: unknown) => (q as Query)(x, site) === true;
      if (Array.isArray(v)) return v.filter((item) => keep(item));
      if (isObject(v)) return Object.fromEntries(Object.entries(v).filter(([key, value]) => keep(entry(key, value))));
      throw typeError('array or object', v, site.label);
    },
  },
  fold: {
    params: params('initial', 'query!'),
    impl: (v, [initial, q], site) => getArray(v, site.label).reduce((tally, value) => (q as Query)({ tally, value }, site), initial),
  },
  any: { params: params('test!'), impl: (v, [q], site) => getArray(v, site.label).some((x) => getBool((q as Query)(x, site), 'any query')) },
  all: {
    params: params('test!'),
    impl: (v, [q], site) => {
      const a = getArray(v, site.label);
      return a.length > 0 && a.every((x) => getBool((q as Query)(x, site), 'all query'));
    },
  },
  find: { params: params('value'), impl: (v, [value], site) => getArray(v, site.label).findIndex((x) => equal(x, value)) },
  find_all: {
    params: params('value'),
    impl: (v, [value], site) => getArray(v, site.label).flatMap((x, i) => (equal(x, value) ? [i] : [])),
  },
  find_by: { params: params('query!'), impl: (v, [q], site) => getArray(v, site.label).findIndex((x) => getBool((q as Query)(x, site), 'find_by query')) },
  find_all_by: {
    params: params('query!'),
    impl: (v, [q], site) => getArray(v, site.label).flatMap((x, i) => (getBool((q as Query)(x, site), 'find_all_by query') ? [i] : [])),
  },
  sum: {
    params: [],
    impl: (v, _a, site) => (typeof v === 'number' ? v : getArray(v, site.label).reduce<number>((acc, x) => acc + getNumber(x, site.label), 0)),
  },
  min: {
    params: [],
    impl: (v, _a, site) => {
      const a = getArray(v, site.label);
      if (a.length === 0) throw new BloblangError(`${site.label}: the array was empty`);
      return a.reduce((m, x) => (getNumber(x, site.label) < getNumber(m, site.label) ? x : m));
    },
  },
  max: {
    params: [],
    impl: (v, _a, site) => {
      const a = getArray(v, site.label);
      if (a.length === 0) throw new BloblangError(`${site.label}: the array was empty`);
      return a.reduce((m, x) => (getNumber(x, site.label) > getNumber(m, site.label) ? x : m));
    },
  },
  sort: {
    params: params('compare?!'),
    impl: (v, [q], site) => {
      const a = getArray(v, site.label).slice();
      if (q === undefined) return a.sort((x, y) => compareValues(x, y, site.label));
      return a.sort((left, right) => (getBool((q as Query)({ left, right }, site), 'sort query') ? -1 : getBool((q as Query)({ left: right, right: left }, site), 'sort query') ? 1 : 0));
    },
  },
  sort_by: {
    params: params('query!'),
    impl: (v, [q], site) => {
      const keyed = getArray(v, site.label).map((item) => ({ item, key: (q as Query)(item, site) }));
      return keyed.sort((x, y) => compareValues(x.key, y.key, site.label)).map((k) => k.item);
    },
  },
  unique: {
    params: params('emit?!'),
    impl: (v, [q], site) => {
      const out: unknown[] = [];
      const keys: unknown[] = [];
      for (const item of getArray(v, site.label)) {
        const key = q === undefined ? item : (q as Query)(item, site);
        if (typeof key !== 'string' && typeof key !== 'number') throw new BloblangError(`${site.label}: unique requires strings or numbers, got ${typeOf(key)}`);
        if (keys.some((k) => equal(k, key))) continue;
        keys.push(key);
        out.push(item);
      }
      return out;
    },
  },
  append: { params: params('values*'), impl: (v, [rest], site) => [...getArray(v, site.label), ...(rest as unknown[])] },
  concat: {
    params: params('values*'),
    impl: (v, [rest], site) => (rest as unknown[]).reduce<unknown[]>((acc, a) => [...acc, ...getArray(a, site.label)], [...getArray(v, site.label)]),
  },
  merge: { params: params('with'), impl: (v, [other]) => mergeValues(v, other) },
  squash: {
    params: [],
    impl: (v, _a, site) => getArray(v, site.label).reduce<unknown>((acc, item) => (acc === undefined ? item : mergeValues(acc, item)), undefined) ?? {},
  },
  zip: {
    params: params('arrays*'),
    impl: (v, [rest], site) => {
      const arrays = (rest as unknown[]).map((a) => getArray(a, 'argument'));
      if (arrays.length === 0) throw new BloblangError('zip requires at least one argument');
      const base = getArray(v, site.label);
      if (arrays.some((a) => a.length !== base.length)) throw new BloblangError("can't zip different length array values");
      return base.map((item, i) => [item, ...arrays.map((a) => a[i])]);
    },
  },
  assign: { params: params('with'), impl: (v, [other]) => assignValues(v, other) },
  with: {
    params: params('paths*'),
    impl: (v, [paths], site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      const out: Record<string, unknown> = {};
      for (const p of paths as unknown[]) pickPath(v, out, splitPath(toText(p)), 0);
      return out;
    },
  },
  without: {
    params: params('paths*'),
    impl: (v, [paths], site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      return (paths as unknown[]).reduce<unknown>((acc, p) => withoutPath(acc, splitPath(toText(p)), 0), v);
    },
  },
  keys: {
    params: [],
    impl: (v, _a, site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      return sortedKeys(v);
    },
  },
  values: {
    params: [],
    impl: (v, _a, site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      return sortedKeys(v).map((k) => v[k]);
    },
  },
  key_values: {
    params: [],
    impl: (v, _a, site) => {
      if (!isObject(v)) throw typeError('object', v, site.label);
      return sortedKeys(v).map((k) => entry(k, v[k]));
    },
  },
  index: {
    params: params('index'),
    impl: (v, [index], site) => {
      const i = getNumber(index, 'index');
      if (!Array.isArray(v) && !(v instanceof Uint8Array)) throw typeError('array', v, site.label);
      const at = i < 0 ? v.length + i : i;
      if (at < 0 || at >= v.length) throw new BloblangError(`${site.label}: index '${at}' was out of bounds for array size: ${v.length}`);
      return v[at];
    },
  },
  first: {
    params: [],
    impl: (v, _a, site) => {
      const a = getArray(v, site.label);
      if (a.length === 0) throw new BloblangError(`${site.label}: array is empty`);
      return a[0];
    },
  },
  last: {
    params: [],
    impl: (v, _a, site) => {
      const a = getArray(v, site.label);
      if (a.length === 0) throw new BloblangError(`${site.label}: array is empty`);
      return a[a.length - 1];
    },
  },
  flatten: { params: [], impl: (v, _a, site) => getArray(v, site.label).flatMap((x) => (Array.isArray(x) ? x : [x])) },
  enumerated: { params: [], impl: (v, _a, site) => getArray(v, site.label).map((value, index) => ({ index, value })) },
  join: {
    params: params('delimiter?'),
    impl: (v, [delim], site) => getArray(v, site.label).map((x) => getString(x, site.label)).join(delim === undefined ? '' : toText(delim)),
  },
  reverse: {
    params: [],
    impl: (v, _a, site) => {
      if (typeof v === 'string') return [...v].reverse().join('');
      if (v instanceof Uint8Array) return Uint8Array.from(v).reverse();
      return getArray(v, site.label).slice().reverse();
    },
  },
  explode: {
    params: params('path'),
    impl: (v, [path], site) => {
      const keys = splitPath(toText(path));
      let target: unknown = v;
      for (const k of keys) target = isObject(target) ? target[k] : null;
      const set = (value: unknown) => {
        const write = (o: unknown, i: number): unknown => (i === keys.length ? value : { ...(isObject(o) ? o : {}), [keys[i]!]: write(isObject(o) ? o[keys[i]!] : undefined, i + 1) });
        return write(v, 0);
      };
      if (Array.isArray(target)) return target.map(set);
      if (isObject(target)) return Object.fromEntries(Object.entries(target).map(([k, x]) => [k, set(x)]));
      throw typeError('array or object', target, site.label);
    },
  },
};
