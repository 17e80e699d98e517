// Drops messages whose key was seen within the cache's time to live (Redpanda Connect's `dedupe`):
// the first message of a key is added to the cache and passes; later ones are dropped (acked).
import { defineProcessor, type Cache } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';
import { compileInterpolation } from '../../mapping/interpolation.js';

interface DedupeConfig {
  cache: string;
  key: string;
  drop_on_err: boolean;
}

const SEEN = new Uint8Array([0x74]); // 't', as Connect stores

export default defineProcessor<DedupeConfig>({
  name: 'dedupe',
  summary: 'Drops messages whose key was already seen, by adding each key to a cache resource (duplicates within its time to live are dropped).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['cache', 'key'],
    properties: {
      cache: { type: 'string', 'x-resource': 'cache', description: 'The label of a cache resource (cache_resources) holding the keys seen.' },
      key: {
        type: 'string',
        'x-interpolated': true,
        description: 'The key of a message, interpolated: `${! $hash($content(), "xxhash64") }` (or Bloblang `${! content().hash("xxhash64") }`) for the whole body.',
      },
      drop_on_err: {
        type: 'boolean',
        default: true,
        description: 'Drop a message when its key cannot be computed or the cache fails; false passes it on, flagged.',
      },
    },
  },
  example: { cache: 'keys', key: '${! id }' },
  create({ cache: label, key, drop_on_err: dropOnErr }, { build, logger }) {
    let keyOf: ReturnType<typeof compileInterpolation>;
    try {
      keyOf = compileInterpolation(key);
    } catch (err) {
      throw Object.assign(err as Error, { field: 'key' });
    }
    let cache: Cache | undefined;
    return {
      async process(batch) {
        cache ??= build.resource('cache', label);
        const out: Message[] = [];
        for (let index = 0; index < batch.length; index++) {
          const message = batch[index]!;
          let added: boolean;
          try {
            added = await cache.add(await keyOf.render({ message, batch, index }), SEEN);
          } catch (err) {
            logger.error({ err: (err as Error).message }, dropOnErr ? 'Dedupe failed, the message is dropped.' : 'Dedupe failed, the message passes on flagged.');
            if (!dropOnErr) out.push(message.withError(err as Error));
            continue;
          }
          if (added) out.push(message);
          else logger.debug('Duplicate message dropped.');
        }
        return out.length > 0 ? [out] : [];
      },
      close: async () => {},
    };
  },
});
