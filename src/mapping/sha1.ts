// SHA-1 (FIPS 180-4) of a short prefix and a string's UTF-8 bytes, in JavaScript: for the hundred
// bytes or so of a $uuid_v5 name, a call into node:crypto (buffers for the input and the digest,
// the crossing into C++) costs more than the hashing itself. Checked against node:crypto on
// random strings (test/mapping/sha1.test.ts).

const W = new Int32Array(80);
const H = new Int32Array(5);
/** The padded message, grown as needed (never shrunk: one buffer for the process). */
let block = new Uint8Array(256);
/** `block` read as big-endian words. */
let words = new DataView(block.buffer);

const encoder = new TextEncoder();
/** `block` from `viewAt` on, kept while neither changes (the prefix is a namespace's 16 bytes). */
let view = block.subarray(0);
let viewAt = 0;

/** Writes `text` as UTF-8 at `at` in `block` (growing it); returns the end. Lone surrogates become U+FFFD, as Buffer.from writes them. */
function writeUtf8(text: string, at: number): number {
  // At most 3 bytes per UTF-16 unit, plus the padding (9 bytes and up to a block).
  const need = at + text.length * 3 + 72;
  if (need > block.length) {
    const grown = new Uint8Array(Math.max(need, block.length * 2));
    grown.set(block.subarray(0, at));
    block = grown;
    view = block.subarray(at);
    viewAt = at;
  } else if (at !== viewAt) {
    view = block.subarray(at);
    viewAt = at;
  }
  // encodeInto takes any string as it is (a concatenation too) and is faster than a loop of charCodeAt.
  return at + encoder.encodeInto(text, view).written;
}

function compress(m: DataView, offset: number): void {
  const w = W;
  for (let t = 0; t < 16; t++) w[t] = m.getInt32(offset + t * 4);
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  // Five rounds per iteration, the variables renamed instead of moved (the sums stay below 2^53: | 0 at the end is exact).
  for (let t = 0; t < 20; t += 5) {
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w[t]! + 0x5a827999) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + d + w[t + 1]! + 0x5a827999) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + c + w[t + 2]! + 0x5a827999) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + b + w[t + 3]! + 0x5a827999) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + a + w[t + 4]! + 0x5a827999) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (let t = 20; t < 40; t += 5) {
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t]! + 0x6ed9eba1) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w[t + 1]! + 0x6ed9eba1) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w[t + 2]! + 0x6ed9eba1) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w[t + 3]! + 0x6ed9eba1) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w[t + 4]! + 0x6ed9eba1) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (let t = 40; t < 60; t += 5) {
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w[t]! + 0x8f1bbcdc) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) + d + w[t + 1]! + 0x8f1bbcdc) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) + c + w[t + 2]! + 0x8f1bbcdc) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) + b + w[t + 3]! + 0x8f1bbcdc) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) + a + w[t + 4]! + 0x8f1bbcdc) | 0;
    c = (c << 30) | (c >>> 2);
  }
  for (let t = 60; t < 80; t += 5) {
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t]! + 0xca62c1d6) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + d + w[t + 1]! + 0xca62c1d6) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + c + w[t + 2]! + 0xca62c1d6) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + b + w[t + 3]! + 0xca62c1d6) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + a + w[t + 4]! + 0xca62c1d6) | 0;
    c = (c << 30) | (c >>> 2);
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
}

/**
 * SHA-1 of `prefix` followed by the UTF-8 bytes of `text`, written into `digest` (20 bytes). The
 * state is module-level: synchronous, so no two calls interleave.
 */
export function sha1(prefix: Uint8Array, text: string, digest: Uint8Array): void {
  if (prefix.length + 72 > block.length) {
    block = new Uint8Array(prefix.length + 72 + 256);
    view = block.subarray(viewAt);
  }
  block.set(prefix, 0);
  const end = writeUtf8(text, prefix.length);
  const m = block;
  // Padding: 0x80, zeros to 56 mod 64, then the length in bits as 64 bits big-endian.
  let p = end;
  m[p++] = 0x80;
  const zeros = (56 - (p % 64) + 64) % 64;
  m.fill(0, p, p + zeros);
  p += zeros;
  const bits = end * 8;
  const high = Math.floor(bits / 2 ** 32);
  m[p++] = high >>> 24;
  m[p++] = (high >>> 16) & 0xff;
  m[p++] = (high >>> 8) & 0xff;
  m[p++] = high & 0xff;
  m[p++] = bits >>> 24;
  m[p++] = (bits >>> 16) & 0xff;
  m[p++] = (bits >>> 8) & 0xff;
  m[p++] = bits & 0xff;
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  H[4] = 0xc3d2e1f0 | 0;
  if (words.buffer !== m.buffer) words = new DataView(m.buffer);
  for (let offset = 0; offset < p; offset += 64) compress(words, offset);
  for (let i = 0; i < 5; i++) {
    const h = H[i]!;
    digest[i * 4] = h >>> 24;
    digest[i * 4 + 1] = (h >>> 16) & 0xff;
    digest[i * 4 + 2] = (h >>> 8) & 0xff;
    digest[i * 4 + 3] = h & 0xff;
  }
}
