// The hashes of Bloblang's `.hash()` and JSONata's `$hash()`, one implementation for both:
// Connect's algorithms and its output (digest bytes; xxhash64 as the decimal text of its sum).
import { createHash, createHmac } from 'node:crypto';
import xxhash from 'xxhash-wasm';

// XXH64 with seed 0, as Connect computes it (cespare/xxhash). xxhash-wasm compiles its
// WebAssembly once, when this module loads.
const { h64Raw } = await xxhash();

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
  if (algorithm === 'xxhash64') return encoder.encode(h64Raw(input).toString(10));
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
