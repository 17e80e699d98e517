// Bloblang's values in JavaScript: JSON values as they are (numbers are JS numbers: int64, uint64
// and float64 are told apart by value, as JSON output does), bytes as Uint8Array, timestamps as
// Timestamp, and two markers: DELETED (`deleted()`) and NOTHING (no value, e.g. an `if` without
// `else` whose condition is false: assigning it changes nothing).

export const DELETED: unique symbol = Symbol('deleted');
export const NOTHING: unique symbol = Symbol('nothing');

/** A point in time with nanosecond precision (Go's time.Time), shown in a fixed UTC offset. */
export class Timestamp {
  constructor(
    /** Milliseconds since the Unix epoch (floor). */
    readonly ms: number,
    /** Nanoseconds past `ms`, 0..999999. */
    readonly subMsNanos = 0,
    /** Minutes east of UTC the time is shown in (ts_tz). */
    readonly offsetMinutes = 0,
  ) {}

  static fromDate(date: Date): Timestamp {
    return new Timestamp(date.getTime());
  }

  /** Nanoseconds since the epoch, as a bigint (exact). */
  get unixNanos(): bigint {
    return BigInt(this.ms) * 1_000_000n + BigInt(this.subMsNanos);
  }

  static fromUnixNanos(nanos: bigint, offsetMinutes = 0): Timestamp {
    let ms = nanos / 1_000_000n;
    let rest = nanos % 1_000_000n;
    if (rest < 0n) {
      rest += 1_000_000n;
      ms -= 1n;
    }
    return new Timestamp(Number(ms), Number(rest), offsetMinutes);
  }

  /** Go's time.RFC3339Nano: fraction without trailing zeros, `Z` for UTC. */
  toJSON(): string {
    return formatRFC3339Nano(this);
  }

  toString(): string {
    return formatRFC3339Nano(this);
  }
}

export function formatRFC3339Nano(t: Timestamp): string {
  const shifted = new Date(t.ms + t.offsetMinutes * 60_000);
  const iso = shifted.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const nanos = (shifted.getUTCMilliseconds() * 1_000_000 + t.subMsNanos).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${nanos ? '.' + nanos : ''}${zone(t.offsetMinutes)}`;
}

export function zone(offsetMinutes: number): string {
  if (offsetMinutes === 0) return 'Z';
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * A runtime failure; `.catch()` and `.or()` recover from it, otherwise it fails the mapping.
 * Mappings such as OpenMeter's raise and recover from many per message (`resource_quantity(null)
 * .number(0)`), so an error captures no stack and may build its message only when read.
 */
export class BloblangError extends Error {
  #text: string | (() => string);

  constructor(message: string | (() => string)) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super();
    Error.stackTraceLimit = limit;
    this.#text = message;
  }

  override get message(): string {
    if (typeof this.#text !== 'string') this.#text = this.#text();
    return this.#text;
  }

  override get name(): string {
    return 'BloblangError';
  }
}

/**
 * A failure returned instead of thrown, by a function or method whose caller can take it as a
 * value (the target of `.catch()`, `.or()`, `.number(d)`): no exception on a hot path such as
 * `resource_quantity(this.missing).number(0)`. Anywhere else it is thrown.
 */
export class Failure {
  constructor(readonly error: () => BloblangError) {}
}

export type ValueType = 'string' | 'bytes' | 'number' | 'bool' | 'timestamp' | 'array' | 'object' | 'null' | 'delete' | 'nothing' | 'unknown';

/** Bloblang's name for the type of a value (`.type()`). */
export function typeOf(v: unknown): ValueType {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
    case 'bigint':
      return 'number';
    case 'boolean':
      return 'bool';
    case 'symbol':
      return v === DELETED ? 'delete' : v === NOTHING ? 'nothing' : 'unknown';
    case 'undefined':
      return 'null';
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return 'array';
      if (v instanceof Uint8Array) return 'bytes';
      if (v instanceof Timestamp) return 'timestamp';
      return 'object';
    default:
      return 'unknown';
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  // Plain objects (parsed JSON, literals) first: the common case, one check.
  if ((v as object).constructor === Object) return true;
  return !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Timestamp);
}

/**
 * Connect's type error: `expected string value, got number from field \`this.a\` (1)` (the value
 * shown for strings, numbers and booleans only).
 */
export function typeError(expected: string, got: unknown, from?: string): BloblangError {
  return new BloblangError(() => {
    const type = typeOf(got);
    const shown = type === 'string' ? `"${got as string}"` : type === 'number' || type === 'bool' ? toText(got) : '';
    return `expected ${expected} value, got ${type}${from ? ` from ${from}` : ''}${shown ? ` (${shown})` : ''}`;
  });
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64) for the numbers Bloblang prints. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) {
    const [mantissa, e] = n.toExponential().split('e');
    const sign = e!.startsWith('-') ? '-' : '+';
    const digits = e!.replace(/^[+-]/, '').padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return String(n);
}

const decoder = new TextDecoder();
export const encoder = new TextEncoder();

export function bytesToString(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Go's value.IToString: how a value reads as text (interpolations, `.string()`, `+` on bytes). */
export function toText(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return formatNumber(v);
    case 'bigint':
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'null';
    case 'symbol':
      return v === DELETED ? 'null' : 'null';
  }
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return bytesToString(v);
  if (v instanceof Timestamp) return v.toJSON();
  return toJSON(v);
}

/** Compact JSON as Go's encoder writes it (HTML not escaped; bytes as base64). */
export function toJSON(v: unknown): string {
  return JSON.stringify(v, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
    if (typeof value === 'symbol') return null;
    if (typeof value === 'bigint') return Number(value);
    return value;
  });
}

/** Deep equality as Bloblang's `==`: numbers by value, bytes and strings by text, objects and arrays structurally. */
export function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeOf(a);
  const tb = typeOf(b);
  if ((ta === 'string' || ta === 'bytes') && (tb === 'string' || tb === 'bytes')) return toText(a) === toText(b);
  if (ta !== tb) return false;
  switch (ta) {
    case 'number':
      return Number(a) === Number(b);
    case 'timestamp':
      return (a as Timestamp).unixNanos === (b as Timestamp).unixNanos;
    case 'array': {
      const x = a as unknown[];
      const y = b as unknown[];
      return x.length === y.length && x.every((item, i) => equal(item, y[i]));
    }
    case 'object': {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const kx = Object.keys(x);
      if (kx.length !== Object.keys(y).length) return false;
      return kx.every((k) => Object.hasOwn(y, k) && equal(x[k], y[k]));
    }
    default:
      return false;
  }
}

/**
 * A shallow copy of an object to add keys to. (V8 makes `{ ...o }` followed by new keys about 40
 * times slower than copying key by key into a fresh object.)
 */
export function copyObject(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in o) out[k] = o[k];
  return out;
}

/** Go's value.IGetNumber: numbers only (no strings). */
export function getNumber(v: unknown, from?: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw typeError('number', v, from);
}

export function getString(v: unknown, from?: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return bytesToString(v);
  throw typeError('string', v, from);
}

export function getBool(v: unknown, from?: string): boolean {
  if (typeof v === 'boolean') return v;
  throw typeError('bool', v, from);
}

export function getArray(v: unknown, from?: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw typeError('array', v, from);
}

export function getObject(v: unknown, from?: string): Record<string, unknown> {
  if (isObject(v)) return v;
  throw typeError('object', v, from);
}

/** A field of an object, an index of an array (`.0`, `.-1`), or null. */
export function getField(v: unknown, key: string): unknown {
  if (isObject(v)) {
    const got = v[key];
    return got === undefined ? null : got;
  }
  if (Array.isArray(v)) {
    const i = Number(key);
    if (!Number.isInteger(i)) return null;
    const got = v[i < 0 ? v.length + i : i];
    return got === undefined ? null : got;
  }
  return null;
}

/**
 * A value ready to leave a mapping as JSON: DELETED and NOTHING nested in it removed, bytes as
 * their text, timestamps as RFC 3339 strings. Returns `v` itself when nothing needs changing.
 */
export function cleanForOutput(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return typeof v === 'symbol' ? null : v;
  if (v instanceof Uint8Array) return bytesToString(v);
  if (v instanceof Timestamp) return v.toJSON();
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      const c = typeof item === 'symbol' ? DELETED : cleanForOutput(item);
      if (c !== item && out === undefined) out = v.slice(0, i);
      if (out !== undefined && c !== DELETED) out.push(c);
    }
    return out ?? v;
  }
  let out: Record<string, unknown> | undefined;
  const o = v as Record<string, unknown>;
  for (const key in o) {
    const item = o[key];
    const c = typeof item === 'symbol' ? DELETED : cleanForOutput(item);
    if (c !== item) {
      out ??= copyObject(o);
      if (c === DELETED) delete out[key];
      else out[key] = c;
    }
  }
  return out ?? v;
}
