// Go's duration syntax (time.ParseDuration / Duration.String), the one way sluice reads and
// writes durations: `30s`, `1m0s`, `100ms`, `1h2m3s`, `1.5h`, `-2m`.

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // µ, micro sign
  '\u03bcs': 1_000n, // μ, Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX = 1n << 63n;
// One `[0-9]*(\.[0-9]*)?[a-z]+` part: Go's unit is everything up to the next digit or dot.
const PART = /(\d*)(?:\.(\d*))?([^\d.]*)/y;

/**
 * Parses a Go duration string to integer nanoseconds, exactly as time.ParseDuration does
 * (fractions truncated, more than 2^63-1ns rejected). Throws on bad input.
 */
export function parseDuration(text: string): number {
  const invalid = () => new Error(`invalid duration ${JSON.stringify(text)} (expected e.g. 30s, 1m0s, 100ms, 1h2m3s)`);
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0n;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const [, whole = '', fraction, unit = ''] = PART.exec(rest)!;
    const scale = UNIT_NS[unit];
    if ((whole === '' && !fraction) || scale === undefined) throw invalid();
    let part = BigInt(whole || '0');
    if (part > MAX / scale) throw invalid();
    part *= scale;
    if (fraction) {
      // Go keeps at most the digits that fit an int64, and multiplies in float64 (truncating).
      let digits = 0n;
      let divisor = 1;
      for (const digit of fraction) {
        const next = digits * 10n + BigInt(digit);
        if (next > MAX) break;
        digits = next;
        divisor *= 10;
      }
      part += BigInt(Math.trunc(Number(digits) * (Number(scale) / divisor)));
    }
    total += part;
    if (total > MAX) throw invalid();
  }
  if (!negative && total === MAX) throw invalid();
  return Number(negative ? -total : total);
}

/** Parses a Go duration string to milliseconds (fractions kept). */
export function parseDurationMs(text: string): number {
  return parseDuration(text) / 1e6;
}

/** Formats nanoseconds the way Go's Duration.String() does: `30s`, `1m0s`, `1h0m0s`, `100ms`, `1.5µs`. */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return `${ns}s`;
  let abs = BigInt(Math.round(ns));
  const sign = abs < 0n ? '-' : '';
  if (abs < 0n) abs = -abs;
  if (abs === 0n) return '0s';
  if (abs < 1_000n) return `${sign}${abs}ns`;
  if (abs < 1_000_000n) return `${sign}${withFraction(abs, 3)}\u00b5s`;
  if (abs < 1_000_000_000n) return `${sign}${withFraction(abs, 6)}ms`;
  const totalSeconds = abs / 1_000_000_000n;
  let out = `${withFraction(abs % 60_000_000_000n, 9)}s`;
  const minutes = totalSeconds / 60n;
  if (minutes > 0n) out = `${minutes % 60n}m${out}`;
  if (minutes >= 60n) out = `${minutes / 60n}h${out}`;
  return sign + out;
}

/** `value / 10^digits` in decimal without trailing zeros: (1500n, 3) -> "1.5". */
function withFraction(value: bigint, digits: number): string {
  const unit = 10n ** BigInt(digits);
  const fraction = (value % unit).toString().padStart(digits, '0').replace(/0+$/, '');
  return fraction === '' ? `${value / unit}` : `${value / unit}.${fraction}`;
}

/** The JSON Schema of a duration field: a Go duration string. */
export const durationSchema = (description: string, defaultValue?: string) => ({
  type: 'string',
  format: 'duration',
  description,
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});
