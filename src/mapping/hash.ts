// The hashes of Bloblang's `.hash()` and JSONata's `$hash()`, one implementation for both:
// Connect's algorithms and its output (digest bytes; xxhash64 as the decimal text of its sum).
import { createHash, createHmac } from 'node:crypto';

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
export function xxhash64(input: Uint8Array): Uint8Array {
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

const DIGESTS: Record<string, string> = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512', md5: 'md5' };
const CRC32: Record<string, number> = { IEEE: 0xedb88320, Castagnoli: 0x82f63b78, Koopman: 0xeb31d82e };
const encoder = new TextEncoder();

/** Hash algorithms `hash` knows (hmac_* need a key). */
export const HASH_ALGORITHMS = ['xxhash64', 'sha1', 'sha256', 'sha512', 'md5', 'crc32', 'hmac_sha1', 'hmac_sha256', 'hmac_sha512'] as const;

/**
 * Connect's `hash(algorithm, key?, polynomial?)`: the digest bytes, but for xxhash64 the decimal
 * text of the 64-bit sum (as Connect returns it). Throws on an unknown algorithm or a missing key.
 */
export function hash(input: Uint8Array, algorithm: string, key?: string, polynomial = 'IEEE'): Uint8Array {
  if (algorithm === 'xxhash64') return encoder.encode(Buffer.from(xxhash64(input)).readBigUInt64BE().toString(10));
  if (algorithm.startsWith('hmac_')) {
    const inner = DIGESTS[algorithm.slice(5)];
    if (!inner) throw new Error(`unrecognised hash type: ${algorithm}`);
    if (key === undefined) throw new Error(`hash ${algorithm} requires a key`);
    return createHmac(inner, key).update(input).digest();
  }
  if (algorithm === 'crc32') {
    const poly = CRC32[polynomial];
    if (poly === undefined) throw new Error(`unsupported crc32 hash key ${JSON.stringify(polynomial)}`);
    let c = ~0;
    for (const byte of input) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    }
    const out = Buffer.alloc(4);
    out.writeUInt32BE(~c >>> 0);
    return out;
  }
  const name = DIGESTS[algorithm];
  if (!name) throw new Error(`unrecognised hash type: ${algorithm}`);
  return createHash(name).update(input).digest();
}
