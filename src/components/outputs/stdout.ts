import { once } from 'node:events';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput } from '../../engine/component.js';
import { encode, outputCodecSchema, type OutputCodec } from '../io/codec.js';

interface StdoutConfig {
  codec: OutputCodec;
  batching: BatchingConfig;
}

export default defineOutput<StdoutConfig>({
  name: 'stdout',
  summary: 'Writes each message to standard output, one per line. Logs go to stderr.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      codec: outputCodecSchema('as append'),
      batching: batchingSchema,
    },
  },
  example: {},
  create({ codec }) {
    return {
      async connect() {},
      async write(batch) {
        const chunks: Uint8Array[] = [];
        for (const m of batch) chunks.push(...encode(codec, m.bytes()));
        if (!process.stdout.write(Buffer.concat(chunks))) await once(process.stdout, 'drain');
      },
      async close() {},
    };
  },
});
