// The compiler's faster twins of $round, $substring, $string, $join, $keys and $type (src/mapping/compiler/fast.ts)
// must return exactly what JSONata's own implementations return, or throw where they throw; and
// built-ins called directly from compiled call sites must give the interpreter's results.
import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it, vi } from 'vitest';
import { compileToJavaScript } from '../../src/mapping/compiler.js';
import { fastJoin, fastKeys, fastRound, fastString, fastSubstring, fastType } from '../../src/mapping/compiler/fast.js';
import { DEFINITIONS, FOCUS_FREE, calleeTable } from '../../src/mapping/compiler/functions.js';
import { createSequence } from '../../src/mapping/compiler/runtime.js';

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

  it('$round of decimal halves at the precision that makes them halves (and around it)', () => {
    const round = fastRound(original('round'));
    for (let digits = -3000; digits <= 3000; digits += 7) {
      for (let places = 0; places < 8; places++) {
        const arg = Number(`${digits}5e-${places + 1}`);
        for (const precision of [places, places + 1, places + 2]) expectSame(original('round'), round, arg, precision);
      }
    }
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

  it('$join for arrays of strings (sequences too) and anything else, with any separator', () => {
    const join = fastJoin(original('join'));
    const sequence = (items: unknown[]) => Object.assign([...items], { sequence: true });
    const list = fc.oneof(
      fc.array(fc.string({ maxLength: 6 }), { maxLength: 6 }),
      fc.array(fc.string({ maxLength: 6 }), { maxLength: 6 }).map(sequence),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined)), { maxLength: 4 }),
      fc.constantFrom(undefined, 'abc', 5, null, [], [''], ['a', , 'b'], { 0: 'a', length: 1 }),
    );
    const separator = fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom(undefined, '', ',', 1, null, ['x']));
    fc.assert(
      fc.property(list, separator, (strs, sep) => {
        expectSame(original('join'), join, strs, sep);
      }),
      { numRuns: 10_000 },
    );
  });

  it('$keys of objects (integer-like and odd keys too), arrays, sequences, functions and anything else', () => {
    const focus = { createSequence };
    // The whole value as it is: its items, `sequence` flag and any other own property.
    const described = (fn: Impl, arg: unknown) => {
      try {
        const result = fn.call(focus, arg) as object;
        return typeof result === 'object' && result !== null ? Object.entries(Object.getOwnPropertyDescriptors(result)) : result;
      } catch (err) {
        return `throws ${String(err)}`;
      }
    };
    const keys = fastKeys(original('keys'));
    const object = fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('0', '10', '-1', '__proto__', 'sequence', 'length')), fc.jsonValue(), { maxKeys: 6 });
    const arg = fc.oneof(
      object,
      object.map((o) => Object.assign(Object.create(null), o)),
      fc.array(fc.oneof(object, fc.integer()), { maxLength: 3 }),
      fc.array(object, { maxLength: 3 }).map((items) => Object.assign(items, { sequence: true })),
      fc.constantFrom(undefined, null, 'abc', 5, true, [], { _jsonata_lambda: true, a: 1 }, { _jsonata_function: true }, () => 1),
    );
    fc.assert(
      fc.property(arg, (value) => {
        expect(described(keys, value)).toEqual(described(original('keys'), value));
      }),
      { numRuns: 5_000 },
    );
  });

  it('$type of numbers (NaN and infinities too), strings, booleans and anything else', () => {
    const type = fastType(original('type'));
    const arg = fc.oneof(numbers, fc.string(), fc.boolean(), fc.jsonValue(), fc.constantFrom(undefined, null, [], {}, () => 1, { _jsonata_lambda: true }, { _jsonata_function: true }));
    fc.assert(
      fc.property(arg, (value) => expectSame(original('type'), type, value)),
      { numRuns: 5_000 },
    );
  });
});

// A call of a built-in (or registered function) with arguments the validator would pass as they
// are calls the implementation directly from generated code (calls.ts directCall()); any other
// arguments go through JSONata's validator as before. Either way: the interpreter's result.
describe('direct calls of built-ins equal to the interpreter', () => {
  /** Argument expressions by signature symbol; paths give sequences, `nothing` nothing. */
  const BY_SYMBOL: Record<string, string[]> = {
    s: ['"abc"', '""', '"A b,c"', '"😀x"', '"2025-01-01T00:00:00Z"', '"#,##0.00"', '"12"', '"0x1F"', 's', 'items.name', 'strs[0]'],
    n: ['0', '1', '-2.5', '3.14159', '1e21', '2', '10', 'n', 'items.n', 'items[0].n'],
    b: ['true', 'false'],
    l: ['null'],
    a: ['[]', '["a", "b"]', '["x"]', '[1, 2, 3]', '[1, "a"]', '[[1], 2]', '[{"a": 1}, {"b": 2}]', 'items', 'strs', 'items.name', 'items.n'],
    o: ['{"a": 1, "b": "x"}', '{}', 'obj', 'items[0]', 'items'],
    f: ['function($v) { $v }', '$string', '$substring(?, 1)'],
    m: ['nothing'],
  };
  const ARGS = [...new Set(Object.values(BY_SYMBOL).flat())];
  /** An argument for a parameter: mostly of a type it takes, sometimes anything. */
  const argumentFor = (types: string) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...[...types].flatMap((symbol) => BY_SYMBOL[symbol] ?? []).concat(BY_SYMBOL.m!)) },
      { weight: 1, arbitrary: fc.constantFrom(...ARGS) },
    );
  const INPUT = { s: 'Hello, World', n: 42.5, items: [{ name: 'a', n: 1 }, { name: 'b', n: 2 }], obj: { k: [1, 2] }, strs: ['p', 'q'] };
  const NAMES = [...calleeTable({}).byName.values()].filter((native) => native.implementation !== undefined && native.name !== 'random' && native.name !== 'shuffle');

  async function outcome(run: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false }> {
    try {
      return { ok: true, value: await run() };
    } catch {
      return { ok: false };
    }
  }

  it('covers the built-ins with an implementation to call', () => {
    expect(NAMES.map((native) => native.name)).toEqual(expect.arrayContaining(['string', 'lowercase', 'round', 'substring', 'join', 'keys', 'type', 'exists']));
  });

  /**
   * Compares, over `runs` random calls of the built-ins (up to every parameter, each of its type
   * mostly, or one argument too many) written into an expression by `wrap`, the compiled result
   * with the interpreter's; returns how many calls the compiled code answered. A compiled failure
   * is handed to the interpreter, so only compiled results are compared.
   */
  async function compareCalls(wrap: (call: string) => string, runs: number): Promise<number> {
    let compared = 0;
    const calls = fc.constantFrom(...NAMES).chain((native) => {
      const params = native.params ?? [];
      return fc.tuple(fc.constant(native), fc.integer({ min: 0, max: params.length + 1 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, i) => argumentFor(params[i]?.types ?? 'snblaofm')))));
    });
    await fc.assert(
      fc.asyncProperty(calls, async ([native, args]) => {
        const expression = wrap(`$${native.name}(${args.join(', ')})`);
        const compilation = compileToJavaScript(jsonata(expression).ast());
        if (!compilation.ok) return;
        const want = await outcome(() => jsonata(expression).evaluate(structuredClone(INPUT)));
        const got = await outcome(() => compilation.evaluate(structuredClone(INPUT), {}));
        if (!got.ok) return;
        compared++;
        expect(want.ok ? JSON.stringify(want.value) : 'the interpreter fails', `${expression} (${native.name})`).toBe(JSON.stringify(got.value));
        expect(want.ok && Object.is(want.value, undefined)).toBe(Object.is(got.value, undefined));
      }),
      { numRuns: runs },
    );
    return compared;
  }

  it('for random arguments of every type, and of every count a signature allows', async () => {
    // Most calls give a result (the rest fail in both, or are handed over).
    expect(await compareCalls((call) => call, 6_000)).toBeGreaterThan(1_000);
  }, 120_000);

  // A built-in called from applyInner() (a lambda's tail call, a function passed to $map) checks its
  // arguments as a direct call does (Native.validate), and runs JSONata's validator only for the rest.
  it('called as a lambda’s tail call, for random arguments of every type and count', async () => {
    expect(await compareCalls((call) => `(function() { ${call} })()`, 3_000)).toBeGreaterThan(500);
  }, 120_000);

  it('a tail-called built-in runs JSONata’s validator only for arguments it must convert or reject', async () => {
    const validator = DEFINITIONS.substring!.signature as unknown as { validate: (...args: unknown[]) => unknown };
    const spy = vi.spyOn(validator, 'validate');
    try {
      const evaluate = (expression: string) => [...((compileToJavaScript(jsonata(expression).ast()) as { evaluate: (i: unknown, b: object) => unknown }).evaluate(structuredClone(INPUT), {}) as unknown[])];
      expect(evaluate('$map(strs, function($k) { $substring($k, 0, 1) })')).toEqual(['p', 'q']);
      expect(evaluate('$map(["ab", "cd"], $substring(?, 1))')).toEqual(['b', 'd']);
      expect(spy).not.toHaveBeenCalled();
      // A number is no string: the validator rejects it (T0410), and the interpreter reports it.
      expect(() => evaluate('$map([1], function($k) { $substring($k, 0, 1) })')).toThrow();
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  // A direct call of these passes no focus: were one to read `this`, it would throw and every call
  // would be handed over unnoticed by the differential tests above.
  it('calls without JSONata’s focus only built-ins whose source never reads `this`', () => {
    for (const name of FOCUS_FREE) {
      const source = DEFINITIONS[name]!.implementation.toString().replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(source, name).not.toMatch(/\bthis\b|\bsuper\b|\beval\b/);
      expect(calleeTable({}).byName.get(name)?.focusFree, name).toBe(true);
    }
    expect(calleeTable({}).byName.get('keys')?.focusFree).toBe(false);
  });

  it('a registered function gets JSONata’s focus as `this` and its arguments padded, directly or not', async () => {
    const implementation = function (this: { environment: { lookup(name: string): unknown } }, a: unknown, b?: unknown) {
      return { seen: this.environment.lookup('tag'), a, b: b === undefined ? 'none' : b, count: arguments.length };
    };
    const options = { functions: { probe: [implementation, '<s?n?:o>'] as const } };
    for (const expression of ['$probe("x", 2)', '$probe("x")', '$probe()', '$probe(s)', '$probe(n)', '$probe(items.name)', '$probe(nothing, 1)']) {
      const interpreted = jsonata(expression);
      interpreted.registerFunction('probe', implementation, '<s?n?:o>');
      const want = await outcome(() => interpreted.evaluate(structuredClone(INPUT), { tag: 'T' }));
      const compilation = compileToJavaScript(jsonata(expression).ast(), options);
      expect(compilation.ok).toBe(true);
      const got = await outcome(() => (compilation as { evaluate: (i: unknown, b: object) => unknown }).evaluate(structuredClone(INPUT), { tag: 'T' }));
      expect(got.ok ? JSON.stringify(got.value) : 'fails', expression).toBe(want.ok ? JSON.stringify(want.value) : 'fails');
    }
  });
});
