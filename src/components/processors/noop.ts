import { defineProcessor, processor } from '../../engine/component.js';

export default defineProcessor<Record<string, never>>({
  name: 'noop',
  pure: true,
  summary: 'Passes every batch on unchanged (a placeholder, e.g. a switch case that needs no processing).',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  example: {},
  create: () => processor((batch) => [batch.slice()]),
});
