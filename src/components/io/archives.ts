// tar and zip, written and read without a dependency, for the archive and unarchive processors:
// files of one directory level, as Redpanda Connect's archive writes them (mode 0666, now as mtime).
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

export interface ArchiveEntry {
  readonly name: string;
  readonly body: Uint8Array;
}

const BLOCK = 512;

/** A ustar archive of `entries`, ending with two zero blocks. */
export function writeTar(entries: readonly ArchiveEntry[], mtime = new Date()): Uint8Array {
  const chunks: Buffer[] = [];
  for (const { name, body } of entries) {
    const header = Buffer.alloc(BLOCK);
    const field = (offset: number, length: number, text: string) => header.write(text, offset, length, 'utf8');
    const octal = (offset: number, length: number, value: number) => field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
    const nameBytes = Buffer.from(name);
    if (nameBytes.length > 100) throw new Error(`tar: file name longer than 100 bytes: ${name}`);
    nameBytes.copy(header, 0);
    octal(100, 8, 0o666);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, body.byteLength);
    octal(136, 12, Math.floor(mtime.getTime() / 1000));
    header.fill(0x20, 148, 156);
    field(156, 1, '0');
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    chunks.push(header, Buffer.from(body.buffer, body.byteOffset, body.byteLength), Buffer.alloc((BLOCK - (body.byteLength % BLOCK)) % BLOCK));
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

/** The regular files of a tar archive. Throws on a malformed one. */
export function readTar(data: Uint8Array): ArchiveEntry[] {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const entries: ArchiveEntry[] = [];
  for (let offset = 0; offset + BLOCK <= buffer.length; ) {
    const header = buffer.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const text = (start: number, length: number) => header.toString('utf8', start, start + length).replace(/\0.*$/s, '');
    const size = parseInt(text(124, 12).trim() || '0', 8);
    if (!Number.isFinite(size)) throw new Error('tar: malformed header');
    const prefix = text(345, 155);
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    const type = text(156, 1);
    const start = offset + BLOCK;
    if (start + size > buffer.length) throw new Error('tar: truncated archive');
    if (type === '0' || type === '') entries.push({ name, body: buffer.subarray(start, start + size) });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}

/** A zip archive of `entries`, each deflated. */
export function writeZip(entries: readonly ArchiveEntry[], mtime = new Date()): Uint8Array {
  const time = (mtime.getHours() << 11) | (mtime.getMinutes() << 5) | Math.floor(mtime.getSeconds() / 2);
  const date = ((mtime.getFullYear() - 1980) << 9) | ((mtime.getMonth() + 1) << 5) | mtime.getDate();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, body } of entries) {
    const nameBytes = Buffer.from(name);
    const compressed = deflateRawSync(body);
    const crc = crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(body.byteLength, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(body.byteLength, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100666 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, compressed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** The files of a zip archive (stored or deflated), read from its central directory. Throws on a malformed one. */
export function readZip(data: Uint8Array): ArchiveEntry[] {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let end = -1;
  for (let i = buffer.length - 22; i >= Math.max(0, buffer.length - 22 - 65535); i--) {
    if (buffer.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end === -1) throw new Error('zip: no end of central directory');
  const count = buffer.readUInt16LE(end + 10);
  let at = buffer.readUInt32LE(end + 16);
  const entries: ArchiveEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buffer.readUInt32LE(at) !== 0x02014b50) throw new Error('zip: malformed central directory');
    const method = buffer.readUInt16LE(at + 10);
    const compressedSize = buffer.readUInt32LE(at + 20);
    const nameLength = buffer.readUInt16LE(at + 28);
    const extraLength = buffer.readUInt16LE(at + 30);
    const commentLength = buffer.readUInt16LE(at + 32);
    const localOffset = buffer.readUInt32LE(at + 42);
    const name = buffer.toString('utf8', at + 46, at + 46 + nameLength);
    const dataStart = localOffset + 30 + buffer.readUInt16LE(localOffset + 26) + buffer.readUInt16LE(localOffset + 28);
    const raw = buffer.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`zip: unsupported compression method ${method} for ${name}`);
    if (!name.endsWith('/')) entries.push({ name, body: method === 8 ? inflateRawSync(raw) : raw });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
