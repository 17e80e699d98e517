// One scrape of a windowed input, past its listing: the jobs it runs (a resource over a window),
// fetching them with bounded parallelism, and how their outcomes become batches, owed resources,
// recoveries and gaps.

import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Undeliverable } from '../engine/delivery.js';
import { Message } from '../engine/message.js';
import type { GapReason, StoredMessage } from './ledger.js';
import { FETCHES_IN_FLIGHT, owedBackoff, type Window, type WindowSource } from './source.js';

/** One resource to fetch over one window. */
export interface Job<R> {
  readonly resource: R;
  readonly window: Window;
  /** Scrapes that already failed to fetch it; above 0 it is a retry of an owed resource. */
  readonly attempts: number;
  /** Without state: not retried before this time (epoch ms). */
  readonly notBefore?: number;
}

export type Outcome<R> = { readonly job: Job<R>; readonly messages: Message[] } | { readonly job: Job<R>; readonly error: Error };

/** A window's messages (or a window's retried resources) as stored and as emitted. */
export interface SortedBatch {
  readonly window: Window;
  readonly kind: 'window' | 'retry';
  readonly messages: Message[];
  readonly stored: StoredMessage[];
}

export interface SortedOutcomes {
  /** Batches in window order, a window's retries before its new messages. */
  readonly ordered: SortedBatch[];
  readonly failed: { window: Window; resourceId: string; resource: unknown; error: string; retryAt: number }[];
  readonly recovered: { window: Window; resourceId: string }[];
  readonly givenUp: { window: Window; resourceId: string; reason: GapReason; detail: string }[];
  /** Up to 3 failures, for the log line. */
  readonly examples: { id: string; window_end: string; error: string }[];
}

/**
 * With state: sorts a scrape's outcomes into what the ledger records. A failure is given up (a gap)
 * when the resource is gone or its window is older than max_backfill, otherwise owed with back-off.
 * Emitted messages are rebuilt from the stored bytes, so a replay after a restart is identical.
 */
export function sortOutcomes<R>(
  outcomes: readonly Outcome<R>[],
  how: { idOf(resource: R): string; gone(error: Error): boolean; scrub(error: unknown): string; now: number; maxBackfillMs: number },
): SortedOutcomes {
const { now, maxBackfillMs } = how;
  const batches = new Map<string, SortedBatch & { messages: Message[]; stored: StoredMessage[] }>();
  const failed: { window: Window; resourceId: string; resource: unknown; error: string; retryAt: number }[] = [];
  const recovered: { window: Window; resourceId: string }[] = [];
  const givenUp: { window: Window; resourceId: string; reason: GapReason; detail: string }[] = [];
  const examples: { id: string; window_end: string; error: string }[] = [];
  for (const outcome of outcomes) {
    const { job } = outcome;
    const id = how.idOf(job.resource);
    const kind = job.attempts > 0 ? 'retry' : 'window';
    if ('messages' in outcome) {
      if (kind === 'retry') recovered.push({ window: job.window, resourceId: id });
      if (outcome.messages.length === 0) continue;
      const key = `${job.window.start}:${kind}`;
      let batch = batches.get(key);
      if (!batch) batches.set(key, (batch = { window: job.window, kind, messages: [], stored: [] }));
      for (const message of outcome.messages) {
        // What is emitted is built from the stored bytes, so a replay after a restart is identical.
        const body = message.bytes();
        batch.stored.push({ body, metadata: message.metadata });
        batch.messages.push(Message.fromBytes(body, message.metadata));
      }
      continue;
    }
    const error = how.scrub(outcome.error);
    const gone = how.gone(outcome.error);
    if (gone || job.window.tick < now - maxBackfillMs) {
      const reason: GapReason = gone ? 'not_found' : 'max_backfill';
      givenUp.push({ window: job.window, resourceId: id, reason, detail: `after ${job.attempts + 1} attempt(s): ${error}` });
      continue;
    }
    failed.push({ window: job.window, resourceId: id, resource: job.resource, error, retryAt: now + owedBackoff(job.attempts + 1, job.window) });
    if (examples.length < 3) examples.push({ id, window_end: iso(job.window.end), error });
  }
  const ordered = [...batches.values()].sort((a, b) => a.window.start - b.window.start || (a.kind === b.kind ? 0 : a.kind === 'retry' ? -1 : 1));
  return { ordered, failed, recovered, givenUp, examples };
}

/**
 * Fetches every job from `source`, at most FETCHES_IN_FLIGHT at a time (the source bounds its own
 * requests further), so a scrape of 50,000 resources holds a thousand pending fetches, not 50,000.
 * Outcomes come back in job order, a failure as its error; when `signal` aborts, the jobs not
 * started are left out.
 */
export async function fetchAll<R>(jobs: readonly Job<R>[], source: WindowSource<R>, signal: AbortSignal): Promise<Outcome<R>[]> {
  const outcomes: Outcome<R>[] = new Array<Outcome<R>>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !signal.aborted) {
      const job = jobs[next]!;
      const i = next++;
      try {
        outcomes[i] = { job, messages: await source.fetch(job.resource, job.window, signal) };
      } catch (err) {
        outcomes[i] = { job, error: err as Error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCHES_IN_FLIGHT, jobs.length) }, worker));
  return outcomes;
}

/** Without state: the messages of a scrape, one batch per window, in window order. */
export function groupByWindow<R>(outcomes: readonly Outcome<R>[]): Message[][] {
  const byWindow = new Map<number, Message[]>();
  for (const outcome of outcomes) {
    if (!('messages' in outcome)) continue;
    const key = outcome.job.window.start;
    const batch = byWindow.get(key);
    if (batch) batch.push(...outcome.messages);
    else if (outcome.messages.length > 0) byWindow.set(key, [...outcome.messages]);
  }
  return [...byWindow.keys()].sort((a, b) => a - b).map((key) => byWindow.get(key)!);
}

/** The resources of a batch whose messages the pipeline gave up: logged, counted, and returned as gaps to record. */
export function reportGivenUp<R>(
  messages: readonly Message[],
  error: Undeliverable,
  how: { source: WindowSource<R>; scrub(error: unknown): string; abandoned: Counter; logger: Logger; state?: string },
): { resourceId: string; reason: GapReason; detail: string }[] {
  const { source } = how;
  const gaps = error.items.map((item) => ({
    resourceId: item.index === undefined || messages[item.index] === undefined ? '(unknown)' : source.resourceIdOf(messages[item.index]!),
    reason: item.kind,
    detail: how.scrub(item.reason),
  }));
  for (const gap of gaps) how.abandoned.inc({ type: source.type, reason: gap.reason });
  const window = messages[0]?.metadata;
  how.logger.error(
    {
      resources: gaps.length,
      examples: gaps.slice(0, 3).map((g) => ({ id: g.resourceId, reason: g.reason, detail: g.detail })),
      window_start: window?.window_start,
      window_end: window?.window_end,
      ...(how.state !== undefined ? { state: how.state } : {}),
    },
    how.state !== undefined
      ? `${source.name} usage the pipeline could not deliver is not billed; recorded as gaps in the state`
      : `${source.name} usage the pipeline could not deliver is not billed`,
  );
  return gaps;
}

/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints UTC (no trailing zeros). */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
}
