// hash(…, 'xxhash64') (src/mapping/hash.ts, xxhash-wasm) against a straightforward BigInt XXH64
// kept here as the oracle, on the reference vectors and on random inputs of every length class.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hash } from '../../src/mapping/hash.js';

const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const MASK = 0xffffffffffffffffn;

const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & MASK;
const round = (acc: bigint, lane: bigint) => (rotl((acc + lane * P2) & MASK, 31n) * P1) & MASK;
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1 + P4) & MASK);

/** XXH64 with seed 0 (what Connect computes with cespare/xxhash), digest big-endian as Go's Sum() returns it. */
function xxhash64Reference(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const len = input.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (P1 + P2) & MASK;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (0n - P1) & MASK;
    for (; i + 32 <= len; i += 32) {
      v1 = round(v1, view.getBigUint64(i, true));
      v2 = round(v2, view.getBigUint64(i + 8, true));
      v3 = round(v3, view.getBigUint64(i + 16, true));
      v4 = round(v4, view.getBigUint64(i + 24, true));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = P5;
  }
  h = (h + BigInt(len)) & MASK;
  for (; i + 8 <= len; i += 8) {
    h ^= round(0n, view.getBigUint64(i, true));
    h = (rotl(h, 27n) * P1 + P4) & MASK;
  }
  if (i + 4 <= len) {
    h ^= (BigInt(view.getUint32(i, true)) * P1) & MASK;
    h = (rotl(h, 23n) * P2 + P3) & MASK;
    i += 4;
  }
  for (; i < len; i++) {
    h ^= (BigInt(input[i]!) * P5) & MASK;
    h = (rotl(h, 11n) * P1) & MASK;
  }
  h ^= h >> 33n;
  h = (h * P2) & MASK;
  h ^= h >> 29n;
  h = (h * P3) & MASK;
  h ^= h >> 32n;
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, h, false);
  return out;
}


const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
/** The sum as `hash` gives it (Connect's decimal text), as hex digits. */
const xxhash64 = (bytes: Uint8Array) => BigInt(new TextDecoder().decode(hash(bytes, 'xxhash64'))).toString(16).padStart(16, '0');

describe('xxhash64', () => {
  it('gives the reference vectors', () => {
    const of = (s: string) => xxhash64(new TextEncoder().encode(s));
    expect(of('')).toBe('ef46db3751d8e999');
    expect(of('a')).toBe('d24ec4f1a98c6e5b');
    expect(of('abc')).toBe('44bc2cf5ad770999');
    expect(of('Nobody inspects the spammish repetition')).toBe('fbcea83c8a378bf1');
  });

  it('equals the BigInt oracle on any input, and on a view into a larger buffer (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 7 }), (bytes, offset) => {
        expect(xxhash64(bytes)).toBe(hex(xxhash64Reference(bytes)));
        const padded = new Uint8Array(bytes.length + offset);
        padded.set(bytes, offset);
        expect(xxhash64(padded.subarray(offset))).toBe(hex(xxhash64Reference(bytes)));
      }),
      { numRuns: 500 },
    );
  });
});
