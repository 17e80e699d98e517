// The hashes of Bloblang's `.hash()` and JSONata's `$hash()`, one implementation for both:
// Connect's algorithms and its output (digest bytes; xxhash64 as the decimal text of its sum).
import { createHash, createHmac } from 'node:crypto';

// XXH64 on pairs of 32-bit halves (hi, lo): no BigInt, no allocation per lane. Each helper leaves
// its 64-bit result in H and L.
let H = 0;
let L = 0;
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;
const TWO32 = 4294967296;

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  L = lo >>> 0;
  H = (ah + bh + (lo >= TWO32 ? 1 : 0)) >>> 0;
}

/** The low 64 bits of a * b: al * bl in 16-bit pieces (exact in doubles), the cross terms mod 2^32. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const mid = a0 * b1 + a1 * b0;
  const low = a0 * b0 + (mid & 0xffff) * 65536;
  L = low >>> 0;
  H = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(low / TWO32) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** Rotate left by 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  H = ((h << r) | (l >>> (32 - r))) >>> 0;
  L = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** XXH64's round: rotl(acc + lane * P2, 31) * P1. */
function round(acch: number, accl: number, laneh: number, lanel: number): void {
  mul(laneh, lanel, P2H, P2L);
  add(acch, accl, H, L);
  rotl(H, L, 31);
  mul(H, L, P1H, P1L);
}

/** XXH64's merge of an accumulator into the hash: (h ^ round(0, v)) * P1 + P4. */
function merge(hh: number, hl: number, vh: number, vl: number): void {
  round(0, 0, vh, vl);
  mul((hh ^ H) >>> 0, (hl ^ L) >>> 0, P1H, P1L);
  add(H, L, P4H, P4L);
}

/** XXH64 with seed 0 (what Connect computes with cespare/xxhash), digest big-endian as Go's Sum() returns it. */
export function xxhash64(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const len = input.length;
  let i = 0;
  let hh: number;
  let hl: number;
  if (len >= 32) {
    add(P1H, P1L, P2H, P2L);
    let v1h = H, v1l = L;
    let v2h = P2H, v2l = P2L;
    let v3h = 0, v3l = 0;
    // 2^64 - P1 (its low half is not 0: no carry into the high half).
    let v4h = ~P1H >>> 0, v4l = -P1L >>> 0;
    for (; i + 32 <= len; i += 32) {
      round(v1h, v1l, view.getUint32(i + 4, true), view.getUint32(i, true));
      v1h = H; v1l = L;
      round(v2h, v2l, view.getUint32(i + 12, true), view.getUint32(i + 8, true));
      v2h = H; v2l = L;
      round(v3h, v3l, view.getUint32(i + 20, true), view.getUint32(i + 16, true));
      v3h = H; v3l = L;
      round(v4h, v4l, view.getUint32(i + 28, true), view.getUint32(i + 24, true));
      v4h = H; v4l = L;
    }
    rotl(v1h, v1l, 1);
    hh = H; hl = L;
    rotl(v2h, v2l, 7);
    add(hh, hl, H, L);
    hh = H; hl = L;
    rotl(v3h, v3l, 12);
    add(hh, hl, H, L);
    hh = H; hl = L;
    rotl(v4h, v4l, 18);
    add(hh, hl, H, L);
    merge(H, L, v1h, v1l);
    merge(H, L, v2h, v2l);
    merge(H, L, v3h, v3l);
    merge(H, L, v4h, v4l);
    hh = H; hl = L;
  } else {
    hh = P5H;
    hl = P5L;
  }
  add(hh, hl, Math.floor(len / TWO32), len >>> 0);
  hh = H; hl = L;
  for (; i + 8 <= len; i += 8) {
    round(0, 0, view.getUint32(i + 4, true), view.getUint32(i, true));
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 27);
    mul(H, L, P1H, P1L);
    add(H, L, P4H, P4L);
    hh = H; hl = L;
  }
  if (i + 4 <= len) {
    mul(0, view.getUint32(i, true), P1H, P1L);
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 23);
    mul(H, L, P2H, P2L);
    add(H, L, P3H, P3L);
    hh = H; hl = L;
    i += 4;
  }
  for (; i < len; i++) {
    mul(0, input[i]!, P5H, P5L);
    rotl((hh ^ H) >>> 0, (hl ^ L) >>> 0, 11);
    mul(H, L, P1H, P1L);
    hh = H; hl = L;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2H, P2L);
  hh = H; hl = L;
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  mul(hh, hl, P3H, P3L);
  hh = H; hl = L;
  hl = (hl ^ hh) >>> 0;
  const out = new Uint8Array(8);
  const outView = new DataView(out.buffer);
  outView.setUint32(0, hh, false);
  outView.setUint32(4, hl, false);
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
