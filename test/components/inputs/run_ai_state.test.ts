// input.run_ai with `state`: the window ledger seen from the input's contract (read, ack, close,
// connect again), against the Run:ai simulator on loopback. The pipeline-level behaviour (buffer,
// sink, kills, backfill, gaps) is in test/reliability.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import runAi, { DEFAULT_METRICS, type RunAiConfig } from '../../../src/components/inputs/run_ai.js';
import type { Input, ReadResult } from '../../../src/engine/component.js';
import type { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { WindowLedger } from '../../../src/windows/ledger.js';
import { expectedMetrics, startRunAiSimulator, type RunAiSimulator, type RunAiSimulatorOptions } from '../../../src/runai/sim.js';
import { configProblems, withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';
import { captureLog, metricValue } from '../../runai/helpers.js';

const validated = (config: Record<string, unknown>): RunAiConfig => withDefaults(runAi, config);
const problems = (config: Record<string, unknown>): string => configProblems(runAi, config).join('\n');
const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-runai-state-'));
const base = { url: 'https://x.run.ai', app_id: 'a', app_secret: 'b' };

describe('run_ai state config', () => {
  it('defaults max_backfill to 1h and sync to normal, and requires a path', () => {
    expect(validated({ ...base, state: { path: 'state.db' } }).state).toEqual({ path: 'state.db', max_backfill: '1h', sync: 'normal' });
    expect(problems({ ...base, state: {} })).toContain('state.path: field is required');
    expect(problems({ ...base, state: { path: 'x', maxbackfill: '1h' } })).toContain('state.maxbackfill: unknown field (did you mean max_backfill?)');
    expect(problems({ ...base, state: { path: 'x', sync: 'always' } })).toContain('state.sync: "always" is not one of "off", "normal", "full"');
    expect(problems({ ...base, state: { path: 'x', max_backfill: 'an hour' } })).toContain('state.max_backfill: invalid duration "an hour"');
  });

  it('refuses a negative max_backfill, and creates no file until connect', async () => {
    expect(() => runAi.create(validated({ ...base, state: { path: 'x.db', max_backfill: '-1m' } }), testSettings())).toThrow('state.max_backfill: must not be negative, got -1m');
    // 0s (or less than one window) would give every window up as a gap.
    expect(() => runAi.create(validated({ ...base, state: { path: 'x.db', max_backfill: '0s' } }), testSettings())).toThrow(
      'state.max_backfill: must be more than 0s, got 0s: every window would be given up as a gap',
    );
    const dir = tempDir();
    const input = runAi.create(validated({ ...base, state: { path: 'state.db' } }), testSettings({ baseDir: dir }));
    await input.close();
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
  });
});

const sims: RunAiSimulator[] = [];
const inputs: Input[] = [];
afterEach(async () => {
  await Promise.all(inputs.splice(0).map((i) => i.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function simulator(options: RunAiSimulatorOptions = {}): Promise<RunAiSimulator> {
  const sim = await startRunAiSimulator({ workloads: 30, ...options });
  sims.push(sim);
  return sim;
}

/** A connected run_ai input with state in `dir` (relative path, resolved against the config's directory). */
async function stateful(sim: RunAiSimulator, dir: string, extra: Record<string, unknown> = {}) {
  const { logger, lines } = captureLog();
  const settings = testSettings({ logger, metrics: new Metrics(), secrets: new Secrets(), path: 'input', baseDir: dir });
  const input = runAi.create(
    validated({
      url: sim.url,
      app_id: sim.credentials.id,
      app_secret: sim.credentials.secret,
      schedule: '* * * * * *',
      http: { timeout: '2s', retry_count: 1, retry_wait_time: '10ms', retry_max_wait_time: '50ms' },
      state: { path: 'state.db' },
      ...extra,
    }),
    settings,
  );
  inputs.push(input);
  await input.connect(new AbortController().signal);
  return { input, settings, lines };
}

const read = async (input: Input): Promise<ReadResult> => (await input.read(AbortSignal.timeout(10_000)))!;
const snapshot = (batch: Message[]) => batch.map((m) => ({ text: m.text(), metadata: m.metadata }));
const idOf = (m: Message) => (m.json() as { id: string }).id;

describe('run_ai with state', () => {
  it('emits a batch read but not acked again after a restart, byte for byte, before anything new', async () => {
    const sim = await simulator();
    const dir = tempDir();
    const first = await stateful(sim, dir);
    const unacked = await read(first.input);
    await first.input.close();

    const second = await stateful(sim, dir);
    const replayed = await read(second.input);
    expect(snapshot(replayed.batch)).toEqual(snapshot(unacked.batch));
    expect(second.lines.some((l) => l.includes('Run:ai batches scraped by a previous run and not delivered are sent again'))).toBe(true);
    replayed.ack();
    // The next window continues where the replayed one ended.
    const next = await read(second.input);
    expect(next.batch[0]!.metadata['window_start']).toBe(unacked.batch[0]!.metadata['window_end']);
    next.ack();
  });

  it('keeps a nacked window pending: queued again now, and in the state until acked', async () => {
    const sim = await simulator();
    const dir = tempDir();
    const { input } = await stateful(sim, dir);
    const first = await read(input);
    first.ack(new Error('output gave up'));
    const again = await read(input);
    expect(again.batch).toBe(first.batch);
    await input.close();
    // Acked after close, as the pipeline does while draining: recorded, then the ledger closes.
    again.ack();
    const ledger = new WindowLedger({ file: join(dir, 'state.db'), sync: 'normal', identity: { resourceType: 'workload', schedule: '* * * * * *', offsetMs: 0 } });
    expect(ledger.windows()[0]).toMatchObject({ start: Date.parse(first.batch[0]!.metadata['window_start'] as string), state: 'done' });
    expect(ledger.pendingBatches().map((b) => b.window.start)).not.toContain(ledger.windows()[0]!.start);
    ledger.close();
  });

  it('owes a workload whose metrics failed, across a restart, and emits it for its own window', async () => {
    const probe = await simulator();
    const victim = probe.scrapeableWorkloads()[1]!.id;
    // 12 metrics are 2 requests, each tried twice (retry_count 1): 4 failures fail the first scrape only.
    const sim = await simulator({ faults: [{ route: 'workload-metrics', resourceId: victim, times: 4, effect: { status: 503 } }] });
    const dir = tempDir();
    const first = await stateful(sim, dir);
    const window = await read(first.input);
    expect(window.batch.map(idOf)).not.toContain(victim);
    expect(window.batch).toHaveLength(sim.scrapeableWorkloads().length - 1);
    window.ack();
    await first.input.close();

    const second = await stateful(sim, dir);
    const batches: ReadResult[] = [];
    while (!batches.some((b) => b.batch.map(idOf).includes(victim))) {
      const next = await read(second.input);
      next.ack();
      batches.push(next);
    }
    const retried = batches.find((b) => b.batch.map(idOf).includes(victim))!;
    expect(retried.batch).toHaveLength(1);
    const m = retried.batch[0]!;
    expect(m.metadata['window_start']).toBe(window.batch[0]!.metadata['window_start']);
    expect(m.metadata['window_end']).toBe(window.batch[0]!.metadata['window_end']);
    const w = { start: Date.parse(m.metadata['window_start'] as string), end: Date.parse(m.metadata['window_end'] as string) };
    expect((m.json() as { metrics: { values: unknown } }).metrics.values).toEqual(expectedMetrics(sim.resource(victim)!, DEFAULT_METRICS.workload, w).values);
    expect(await metricValue(second.settings.metrics, 'run_ai_resources_owed', { type: 'workload' })).toBe(0);
  });

  it('refuses a state file written for another resource type', async () => {
    const sim = await simulator();
    const dir = tempDir();
    const first = await stateful(sim, dir);
    await first.input.close();
    await expect(stateful(sim, dir, { resource_type: 'pod' })).rejects.toThrow(
      /cannot open the run_ai state .*state\.db: the state file records workload windows, not pod ones/,
    );
  });

  it('without state behaves as before: no file, and an unacked batch is lost at close (and says so)', async () => {
    const sim = await simulator();
    const dir = tempDir();
    const { logger, lines } = captureLog();
    const input = runAi.create(
      validated({ url: sim.url, app_id: sim.credentials.id, app_secret: sim.credentials.secret, schedule: '* * * * * *' }),
      testSettings({ logger, baseDir: dir }),
    );
    inputs.push(input);
    await input.connect(new AbortController().signal);
    const result = await read(input);
    await input.close();
    result.ack(new Error('shutdown timeout'));
    expect(lines.some((l) => l.includes('not delivered before shutdown; its windows are lost'))).toBe(true);
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
  });
});
