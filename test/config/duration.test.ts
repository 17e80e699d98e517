import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseDurationMs } from '../../src/config/duration.js';

const S = 1e9;
const MAX_INT64 = 2n ** 63n - 1n;

describe('parseDuration (Go time.ParseDuration)', () => {
  it.each<[string, number]>([
    ['30s', 30 * S],
    ['1m0s', 60 * S],
    ['1h2m3s', 3723 * S],
    ['1.5h', 5400 * S],
    ['-2m', -120 * S],
    ['+2m', 120 * S],
    ['100ms', 1e8],
    ['1µs', 1e3], // U+00B5 micro sign
    ['1μs', 1e3], // U+03BC Greek mu
    ['1us', 1e3],
    ['1ns', 1],
    ['0', 0],
    ['+0', 0],
    ['-0', 0],
    ['0s', 0],
    ['.5s', 0.5 * S],
    ['1.s', S],
    ['1.5µs', 1500],
    ['2h45m', 9900 * S],
    ['1m1m', 120 * S], // units may repeat
    ['1s1h', 3601 * S], // and come in any order
    ['0.000000001s', 1],
    ['1.5ns', 1], // fractions of a nanosecond are truncated, not rounded
    ['-1.5ns', -1],
    ['1.0000000009s', S],
    ['0.1234567891234s', 123456789],
  ])('%s is %d ns', (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  it('accepts up to 2^63-1 ns (2562047h47m16.854775807s) and rejects one more', () => {
    expect(BigInt(parseDuration('2562047h47m16.854775807s'))).toBe(BigInt(Number(MAX_INT64)));
    expect(BigInt(parseDuration('-2562047h47m16.854775808s'))).toBe(-(2n ** 63n));
    expect(() => parseDuration('2562047h47m16.854775808s')).toThrow(/invalid duration/);
    expect(() => parseDuration('3000000h')).toThrow(/invalid duration/);
    expect(() => parseDuration('9223372036854775808ns')).toThrow(/invalid duration/);
  });

  it.each(['', '1', '-', '+', 's', '.s', '-.s', '1x', '1S', '1h 2m', ' 1s', '1s ', '1e3s', '1.5.5s', '--1s', 'forever', '0x', '1,5s', '１s'])(
    'rejects %j with a message naming it',
    (text) => {
      expect(() => parseDuration(text)).toThrow(`invalid duration ${JSON.stringify(text)}`);
    },
  );

  it('parseDurationMs keeps fractions', () => {
    expect(parseDurationMs('1.5ms')).toBe(1.5);
    expect(parseDurationMs('1m')).toBe(60_000);
  });
});

describe('formatDuration (Go Duration.String)', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [1, '1ns'],
    [999, '999ns'],
    [1_000, '1µs'],
    [1_500, '1.5µs'],
    [1_100_000, '1.1ms'],
    [1e8, '100ms'],
    [999_999_999, '999.999999ms'],
    [S, '1s'],
    [30 * S, '30s'],
    [60 * S, '1m0s'],
    [3600 * S, '1h0m0s'],
    [3723 * S, '1h2m3s'],
    [5400 * S, '1h30m0s'],
    [90061 * S, '25h1m1s'],
    [1.5 * S, '1.5s'],
    [60 * S + 1, '1m0.000000001s'],
    [60 * S + 100, '1m0.0000001s'],
    [-120 * S, '-2m0s'],
    [-1, '-1ns'],
  ])('%d ns is %s', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });
});

// Integer nanoseconds a Number holds exactly.
const nanoseconds = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, S, 60 * S, 3600 * S, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
);

describe('duration properties', () => {
  it('formatDuration ∘ parseDuration round-trips to the same nanoseconds', () => {
    fc.assert(
      fc.property(nanoseconds, (ns) => {
        expect(parseDuration(formatDuration(ns))).toBe(ns);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatting is canonical: parse ∘ format is a fixed point of format', () => {
    const part = fc.tuple(fc.nat(999), fc.option(fc.nat(999), { nil: undefined }), fc.constantFrom('ns', 'us', 'µs', 'ms', 's', 'm', 'h'));
    fc.assert(
      fc.property(fc.boolean(), fc.array(part, { minLength: 1, maxLength: 4 }), (negative, parts) => {
        const text = (negative ? '-' : '') + parts.map(([n, f, u]) => `${n}${f === undefined ? '' : `.${f}`}${u}`).join('');
        const ns = parseDuration(text);
        expect(Number.isInteger(ns)).toBe(true);
        expect(formatDuration(parseDuration(formatDuration(ns)))).toBe(formatDuration(ns));
      }),
    );
  });
});
