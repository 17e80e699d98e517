// The `mutation` processor (Connect's): a Bloblang mapping whose root starts as the input document
// and whose `this` is that document as changed so far; the input message itself is never modified.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { WorkerPool } from '../../../src/engine/worker_pool.js';
import { runCli } from '../../support/cli.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

const WORKER_SCRIPT = new URL('../../../dist/processors_worker.js', import.meta.url);

/** Runs `processors` (YAML lines, indented by 4) over `batches` through a memory input and output; returns what reached the output. */
async function run(batches: unknown[][], processors: string): Promise<Message[]> {
  const state = memoryState(batches);
  const { pipeline } = pipelineFromYaml(
    `
input: { memory: {} }
pipeline:
  processors:
${processors}
output: { memory: {} }
`,
    memoryComponents(state.input, state.output),
  );
  await pipeline.run(new AbortController().signal);
  return state.output.writes.flat();
}

/** A value frozen all the way down: any write into it throws (modules run in strict mode). */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

const INVITEES = { invitees: [{ name: 'a', mood: 0.2 }, { name: 'b', mood: 0.7 }] };

describe('mutation processor', () => {
  it("runs the docs' example: each statement sees the document as the ones before left it", async () => {
    const out = await run(
      [[INVITEES], [INVITEES]],
      `    - mutation: |
        root.rejected = this.invitees.filter(i -> i.mood < 0.5)
        root.invitees = this.invitees.filter(i -> i.mood >= 0.5)`,
    );
    expect(out.map((m) => m.json())).toEqual([
      { invitees: [{ name: 'b', mood: 0.7 }], rejected: [{ name: 'a', mood: 0.2 }] },
      { invitees: [{ name: 'b', mood: 0.7 }], rejected: [{ name: 'a', mood: 0.2 }] },
    ]);

    const swapped = await run(
      [[INVITEES]],
      `    - mutation: |
        root.invitees = this.invitees.filter(i -> i.mood >= 0.5)
        root.rejected = this.invitees.filter(i -> i.mood < 0.5)`,
    );
    expect(swapped.map((m) => m.json())).toEqual([{ invitees: [{ name: 'b', mood: 0.7 }], rejected: [] }]);
  });

  it('leaves the body as it was when the mapping assigns nothing, and drops a message on root = deleted()', async () => {
    const unchanged = { id: 1, nested: { k: 'v' } };
    const kept = await run([[unchanged]], `    - mutation: 'if this.id > 5 { root.big = true }'`);
    expect(kept.map((m) => m.text())).toEqual(['{"id":1,"nested":{"k":"v"}}']);
    expect(kept[0]!.json()).toBe(unchanged);

    const out = await run(
      [[{ id: 1 }, { id: 2, drop: true }, { id: 3 }]],
      `    - mutation: |
        root.seen = true
        root = if this.drop == true { deleted() }`,
    );
    expect(out.map((m) => m.json())).toEqual([
      { id: 1, seen: true },
      { id: 3, seen: true },
    ]);
  });

  it('replaces the whole document on root = <value>, and later statements read the new one as this', async () => {
    const out = await run(
      [[{ x: { a: 1, z: 'inner' }, z: 'outer' }]],
      `    - mutation: |
        root = this.x
        root.y = this.z`,
    );
    expect(out.map((m) => m.json())).toEqual([{ a: 1, z: 'inner', y: 'inner' }]);
  });

  it('sets and deletes metadata as mapping does, and reads it back', async () => {
    const out = await run(
      [[{ user: 'ann' }]],
      `    - bloblang: |
        meta kept = "k"
        meta gone = "g"
        root = this
    - mutation: |
        meta user = this.user.uppercase()
        meta gone = deleted()
        root.tag = @user + "-" + @kept`,
    );
    expect(out.map((m) => [m.json(), m.metadata])).toEqual([[{ user: 'ann', tag: 'ANN-k' }, { kept: 'k', user: 'ANN' }]]);
  });

  it('on a body that is not JSON: metadata works, root = "text" replaces it, and this fails (flagged, unchanged)', async () => {
    const out = await run(
      [[{ id: 1 }, { id: 2 }, { id: 3 }]],
      `    - bloblang: 'root = "id=%v".format(this.id)'
    - switch:
        - check: content().string() == "id=1"
          processors:
            - mutation: 'meta id = content().string()'
        - check: content().string() == "id=2"
          processors:
            - mutation: |
                meta id = "two"
                root = content().string().uppercase()
        - processors:
            - mutation: 'root.id = this.id'`,
    );
    expect(out.map((m) => [m.text(), m.metadata, m.error?.message])).toEqual([
      ['id=1', { id: 'id=1' }, undefined],
      ['ID=2', { id: 'two' }, undefined],
      ['id=3', {}, expect.stringMatching(/^failed assignment \(line 1\): unable to reference message as structured \(with 'this'\): parse as json: /)],
    ]);
  });

  it('flags a failing message and passes it on unchanged, as mapping failures are', async () => {
    const out = await run(
      [[{ n: 1 }, { n: 'x' }]],
      `    - mutation: |
        root.before = true
        root.n = this.n + 1
    - catch:
        - mutation: 'root.detail = "invalid event: %s".format(error())'`,
    );
    expect(out.map((m) => m.json())).toEqual([
      { n: 2, before: true },
      { n: 'x', detail: 'invalid event: failed assignment (line 2): cannot add types string (from field `this.n`) and number (from number literal)' },
    ]);
  });

  it('never modifies the input message: its parsed body stays what was read', async () => {
    const input = deepFreeze({ a: { b: [1, 2], c: 'c' }, d: 1 });
    const out = await run(
      [[input]],
      `    - mutation: |
        root.a.b = this.a.b.append(3)
        root.a.c = deleted()
        root.a.b.0 = 10
        root.d = this.d + 1
    - mutation: 'root.original = this.a'`,
    );
    expect(out.map((m) => [m.json(), m.error?.message])).toEqual([[{ a: { b: [10, 2, 3] }, d: 2, original: { b: [10, 2, 3] } }, undefined]]);
    expect(out[0]!.trace.json()).toBe(input);
    expect(input).toEqual({ a: { b: [1, 2], c: 'c' }, d: 1 });
  });

  it('runs on a worker thread (a pure processor)', async () => {
    const processors = [{ mutation: 'root.n = this.n * 2\nroot.m = this.n' }];
    const pool = new WorkerPool(1, WORKER_SCRIPT, (thread) => ({ processors, baseDir: '.', secrets: [], thread }), new Metrics());
    try {
      const out = (await pool.process([Message.fromBytes('{"n":2,"k":"v"}', {})])).flat();
      expect(out.map((m) => m.json())).toEqual([{ n: 4, k: 'v', m: 4 }]);
    } finally {
      await pool.close();
    }
  });

  // The path ends in `.expression` as the bloblang processor's does (the string form is read as `expression`).
  it('sluice lint reports a syntax error in a mutation at its line and column in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-mutation-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'input: { stdin: {} }\npipeline:\n  processors:\n    - mutation: |\n        root.a = 1\n        root.b = {\n          "time": ,\n        }\noutput: { stdout: {} }\n');
    const { code, stderr } = await runCli(['lint', file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\(7,19\\) pipeline\\.processors\\[0\\]\\.mutation\\.expression: Bloblang syntax error at line 3, column 11: expected a value for key "time"`));
  });
});
