import { defineProcessor } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { runProcessors } from '../../engine/processors.js';

export default defineProcessor<unknown[]>({
  name: 'catch',
  summary: 'Runs its processors on messages a previous processor flagged as failed, then clears the flag.',
  schema: { type: 'array', items: { 'x-component': 'processor' }, description: 'Processors run on the failed messages only.' },
  example: [{ log: { level: 'ERROR', message: 'mapping failed: ${! $error_message() }' } }],
  create(configs, { build, path }) {
    const children = build.processors(configs, path);
    return {
      async process(batch) {
        const failed = batch.filter((m) => m.error !== undefined);
        if (failed.length === 0) return [batch.slice()];
        const handled = (await runProcessors(children, [failed])).flat().map((m) => m.withError(undefined));
        // Put the handled messages back where the failed ones were when the children kept them one to one.
        if (handled.length !== failed.length) return [[...batch.filter((m) => m.error === undefined), ...handled]];
        let next = 0;
        const out: Message[] = batch.map((m) => (m.error === undefined ? m : handled[next++]!));
        return [out];
      },
      close: async () => {
        await Promise.all(children.map((c) => c.close()));
      },
    };
  },
});
