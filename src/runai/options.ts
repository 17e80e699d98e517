// What the Run:ai client is configured with and what it answers: its options, bounds and
// defaults, and the shapes of a listing and a metrics request.

import type { Logger } from 'pino';
import type { Metrics } from '../engine/metrics.js';
import type { Secrets } from '../engine/secrets.js';

/** Metric types per metrics request; OpenMeter's collector chunks by 9 "to not exceed the max". */
export const MAX_METRIC_TYPES_PER_REQUEST = 9;
/** The most metrics requests in flight when the caller sets no `concurrency`. */
export const DEFAULT_CONCURRENCY = 256;
/** The least metrics requests in flight the adaptive limit keeps, when the caller sets no `minConcurrency`. */
export const DEFAULT_MIN_CONCURRENCY = 4;
/** Where the adaptive limit starts (within its bounds): what used to be the fixed default. */
export const INITIAL_CONCURRENCY = 64;

/**
 * What one listing may take before it is stopped as runaway (a server that always answers `next`,
 * or answers the same page whatever the offset): a listing past any of them rejects with kind
 * `limit`, so the scrape fails, is logged and its windows stay due.
 */
export interface RunAiListLimits {
  /** Pages one listing may request. */
  readonly maxPages: number;
  /** Rows one listing may return (kept or not). */
  readonly maxRows: number;
  /** Bytes of answers one listing may read. */
  readonly maxBytes: number;
  /** Time one listing may take, retries included. */
  readonly deadlineMs: number;
  /** Listing requests per second, after a burst of as many: a runaway cannot hammer Run:ai. */
  readonly pagesPerSecond: number;
}

/** 100,000 rows in pages of 500 is 200 pages; a Run:ai tenant with more running workloads is not one sluice expects. */
export const DEFAULT_LIST_LIMITS: RunAiListLimits = { maxPages: 1_000, maxRows: 100_000, maxBytes: 256 * 1024 * 1024, deadlineMs: 5 * 60_000, pagesPerSecond: 20 };
/** The largest single answer read (a listing page, a metrics answer, a token): past it the request fails with kind `limit`. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export type RunAiCredentials =
  | { readonly grantType: 'app_token'; readonly appId: string; readonly appSecret: string }
  | { readonly grantType: 'client_credentials'; readonly clientId: string; readonly clientSecret: string };

/** The `http` block of the `run_ai` config, in milliseconds. */
export interface RunAiHttpOptions {
  /** Per attempt, from sending the request to reading the whole body. */
  readonly timeoutMs: number;
  /** Retries after the first attempt (so retryCount + 1 attempts at most). */
  readonly retryCount: number;
  readonly retryWaitMs: number;
  readonly retryMaxWaitMs: number;
}

export interface RunAiClientOptions {
  /** Base URL; a path prefix (`https://host/runai`) is kept. */
  readonly url: string;
  readonly credentials: RunAiCredentials;
  /** `limit` of listing requests, 1-500. */
  readonly pageSize: number;
  readonly http: RunAiHttpOptions;
  /**
   * The most metrics requests in flight at once. Default DEFAULT_CONCURRENCY. The number in flight
   * adapts between `minConcurrency` and this (adaptive.ts): it grows while answers come back fast and
   * healthy, halves on 429, 503, timeouts and broken connections, and shrinks when answers slow down.
   */
  readonly concurrency?: number;
  /** The least metrics requests in flight the adaptive limit keeps; equal to `concurrency` for a fixed number. Default DEFAULT_MIN_CONCURRENCY (capped at `concurrency`). */
  readonly minConcurrency?: number;
  /** Bounds of one listing; each absent field takes DEFAULT_LIST_LIMITS'. */
  readonly listLimits?: Partial<RunAiListLimits>;
  /** The largest answer read. Default MAX_RESPONSE_BYTES. */
  readonly maxResponseBytes?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The app secret and every access token are added here, so no log line can carry them. */
  readonly secrets: Secrets;
}

// -- What the client returns ------------------------------------------------------------------

export interface Listing<T> {
  /** The resources to scrape, in the API's order, each id once. */
  readonly items: T[];
  /** Rows dropped because they can't be scraped (not an object, no id), each counted and named in `problems`. */
  readonly skipped: number;
  /** Rows seen twice (the list changed between pages); the first one is kept. */
  readonly duplicates: number;
  /** What was wrong with malformed rows, e.g. `workloads[3].runningPods: expected integer, got string`. */
  readonly problems: string[];
}

/** A metrics window in epoch ms; the API is queried with both ends truncated to whole seconds. */
export interface MetricsWindow {
  readonly start: number;
  readonly end: number;
}

export type MetricsTarget =
  | { readonly kind: 'workload'; readonly workloadId: string }
  | { readonly kind: 'pod'; readonly workloadId: string; readonly podId: string };
