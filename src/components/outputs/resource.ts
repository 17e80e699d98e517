import { defineOutput, type Output } from '../../engine/component.js';

export default defineOutput<string>({
  name: 'resource',
  summary: 'Writes to the output of output_resources with this label (its processors and batching included).',
  schema: { type: 'string', minLength: 1, description: 'The label of an output in output_resources (or a -r resources file).' },
  example: 'my_output',
  create(label, { build }) {
    let target: Output | undefined;
    const resolve = () => (target ??= build.resource('output', label));
    return {
      connect: (signal) => resolve().connect(signal),
      write: (batch, signal) => resolve().write(batch, signal),
      submit: (batch) => resolve().submit!(batch),
      flush: async () => target?.flush?.(),
      close: async () => target?.close(),
    };
  },
});
