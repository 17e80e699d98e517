// Synchronous responses (Redpanda Connect's result store): an input that answers its clients
// (http_server) gives each message it reads a store; `sync_response` (the processor or the output)
// adds messages, in their current state, to the store of the read they derive from; the input
// answers with what the store holds once the read is acknowledged. Other inputs give no store, and
// `sync_response` then does nothing, as in Connect.
//
// The link is the message's trace (the message as the input read it): every copy a processor
// derives keeps it (mappings, catch, unarchive, messages back from worker threads), so one request
// unarchived into N messages answers with all N; an archive answers for its parts. A durable
// buffer stores bodies, not traces: responses must be set before it (in input or pipeline
// processors), which is also when the client is answered.
import type { Message } from './message.js';

/** The responses set for one read, in the order they were added. */
export class ResponseStore {
  readonly #batches: Message[][] = [];

  /** Called by sync_response with the messages of one batch that derive from this read. */
  add(batch: readonly Message[]): void {
    if (batch.length > 0) this.#batches.push([...batch]);
  }

  /** Each batch added, in order (Connect answers with the first batch's first message's status). */
  get batches(): readonly (readonly Message[])[] {
    return this.#batches;
  }

  get isEmpty(): boolean {
    return this.#batches.length === 0;
  }
}

const stores = new WeakMap<Message, ResponseStore>();

/** Called by an input as it reads: responses to these messages (and every message derived from them) go to `store`. */
export function expectResponses(batch: readonly Message[], store: ResponseStore): void {
  for (const message of batch) stores.set(message.trace, store);
}

/**
 * Adds each message of `batch` to the store of the read it derives from (one batch per store,
 * keeping their order). Messages whose read has no store are skipped. Returns how many were added.
 */
export function addResponses(batch: readonly Message[]): number {
  const grouped = new Map<ResponseStore, Message[]>();
  for (const message of batch) {
    // An archive answers for every read its parts derive from.
    const origins = message.parts ? new Set(message.parts.map((p) => stores.get(p.trace))) : new Set([stores.get(message.trace)]);
    for (const store of origins) {
      if (!store) continue;
      const list = grouped.get(store);
      if (list) list.push(message);
      else grouped.set(store, [message]);
    }
  }
  let added = 0;
  for (const [store, messages] of grouped) {
    store.add(messages);
    added += messages.length;
  }
  return added;
}
