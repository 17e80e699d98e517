// Unit tests written as Redpanda Connect lays them out: `<name>_benthos_test.yaml` beside
// `<name>.yaml`, `tests:` inline in the config (checked by lint too), and mocks that append a
// processor with the JSON Pointer `-` form (Connect's own config/test/mock_http_proc.yaml).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { testCommand } from '../../src/commands/test.js';
import { runCli } from '../support/cli.js';

const DIR = 'test/fixtures/tests/benthos';

async function sluiceTest(...args: string[]) {
  let out = '';
  let err = '';
  const code = await testCommand(args, { stdin: Readable.from([]), stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("Connect's test layouts", () => {
  it('<name>_benthos_test.yaml runs against <name>.yaml: an expectation of unchanged output fails, as it must', async () => {
    for (const target of [`${DIR}/shout.yaml`, `${DIR}/shout_benthos_test.yaml`]) {
      const { code, out } = await sluiceTest(target);
      expect(out).toContain(`PASS ${DIR}/shout_benthos_test.yaml(2,5) shouts\n`);
      expect(out).toContain(`FAIL ${DIR}/shout_benthos_test.yaml(10,5) expects the input unchanged\n`);
      expect(out).toContain('received: HELLO WORLD');
      expect(out.trimEnd().split('\n').at(-1)).toBe('2 passed, 1 failed');
      expect(code).toBe(1);
    }
  });

  it('a mock keyed /pipeline/processors/- is appended to the processors under test', async () => {
    const { out } = await sluiceTest(`${DIR}/shout.yaml`);
    expect(out).toContain(`PASS ${DIR}/shout_benthos_test.yaml(17,5) mocks by label and appends a processor\n`);
  });

  it('tests: inside a config run, and lint checks them', async () => {
    const { code, out } = await sluiceTest(`${DIR}/inline.yaml`);
    expect(out).toContain(`PASS ${DIR}/inline.yaml(8,5) adds a bang\n`);
    expect(code).toBe(0);

    const dir = mkdtempSync(join(tmpdir(), 'sluice-inline-tests-'));
    dirs.push(dir);
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `output: { drop: {} }\ntests:\n  - name: typo\n    input_batch: [ { content: x } ]\n    output_batchs: []\n`);
    const lint = await runCli(['lint', file]);
    expect(lint.stderr).toBe(`${file}(5,5) tests[0].output_batchs: unknown field (did you mean output_batches?)\n`);
    expect(lint.code).toBe(1);
  });

  it('lint reads a _benthos_test.yaml as tests, not as a config, and skips it in a directory', async () => {
    const direct = await runCli(['lint', `${DIR}/shout_benthos_test.yaml`]);
    expect(direct.stderr).toBe('');
    expect(direct.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-benthos-tests-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a.yaml'), 'output: { drop: {} }\n');
    writeFileSync(join(dir, 'a_benthos_test.yaml'), 'tests:\n  - name: bad\n    nope: 1\n');
    const folder = await runCli(['lint', dir]);
    expect(folder.stderr).toBe('');
    expect(folder.code).toBe(0);
  });
});
