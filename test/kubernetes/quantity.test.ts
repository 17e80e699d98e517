import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity, quantityToNumber, QuantityError, type Quantity } from '../../src/kubernetes/quantity.js';
import { compileExpression } from '../../src/mapping/environment.js';

/** The value as `<mantissa>e<exponent>` with trailing zeros moved to the exponent, "0" for zero. */
function normalized(q: Quantity): string {
  if (q.unscaled === 0n) return '0';
  let mantissa = q.unscaled;
  let exponent = -q.scale;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  return `${mantissa}e${exponent}`;
}

describe('parseQuantity', () => {
  it('reads the documented forms, and prints them as Kubernetes AsDec().String() does', () => {
    const cases: [string, string, number][] = [
      ['500m', '0.500', 0.5],
      ['2Gi', '2147483648', 2147483648],
      ['1.5', '1.5', 1.5],
      ['1e3', '1000', 1000],
      ['100Ki', '102400', 102400],
      ['+1', '1', 1],
      ['-1', '-1', -1],
      ['0', '0', 0],
      ['0.000', '0.000', 0],
      ['1.', '1', 1],
      ['.5', '0.5', 0.5],
      ['250u', '0.000250', 0.00025],
      ['1n', '0.000000001', 1e-9],
      ['1E', '1000000000000000000', 1e18],
      ['1E3', '1000', 1000],
      ['1e-3', '0.001', 0.001],
      ['1e+3', '1000', 1000],
      ['-500m', '-0.500', -0.5],
      // The general path: rounded to nano, printed at scale 9.
      ['1.5Gi', '1610612736.000000000', 1610612736],
      ['0.1n', '0.000000001', 1e-9],
      ['-0.1n', '-0.000000001', -1e-9],
      ['12345678901234567890', '12345678901234567890.000000000', 12345678901234567890],
      ['8Ei', '9223372036854775807', 9223372036854775807],
    ];
    for (const [text, printed, value] of cases) {
      const q = parseQuantity(text);
      expect(formatQuantity(q), text).toBe(printed);
      expect(quantityToNumber(q), text).toBe(value);
    }
  });

  // A sample of Kubernetes' own decode corpus: ParseQuantity of each input, as
  // `<mantissa>e<exponent>` or an error (kubernetes/kubernetes
  // staging/src/k8s.io/apimachinery/pkg/api/resource/testdata/quantity_decode_corpus.json,
  // Apache-2.0). Inputs marked "hang" there (Kubernetes never returns) are tested below.
  it('agrees with Kubernetes decode corpus', () => {
    const corpus: [string, string][] = [
      ['', 'err'],
      ['n', '0'],
      ['Ki', '0'],
      ['Ti', '0'],
      ['Pi', 'err'],
      ['Ei', 'err'],
      ['E3', '0'],
      ['e-9', '0'],
      ['e-10', 'err'],
      ['e-2147483649', '0'],
      ['e-2147483648', 'err'],
      ['e2147483648', 'err'],
      ['e4294967296', '0'],
      ['.', '0'],
      ['.Ti', '0'],
      ['.Pi', 'err'],
      ['.e-9', '0'],
      ['.e-10', 'err'],
      ['0Pi', '0'],
      ['0e-10', '0'],
      ['0.0e-2147483648', '0'],
      ['01', '1e0'],
      ['01Ei', '1152921504606846976e0'],
      ['01e03', '1e3'],
      ['1e-4294967297', '1e-1'],
      ['1e-4294967296', '1e0'],
      ['1e-2147483649', '1e2147483647'],
      ['1e-1000', '1e-9'],
      ['1e-10', '1e-9'],
      ['1e2147483647', '1e2147483647'],
      ['1e4294967297', '1e1'],
      ['1e8589934592', '1e0'],
      ['5Ki', '512e1'],
      ['5e-10', '1e-9'],
      ['7Ei', '8070450532247928832e0'],
      ['7Ti', '7696581394432e0'],
      ['-9223372036854775806Ki', '-9223372036854775807e0'],
      ['-9223372036854775806e-19', '-922337204e-9'],
      ['-9223372036854775806e-18', '-9223372037e-9'],
      ['-9223372036854775806e-10', '-922337203685477581e-9'],
      ['-9223372036854775806e1000', '-9223372036854775806e1000'],
      ['-9223372036854775806e4294967295', '-9223372036854775806e-1'],
      ['-9223372036854775808', '-9223372036854775808e0'],
      ['-9223372036854775808E', '-9223372036854775808e18'],
      ['-9223372036854775808e-1000', '-1e-9'],
      ['-18446744073709551615', '-18446744073709551615e0'],
      ['-18446744073709551615Ei', '-9223372036854775807e0'],
      ['-18446744073709551615e-10', '-1844674407370955162e-9'],
      ['-9223372036854776e330', '-9223372036854776e330'],
      ['+999999999999999999e2147483647', '999999999999999999e2147483647'],
      ['+1000000000000000000', '1e18'],
      ['+1000000000000000000n', '1e9'],
      ['+1000000000000000000Ki', '9223372036854775807e0'],
      ['+1000000000000000000e-19', '1e-1'],
      ['+1000000000000000000e1000', '1e1018'],
      ['+100000000000000000000e-4294967297', '1e19'],
      ['+9223372036854775e-19', '922338e-9'],
      ['+9223372036854775e-10', '922337203685478e-9'],
      ['+9223372036854775e-2147483649', '9223372036854775e2147483647'],
      ['+9223372036854775Ki', '9223372036854775807e0'],
    ];
    for (const [text, expected] of corpus) {
      if (expected === 'err') {
        expect(() => parseQuantity(text), JSON.stringify(text)).toThrow(QuantityError);
      } else {
        expect(normalized(parseQuantity(text)), JSON.stringify(text)).toBe(expected);
      }
    }
  });

  it('never hangs where Kubernetes does: a huge value is refused, a tiny one rounds up to 1n', () => {
    const started = Date.now();
    for (const text of ['1e2147483648', '01e-2147483648', '-9223372036854775806e-2147483649', '+1000000000000000000e2147483647']) {
      expect(() => parseQuantity(text), text).toThrow(/exponent out of range/);
    }
    expect(normalized(parseQuantity('+1000000000000000000e-2147483000'))).toBe('1e-9');
    expect(normalized(parseQuantity('-18446744073709551615e-2147483630'))).toBe('-1e-9');
    expect(Date.now() - started).toBeLessThan(5_000);
    // An exact but astronomically large value parses; it is too long to print and beyond a double.
    const huge = parseQuantity('1e2147483647');
    expect(() => formatQuantity(huge)).toThrow(RangeError);
    expect(quantityToNumber(huge)).toBe(Infinity);
  });

  it('refuses what Kubernetes refuses, with its reason', () => {
    const cases: [string, RegExp][] = [
      ['1.5.5', /must match the regular expression/],
      [' 1', /must match the regular expression/],
      ['1 ', /must match the regular expression/],
      ['1_000', /must match the regular expression/],
      ['0x10', /must match the regular expression/],
      ['1e3.5', /must match the regular expression/],
      ['1K', /suffix/],
      ['1ki', /suffix/],
      ['1e', /suffix/],
      ['1Ki5', /suffix/],
      ['--1', /suffix/],
      ['1e9223372036854775808', /suffix/],
      ['+Pi', /numeric part/],
    ];
    for (const [text, reason] of cases) {
      expect(() => parseQuantity(text), JSON.stringify(text)).toThrow(reason);
      expect(() => parseQuantity(text)).toThrow(`invalid quantity ${JSON.stringify(text)}`);
    }
  });

  // The rules in the Quantity docs (quantity.go): the grammar; binarySI is 2^(10k), decimalSI and
  // exponents are powers of ten; a decimal value is exact, a binarySI one capped at 2^63-1; values
  // are kept down to nano, a finer non-zero value rounded away from zero. Exponents are integers:
  // Kubernetes' scanner refuses a fractional one although the grammar's <signedNumber> allows it.
  const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
  const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
  const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
  const number = fc.oneof(
    digits(1, 24).map((i) => ({ text: i, int: i, frac: '' })),
    fc.tuple(digits(1, 12), digits(1, 14)).map(([i, f]) => ({ text: `${i}.${f}`, int: i, frac: f })),
    digits(1, 12).map((i) => ({ text: `${i}.`, int: i, frac: '' })),
    digits(1, 14).map((f) => ({ text: `.${f}`, int: '', frac: f })),
  );
  const suffix = fc.oneof(
    fc.constantFrom(...Object.keys(DECIMAL)).map((s) => ({ text: s, base: 10n, exponent: DECIMAL[s]! })),
    fc.constantFrom(...Object.keys(BINARY)).map((s) => ({ text: s, base: 2n, exponent: BINARY[s]! })),
    fc
      .tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 40 }), fc.constantFrom('', '0'))
      .map(([e, sign, n, pad]) => ({ text: `${e}${sign}${pad}${n}`, base: 10n, exponent: sign === '-' ? -n : n })),
  );
  const quantity = fc.record({ sign: fc.constantFrom('', '+', '-'), number, suffix });
  const MAX = 2n ** 63n - 1n;

  it('gives every string of the grammar the exact value the documented rules define', () => {
    fc.assert(
      fc.property(quantity, ({ sign, number, suffix }) => {
        const text = `${sign}${number.text}${suffix.text}`;
        // value = numerator / denominator, exactly.
        let numerator = BigInt(number.int + number.frac || '0');
        let denominator = 10n ** BigInt(number.frac.length);
        const power = suffix.base ** BigInt(Math.abs(suffix.exponent));
        if (suffix.exponent >= 0) numerator *= power;
        else denominator *= power;
        if (suffix.base === 2n && numerator > MAX * denominator) {
          numerator = MAX;
          denominator = 1n;
        }
        const nanos = (numerator * 10n ** 9n + denominator - 1n) / denominator; // rounded away from zero
        const expected = sign === '-' ? -nanos : nanos;
        const q = parseQuantity(text);
        // unscaled × 10^-scale × 10^9 = expected, compared without a fraction.
        const scale = BigInt(q.scale);
        const left = q.unscaled * 10n ** 9n * (scale < 0n ? 10n ** -scale : 1n);
        expect(left, text).toBe(expected * (scale > 0n ? 10n ** scale : 1n));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips: the printed text parses back to the same value and prints the same', () => {
    fc.assert(
      fc.property(quantity, ({ sign, number, suffix }) => {
        const q = parseQuantity(`${sign}${number.text}${suffix.text}`);
        const printed = formatQuantity(q);
        expect(normalized(parseQuantity(printed))).toBe(normalized(q));
        expect(quantityToNumber(q)).toBe(Number(printed));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses any string with a character outside the grammar', () => {
    const alphabet = '0123456789.+-eEinumkKMGTP';
    fc.assert(
      fc.property(
        quantity.map(({ sign, number, suffix }) => `${sign}${number.text}${suffix.text}`),
        fc.nat(),
        fc.constantFrom(' ', 'x', '_', ',', '/', 'é', '\n', 'Z', '∞', '\u0000'),
        (text, at, foreign) => {
          expect(alphabet.includes(foreign)).toBe(false);
          const i = at % (text.length + 1);
          expect(() => parseQuantity(text.slice(0, i) + foreign + text.slice(i))).toThrow(QuantityError);
        },
      ),
    );
  });
});

describe('$resource_quantity', () => {
  const run = (expression: string, input: unknown) => compileExpression(expression).evaluate(undefined, input);

  it('turns quantities into numbers; "" is 0 and a missing field stays missing', async () => {
    expect(await run('$resource_quantity(cpu)', { cpu: '500m' })).toBe(0.5);
    expect(await run('$resource_quantity(memory)', { memory: '2Gi' })).toBe(2 ** 31);
    expect(await run('$resource_quantity(cpu)', { cpu: '' })).toBe(0);
    expect(await run('$resource_quantity(cpu)', {})).toBeUndefined();
    expect(await run('$sum(containers.$resource_quantity(requests.cpu))', { containers: [{ requests: { cpu: '250m' } }, {}, { requests: { cpu: '1.5' } }] })).toBe(1.75);
  });

  it('fails the mapping with Kubernetes reason on an invalid quantity', async () => {
    await expect(run('$resource_quantity(cpu)', { cpu: '1 core' })).rejects.toThrow(/invalid quantity "1 core": quantities must match/);
    await expect(run('$resource_quantity(cpu)', { cpu: '1e400' })).rejects.toThrow(/beyond the range of a number/);
  });
});
