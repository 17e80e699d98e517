// SHA-1 (FIPS 180-4) of a short prefix and a string's UTF-8 bytes, in JavaScript: for the hundred
// bytes or so of a $uuid_v5 name, a call into node:crypto (buffers for the input and the digest,
// the crossing into C++) costs more than the hashing itself. Checked against node:crypto on
// random strings (test/mapping/sha1.test.ts).

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

/**
 * One 64-byte block of the message (big-endian words at `offset`) into the state `H`: FIPS 180-4
 * §6.1.2 with all 80 rounds unrolled, the message schedule in 16 locals (w[t] replaces w[t - 16])
 * and the five working variables renamed from round to round instead of moved. Generated once.
 */
const compress = ((): ((m: DataView, offset: number) => void) => {
  const lines: string[] = [];
  for (let t = 0; t < 16; t++) lines.push(`let w${t} = m.getInt32(offset + ${t * 4});`);
  lines.push('let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], x = 0;');
  let [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'];
  for (let t = 0; t < 80; t++) {
    const w = `w${t & 15}`;
    if (t >= 16) lines.push(`x = w${(t - 3) & 15} ^ w${(t - 8) & 15} ^ w${(t - 14) & 15} ^ ${w}; ${w} = (x << 1) | (x >>> 31);`);
    const [f, k] =
      t < 20
        ? [`(${B} & ${C}) | (~${B} & ${D})`, '0x5a827999']
        : t < 40
          ? [`${B} ^ ${C} ^ ${D}`, '0x6ed9eba1']
          : t < 60
            ? [`(${B} & ${C}) | (${B} & ${D}) | (${C} & ${D})`, '0x8f1bbcdc']
            : [`${B} ^ ${C} ^ ${D}`, '0xca62c1d6'];
    // The sum stays below 2^53: | 0 at the end is exact.
    lines.push(`${E} = (((${A} << 5) | (${A} >>> 27)) + (${f}) + ${E} + ${w} + ${k}) | 0; ${B} = (${B} << 30) | (${B} >>> 2);`);
    [A, B, C, D, E] = [E, A, B, C, D];
  }
  lines.push('H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0; H[4] = (H[4] + e) | 0;');
  return new Function('H', `'use strict';\nreturn function compress(m, offset) {\n${lines.join('\n')}\n};`)(H) as (m: DataView, offset: number) => void;
})();

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
