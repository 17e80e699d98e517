import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Message } from '../../src/engine/message.js';
import { Metrics } from '../../src/engine/metrics.js';
import type { Sink } from '../../src/engine/sink.js';
import { SqliteBuffer } from '../../src/engine/sqlite_buffer.js';
import { startCli } from '../support/cli.js';
import { memoryComponents, memoryState } from '../support/memory.js';
import { pipelineFromYaml } from '../support/pipeline.js';
import { waitUntil } from '../support/wait.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-buffer-'));

describe('sqlite buffer', () => {
  it('commits batches submitted together in one transaction, delivering each only once its rows are committed', async () => {
    const dir = tempDir();
    const metrics = new Metrics();
    const held: Message[][] = [];
    // An output that never finishes: the rows stay in the file, where the test reads them.
    const output: Sink = {
      connect: async () => {},
      submit: (batch) => {
        held.push([...batch]);
        return { accepted: Promise.resolve(), delivered: new Promise<void>(() => {}) };
      },
      flush: async () => {},
      close: async () => {},
    };
    const buffer = new SqliteBuffer(output, { path: 'buffer.db', sync: 'normal', read_ahead: 1000 }, dir, pino({ level: 'silent' }), metrics);
    await buffer.connect(new AbortController().signal);
    const reader = new Database(join(dir, 'buffer.db'), { readonly: true });
    const stored = () => (reader.prepare('SELECT body FROM messages ORDER BY id').all() as { body: Buffer }[]).map((r) => JSON.parse(r.body.toString()) as { read: number; i: number });
    const reads = Array.from({ length: 8 }, (_, read) => Array.from({ length: read % 3 + 1 }, (_, i) => Message.fromJSON({ read, i })));
    const submissions = reads.map((batch) => buffer.submit(batch));
    const committedAtDelivery: number[] = [];
    await Promise.all(
      submissions.map((s, read) =>
        s.delivered.then(() => {
          // Delivered means durable: this read's own rows are in the file, as another connection sees it.
          committedAtDelivery.push(stored().filter((row) => row.read === read).length);
        }),
      ),
    );
    expect(committedAtDelivery).toEqual(reads.map((batch) => batch.length));
    // Every read in order, each read's messages in order.
    expect(stored()).toEqual(reads.flat().map((m) => m.json()));
    // Each read learns where its last message was committed: increasing, one per read.
    const seqs = submissions.map((s) => s.position!.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(reads.length);
    const exposition = await metrics.exposition();
    const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(exposition)?.[1]);
    expect(value('buffer_batch_received')).toBe(reads.length);
    expect(value('buffer_received')).toBe(reads.flat().length);
    // Group commit: the eight reads shared one transaction.
    expect(value('buffer_commits')).toBe(1);
    reader.close();
    await buffer.close();
  });

  it('acks at commit, keeps what the output did not take, and sends the same bytes after a restart', async () => {
    const dir = tempDir();
    const first = memoryState([[{ n: 1 }, { n: 2 }], [{ n: 3 }]]);
    first.output.failAttempts = new Set(Array.from({ length: 1000 }, (_, i) => i + 1));
    const yaml = (input: string) => `
input: { memory: ${input} }
pipeline: { processors: [ { mapping: '{ "id": $uuid_v4(), "n": n }' } ] }
buffer: { sqlite: { path: ${join(dir, 'buffer.db')} } }
output: { memory: {} }
shutdown_timeout: 300ms
`;
    const run1 = pipelineFromYaml(yaml('{ keep_open: true }'), memoryComponents(first.input, first.output));
    const stop = new AbortController();
    const running = run1.pipeline.run(stop.signal);
    await waitUntil('both reads acked and a write tried', () => first.input.acks.length === 2 && first.output.attempts > 0);
    // Committed to the buffer means delivered as far as the input is concerned.
    expect(first.input.acks).toEqual(['ok', 'ok']);
    stop.abort();
    await running;
    const stored = new Database(join(dir, 'buffer.db'), { readonly: true });
    const bodies = (stored.prepare('SELECT body FROM messages ORDER BY id').all() as { body: Buffer }[]).map((r) => r.body.toString());
    stored.close();
    expect(bodies.map((b) => JSON.parse(b).n)).toEqual([1, 2, 3]);

    const second = memoryState([]);
    const run2 = pipelineFromYaml(yaml('{}'), memoryComponents(second.input, second.output));
    await run2.pipeline.run(new AbortController().signal);
    // The replay carries the ids minted before the restart: the mapping did not run again.
    expect(second.output.writes.flat().map((m) => m.text())).toEqual(bodies);
    const after = new Database(join(dir, 'buffer.db'), { readonly: true });
    expect(after.prepare('SELECT COUNT(*) AS n FROM messages').get()).toEqual({ n: 0 });
    after.close();
  });

  it('loses nothing when the process is SIGKILLed with messages buffered', async () => {
    const dir = tempDir();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
input: { stdin: {} }
pipeline: { processors: [ { mapping: '{ "id": $uuid_v4(), "n": n }' } ] }
buffer: { sqlite: { path: buffer.db } }
output: { reject: sink is down }
http: { address: 127.0.0.1:0 }
`,
    );
    const proc = startCli(['run', config]);
    const [, url] = await proc.waitForLog(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/);
    proc.child.stdin.write(Array.from({ length: 50 }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n');
    await waitUntil('50 messages buffered', async () => /buffer_received\{label="",path="root.buffer"\} 50/.test(await (await fetch(`${url}/metrics`)).text()));
    proc.child.kill('SIGKILL');
    await proc.exited;

    const db = new Database(join(dir, 'buffer.db'), { readonly: true });
    const committed = (db.prepare('SELECT body FROM messages ORDER BY id').all() as { body: Buffer }[]).map((r) => r.body.toString());
    db.close();
    expect(committed).toHaveLength(50);

    // The sink is back: the same config with a working output (not --output, whose dry run keeps its own state).
    const restarted = startCli(['run', config, '-s', `output={file: {path: ${JSON.stringify(join(dir, 'out.jsonl'))}}}`, '-s', 'http.enabled=false']);
    restarted.child.stdin.end();
    expect(await restarted.exited).toBe(0);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8').trimEnd().split('\n')).toEqual(committed);
  });
});
