import { defineProcessor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';

interface SplitConfig {
  size: number;
  byte_size: number;
}

export default defineProcessor<SplitConfig>({
  name: 'split',
  pure: true,
  summary: 'Breaks each batch into smaller batches of at most `size` messages (and `byte_size` bytes), in order.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      size: { type: 'integer', minimum: 0, default: 1, description: 'The most messages in a resulting batch (0: no limit by count).' },
      byte_size: {
        type: 'integer',
        minimum: 0,
        default: 0,
        description: 'The most body bytes in a resulting batch, whichever limit is reached first; 0 disables. A message larger than this is a batch of its own.',
      },
    },
  },
  example: { size: 100 },
  create({ size, byte_size: byteSize }) {
    return {
      process(batch) {
        if (batch.length === 0) return [];
        const out: Message[][] = [];
        let current: Message[] = [];
        let bytes = 0;
        for (const message of batch) {
          const length = byteSize > 0 ? message.byteLength : 0;
          if (current.length > 0 && ((size > 0 && current.length >= size) || (byteSize > 0 && bytes + length > byteSize))) {
            out.push(current);
            current = [];
            bytes = 0;
          }
          current.push(message);
          bytes += length;
        }
        out.push(current);
        return out;
      },
      close: async () => {},
    };
  },
});
