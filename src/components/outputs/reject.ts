import { defineOutput } from '../../engine/component.js';

export default defineOutput<string>({
  name: 'reject',
  summary: 'Fails every write with the given error, so the messages are replayed (or handled by a fallback). For testing error paths.',
  schema: { type: 'string', default: 'message rejected', description: 'The error every write fails with.' },
  example: 'not today',
  create(message) {
    return {
      connect: async () => {},
      write: async () => {
        throw new Error(message);
      },
      close: async () => {},
    };
  },
});
