import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput } from '../../engine/component.js';
import { compileInterpolation } from '../../mapping/interpolation.js';
import { encode, outputCodecSchema, type OutputCodec } from '../io/codec.js';

interface FileConfig {
  path: string;
  codec: OutputCodec;
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
      codec: outputCodecSchema('each message replaces the file\'s content (one file per message, with an interpolated path)'),
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
        const byFile = new Map<string, Uint8Array[]>();
        for (let index = 0; index < batch.length; index++) {
          const message = batch[index]!;
          const file = resolve(baseDir, await path.render({ message, batch, index }));
          if (config.codec === 'all-bytes') {
            await mkdir(dirname(file), { recursive: true });
            await writeFile(file, message.bytes());
            continue;
          }
          const chunks = byFile.get(file) ?? [];
          chunks.push(...encode(config.codec, message.bytes()));
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
