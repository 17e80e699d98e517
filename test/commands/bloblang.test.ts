// Bloblang through the CLI: lint on the seed document's mapping (its syntax errors and the
// variables it misreads), Connect-style test files with bloblang conditions, `sluice map --lang`.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mapCommand } from '../../src/commands/map.js';
import { testCommand } from '../../src/commands/test.js';
import { runCli } from '../support/cli.js';

const FIXTURES = 'test/fixtures/bloblang';

function io(stdin = '') {
  const out = { text: '', err: '' };
  return {
    out,
    io: {
      stdin: Readable.from(stdin === '' ? [] : [stdin]),
      stdout: { write: (s: string) => (out.text += s) },
      stderr: { write: (s: string) => (out.err += s) },
    },
  };
}

describe('sluice lint on Bloblang', () => {
  it("reports the seed document's two syntax errors at their YAML line with the fix, and the misread variables", async () => {
    const { code, stderr } = await runCli(['lint', `${FIXTURES}/runai-seed.yaml`]);
    const at = `${FIXTURES}/runai-seed.yaml`;
    const path = 'pipeline.processors[0].mapping';
    expect(stderr.trimEnd().split('\n')).toEqual([
      `${at}(12,9) ${path}: Bloblang syntax error at line 4, column 1: unexpected "//": comments start with # (use # for comments)`,
      `${at}(19,19) ${path}: Bloblang syntax error at line 11, column 11: expected a value for key "time" (give the key a value, or remove it)`,
      `${at}(27,37) ${path}: warning: gpu_allocation_minutes reads this.gpu_allocation_minutes (the input's field, null when it has none), not the variable declared by let gpu_allocation_minutes: did you mean $gpu_allocation_minutes?`,
      `${at}(28,36) ${path}: warning: cpu_limit_core_minutes reads this.cpu_limit_core_minutes (the input's field, null when it has none), not the variable declared by let cpu_limit_core_minutes: did you mean $cpu_limit_core_minutes?`,
    ]);
    expect(code).toBe(1);
  });

  it('notes which mappings were detected as Bloblang, and passes', async () => {
    const { code, stderr } = await runCli(['lint', `${FIXTURES}/preset.yaml`]);
    expect(stderr.trimEnd().split('\n')).toEqual([
      `${FIXTURES}/preset.yaml(9,16) pipeline.processors[0].mapping: note: mapping detected as Bloblang (set lang: jsonata to read it as JSONata)`,
      `${FIXTURES}/preset.yaml(40,20) pipeline.processors[1].catch[1].mapping: note: mapping detected as Bloblang (set lang: jsonata to read it as JSONata)`,
    ]);
    expect(code).toBe(0);
  });
});

describe('sluice test with bloblang conditions', () => {
  it("runs a Connect-style test file against OpenMeter's preset mapping", async () => {
    const { out, io: streams } = io();
    const code = await testCommand([`${FIXTURES}/preset.yaml`], streams);
    expect(out.err).toBe('');
    expect(out.text.trimEnd().split('\n').at(-1)).toBe('3 passed, 0 failed');
    expect(code).toBe(0);
  });
});

describe('sluice map --lang', () => {
  it('runs a Bloblang mapping on JSON lines, detected or forced', async () => {
    const lines = '{"a":"x","n":3}\n{"a":"y","n":4}\n';
    const detected = io(lines);
    expect(await mapCommand(['-e', 'root.b = this.a.uppercase()\nroot.m = meta("k")\nroot.n = this.n * 2', '--meta', 'k=v'], detected.io)).toBe(0);
    expect(detected.out.text).toBe('{"b":"X","m":"v","n":6}\n{"b":"Y","m":"v","n":8}\n');
    const forced = io(lines);
    expect(await mapCommand(['--lang', 'bloblang', '-e', 'this.n + 1'], forced.io)).toBe(0);
    expect(forced.out.text).toBe('4\n5\n');
  });

  it('shows a syntax error with a caret and a failure with its statement line', async () => {
    const bad = io('{}\n');
    expect(await mapCommand(['--lang', 'bloblang', '-e', 'root = this.a.uppercas()'], bad.io)).toBe(1);
    expect(bad.out.err).toBe("expression(1,15) Bloblang syntax error at line 1, column 15: unrecognised method 'uppercas' (did you mean uppercase?)\n  1 | root = this.a.uppercas()\n    |               ^\n");
    const failing = io('{"a":1}\n');
    expect(await mapCommand(['--lang', 'bloblang', '-e', 'root = this.a.uppercase()'], failing.io)).toBe(1);
    expect(failing.out.err).toBe('stdin:1: failed assignment (line 1): expected string value, got number from field `this.a` (1)\n');
    const usage = io();
    expect(await mapCommand(['--lang', 'python', '-e', '1'], usage.io)).toBe(1);
    expect(usage.out.err).toMatch(/^--lang takes jsonata, bloblang or auto, not "python"/);
  });
});
