import { defineProcessor } from '../../engine/component.js';
import { createMapping } from './mapping.js';

/** Connect's older name for `mapping`, always Bloblang: Connect configs run as they are. */
export default defineProcessor<string>({
  name: 'bloblang',
  pure: true,
  summary: 'Connect\'s alias of `mapping` for a Bloblang mapping: replaces each message body with `root`, sets metadata with `meta k = ...`.',
  schema: {
    type: 'string',
    description: 'A Bloblang mapping (`root = ...`, `meta k = ...`, `let x = ...`). Failures flag the message as `mapping` failures do.',
  },
  example: 'root = this\nroot.id = uuid_v4()',
  create: (config, settings) => createMapping({ expression: config, lang: 'bloblang' }, settings, 'bloblang'),
});
