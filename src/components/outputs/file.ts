import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput } from '../../engine/component.js';
import { compileInterpolation } from '../../mapping/interpolation.js';

interface FileConfig {
  path: string;
  codec: 'lines';
  batching: BatchingConfig;
}

export default defineOutput<FileConfig>({
  name: 'file',
  summary: 'Appends each message to a file, one per line; the path may be interpolated per message.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: { type: 'string', 'x-interpolated': true, description: 'The file to append to, relative to the config file\'s folder; ${! } per message.' },
      codec: { type: 'string', enum: ['lines'], default: 'lines', description: 'lines: each message followed by a newline (unless it ends with one).' },
      batching: batchingSchema,
    },
  },
  example: { path: './out.jsonl' },
  create(config, { baseDir }) {
    const path = compileInterpolation(config.path);
    const handles = new Map<string, Promise<FileHandle>>();
    const handle = (file: string) => {
      let h = handles.get(file);
      if (!h) {
        h = mkdir(dirname(file), { recursive: true }).then(() => open(file, 'a'));
        handles.set(file, h);
      }
      return h;
    };
    return {
      async connect() {},
      async write(batch) {
        const byFile = new Map<string, Buffer[]>();
        for (let index = 0; index < batch.length; index++) {
          const message = batch[index]!;
          const file = resolve(baseDir, await path.render({ message, batch, index }));
          const bytes = message.bytes();
          const chunks = byFile.get(file) ?? [];
          chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          if (bytes[bytes.byteLength - 1] !== 0x0a) chunks.push(Buffer.from('\n'));
          byFile.set(file, chunks);
        }
        for (const [file, chunks] of byFile) await (await handle(file)).write(Buffer.concat(chunks));
      },
      async close() {
        const open = [...handles.values()];
        handles.clear();
        await Promise.allSettled(open.map(async (h) => (await h).close()));
      },
    };
  },
});
