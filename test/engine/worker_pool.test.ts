// pipeline.threads above 1 with pure processors: the processors run on worker threads (the real
// CLI, so the real worker script), and what reaches the output is what one thread produces, in
// the same order, with the processor metrics counted.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Processor } from '../../src/engine/component.js';
import { Message } from '../../src/engine/message.js';
import { Metrics } from '../../src/engine/metrics.js';
import { WorkerPool } from '../../src/engine/worker_pool.js';
import { runCli } from '../support/cli.js';

const WORKER_SCRIPT = new URL('../../dist/processors_worker.js', import.meta.url);

const COUNT = 2000;
const INPUT = Array.from({ length: COUNT }, (_, i) => JSON.stringify({ n: i + 1, user: `u${(i + 1) % 7}` })).join('\n') + '\n';

function config(dir: string, threads: number, processors: string, out: string): string {
  const file = join(dir, `threads-${threads}-${out}.yaml`);
  writeFileSync(
    file,
    `
input: { stdin: {} }
pipeline:
  threads: ${threads}
  processors:
${processors}
output: { file: { path: ${JSON.stringify(join(dir, out))} } }
http: { enabled: false }
logger: { level: info, format: json }
`,
  );
  return file;
}

const MAPPINGS = `    - mapping: { expression: '{ "n": n, "key": $uppercase(user) & "-" & $string(n * 3), "odd": n % 2 = 1 }', compile: false }
    - mapping: 'n % 5 = 0 ? $deleted() : $merge([$, { "flag": odd ? "o" : "e" }])'`;

describe('pipeline.threads on worker threads', () => {
  it('gives the output one thread gives, in read order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-threads-'));
    const one = await runCli(['run', config(dir, 1, MAPPINGS, 'one.jsonl')], {}, INPUT);
    expect(one.code).toBe(0);
    const two = await runCli(['run', config(dir, 2, MAPPINGS, 'two.jsonl')], {}, INPUT);
    expect(two.code).toBe(0);
    expect(two.stderr).toMatch(/Processors run on 2 worker threads/);

    const lines = readFileSync(join(dir, 'two.jsonl'), 'utf8').trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { n: number; key: string; flag: string });
    // Every fifth message deleted, the rest in the order generated.
    expect(events.map((e) => e.n)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1).filter((n) => n % 5 !== 0));
    expect(events[0]).toEqual({ n: 1, key: 'U1-3', odd: true, flag: 'o' });
    expect(readFileSync(join(dir, 'two.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'one.jsonl'), 'utf8'));
  });

  it('keeps compiled mappings on the main thread, where copying to workers would cost more than it saves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-threads-'));
    const run = await runCli(['run', config(dir, 2, `    - mapping: '$merge([$, { "m": n * 2 }])'`, 'out.jsonl')], {}, INPUT);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/worker threads/);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n')).toHaveLength(COUNT);
  });

  it('counts each processor on the workers in the main registry, and flags what a worker failed on', async () => {
    const metrics = new Metrics();
    const processors = [{ label: 'half', mapping: { expression: '100 / n', compile: false } }, { mapping: '$ > 30 ? $deleted() : $' }];
    const pool = new WorkerPool(2, WORKER_SCRIPT, (thread) => ({ processors, baseDir: '.', secrets: [], thread }), metrics);
    try {
      const batch = [1, 2, 5].map((n) => Message.fromBytes(JSON.stringify({ n }), {}));
      const [out] = await Promise.all([pool.process(batch), pool.process([Message.fromBytes('{"n":"x"}', {})])]);
      expect(out!.flat().map((m) => m.json())).toEqual([20]);
      // The results derive from what was sent, so delivery failures trace back to the read.
      expect(out!.flat()[0]!.trace).toBe(batch[2]);
      const received = await metrics.registry.getSingleMetricAsString('processor_received');
      expect(received).toMatch(/processor_received\{label="half",path="pipeline.processors\[0\]"\} 4/);
      expect(received).toMatch(/processor_received\{label="",path="pipeline.processors\[1\]"\} 4/);
      expect(await metrics.registry.getSingleMetricAsString('processor_error')).toMatch(/processor_error\{label="half",path="pipeline.processors\[0\]"\} 1/);
    } finally {
      await pool.close();
    }
  });

  it('carries text and structured bodies, metadata and error flags both ways, each result traced to its origin', async () => {
    const processors = [{ mapping: { expression: '$', compile: false, meta: { seen: '"yes"' } } }, { mapping: "$.n = 2 ? $error('two') : $" }];
    const pool = new WorkerPool(1, WORKER_SCRIPT, (thread) => ({ processors, baseDir: '.', secrets: [], thread }), new Metrics());
    try {
      const flagged = Message.fromBytes('{"n":3,"s":"é\\n😀"}', { k: 'v' }).withError(new Error('earlier'));
      const batch = [Message.fromJSON({ n: 1 }), Message.fromBytes('{"n":2}', { a: 1 }), flagged, Message.fromBytes('', {})];
      const out = (await pool.process(batch)).flat();
      expect(out.map((m) => m.text())).toEqual(['{"n":1}', '{"n":2}', '{"n":3,"s":"é\\n😀"}', '']);
      expect(out.map((m, i) => m.trace === batch[i]!.trace)).toEqual([true, true, true, true]);
      expect(out.map((m) => m.metadata)).toEqual([{ seen: 'yes' }, { a: 1, seen: 'yes' }, { k: 'v', seen: 'yes' }, { seen: 'yes' }]);
      expect(out.map((m) => m.error?.message)).toEqual([undefined, expect.stringMatching(/two/), 'earlier', undefined]);
      // The flag the worker kept is the main thread's own error object.
      expect(out[2]!.error).toBe(flagged.error);
    } finally {
      await pool.close();
    }
  });

  it('runs batches on the processors built on this thread until a worker is ready, then on the workers', async () => {
    // `local` marks what it processed; the workers run the same mapping without the mark.
    let localClosed = false;
    const local: Processor = {
      process: (batch) => [batch.map((m) => m.withJSON({ n: (m.json() as { n: number }).n * 2, local: true }))],
      close: async () => {
        localClosed = true;
      },
    };
    const processors = [{ mapping: { expression: '{ "n": n * 2 }', compile: false } }];
    const pool = new WorkerPool(2, WORKER_SCRIPT, (thread) => ({ processors, baseDir: '.', secrets: [], thread }), new Metrics(), local);
    try {
      const results: unknown[] = [];
      // The first batch comes before any worker can have loaded its modules.
      for (let n = 1; results.length === 0 || (results.at(-1) as { local?: boolean }).local; n++) {
        const out = await pool.process([Message.fromBytes(JSON.stringify({ n }), {})]);
        results.push(...out.flat().map((m) => m.json()));
        if (n > 100_000) throw new Error('no worker became ready');
        if ((results.at(-1) as { local?: boolean }).local) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(results[0]).toEqual({ n: 2, local: true });
      expect(results.at(-1)).toEqual({ n: 2 * results.length });
      // Once a worker is ready, batches stay on the workers.
      for (let n = results.length + 1; n <= results.length + 20; n++) {
        const out = await pool.process([Message.fromBytes(JSON.stringify({ n }), {})]);
        expect(out.flat().map((m) => m.json())).toEqual([{ n: 2 * n }]);
      }
    } finally {
      await pool.close();
    }
    expect(localClosed).toBe(true);
  });

  it('keeps running batches on this thread while no worker gets ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-threads-'));
    const never = join(dir, 'never_ready.mjs');
    writeFileSync(never, 'setInterval(() => {}, 60_000);\n');
    const local: Processor = { process: (batch) => [batch.map((m) => m.withJSON({ local: m.json() }))], close: async () => {} };
    const pool = new WorkerPool(2, pathToFileURL(never), () => ({}), new Metrics(), local);
    try {
      for (let i = 0; i < 5; i++) {
        const out = await pool.process([Message.fromJSON(i)]);
        expect(out.flat().map((m) => m.json())).toEqual([{ local: i }]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await pool.close();
    }
  });

  it('keeps a processor that is not pure on the main thread, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-threads-'));
    const processors = `    - mapping: { expression: '$', compile: false }\n    - archive: { format: json_array }`;
    const run = await runCli(['run', config(dir, 2, processors, 'out.jsonl')], {}, INPUT);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/archive cannot run on a worker thread/);
    const arrays = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown[]);
    expect(arrays.flat()).toHaveLength(COUNT);
  });
});
