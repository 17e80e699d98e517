// switch and broker outputs through YAML, with named test outputs that record what they get.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchingSchema } from '../../../src/engine/batching.js';
import { defineOutput } from '../../../src/engine/component.js';
import switchOutput from '../../../src/components/outputs/switch.js';
import { Message } from '../../../src/engine/message.js';
import { buildOutput, writeOutcome } from '../../support/outputs.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

/** Named outputs: what each received, and how many of its next writes fail. */
function taps() {
  const got = new Map<string, unknown[]>();
  const failures = new Map<string, number>();
  const spec = defineOutput<{ name: string; fail: number }>({
    name: 'tap',
    summary: 'test output',
    schema: { type: 'object', additionalProperties: false, properties: { name: { type: 'string' }, fail: { type: 'integer', default: 0 }, batching: batchingSchema } },
    example: { name: 'x' },
    create: ({ name, fail }) => {
      failures.set(name, fail);
      return {
        connect: async () => {},
        async write(batch: readonly Message[]) {
          const left = failures.get(name) ?? 0;
          if (left > 0) {
            failures.set(name, left - 1);
            throw new Error(`${name} is down`);
          }
          got.set(name, [...(got.get(name) ?? []), ...batch.map((m) => m.json())]);
        },
        close: async () => {},
      };
    },
  });
  return { spec, got: (name: string) => got.get(name) ?? [] };
}

async function run(output: string, batches: unknown[][]) {
  const state = memoryState(batches);
  const t = taps();
  const { pipeline } = pipelineFromYaml(`input: { memory: {} }\noutput:\n${output}`, [...memoryComponents(state.input, state.output), t.spec]);
  const result = await pipeline.run(new AbortController().signal);
  return { ...t, acks: state.input.acks, result };
}

describe('switch output', () => {
  it('sends each message to the first passing case; continue goes on testing; no match is dropped (acked)', async () => {
    const { got, acks } = await run(
      `
  switch:
    cases:
      - check: 'kind = "a"'
        continue: true
        output: { tap: { name: a } }
      - check: this.kind == "a" || this.kind == "b"
        output: { tap: { name: ab } }
      - check: 'kind = "b"'
        output: { tap: { name: never } }
`,
      [[{ kind: 'a', n: 1 }, { kind: 'b', n: 2 }, { kind: 'c', n: 3 }]],
    );
    expect(got('a')).toEqual([{ kind: 'a', n: 1 }]);
    expect(got('ab')).toEqual([{ kind: 'a', n: 1 }, { kind: 'b', n: 2 }]);
    expect(got('never')).toEqual([]);
    expect(acks).toEqual(['ok']);
  });

  it('strict_mode fails a message matching no case back to its input (to send again), delivering the rest', async () => {
    const t = taps();
    const output = buildOutput(switchOutput, { strict_mode: true, cases: [{ check: 'kind = "a"', output: { tap: { name: 'a' } } }] }, [t.spec]);
    const a = Message.fromJSON({ kind: 'a' });
    const c = Message.fromJSON({ kind: 'c' });
    const outcome = await writeOutcome(output, [a, c]);
    expect(outcome).toMatchObject({ delivered: false, retry: [c], givenUp: [], reason: 'no switch output conditions were met' });
    expect(t.got('a')).toEqual([{ kind: 'a' }]);
    await output.close();
  });

  it('retry_until_success retries a failed case alone; without it the failure goes back to the input', async () => {
    const retried = await run(
      `
  switch:
    retry_until_success: true
    cases:
      - output: { tap: { name: flaky, fail: 2 } }
        continue: true
      - output: { tap: { name: steady } }
`,
      [[{ n: 1 }]],
    );
    expect(retried.got('flaky')).toEqual([{ n: 1 }]);
    // Written once: the engine did not replay the batch to every case.
    expect(retried.got('steady')).toEqual([{ n: 1 }]);
    expect(retried.acks).toEqual(['ok']);

    const replayed = await run(
      `
  switch:
    cases:
      - output: { tap: { name: flaky, fail: 1 } }
        continue: true
      - output: { tap: { name: steady } }
`,
      [[{ n: 1 }]],
    );
    expect(replayed.got('flaky')).toEqual([{ n: 1 }]);
    // The engine replayed the batch: the steady case got it twice.
    expect(replayed.got('steady')).toEqual([{ n: 1 }, { n: 1 }]);
    expect(replayed.acks).toEqual(['ok']);
  });
});

describe('broker output', () => {
  it('fan_out delivers every message to every output, a failing one retried alone (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer(), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 }), async (batches, fail) => {
        const { got, acks } = await run(
          `
  broker:
    pattern: fan_out
    outputs: [ { tap: { name: one } }, { tap: { name: two, fail: ${fail} } }, { tap: { name: three } } ]
`,
          batches,
        );
        const all = batches.flat();
        for (const name of ['one', 'two', 'three']) expect([...got(name)].sort()).toEqual([...all].sort());
        expect(acks.every((a) => a === 'ok')).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it('fan_out_sequential writes each output in order; round_robin alternates; greedy delivers each batch once', async () => {
    const seq = await run(`  broker: { pattern: fan_out_sequential, outputs: [ { tap: { name: one } }, { tap: { name: two } } ] }`, [[1], [2]]);
    expect(seq.got('one')).toEqual([1, 2]);
    expect(seq.got('two')).toEqual([1, 2]);
    const rr = await run(`  broker: { pattern: round_robin, outputs: [ { tap: { name: one } }, { tap: { name: two } } ] }`, [[1], [2], [3], [4]]);
    expect(rr.got('one')).toEqual([1, 3]);
    expect(rr.got('two')).toEqual([2, 4]);
    const greedy = await run(`  broker: { pattern: greedy, outputs: [ { tap: { name: one } }, { tap: { name: two } } ] }`, [[1], [2], [3]]);
    expect([...greedy.got('one'), ...greedy.got('two')].sort()).toEqual([1, 2, 3]);
  });

  it('copies repeats the outputs: fan_out over two copies of one output writes each message twice', async () => {
    const { got } = await run(`  broker: { pattern: fan_out, copies: 2, outputs: [ { tap: { name: one } } ] }`, [[1], [2]]);
    expect([...got('one')].sort()).toEqual([1, 1, 2, 2]);
  });

  it('batching at the broker groups messages before every output; children keep their processors', async () => {
    const { got } = await run(
      `
  broker:
    outputs:
      - tap: { name: raw }
      - tap: { name: mapped }
        processors: [ { mapping: '{ "sum": $sum($) }' } ]
    batching: { count: 2, processors: [ { archive: { format: json_array } } ] }
`,
      [[1], [2], [3], [4]],
    );
    expect(got('raw')).toEqual([[1, 2], [3, 4]]);
    expect(got('mapped')).toEqual([{ sum: 3 }, { sum: 7 }]);
  });
});
