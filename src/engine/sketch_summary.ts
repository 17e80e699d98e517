// A Prometheus summary of durations, as Redpanda Connect exports its timers: per label set, the
// 0.5, 0.9 and 0.99 quantiles, a sum and a count. The quantiles come from a DDSketch
// (@datadog/sketches-js): recording a value adds to one bucket (about 25 ns), where prom-client's
// own Summary inserts into a t-digest (about 800 ns). Timers run once per processor call, so at
// `batch_size: 1` once per message, for every processor. Quantiles are within 1% of the value of
// that rank; sum and count are exact. Like prom-client's Summary without `maxAgeSeconds`, the
// quantiles cover the whole run. The metric registers itself in a prom-client registry, which
// serves it like any other (text and JSON formats, default labels).
import { DDSketch } from '@datadog/sketches-js';
import type { LabelValues, MetricValueWithName, Registry } from 'prom-client';

/** Relative accuracy of the quantiles. */
const RELATIVE_ACCURACY = 0.01;

interface Series {
  readonly labels: Record<string, string>;
  readonly sketch: DDSketch;
  sum: number;
  count: number;
}

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
    for (const s of this.#series.values()) {
      if (s.count === 0) continue;
      for (const quantile of this.#percentiles) values.push({ labels: { quantile, ...s.labels }, value: s.sketch.getValueAtQuantile(quantile) });
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
    // The sketch keeps values ≥ 0 in buckets (a clock that went backwards records 0).
    series.sketch.accept(value > 0 ? value : 0);
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
      series = { labels, sketch: new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    return series;
  }
}
