// A metrics answer reduced the way OpenMeter's collector reduces it
// (shared/reference/runai-and-openmeter-api.md §5.2), minus reading garbage as zero.

import { isPerGpuMetric } from './api.js';
import { clip } from './errors.js';
import { isObject } from './rows.js';

/**
 * One resource's metrics over a window, reduced like the reference: the last sample of each type;
 * a type whose `values` is empty or null is 0; a type the server did not return is absent.
 *
 * Per-GPU types (`*_PER_GPU`) answer one measurement per GPU. `values[type]` keeps the reference's
 * reading (the last GPU in the answer) so existing mappings see the same number; `perGpu[type]` keeps
 * every GPU, keyed by its `gpu` label (or its position when unlabelled): `{"0": 92, "1": 40}`, `{}`
 * for a resource without GPUs.
 */
export interface MetricValues {
  values: Record<string, number>;
  perGpu: Record<string, Record<string, number>>;
}

/** Where the reduction reports what it could not read. */
export interface MalformedReport {
  /** The error to throw for an unreadable answer, counted by `kind`. */
  malformed(kind: string, message: string): Error;
  /** A type had no samples in the window (read as 0, counted). */
  empty(): void;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Reduces one metrics answer's measurements to the last sample per type (and per GPU), as the
 * reference does; throws `report.malformed(...)` on anything unreadable.
 */
export function reduceMeasurements(list: unknown[], types: readonly string[], route: string, report: MalformedReport): MetricValues {
  const result: MetricValues = { values: {}, perGpu: {} };
  for (const type of types) if (isPerGpuMetric(type)) result.perGpu[type] = {};
  for (const [i, m] of list.entries()) {
    if (!isObject(m) || typeof m['type'] !== 'string') throw report.malformed('shape', `${route}: measurements[${i}] has no type`);
    const type = m['type'];
    if (!types.includes(type)) continue;
    const value = lastValue(m['values'], `${route}: ${type}`, report);
    result.values[type] = value;
    if (isPerGpuMetric(type)) {
      const labels = m['labels'];
      const gpu = isObject(labels) && typeof labels['gpu'] === 'string' ? labels['gpu'] : String(Object.keys(result.perGpu[type]!).length);
      result.perGpu[type]![gpu] = value;
    }
  }
  return result;
}

function lastValue(values: unknown, what: string, report: MalformedReport): number {
  if (values === null || values === undefined || (Array.isArray(values) && values.length === 0)) {
    // The spec allows `values: null`: no samples in the window. The reference reads 0; counted so it shows.
    report.empty();
    return 0;
  }
  if (!Array.isArray(values)) throw report.malformed('shape', `${what}: values is not an array`);
  const last: unknown = values[values.length - 1];
  const text = isObject(last) ? last['value'] : undefined;
  if (typeof text !== 'string' || !DECIMAL.test(text)) {
    throw report.malformed('value', `${what}: value ${clip(JSON.stringify(text) ?? 'undefined')} is not a non-negative number`);
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw report.malformed('value', `${what}: value ${clip(text)} is out of range`);
  // Every Run:ai metric is a quantity or a percentage: a negative one is corrupt, not usage.
  if (value < 0) throw report.malformed('value', `${what}: value ${clip(text)} is negative`);
  return value;
}
