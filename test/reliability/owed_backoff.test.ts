// Issue 12 item 7: during a Run:ai metrics outage, owed resource windows are not all retried at
// every scrape (that grew the requests per scrape without bound): while every metrics request
// fails only OWED_PROBES are retried per scrape, each owed window backs off, and the owed count is
// a metric. Once metrics answer again every owed window is delivered, once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import runAi, { DEFAULT_METRICS, type RunAiConfig } from '../../src/components/inputs/run_ai.js';
import { OWED_MAX_BACKOFF_MS, OWED_PROBES, owedBackoff } from '../../src/windows/source.js';
import type { Input, ReadResult } from '../../src/engine/component.js';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';
import { startRunAiSimulator, type RunAiSimulator } from '../../src/runai/sim.js';
import { withDefaults } from '../support/defaults.js';
import { testSettings } from '../support/settings.js';
import { waitUntil } from '../support/wait.js';
import { captureLog, metricValue } from '../runai/helpers.js';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).reverse().map((c) => c.close()));
});

const WORKLOADS = 50;
const OUTAGE_SCRAPES = 6;

async function start(sim: RunAiSimulator, state: boolean) {
  const { logger, entries } = captureLog();
  const metrics = new Metrics();
  const config = withDefaults(runAi, {
    url: sim.url,
    app_id: sim.credentials.id,
    app_secret: sim.credentials.secret,
    schedule: '* * * * * *',
    // One metrics request per resource and window, no retry inside a scrape: requests count attempts.
    metrics: DEFAULT_METRICS.workload.slice(0, 2),
    http: { timeout: '2s', retry_count: 0 },
    ...(state ? { state: { path: 'state.db' } } : {}),
  }) as RunAiConfig;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-owed-'));
  const input: Input = runAi.create(config, testSettings({ logger, metrics, secrets: new Secrets(), path: 'input', baseDir: dir }));
  opened.push(input);
  await input.connect(new AbortController().signal);
  return { input, metrics, entries };
}

describe('owed windows during a metrics outage', () => {
  for (const state of [true, false]) {
    it(`${state ? 'with state' : 'without state'}: probes instead of retrying every owed window, backs off, reports the owed count, and delivers them all after`, async () => {
      const sim = await startRunAiSimulator({ workloads: WORKLOADS, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
      opened.push(sim);
      sim.addFault({ route: 'workload-metrics', effect: { status: 503 } });
      const { input, metrics, entries } = await start(sim, state);
      const failedScrapes = () => entries().filter((e) => String(e['msg']).startsWith('Run:ai fetch failed for some resources'));
      await waitUntil(`${OUTAGE_SCRAPES} failed scrapes`, () => failedScrapes().length >= OUTAGE_SCRAPES);
      sim.clearFaults();
      const lines = failedScrapes();
      const requests = sim.requests.filter((r) => r.route === 'workload-metrics').length;
      const owed = lines.map((e) => e['owed'] as number);
      // Every owed window is one of the outage's windows of 50 resources, each tried once when new.
      expect(owed.every((n, i) => n % WORKLOADS === 0 && n >= (i + 1) * WORKLOADS && (i === 0 || n >= owed[i - 1]!))).toBe(true);
      // Each scrape tried its new windows' resources and at most OWED_PROBES owed ones; one more
      // scrape (up to 4 windows when late) may be in flight. Retrying every owed window at every
      // scrape would take 50 * (1 + 2 + ... + n): 1,050 for 6 scrapes.
      expect(requests).toBeLessThanOrEqual(owed.at(-1)! + OWED_PROBES * lines.length + 4 * WORKLOADS + OWED_PROBES);
      expect(entries().some((e) => e['level'] === 50 && String(e['msg']).startsWith('Run:ai fetches all failed; owed windows are only probed'))).toBe(true);

      // Recovery: every owed resource window is emitted exactly once; the gauge falls to 0.
      const outage = new Map<string, number>();
      const firstWindow = new Set<string>();
      const seen = new Map<string, number>();
      for (;;) {
        const result = (await input.read(AbortSignal.timeout(20_000))) as ReadResult;
        for (const m of result.batch) {
          const key = `${String(m.metadata['window_start'])} ${(m.json() as { id: string }).id}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          firstWindow.add(String(m.metadata['window_start']));
        }
        result.ack();
        if ((await metricValue(metrics, 'run_ai_resources_owed', { type: 'workload' })) === 0 && seen.size >= (OUTAGE_SCRAPES + 1) * WORKLOADS) break;
      }
      for (const [key, count] of seen) if (count !== 1) outage.set(key, count);
      expect(outage).toEqual(new Map());
      // The outage's windows are all there, 50 resources each.
      const perWindow = new Map<string, number>();
      for (const key of seen.keys()) perWindow.set(key.split(' ')[0]!, (perWindow.get(key.split(' ')[0]!) ?? 0) + 1);
      const starts = [...perWindow.keys()].sort();
      expect(starts.length).toBeGreaterThanOrEqual(OUTAGE_SCRAPES + 1);
      expect(starts.every((s) => perWindow.get(s) === WORKLOADS)).toBe(true);
    });
  }
});

describe('owedBackoff', () => {
  it('retries at the next scrape first, then after 1, 2, 4... windows (less half a window), at most OWED_MAX_BACKOFF_MS', () => {
    const window = { start: 0, end: 30_000 };
    expect([1, 2, 3, 4, 5].map((a) => owedBackoff(a, window))).toEqual([0, 15_000, 45_000, 105_000, 225_000]);
    expect(owedBackoff(40, window)).toBe(OWED_MAX_BACKOFF_MS);
    expect(owedBackoff(2, { start: 0, end: 10 })).toBe(500);
  });
});
