// The named pipes that connect `inproc` outputs to `inproc` inputs of the streams running in this
// process. A batch is handed over with its ack: the writer learns what the reading stream did with it.
import type { Ack } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';

export interface Transfer {
  readonly batch: readonly Message[];
  /** Called once by the reader, as the reading stream acks the read (see Ack). */
  readonly ack: Ack;
}

/** One name's pipe: batches waiting for a reader, and readers waiting for a batch. */
export class Pipe {
  #queue: Transfer[] = [];
  #readers: ((transfer: Transfer) => void)[] = [];

  /** Hands a batch to the next reader, or queues it until one comes. Returns a remover for a batch not yet taken. */
  push(transfer: Transfer): () => boolean {
    const reader = this.#readers.shift();
    if (reader) {
      reader(transfer);
      return () => false;
    }
    this.#queue.push(transfer);
    return () => {
      const i = this.#queue.indexOf(transfer);
      if (i === -1) return false;
      this.#queue.splice(i, 1);
      return true;
    };
  }

  /** The next batch, or null once `signal` aborts. */
  take(signal: AbortSignal): Promise<Transfer | null> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const reader = (transfer: Transfer) => {
        signal.removeEventListener('abort', onAbort);
        resolve(transfer);
      };
      const onAbort = () => {
        const i = this.#readers.indexOf(reader);
        if (i !== -1) this.#readers.splice(i, 1);
        resolve(null);
      };
      this.#readers.push(reader);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Batches written and not yet taken. */
  get waiting(): number {
    return this.#queue.length;
  }
}

const pipes = new Map<string, Pipe>();

/** The pipe of `name` in this process (created on first use, by either end). */
export function pipe(name: string): Pipe {
  let found = pipes.get(name);
  if (!found) {
    found = new Pipe();
    pipes.set(name, found);
  }
  return found;
}
