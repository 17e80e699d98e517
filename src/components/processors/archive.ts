import { defineProcessor } from '../../engine/component.js';
import { Message, toJSONText } from '../../engine/message.js';
import { compileInterpolation } from '../../mapping/interpolation.js';
import { writeTar, writeZip } from '../io/archives.js';

interface ArchiveConfig {
  format: 'json_array' | 'lines' | 'concatenate' | 'binary' | 'tar' | 'zip';
  path: string;
}

export default defineProcessor<ArchiveConfig>({
  name: 'archive',
  summary: 'Joins a batch into one message (a JSON array, lines, bytes); the result keeps the first message\'s metadata.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['format'],
    properties: {
      format: {
        type: 'string',
        enum: ['json_array', 'lines', 'concatenate', 'binary', 'tar', 'zip'],
        description:
          'json_array: a compact JSON array of the bodies; lines: bodies joined by newlines (no trailing one); concatenate: bodies back to back; binary: a big-endian uint32 count, then each body as uint32 length + bytes; tar, zip: a file per message, named by path.',
      },
      path: {
        type: 'string',
        default: '',
        'x-interpolated': true,
        description: 'tar and zip: the file name of each message, interpolated per message (empty: its index in the batch).',
      },
    },
  },
  example: { format: 'json_array' },
  create({ format, path }, { logger }) {
    const name = format === 'tar' || format === 'zip' ? compileInterpolation(path) : undefined;
    const names = async (batch: readonly Message[]) => {
      const out = new Map<Message, string>();
      for (let index = 0; name && index < batch.length; index++) out.set(batch[index]!, (await name.render({ message: batch[index]!, batch, index })) || String(index));
      return out;
    };
    const archived = (batch: readonly Message[], named: ReadonlyMap<Message, string>): Message[][] => {
      try {
        return [[Message.archiveOf(batch, (parts) => archive(format, parts, named), batch[0]!.metadata)]];
      } catch (err) {
        // As Connect does: the originals pass on unarchived, each flagged with the error.
        logger.error({ err: (err as Error).message }, 'Archive failed, the messages pass on unarchived and flagged.');
        return [batch.map((m) => m.withError(err as Error))];
      }
    };
    return {
      // Synchronous unless file names are to be rendered (tar, zip).
      process(batch) {
        if (batch.length === 0) return [];
        if (!name) return archived(batch, new Map());
        return names(batch).then(
          (named) => archived(batch, named),
          (err: Error) => {
            logger.error({ err: err.message }, 'Archive failed, the messages pass on unarchived and flagged.');
            return [batch.map((m) => m.withError(err))];
          },
        );
      },
      close: async () => {},
    };
  },
});

/**
 * The archive's bytes, encoded now: a body that cannot be encoded (a non-finite number) fails
 * here, where the messages can still pass on flagged, rather than at every attempt to send it.
 */
function archive(format: ArchiveConfig['format'], batch: readonly Message[], names: ReadonlyMap<Message, string>): Uint8Array {
  switch (format) {
    case 'tar':
    case 'zip': {
      const entries = batch.map((m, i) => ({ name: names.get(m) ?? String(i), body: m.bytes() }));
      return format === 'tar' ? writeTar(entries) : writeZip(entries);
    }
    case 'json_array':
      // Bodies made as values (a mapping's results) are encoded in one go, as their compact JSON.
      // Otherwise a structured body's text is kept as it is (so an event's bytes in the array are
      // its bytes anywhere else); other bodies are parsed, which checks them too.
      if (batch.every((m) => m.madeStructured)) return Buffer.from(toJSONText(batch.map((m) => m.json())));
      return Buffer.from(`[${batch.map((m) => (m.isStructured ? m.text() : toJSONText(m.json()))).join(',')}]`);
    case 'lines':
      return Buffer.from(batch.map((m) => m.text()).join('\n'));
    case 'concatenate':
      return Buffer.concat(batch.map((m) => m.bytes()));
    case 'binary': {
      const parts = batch.map((m) => m.bytes());
      const out = Buffer.alloc(4 + parts.reduce((n, p) => n + 4 + p.byteLength, 0));
      let offset = out.writeUInt32BE(parts.length, 0);
      for (const part of parts) {
        offset = out.writeUInt32BE(part.byteLength, offset);
        out.set(part, offset);
        offset += part.byteLength;
      }
      return out;
    }
  }
}
