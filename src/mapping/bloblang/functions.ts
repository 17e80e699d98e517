// Bloblang functions: message access, time, identity and generators, plus OpenMeter's
// `resource_quantity` (collector/benthos/bloblang/parse_resource.go).
import { hostname } from 'node:os';
import { metadataString } from '../../engine/message.js';
import { formatQuantity, parseQuantity } from '../../kubernetes/quantity.js';
import { params, type FunctionSpec, type Query } from './registry.js';
import { BloblangError, bytesToString, copyObject, DELETED, Failure, getField, getString, NOTHING, Timestamp, toText, typeError } from './values.js';
import { splitPath, toInt } from './methods/core.js';

const counters = new Map<string, number>();

function now(date: Date): Timestamp {
  return new Timestamp(date.getTime(), 0, -date.getTimezoneOffset());
}

const unix = (divisor: number): FunctionSpec => ({
  params: [],
  impure: true,
  impl: (_a, site) => Math.floor(site.run.sources.now().getTime() / divisor),
});

export const FUNCTIONS: Readonly<Record<string, FunctionSpec>> = Object.freeze({
  uuid_v4: { params: [], impure: true, impl: (_a, site) => site.run.sources.uuidV4() },
  now: { params: [], impure: true, impl: (_a, site) => now(site.run.sources.now()).toJSON() },
  timestamp_unix: unix(1000),
  timestamp_unix_milli: unix(1),
  timestamp_unix_micro: { params: [], impure: true, impl: (_a, site) => site.run.sources.now().getTime() * 1000 },
  timestamp_unix_nano: { params: [], impure: true, impl: (_a, site) => site.run.sources.now().getTime() * 1_000_000 },
  meta: {
    params: params('key?'),
    impure: true,
    impl: ([key], site) => {
      const { metadata } = site.run.context.message;
      if (key === undefined) return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, metadataString(v)]));
      const value = metadata[toText(key)];
      if (value === undefined || value === null) return null;
      const text = metadataString(value);
      return text === '' ? null : text;
    },
  },
  metadata: {
    params: params('key?'),
    impure: true,
    impl: ([key], site) => {
      const { metadata } = site.run.context.message;
      if (key === undefined) return copyObject(metadata);
      return metadata[toText(key)] ?? null;
    },
  },
  root_meta: {
    params: params('key?'),
    impure: true,
    impl: ([key], site) => {
      if (key === undefined) return Object.fromEntries(Object.entries(site.run.meta).map(([k, v]) => [k, metadataString(v)]));
      const value = site.run.meta[toText(key)];
      return value === undefined || value === null ? null : metadataString(value);
    },
  },
  content: { params: [], impure: true, impl: (_a, site) => site.run.context.message.bytes() },
  json: {
    params: params('path?'),
    impure: true,
    impl: ([path], site) => {
      let v = site.run.document();
      for (const key of splitPath(path === undefined ? '' : toText(path))) v = getField(v, key);
      return v;
    },
  },
  error: { params: [], impure: true, impl: (_a, site) => site.run.context.message.error?.message ?? null },
  errored: { params: [], impure: true, impl: (_a, site) => site.run.context.message.error !== undefined },
  batch_index: { params: [], impure: true, impl: (_a, site) => site.run.context.index },
  batch_size: { params: [], impure: true, impl: (_a, site) => site.run.context.batch.length },
  deleted: { params: [], impl: () => DELETED },
  pi: { params: [], impl: () => Math.PI },
  nothing: { params: [], impl: () => NOTHING },
  throw: {
    params: params('why'),
    impl: ([why]) => {
      throw new BloblangError(getString(why, 'argument'));
    },
  },
  env: {
    params: params('name', 'no_cache?'),
    impure: true,
    impl: ([name]) => process.env[getString(name, 'argument')] ?? null,
  },
  hostname: { params: [], impure: true, impl: () => hostname() },
  count: {
    params: params('name'),
    impure: true,
    impl: ([name]) => {
      const key = getString(name, 'argument');
      const next = (counters.get(key) ?? 0) + 1;
      counters.set(key, next);
      return next;
    },
  },
  counter: {
    params: params('min?', 'max?', 'set?!'),
    impure: true,
    impl: ([min, max, set], site) => {
      const state = site.state!;
      if (state.i === undefined) {
        const lo = min === undefined ? 1 : toInt(min, 'min');
        const hi = max === undefined ? Number.MAX_SAFE_INTEGER : toInt(max, 'max');
        if (lo < 0) throw new BloblangError(`min argument must be >0, got ${lo}`);
        if (hi <= lo) throw new BloblangError(`max argument must be >0 and >min, got ${hi}`);
        Object.assign(state, { min: lo, max: hi, i: lo - 1 });
      }
      if (set !== undefined) {
        const v = (set as Query)(site.ctx, site);
        if (v === null) return state.i;
        if (v === DELETED) state.i = (state.min as number) - 1;
        else if (v !== NOTHING) {
          state.i = toInt(v, 'set');
          return state.i;
        }
      }
      const next = (state.i as number) + 1;
      state.i = next >= (state.max as number) ? (state.min as number) - 1 : next;
      return next;
    },
  },
  range: {
    params: params('start', 'stop', 'step?'),
    impl: ([start, stop, step]) => {
      const a = toInt(start, 'start');
      const b = toInt(stop, 'stop');
      const s = step === undefined ? 1 : toInt(step, 'step');
      if (s === 0) throw new BloblangError('step must be greater than or less than 0');
      if (s < 0 && b > a) throw new BloblangError(`with negative step arg stop (${b}) must be <= start (${a})`);
      if (s > 0 && a >= b) throw new BloblangError(`with positive step arg start (${a}) must be < stop (${b})`);
      return Array.from({ length: Math.trunc((b - a) / s) }, (_, i) => a + s * i);
    },
  },
  random_int: {
    params: params('seed?', 'min?', 'max?'),
    impure: true,
    impl: ([, min, max]) => {
      const lo = min === undefined ? 0 : Number(min);
      const hi = max === undefined ? Number.MAX_SAFE_INTEGER : Number(max);
      if (hi < lo) throw new BloblangError(`random_int: max (${hi}) is less than min (${lo})`);
      return lo + Math.floor(Math.random() * (hi - lo + 1));
    },
  },
  resource_quantity: {
    params: params('value'),
    impl: ([value]) => {
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) return new Failure(() => typeError('string', value, 'argument'));
      const text = typeof value === 'string' ? value : bytesToString(value);
      if (text === '') return 0;
      try {
        return formatQuantity(parseQuantity(text));
      } catch (err) {
        throw new BloblangError((err as Error).message);
      }
    },
  },
});
