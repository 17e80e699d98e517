// What cannot be delivered leaves the retry loop once, and is never silent: an event the sink
// rejects as invalid, a workload the mapping fails on, a body that cannot be encoded. Each used
// to be replayed forever (re-sending its valid neighbours every time) or dropped without a trace.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator, type OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { startRunAiSimulator } from '../../src/runai/sim.js';
import { runCli } from '../support/cli.js';
import { metricValue } from '../runai/helpers.js';
import { CLUSTER, TOKEN, assertDelivered, assertLedgerClean, doneWindows, expectedEvents, readLedger, report, startInProcess, tempDir } from './harness.js';
import { waitUntil } from '../support/wait.js';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function openmeter(): Promise<OpenMeterSimulator> {
  const sim = await startOpenMeterSimulator({ token: TOKEN });
  closers.push(() => sim.close());
  return sim;
}

const cloudEvent = (i: number) => ({ id: `evt-${i}`, specversion: '1.0', type: 'workload', source: 'run_ai', subject: `c-${i % 5}`, data: { gpu: i } });

/** A stdin -> http_client (batches of 50, archived as a JSON array, as the shipped config) pipeline file. */
function stdinConfig(sink: OpenMeterSimulator, wrapped: boolean): string {
  const client = `http_client:
  url: ${sink.ingestUrl}
  headers: { Content-Type: application/json, Authorization: 'Bearer ${TOKEN}' }
  retry_period: 10ms
  batching: { count: 50, processors: [ { archive: { format: json_array } } ] }`;
  const output = wrapped ? `drop_on:\n  error_patterns: [ Bad Request ]\n  output:\n${indent(client, 4)}` : client;
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-given-up-')), 'pipeline.yaml');
  writeFileSync(file, `input: { stdin: {} }\noutput:\n${indent(output, 2)}\nhttp: { enabled: false }\nlogger: { format: json }\n`);
  return file;
}

const indent = (text: string, spaces: number) => text.replace(/^/gm, ' '.repeat(spaces));

const logLines = (stderr: string): { msg: string; [key: string]: unknown }[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string });

describe.concurrent('messages that cannot be delivered', () => {
  for (const wrapped of [false, true]) {
    it(`G1 one invalid event among 2,000${wrapped ? ' under drop_on' : ''}: given up once, its neighbours each delivered exactly once`, async () => {
      const began = Date.now();
      const sink = await openmeter();
      const events = Array.from({ length: 2000 }, (_, i) => (i === 777 ? { ...cloudEvent(i), source: undefined } : cloudEvent(i)));
      const { code, stderr } = await runCli(['run', stdinConfig(sink, wrapped)], {}, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
      expect(code).toBe(0);
      // Every valid event ingested exactly once (OpenMeter's dedupe is off by default: what is ingested is billed).
      expect(sink.deliveries).toHaveLength(1999);
      expect(new Set(sink.deliveries.map((e) => e.id)).size).toBe(1999);
      expect(sink.deliveries.some((e) => e.id === 'evt-777')).toBe(false);
      // 40 batches, and the poisoned one bisected down to the event: 12 more requests.
      expect(sink.requests.length).toBeLessThanOrEqual(40 + 2 * Math.ceil(Math.log2(50)));
      const lines = logLines(stderr);
      expect(lines.filter((l) => l.msg.includes('replaying'))).toEqual([]);
      const verdicts = lines.filter((l) => /^(Gave up|Dropped) /.test(l.msg));
      expect(verdicts.map((l) => l.msg)).toEqual([wrapped ? 'Dropped 1 message the output failed to deliver.' : 'Gave up 1 message that will not be delivered.']);
      expect(String(verdicts[0]!.err)).toMatch(/\(400\): 400 Bad Request, Error: .*source/);
      report({
        scenario: `G1 poison event${wrapped ? ' (drop_on)' : ''}`,
        windows: 0,
        events: 1999,
        requests: sink.requests.length,
        largestRequest: 50,
        copiesReceived: sink.requests.reduce((n, r) => n + (JSON.parse(r.body) as unknown[]).length, 0),
        ingested: sink.deliveries.length,
        unique: sink.events.length,
        ms: Date.now() - began,
      });
    }, 60_000);
  }

  it('G2 a workload whose usage overflows: the shipped config never sends it; each of its windows is a gap in the state, the rest is delivered', async () => {
    const began = Date.now();
    const runai = await startRunAiSimulator(CLUSTER);
    closers.push(() => runai.close());
    const sink = await openmeter();
    const bad = runai.scrapeableWorkloads()[0]!;
    // Run:ai answers 1e200 for every metric of this workload: GPU usage (allocation x utilisation) overflows.
    runai.addFault({ route: 'workload-metrics', resourceId: bad.id, effect: { malformed: 'overflow' } });
    const dir = tempDir();
    const collector = startInProcess({ dir, runai, openmeter: sink });
    await waitUntil('four windows done', () => doneWindows(dir) >= 4, 40_000);
    const result = await collector.stop();
    expect(result.undelivered).toBe(0);

    const { gaps } = readLedger(dir);
    const { starts } = assertLedgerClean(dir);
    // One gap per window, for that workload alone, saying why.
    const mine = gaps.filter((g) => g.resource_id === bad.id);
    expect(mine.map((g) => g.start)).toEqual(starts);
    expect(mine.every((g) => g.reason === 'rejected' && g.windows === 1)).toBe(true);
    expect(sink.requests.every((r) => !r.body.includes(bad.id))).toBe(true);
    const numbers = assertDelivered(sink, expectedEvents(runai, starts, new Set([bad.id])));
    expect(await metricValue(collector.metrics, 'run_ai_windows_abandoned_total', { reason: 'rejected' })).toBe(starts.length);
    report({ scenario: 'G2 overflowing workload', windows: starts.length, events: numbers.unique, ...numbers, ms: Date.now() - began, notes: `${mine.length} one-workload gaps recorded, reason rejected` });
  }, 60_000);

  it('G3 bodies that cannot be encoded: flagged once by the mapping, never retried; the pipeline ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-encode-'));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, `input: { stdin: {} }\npipeline: { processors: [ { mapping: '$' } ] }\noutput: { file: { path: out.jsonl } }\nerror_handling: { strict: true }\nhttp: { enabled: false }\nlogger: { format: json }\n`);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const { code, stderr } = await runCli(['run', file], {}, `{"x":1e400}\n${deep}\n{"ok":1}\n`);
    expect(code).toBe(0);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8')).toBe('{"ok":1}\n');
    const lines = logLines(stderr);
    expect(lines.filter((l) => l.msg.startsWith('Mapping failed'))).toHaveLength(2);
    expect(lines.filter((l) => l.msg.includes('replaying'))).toEqual([]);
    // One line per message (each line of stdin is its own read), each saying why.
    expect(lines.filter((l) => l.msg.startsWith('Gave up')).map((l) => l.messages)).toEqual([1, 1]);
  }, 60_000);
});
