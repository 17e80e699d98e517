// Redpanda Connect's output codecs (stdout, file): how messages are laid out in a byte stream.

export type OutputCodec = string;

export const outputCodecSchema = (allBytes: string) => ({
  type: 'string',
  default: 'lines',
  pattern: '^(lines|append|all-bytes|delim:.+)$',
  'x-expected': '"lines", "append", "all-bytes", "delim:X"',
  description: `lines: each message followed by a newline (unless it ends with one); append: the bytes alone; delim:X: each message followed by X; all-bytes: ${allBytes}.`,
});

const NEWLINE = new Uint8Array([0x0a]);

/** The bytes one message adds to the stream under `codec` (all-bytes writes it as is). */
export function encode(codec: OutputCodec, bytes: Uint8Array): Uint8Array[] {
  if (codec === 'lines') return bytes[bytes.byteLength - 1] === 0x0a ? [bytes] : [bytes, NEWLINE];
  if (codec.startsWith('delim:')) return [bytes, Buffer.from(codec.slice(6))];
  return [bytes];
}
