// Bloblang in pipelines: the `bloblang` processor, `mapping` detecting Bloblang, failures flagged
// as JSONata's are, `${! }` interpolations and batching `check:` in Bloblang.
import { describe, expect, it } from 'vitest';
import bloblang from '../../../src/components/processors/bloblang.js';
import mapping from '../../../src/components/processors/mapping.js';
import { Message } from '../../../src/engine/message.js';
import { compileInterpolation } from '../../../src/mapping/interpolation.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';
import { testSettings } from '../../support/settings.js';

describe('bloblang processor and mapping in Bloblang', () => {
  it('maps synchronously, sets metadata, drops deleted messages and keeps raw string bodies', () => {
    const processor = bloblang.create('meta seen = "yes"\nroot = if this.drop == true { deleted() } else if this.raw == true { "plain text" } else { {"n": this.n * 2} }', testSettings());
    const input = [{ n: 1 }, { drop: true }, { raw: true }].map((b) => Message.fromJSON(b, { in: 1 }));
    const result = processor.process(input);
    expect(result).not.toBeInstanceOf(Promise);
    const [batch] = result as Message[][];
    expect(batch!.map((m) => [m.text(), m.metadata])).toEqual([
      ['{"n":2}', { in: 1, seen: 'yes' }],
      ['plain text', { in: 1, seen: 'yes' }],
    ]);
  });

  it('detects Bloblang in mapping, notes it for lint, and lang: jsonata forces JSONata', () => {
    const notes: string[] = [];
    const settings = testSettings({ note: (message, options) => notes.push(`${options?.field ?? ''}: ${message}`) });
    const detected = mapping.create({ expression: 'root.n = this.n + 1' }, settings);
    const [batch] = detected.process([Message.fromJSON({ n: 1 })]) as Message[][];
    expect(batch![0]!.json()).toEqual({ n: 2 });
    expect(notes).toEqual(['expression: mapping detected as Bloblang (set lang: jsonata to read it as JSONata)']);
    const forced = mapping.create({ expression: '{ "n": n + 1 }', lang: 'jsonata' }, settings);
    expect((forced.process([Message.fromJSON({ n: 1 })]) as Message[][])[0]![0]!.json()).toEqual({ n: 2 });
    expect(() => mapping.create({ expression: 'root = this', lang: 'jsonata' }, settings)).not.toThrow();
    expect(notes).toHaveLength(1);
  });

  it('reports a syntax error with its line and column in the mapping', () => {
    let error: (Error & { line?: number; column?: number; field?: string }) | undefined;
    try {
      mapping.create({ expression: 'root = {\n  "time": ,\n}', lang: 'bloblang' }, testSettings());
    } catch (err) {
      error = err as typeof error;
    }
    expect(error?.message).toMatch(/^Bloblang syntax error at line 2, column 11: expected a value for key "time"/);
    expect([error?.line, error?.column, error?.field]).toEqual([2, 11, 'expression']);
  });

  it('flags a failing message and passes it on unchanged, as JSONata failures do; catch sees the error', async () => {
    const state = memoryState([[{ n: 1 }, { n: 'x' }, { n: 3 }]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline:
  processors:
    - mapping: 'root.n = this.n + 1'
    - catch:
        - mapping: |
            meta http_status_code = "400"
            root = { "detail": "invalid event: %s".format(error()) }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    const out = state.output.writes.flat();
    expect(out.map((m) => m.json())).toEqual([
      { n: 2 },
      { detail: 'invalid event: failed assignment (line 1): cannot add types string (from field `this.n`) and number (from number literal)' },
      { n: 4 },
    ]);
    expect(out[1]!.metadata).toEqual({ http_status_code: '400' });
  });

  it('interpolates Bloblang in ${! } (Connect configs) beside JSONata', async () => {
    const message = Message.fromJSON({ id: 'a', n: 2 }, { key: 'K', Content_Type: 'text/csv' });
    const context = { message, batch: [message], index: 0 };
    const text = compileInterpolation('${! @key }-${! meta("key").lowercase() }-${! this.id }-${! json("n") }-${!meta("none")}-${! $meta("key") }-${! id }-${! content().length() }');
    expect(await text.render(context)).toBe('K-k-a-2-null-K-a-16');
    expect(await compileInterpolation('${! meta("http_status_code").or("204") }').render(context)).toBe('204');
  });

  it('evaluates meta: expressions in Bloblang when the mapping is, and runs Bloblang generate mappings', async () => {
    const processor = mapping.create({ expression: 'root = this', meta: { k: 'this.a.uppercase()' }, lang: 'bloblang' }, testSettings());
    const [batch] = (await processor.process([Message.fromJSON({ a: 'x' })])) as Message[][];
    expect([batch![0]!.json(), batch![0]!.metadata]).toEqual([{ a: 'x' }, { k: 'X' }]);

    const state = memoryState([]);
    const { pipeline } = pipelineFromYaml(
      `
input:
  generate:
    mapping: 'root = {"n": count("bloblang_generate_test"), "at": timestamp_unix() > 0}'
    count: 2
    interval: ''
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(state.output.writes.flat().map((m) => m.json())).toEqual([
      { n: 1, at: true },
      { n: 2, at: true },
    ]);
  });

  it('fires a Bloblang batching check', async () => {
    const state = memoryState([[{ id: 'a', last: false }], [{ id: 'b', last: true }], [{ id: 'c', last: false }]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
output:
  memory:
    batching:
      count: 10
      period: 1h
      check: this.id == "b"
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(state.output.writes.map((batch) => batch.map((m) => m.json()))).toEqual([
      [
        { id: 'a', last: false },
        { id: 'b', last: true },
      ],
      [{ id: 'c', last: false }],
    ]);
  });
});
