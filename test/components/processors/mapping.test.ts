import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import mapping from '../../../src/components/processors/mapping.js';
import { Message } from '../../../src/engine/message.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';
import { testSettings } from '../../support/settings.js';

/** A logger whose lines land in `lines`. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('mapping', () => {
  it('reads a body that is not JSON as its text, and warns once when it reads fields of one', async () => {
    const log = capture();
    const processor = mapping.create({ expression: '{ "n": $number(gpu), "raw": $ }', meta: {}, compile: true }, testSettings({ logger: log.logger }));
    const input = ['plain text', '{"gpu": "3"}', 'more text', '7'].map((t) => Message.fromBytes(t));
    const [batch] = await processor.process(input);
    expect(batch!.map((m) => m.json())).toEqual([{ raw: 'plain text' }, { n: 3, raw: { gpu: '3' } }, { raw: 'more text' }, { raw: 7 }]);
    const warnings = log.lines.filter((l) => l['level'] === 40);
    expect(warnings.map((w) => w['msg'])).toEqual([expect.stringMatching(/^A message body is not JSON: this mapping reads fields, which find nothing in it .*Logged once\.$/)]);

    // A mapping that reads no field ($, $content()) has nothing to warn about.
    const quiet = capture();
    const whole = mapping.create({ expression: '$uppercase($)', meta: {}, compile: true }, testSettings({ logger: quiet.logger }));
    const [upper] = await whole.process([Message.fromBytes('plain text')]);
    expect(upper!.map((m) => m.text())).toEqual(['PLAIN TEXT']);
    expect(quiet.lines.filter((l) => l['level'] === 40)).toEqual([]);
  });

  it('maps a compiled batch synchronously, without a promise', () => {
    const processor = mapping.create({ expression: '{ "n": n * 2 }', meta: { twice: '$string(n * 2)' }, compile: true }, testSettings());
    const result = processor.process([Message.fromJSON({ n: 1 }), Message.fromJSON({ n: 2 })]);
    expect(result).not.toBeInstanceOf(Promise);
    const [batch] = result as Message[][];
    expect(batch!.map((m) => [m.json(), m.metadata.twice])).toEqual([
      [{ n: 2 }, '2'],
      [{ n: 4 }, '4'],
    ]);
  });

  it('sets literal meta values (null removes a key) exactly as evaluated ones, whatever metadata a message has', () => {
    // Literal meta expressions skip evaluation; wrapped in a block they are evaluated. Both must agree.
    const json = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    const key = fc.constantFrom('a', 'b', 'c', 'source');
    fc.assert(
      fc.property(fc.dictionary(key, json), fc.array(fc.dictionary(key, fc.oneof(fc.string(), fc.integer())), { minLength: 1, maxLength: 3 }), (meta, inputs) => {
        const literal = Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, JSON.stringify(v)]));
        const evaluated = Object.fromEntries(Object.entries(literal).map(([k, e]) => [k, `(${e})`]));
        const run = (config: Record<string, string>) => {
          const processor = mapping.create({ expression: '$', meta: config, compile: true }, testSettings());
          const [batch] = processor.process(inputs.map((m) => Message.fromJSON({ n: 1 }, m))) as Message[][];
          return batch!.map((m) => m.metadata);
        };
        const got = run(literal);
        expect(got).toEqual(run(evaluated));
        // Every message gets the literals, and keeps its own other keys.
        got.forEach((m, i) => {
          for (const [k, v] of Object.entries(meta)) expect(m[k]).toEqual(v === null ? undefined : v);
          for (const [k, v] of Object.entries(inputs[i]!)) if (!(k in meta)) expect(m[k]).toEqual(v);
        });
      }),
    );
  });

  it('keeps order when some messages fail (their errors come from the interpreter) or are deleted', async () => {
    const processor = mapping.create({ expression: 'n = 3 ? $deleted() : n + 1', compile: true }, testSettings());
    const input = [{ n: 1 }, { n: 'x' }, { n: 3 }, { n: 4 }].map((b) => Message.fromJSON(b));
    const [batch] = await processor.process(input);
    expect(batch!.map((m) => m.json())).toEqual([2, { n: 'x' }, 5]);
    expect(batch![1]!.error?.message).toMatch(/^mapping failed at line 1, column \d+: .*\(T2001\)$/);
  });

  it('logs once at build whether it runs compiled; compile: false interprets', async () => {
    const compiled = capture();
    mapping.create({ expression: 'n', meta: { k: '| a | {"b": 1} |' }, compile: true }, testSettings({ logger: compiled.logger }));
    const interpreted = capture();
    const processor = mapping.create({ expression: 'n + 1', compile: false }, testSettings({ logger: interpreted.logger }));
    await flush();
    expect(compiled.lines.map((l) => [l.msg, l.interpreted])).toEqual([['Mapping runs in the JSONata interpreter.', ['meta.k: a transform (|...|...|) at line 1, column 2']]]);
    expect(interpreted.lines.map((l) => [l.msg, l.interpreted])).toEqual([['Mapping runs in the JSONata interpreter.', ['expression: compile: false']]]);
    const result = processor.process([Message.fromJSON({ n: 1 })]);
    expect(result).toBeInstanceOf(Promise);
    expect((await result)[0]!.map((m) => m.json())).toEqual([2]);

    const plain = capture();
    mapping.create('{ "a": a }', testSettings({ logger: plain.logger }));
    await flush();
    expect(plain.lines.map((l) => l.msg)).toEqual(['Mapping runs compiled to JavaScript.']);
  });

  it('defaults compile to true in YAML and accepts compile: false', async () => {
    const state = memoryState([[{ n: 1 }, { n: 2 }]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline:
  processors:
    - mapping: { expression: 'n * 10' }
    - mapping: { expression: '$ + 1', compile: false }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(state.output.writes.flat().map((m) => m.json())).toEqual([11, 21]);
  });
});
