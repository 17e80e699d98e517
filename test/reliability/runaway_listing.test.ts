// Issue 12 item 6: a Run:ai listing that never ends (a server that always answers `next`, or the
// same page whatever the offset) is bounded by pages, rows, bytes and a deadline, paced, logged as
// an error, and its windows stay due until a listing succeeds. Item 8 (Run:ai half): an answer
// larger than the limit fails without being read whole.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import runAi, { type RunAiConfig } from '../../src/components/inputs/run_ai.js';
import type { Input, ReadResult } from '../../src/engine/component.js';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';
import { DEFAULT_METRICS } from '../../src/components/inputs/run_ai.js';
import { RunAiClient } from '../../src/runai/client.js';
import { RunAiError } from '../../src/runai/errors.js';
import type { RunAiClientOptions } from '../../src/runai/options.js';
import { startRunAiSimulator, type RunAiSimulator } from '../../src/runai/sim.js';
import { withDefaults } from '../support/defaults.js';
import { testSettings } from '../support/settings.js';
import { waitUntil } from '../support/wait.js';
import { captureLog } from '../runai/helpers.js';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).reverse().map((c) => c.close()));
});

async function simulator(): Promise<RunAiSimulator> {
  const sim = await startRunAiSimulator({ workloads: 30, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
  opened.push(sim);
  return sim;
}

function client(sim: RunAiSimulator, overrides: Partial<RunAiClientOptions> = {}): RunAiClient {
  const { logger } = captureLog();
  const c = new RunAiClient({
    url: sim.url,
    credentials: { grantType: 'app_token', appId: sim.credentials.id, appSecret: sim.credentials.secret },
    pageSize: 100,
    http: { timeoutMs: 5000, retryCount: 1, retryWaitMs: 10, retryMaxWaitMs: 50 },
    logger,
    metrics: new Metrics(),
    secrets: new Secrets(),
    ...overrides,
  });
  opened.push(c);
  return c;
}

const listRequests = (sim: RunAiSimulator): number => sim.requests.filter((r) => r.route === 'workloads').length;

async function rejection(promise: Promise<unknown>): Promise<RunAiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RunAiError);
  return err as RunAiError;
}

describe('a listing that never ends', () => {
  it('stops at its row bound with a limit error when every page has new rows and `next`', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'fresh' } });
    const err = await rejection(client(sim, { listLimits: { maxRows: 600, pagesPerSecond: 1000 } }).listWorkloads(AbortSignal.timeout(20_000)));
    expect(err.kind).toBe('limit');
    expect(err.message).toMatch(/^listing workloads stopped at 600 rows/);
    // 30 rows a page: 20 pages reach 600 rows; not one more request.
    expect(listRequests(sim)).toBe(20);
  });

  it('stops at its page bound', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'fresh' } });
    const err = await rejection(client(sim, { listLimits: { maxPages: 7, pagesPerSecond: 1000 } }).listWorkloads(AbortSignal.timeout(20_000)));
    expect(err.message).toMatch(/^listing workloads stopped at 7 pages/);
    expect(listRequests(sim)).toBe(7);
  });

  it('stops at its byte bound', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'fresh' } });
    const err = await rejection(client(sim, { listLimits: { maxBytes: 100_000, pagesPerSecond: 1000 } }).listWorkloads(AbortSignal.timeout(20_000)));
    expect(err.kind).toBe('limit');
    // A page of 30 workloads is ~30 KB: the listing ends within a few pages, not at the row or page bound.
    expect(listRequests(sim)).toBeLessThan(10);
  });

  it('stops at the second page when the server answers the same rows whatever the offset', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'repeat' } });
    const err = await rejection(client(sim).listWorkloads(AbortSignal.timeout(20_000)));
    expect(err.kind).toBe('limit');
    expect(err.message).toContain('page 2 (offset 30) repeats rows already listed');
    expect(listRequests(sim)).toBe(2);
  });

  it('is paced and stops at its deadline: at most a burst plus pagesPerSecond per second', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'fresh' } });
    const began = Date.now();
    const err = await rejection(client(sim, { listLimits: { deadlineMs: 1500, pagesPerSecond: 20 } }).listWorkloads(AbortSignal.timeout(20_000)));
    const took = Date.now() - began;
    expect(err.message).toMatch(/^listing workloads stopped at its deadline of 2s/);
    expect(took).toBeGreaterThanOrEqual(1500);
    // 20 at once, then 20 per second: ~50 requests in 1.5 s (a loaded machine sends fewer, never more).
    expect(listRequests(sim)).toBeLessThanOrEqual(20 + Math.ceil((took / 1000) * 20) + 1);
  });
});

describe('an answer too large to read', () => {
  it('fails once with a limit error, without a retry', async () => {
    const sim = await simulator();
    const c = client(sim, { maxResponseBytes: 2_000 });
    const err = await rejection(c.listWorkloads(AbortSignal.timeout(20_000)));
    expect(err.kind).toBe('limit');
    expect(err.message).toMatch(/GET \/api\/v1\/workloads: the answer (of \d+ bytes )?is larger than 2000 bytes/);
    expect(listRequests(sim)).toBe(1);
  });
});

describe('run_ai over a runaway listing', () => {
  it('logs each failed scrape as an error, keeps its windows due, and delivers them all once the listing recovers', async () => {
    const sim = await simulator();
    sim.addFault({ route: 'workloads', effect: { endless: 'repeat' } });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-runaway-'));
    const { logger, entries } = captureLog();
    const config = withDefaults(runAi, {
      url: sim.url,
      app_id: sim.credentials.id,
      app_secret: sim.credentials.secret,
      schedule: '* * * * * *',
      metrics: DEFAULT_METRICS.workload.slice(0, 2),
      http: { timeout: '2s', retry_count: 0 },
      state: { path: 'state.db' },
    }) as RunAiConfig;
    const input: Input = runAi.create(config, testSettings({ logger, metrics: new Metrics(), secrets: new Secrets(), path: 'input', baseDir: dir }));
    opened.push(input);
    await input.connect(new AbortController().signal);

    const failures = () => entries().filter((e) => e['msg'] === 'Run:ai listing failed; its windows are scraped at the next tick');
    await waitUntil('three failed scrapes', () => failures().length >= 3);
    const failed = failures();
    expect(failed.every((e) => e['level'] === 50 && String(e['error']).includes('repeats rows already listed'))).toBe(true);
    // Each failed scrape cost two listing requests (and its token), not thousands.
    expect(listRequests(sim)).toBeLessThanOrEqual(2 * (failures().length + 1));
    sim.clearFaults();
    const recoveredAt = Date.now();

    const windows: { start: string; end: string }[] = [];
    while (windows.length === 0 || Date.parse(windows[windows.length - 1]!.end) < recoveredAt) {
      const result = (await input.read(AbortSignal.timeout(15_000))) as ReadResult;
      const first = result.batch[0]!.metadata;
      expect(result.batch).toHaveLength(30);
      windows.push({ start: String(first['window_start']), end: String(first['window_end']) });
      result.ack();
    }
    // The windows due while the listing failed were kept and delivered, back to back, from the start.
    // (the first window delivered began before the first failed scrape was logged).
    expect(Date.parse(windows[0]!.start)).toBeLessThan(Number(failed[0]!['time']));
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBe(windows[i - 1]!.end);
  });
});
