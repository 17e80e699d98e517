import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput } from '../../engine/component.js';

export default defineOutput<{ batching: BatchingConfig }>({
  name: 'drop',
  summary: 'Accepts and discards every message (acknowledging it). Useful for dry runs and benchmarks.',
  schema: { type: 'object', additionalProperties: false, properties: { batching: batchingSchema } },
  example: {},
  create() {
    return { connect: async () => {}, write: async () => {}, close: async () => {}, maxInFlight: 64 };
  },
});
