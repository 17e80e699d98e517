// Faster twins of a few of JSONata's function implementations, for the arguments where they are
// provably equal to them; any other argument goes to JSONata's own implementation. The hot ones
// of a typical event mapping: $round (JSONata shifts the decimal point through strings),
// $substring (JSONata splits the string into code points), $string of a number or a boolean
// (JSONata runs JSON.stringify with a replacer), $join of strings (Array.prototype.join is slower
// than concatenating a few strings), $keys of an object (JSONata copies Object.keys() item by item),
// $type of a string, a boolean or a number.

import { isFunction } from './runtime.js';

type Implementation = (...args: any[]) => unknown;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const TWO_POW_50 = 2 ** 50;

/**
 * $round(arg, precision) for 1 ≤ precision ≤ 15 where the value shifted by a binary multiplication
 * is far from a half: JSONata shifts the decimal text of `arg` instead (A = Number(`${arg}e${p}`)),
 * and the two shifted values differ by a few ulps at most (both are correctly rounded images of
 * numbers within half an ulp of each other), so away from a half they round to the same integer and
 * the half-even adjustment cannot apply. Shifting back, JSONata parses `${integer}e-${p}`: the
 * correctly rounded quotient, which IEEE division of two exact operands also gives. Near a half,
 * the decimal text is shifted as JSONata shifts it; JSONata's own function is left the rest.
 */
export function fastRound(original: Implementation): Implementation {
  // Kept small (V8 inlines it into every call site within a budget of bytecode); numbers near a
  // half go to nearHalf(), anything else to JSONata's own function.
  return function round(this: unknown, arg: unknown, precision: unknown) {
    if (typeof arg === 'number' && typeof precision === 'number' && precision >= 1 && precision <= 15 && Number.isInteger(precision)) {
      const scale = POW10[precision]!;
      const shifted = arg * scale;
      const magnitude = Math.abs(shifted);
      // Finite (NaN and infinities fail this) and below 2^50: exact enough to tell a half.
      if (magnitude < TWO_POW_50) {
        // Far from a half: the two shifted values differ by < 2^-50 × |shifted|; computing the fraction errs by < 2^-52.
        if (Math.abs(shifted - Math.floor(shifted) - 0.5) > (magnitude + 1) * 2 ** -40) {
          const result = Math.round(shifted) / scale;
          return result === 0 ? 0 : result;
        }
        return nearHalf(original, this, arg, precision, scale);
      }
    }
    return original.call(this, arg, precision);
  };
}

/**
 * fastRound() for a finite number near a half, |arg × scale| < 2^50 at 1 ≤ precision ≤ 15:
 * JSONata's own shift of the decimal text (without an exponent, its split finds none) and its
 * half-even rounding; shifting back parses `${integer}e-${p}`, the correctly rounded quotient
 * that the division gives (both operands exact below 2^53). A text with an exponent: JSONata's own function.
 */
function nearHalf(original: Implementation, focus: unknown, arg: number, precision: number, scale: number): unknown {
  const text = String(arg);
  if (!text.includes('e')) {
    const decimal = +`${text}e${precision}`;
    let rounded = Math.round(decimal);
    if (Math.abs(rounded - decimal) === 0.5 && Math.abs(rounded % 2) === 1) rounded = rounded - 1;
    if (Math.abs(rounded) < 2 ** 53) {
      const result = rounded / scale;
      return result === 0 ? 0 : result;
    }
  }
  return original.call(focus, arg, precision);
}

/** No surrogate in the first `limit` units: there, one UTF-16 unit per code point, so string indices are JSONata's. */
function withoutSurrogates(text: string, limit: number): boolean {
  for (let i = 0; i < text.length && i < limit; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) return false;
  }
  return true;
}

/** $substring: JSONata's arithmetic on indices, with String.prototype.slice (same index rules as Array's) where no surrogate can be split. */
export function fastSubstring(original: Implementation): Implementation {
  return function substring(this: unknown, str: unknown, start: number, length?: number) {
    if (typeof str !== 'string') return original.call(this, str, start, length);
    // From a start ≥ 0 for a length, only the code points before the end are counted; else all are.
    const limit = start >= 0 && typeof length === 'number' && length > 0 ? start + length : Infinity;
    if (!withoutSurrogates(str, limit)) return original.call(this, str, start, length);
    if (str.length + start < 0) start = 0;
    if (typeof length !== 'undefined') {
      if (length <= 0) return '';
      const end = start >= 0 ? start + length : str.length + start + length;
      return str.slice(start, end);
    }
    return str.slice(start);
  };
}

/**
 * $string of a string, a finite number, a boolean or null. JSONata's replacer turns a non-integer
 * into Number(toPrecision(15)), and JSON.stringify writes a finite number as String() does.
 */
export function fastString(original: Implementation): Implementation {
  return function string(this: unknown, arg: unknown, prettify?: boolean) {
    switch (typeof arg) {
      case 'string':
        return arg;
      case 'number':
        if (!Number.isFinite(arg)) break;
        return Number.isInteger(arg) ? String(arg) : String(Number(arg.toPrecision(15)));
      case 'boolean':
        return arg ? 'true' : 'false';
      case 'object':
        if (arg === null) return 'null';
        break;
    }
    return original.call(this, arg, prettify);
  };
}

/**
 * $join of an array of strings with a string separator (or none): JSONata calls Array.prototype.join,
 * which for strings alone is their concatenation with the separator between them.
 */
export function fastJoin(original: Implementation): Implementation {
  return function join(this: unknown, strs: unknown, separator?: unknown) {
    if (Array.isArray(strs) && (separator === undefined || typeof separator === 'string')) {
      const sep = separator === undefined ? '' : separator;
      let result = '';
      let all = true;
      for (let i = 0; i < strs.length; i++) {
        const item: unknown = strs[i];
        if (typeof item !== 'string') {
          all = false;
          break;
        }
        result = i === 0 ? item : result + sep + item;
      }
      if (all) return result;
    }
    return original.call(this, strs, separator);
  };
}

/**
 * $keys of one object (not an array, not a function): JSONata pushes the items of Object.keys()
 * into a fresh sequence one by one; flagging the fresh array Object.keys() returns is the same value.
 */
export function fastKeys(original: Implementation): Implementation {
  return function keys(this: unknown, arg: unknown) {
    if (typeof arg === 'object' && arg !== null && !Array.isArray(arg) && !isFunction(arg)) {
      const result: unknown[] & { sequence?: boolean } = Object.keys(arg);
      result.sequence = true;
      return result;
    }
    return original.call(this, arg);
  };
}

/**
 * $type of a string, a boolean or a finite number (JSONata calls isNumeric() for a number, which
 * V8 does not inline into it); anything else (NaN is an 'object' there, an infinite number an
 * error) goes to JSONata's own function.
 */
export function fastType(original: Implementation): Implementation {
  return function type(this: unknown, value: unknown) {
    switch (typeof value) {
      case 'string':
        return 'string';
      case 'boolean':
        return 'boolean';
      case 'number':
        if (value - value === 0) return 'number';
    }
    return original.call(this, value);
  };
}
