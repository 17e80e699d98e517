import { defineInput } from '../../engine/component.js';
import { pipe } from '../io/pipes.js';

export default defineInput<string>({
  name: 'inproc',
  summary: 'Reads the batches an `inproc` output of the same name writes, from another stream of this process (sluice streams).',
  schema: { type: 'string', minLength: 1, description: 'The pipe name, shared with the inproc output that writes it.' },
  example: 'events',
  create(name) {
    const source = pipe(name);
    return {
      connect: async () => {},
      // The writer's ack is the read's: its write resolves once this stream delivered the batch.
      async read(signal) {
        const transfer = await source.take(signal);
        return transfer && { batch: [...transfer.batch], ack: transfer.ack };
      },
      close: async () => {},
    };
  },
});
