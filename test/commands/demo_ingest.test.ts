import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('sluice demo ingest', () => {
  it('posts a burst through the ingest preset and shows what OpenMeter stored per subject', async () => {
    const { code, stdout } = await runCli(['demo', 'ingest', '--events', '300', '--clients', '10']);
    expect(code, stdout).toBe(0);
    const answers = /Answers: (.*) in [\d.]+ s/.exec(stdout)?.[1] ?? '';
    expect(answers).toMatch(/\d+ × 204/);
    // Every 50th request holds an event without an id: its batch is answered 400.
    expect(answers).toMatch(/\d+ × 400/);
    const rows = [...stdout.matchAll(/^customer-(\d)\s+(\d+)\s+(\d+)$/gm)];
    expect(rows.map((r) => r[1])).toEqual(['0', '1', '2', '3', '4']);
    const [, sent, stored] = /(\d+) valid events sent .*, (\d+) stored at OpenMeter/.exec(stdout)!;
    expect(Number(stored)).toBe(Number(sent));
    expect(rows.reduce((n, r) => n + Number(r[2]), 0)).toBe(Number(stored));
    expect(Number(stored)).toBeLessThan(300);
  }, 30_000);
});
