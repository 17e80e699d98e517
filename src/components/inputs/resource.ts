import { defineInput, type Input } from '../../engine/component.js';

export default defineInput<string>({
  name: 'resource',
  summary: 'Reads from the input of input_resources with this label.',
  schema: { type: 'string', minLength: 1, description: 'The label of an input in input_resources (or a -r resources file).' },
  example: 'my_input',
  create(label, { build }) {
    let target: Input | undefined;
    const resolve = () => (target ??= build.resource('input', label));
    return {
      connect: (signal) => resolve().connect(signal),
      read: (signal) => resolve().read(signal),
      close: async () => target?.close(),
    };
  },
});
