// Shared by the Run:ai tests: a pino logger whose lines a test can read, and metric readers.
import { pino, type Logger } from 'pino';
import type { Metrics } from '../../src/engine/metrics.js';

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written, raw JSON text, unscrubbed. */
  readonly lines: string[];
  /** Parsed lines. */
  entries(): Record<string, unknown>[];
}

/** A pino logger at `trace` writing into memory, so a test sees exactly what would be logged. */
export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** The series a summary's or histogram's value belongs to (`x_count`, `x_sum`); undefined for a counter's or gauge's. */
export function seriesName(value: object): string | undefined {
  return 'metricName' in value && typeof value.metricName === 'string' ? value.metricName : undefined;
}

/** The value of a counter or gauge series, 0 when absent. */
export async function metricValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const series = data.values.find((v) => Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value) && !seriesName(v)?.endsWith('_sum'));
  return series?.value ?? 0;
}

/** Label sets recorded for a metric. */
export async function metricLabels(metrics: Metrics, name: string): Promise<Record<string, string | number>[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values.map((v) => v.labels as Record<string, string | number>);
}
