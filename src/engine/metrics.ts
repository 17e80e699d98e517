import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

/**
 * The Prometheus registry of one running pipeline. Metrics are created on first use and shared
 * by name, so every component can count into `output_sent{label,path}` without coordinating.
 */
export class Metrics {
  readonly registry = new Registry();

  counter(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Counter {
    return this.#getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Gauge {
    return this.#getOrCreate(name, () => new Gauge({ name, help, labelNames, registers: [this.registry] }));
  }

  /** A timer in nanoseconds, exported as a summary as Redpanda Connect does. */
  timer(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Summary {
    return this.#getOrCreate(
      name,
      () => new Summary({ name, help, labelNames, percentiles: [0.5, 0.9, 0.99], registers: [this.registry] }),
    );
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: number[]): Histogram {
    return this.#getOrCreate(name, () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry] }));
  }

  #getOrCreate<M>(name: string, create: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? create();
  }
}
