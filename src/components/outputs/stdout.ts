import { once } from 'node:events';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput } from '../../engine/component.js';

interface StdoutConfig {
  codec: 'lines';
  batching: BatchingConfig;
}

export default defineOutput<StdoutConfig>({
  name: 'stdout',
  summary: 'Writes each message to standard output, one per line. Logs go to stderr.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      codec: { type: 'string', enum: ['lines'], default: 'lines', description: 'lines: each message followed by a newline (unless it ends with one).' },
      batching: batchingSchema,
    },
  },
  example: {},
  create() {
    return {
      async connect() {},
      async write(batch) {
        const chunks: Uint8Array[] = [];
        for (const m of batch) {
          const bytes = m.bytes();
          chunks.push(bytes);
          if (bytes[bytes.byteLength - 1] !== 0x0a) chunks.push(NEWLINE);
        }
        if (!process.stdout.write(Buffer.concat(chunks))) await once(process.stdout, 'drain');
      },
      async close() {},
    };
  },
});

const NEWLINE = new Uint8Array([0x0a]);
