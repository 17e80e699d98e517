import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Message, toJSONText } from '../../src/engine/message.js';

/** The encoding toJSONText promises, written the slow, obvious way. */
function reference(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`cannot encode ${v} as JSON`);
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
  return text ?? 'null';
}

function outcome(encode: (value: unknown) => string, value: unknown): { text?: string; error?: string } {
  try {
    return { text: encode(value) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('toJSONText', () => {
  it('encodes compact JSON, null for nothing', () => {
    expect(toJSONText({ a: [1, 'x', null, true], b: undefined })).toBe('{"a":[1,"x",null,true]}');
    expect(toJSONText(undefined)).toBe('null');
    expect(toJSONText([undefined])).toBe('[null]');
    expect(toJSONText(-0)).toBe('0');
  });

  it('refuses non-finite numbers at any depth instead of writing null', () => {
    expect(() => toJSONText(NaN)).toThrow('cannot encode NaN as JSON');
    expect(() => toJSONText([{ data: { gpu_minutes: Infinity } }])).toThrow('cannot encode Infinity as JSON');
  });

  it('writes bigints as numbers and honours toJSON', () => {
    expect(toJSONText({ n: 12n })).toBe('{"n":12}');
    expect(toJSONText({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(() => toJSONText({ custom: { toJSON: () => NaN } })).toThrow('cannot encode NaN');
  });

  it('rejects cycles as JSON.stringify does', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toJSONText(cyclic)).toThrow(/circular/i);
  });

  it('matches the checked encoding for any value', () => {
    const leaf = fc.oneof(fc.double(), fc.integer(), fc.bigInt(), fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.date({ noInvalidDate: false }));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(outcome(toJSONText, v)).toEqual(outcome(reference, v));
      }),
      { numRuns: 2000 },
    );
  });

  it('checks a value without encoding it, throwing as encoding would (property)', () => {
    const leaf = fc.oneof(fc.double(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.bigInt());
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const check = outcome(() => (Message.fromJSON(v).assertEncodable(), ''), v);
        expect(check.error).toBe(outcome(reference, v).error);
      }),
      { numRuns: 1000 },
    );
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 200; i++) at.push((at = []));
    expect(() => Message.fromJSON(deep).assertEncodable()).not.toThrow();
  });

  it('dropping a parsed body keeps the body: it parses again to the same value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const read = Message.fromBytes(JSON.stringify(v));
        const copy = read.withMetadata({ a: 1 });
        expect(copy.json()).toEqual(read.json());
        copy.releaseParsed();
        expect(read.json()).toEqual(JSON.parse(JSON.stringify(v)));
        expect(copy.json()).toEqual(read.json());
        // A body made as a value has nothing to parse it again from: it is kept.
        const made = Message.fromJSON(v);
        made.releaseParsed();
        expect(made.json()).toBe(v);
      }),
    );
  });

  it('serialises a structured body once', () => {
    const message = Message.fromJSON({ id: 'a', values: [1.5, 2] });
    expect(message.text()).toBe('{"id":"a","values":[1.5,2]}');
    expect(message.bytes()).toBe(message.bytes());
  });
});
