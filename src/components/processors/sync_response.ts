import { defineProcessor } from '../../engine/component.js';
import { addResponses } from '../../engine/sync_response.js';

export default defineProcessor<Record<string, never>>({
  name: 'sync_response',
  summary: 'Sets the messages, as they are now, as the synchronous response to the request they came from (http_server); does nothing for other inputs.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {},
    description:
      'Each message is added to the response of the read it derives from (every copy a processor makes keeps that link, unarchived messages included); the input answers once the read is acknowledged. Messages pass on unchanged.',
  },
  example: {},
  create() {
    return {
      process(batch) {
        addResponses(batch);
        return [batch.slice()];
      },
      close: async () => {},
    };
  },
});
