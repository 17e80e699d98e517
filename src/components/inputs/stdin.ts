import { createInterface, type Interface } from 'node:readline';
import { text } from 'node:stream/consumers';
import { defineInput, type ReadResult } from '../../engine/component.js';
import { Message } from '../../engine/message.js';

interface StdinConfig {
  codec: 'lines' | 'all-bytes';
}

export default defineInput<StdinConfig>({
  name: 'stdin',
  summary: 'Reads messages from standard input: one per line, or the whole input as one message. The pipeline stops at end of input.',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      codec: { type: 'string', enum: ['lines', 'all-bytes'], default: 'lines', description: 'lines: a message per line (empty lines skipped); all-bytes: one message of everything.' },
    },
  },
  example: {},
  create({ codec }) {
    let lines: AsyncIterator<string> | undefined;
    let reader: Interface | undefined;
    let done = false;
    // One abort promise per signal: a listener per read would pile up on a long input.
    let watched: AbortSignal | undefined;
    let aborted: Promise<null> = new Promise(() => {});
    return {
      async connect() {},
      async read(signal): Promise<ReadResult | null> {
        if (done || signal.aborted) return null;
        if (codec === 'all-bytes') {
          done = true;
          const all = await text(process.stdin);
          return { batch: [Message.fromBytes(all)], ack: () => {} };
        }
        reader ??= createInterface({ input: process.stdin, crlfDelay: Infinity });
        lines ??= reader[Symbol.asyncIterator]();
        if (watched !== signal) {
          watched = signal;
          aborted = new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true }));
        }
        for (;;) {
          const next = await Promise.race([lines.next(), aborted]);
          if (next === null || next.done) {
            done = true;
            return null;
          }
          if (next.value !== '') return { batch: [Message.fromBytes(next.value)], ack: () => {} };
        }
      },
      async close() {
        done = true;
        reader?.close();
      },
    };
  },
});
