import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineProcessor } from '../../src/engine/component.js';
import { memoryComponents, memoryState } from '../support/memory.js';
import { pipelineFromYaml } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

const bodies = (writes: { json(): unknown }[][]) => writes.map((batch) => batch.map((m) => m.json()));

describe('pipeline runner', () => {
  it('delivers every message in read order and acks each read once', async () => {
    const state = memoryState([[1, 2], [3], [4, 5, 6]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { threads: 4, processors: [ { mapping: '$ * 10' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const result = await pipeline.run(new AbortController().signal);
    expect(result.undelivered).toBe(0);
    expect(bodies(state.output.writes)).toEqual([[10, 20], [30], [40, 50, 60]]);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok']);
  });

  it('acks a filtered read without writing it', async () => {
    const state = memoryState([[1], [2], [3]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { processors: [ { mapping: '$ = 2 ? $deleted() : $' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(bodies(state.output.writes)).toEqual([[1], [3]]);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok']);
  });

  it('replays a failed batch without re-running the processors, so ids stay the same', async () => {
    const state = memoryState([[{ n: 1 }], [{ n: 2 }]]);
    state.output.failAttempts = new Set([1, 2, 3]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { processors: [ { mapping: '{ "id": $uuid_v4(), "n": n }' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(state.output.attempts).toBe(5);
    const delivered = bodies(state.output.writes).flat() as { id: string; n: number }[];
    expect(delivered.map((e) => e.n).sort()).toEqual([1, 2]);
    const processed = await metrics.registry.getSingleMetricAsString('processor_received');
    // Each message went through the mapping exactly once, however often it was written.
    expect(processed).toMatch(/processor_received\{label="",path="pipeline.processors\[0\]"\} 2/);
    expect(state.input.acks).toEqual(['ok', 'ok']);
  });

  it('runs at most max_in_flight writes at once', async () => {
    const state = memoryState(Array.from({ length: 40 }, (_, i) => [i]));
    state.output.delayMs = 5;
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
output: { memory: { max_in_flight: 3 } }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(state.output.maxConcurrent).toBe(3);
    expect(state.output.writes.flat()).toHaveLength(40);
  });

  it('flushes a partial batch on shutdown and acks its reads', async () => {
    const state = memoryState([[1], [2], [3]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: { keep_open: true } }
output: { memory: { batching: { count: 100, period: 1h } } }
`,
      memoryComponents(state.input, state.output),
    );
    const stop = new AbortController();
    const running = pipeline.run(stop.signal);
    await waitUntil('three reads', () => state.input.reads === 3);
    expect(state.output.writes).toEqual([]);
    stop.abort();
    const result = await running;
    expect(result.undelivered).toBe(0);
    expect(bodies(state.output.writes)).toEqual([[1, 2, 3]]);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok']);
  });

  it('gives up at the shutdown timeout, nacking and counting what was not delivered', async () => {
    const state = memoryState([[1, 2], [3]]);
    state.output.failAttempts = new Set(Array.from({ length: 10_000 }, (_, i) => i + 1));
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: { keep_open: true } }
output: { memory: {} }
shutdown_timeout: 200ms
`,
      memoryComponents(state.input, state.output),
    );
    const stop = new AbortController();
    const running = pipeline.run(stop.signal);
    await waitUntil('four write attempts', () => state.output.attempts >= 4);
    stop.abort();
    const started = Date.now();
    const result = await running;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.undelivered).toBe(3);
    expect(state.input.acks).toEqual(['shutdown timeout reached before delivery', 'shutdown timeout reached before delivery']);
  });

  it('strict error handling gives flagged messages up, tells their read which, and sends the rest', async () => {
    const state = memoryState([[{ a: 1 }, { b: 2 }]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { processors: [ { mapping: 'a ? a : $error("no a")' } ] }
output: { memory: {} }
error_handling: { strict: true }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(bodies(state.output.writes)).toEqual([[1]]);
    expect(state.input.acks[0]).toBe('undeliverable 1:rejected');
  });

  it('without strict mode a failed mapping passes the original message on, flagged', async () => {
    const state = memoryState([[{ b: 2 }]]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { processors: [ { mapping: 'a ? a : $error("no a")' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(bodies(state.output.writes)).toEqual([[{ b: 2 }]]);
    expect(state.output.writes[0]![0]!.error?.message).toMatch(/no a/);
    expect(await metrics.registry.getSingleMetricAsString('processor_error')).toMatch(/ 1$/m);
  });
});

describe('output batching', () => {
  it('flushes by count, keeps order, and acks every read exactly once (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 12 }),
        async (sizes, count) => {
          let next = 0;
          const batches = sizes.map((n) => Array.from({ length: n }, () => next++));
          const state = memoryState(batches);
          const { pipeline } = pipelineFromYaml(
            `
input: { memory: {} }
output: { memory: { batching: { count: ${count} } } }
`,
            memoryComponents(state.input, state.output),
          );
          await pipeline.run(new AbortController().signal);
          const written = bodies(state.output.writes);
          // Order is kept and nothing is lost or duplicated.
          expect(written.flat()).toEqual(Array.from({ length: next }, (_, i) => i));
          if (count === 1) {
            // `count: 1` alone is no batching at all (as Connect): batches pass through as read.
            expect(written.map((b) => b.length)).toEqual(sizes);
          } else {
            // A flush happens as soon as count is reached, and never holds more than count.
            for (const batch of written.slice(0, -1)) expect(batch.length).toBe(count);
            expect(written.at(-1)!.length).toBeLessThanOrEqual(count);
          }
          expect(state.input.acks).toEqual(batches.map(() => 'ok'));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('flushes a partial batch when period has passed since the last flush', async () => {
    const state = memoryState([[1], [2]]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: { keep_open: true } }
output: { memory: { batching: { count: 10, period: 50ms } } }
`,
      memoryComponents(state.input, state.output),
    );
    const stop = new AbortController();
    const running = pipeline.run(stop.signal);
    await waitUntil('the period flush', () => state.output.writes.length === 1);
    expect(bodies(state.output.writes)).toEqual([[1, 2]]);
    expect(await metrics.registry.getSingleMetricAsString('batch_created')).toMatch(/mechanism="period"\} 1/);
    stop.abort();
    await running;
  });

  it('runs batching processors at flush time: archive makes one JSON array per batch', async () => {
    const state = memoryState([[{ a: 1 }, { a: 2 }, { a: 3 }]]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: {} }
output:
  memory:
    batching:
      count: 2
      processors:
        - archive: { format: json_array }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    // The read of 3 is split at count: no request carries more than 2 events.
    expect(state.output.writes.map((b) => b.map((m) => m.text()))).toEqual([['[{"a":1},{"a":2}]'], ['[{"a":3}]']]);
    // output_sent counts the events in the archives, not the requests.
    expect(await metrics.registry.getSingleMetricAsString('output_sent')).toMatch(/ 3$/m);
    expect(await metrics.registry.getSingleMetricAsString('output_batch_sent')).toMatch(/ 2$/m);
  });

  it('flushes when the check expression is true', async () => {
    const state = memoryState([[1], [2], [3], [4]]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
output: { memory: { batching: { count: 100, check: '$ = 2' } } }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(bodies(state.output.writes)).toEqual([[1, 2], [3, 4]]);
  });
});

describe('reads processed at once (pipeline.threads)', () => {
  it('keeps processing later reads while an earlier one is slow, and still delivers in read order', async () => {
    // The first read is held in its processor until released; with threads: 2, the reads after it
    // must be processed meanwhile (up to the engine's bound), not wait behind it.
    const state = memoryState([['slow'], ['a'], ['b'], ['c']]);
    const processed: unknown[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = defineProcessor<Record<string, never>>({
      name: 'holding',
      summary: 'test processor: holds the message "slow" until released',
      schema: { type: 'object', additionalProperties: false, properties: {} },
      example: {},
      create: () => ({
        async process(batch) {
          if (batch[0]!.json() === 'slow') await released;
          processed.push(...batch.map((m) => m.json()));
          return [[...batch]];
        },
        close: async () => {},
      }),
    });
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
pipeline: { threads: 2, processors: [ { holding: {} } ] }
output: { memory: {} }
`,
      [...memoryComponents(state.input, state.output), holding],
    );
    const run = pipeline.run(new AbortController().signal);
    await waitUntil('the three later reads processed', () => processed.length === 3);
    expect(processed).toEqual(['a', 'b', 'c']);
    expect(state.output.writes).toEqual([]);
    release();
    const result = await run;
    expect(result.undelivered).toBe(0);
    expect(bodies(state.output.writes)).toEqual([['slow'], ['a'], ['b'], ['c']]);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
});

describe('reads of several batches (ReadResult.batches)', () => {
  it('processes each batch on its own, delivers them in order, and acks each read once', async () => {
    // 7 batches, 3 per read: reads of 3, 3 and 1 batches.
    const state = memoryState([[1, 2], [3], [4, 5, 6], [7], [8, 9], [10], [11]]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: { per_read: 3 } }
pipeline: { processors: [ { mapping: '{ "n": $, "size": $batch_size() }' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const result = await pipeline.run(new AbortController().signal);
    expect(result.undelivered).toBe(0);
    const written = bodies(state.output.writes) as { n: number; size: number }[][];
    // Each batch reached the output as a batch of its own, seen by the mapping at its own size.
    expect(written.map((b) => b.map((e) => e.n))).toEqual([[1, 2], [3], [4, 5, 6], [7], [8, 9], [10], [11]]);
    expect(written.flat().map((e) => e.size)).toEqual([2, 2, 1, 3, 3, 3, 1, 2, 2, 1, 1]);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok']);
    expect(await metrics.registry.getSingleMetricAsString('processor_batch_received')).toMatch(/ 7$/m);
  });

  it('acks such a read once, after replays of its batches were delivered', async () => {
    const state = memoryState([[1, 2], [3], [4, 5, 6], [7], [8, 9], [10], [11]]);
    state.output.failAttempts = new Set([2, 5, 6]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: { per_read: 3 } }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const result = await pipeline.run(new AbortController().signal);
    expect(result.undelivered).toBe(0);
    expect(bodies(state.output.writes).flat().sort((a, b) => (a as number) - (b as number))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(state.output.attempts).toBe(10);
    expect(state.input.acks).toEqual(['ok', 'ok', 'ok']);
  });

  it('into a batching output: every message exactly once, in order while nothing fails, each read acked once (property)', async () => {
    // A read of several batches is handed to the batcher in one submission; replays then carry the
    // joined rest. A replay after the drain's last flush (no period to flush it) is flushed too.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 9 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 4 }),
        async (sizes, perRead, count, failing) => {
          let next = 0;
          const batches = sizes.map((n) => Array.from({ length: n }, () => next++));
          const state = memoryState(batches);
          state.output.failAttempts = new Set(failing);
          const { pipeline } = pipelineFromYaml(
            `
input: { memory: { per_read: ${perRead} } }
output: { memory: { batching: { count: ${count} } } }
`,
            memoryComponents(state.input, state.output),
          );
          expect((await pipeline.run(new AbortController().signal)).undelivered).toBe(0);
          const written = bodies(state.output.writes).flat() as number[];
          const all = Array.from({ length: next }, (_, i) => i);
          if (failing.length === 0) expect(written).toEqual(all);
          else expect([...written].sort((a, b) => a - b)).toEqual(all);
          for (const batch of state.output.writes) expect(batch.length).toBeLessThanOrEqual(count);
          expect(state.input.acks).toEqual(Array.from({ length: Math.ceil(batches.length / perRead) }, () => 'ok'));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('generate as fast as possible hands over many messages per read, each message a batch of its own', async () => {
    const state = memoryState([]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { generate: { mapping: 'root.n = counter()', interval: '', count: 250, batch_size: 1 } }
pipeline: { processors: [ { mapping: '{ "n": n, "size": $batch_size() }' } ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    const written = bodies(state.output.writes) as { n: number; size: number }[][];
    expect(written.map((b) => b.length)).toEqual(Array(250).fill(1));
    const ns = written.flat().map((e) => e.n);
    expect(ns).toEqual(Array.from({ length: 250 }, (_, i) => ns[0]! + i));
    expect(written.flat().every((e) => e.size === 1)).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString('processor_batch_received')).toMatch(/ 250$/m);
    // Fewer reads than messages: received counts messages, so compare with the input's read count instead.
    expect(await metrics.registry.getSingleMetricAsString('input_received')).toMatch(/ 250$/m);
  });
});
