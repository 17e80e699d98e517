// What a windowed input is made of, apart from its machinery (input.ts): the source interface an
// outside system implements, the window type, and the limits and back-off of the scrape loop.

import type { Message } from '../engine/message.js';
import type { LedgerWindow } from './ledger.js';

/** Without `state`: scrapes a resource's missing window is tried in before it is given up (logged and counted). */
export const MAX_ATTEMPTS = 10;
/** Without `state`: windows kept due while listing fails; older ones are dropped (logged and counted). With `state`, max_backfill decides. */
export const MAX_DUE_WINDOWS = 120;
/** Windows one scrape covers when it has fallen behind, so catching up stays bounded in memory. */
export const MAX_WINDOWS_PER_SCRAPE = 4;
/**
 * Resource fetches one scrape runs at once; the source bounds its requests further (run_ai: its
 * adaptive in-flight limit). Enough to keep 256 Run:ai requests busy, few enough that a scrape of
 * 50,000 resources does not hold 50,000 pending fetches in memory.
 */
export const FETCHES_IN_FLIGHT = 1_024;
/** Undelivered batches after which scraping pauses (windows stay due) until the output catches up. */
export const MAX_PENDING_BATCHES = 120;
/**
 * Owed resource windows retried per scrape while the source answers fetches: at least this many,
 * or four times the resources listed, oldest first. The rest wait for the next scrape.
 */
export const MIN_OWED_PER_SCRAPE = 1_000;
/** Owed resource windows retried per scrape while the last scrape's fetches all failed (an outage): probes. */
export const OWED_PROBES = 10;
/** The longest an owed resource window waits between retries (see owedBackoff). */
export const OWED_MAX_BACKOFF_MS = 10 * 60_000;

/**
 * How long an owed window waits after its `attempts`-th failure: none after the first (it is
 * retried at the next scrape), then 1, 2, 4... window lengths (at least 1s), at most
 * OWED_MAX_BACKOFF_MS. Half a window is taken off, so a retry due "in one window" is due at the
 * next tick however long the failed scrape took.
 */
export function owedBackoff(attempts: number, window: { start: number; end: number }): number {
  const base = Math.max(1000, window.end - window.start);
  if (attempts <= 1) return 0;
  return Math.min(OWED_MAX_BACKOFF_MS, base * 2 ** Math.min(30, attempts - 2) - base / 2);
}

/** A window: [start, end] in epoch ms, and the nominal schedule tick it belongs to. */
export type Window = LedgerWindow;

/** What a windowed input scrapes: its outside system. R is one resource (a workload, a query). */
export interface WindowSource<R> {
  /** The system as log lines name it (`Run:ai`). */
  readonly name: string;
  /** The input's YAML key (`run_ai`), in errors. */
  readonly component: string;
  /** Prefix of the input's metrics (`run_ai` gives `run_ai_scrape_errors_total`). */
  readonly metricPrefix: string;
  /** The `type` label of those metrics, and what the ledger records (another type is refused). */
  readonly type: string;
  /** Checks that the system is reachable (credentials...); throws a message for the user. */
  connect(signal: AbortSignal): Promise<void>;
  /** Idempotent and safe without connect(). */
  close(): Promise<void>;
  /** The resources to fetch for new windows. Throws when they cannot be listed now: the windows stay due. */
  list(signal: AbortSignal): Promise<readonly R[]>;
  idOf(resource: R): string;
  /** The messages of one resource for one window (none is fine). Throws when it failed. */
  fetch(resource: R, window: Window, signal: AbortSignal): Promise<Message[]>;
  /** The fetch failed because the resource no longer exists: its window is given up, not retried. */
  gone(error: Error): boolean;
  /** The resource a message emitted by this source is about, for gaps. */
  resourceIdOf(message: Message): string;
}
