// The embedding API (`import ... from 'sluice'`): the package resolves to the built dist/index.js,
// the README's example runs as written, and a stream built from a config object runs and stops.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, createStream, defineOutput, type Message } from '../src/index.js';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);

/** The ```js block of the README's embedding section. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedding sluice'));
  return /```js\n([\s\S]*?)```/.exec(section)![1]!;
}

/** An output keeping what it is sent, registered as `collect`. */
function collector() {
  const got: string[] = [];
  const spec = defineOutput({
    name: 'collect',
    summary: 'Keeps message texts in memory.',
    schema: { type: 'object', additionalProperties: false },
    example: {},
    create: () => ({
      connect: async () => {},
      write: async (batch: readonly Message[]) => void got.push(...batch.map((m) => m.text())),
      close: async () => {},
    }),
  });
  return { spec, got };
}

describe('the embedding API', () => {
  it("runs the README's example as written, importing the package by its name", async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', readmeExample()], { cwd: ROOT });
    expect(stdout).toBe('HELLO\nHELLO\n');
  });

  it('builds from a config object with a custom output, runs until stop(), and drains', async () => {
    const { spec, got } = collector();
    const stream = createStream(
      { input: { generate: { interval: '1ms', mapping: '{"n": $count}' } }, pipeline: { processors: [{ mapping: '{"seen": true}' }] }, output: { collect: {} } },
      { components: [spec], logLevel: 'off' },
    );
    expect(stream.config.shutdown_timeout).toBe('20s');
    const done = stream.run();
    await expect.poll(() => got.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    await expect(stream.stop()).resolves.toEqual({ undelivered: 0 });
    await expect(done).resolves.toEqual({ undelivered: 0 });
    expect(new Set(got)).toEqual(new Set(['{"seen":true}']));
  });

  it('throws every problem of a bad config at once, located in the file it names', () => {
    const yaml = 'input:\n  generate:\n    mapping: "1"\n    intervl: 1s\noutput:\n  nope: {}\n';
    let error: unknown;
    try {
      createStream(yaml, { file: 'inline.yaml' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/inline\.yaml\(4,5\) input\.generate\.intervl: unknown field \(did you mean interval\?\)/);
    expect(lines[1]).toMatch(/inline\.yaml\(6,3\) output\.nope: unknown output/);
  });
});
