import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type LabelValues } from 'prom-client';
import { SketchSummary } from './sketch_summary.js';

/** What a timer offers: durations in ns, for a label set or for the series of labels(). */
export interface Timer {
  observe(labels: LabelValues<string>, ns: number): void;
  labels(...values: string[]): { observe(ns: number): void };
}

/** How the registry is exposed (Redpanda Connect's `metrics` section). */
export interface MetricsOptions {
  /** `metrics: none`: /metrics serves nothing. */
  readonly none?: boolean;
  /** Timers as histograms in seconds (`use_histogram_timing`), with these buckets ([]: prom-client's). */
  readonly histogramBuckets?: readonly number[];
  /** Add process_* series (CPU, memory, file descriptors). */
  readonly processMetrics?: boolean;
  /** Add the runtime's nodejs_* series (Connect's add_go_metrics). */
  readonly runtimeMetrics?: boolean;
  /**
   * Renames a series (`metrics.mapping`): the new name, null to drop the series, or the name
   * unchanged. Called once per name; the answer is kept.
   */
  readonly rename?: (name: string) => Promise<string | null>;
  /** Labels every series carries (`stream` in streams mode). */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}


/**
 * The Prometheus registry of one running pipeline. Metrics are created on first use and shared
 * by name, so every component can count into `output_sent{label,path}` without coordinating.
 */
export class Metrics {
  readonly registry = new Registry();
  #options: MetricsOptions;
  #runtime: Registry | undefined;
  #names = new Map<string, Promise<string | null>>();
  #deferred: (() => void)[] = [];
  /** Every metric's prom-client `collect`: runs before any read of the registry. */
  readonly #collect = (): void => {
    for (const flush of this.#deferred) flush();
  };

  constructor(options: MetricsOptions = {}) {
    this.#options = options;
    if (options.defaultLabels) this.registry.setDefaultLabels({ ...options.defaultLabels });
    if (options.processMetrics || options.runtimeMetrics) {
      this.#runtime = new Registry();
      collectDefaultMetrics({ register: this.#runtime });
    }
  }

  counter(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Counter {
    return this.#getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [this.registry], collect: this.#collect }));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Gauge {
    return this.#getOrCreate(name, () => new Gauge({ name, help, labelNames, registers: [this.registry], collect: this.#collect }));
  }

  /**
   * A timer in nanoseconds, exported as a summary as Redpanda Connect does (a SketchSummary: cheap
   * enough to time every processor call); with `use_histogram_timing`, as a histogram in seconds
   * (observations are converted).
   */
  timer(name: string, help: string, labelNames: readonly string[] = ['label', 'path']): Timer {
    const buckets = this.#options.histogramBuckets;
    if (buckets === undefined) {
      return this.#getOrCreate(name, () => new SketchSummary({ name, help, labelNames, percentiles: [0.5, 0.9, 0.99], registers: [this.registry], collect: this.#collect }));
    }
    const histogram = this.#getOrCreate(
      name,
      () => new Histogram({ name, help, labelNames, ...(buckets.length > 0 ? { buckets: [...buckets] } : {}), registers: [this.registry], collect: this.#collect }),
    );
    const seconds = {
      observe: (labels: LabelValues<string>, ns: number) => histogram.observe(labels, ns / 1e9),
      labels: (...values: string[]) => {
        const child = histogram.labels(...values);
        return { observe: (ns: number) => child.observe(ns / 1e9) };
      },
    };
    return seconds;
  }

  /**
   * Counts a hot path keeps in plain numbers: `flush` adds them to their series (and zeroes them).
   * It runs whenever the registry is read (/metrics, get(), metrics()), so readers see every count.
   */
  deferred(flush: () => void): void {
    this.#deferred.push(flush);
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: number[]): Histogram {
    return this.#getOrCreate(name, () => new Histogram({ name, help, labelNames, buckets, registers: [this.registry], collect: this.#collect }));
  }

  /**
   * The text served at /metrics: the registry (and runtime series asked for), `path` labels in
   * Redpanda Connect's form (root.pipeline.processors.0), renamed or dropped by `metrics.mapping`.
   */
  async exposition(): Promise<string> {
    if (this.#options.none) return '';
    let text = (await this.registry.metrics()).replace(/([{,]path=")([^"]*)"/g, (_, prefix: string, path: string) => `${prefix}${connectPath(path)}"`);
    if (this.#runtime) {
      const wanted = (name: string) => (this.#options.processMetrics && name.startsWith('process_')) || (this.#options.runtimeMetrics && name.startsWith('nodejs_'));
      const runtime = splitFamilies(await this.#runtime.metrics()).filter((f) => wanted(f.name));
      text += runtime.map((f) => f.text).join('');
    }
    const rename = this.#options.rename;
    if (!rename) return text;
    const out: string[] = [];
    for (const family of splitFamilies(text)) {
      let renamed = this.#names.get(family.name);
      if (!renamed) this.#names.set(family.name, (renamed = rename(family.name).catch(() => family.name)));
      const name = await renamed;
      if (name === null) continue;
      out.push(name === family.name ? family.text : renameFamily(family, name));
    }
    return out.join('');
  }

  #getOrCreate<M>(name: string, create: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? create();
  }
}

interface Family {
  readonly name: string;
  /** Its lines, each ending in \n. */
  readonly text: string;
}

/** Prometheus text split into metric families, each starting at its `# HELP` line. */
function splitFamilies(text: string): Family[] {
  const families: Family[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+)/.exec(line);
    if (help || families.length === 0) families.push({ name: help?.[1] ?? '', text: '' });
    const last = families[families.length - 1]!;
    families[families.length - 1] = { name: last.name, text: `${last.text}${line}\n` };
  }
  return families;
}

/** A family under a new name: its HELP/TYPE lines and every sample (`name`, `name_sum`, `name_bucket`...). */
function renameFamily(family: Family, name: string): string {
  return family.text
    .split('\n')
    .map((line) => {
      if (line.startsWith(`# HELP ${family.name} `) || line.startsWith(`# TYPE ${family.name} `)) return line.replace(family.name, name);
      return line.startsWith(family.name) ? name + line.slice(family.name.length) : line;
    })
    .join('\n');
}

/**
 * A config path (`pipeline.processors[0]`) as Redpanda Connect writes it in the `path` label
 * (`root.pipeline.processors.0`): a position in the config as a Bloblang path from `root`.
 */
export function connectPath(path: string): string {
  if (path === '' || path === 'root' || path.startsWith('root.')) return path;
  return `root.${path.replace(/\[(\d+)\]/g, '.$1')}`;
}

/** The config path a component's series are labelled with: its node, without the type key (`output.http_client` -> `output`). */
export function componentPath(settingsPath: string): string {
  const dot = settingsPath.lastIndexOf('.');
  return dot === -1 ? settingsPath : settingsPath.slice(0, dot);
}

/** Several expositions as one (streams mode): each family once, with the samples of all. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, string[]>();
  for (const text of texts) {
    for (const family of splitFamilies(text)) {
      const lines = family.text.split('\n').filter((l) => l !== '');
      const known = families.get(family.name);
      if (known) known.push(...lines.filter((l) => !l.startsWith('#')));
      else families.set(family.name, lines);
    }
  }
  return [...families.values()].map((lines) => `${lines.join('\n')}\n`).join('');
}
