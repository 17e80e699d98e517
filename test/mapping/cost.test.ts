// Issue 12 item 8: a compiled mapping costs kilobytes. The interpreter's expression (its parser's
// state and sluice's functions registered on it, ~30 KB) is only built for an expression that is
// not compiled, or when a compiled one first falls back to the interpreter.
import { describe, expect, it, vi } from 'vitest';

const registered = vi.hoisted(() => ({ count: 0 }));
vi.mock('jsonata', async (importOriginal) => {
  const real = ((await importOriginal()) as { default: (source: string) => { registerFunction: (...args: unknown[]) => void } }).default;
  const counting = (source: string) => {
    const expression = real(source);
    const register = expression.registerFunction.bind(expression);
    expression.registerFunction = (...args: unknown[]) => {
      registered.count++;
      register(...args);
    };
    return expression;
  };
  return { default: counting };
});

const { compileExpression } = await import('../../src/mapping/environment.js');

describe('what a mapping keeps', () => {
  it('a compiled expression builds no interpreter until it falls back to one, and then gives the same answers', async () => {
    registered.count = 0;
    const compiled = compileExpression('{"a": a + 1, "name": $uppercase(name)}');
    expect(compiled.compiled).toBe(true);
    expect(registered.count).toBe(0);
    expect(compiled.evaluateSync(undefined, { a: 1, name: 'x' })).toEqual({ a: 2, name: 'X' });
    expect(registered.count).toBe(0);
    // A failure is evaluated again by the interpreter, built then, for its exact error.
    await expect(Promise.resolve(compiled.evaluateSync(undefined, { a: 'one', name: 'x' }))).rejects.toThrow(/must be a number|left side|number/i);
    expect(registered.count).toBeGreaterThan(0);

    registered.count = 0;
    const interpreted = compileExpression('{"a": a + 1}', { compile: false });
    expect(interpreted.compiled).toBe(false);
    expect(registered.count).toBeGreaterThan(0);
    expect(await interpreted.evaluate(undefined, { a: 1 })).toEqual({ a: 2 });
  });
});
