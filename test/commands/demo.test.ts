// `sluice demo` (npm start): the usage table redraws in place on a terminal, says what its units
// are, and the run ends with a "Stopped" line.
import { describe, expect, it } from 'vitest';
import { tableWriter } from '../../src/commands/demo.js';
import { LEGEND } from '../../src/commands/sim_openmeter.js';
import { startCli } from '../support/cli.js';

describe('sluice demo', () => {
  it('redraws the table in place on a terminal, and appends it elsewhere', () => {
    const written: string[] = [];
    const tty = tableWriter({ isTTY: true, write: (t: string) => written.push(t) });
    tty('\nfirst\na\nb\n');
    tty('\nsecond\na\n');
    // Up over the 4 lines of the first table, clear, then the second.
    expect(written).toEqual(['\nfirst\na\nb\n', '\x1b[4A\x1b[J', '\nsecond\na\n']);

    const piped: string[] = [];
    const pipe = tableWriter({ isTTY: false, write: (t: string) => piped.push(t) });
    pipe('\nfirst\n');
    pipe('\nsecond\n');
    expect(piped).toEqual(['\nfirst\n', '\nsecond\n']);
  });

  it('prints billed usage with a legend, and a final Stopped line on Ctrl-C', async () => {
    const demo = startCli(['demo', '--workloads', '5', '--schedule', '* * * * * *']);
    const deadline = Date.now() + 30_000;
    while (!demo.stdout.includes(LEGEND) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(demo.stdout).toContain(LEGEND);
    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    const lines = demo.stdout.trimEnd().split('\n');
    expect(lines.at(-2)).toBe(LEGEND);
    expect(lines.at(-1)).toMatch(/^Stopped: [1-9]\d* unique events billed; the demo's state is removed\.$/);
  });
});
