import { defineProcessor, type Processor } from '../../engine/component.js';

export default defineProcessor<string>({
  name: 'resource',
  summary: 'Runs the processor of processor_resources with this label.',
  schema: { type: 'string', minLength: 1, description: 'The label of a processor in processor_resources (or a -r resources file).' },
  example: 'my_processor',
  create(label, { build }) {
    let target: Processor | undefined;
    const resolve = () => (target ??= build.resource('processor', label));
    return {
      process: (batch) => resolve().process(batch),
      // The resource is shared: the pipeline closes it, not each reference.
      close: async () => {},
    };
  },
});
