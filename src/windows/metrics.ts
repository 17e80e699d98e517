// What a windowed input (input.ts) counts: its metrics, named after its source (`run_ai_...`,
// `prometheus_...`) and labelled by the resource type.

import type { Counter, Gauge } from 'prom-client';
import type { Metrics, Timer } from '../engine/metrics.js';

export interface WindowMetrics {
  /** Resource windows whose fetch failed, to be retried. */
  readonly failures: Counter;
  /** Resource windows given up, by reason. */
  readonly abandoned: Counter;
  /** Whole windows given up as gaps (max_backfill). */
  readonly skipped: Counter;
  /** Windows scraped after a restart that fell due while sluice was not running. */
  readonly backfilled: Counter;
  /** Resource windows still owed. */
  readonly owed: Gauge;
  /** Scrapes whose listing failed. */
  readonly scrapeErrors: Counter;
  /** Duration of each scrape, in nanoseconds. */
  readonly scrapeDuration: Timer;
}

/** Registers the metrics of a windowed input whose source names its metrics with the prefix `p`. */
export function windowMetrics(m: Metrics, p: string): WindowMetrics {
  return {
    failures: m.counter(`${p}_resource_failures_total`, 'Resource windows whose fetch failed and are retried at the next scrape.', ['type']),
    abandoned: m.counter(`${p}_windows_abandoned_total`, 'Resource windows given up after retries, or dropped while the backlog was full.', ['type', 'reason']),
    skipped: m.counter(`${p}_windows_skipped_total`, 'Whole windows given up (state: older than max_backfill when they could be scraped), recorded as gaps.', ['type', 'reason']),
    backfilled: m.counter(`${p}_windows_backfilled_total`, 'Windows scraped after a restart that were due while sluice was not running (state).', ['type']),
    owed: m.gauge(`${p}_resources_owed`, 'Resource windows whose fetch failed and are still to be retried (with back-off).', ['type']),
    scrapeErrors: m.counter(`${p}_scrape_errors_total`, 'Scrapes whose listing failed; their windows stay due.', ['type']),
    scrapeDuration: m.timer(`${p}_scrape_duration_ns`, 'Duration of one scrape (listing and fetches) in nanoseconds.', ['type']),
  };
}
