// A compiled expression that throws is evaluated again by the interpreter; after a streak of such
// hand-overs the compiled form is skipped for a while (FallbackGate). These tests hold the gate to
// its contract and check that skipping never changes what a mapping returns or reports.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Message } from '../../src/engine/message.js';
import { FallbackGate } from '../../src/mapping/compiler.js';
import { compileExpression } from '../../src/mapping/environment.js';

/** Drives a gate through `outcomes` (true: the compiled form succeeds when tried); returns which evaluations tried it. */
function drive(outcomes: readonly boolean[]): boolean[] {
  const gate = new FallbackGate();
  return outcomes.map((succeeds) => {
    if (!gate.tryCompiled()) return false;
    if (succeeds) gate.succeeded();
    else gate.handedOver();
    return true;
  });
}

describe('FallbackGate', () => {
  it('skips the compiled form only after STREAK hand-overs in a row, never longer than SKIP_MAX, and tries it right after a success', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 3000 }), fc.integer({ min: 1, max: 20 }), (pattern, repeat) => {
        const outcomes = pattern.flatMap((b) => Array<boolean>(repeat).fill(b));
        const tried = drive(outcomes);
        let streak = 0;
        let skipped = 0;
        for (let i = 0; i < outcomes.length; i++) {
          if (!tried[i]) {
            // A skip starts only once the attempts before it all handed over, STREAK of them at least.
            expect(streak).toBeGreaterThanOrEqual(FallbackGate.STREAK);
            skipped++;
            expect(skipped).toBeLessThanOrEqual(FallbackGate.SKIP_MAX);
            continue;
          }
          skipped = 0;
          if (outcomes[i]) {
            streak = 0;
            // A success: the next evaluation tries the compiled form again.
            if (i + 1 < outcomes.length) expect(tried[i + 1]).toBe(true);
          } else streak++;
        }
      }),
    );
  });

  it('tries an expression that always fails about once per SKIP_MAX evaluations once it skips', () => {
    const tried = drive(Array<boolean>(100_000).fill(false)).filter(Boolean).length;
    // STREAK attempts, then one per skip: skips double from SKIP_FIRST up to SKIP_MAX.
    expect(tried).toBeGreaterThan(FallbackGate.STREAK);
    expect(tried).toBeLessThan(FallbackGate.STREAK + 10 + 100_000 / FallbackGate.SKIP_MAX);
  });

  it('never skips for failures scattered among successes', () => {
    const outcomes = Array.from({ length: 10_000 }, (_, i) => i % (FallbackGate.STREAK - 1) !== 0 || i % 2 === 0);
    expect(drive(outcomes).every(Boolean)).toBe(true);
  });
});

describe('a compiled mapping whose inputs it hands over', () => {
  // $substring of a number fails (T0410) in both forms; of a string, it succeeds.
  const source = '$substring(a, 1)';
  const compiled = compileExpression(source);
  const interpreted = compileExpression(source, { compile: false });
  const outcome = (p: Promise<unknown>) => p.then((value) => ({ value }), (err: Error) => ({ error: err.message }));

  it('returns and reports exactly what the interpreter does, through streaks of failures and after them', async () => {
    expect(compiled.compiled).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), fc.integer({ min: 1, max: 30 })), { maxLength: 30 }), async (runs) => {
        for (const [a, times] of runs) {
          for (let i = 0; i < times; i++) {
            const message = Message.fromJSON({ a });
            expect(await outcome(compiled.evaluate({ message, batch: [message], index: 0 }))).toEqual(await outcome(interpreted.evaluate({ message, batch: [message], index: 0 })));
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});
