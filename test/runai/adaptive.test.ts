import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../src/runai/adaptive.js';
import { RunAiClient } from '../../src/runai/client.js';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';
import { startRunAiSimulator } from '../../src/runai/sim.js';
import { pino } from 'pino';

/** A limit on a clock the test moves. */
function limitAt(options: { min: number; max: number; initial?: number }) {
  let now = 0;
  const limit = new AdaptiveLimit({ ...options, now: () => now });
  return { limit, advance: (ms: number) => (now += ms) };
}

/** Keeps `limit.limit` tasks running (as a scrape with thousands queued does) and answers each after `latency` with `signal`. */
async function saturate(limit: AdaptiveLimit, answers: number, answer: (i: number) => { latencyMs: number; signal: 'ok' | 'throttled' | 'failed' }, advance: (ms: number) => void) {
  let peak = 0;
  const tasks = Array.from({ length: answers }, (_, i) =>
    limit.run(async () => {
      peak = Math.max(peak, limit.inFlight);
      expect(limit.inFlight).toBeLessThanOrEqual(Math.max(limit.limit, 1) + 1);
      await Promise.resolve();
      const { latencyMs, signal } = answer(i);
      advance(latencyMs / Math.max(1, limit.limit));
      limit.observe(latencyMs, signal);
    }),
  );
  await Promise.all(tasks);
  return peak;
}

describe('AdaptiveLimit', () => {
  it('starts at its initial value and grows to its ceiling while answers are fast and healthy', async () => {
    const { limit, advance } = limitAt({ min: 4, max: 256, initial: 64 });
    expect(limit.limit).toBe(64);
    await saturate(limit, 2_000, () => ({ latencyMs: 25, signal: 'ok' }), advance);
    expect(limit.limit).toBe(256);
  });

  it('halves on throttling, once per round trip, and never drops below its floor', async () => {
    const { limit, advance } = limitAt({ min: 4, max: 256, initial: 128 });
    limit.observe(25, 'throttled');
    expect(limit.limit).toBe(64);
    // Answers of requests sent under the old limit arrive within the same round trip: no second cut.
    limit.observe(25, 'throttled');
    expect(limit.limit).toBe(64);
    for (let i = 0; i < 20; i++) {
      advance(30);
      limit.observe(25, i % 2 === 0 ? 'throttled' : 'failed');
    }
    expect(limit.limit).toBe(4);
  });

  it('shrinks when answers take more than twice the baseline latency, and recovers when they speed up', async () => {
    const { limit, advance } = limitAt({ min: 4, max: 256, initial: 200 });
    for (let i = 0; i < 50; i++) limit.observe(20, 'ok');
    const before = limit.limit;
    for (let i = 0; i < 200; i++) {
      advance(5);
      limit.observe(100, 'ok');
    }
    const slowed = limit.limit;
    expect(slowed).toBeLessThan(before * 0.5);
    await saturate(limit, 3_000, () => ({ latencyMs: 20, signal: 'ok' }), advance);
    expect(limit.limit).toBeGreaterThan(slowed);
  });

  it('never runs more tasks at once than its limit, and runs every task once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 24 }),
        fc.array(fc.constantFrom<'ok' | 'throttled' | 'failed'>('ok', 'ok', 'ok', 'throttled', 'failed'), { minLength: 1, maxLength: 60 }),
        async (min, extra, signals) => {
          const { limit, advance } = limitAt({ min, max: min + extra });
          const started: number[] = [];
          let running = 0;
          await Promise.all(
            signals.map((signal, i) =>
              limit.run(async () => {
                started.push(i);
                running++;
                expect(running).toBeLessThanOrEqual(limit.max);
                await new Promise((resolve) => setImmediate(resolve));
                advance(10);
                limit.observe(10 + (i % 7), signal);
                running--;
              }),
            ),
          );
          expect(started).toEqual(signals.map((_, i) => i));
          expect(limit.limit).toBeGreaterThanOrEqual(min);
          expect(limit.limit).toBeLessThanOrEqual(min + extra);
          expect(limit.inFlight).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a client whose Run:ai throttles half its metrics requests with 429 lowers its limit, and still gets every metric', async () => {
    const sim = await startRunAiSimulator({ workloads: 60, phases: { Running: 1 }, zeroPodRunningFraction: 0, faults: [{ route: 'workload-metrics', rate: 0.5, times: 40, effect: { status: 429 } }] });
    const client = new RunAiClient({
      url: sim.url,
      credentials: { grantType: 'app_token', appId: sim.credentials.id, appSecret: sim.credentials.secret },
      pageSize: 100,
      http: { timeoutMs: 5_000, retryCount: 10, retryWaitMs: 1, retryMaxWaitMs: 5 },
      concurrency: 32,
      minConcurrency: 2,
      logger: pino({ level: 'silent' }),
      metrics: new Metrics(),
      secrets: new Secrets(),
    });
    try {
      const signal = new AbortController().signal;
      expect(client.inFlightLimit).toBe(32);
      const listing = await client.listWorkloads(signal);
      const window = { start: Date.parse('2025-01-01T12:00:00Z'), end: Date.parse('2025-01-01T12:00:30Z') };
      const results = await Promise.all(listing.items.map((w) => client.metrics({ kind: 'workload', workloadId: w.id }, ['POD_COUNT'], window, signal)));
      expect(results.every((r) => r.values['POD_COUNT'] !== undefined)).toBe(true);
      expect(sim.requests.some((r) => r.status === 429)).toBe(true);
      expect(client.inFlightLimit).toBeLessThan(32);
      expect(client.inFlightLimit).toBeGreaterThanOrEqual(2);
    } finally {
      await client.close();
      await sim.close();
    }
  });
});
