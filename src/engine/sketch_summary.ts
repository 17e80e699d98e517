// A Prometheus summary of durations, as Redpanda Connect exports its timers: per label set, the
// 0.5, 0.9 and 0.99 quantiles over the last 10 minutes, and a sum and a count over the whole run
// (the Go Prometheus client's summary defaults). The quantiles come from DDSketches
// (@datadog/sketches-js): recording a value reads the clock and adds to one bucket (about 70 ns),
// where prom-client's own Summary inserts into a t-digest (about 800 ns). Timers run once per
// processor call, so at `batch_size: 1` once per message, for every processor. Quantiles are
// within 1% of the value of their rank; sum and count are exact. The 10 minutes are 5 age buckets
// of 2 minutes, as in the Go client: a value counts for 8 to 10 minutes, and a series that saw
// nothing that long reports NaN quantiles. The metric registers itself in a prom-client registry,
// which serves it like any other (text and JSON formats, default labels).
import { DDSketch } from '@datadog/sketches-js';
import type { LabelValues, MetricValueWithName, Registry } from 'prom-client';

/** Relative accuracy of the quantiles. */
const RELATIVE_ACCURACY = 0.01;
/** The quantiles' window, in age buckets (the Go client's DefMaxAge and DefAgeBuckets). */
const AGE_BUCKETS = 5;
const BUCKET_MS = (10 * 60_000) / AGE_BUCKETS;

interface Series {
  readonly labels: Record<string, string>;
  /** The age buckets, `current` the one being filled; each holds the values of BUCKET_MS. */
  readonly ring: DDSketch[];
  current: number;
  /** When `current` started (Date.now()). */
  startedAt: number;
  sum: number;
  count: number;
}

const newSketch = () => new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });

export interface SketchSummaryOptions {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly percentiles: readonly number[];
  readonly registers: readonly Registry[];
  /** Runs before every read of the values (prom-client's `collect`). */
  readonly collect?: () => void;
}

export class SketchSummary {
  readonly name: string;
  readonly help: string;
  readonly type = 'summary';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #percentiles: readonly number[];
  readonly #collect: (() => void) | undefined;
  readonly #series = new Map<string, Series>();

  constructor(options: SketchSummaryOptions) {
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = options.labelNames;
    this.#percentiles = options.percentiles;
    this.#collect = options.collect;
    // prom-client's Registry serves any object with name, help, type, get() and reset().
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** Records `value` for a label set (an object of label names), or for no labels when given only a value. */
  observe(labels: LabelValues<string> | number, value?: number): void {
    if (typeof labels === 'number') {
      this.#record(this.#seriesOf(this.#labelNames.map(() => undefined)), labels);
      return;
    }
    for (const name in labels) if (!this.#labelNames.includes(name)) throw new Error(`${this.name}: unknown label ${name}`);
    this.#record(this.#seriesOf(this.#labelNames.map((name) => (labels[name] === undefined ? undefined : String(labels[name])))), value!);
  }

  /** The series of these label values (in labelNames' order), to record into without looking it up again. */
  labels(...values: string[]): { observe(value: number): void } {
    if (values.length !== this.#labelNames.length) throw new Error(`${this.name}: ${values.length} label values for ${this.#labelNames.length} labels`);
    const series = this.#seriesOf(values);
    return { observe: (value) => this.#record(series, value) };
  }

  /** The values as prom-client's metrics give them to their registry (and to tests reading a metric). */
  async get(): Promise<{ name: string; help: string; type: 'summary'; values: MetricValueWithName<string>[]; aggregator: 'sum' }> {
    this.#collect?.();
    const values: MetricValueWithName<string>[] = [];
    const now = Date.now();
    for (const s of this.#series.values()) {
      if (s.count === 0) continue;
      age(s, now);
      const window = newSketch();
      for (const sketch of s.ring) window.merge(sketch);
      for (const quantile of this.#percentiles) values.push({ labels: { quantile, ...s.labels }, value: window.count === 0 ? Number.NaN : window.getValueAtQuantile(quantile) });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: 'summary', values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#series.clear();
  }

  #record(series: Series, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a valid number: ${value}`);
    age(series, Date.now());
    // The sketch keeps values ≥ 0 in buckets (a clock that went backwards records 0).
    series.ring[series.current]!.accept(value > 0 ? value : 0);
    series.sum += value;
    series.count++;
  }

  /** The series of these label values; a label without a value (undefined) is left out, as prom-client leaves it. */
  #seriesOf(values: readonly (string | undefined)[]): Series {
    const key = values.map((v) => (v === undefined ? '\u0001' : v)).join('\u0000');
    let series = this.#series.get(key);
    if (!series) {
      const labels: Record<string, string> = {};
      this.#labelNames.forEach((name, i) => {
        if (values[i] !== undefined) labels[name] = values[i];
      });
      series = { labels, ring: Array.from({ length: AGE_BUCKETS }, newSketch), current: 0, startedAt: Date.now(), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    return series;
  }
}

/** Moves `series` on to the age bucket of `now`, emptying the buckets it passes (their values are older than the window). */
function age(series: Series, now: number): void {
  if (now - series.startedAt < BUCKET_MS) return;
  const steps = Math.floor((now - series.startedAt) / BUCKET_MS);
  for (let i = 0; i < Math.min(steps, AGE_BUCKETS); i++) {
    series.current = (series.current + 1) % AGE_BUCKETS;
    series.ring[series.current] = newSketch();
  }
  series.startedAt += steps * BUCKET_MS;
}
