import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { it } from 'vitest';
import { memoryComponents, memoryState } from './support/memory.js';
import { pipelineFromYaml } from './support/pipeline.js';
it('dbg', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dbg-'));
  const first = memoryState([[{ n: 1 }, { n: 2 }], [{ n: 3 }]]);
  first.output.failAttempts = new Set(Array.from({ length: 1000 }, (_, i) => i + 1));
  const yaml = `
input: { memory: { keep_open: true } }
buffer: { sqlite: { path: ${join(dir, 'buffer.db')} } }
output: { memory: {} }
shutdown_timeout: 300ms
`;
  const run1 = pipelineFromYaml(yaml, memoryComponents(first.input, first.output));
  const stop = new AbortController();
  const running = run1.pipeline.run(stop.signal);
  await new Promise((r) => setTimeout(r, 500));
  const db = new Database(join(dir, 'buffer.db'), { readonly: true });
  console.log('during', db.prepare('SELECT id, body FROM messages').all().map((r: any) => [r.id, r.body.toString()]), first.output.attempts, first.input.acks);
  db.close();
  stop.abort();
  console.log(await running);
  const db2 = new Database(join(dir, 'buffer.db'), { readonly: true });
  console.log('after', db2.prepare('SELECT id FROM messages').all(), db2.prepare('SELECT * FROM given_up').all());
});
