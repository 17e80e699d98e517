// The specialised call sites and comparisons of the compiler (src/mapping/compiler/sites.ts and
// the fast paths the emitter picks): over random arguments and documents each must give exactly
// the interpreter's result, or hand the input over to it (never a different result).
import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { compileToJavaScript } from '../../src/mapping/compiler.js';

type Outcome = { ok: true; json: string; undefined: boolean } | { ok: false };

async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    const value = await run();
    return { ok: true, json: JSON.stringify(value), undefined: value === undefined };
  } catch {
    return { ok: false };
  }
}

/**
 * The compiled result of `expression` over `input` against the interpreter's; true when the
 * compiled code answered (false: it handed over, which is always allowed).
 */
async function sameAsInterpreter(expression: string, input: unknown): Promise<boolean> {
  const compilation = compileToJavaScript(jsonata(expression).ast());
  expect(compilation.ok, expression).toBe(true);
  if (!compilation.ok) return false;
  const got = await outcome(() => compilation.evaluate(structuredClone(input), {}));
  if (!got.ok) return false;
  const want = await outcome(() => jsonata(expression).evaluate(structuredClone(input)));
  expect(want.ok ? want.json : 'the interpreter fails', expression).toBe(got.json);
  expect(want.ok && want.undefined, expression).toBe(got.undefined);
  return true;
}

const INPUT = { s: 'GPU_X', n: 3, strs: ['GPU_A', 'x', 'GPX'], o: { GPU_1: 1, CPU: 2 } };
/** Argument expressions of every kind: values, nothing, sequences, arrays, functions. */
// Paths of field names (after a variable too) are read in the call's own code (inline.ts callSite()).
const VALUES = ['1', '"a"', 'nothing', 'true', 'null', '[1, 2]', '[]', 'strs', 'o', 'n', 'function($x) { $x }', '$string', '(1; 2)', 'o.GPU_1', 'strs.x', '$$.n', '$$.o.CPU'];

describe('a call of a lambda bound to a variable', () => {
  it('binds its parameters to the arguments (none, fewer or more than its parameters) as the interpreter', async () => {
    let answered = 0;
    const call = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.array(fc.constantFrom(...VALUES), { maxLength: 4 }), fc.boolean());
    await fc.assert(
      fc.asyncProperty(call, async ([params, args, shadow]) => {
        const names = Array.from({ length: params }, (_, i) => `$p${i}`);
        // An outer binding of a parameter's name: an unfilled parameter still hides it.
        const outer = shadow ? '$p1 := "outer"; ' : '';
        const expression = `(${outer}$f := function(${names.join(', ')}) { [${names.join(', ')}] }; $f(${args.join(', ')}))`;
        if (await sameAsInterpreter(expression, INPUT)) answered++;
      }),
      { numRuns: 400 },
    );
    expect(answered).toBeGreaterThan(200);
  });
});

describe('a prefix test `$substring(text, 0, n) = "literal"`', () => {
  const texts = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom('GPU', 'GPU_X', 'GP', 'G', '', '😀GPU', 'GP😀', 'GPU😀', '\ud800GPU', 'gpu'),
  );
  const literals = fc.oneof(fc.constantFrom('GPU', 'GP', 'G', '', 'GPU_X', 'GPU😀', 'x"y\\z'), fc.string({ maxLength: 4 }));
  /** The text as a field of the document, or a value that is no string (the validator rejects it) or nothing. */
  const values = fc.oneof({ weight: 6, arbitrary: texts }, { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 12, true, null, ['GPU'], { a: 1 }) });

  it('is the interpreter’s comparison for any text, length and literal, either way round and with !=', async () => {
    let answered = 0;
    const cases = fc.tuple(values, fc.integer({ min: 1, max: 6 }), literals, fc.constantFrom('=', '!='), fc.boolean());
    await fc.assert(
      fc.asyncProperty(cases, async ([text, n, literal, op, swapped]) => {
        const call = `$substring(t, 0, ${n})`;
        const expression = swapped ? `${JSON.stringify(literal)} ${op} ${call}` : `${call} ${op} ${JSON.stringify(literal)}`;
        if (await sameAsInterpreter(expression, text === undefined ? {} : { t: text })) answered++;
      }),
      { numRuns: 2_000 },
    );
    expect(answered).toBeGreaterThan(1_500);
  });

  it('is the interpreter’s comparison for every pairing of delicate texts and literals (surrogates, shorter, longer)', async () => {
    const texts = ['GPU', 'GPU_X', 'GP', '', '😀GPU', 'GP😀', 'GPU😀', 'GPU😀x', '\ud800GPU', 'GPU\udc00'];
    const literals = ['GPU', 'GP', '', 'GPU_X', 'GPU😀', '😀', 'GP\ud800'];
    for (const text of texts) {
      for (const literal of literals) {
        for (let n = 1; n <= 6; n++) {
          expect(await sameAsInterpreter(`$substring(t, 0, ${n}) = ${JSON.stringify(literal)}`, { t: text })).toBe(true);
          expect(await sameAsInterpreter(`${JSON.stringify(literal)} != $substring(t, 0, ${n})`, { t: text })).toBe(true);
        }
      }
    }
  });

  it('filters strings as the interpreter, and follows a binding that replaces $substring', async () => {
    const expression = '$keys(o)[$substring($, 0, 3) = "GPU"]';
    expect(await sameAsInterpreter(expression, { o: { GPU_A: 1, CPU: 2, GPU: 3, G: 4 } })).toBe(true);
    const compilation = compileToJavaScript(jsonata(expression).ast());
    if (!compilation.ok) throw new Error(compilation.reason);
    const substring = (text: string) => text.slice(-3);
    const input = { o: { x_GPU: 1, GPU_B: 2 } };
    expect(await jsonata(expression).evaluate(input, { substring })).toEqual('x_GPU');
    expect(compilation.evaluate(input, { substring })).toEqual('x_GPU');
  });
});

// Array and object constructors are generated per constructor (paths.ts arrayBuilder(),
// objectBuilder()): every kind of item, and keys whose values are nothing, over one input or an array.
describe('constructors generated per constructor', () => {
  // Paths of field names are read in the object constructor's own code (paths.ts NAME_PATHS): over
  // objects, arrays, inherited names and nothing.
  const VALUES = ['1', '"a"', 'nothing', '[1, 2]', '[]', '[[1]]', 'strs', 'o', 'strs[0]', '[1..2]', '$count(strs)', 'null', 'o.*', 'o.GPU_1', 'o.CPU.x', 'strs.x', 'o.constructor', 'toString', 'o.a'];
  /** Array items: any value, and ranges (only an array constructor's items may be ranges). */
  const ITEMS = [...VALUES, '1..3', '1..40', '5..3', 'n..4'];
  const DOCUMENTS: unknown[] = [INPUT, [INPUT, { strs: ['q'], o: { a: 1 } }], { strs: 'one' }, [], { o: [{ a: 1 }, { a: [2, 3] }], strs: [{ x: 1 }, { x: 2 }] }, { o: Object.create({ a: 'inherited', GPU_1: 'p' }) }];

  it('an array constructor of any items, alone or as a path step, as the interpreter', async () => {
    let answered = 0;
    const cases = fc.tuple(fc.array(fc.constantFrom(...ITEMS), { maxLength: 5 }), fc.constantFrom('', 'o.', '$.'), fc.constantFrom(...DOCUMENTS));
    await fc.assert(
      fc.asyncProperty(cases, async ([items, prefix, input]) => {
        if (await sameAsInterpreter(`${prefix}[${items.join(', ')}]`, input)) answered++;
      }),
      { numRuns: 500 },
    );
    expect(answered).toBeGreaterThan(300);
  });

  it('an object constructor with literal keys (values of every kind, nothing among them) over an object or an array, as the interpreter', async () => {
    let answered = 0;
    const keys = fc.uniqueArray(fc.constantFrom('a', 'b', 'constructor', 'toString', '1', 'x y', '"q"'), { maxLength: 4 });
    const cases = fc.tuple(keys, fc.array(fc.constantFrom(...VALUES), { minLength: 4, maxLength: 4 }), fc.constantFrom(...DOCUMENTS));
    await fc.assert(
      fc.asyncProperty(cases, async ([names, values, input]) => {
        const pairs = names.map((name, i) => `${JSON.stringify(name)}: ${values[i]}`);
        if (await sameAsInterpreter(`{${pairs.join(', ')}}`, input)) answered++;
      }),
      { numRuns: 500 },
    );
    expect(answered).toBeGreaterThan(300);
  });
});
