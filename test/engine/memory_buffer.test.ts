import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryComponents, memoryState } from '../support/memory.js';
import { gateSpec } from '../support/outputs.js';
import { pipelineFromYaml } from '../support/pipeline.js';
import { waitFor } from '../support/wait.js';

describe('buffer.memory', () => {
  it('acks reads once held, up to limit bytes; then the input waits until the output takes some', async () => {
    const memory = memoryState(Array.from({ length: 10 }, (_, i) => [{ i }]));
    const out = gateSpec(4);
    // Each message is 7 bytes ({"i":0}): 3 fit in 21 bytes, the output holds 4 writes in flight.
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { memory: { keep_open: true } }
pipeline: { threads: 1 }
buffer: { memory: { limit: 21 } }
output: { gate: {} }
`,
      [...memoryComponents(memory.input, memory.output).filter((c) => c.kind === 'input'), out.spec],
    );
    const stop = new AbortController();
    const running = pipeline.run(stop.signal);
    await waitFor('three reads acked', () => (memory.input.acks.filter((a) => a === 'ok').length === 3 ? true : undefined));
    // The fourth read is not acked: the buffer is full, nothing was delivered.
    expect(memory.input.acks.filter((a) => a === 'ok').length).toBe(3);
    expect(out.state.writes).toHaveLength(0);
    // Nor is more read than the engine lets wait for the output (2 x threads): the rest stays at the source.
    await waitFor('the read loop blocked', () => (memory.input.reads === 5 ? true : undefined));
    expect(memory.input.reads).toBe(5);
    expect(await metrics.exposition()).toMatch(/buffer_memory_bytes\{[^}]*\} 21/);
    out.state.release();
    await waitFor('every read acked', () => (memory.input.acks.filter((a) => a === 'ok').length === 10 ? true : undefined));
    await waitFor('everything delivered', () => (out.state.writes.flat().length === 10 ? true : undefined));
    expect(out.state.writes.flat().map((m) => m.json())).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })));
    stop.abort();
    await running;
  });

  it('batches what leaves it with batch_policy', async () => {
    const memory = memoryState(Array.from({ length: 7 }, (_, i) => [{ i }]));
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
buffer: { memory: { batch_policy: { enabled: true, count: 3, processors: [ { archive: { format: json_array } } ] } } }
output: { memory: {} }
`,
      memoryComponents(memory.input, memory.output),
    );
    await pipeline.run(new AbortController().signal);
    const bodies = memory.output.writes.map((batch) => batch.map((m) => m.text()));
    expect(bodies).toEqual([['[{"i":0},{"i":1},{"i":2}]'], ['[{"i":3},{"i":4},{"i":5}]'], ['[{"i":6}]']]);
  });

  it('replays what the output failed, acked reads included', async () => {
    const memory = memoryState([[{ a: 1 }], [{ a: 2 }]]);
    memory.output.failAttempts = new Set([1, 2]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
buffer: { memory: {} }
output: { memory: {} }
`,
      memoryComponents(memory.input, memory.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(memory.input.acks).toEqual(['ok', 'ok']);
    expect(memory.output.writes.flat().map((m) => m.json())).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('a batch_policy with processors and no trigger is a config problem', () => {
    const memory = memoryState([]);
    expect(() =>
      pipelineFromYaml(
        `
input: { memory: {} }
buffer: { memory: { batch_policy: { enabled: true, processors: [ { archive: { format: json_array } } ] } } }
output: { memory: {} }
`,
        memoryComponents(memory.input, memory.output),
      ),
    ).toThrow(/buffer\.memory\.batch_policy: batch policy must have at least one active trigger/);
  });
});

describe('buffer.sqlite.post_processors', () => {
  it('run on what leaves the buffer, before the output (a processor splitting batches, as the preset does)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-post-'));
    const memory = memoryState([Array.from({ length: 5 }, (_, i) => ({ i }))]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
buffer:
  sqlite:
    path: ${join(dir, 'b.db')}
    post_processors:
      - mapping: '$merge([$, { "post": true }])'
output: { memory: {} }
`,
      memoryComponents(memory.input, memory.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(memory.output.writes.flat().map((m) => m.json())).toEqual(Array.from({ length: 5 }, (_, i) => ({ i, post: true })));
  });

  it('split: { size } as the preset configures it: what leaves the buffer reaches the output in batches of at most size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-post-'));
    const memory = memoryState([Array.from({ length: 7 }, (_, i) => ({ i }))]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
buffer: { sqlite: { path: ${join(dir, 'b.db')}, post_processors: [ { label: buffer_split_batch, split: { size: 3 } } ] } }
output: { memory: {} }
`,
      memoryComponents(memory.input, memory.output),
    );
    await pipeline.run(new AbortController().signal);
    expect(memory.output.writes.map((w) => w.length)).toEqual([3, 3, 1]);
    expect(memory.output.writes.flat().map((m) => m.json())).toEqual(Array.from({ length: 7 }, (_, i) => ({ i })));
  });
});
