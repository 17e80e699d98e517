import { defineProcessor } from '../../engine/component.js';
import { createMapping } from './mapping.js';

/** Connect's `mutation`: a Bloblang mapping that edits the message's document in place of building a new one. */
export default defineProcessor<string>({
  name: 'mutation',
  pure: true,
  summary:
    'Connect\'s `mutation`: runs a Bloblang mapping on each message where `root` starts as the input document and `this` reads it as changed so far; metadata as in `mapping`.',
  schema: {
    type: 'string',
    description:
      'A Bloblang mapping (`root.a = ...`, `root.b = deleted()`, `meta k = ...`): fields it does not assign keep their input values, and statements see the changes of those before them (`this` is `root`). `root = deleted()` drops the message. Failures flag the message as `mapping` failures do.',
  },
  example: 'root.id = uuid_v4()\nroot.password = deleted()',
  create: (config, settings) => createMapping({ expression: config, lang: 'bloblang' }, settings, 'bloblang', true),
});
