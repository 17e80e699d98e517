// `sluice lint --explain-compile` through the real CLI: which mapping runs compiled, and which
// falls back to the interpreter, naming the construct and where it is in the expression.
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const file = relative(process.cwd(), join(ROOT, 'test/fixtures/mapping/explain-compile.yaml')) || '.';

describe('sluice lint --explain-compile', () => {
  it('lists each mapping: compiled, or interpreted with the construct and its position', async () => {
    const { code, stdout, stderr } = await runCli(['lint', '--explain-compile', file]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // The transform starts on line 2 of the expression at column 19 (the parser's position is just past its `|`).
    expect(stdout).toBe(
      `${file} pipeline.processors[0].mapping: compiled\n` + `${file} pipeline.processors[1].mapping.expression: interpreted: a transform (|...|...|) at line 2, column 20\n`,
    );
  });

  it('prints nothing more without the flag', async () => {
    const { code, stdout } = await runCli(['lint', file]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
  });
});
