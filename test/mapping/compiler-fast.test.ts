// The compiler's faster twins of $round, $substring and $string (src/mapping/compiler/fast.ts)
// must return exactly what JSONata's own implementations return, or throw where they throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastRound, fastString, fastSubstring } from '../../src/mapping/compiler/fast.js';
import { DEFINITIONS } from '../../src/mapping/compiler/functions.js';

type Impl = (...args: any[]) => unknown;
const original = (name: string): Impl => DEFINITIONS[name]!.implementation as Impl;

/** The result, or 'throws <code>' (JSONata throws plain objects with a code). */
function outcome(fn: Impl, ...args: unknown[]): unknown {
  try {
    return fn(...args);
  } catch (err) {
    return `throws ${(err as { code?: string }).code ?? String(err)}`;
  }
}
function expectSame(a: Impl, b: Impl, ...args: unknown[]): void {
  const want = outcome(a, ...args);
  const got = outcome(b, ...args);
  // Object.is: -0 and 0 differ, NaN equals NaN.
  expect(Object.is(got, want) ? 'same' : { args, want, got }).toBe('same');
}

// Numbers where rounding is delicate: decimal halves (1.005, 2.675), exact binary halves, tiny and huge.
const halves = fc
  .tuple(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 9 }))
  .map(([digits, places]) => Number(`${digits}5e-${places + 1}`));
const numbers = fc.oneof(
  fc.double({ noNaN: false }),
  halves,
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 8),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(0, -0, 0.5, -0.5, 1.5, 2.5, 1.005, 2.675, 1e21, -1e-7, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, NaN),
);

describe('compiled built-ins equal to JSONata’s', () => {
  it('$round for every number and precision', () => {
    const round = fastRound(original('round'));
    fc.assert(
      fc.property(numbers, fc.oneof(fc.integer({ min: -3, max: 18 }), fc.constantFrom(undefined, 1.5, NaN)), (arg, precision) => {
        expectSame(original('round'), round, arg, precision);
      }),
      { numRuns: 20_000 },
    );
  });

  it('$string for numbers, booleans, null, strings and objects', () => {
    const string = fastString(original('string'));
    fc.assert(
      fc.property(fc.oneof(numbers, fc.boolean(), fc.constant(null), fc.string(), fc.jsonValue(), fc.constant(undefined)), fc.boolean(), (arg, prettify) => {
        expectSame(original('string'), string, arg, prettify);
      }),
      { numRuns: 10_000 },
    );
  });

  it('$substring for any string (surrogate pairs and lone surrogates too), start and length', () => {
    const substring = fastSubstring(original('substring'));
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('a\uD800b', '😀ab😀', ''));
    const index = fc.oneof(fc.integer({ min: -12, max: 12 }), fc.double({ min: -12, max: 12 }), fc.constantFrom(NaN, Infinity, -Infinity));
    fc.assert(
      fc.property(text, index, fc.option(index, { nil: undefined }), (str, start, length) => {
        expectSame(original('substring'), substring, str, start, length);
      }),
      { numRuns: 20_000 },
    );
  });
});
