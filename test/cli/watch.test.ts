// `sluice run -w`: a changed config is picked up; a broken edit is reported and the running
// pipeline goes on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const config = (value: string) => `input: { generate: { mapping: '{"v": ${value}}', interval: 20ms } }\noutput: { stdout: {} }\nhttp: { enabled: false }\n`;

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not seen in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('sluice run -w', () => {
  it('keeps running through a broken edit and restarts with a good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    dirs.push(dir);
    const file = join(dir, 'c.yaml');
    writeFileSync(file, config('1'));
    const proc = startCli(['run', '-w', file]);
    try {
      await until(() => proc.stdout.includes('{"v":1}'), 'the first pipeline');
      writeFileSync(file, `${config('1')}nonsense_key: 1\n`);
      await proc.waitForLog(/nonsense_key: unknown field/);
      await proc.waitForLog(/Rejecting the updated config/);
      const before = proc.stdout.length;
      await until(() => proc.stdout.length > before + 20, 'output after the broken edit');
      expect(proc.stdout).not.toContain('{"v":2}');

      writeFileSync(file, config('2'));
      await until(() => proc.stdout.includes('{"v":2}'), 'the new pipeline');
      await proc.waitForLog(/The config changed, restarting the pipeline/);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });
});
