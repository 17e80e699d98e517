// The JavaScript SHA-1 behind $uuid_v5 (src/mapping/sha1.ts) must give node:crypto's digest of the
// same bytes: a prefix and a string's UTF-8 (lone surrogates as U+FFFD, as Buffer.from writes them).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uuidV5 } from '../../src/mapping/environment.js';
import { sha1 } from '../../src/mapping/sha1.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const nodeSha1 = (prefix: Uint8Array, text: string) => createHash('sha1').update(prefix).update(Buffer.from(text, 'utf8')).digest('hex');

/** RFC 9562 uuid v5 through node:crypto, written independently of environment.ts. */
function referenceUuidV5(name: string, namespaceHex: string): string {
  const digest = createHash('sha1').update(Buffer.from(namespaceHex, 'hex')).update(Buffer.from(name, 'utf8')).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const h = digest.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const texts = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  // Lengths around the block boundaries (55, 56, 64 bytes with a 16-byte prefix and without).
  fc.integer({ min: 0, max: 200 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom('', 'a\uD800b', '\uDC00', '😀', '\uD83D', 'é'.repeat(70), '€'.repeat(40)),
);

describe('sha1', () => {
  it('the FIPS 180-4 examples', () => {
    const digest = new Uint8Array(20);
    sha1(new Uint8Array(0), 'abc', digest);
    expect(hex(digest)).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    sha1(new Uint8Array(0), 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', digest);
    expect(hex(digest)).toBe('84983e441c3bd26ebaae4aa1f95129e5e54670f1');
    sha1(new Uint8Array(0), '', digest);
    expect(hex(digest)).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  });

  it('equals node:crypto for any prefix and string', () => {
    const digest = new Uint8Array(20);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), texts, (prefix, text) => {
        sha1(prefix, text, digest);
        expect(hex(digest)).toBe(nodeSha1(prefix, text));
      }),
      { numRuns: 5_000 },
    );
  });

  it('a long string (the buffer grows) and a short one after it', () => {
    const digest = new Uint8Array(20);
    const long = 'ü'.repeat(5_000);
    sha1(new Uint8Array([1, 2, 3]), long, digest);
    expect(hex(digest)).toBe(nodeSha1(new Uint8Array([1, 2, 3]), long));
    sha1(new Uint8Array([1, 2, 3]), 'short', digest);
    expect(hex(digest)).toBe(nodeSha1(new Uint8Array([1, 2, 3]), 'short'));
  });

  it('$uuid_v5 equals RFC 9562 v5 computed with node:crypto, for every namespace', () => {
    const namespaces: Record<string, string> = {
      dns: '6ba7b8109dad11d180b400c04fd430c8',
      url: '6ba7b8119dad11d180b400c04fd430c8',
      oid: '6ba7b8129dad11d180b400c04fd430c8',
      x500: '6ba7b8149dad11d180b400c04fd430c8',
      '': '00000000000000000000000000000000',
      'c2f7e1a4-0d3b-4b7e-9f1a-2b3c4d5e6f70': 'c2f7e1a40d3b4b7e9f1a2b3c4d5e6f70',
    };
    fc.assert(
      fc.property(texts, fc.constantFrom(...Object.keys(namespaces)), (name, namespace) => {
        expect(uuidV5(name, namespace)).toBe(referenceUuidV5(name, namespaces[namespace]!));
      }),
      { numRuns: 3_000 },
    );
  });
});
