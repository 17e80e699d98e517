// Kubernetes resource quantities ("500m", "2Gi", "1.5", "1e3"), parsed exactly as Kubernetes'
// `resource.ParseQuantity` parses them (k8s.io/apimachinery pkg/api/resource: quantity.go,
// suffix.go, and the inf.Dec it falls back to), value for value:
//
//   <quantity>        ::= <signedNumber><suffix>
//   <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei                  (2^10 ... 2^60)
//   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E       (10^-9 ... 10^18)
//   <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>    (an integer in practice)
//
// Values are exact: a decimal is not capped, a binarySI value is capped at 2^63-1 in magnitude,
// and a value finer than nano is rounded away from zero to the next nano ("0.1n" is 1n).
// Kubernetes' scanner also accepts what its grammar does not spell out, and so does this one: an
// empty number is zero ("m", "+", "."), the exponent is an int64 truncated to int32 ("1e4294967297"
// is 1e1). Where Kubernetes would hang building a number with billions of digits (an exponent
// near ±2^31 on a long mantissa), this parser returns the value Kubernetes' rules give when it is
// small (it rounds up to 1n) and throws a QuantityError when it is huge.
//
// Pure and dependency-free: the mapping layer's `$resource_quantity` and Bloblang's
// `resource_quantity` both call it.

/**
 * An exact decimal, unscaled × 10^-scale: the `inf.Dec` Kubernetes' `Quantity.AsDec()` returns,
 * with the same scale (so `formatQuantity` prints the same text).
 */
export interface Quantity {
  readonly unscaled: bigint;
  readonly scale: number;
}

/** Why a quantity was refused; `message` names the text and what is wrong with it. */
export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

// Kubernetes' own error texts.
const FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const NUMERIC = 'unable to parse numeric part of quantity';
const SUFFIX = "unable to parse quantity's suffix";

const DECIMAL_SI = new Map<string, number>([
  ['', 0],
  ['n', -9],
  ['u', -6],
  ['m', -3],
  ['k', 3],
  ['M', 6],
  ['G', 9],
  ['T', 12],
  ['P', 15],
  ['E', 18],
]);
const BINARY_SI = new Map<string, number>([
  ['Ki', 10],
  ['Mi', 20],
  ['Gi', 30],
  ['Ti', 40],
  ['Pi', 50],
  ['Ei', 60],
]);
const SUFFIX_LETTERS = 'eEinumkKMGTP';
/** Values are kept down to 10^-9 (Kubernetes' `Nano` scale). */
const NANO_SCALE = 9;
const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);
/** Digits a value may grow by when it is brought to nano scale; Kubernetes would hang far beyond. */
const MAX_RESCALE_DIGITS = 10_000;
/** Longest text formatQuantity() produces. */
const MAX_FORMATTED_LENGTH = 10_000;

/**
 * Parses `text` as Kubernetes does, or throws a QuantityError with Kubernetes' reason. No
 * surrounding whitespace is allowed (Kubernetes' JSON decoder trims it before parsing; this
 * function, like `ParseQuantity`, does not).
 */
export function parseQuantity(text: string): Quantity {
  if (text.length === 0) throw fail(text, FORMAT_WRONG);
  if (text === '0') return { unscaled: 0n, scale: 0 };
  const scanned = scan(text);
  const { base, exponent } = interpretSuffix(text, scanned.suffix);
  const { num, denom } = scanned;

  // Kubernetes' fast path: a mantissa that fits an int64 at a scale of at least nano. It is exact
  // (nothing to round or cap), so it only matters for the scale of the result.
  let precision: number;
  let multiplier = 1n;
  if (base === 10) {
    precision = 18 - (num.length + denom.length);
  } else if (denom.length === 0) {
    multiplier = 2n ** BigInt(exponent);
    precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
  } else {
    precision = -1;
  }
  if (precision >= 0) {
    const scale = toInt32((base === 10 ? exponent : 0) - denom.length);
    if (scale >= -NANO_SCALE) {
      const product = BigInt(num + denom) * multiplier;
      if (product <= MAX_INT64) return { unscaled: scanned.positive ? product : -product, scale: toInt32(-scale) };
    }
  }

  // The general path: an arbitrary-precision decimal, rounded to nano, binarySI capped.
  const decimal = parseDecimal(text, scanned.value);
  let unscaled = decimal.unscaled;
  let scale = decimal.scale;
  if (base === 10) scale = toInt32(scale + toInt32(-exponent));
  else unscaled *= 2n ** BigInt(exponent);
  const negative = unscaled < 0n;
  if (negative) unscaled = -unscaled;
  if (unscaled !== 0n) ({ unscaled, scale } = roundUpToNano(text, unscaled, scale));
  if (base === 2 && compare({ unscaled, scale }, MAX_INT64) > 0) {
    unscaled = MAX_INT64;
    scale = 0;
  }
  return { unscaled: negative ? -unscaled : unscaled, scale };
}

/**
 * The quantity as Kubernetes' `Quantity.AsDec().String()` prints it (what OpenMeter's Bloblang
 * `resource_quantity` returns): "500m" -> "0.500", "2Gi" -> "2147483648", "1.5Gi" ->
 * "1610612736.000000000". Throws a RangeError past MAX_FORMATTED_LENGTH characters.
 */
export function formatQuantity(quantity: Quantity): string {
  const { unscaled, scale } = quantity;
  const digits = unscaled.toString();
  if (unscaled === 0n && scale <= 0) return '0';
  if (digits.length + Math.abs(scale) + 2 > MAX_FORMATTED_LENGTH) throw new RangeError(`quantity ${digits}e${-scale} is too long to print`);
  if (scale <= 0) return scale !== 0 && unscaled !== 0n ? digits + '0'.repeat(-scale) : digits;
  const sign = unscaled < 0n ? '-' : '';
  const magnitude = sign ? digits.slice(1) : digits;
  if (magnitude.length <= scale) return `${sign}0.${'0'.repeat(scale - magnitude.length)}${magnitude}`;
  return `${sign}${magnitude.slice(0, magnitude.length - scale)}.${magnitude.slice(magnitude.length - scale)}`;
}

/**
 * The nearest double to the quantity: what Go's `strconv.ParseFloat` makes of
 * `formatQuantity()`'s text (Bloblang's `.number()`). ±Infinity beyond the double range.
 */
export function quantityToNumber(quantity: Quantity): number {
  const { unscaled, scale } = quantity;
  if (unscaled === 0n) return 0;
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().length;
  // Past 10^400 no double is near; the text would only be long.
  if (digits - 1 - scale > 400) return unscaled < 0n ? -Infinity : Infinity;
  return Number(formatQuantity(quantity));
}

// -- Kubernetes' scanner (parseQuantityString) ---------------------------------------------------

interface Scanned {
  readonly positive: boolean;
  /** The signed number as written, for the general path ("-1.5", "." or "" for an empty number). */
  readonly value: string;
  /** Integer digits without leading zeros, "0" when none. */
  readonly num: string;
  /** Fraction digits as written. */
  readonly denom: string;
  readonly suffix: string;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function scan(text: string): Scanned {
  const end = text.length;
  let positive = true;
  let pos = 0;
  if (text[0] === '-') {
    positive = false;
    pos++;
  } else if (text[0] === '+') {
    pos++;
  }
  while (pos < end && text[pos] === '0') pos++;
  // Only a sign and zeros: zero.
  if (pos >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
  let i = pos;
  while (isDigit(text[i])) i++;
  if (i >= end) return { positive, value: text, num: text.slice(pos), denom: '', suffix: '' };
  const num = i > pos ? text.slice(pos, i) : '0';
  pos = i;
  let denom = '';
  if (text[pos] === '.') {
    pos++;
    let j = pos;
    while (isDigit(text[j])) j++;
    if (j >= end) return { positive, value: text, num, denom: text.slice(pos), suffix: '' };
    denom = text.slice(pos, j);
    pos = j;
  }
  const value = text.slice(0, pos);
  // The suffix: letters, then an optional sign and digits to the end.
  let k = pos;
  while (k < end && SUFFIX_LETTERS.includes(text[k]!)) k++;
  if (k < end && (text[k] === '-' || text[k] === '+')) k++;
  while (isDigit(text[k])) k++;
  if (k < end) throw fail(text, FORMAT_WRONG);
  return { positive, value, num, denom, suffix: text.slice(pos) };
}

/** The suffix's base (10 or 2) and exponent (suffix.go `interpret`). */
function interpretSuffix(text: string, suffix: string): { base: 10 | 2; exponent: number } {
  const decimal = DECIMAL_SI.get(suffix);
  if (decimal !== undefined) return { base: 10, exponent: decimal };
  const binary = BINARY_SI.get(suffix);
  if (binary !== undefined) return { base: 2, exponent: binary };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    // strconv.ParseInt(s, 10, 64), then int32(): an out-of-range int32 wraps around.
    const digits = suffix.slice(1);
    if (/^[+-]?\d+$/.test(digits)) {
      const parsed = BigInt(digits);
      if (parsed >= MIN_INT64 && parsed <= MAX_INT64) return { base: 10, exponent: Number(BigInt.asIntN(32, parsed)) };
    }
  }
  throw fail(text, SUFFIX);
}

/** inf.Dec's SetString: a signed decimal with digits on at least one side of the point. */
function parseDecimal(text: string, value: string): Quantity {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(value);
  if (match === null || match[2]! + (match[3] ?? '') === '') throw fail(text, NUMERIC);
  const fraction = match[3] ?? '';
  return { unscaled: BigInt(`${match[1]}${match[2]}${fraction}`), scale: fraction.length };
}

/** inf.Dec's Round(x, 9, RoundUp) of a positive value: ceil to nano, scale 9. */
function roundUpToNano(text: string, unscaled: bigint, scale: number): Quantity {
  if (scale <= NANO_SCALE) {
    const shift = NANO_SCALE - scale;
    if (shift > MAX_RESCALE_DIGITS) throw fail(text, 'exponent out of range');
    return { unscaled: unscaled * 10n ** BigInt(shift), scale: NANO_SCALE };
  }
  const shift = scale - NANO_SCALE;
  // A value below 10^shift rounds up to one nano; no need to build 10^shift to know it.
  if (shift > unscaled.toString().length) return { unscaled: 1n, scale: NANO_SCALE };
  const divisor = 10n ** BigInt(shift);
  const quotient = unscaled / divisor;
  return { unscaled: quotient * divisor === unscaled ? quotient : quotient + 1n, scale: NANO_SCALE };
}

/** Sign of (quantity - integer) for a non-negative quantity. */
function compare(quantity: Quantity, integer: bigint): number {
  const { unscaled, scale } = quantity;
  const left = scale >= 0 ? unscaled : unscaled * 10n ** BigInt(-scale);
  const right = scale >= 0 ? integer * 10n ** BigInt(scale) : integer;
  return left === right ? 0 : left > right ? 1 : -1;
}

const toInt32 = (n: number): number => n | 0;

function fail(text: string, reason: string): QuantityError {
  const shown = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  return new QuantityError(`invalid quantity ${JSON.stringify(shown)}: ${reason}`);
}
