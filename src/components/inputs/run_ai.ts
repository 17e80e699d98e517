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
//   retries 429/5xx, adapting how many are in flight (runai/adaptive.ts); unreadable answers are
//   counted in `run_ai_malformed_total{kind}`.
// - `shards` / `shard` split the workloads between replicas by a stable hash (windows/shard.ts).
// - With `state`, a window ledger in SQLite (windows/ledger.ts; the windowing is windows/input.ts, shared with `prometheus`) makes the input durable: a window's
//   messages are stored before they are emitted and the window is done only once its batch is
//   acked; after a restart, unacked batches are emitted again byte for byte, the windows missed
//   while sluice was down are scraped from Run:ai's history with the bounds they would have had
//   (so the mapping gives them the same ids), up to `max_backfill`, and older ones are recorded as
//   gaps (table, metric, log line). Resources whose metrics failed are owed in the ledger and
//   retried for their window until they succeed, 404 or fall out of `max_backfill`.
//
// The schedule is compiled by croner (windows/schedule.ts); the input runs its own timer so each
// window is anchored to the nominal tick rather than to when a timer happened to fire.

import type { Settings } from '../../engine/component.js';
import { defineInput, FieldErrors } from '../../engine/component.js';
import { Message } from '../../engine/message.js';
import { redactUrl } from '../../engine/secrets.js';
import { durationSchema, formatDuration, parseDuration } from '../../config/duration.js';
import { METRIC_TYPES, POD_METRIC_TYPES, WORKLOAD_METRIC_TYPES, rfc3339Nano, rfc3339Seconds, type ResourceType } from '../../runai/api.js';
import { RunAiClient } from '../../runai/client.js';
import { RunAiError } from '../../runai/errors.js';
import type { MetricValues } from '../../runai/measurements.js';
import type { Pod, Workload } from '../../runai/rows.js';
import { DEFAULT_LIST_LIMITS, type Listing, type MetricsTarget } from '../../runai/options.js';
import { compileWindowing, scheduleInterval, stateSchema, type FieldProblem, type StateConfig, type WindowingConfig } from '../../windows/config.js';
import type { Schedule } from '../../windows/schedule.js';
import { WindowedInput, type Window, type WindowSource } from '../../windows/input.js';
import { inShard, parseShard, shardSchema, type Shard } from '../../windows/shard.js';

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
    min_in_flight: number;
  };
  /** Replicas sharing the workloads, and which share this one scrapes (windows/shard.ts). */
  shards: number;
  shard: number | string;
  /** Absent: windows live in memory only, as in OpenMeter's collector. */
  state?: StateConfig;
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

/** The shortest listing deadline, whatever the schedule. */
export const LISTING_DEADLINE_MIN_MS = 60_000;

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
          default: 256,
          description:
            'The most metrics requests in flight at once (not in the doc: OpenMeter\'s collector sends one at a time). ' +
            'The number in flight adapts between min_in_flight and this: it starts at 64, grows while Run:ai answers fast, ' +
            'halves on 429, 502-504, timeouts and connection errors, and shrinks when answers slow down. See README "Sizing".',
        },
        min_in_flight: {
          type: 'integer',
          minimum: 1,
          default: 4,
          description: 'The least metrics requests in flight the adaptive limit keeps when Run:ai throttles. Set it to max_in_flight for a fixed number.',
        },
      },
    },
    ...shardSchema('workloads'),
    state: stateSchema('Run:ai', 'run_ai'),
  },
};

export default defineInput<RunAiConfig>({
  name: 'run_ai',
  summary: 'Scrapes NVIDIA Run:ai workload or pod metrics on a schedule, one message per resource per window.',
  schema,
  example: { url: 'https://myorg.run.ai', app_id: 'openmeter-collector', app_secret: 'my-app-secret' },
  create: (config, settings) => {
    const compiled = compile(config);
    return new WindowedInput(compiled.windowing, new RunAiSource(compiled, settings), settings);
  },
});

// -- config ------------------------------------------------------------------------------------

interface Compiled {
  readonly url: string;
  readonly appId: string;
  readonly appSecret: string;
  readonly resourceType: ResourceType;
  readonly metrics: readonly string[];
  readonly pageSize: number;
  readonly windowing: WindowingConfig;
  /** `metrics_offset` as Go prints it. */
  readonly offsetText: string;
  readonly http: { timeoutMs: number; retryCount: number; retryWaitMs: number; retryMaxWaitMs: number };
  readonly maxInFlight: number;
  readonly minInFlight: number;
  readonly shard: Shard;
}

function compile(config: RunAiConfig): Compiled {
  // Every problem is collected and reported at once, each at its field.
  const problems: FieldProblem[] = [];
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
  const ms = (field: string, text: string): number => check(field, () => parseDuration(text) / 1e6, 0);
  const http = {
    timeoutMs: ms('http.timeout', config.http.timeout),
    retryCount: config.http.retry_count,
    retryWaitMs: ms('http.retry_wait_time', config.http.retry_wait_time),
    retryMaxWaitMs: ms('http.retry_max_wait_time', config.http.retry_max_wait_time),
  };
  if (http.timeoutMs <= 0) problems.push({ field: 'http.timeout', message: `must be positive, got ${config.http.timeout}` });
  if (http.retryWaitMs < 0) problems.push({ field: 'http.retry_wait_time', message: `must not be negative, got ${config.http.retry_wait_time}` });
  if (config.http.min_in_flight > config.http.max_in_flight) {
    problems.push({ field: 'http.min_in_flight', message: `${config.http.min_in_flight} is more than http.max_in_flight (${config.http.max_in_flight})` });
  }
  if (http.retryMaxWaitMs < http.retryWaitMs) {
    problems.push({ field: 'http.retry_max_wait_time', message: `${config.http.retry_max_wait_time} is shorter than http.retry_wait_time (${config.http.retry_wait_time})` });
  }
  const shard = { count: config.shards, index: check('shard', () => parseShard(config.shard, config.shards), 0) };
  const windowing = compileWindowing(config.schedule, config.metrics_offset, 'metrics_offset', config.state, problems);
  if (!windowing || problems.length > 0) throw new FieldErrors(problems);
  return {
    maxInFlight: config.http.max_in_flight,
    minInFlight: config.http.min_in_flight,
    shard,
    url: config.url,
    appId: config.app_id,
    appSecret: config.app_secret,
    resourceType: config.resource_type,
    metrics,
    pageSize: config.page_size,
    windowing,
    offsetText: windowing.offsetText,
    http,
  };
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

/**
 * How long one listing may take: the schedule's interval, at least LISTING_DEADLINE_MIN_MS (a slow
 * page with its retries) and at most DEFAULT_LIST_LIMITS' deadline. A listing past it fails the
 * scrape (logged; its windows stay due).
 */
function listingDeadline(schedule: Schedule): number {
  return Math.min(DEFAULT_LIST_LIMITS.deadlineMs, Math.max(LISTING_DEADLINE_MIN_MS, scheduleInterval(schedule)));
}

// -- the source ---------------------------------------------------------------------------

/** Run:ai as a window source: resources are the workloads (or pods) listed at each scrape. */
class RunAiSource implements WindowSource<Workload | Pod> {
  readonly name = 'Run:ai';
  readonly component = 'run_ai';
  readonly metricPrefix = 'run_ai';
  readonly type: ResourceType;
  #config: Compiled;
  #settings: Settings;
  #client: RunAiClient | undefined;
  /** The last window's shared metadata (#windowed): most fetches in a row are of the same window; any other gets its own copy. */
  #lastWindow: { start: number; end: number; tick: number; timestamp: string; metadata: Readonly<Record<string, string>> } | undefined;

  constructor(config: Compiled, settings: Settings) {
    this.#config = config;
    this.#settings = settings;
    this.type = config.resourceType;
    settings.secrets.add(config.appSecret);
  }

  /** Checks url and credentials with a token request. */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#config.url === '') throw new Error('url is empty: set input.run_ai.url (the docs read it from RUNAI_URL)');
    this.#client ??= new RunAiClient({
      url: this.#config.url,
      credentials: { grantType: 'app_token', appId: this.#config.appId, appSecret: this.#config.appSecret },
      pageSize: this.#config.pageSize,
      http: this.#config.http,
      concurrency: this.#config.maxInFlight,
      minConcurrency: this.#config.minInFlight,
      listLimits: { deadlineMs: listingDeadline(this.#config.windowing.schedule) },
      logger: this.#settings.logger,
      metrics: this.#settings.metrics,
      secrets: this.#settings.secrets,
    });
    const { shard } = this.#config;
    if (shard.count > 1) this.#settings.logger.info({ shard: shard.index, shards: shard.count }, `Run:ai input scrapes shard ${shard.index} of ${shard.count}: the workloads whose id hashes to it`);
    try {
      await this.#client.token(signal);
    } catch (err) {
      throw new Error(`cannot authenticate with Run:ai at ${redactUrl(this.#config.url)}: ${this.#settings.secrets.scrub((err as Error).message)}`);
    }
  }

  async close(): Promise<void> {
    await this.#client?.close();
  }

  async list(signal: AbortSignal): Promise<readonly (Workload | Pod)[]> {
    const client = this.#client!;
    const listing: Listing<Workload | Pod> = this.type === 'workload' ? await client.listWorkloads(signal) : await client.listPods(signal);
    this.#reportListing(listing);
    // A pod goes with its workload: one replica scrapes all of a workload's pods.
    return inShard(listing.items, (r) => (this.type === 'workload' ? r.id : (r as Pod).workloadId), this.#config.shard);
  }

  idOf(resource: Workload | Pod): string {
    return resource.id;
  }

  async fetch(resource: Workload | Pod, window: Window, signal: AbortSignal): Promise<Message[]> {
    const values = await this.#client!.metrics(targetOf(this.type, resource), this.#config.metrics, window, signal);
    return [this.#message(resource, window, values)];
  }

  gone(error: Error): boolean {
    return error instanceof RunAiError && error.status === 404;
  }

  /** The Run:ai id of the resource a message of this input is about (its body's `id`). */
  resourceIdOf(message: Message): string {
    try {
      const id = (message.json() as { id?: unknown } | undefined)?.id;
      return typeof id === 'string' && id !== '' ? id : '(unknown)';
    } catch {
      return '(unknown)';
    }
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
  #message(resource: Workload | Pod, window: Window, metrics: MetricValues): Message {
    const type = this.type;
    const body = {
      resourceType: type,
      ...resource,
      metrics: {
        timestamp: this.#windowed(window).timestamp,
        values: sortedByKey(metrics.values),
        ...(Object.keys(metrics.perGpu).length > 0 ? { perGpu: sortedByKey(metrics.perGpu) } : {}),
      },
    };
    // Kept as its bytes alone: a scrape holds every message of its window until the window is
    // delivered, and the encoded body is a third of the object plus its text and bytes (the
    // encoding the output needs anyway happens once, here). A mapping parses it back.
    return Message.fromBytes(Message.fromJSON(body).bytes(), this.#windowed(window).metadata);
  }

  /**
   * The metadata (and `metrics.timestamp`) of a window's messages: the same for every resource,
   * so one frozen object per window is shared by all of them (50,000 messages, one copy).
   */
  #windowed(window: Window): { timestamp: string; metadata: Readonly<Record<string, string>> } {
    const cached = this.#lastWindow;
    if (cached && cached.start === window.start && cached.end === window.end && cached.tick === window.tick) return cached;
    const metadata = Object.freeze({
      scrape_time: rfc3339Seconds(window.tick),
      scrape_interval: formatDuration((window.end - window.start) * 1e6),
      metrics_offset: this.#config.offsetText,
      resource_type: this.type,
      metrics_time: rfc3339Seconds(window.end),
      window_start: rfc3339Nano(window.start),
      window_end: rfc3339Nano(window.end),
    });
    this.#lastWindow = { start: window.start, end: window.end, tick: window.tick, timestamp: rfc3339Nano(window.end), metadata };
    return this.#lastWindow;
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

