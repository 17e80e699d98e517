// In-memory input and output components for engine tests: registered next to the real ones so
// tests drive the engine through YAML, exactly as users do.
import { batchingSchema } from '../../src/engine/batching.js';
import { defineInput, defineOutput, type ComponentSpec } from '../../src/engine/component.js';
import { Undeliverable } from '../../src/engine/delivery.js';
import { Message } from '../../src/engine/message.js';
import { sleep } from '../../src/engine/sleep.js';

/** What a memory input read and how each read was acknowledged. */
export interface MemoryInputState {
  batches: unknown[][];
  acks: (string | undefined)[];
  /** Resolves when every batch was read. */
  reads: number;
}

/** What a memory output received. */
export interface MemoryOutputState {
  writes: Message[][];
  attempts: number;
  maxConcurrent: number;
  /** Fail these attempt numbers (1-based). */
  failAttempts: Set<number>;
  delayMs: number;
}

export function memoryComponents(input: MemoryInputState, output: MemoryOutputState): ComponentSpec[] {
  let concurrent = 0;
  return [
    defineInput<{ keep_open: boolean; per_read: number }>({
      name: 'memory',
      summary: 'test input',
      schema: {
        type: 'object',
        additionalProperties: false,
        // per_read above 1: a read hands over that many of the batches at once (ReadResult.batches), with one ack.
        properties: { keep_open: { type: 'boolean', default: false }, per_read: { type: 'integer', minimum: 1, default: 1 } },
      },
      example: {},
      create: ({ keep_open, per_read }) => ({
        connect: async () => {},
        async read(signal) {
          const first = input.reads * per_read;
          const next = input.batches[first];
          if (next === undefined) {
            if (!keep_open) return null;
            await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
            return null;
          }
          const index = input.reads++;
          const batches = input.batches.slice(first, first + per_read).map((b) => b.map((body) => Message.fromJSON(body)));
          return {
            batch: batches.flat(),
            ...(per_read > 1 ? { batches } : {}),
            // 'ok'; or for messages given up, e.g. 'undeliverable 3:dropped' (index in the read, kind); or the error.
            ack: (err) => {
              input.acks[index] = !err ? 'ok' : err instanceof Undeliverable ? `undeliverable ${err.items.map((i) => `${i.index}:${i.kind}`).join(',')}` : err.message;
            },
          };
        },
        close: async () => {},
      }),
    }),
    defineOutput<{ max_in_flight: number }>({
      name: 'memory',
      summary: 'test output',
      schema: { type: 'object', additionalProperties: false, properties: { max_in_flight: { type: 'integer', default: 1 }, batching: batchingSchema } },
      example: {},
      create: ({ max_in_flight }) => ({
        maxInFlight: max_in_flight,
        connect: async () => {},
        async write(batch) {
          const attempt = ++output.attempts;
          concurrent++;
          output.maxConcurrent = Math.max(output.maxConcurrent, concurrent);
          try {
            if (output.delayMs > 0) await sleep(output.delayMs);
            if (output.failAttempts.has(attempt)) throw new Error(`attempt ${attempt} failed`);
            output.writes.push([...batch]);
          } finally {
            concurrent--;
          }
        },
        close: async () => {},
      }),
    }),
  ];
}

export function memoryState(batches: unknown[][]): { input: MemoryInputState; output: MemoryOutputState } {
  return {
    input: { batches, acks: [], reads: 0 },
    output: { writes: [], attempts: 0, maxConcurrent: 0, failAttempts: new Set(), delayMs: 0 },
  };
}
