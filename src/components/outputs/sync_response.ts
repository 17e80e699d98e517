import { defineOutput } from '../../engine/component.js';
import { addResponses } from '../../engine/sync_response.js';

export default defineOutput<Record<string, never>>({
  name: 'sync_response',
  summary: 'Returns each message as the synchronous response to the request it came from (http_server), and acknowledges it; for other inputs it only acknowledges.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {},
    description:
      'Combine it with other outputs with a broker (fan_out) to store messages and answer the client. The response is written when the read is acknowledged, so with a durable buffer set it before the buffer (a sync_response processor) instead.',
  },
  example: {},
  create() {
    return {
      connect: async () => {},
      async write(batch) {
        addResponses(batch);
      },
      close: async () => {},
      maxInFlight: 64,
    };
  },
});
