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
const VALUES = ['1', '"a"', 'nothing', 'true', 'null', '[1, 2]', '[]', 'strs', 'o', 'n', 'function($x) { $x }', '$string', '(1; 2)'];

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
