// The timers' summary (SketchSummary): served by prom-client's registry exactly as prom-client's
// own Summary is, with exact sums and counts and quantiles within 1% of the value of their rank.
import fc from 'fast-check';
import { Registry, Summary } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SketchSummary } from '../../src/engine/sketch_summary.js';

const PERCENTILES = [0.5, 0.9, 0.99];

describe('SketchSummary', () => {
  it('is exposed as prom-client exposes its Summary: the same lines, sums and counts, default labels included', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    for (const registry of [ours, theirs]) registry.setDefaultLabels({ stream: 's1' });
    const sketch = new SketchSummary({ name: 'processor_latency_ns', help: 'Time to process a batch, in ns.', labelNames: ['label', 'path'], percentiles: PERCENTILES, registers: [ours] });
    const summary = new Summary({ name: 'processor_latency_ns', help: 'Time to process a batch, in ns.', labelNames: ['label', 'path'], percentiles: PERCENTILES, registers: [theirs] });
    const values = [1200, 800, 950, 40_000, 1_000, 1_100, 3];
    for (const v of values) {
      sketch.labels('', 'pipeline.processors[0]').observe(v);
      summary.labels('', 'pipeline.processors[0]').observe(v);
    }
    sketch.observe({ label: 'b', path: 'pipeline.processors[1]' }, 5);
    summary.observe({ label: 'b', path: 'pipeline.processors[1]' }, 5);
    // Quantile estimates differ between the two estimators; everything else is the same text.
    const withoutQuantileValues = (text: string) => text.replace(/(quantile="[^"]+"[^}]*\}) \S+/g, '$1 Q');
    expect(withoutQuantileValues(await ours.metrics())).toBe(withoutQuantileValues(await theirs.metrics()));
    expect(await ours.metrics()).toContain('processor_latency_ns_sum{label="",path="pipeline.processors[0]",stream="s1"} 45053');
    expect(await ours.metrics()).toContain('processor_latency_ns_count{label="b",path="pipeline.processors[1]",stream="s1"} 1');
    ours.resetMetrics();
    expect(await ours.metrics()).not.toContain('processor_latency_ns_count');
  });

  it('gives each quantile within 1% of the observation of that rank, and the exact sum and count', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 1, max: 1e11, noNaN: true }), { minLength: 1, maxLength: 2000 }), async (values) => {
        const registry = new Registry();
        const sketch = new SketchSummary({ name: 't', help: 't', labelNames: [], percentiles: PERCENTILES, registers: [registry] });
        for (const v of values) sketch.observe(v);
        const sorted = [...values].sort((a, b) => a - b);
        const got = (await sketch.get()).values;
        for (const q of PERCENTILES) {
          const estimate = got.find((v) => v.labels.quantile === q)!.value;
          // The observation of rank q(n-1), rounded either way.
          const ranks = [Math.floor(q * (values.length - 1)), Math.ceil(q * (values.length - 1))];
          expect(ranks.some((r) => Math.abs(estimate - sorted[r]!) <= 0.0101 * sorted[r]!)).toBe(true);
        }
        expect(got.find((v) => v.metricName === 't_count')!.value).toBe(values.length);
        expect(got.find((v) => v.metricName === 't_sum')!.value).toBe(values.reduce((a, b) => a + b, 0));
      }),
    );
  });

  describe('over a sliding window of 10 minutes, as the Go client', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('forgets values after 8 to 10 minutes in its quantiles, never in its sum and count', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const start = Date.UTC(2026, 0, 1);
      vi.setSystemTime(start);
      const sketch = new SketchSummary({ name: 't', help: 't', labelNames: [], percentiles: [0.5], registers: [] });
      const median = async () => (await sketch.get()).values.find((v) => v.labels.quantile === 0.5)!.value;
      const count = async () => (await sketch.get()).values.find((v) => v.metricName === 't_count')!.value;
      for (let i = 0; i < 3; i++) sketch.observe(1000);
      vi.setSystemTime(start + 5 * 60_000);
      for (let i = 0; i < 5; i++) sketch.observe(5000);
      // Both within the window: the median is among the 5000s (5 of 8 values).
      vi.setSystemTime(start + 7 * 60_000);
      expect(await median()).toBeCloseTo(5000, -2);
      for (let i = 0; i < 4; i++) sketch.observe(1000);
      // 7 of 12 values are 1000s; at 10 minutes the first three have left the window: 4 of 9.
      expect(await median()).toBeCloseTo(1000, -2);
      vi.setSystemTime(start + 10 * 60_000);
      expect(await median()).toBeCloseTo(5000, -2);
      // Nothing seen for 10 minutes: no quantile, as the Go client reports it.
      vi.setSystemTime(start + 20 * 60_000);
      expect(await median()).toBeNaN();
      expect(await count()).toBe(12);
    });
  });

  it('refuses a value that is not a number and a label it does not have, as prom-client does', () => {
    const sketch = new SketchSummary({ name: 't', help: 't', labelNames: ['label'], percentiles: PERCENTILES, registers: [] });
    expect(() => sketch.observe({ label: 'a' }, Number.NaN)).toThrow(/not a valid number/);
    expect(() => sketch.observe({ other: 'a' }, 1)).toThrow(/unknown label other/);
    expect(() => sketch.labels('a', 'b')).toThrow(/2 label values for 1 labels/);
  });
});
