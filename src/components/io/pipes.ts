// The named pipes that connect `inproc` outputs to `inproc` inputs of the streams running in this
// process. A batch is handed over with its ack: the writer learns what the reading stream did with it.
import type { Ack } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';

export interface Transfer {
  readonly batch: readonly Message[];
  /** Called once by the reader, as the reading stream acks the read (see Ack). */
  readonly ack: Ack;
}

/**
 * One name's pipe: batches waiting for a reader, and readers waiting for a batch. A reader told to
 * stop still takes what writers hand over until every batch written is acked: streams stop
 * together, and a stream stopping upstream still delivers what it has in flight.
 */
export class Pipe {
  #queue: Transfer[] = [];
  #readers: ((transfer: Transfer | null) => void)[] = [];
  /** Batches written and not yet acked (queued, or taken and in the reading stream). */
  #unacked = 0;

  /** Hands a batch to the next reader, or queues it until one comes. Returns a remover for a batch not yet taken. */
  push(transfer: Transfer): () => boolean {
    this.#unacked++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.#unacked--;
      if (this.#unacked === 0) this.#wakeStopped();
      return true;
    };
    const tracked: Transfer = {
      batch: transfer.batch,
      ack: (err, buffered) => {
        settle();
        transfer.ack(err, buffered);
      },
    };
    const reader = this.#readers.shift();
    if (reader) {
      reader(tracked);
      return () => false;
    }
    this.#queue.push(tracked);
    return () => {
      const i = this.#queue.indexOf(tracked);
      if (i === -1) return false;
      this.#queue.splice(i, 1);
      return settle();
    };
  }

  /**
   * The next batch. Once `signal` aborts: null when no batch written is left unacked, else the
   * next batch still written (or null once they are all acked).
   */
  take(signal: AbortSignal): Promise<Transfer | null> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (signal.aborted && this.#unacked === 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const reader = (transfer: Transfer | null) => {
        signal.removeEventListener('abort', onAbort);
        resolve(transfer);
      };
      const onAbort = () => {
        if (this.#unacked > 0) return;
        const i = this.#readers.indexOf(reader);
        if (i !== -1) this.#readers.splice(i, 1);
        resolve(null);
      };
      (reader as Waiting).stopped = () => signal.aborted;
      this.#readers.push(reader);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Batches written and not yet taken. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Every batch is acked: readers told to stop end now. */
  #wakeStopped(): void {
    const stopped = this.#readers.filter((r) => (r as Waiting).stopped?.());
    this.#readers = this.#readers.filter((r) => !stopped.includes(r));
    for (const reader of stopped) reader(null);
  }
}

type Waiting = ((transfer: Transfer | null) => void) & { stopped?: () => boolean };

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
