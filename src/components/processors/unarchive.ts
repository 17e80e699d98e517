import { defineProcessor } from '../../engine/component.js';
import { toJSONText, type Message } from '../../engine/message.js';
import { readTar, readZip } from '../io/archives.js';

interface UnarchiveConfig {
  format: 'json_array' | 'json_documents' | 'json_map' | 'lines' | 'binary' | 'tar' | 'zip';
}

export default defineProcessor<UnarchiveConfig>({
  name: 'unarchive',
  pure: true,
  summary: 'Splits each message into the messages it archives (a JSON array, lines, tar, zip...), in the same batch, with its metadata.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['format'],
    properties: {
      format: {
        type: 'string',
        enum: ['json_array', 'json_documents', 'json_map', 'lines', 'binary', 'tar', 'zip'],
        description:
          'json_array: a message per element; json_documents: a message per JSON document in sequence; json_map: a message per value, its key in metadata archive_key; lines: a message per line; binary: the archive processor\'s binary format; tar, zip: a message per file, its name in metadata archive_filename.',
      },
    },
  },
  example: { format: 'json_array' },
  create({ format }, { logger }) {
    return {
      process(batch) {
        const out: Message[] = [];
        for (const message of batch) {
          try {
            out.push(...unarchive(format, message));
          } catch (err) {
            // As Connect: the message passes on as it was, flagged.
            logger.error({ err: (err as Error).message }, 'Unarchive failed, the message passes on unchanged and flagged.');
            out.push(message.withError(err as Error));
          }
        }
        return out.length > 0 ? [out] : [];
      },
      close: async () => {},
    };
  },
});

function unarchive(format: UnarchiveConfig['format'], message: Message): Message[] {
  const meta = message.metadata;
  switch (format) {
    case 'json_array': {
      const value = message.json();
      if (!Array.isArray(value)) throw new Error(`expected a JSON array, got ${value === null ? 'null' : typeof value}`);
      return value.map((v) => message.withBytes(toJSONText(v)));
    }
    case 'json_map': {
      const value = message.json();
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
      return Object.entries(value as Record<string, unknown>).map(([key, v]) => message.withBytes(toJSONText(v)).withMetadata({ ...meta, archive_key: key }));
    }
    case 'json_documents':
      return jsonDocuments(message.text()).map((v) => message.withBytes(toJSONText(v)));
    case 'lines':
      return message
        .text()
        .split('\n')
        .map((line) => line.replace(/\r$/, ''))
        .filter((line) => line !== '')
        .map((line) => message.withBytes(line));
    case 'binary': {
      const bytes = Buffer.from(message.bytes());
      if (bytes.length < 4) throw new Error('binary: shorter than its part count');
      const count = bytes.readUInt32BE(0);
      const parts: Message[] = [];
      let offset = 4;
      for (let i = 0; i < count; i++) {
        if (offset + 4 > bytes.length) throw new Error('binary: truncated');
        const length = bytes.readUInt32BE(offset);
        offset += 4;
        if (offset + length > bytes.length) throw new Error('binary: truncated');
        parts.push(message.withBytes(bytes.subarray(offset, offset + length)));
        offset += length;
      }
      return parts;
    }
    case 'tar':
    case 'zip':
      return (format === 'tar' ? readTar : readZip)(message.bytes()).map((e) => message.withBytes(e.body).withMetadata({ ...meta, archive_filename: e.name }));
  }
}

/** The JSON documents of a text written one after another (whitespace between them, or none after an object or array). */
function jsonDocuments(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  for (space(); i < text.length; space()) {
    const start = i;
    const first = text[i]!;
    if (first === '{' || first === '[' || first === '"') {
      let depth = 0;
      let inString = false;
      for (; i < text.length; i++) {
        const c = text[i]!;
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') {
            inString = false;
            if (depth === 0) break;
          }
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if ((c === '}' || c === ']') && --depth === 0) break;
      }
      i++;
    } else {
      while (i < text.length && !/[\s{["]/.test(text[i]!)) i++;
    }
    out.push(JSON.parse(text.slice(start, i)));
  }
  return out;
}
