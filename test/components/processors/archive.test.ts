import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import archive from '../../../src/components/processors/archive.js';
import { Message } from '../../../src/engine/message.js';
import { testSettings } from '../../support/settings.js';

const archiver = (format: 'json_array' | 'lines' | 'concatenate' | 'binary') => archive.create({ format }, testSettings());
const processSync = (format: 'json_array' | 'lines' | 'concatenate' | 'binary', batch: Message[]) =>
  archiver(format).process(batch) as Message[][];

/** Decodes Connect's binary framing: uint32 count, then uint32 length + bytes per part. */
function unarchiveBinary(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes);
  const count = buf.readUInt32BE(0);
  const parts: string[] = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    const length = buf.readUInt32BE(offset);
    parts.push(buf.subarray(offset + 4, offset + 4 + length).toString('utf8'));
    offset += 4 + length;
  }
  expect(offset).toBe(buf.length);
  return parts;
}

describe('archive', () => {
  it('json_array makes one compact JSON array with the first message\'s metadata', () => {
    const batch = [Message.fromJSON({ a: 1 }, { first: 'yes' }), Message.fromBytes('{"b": [2]}', { first: 'no' })];
    const [[out]] = processSync('json_array', batch) as [[Message]];
    expect(out.text()).toBe('[{"a":1},{"b":[2]}]');
    expect(out.metadata).toEqual({ first: 'yes' });
  });

  it('json_array flags the originals and passes them on when a part is not JSON', () => {
    const batch = [Message.fromJSON({ a: 1 }), Message.fromBytes('nope')];
    const [out] = processSync('json_array', batch) as [Message[]];
    expect(out.map((m) => m.text())).toEqual(['{"a":1}', 'nope']);
    expect(out.every((m) => /failed to parse message as JSON/.test(m.error?.message ?? ''))).toBe(true);
  });

  it('an empty batch produces nothing', () => {
    expect(processSync('json_array', [])).toEqual([]);
  });

  it('binary round-trips any batch of parts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 20 }), (parts) => {
        const [[out]] = processSync('binary', parts.map((p) => Message.fromBytes(p))) as [[Message]];
        expect(unarchiveBinary(out.bytes())).toEqual(parts);
      }),
    );
  });

  it('lines round-trips parts without newlines, with no trailing newline (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes('\n')), { minLength: 1, maxLength: 20 }), (parts) => {
        const [[out]] = processSync('lines', parts.map((p) => Message.fromBytes(p))) as [[Message]];
        expect(out.text().split('\n')).toEqual(parts);
      }),
    );
  });

  it('json_array round-trips any JSON values (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ noUnicodeString: false }), { minLength: 1, maxLength: 10 }), (values) => {
        const [[out]] = processSync('json_array', values.map((v) => Message.fromBytes(JSON.stringify(v)))) as [[Message]];
        expect(JSON.parse(out.text())).toEqual(JSON.parse(JSON.stringify(values)));
      }),
    );
  });

  it('json_array of bodies made as values holds each body\'s own bytes, and refuses a non-finite number (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ noUnicodeString: false }), { minLength: 1, maxLength: 10 }), fc.boolean(), (values, poison) => {
        const batch = values.map((v) => Message.fromJSON(v));
        if (poison) batch.push(Message.fromJSON({ gpu_minutes: Infinity }));
        const [out] = processSync('json_array', batch) as [Message[]];
        if (poison) {
          expect(out.every((m) => /cannot encode Infinity/.test(m.error?.message ?? ''))).toBe(true);
          return;
        }
        expect(out[0]!.text()).toBe(`[${values.map((v) => JSON.stringify(v)).join(',')}]`);
      }),
    );
  });

  it('json_array keeps a read body\'s own text', () => {
    const [[out]] = processSync('json_array', [Message.fromJSON({ a: 1 }), Message.fromBytes('{"b": 1.50}').withJSON({ c: 2 }), Message.fromBytes('{"d": 1.50}')]) as [[Message]];
    expect(out.text()).toBe('[{"a":1},{"c":2},{"d":1.5}]');
    const read = Message.fromBytes('{"d": 1.50}');
    read.json();
    const [[kept]] = processSync('json_array', [Message.fromJSON({ a: 1 }), read]) as [[Message]];
    expect(kept.text()).toBe('[{"a":1},{"d": 1.50}]');
  });

  it('concatenate joins bytes back to back', () => {
    const [[out]] = processSync('concatenate', [Message.fromBytes('ab'), Message.fromBytes('c')]) as [[Message]];
    expect(out.text()).toBe('abc');
  });
});
