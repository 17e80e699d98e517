// switch, split, noop and unarchive (json_array, lines) through YAML, as the quickstart uses them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

/** Runs `processors` (YAML list items) over the batches; returns what the output was handed, batch by batch. */
async function run(processors: string, batches: unknown[][]) {
  const state = memoryState(batches);
  const { pipeline } = pipelineFromYaml(
    `
input: { memory: {} }
pipeline:
  threads: 1
  processors:
${processors}
output: { memory: {} }
`,
    memoryComponents(state.input, state.output),
  );
  await pipeline.run(new AbortController().signal);
  return { writes: state.output.writes, acks: state.input.acks };
}

describe('switch processor', () => {
  it('runs the first passing case only; no match passes unchanged; order kept', async () => {
    const { writes } = await run(
      `
    - switch:
        - check: 'type = "a"'
          processors: [ { mapping: '$merge([$, { "case": 0 }])' } ]
        - check: 'this.type == "b"'
          processors: [ { mapping: 'root = this.merge({ "case": 1 })' } ]
        - check: 'type = "a" or type = "b"'
          processors: [ { mapping: '$merge([$, { "case": 2 }])' } ]
`,
      [[{ type: 'a' }, { type: 'c' }, { type: 'b' }, { type: 'a' }]],
    );
    expect(writes.flat().map((m) => m.json())).toEqual([{ type: 'a', case: 0 }, { type: 'c' }, { type: 'b', case: 1 }, { type: 'a', case: 0 }]);
  });

  it('each message goes through exactly one case, and the batch keeps its order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 }), async (ks) => {
        const { writes } = await run(
          `
    - switch:
        - check: 'k = 0'
          processors: [ { mapping: '$merge([$, { "c": 0 }])' } ]
        - check: 'k = 1'
          processors: [ { mapping: '$merge([$, { "c": 1 }])' }, { mapping: '$merge([$, { "twice": true }])' } ]
        - processors: [ { mapping: '$merge([$, { "c": 2 }])' } ]
`,
          [ks.map((k, i) => ({ k, i }))],
        );
        expect(writes.flat().map((m) => m.json())).toEqual(ks.map((k, i) => ({ k, i, c: Math.min(k, 2), ...(k === 1 ? { twice: true } : {}) })));
      }),
      { numRuns: 20 },
    );
  });

  it('an empty check always passes (the default case)', async () => {
    const { writes } = await run(
      `
    - switch:
        - check: 'n > 1'
          processors: [ { mapping: '"big"' } ]
        - processors: [ { mapping: '"small"' } ]
`,
      [[{ n: 1 }, { n: 2 }]],
    );
    expect(writes.flat().map((m) => m.json())).toEqual(['small', 'big']);
  });

  it('fallthrough runs the next case on what this case produced, without its check', async () => {
    const { writes } = await run(
      `
    - switch:
        - check: 'n = 1'
          fallthrough: true
          processors: [ { mapping: '{ "n": n, "steps": ["first"] }' } ]
        - check: 'false'
          processors: [ { mapping: '{ "n": n, "steps": $append(steps, "second") }' } ]
`,
      [[{ n: 1 }, { n: 2 }]],
    );
    expect(writes.flat().map((m) => m.json())).toEqual([{ n: 1, steps: ['first', 'second'] }, { n: 2 }]);
  });

  it('a check that fails flags the message, which passes on without further cases', async () => {
    const { writes } = await run(
      `
    - switch:
        - check: '$error("boom")'
          processors: [ { mapping: '"matched"' } ]
        - processors: [ { mapping: '"default"' } ]
`,
      [[{ n: 1 }]],
    );
    const [m] = writes.flat();
    expect(m?.json()).toEqual({ n: 1 });
    expect(m?.error?.message).toMatch(/boom/);
  });

  it("routes OpenMeter's quickstart content types (Bloblang checks) to unarchive and noop; deleted() filters", async () => {
    // Metadata is set by a first mapping, as the http_server input would.
    const { writes, acks } = await run(
      `
    - mapping: { meta: { Content-Type: 'ct' }, expression: 'body' }
    - switch:
        - check: meta("Content-Type").lowercase() == "application/cloudevents-batch+json"
          processors:
            - unarchive: { format: json_array }
        - check: meta("Content-Type").lowercase() == "application/cloudevents+json"
          processors:
            - noop: {}
        - check: ""
          processors:
            - mapping: "root = deleted()"
`,
      [
        [
          { ct: 'Application/CloudEvents-Batch+JSON', body: [{ id: '1' }, { id: '2' }] },
          { ct: 'application/cloudevents+json', body: { id: '3' } },
          { ct: 'text/plain', body: 'nope' },
        ],
      ],
    );
    expect(writes.flat().map((m) => m.json())).toEqual([{ id: '1' }, { id: '2' }, { id: '3' }]);
    expect(acks).toEqual(['ok']);
  });
});

describe('split', () => {
  it('breaks a batch into batches of `size`, preserving order and content (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer(), { maxLength: 30 }), fc.integer({ min: 1, max: 7 }), async (items, size) => {
        const { writes } = await run(`    - split: { size: ${size} }`, items.length > 0 ? [items] : []);
        expect(writes.flat().map((m) => m.json())).toEqual(items);
        expect(writes.every((w) => w.length <= size && w.length > 0)).toBe(true);
        expect(writes.length).toBe(Math.ceil(items.length / size));
      }),
      { numRuns: 40 },
    );
  });

  it('defaults to size 1, and byte_size caps each batch by bytes (whichever comes first)', async () => {
    const one = await run('    - split: {}', [[1, 2, 3]]);
    expect(one.writes.map((w) => w.length)).toEqual([1, 1, 1]);
    // A string body is its text: "aaaaa" is 5 bytes, two fit in 12, a body past 12 is a batch of its own.
    const bytes = await run('    - split: { size: 10, byte_size: 12 }', [['aaaaa', 'aaaaa', 'aaaaa', 'aaaaaaaaaaaaaaaaaaa', 'a']]);
    expect(bytes.writes.map((w) => w.map((m) => m.text()))).toEqual([['aaaaa', 'aaaaa'], ['aaaaa'], ['aaaaaaaaaaaaaaaaaaa'], ['a']]);
  });
});

describe('unarchive', () => {
  it('json_array: a message per element; lines: a message per non-empty line', async () => {
    const arr = await run('    - unarchive: { format: json_array }', [[[{ a: 1 }, 2, 'x']]]);
    expect(arr.writes.flat().map((m) => m.json())).toEqual([{ a: 1 }, 2, 'x']);
    const lines = await run(`    - mapping: '"one\\ntwo\\r\\n\\nthree"'\n    - unarchive: { format: lines }`, [[null]]);
    expect(lines.writes.flat().map((m) => m.text())).toEqual(['one', 'two', 'three']);
  });
});
