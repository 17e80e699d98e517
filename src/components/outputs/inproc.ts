import { defineOutput } from '../../engine/component.js';
import { DeliveryError, Undeliverable } from '../../engine/delivery.js';
import type { Message } from '../../engine/message.js';
import { pipe } from '../io/pipes.js';

/** Writes in flight at once: the reading stream takes them in order; each waits for its ack. */
const MAX_IN_FLIGHT = 64;

export default defineOutput<string>({
  name: 'inproc',
  summary:
    'Hands batches to the `inproc` input of the same name in another stream of this process (sluice streams); a write completes once that stream delivered them.',
  schema: { type: 'string', minLength: 1, description: 'The pipe name, shared with the inproc input that reads it.' },
  example: 'events',
  create(name) {
    const target = pipe(name);
    return {
      connect: async () => {},
      maxInFlight: MAX_IN_FLIGHT,
      /**
       * Resolves once the reading stream acked the batch (back-pressure: it waits for a reader).
       * What that stream gave up is given up here too; anything else it failed is to be sent again.
       */
      write(batch: readonly Message[], signal: AbortSignal) {
        return new Promise<void>((resolve, reject) => {
          let settled = false;
          const onAbort = () => {
            if (settled) return;
            // Taken already: the reader owns it now, and its ack still comes (and is ignored).
            remove();
            settled = true;
            reject(new Error('inproc output closed before the batch was delivered'));
          };
          const remove = target.push({
            batch,
            ack: (err) => {
              if (settled) return;
              settled = true;
              signal.removeEventListener('abort', onAbort);
              if (!err) return resolve();
              if (err instanceof Undeliverable) {
                const givenUp = err.items.flatMap((item) => {
                  const message = item.index === undefined ? undefined : batch[item.index];
                  return message ? [{ message, kind: item.kind, reason: item.reason }] : [];
                });
                // An item not traced to a message: nothing is known of it; send the batch again, less what is known final.
                const untraced = err.items.some((item) => item.index === undefined || batch[item.index] === undefined);
                const final = new Set(givenUp.map((g) => g.message));
                return reject(new DeliveryError(err.message, { undelivered: untraced ? batch.filter((m) => !final.has(m)) : [], givenUp }));
              }
              reject(err);
            },
          });
          signal.addEventListener('abort', onAbort, { once: true });
        });
      },
      close: async () => {},
    };
  },
});
