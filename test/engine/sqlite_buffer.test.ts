import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { memoryComponents, memoryState } from '../support/memory.js';
import { pipelineFromYaml } from '../support/pipeline.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-buffer-'));

describe('sqlite buffer', () => {
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
    await waitFor(() => first.input.acks.length === 2 && first.output.attempts > 0);
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
    await waitForAsync(async () => /buffer_received\{label="",path="root.buffer"\} 50/.test(await (await fetch(`${url}/metrics`)).text()));
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

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  await waitForAsync(async () => condition(), timeoutMs);
}

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
