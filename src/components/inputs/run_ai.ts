// input.run_ai: scrapes NVIDIA Run:ai workload (or pod) metrics on a schedule, one message per
// resource per window. A drop-in for OpenMeter's collector input of the same name: same config,
// same message body and metadata (shared/reference/runai-and-openmeter-api.md §1, §6), plus
// `window_start` / `window_end`.
//
// Where it differs from the reference, on purpose:
// - Windows are anchored to the schedule's nominal ticks: window k is [tick(k-1) - offset,
//   tick(k) - offset], so consecutive windows neither overlap nor leave a gap, whatever the timer
//   jitter. `scrape_interval` is the window's length (the same value for a regular schedule).
// - Scrapes never overlap. One that overruns delays the next, which then scrapes every tick it
//   missed, each as its own window (at most MAX_WINDOWS_PER_SCRAPE per scrape).
// - A failed listing leaves its windows due for the next tick instead of losing them.
// - A resource whose metrics fail (after the client's retries) is not emitted with partial values;
//   it is logged, counted, and its window is fetched again at the next scrape, up to MAX_ATTEMPTS.
// - The default `metrics` depend on `resource_type` (the reference's workload list 400s for pods).
//   A JSON Schema default can't depend on a sibling, so the schema leaves `metrics` absent and
//   create() picks DEFAULT_METRICS[resource_type].
// - Per-GPU metric types (pod mode) also keep every GPU: `metrics.perGpu[type]` is `{"0": 92,
//   "1": 40}`, while `metrics.values[type]` keeps the reference's reading (the last GPU listed).
//   `perGpu` is absent when no per-GPU type is scraped, so workload bodies are the reference's.
// - Workload listing pages correctly (see runai/client.ts), runs metrics requests concurrently and
//   retries 429/5xx; unreadable answers are counted in `run_ai_malformed_total{kind}`.
// - With `state`, a window ledger in SQLite (runai/ledger.ts) makes the input durable: a window's
//   messages are stored before they are emitted and the window is done only once its batch is
//   acked; after a restart, unacked batches are emitted again byte for byte, the windows missed
//   while sluice was down are scraped from Run:ai's history with the bounds they would have had
//   (so the mapping gives them the same ids), up to `max_backfill`, and older ones are recorded as
//   gaps (table, metric, log line). Resources whose metrics failed are owed in the ledger and
//   retried for their window until they succeed, 404 or fall out of `max_backfill`.
//
// The schedule is compiled by croner (runai/schedule.ts); the input runs its own timer so each
// window is anchored to the nominal tick rather than to when a timer happened to fire.

import { setMaxListeners } from 'node:events';
import type { Ack, BufferPosition, Input, ReadResult, Settings } from '../../engine/component.js';
import type { BufferState } from '../../engine/buffer_store.js';
import { Undeliverable } from '../../engine/delivery.js';
import { defineInput, FieldErrors } from '../../engine/component.js';
import { redactUrl } from '../../engine/secrets.js';
import { Message } from '../../engine/message.js';
import type { Counter, Gauge, Summary } from 'prom-client';
import { durationSchema, formatDuration, parseDuration } from '../../config/duration.js';
import { METRIC_TYPES, POD_METRIC_TYPES, WORKLOAD_METRIC_TYPES, rfc3339Nano, rfc3339Seconds, type ResourceType } from '../../runai/api.js';
import { DEFAULT_LIST_LIMITS, RunAiClient, RunAiError, type Listing, type MetricValues, type MetricsTarget, type Pod, type Workload } from '../../runai/client.js';
import { planResume, WindowLedger, type GapReason, type LedgerWindow, type PendingBatch, type StoredMessage } from '../../runai/ledger.js';
import { compileSchedule, type Schedule } from '../../runai/schedule.js';
import { resolve as resolvePath } from 'node:path';

export interface RunAiConfig {
  url: string;
  app_id: string;
  app_secret: string;
  resource_type: ResourceType;
  /** Absent means the default list of `resource_type` (DEFAULT_METRICS). */
  metrics?: string[];
  page_size: number;
  schedule: string;
  metrics_offset: string;
  http: {
    timeout: string;
    retry_count: number;
    retry_wait_time: string;
    retry_max_wait_time: string;
    max_in_flight: number;
  };
  /** Absent: windows live in memory only, as in OpenMeter's collector. */
  state?: {
    path: string;
    max_backfill: string;
    sync: 'off' | 'normal' | 'full';
  };
}

/**
 * The metrics scraped when `metrics` is absent. Workloads: the reference's 12 defaults, in its
 * order. Pods: the six pod metrics Run:ai serves without the "Advanced GPU Metrics" flag.
 */
export const DEFAULT_METRICS: Readonly<Record<ResourceType, readonly string[]>> = {
  workload: [
    'CPU_LIMIT_CORES',
    'CPU_MEMORY_LIMIT_BYTES',
    'CPU_MEMORY_REQUEST_BYTES',
    'CPU_MEMORY_USAGE_BYTES',
    'CPU_REQUEST_CORES',
    'CPU_USAGE_CORES',
    'GPU_ALLOCATION',
    'GPU_MEMORY_REQUEST_BYTES',
    'GPU_MEMORY_USAGE_BYTES',
    'GPU_UTILIZATION',
    'POD_COUNT',
    'RUNNING_POD_COUNT',
  ],
  pod: ['GPU_UTILIZATION_PER_GPU', 'GPU_UTILIZATION', 'GPU_MEMORY_USAGE_BYTES_PER_GPU', 'GPU_MEMORY_USAGE_BYTES', 'CPU_USAGE_CORES', 'CPU_MEMORY_USAGE_BYTES'],
};

/** Without `state`: scrapes a resource's missing window is tried in before it is given up (logged and counted). */
export const MAX_ATTEMPTS = 10;
/** Without `state`: windows kept due while listing fails; older ones are dropped (logged and counted). With `state`, max_backfill decides. */
export const MAX_DUE_WINDOWS = 120;
/** Windows one scrape covers when it has fallen behind, so catching up stays bounded in memory. */
export const MAX_WINDOWS_PER_SCRAPE = 4;
/**
 * Owed resource windows retried per scrape while Run:ai answers metrics: at least this many, or
 * four times the resources listed, oldest first. The rest wait for the next scrape.
 */
export const MIN_OWED_PER_SCRAPE = 1_000;
/** Owed resource windows retried per scrape while the last scrape's metrics all failed (an outage): probes. */
export const OWED_PROBES = 10;
/** The longest an owed resource window waits between retries (see owedBackoff). */
export const OWED_MAX_BACKOFF_MS = 10 * 60_000;
/** The shortest listing deadline, whatever the schedule. */
export const LISTING_DEADLINE_MIN_MS = 60_000;
/** Undelivered batches after which scraping pauses (windows stay due) until the output catches up. */
export const MAX_PENDING_BATCHES = 120;

const ALL_METRIC_TYPES = [...new Set<string>([...WORKLOAD_METRIC_TYPES, ...POD_METRIC_TYPES])].sort();

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'app_id', 'app_secret'],
  properties: {
    url: { type: 'string', description: 'Run:ai base URL, e.g. https://myorg.run.ai. May be empty (an unset RUNAI_URL); connecting then fails.' },
    app_id: { type: 'string', description: 'Run:ai application (client) id.' },
    app_secret: { type: 'string', 'x-secret': true, description: 'Run:ai application secret.' },
    resource_type: { type: 'string', enum: ['workload', 'pod'], default: 'workload', description: 'Resource to collect metrics for.' },
    metrics: {
      type: 'array',
      items: { type: 'string', enum: ALL_METRIC_TYPES },
      minItems: 1,
      uniqueItems: true,
      description:
        'Run:ai metric types to collect. Default depends on resource_type: workload gets the 12 workload metrics ' +
        '(CPU_LIMIT_CORES ... RUNNING_POD_COUNT), pod gets GPU_UTILIZATION_PER_GPU, GPU_UTILIZATION, ' +
        'GPU_MEMORY_USAGE_BYTES_PER_GPU, GPU_MEMORY_USAGE_BYTES, CPU_USAGE_CORES, CPU_MEMORY_USAGE_BYTES.',
    },
    page_size: { type: 'integer', minimum: 100, maximum: 500, default: 500, description: 'Resources per listing request.' },
    schedule: {
      type: 'string',
      default: '*/30 * * * * *',
      description: 'When to scrape: a cron with seconds first ("*/30 * * * * *"), a descriptor (@hourly) or "@every 30s".',
    },
    metrics_offset: durationSchema('How far windows lag the schedule, to let Run:ai ingest metrics first.', '0s'),
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'HTTP client settings.',
      properties: {
        timeout: durationSchema('Timeout of one request attempt.', '30s'),
        retry_count: { type: 'integer', minimum: 0, default: 1, description: 'Retries after a failed attempt (timeouts, connection errors, 429, 5xx).' },
        retry_wait_time: durationSchema('Shortest wait before a retry.', '100ms'),
        retry_max_wait_time: durationSchema('Longest wait before a retry.', '1s'),
        max_in_flight: {
          type: 'integer',
          minimum: 1,
          default: 64,
          description:
            'Metrics requests in flight at once (not in the doc: OpenMeter\'s collector sends one at a time). 10,000 workloads at 25 ms take ~11 s at 64, ~6 s at 128; mind your Run:ai rate limits.',
        },
      },
    },
    state: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      description:
        'A window ledger in SQLite that makes the input durable: scraped windows are stored until their batch is acked and sent again after a restart, ' +
        'windows missed while sluice was down are backfilled from Run:ai with the same bounds (hence the same event ids), older ones are recorded as gaps, ' +
        'and resources whose metrics failed are retried for their window. Absent: windows live in memory only, as in OpenMeter\'s collector.',
      properties: {
        path: { type: 'string', minLength: 1, 'x-state': true, description: 'The SQLite file, relative to the config file\'s folder; one per run_ai input.' },
        max_backfill: durationSchema(
          "How far back missed windows are scraped after a restart or a long Run:ai outage; older windows are recorded as gaps. Keep it within Run:ai's metrics retention and below the sink's dedupe window.",
          '1h',
        ),
        sync: {
          type: 'string',
          enum: ['off', 'normal', 'full'],
          default: 'normal',
          description: 'normal: survives a killed process; full: fsync per commit, survives power loss; off: neither guaranteed (as the sqlite buffer).',
        },
      },
    },
  },
};

export default defineInput<RunAiConfig>({
  name: 'run_ai',
  summary: 'Scrapes NVIDIA Run:ai workload or pod metrics on a schedule, one message per resource per window.',
  schema,
  example: { url: 'https://myorg.run.ai', app_id: 'openmeter-collector', app_secret: 'my-app-secret' },
  create: (config, settings) => new RunAiInput(compile(config), settings),
});

// -- config ------------------------------------------------------------------------------------

interface Compiled {
  readonly url: string;
  readonly appId: string;
  readonly appSecret: string;
  readonly resourceType: ResourceType;
  readonly metrics: readonly string[];
  readonly pageSize: number;
  readonly schedule: Schedule;
  readonly offsetMs: number;
  /** `metrics_offset` as Go prints it. */
  readonly offsetText: string;
  readonly http: { timeoutMs: number; retryCount: number; retryWaitMs: number; retryMaxWaitMs: number };
  readonly maxInFlight: number;
  readonly state?: { readonly path: string; readonly maxBackfillMs: number; readonly maxBackfillText: string; readonly sync: 'off' | 'normal' | 'full' };
}

function compile(config: RunAiConfig): Compiled {
  // Every problem is collected and reported at once, each at its field.
  const problems: { field: string; message: string }[] = [];
  const check = <T>(field: string, fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push({ field, message: (err as Error).message });
      return fallback;
    }
  };
  if (config.url !== '') check('url', () => checkUrl(config.url), undefined);
  const metrics = config.metrics ?? DEFAULT_METRICS[config.resource_type];
  const allowed = METRIC_TYPES[config.resource_type];
  for (const [i, type] of metrics.entries()) {
    if (!allowed.includes(type)) {
      problems.push({ field: `metrics[${i}]`, message: `${type} is not a ${config.resource_type} metric type (${config.resource_type} types: ${allowed.join(', ')})` });
    }
  }
  const schedule = check('schedule', () => compileSchedule(config.schedule), undefined);
  const offsetNs = check('metrics_offset', () => nonNegative(config.metrics_offset, 'a negative offset ends windows in the future, so partly filled metrics would be billed'), 0);
  const ms = (field: string, text: string): number => check(field, () => parseDuration(text) / 1e6, 0);
  const http = {
    timeoutMs: ms('http.timeout', config.http.timeout),
    retryCount: config.http.retry_count,
    retryWaitMs: ms('http.retry_wait_time', config.http.retry_wait_time),
    retryMaxWaitMs: ms('http.retry_max_wait_time', config.http.retry_max_wait_time),
  };
  if (http.timeoutMs <= 0) problems.push({ field: 'http.timeout', message: `must be positive, got ${config.http.timeout}` });
  if (http.retryWaitMs < 0) problems.push({ field: 'http.retry_wait_time', message: `must not be negative, got ${config.http.retry_wait_time}` });
  if (http.retryMaxWaitMs < http.retryWaitMs) {
    problems.push({ field: 'http.retry_max_wait_time', message: `${config.http.retry_max_wait_time} is shorter than http.retry_wait_time (${config.http.retry_wait_time})` });
  }
  let state: Compiled['state'];
  if (config.state) {
    const maxBackfillNs = check('state.max_backfill', () => parseDuration(config.state!.max_backfill), 0);
    if (maxBackfillNs <= 0) {
      problems.push({ field: 'state.max_backfill', message: `must be more than 0s, got ${config.state.max_backfill}: every window would be given up as a gap` });
    } else if (schedule !== undefined) {
      // Below one window, every window is older than max_backfill by the time it can be scraped: all of it would be gaps.
      const first = schedule.next(Date.now());
      const intervalNs = (schedule.next(first) - first) * 1e6;
      if (maxBackfillNs < intervalNs) {
        problems.push({
          field: 'state.max_backfill',
          message: `${config.state.max_backfill} is shorter than one window of the schedule (${formatDuration(intervalNs)}): every window would be given up as a gap`,
        });
      }
    }
    state = { path: config.state.path, maxBackfillMs: maxBackfillNs / 1e6, maxBackfillText: formatDuration(maxBackfillNs), sync: config.state.sync };
  }
  if (problems.length > 0) throw new FieldErrors(problems);
  return {
    maxInFlight: config.http.max_in_flight,
    url: config.url,
    appId: config.app_id,
    appSecret: config.app_secret,
    resourceType: config.resource_type,
    metrics,
    pageSize: config.page_size,
    schedule: schedule!,
    offsetMs: offsetNs / 1e6,
    offsetText: formatDuration(offsetNs),
    http,
    ...(state ? { state } : {}),
  };
}

function nonNegative(text: string, why: string): number {
  const ns = parseDuration(text);
  if (ns < 0) throw new Error(`must not be negative, got ${text}: ${why}`);
  return ns;
}

function checkUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`url ${JSON.stringify(redactUrl(text))} is not a URL (expected e.g. https://myorg.run.ai)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`url ${JSON.stringify(redactUrl(text))} must use http or https`);
}


// -- the input ---------------------------------------------------------------------------------

/** A metrics window: [start, end] in epoch ms, and the nominal schedule tick it belongs to. */
type Window = LedgerWindow;

/** One resource to fetch metrics for over one window. */
interface Job {
  readonly resource: Workload | Pod;
  readonly target: MetricsTarget;
  readonly window: Window;
  /** Scrapes that already failed to fetch it; above 0 it is a retry of an owed resource. */
  readonly attempts: number;
  /** Without state: not retried before this time (epoch ms). */
  readonly notBefore?: number;
}

type Outcome = { readonly job: Job; readonly message: Message } | { readonly job: Job; readonly error: Error };

/** A batch waiting to be read: one window's messages, or the retried resources of one window. */
interface Queued {
  readonly messages: Message[];
  /** Its id in the ledger's outbox, when the input keeps state. */
  readonly ledgerId?: number;
}

class RunAiInput implements Input {
  #config: Compiled;
  #settings: Settings;
  #client: RunAiClient | undefined;
  #ledger: WindowLedger | undefined;
  /** Where the schedule starts, planned from the ledger at connect. */
  #plan: { start: number; tick: number } | undefined;
  /** Windows whose tick had passed when the input started are backfill. */
  #startedAt = 0;
  #loop: Promise<void> | undefined;
  #stop = new AbortController();
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Batches read and not yet settled: the ledger stays open until they are. */
  #outstanding = 0;
  /** Batches ready for read(), oldest first: one per window. */
  #batches: Queued[] = [];
  /** Deliveries acked but not yet written to the ledger (see #recordDelivered). */
  #unrecorded: { readonly messages: number; readonly write: (ledger: WindowLedger) => void }[] = [];
  /** The durable buffer's last reported state; set only when the pipeline has one. */
  #bufferState: BufferState | undefined;
  #waiters = new Set<() => void>();
  /** Windows whose listing hasn't succeeded yet, oldest first. */
  #due: Window[] = [];
  /** Without state: resource windows whose metrics failed, by `<id>@<window start>`, retried at the next scrape. */
  #missing = new Map<string, Job>();
  /** False after a scrape whose metrics requests all failed: owed windows are then only probed (OWED_PROBES). */
  #metricsAnswer = true;
  #failures: Counter;
  #abandoned: Counter;
  #skipped: Counter;
  #backfilled: Counter;
  #owed: Gauge;
  #scrapeErrors: Counter;
  #scrapeDuration: Summary;

  constructor(config: Compiled, settings: Settings) {
    this.#config = config;
    this.#settings = settings;
    // Every queued or in-flight request listens on the scrape signal: thousands, by design.
    setMaxListeners(0, this.#stop.signal);
    settings.secrets.add(config.appSecret);
    const m = settings.metrics;
    this.#failures = m.counter('run_ai_resource_failures_total', 'Resource windows whose metrics failed and are retried at the next scrape.', ['type']);
    this.#abandoned = m.counter('run_ai_windows_abandoned_total', 'Resource windows given up after retries, or dropped while the backlog was full.', ['type', 'reason']);
    this.#skipped = m.counter('run_ai_windows_skipped_total', 'Whole windows given up (state: older than max_backfill when they could be scraped), recorded as gaps.', ['type', 'reason']);
    this.#backfilled = m.counter('run_ai_windows_backfilled_total', 'Windows scraped after a restart that were due while sluice was not running (state).', ['type']);
    this.#owed = m.gauge('run_ai_resources_owed', 'Resource windows whose metrics failed and are still to be retried (with back-off).', ['type']);
    this.#scrapeErrors = m.counter('run_ai_scrape_errors_total', 'Scrapes whose listing failed; their windows stay due.', ['type']);
    this.#scrapeDuration = m.timer('run_ai_scrape_duration_ns', 'Duration of one scrape (listing and metrics) in nanoseconds.', ['type']);
  }

  /** Opens the state (re-queuing what it holds), checks url and credentials with a token request, then starts the schedule. */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#stop.signal.aborted) throw new Error('run_ai input is closed');
    if (this.#loop !== undefined) return;
    if (this.#config.url === '') throw new Error('url is empty: set input.run_ai.url (the docs read it from RUNAI_URL)');
    if (this.#config.state && this.#ledger === undefined) this.#openLedger(this.#config.state);
    this.#client ??= new RunAiClient({
      url: this.#config.url,
      credentials: { grantType: 'app_token', appId: this.#config.appId, appSecret: this.#config.appSecret },
      pageSize: this.#config.pageSize,
      http: this.#config.http,
      concurrency: this.#config.maxInFlight,
      listLimits: { deadlineMs: listingDeadline(this.#config.schedule) },
      logger: this.#settings.logger,
      metrics: this.#settings.metrics,
      secrets: this.#settings.secrets,
    });
    try {
      await this.#client.token(signal);
    } catch (err) {
      throw new Error(`cannot authenticate with Run:ai at ${redactUrl(this.#config.url)}: ${this.#scrub(err)}`);
    }
    if (this.#ledger) this.#plan ??= this.#resume(this.#ledger, this.#config.state!);
    this.#loop = this.#run(this.#client, this.#stop.signal).catch((err: unknown) => {
      this.#settings.logger.error({ error: this.#scrub(err) }, 'Run:ai schedule stopped unexpectedly');
    });
  }

  async read(signal: AbortSignal): Promise<ReadResult | null> {
    for (;;) {
      const queued = this.#batches.shift();
      if (queued !== undefined) {
        this.#outstanding++;
        return { batch: queued.messages, ack: this.#ack(queued) };
      }
      if (this.#stop.signal.aborted || signal.aborted) return null;
      await this.#nextBatch(signal);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort(new Error('run_ai input closed'));
    this.#notify();
    await this.#loop;
    await this.#client?.close();
    const unread = this.#batches.reduce((n, b) => n + b.messages.length, 0);
    if (unread > 0 && this.#ledger) {
      this.#settings.logger.info({ messages: unread, state: this.#ledger.file }, 'Run:ai input closed with unread messages; they are kept in its state and sent at the next start');
    } else if (unread > 0) {
      this.#settings.logger.warn({ messages: unread }, 'Run:ai input closed with undelivered messages; their windows are lost');
    }
    this.#closed = true;
    this.#closeLedgerWhenSettled();
  }

  /**
   * No error: the batch is done (and so is its window, in the ledger). Undeliverable: done too,
   * and the resources whose messages were given up are recorded (gaps in the ledger, an error line
   * and a count either way). Any other error: its messages are queued again, first in line.
   */
  #ack(queued: Queued): Ack {
    let settled = false;
    return (error, buffered) => {
      if (settled) return;
      settled = true;
      this.#outstanding--;
      try {
        if (error === undefined || error instanceof Undeliverable) {
          const givenUp = error ? this.#givenUp(queued, error) : [];
          if (queued.ledgerId !== undefined) this.#recordDelivered(queued.ledgerId, queued.messages.length, buffered, givenUp);
          return;
        }
        if (this.#stop.signal.aborted) {
          if (queued.ledgerId !== undefined) {
            this.#settings.logger.warn(
              { messages: queued.messages.length, error: this.#scrub(error) },
              'Run:ai batch was not delivered before shutdown; it is kept in the state and sent again at the next start',
            );
          } else {
            this.#settings.logger.error({ messages: queued.messages.length, error: this.#scrub(error) }, 'Run:ai batch was not delivered before shutdown; its windows are lost');
          }
          return;
        }
        this.#batches.unshift(queued);
        this.#notify();
        this.#settings.logger.warn({ messages: queued.messages.length, error: this.#scrub(error) }, 'Run:ai batch was not delivered; queued again');
      } finally {
        this.#closeLedgerWhenSettled();
      }
    };
  }

  /** The resources of a batch whose messages the pipeline gave up: logged, counted, and returned as gaps to record. */
  #givenUp(queued: Queued, error: Undeliverable): { resourceId: string; reason: GapReason; detail: string }[] {
    const type = this.#config.resourceType;
    const gaps = error.items.map((item) => ({
      resourceId: item.index === undefined ? '(unknown)' : resourceIdOf(queued.messages[item.index]),
      reason: item.kind,
      detail: this.#scrub(item.reason),
    }));
    for (const gap of gaps) this.#abandoned.inc({ type, reason: gap.reason });
    const window = queued.messages[0]?.metadata;
    this.#settings.logger.error(
      {
        resources: gaps.length,
        examples: gaps.slice(0, 3).map((g) => ({ id: g.resourceId, reason: g.reason, detail: g.detail })),
        window_start: window?.window_start,
        window_end: window?.window_end,
        ...(this.#ledger ? { state: this.#ledger.file } : {}),
      },
      this.#ledger
        ? 'Run:ai usage the pipeline could not deliver is not billed; recorded as gaps in the state'
        : 'Run:ai usage the pipeline could not deliver is not billed',
    );
    return gaps;
  }

  /**
   * Records the batch delivered in the ledger. A write that fails (a lock held by another process,
   * a full disk) is kept and tried again at the next ack, scrape or buffer progress, so a passing
   * problem costs no duplicate; if it still fails at the end, the next start sends the batch again.
   */
  #recordDelivered(ledgerId: number, messages: number, position: BufferPosition | undefined, givenUp: { resourceId: string; reason: GapReason; detail: string }[]): void {
    this.#unrecorded.push({ messages, write: (ledger) => ledger.delivered(ledgerId, { ...(position ? { position } : {}), givenUp }) });
    this.#recordPending();
  }

  /** Writes the deliveries not recorded yet, oldest first; false when one still fails. */
  #recordPending(): boolean {
    const ledger = this.#ledger;
    while (ledger?.isOpen && this.#unrecorded.length > 0) {
      const next = this.#unrecorded[0]!;
      try {
        next.write(ledger);
      } catch (err) {
        const closing = this.#closed && this.#outstanding === 0;
        this.#settings.logger.error(
          { messages: next.messages, batches: this.#unrecorded.length, error: (err as Error).message, state: ledger.file },
          closing
            ? 'Run:ai could not record delivered batches in its state; they will be sent again at the next start'
            : 'Run:ai could not record a delivered batch in its state yet; it tries again',
        );
        return false;
      }
      this.#unrecorded.shift();
    }
    return true;
  }

  /** Where the durable buffer stands: batches it delivered are forgotten, batches it lost are emitted again. */
  buffered(state: BufferState): void {
    this.#bufferState = state;
    // Reported before connect(): applied when the ledger opens, before its pending batches are read.
    if (!this.#ledger?.isOpen) return;
    this.#recordPending();
    const reopened = this.#reconcile(this.#ledger, state);
    this.#closeLedgerWhenSettled();
    if (reopened.length === 0 || this.#closed) return;
    this.#batches.unshift(...reopened.map(queuedOf));
    this.#notify();
  }

  /** Squares the ledger with the buffer; returns the batches the buffer lost, now pending again. */
  #reconcile(ledger: WindowLedger, state: BufferState): PendingBatch[] {
    let reopened: PendingBatch[];
    try {
      reopened = ledger.reconcile(state);
    } catch (err) {
      this.#settings.logger.error({ error: (err as Error).message, state: ledger.file }, 'Run:ai could not square its state with the buffer; it tries again at the buffer\'s next progress');
      return [];
    }
    if (reopened.length > 0) {
      this.#settings.logger.warn(
        { batches: reopened.length, messages: reopened.reduce((n, b) => n + b.messages.length, 0), buffer_committed: state.committed, state: ledger.file },
        'The buffer no longer holds Run:ai batches it had committed (its file was torn, replaced or lost); they are sent again from the state',
      );
    }
    return reopened;
  }

  /**
   * Acks arrive after close() while the pipeline drains, and so does the buffer's progress (the
   * engine reports it a last time after the drain): the ledger closes once no read is unsettled
   * and no batch waits for the buffer. Batches the buffer did not deliver before the end keep the
   * file open until the process exits; the next start squares them with the buffer.
   */
  #closeLedgerWhenSettled(): void {
    const ledger = this.#ledger;
    if (!this.#closed || this.#outstanding > 0 || !ledger?.isOpen) return;
    if (this.#recordPending() && this.#bufferState !== undefined && ledger.held() > 0) return;
    ledger.close();
  }

  #nextBatch(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  // -- state ---------------------------------------------------------------------------------

  /** Opens the ledger and queues the batches it holds undelivered, oldest first, before anything new. */
  #openLedger(state: NonNullable<Compiled['state']>): void {
    const file = resolvePath(this.#settings.baseDir, state.path);
    let ledger: WindowLedger;
    try {
      ledger = new WindowLedger({
        file,
        sync: state.sync,
        identity: { resourceType: this.#config.resourceType, schedule: this.#config.schedule.text, offsetMs: this.#config.offsetMs },
      });
    } catch (err) {
      throw new Error(`cannot open the run_ai state ${file}: ${(err as Error).message}`);
    }
    if (ledger.changes.length > 0) {
      this.#settings.logger.warn(
        { state: file, changes: ledger.changes },
        'Run:ai state was written with another schedule; windows continue from the last recorded one (the first may be shorter or longer), and ids of later windows differ from what the old schedule would have given',
      );
    }
    this.#ledger = ledger;
    if (this.#bufferState) this.#reconcile(ledger, this.#bufferState);
    const pending = ledger.pendingBatches();
    for (const batch of pending) this.#batches.push(queuedOf(batch));
    if (pending.length > 0) {
      this.#settings.logger.info(
        { state: file, batches: pending.length, messages: pending.reduce((n, b) => n + b.messages.length, 0) },
        'Run:ai batches scraped by a previous run and not delivered are sent again',
      );
    }
    this.#owed.set({ type: this.#config.resourceType }, ledger.missing().length);
  }

  /** Plans the first window from the ledger: backfill from the last recorded window, gaps beyond max_backfill. */
  #resume(ledger: WindowLedger, state: NonNullable<Compiled['state']>): { start: number; tick: number } {
    const now = Date.now();
    const resumePoint = ledger.resumePoint();
    const plan = planResume(this.#config.schedule, this.#config.offsetMs, resumePoint, now, state.maxBackfillMs);
    this.#startedAt = now;
    if (plan.gap) this.#recordGap(ledger, plan.gap, now);
    if (plan.backfill > 0) {
      this.#settings.logger.info(
        { windows: plan.backfill, from: rfc3339Nano(plan.start), schedule: this.#config.schedule.text },
        'Run:ai backfills the windows missed while it was not running',
      );
    }
    return { start: plan.start, tick: plan.tick };
  }

  /** Records whole windows given up as a gap: a row in the ledger, the skipped metric and an error line. */
  #recordGap(ledger: WindowLedger, gap: { start: number; end: number; windows: number }, now: number): void {
    const state = this.#config.state!;
    ledger.recordGap({ ...gap, reason: 'max_backfill', detail: `ended more than max_backfill (${state.maxBackfillText}) before they could be scraped` });
    this.#skipped.inc({ type: this.#config.resourceType, reason: 'max_backfill' }, gap.windows);
    this.#settings.logger.error(
      { windows: gap.windows, from: rfc3339Nano(gap.start), to: rfc3339Nano(gap.end), max_backfill: state.maxBackfillText, now: rfc3339Nano(now), state: ledger.file },
      'Run:ai windows skipped: they ended more than max_backfill before they could be scraped; their usage is not collected (recorded as a gap)',
    );
  }

  // -- schedule ------------------------------------------------------------------------------

  /**
   * Waits for each nominal tick, makes its window due and scrapes; one scrape at a time. With state,
   * windows left due after a scrape (backfill) are scraped at once instead of at the next tick.
   */
  async #run(client: RunAiClient, signal: AbortSignal): Promise<void> {
    const { schedule, offsetMs } = this.#config;
    let tick = this.#plan?.tick ?? schedule.next(Date.now());
    let start = this.#plan?.start ?? schedule.previous(tick) - offsetMs;
    let progressed = false;
    while (!signal.aborted) {
      const catchUp = this.#ledger !== undefined && progressed && this.#due.length > 0;
      if (!catchUp && !(await sleepUntil(tick, signal))) return;
      // Every tick that has passed gets its own window, so an overrun leaves no gap.
      const now = Date.now();
      while (tick <= now) {
        this.#due.push({ start, end: tick - offsetMs, tick });
        start = tick - offsetMs;
        tick = schedule.next(tick);
      }
      this.#trimDue(now);
      const began = Date.now();
      progressed = false;
      try {
        progressed = await this.#scrape(client, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#settings.logger.error({ error: this.#scrub(err) }, 'Run:ai scrape failed unexpectedly');
      }
      const took = Date.now() - began;
      if (Date.now() > tick && !signal.aborted) {
        this.#settings.logger.warn(
          { took: formatDuration(took * 1e6), schedule: schedule.text },
          'Run:ai scrape overran its schedule; the next scrape starts late and covers the missed ticks',
        );
      }
    }
  }

  #trimDue(now: number): void {
    const state = this.#config.state;
    if (this.#ledger && state) {
      // With state, a window is given up only once it is older than max_backfill, and never silently.
      let count = 0;
      while (count < this.#due.length && this.#due[count]!.tick < now - state.maxBackfillMs) count++;
      if (count === 0) return;
      const dropped = this.#due.slice(0, count);
      try {
        this.#recordGap(this.#ledger, { start: dropped[0]!.start, end: dropped[count - 1]!.end, windows: count }, now);
        this.#due.splice(0, count);
      } catch (err) {
        this.#settings.logger.error({ error: (err as Error).message }, 'Run:ai could not record a gap in its state; the windows stay due');
      }
      return;
    }
    const excess = this.#due.length - MAX_DUE_WINDOWS;
    if (excess <= 0) return;
    const dropped = this.#due.splice(0, excess);
    this.#abandoned.inc({ type: this.#config.resourceType, reason: 'backlog' }, dropped.length);
    this.#settings.logger.error(
      { windows: dropped.length, from: rfc3339Nano(dropped[0]!.start), to: rfc3339Nano(dropped[dropped.length - 1]!.end) },
      'Run:ai windows dropped: too many windows waiting to be scraped',
    );
  }

  // -- scrape --------------------------------------------------------------------------------

  /**
   * Lists resources, fetches metrics for due windows (at most MAX_WINDOWS_PER_SCRAPE) and every
   * missing one, queues one batch per window. Due windows leave `#due` only once settled, so a
   * scrape that is aborted or fails leaves them due. True when it settled windows or retries.
   */
  async #scrape(client: RunAiClient, signal: AbortSignal): Promise<boolean> {
    const type = this.#config.resourceType;
    if (this.#ledger) this.#recordPending();
    if (this.#batches.length >= MAX_PENDING_BATCHES) {
      this.#settings.logger.warn({ batches: this.#batches.length }, 'Run:ai scrape postponed: the output is behind');
      return false;
    }
    const started = process.hrtime.bigint();
    let listing: Listing<Workload | Pod>;
    try {
      listing = type === 'workload' ? await client.listWorkloads(signal) : await client.listPods(signal);
    } catch (err) {
      if (signal.aborted) return false;
      this.#scrapeErrors.inc({ type });
      this.#settings.logger.error(
        { error: this.#scrub(err), windows: this.#due.length },
        'Run:ai listing failed; its windows are scraped at the next tick',
      );
      return false;
    }
    this.#reportListing(listing);
    const windows = this.#due.slice(0, MAX_WINDOWS_PER_SCRAPE);
    const owedLimit = this.#metricsAnswer ? Math.max(MIN_OWED_PER_SCRAPE, 4 * listing.items.length) : OWED_PROBES;
    const jobs = this.#ledger ? this.#owedJobs(this.#ledger, owedLimit) : this.#dueMissing(owedLimit);
    const owedTried = jobs.length;
    for (const window of windows) for (const resource of listing.items) jobs.push({ resource, target: targetOf(type, resource), window, attempts: 0 });
    const outcomes = await Promise.all(jobs.map((job) => this.#fetch(client, job, signal)));
    if (signal.aborted) return false;
    const answered = outcomes.some((o) => 'message' in o);
    if (outcomes.length > 0 && answered !== this.#metricsAnswer) {
      if (answered) this.#settings.logger.info('Run:ai answers metrics again; owed windows are retried in full');
      else this.#settings.logger.error({ owed_tried: owedTried }, `Run:ai metrics all failed; owed windows are only probed (${OWED_PROBES} per scrape) until it answers`);
    }
    if (outcomes.length > 0) this.#metricsAnswer = answered;
    if (this.#ledger) this.#settleWithLedger(this.#ledger, windows, listing.items.length, outcomes);
    else this.#settle(outcomes);
    this.#due.splice(0, windows.length);
    this.#scrapeDuration.observe({ type }, Number(process.hrtime.bigint() - started));
    return windows.length > 0 || jobs.length > 0;
  }

  /** Up to `limit` resources the ledger says are owed and due, oldest first, as jobs of their own windows. */
  #owedJobs(ledger: WindowLedger, limit: number): Job[] {
    const type = this.#config.resourceType;
    return ledger.missing({ due: Date.now(), limit }).map((owed) => {
      const resource = owed.resource as Workload | Pod;
      return { resource, target: targetOf(type, resource), window: owed.window, attempts: owed.attempts };
    });
  }

  /** Without state: up to `limit` owed jobs whose back-off has passed, oldest first; they leave `#missing`. */
  #dueMissing(limit: number): Job[] {
    const now = Date.now();
    const jobs: Job[] = [];
    for (const [key, job] of this.#missing) {
      if (jobs.length >= limit) break;
      if ((job.notBefore ?? 0) > now) continue;
      jobs.push(job);
      this.#missing.delete(key);
    }
    return jobs;
  }

  async #fetch(client: RunAiClient, job: Job, signal: AbortSignal): Promise<Outcome> {
    try {
      const values = await client.metrics(job.target, this.#config.metrics, job.window, signal);
      return { job, message: this.#message(job, values) };
    } catch (err) {
      return { job, error: err as Error };
    }
  }

  /** Queues the messages, one batch per window in window order; schedules failures for the next scrape. */
  #settle(outcomes: Outcome[]): void {
    const byWindow = new Map<number, Message[]>();
    const failed: Job[] = [];
    const examples: { id: string; window_end: string; error: string }[] = [];
    for (const outcome of outcomes) {
      if ('message' in outcome) {
        const key = outcome.job.window.start;
        const batch = byWindow.get(key);
        if (batch) batch.push(outcome.message);
        else byWindow.set(key, [outcome.message]);
        continue;
      }
      failed.push(outcome.job);
      if (examples.length < 3) examples.push({ id: outcome.job.resource.id, window_end: rfc3339Nano(outcome.job.window.end), error: this.#scrub(outcome.error) });
      this.#retryLater(outcome.job, outcome.error);
    }
    for (const key of [...byWindow.keys()].sort((a, b) => a - b)) this.#batches.push({ messages: byWindow.get(key)! });
    if (byWindow.size > 0) this.#notify();
    this.#owed.set({ type: this.#config.resourceType }, this.#missing.size);
    this.#reportFailures(failed.length, examples, this.#missing.size);
  }

  /**
   * With state: records the whole scrape in the ledger in one transaction (new windows, their
   * messages, failures owed, recoveries, give-ups) and only then queues the batches, so what is
   * emitted is exactly what a restart would emit again. Throws (leaving everything due) when the
   * ledger cannot be written.
   */
  #settleWithLedger(ledger: WindowLedger, windows: readonly Window[], listed: number, outcomes: Outcome[]): void {
    const type = this.#config.resourceType;
    const maxBackfillMs = this.#config.state!.maxBackfillMs;
    const now = Date.now();
    const batches = new Map<string, { window: Window; kind: 'window' | 'retry'; messages: Message[]; stored: StoredMessage[] }>();
    const failed: { window: Window; resourceId: string; resource: unknown; error: string; retryAt: number }[] = [];
    const recovered: { window: Window; resourceId: string }[] = [];
    const givenUp: { window: Window; resourceId: string; reason: GapReason; detail: string }[] = [];
    const examples: { id: string; window_end: string; error: string }[] = [];
    for (const outcome of outcomes) {
      const { job } = outcome;
      const kind = job.attempts > 0 ? 'retry' : 'window';
      if ('message' in outcome) {
        const key = `${job.window.start}:${kind}`;
        let batch = batches.get(key);
        if (!batch) batches.set(key, (batch = { window: job.window, kind, messages: [], stored: [] }));
        // What is emitted is built from the stored bytes, so a replay after a restart is identical.
        const body = outcome.message.bytes();
        batch.stored.push({ body, metadata: outcome.message.metadata });
        batch.messages.push(Message.fromBytes(body, outcome.message.metadata));
        if (kind === 'retry') recovered.push({ window: job.window, resourceId: job.resource.id });
        continue;
      }
      const error = this.#scrub(outcome.error);
      const gone = outcome.error instanceof RunAiError && outcome.error.status === 404;
      if (gone || job.window.tick < now - maxBackfillMs) {
        const reason: GapReason = gone ? 'not_found' : 'max_backfill';
        givenUp.push({ window: job.window, resourceId: job.resource.id, reason, detail: `after ${job.attempts + 1} attempt(s): ${error}` });
        continue;
      }
      failed.push({ window: job.window, resourceId: job.resource.id, resource: job.resource, error, retryAt: now + owedBackoff(job.attempts + 1, job.window) });
      if (examples.length < 3) examples.push({ id: job.resource.id, window_end: rfc3339Nano(job.window.end), error });
    }
    const ordered = [...batches.values()].sort((a, b) => a.window.start - b.window.start || (a.kind === b.kind ? 0 : a.kind === 'retry' ? -1 : 1));
    const ids = ledger.recordScrape({
      windows: windows.map((window) => ({ window, listed })),
      batches: ordered.map((b) => ({ window: b.window, kind: b.kind, messages: b.stored })),
      failed,
      recovered,
      givenUp,
    });
    const backfilled = windows.filter((w) => w.tick <= this.#startedAt).length;
    if (backfilled > 0) this.#backfilled.inc({ type }, backfilled);
    for (const [i, batch] of ordered.entries()) this.#batches.push({ messages: batch.messages, ledgerId: ids[i]! });
    if (ordered.length > 0) this.#notify();
    for (const g of givenUp) {
      this.#abandoned.inc({ type, reason: g.reason });
      this.#settings.logger.error(
        { id: g.resourceId, window_start: rfc3339Nano(g.window.start), window_end: rfc3339Nano(g.window.end), reason: g.reason, detail: g.detail },
        g.reason === 'not_found'
          ? 'Run:ai resource no longer exists; its window is given up (recorded as a gap)'
          : 'Run:ai metrics kept failing until the window was older than max_backfill; it is given up (recorded as a gap)',
      );
    }
    const owed = ledger.owed();
    this.#owed.set({ type }, owed);
    this.#reportFailures(failed.length, examples, owed);
  }

  #reportFailures(count: number, examples: { id: string; window_end: string; error: string }[], owed: number): void {
    if (count === 0) return;
    this.#failures.inc({ type: this.#config.resourceType }, count);
    this.#settings.logger.warn({ failed: count, owed, examples }, 'Run:ai metrics failed for some resources; their windows are owed and retried with back-off');
  }

  #retryLater(job: Job, error: Error): void {
    const type = this.#config.resourceType;
    const gone = error instanceof RunAiError && error.status === 404;
    if (gone || job.attempts + 1 >= MAX_ATTEMPTS) {
      this.#abandoned.inc({ type, reason: gone ? 'not_found' : 'attempts' });
      this.#settings.logger.error(
        { id: job.resource.id, window_start: rfc3339Nano(job.window.start), window_end: rfc3339Nano(job.window.end), attempts: job.attempts + 1, error: this.#scrub(error) },
        gone ? 'Run:ai resource no longer exists; its window is given up' : 'Run:ai metrics kept failing; the window is given up',
      );
      return;
    }
    this.#missing.set(`${job.resource.id}@${job.window.start}`, { ...job, attempts: job.attempts + 1, notBefore: Date.now() + owedBackoff(job.attempts + 1, job.window) });
  }

  #reportListing(listing: Listing<Workload | Pod>): void {
    if (listing.problems.length > 0) {
      this.#settings.logger.warn(
        { problems: listing.problems.length, skipped: listing.skipped, examples: listing.problems.slice(0, 5) },
        'Run:ai listed malformed rows; unreadable fields are zero, rows without an id are skipped',
      );
    }
    if (listing.duplicates > 0) this.#settings.logger.warn({ duplicates: listing.duplicates }, 'Run:ai listing changed while paging; duplicate rows ignored');
  }

  /** The message for one resource and window: the reference's body, plus window metadata. */
  #message(job: Job, metrics: MetricValues): Message {
    const { window } = job;
    const type = this.#config.resourceType;
    const body = {
      resourceType: type,
      ...job.resource,
      metrics: {
        timestamp: rfc3339Nano(window.end),
        values: sortedByKey(metrics.values),
        ...(Object.keys(metrics.perGpu).length > 0 ? { perGpu: sortedByKey(metrics.perGpu) } : {}),
      },
    };
    return Message.fromJSON(body, {
      scrape_time: rfc3339Seconds(window.tick),
      scrape_interval: formatDuration((window.end - window.start) * 1e6),
      metrics_offset: this.#config.offsetText,
      resource_type: type,
      metrics_time: rfc3339Seconds(window.end),
      window_start: rfc3339Nano(window.start),
      window_end: rfc3339Nano(window.end),
    });
  }

  /** An error's message with every registered secret redacted. */
  #scrub(err: unknown): string {
    return this.#settings.secrets.scrub(err instanceof Error ? err.message : String(err));
  }
}

/**
 * How long one listing may take: the schedule's interval, at least LISTING_DEADLINE_MIN_MS (a slow
 * page with its retries) and at most DEFAULT_LIST_LIMITS' deadline. A listing past it fails the
 * scrape (logged; its windows stay due).
 */
function listingDeadline(schedule: Schedule): number {
  const first = schedule.next(Date.now());
  const interval = schedule.next(first) - first;
  return Math.min(DEFAULT_LIST_LIMITS.deadlineMs, Math.max(LISTING_DEADLINE_MIN_MS, interval));
}

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

function queuedOf(batch: PendingBatch): Queued {
  return { messages: batch.messages.map((m) => Message.fromBytes(m.body, m.metadata)), ledgerId: batch.id };
}

/** The Run:ai id of the resource a message of this input is about (its body's `id`). */
function resourceIdOf(message: Message | undefined): string {
  try {
    const id = (message?.json() as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' && id !== '' ? id : '(unknown)';
  } catch {
    return '(unknown)';
  }
}

function targetOf(type: ResourceType, resource: Workload | Pod): MetricsTarget {
  return type === 'workload'
    ? { kind: 'workload', workloadId: resource.id }
    : { kind: 'pod', workloadId: (resource as Pod).workloadId, podId: resource.id };
}

/** Keys in Go's map order (sorted), as the reference encodes `metrics.values`. */
function sortedByKey<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** Resolves true at `at` (epoch ms), or false as soon as `signal` aborts. */
function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const arm = (): void => {
      const remaining = at - Date.now();
      if (remaining <= 0) {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
        return;
      }
      // setTimeout caps at ~24.8 days; a longer wait (a yearly schedule) re-arms.
      timer = setTimeout(arm, Math.min(remaining, 2 ** 31 - 1));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}
