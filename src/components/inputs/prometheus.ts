// input.prometheus: runs PromQL instant queries on a schedule, one message per result sample per
// window. A drop-in for OpenMeter's collector input of the same name: same fields and defaults
// (url, queries[].query.{name, promql}, schedule `0 * * * * *`, query_offset, headers), the
// body {name, query, timestamp, value, labels} and its metadata (scrape_time, scrape_interval,
// query_offset, query_name), plus `window_start` / `window_end`.
//
// Where it differs from the reference, on purpose (the windowing is windows/input.ts, shared with
// run_ai):
// - Each window is evaluated at its aligned end (nominal tick - query_offset), not at the time
//   the timer fired, so `increase(x[1m])` on a `0 * * * * *` schedule covers every minute exactly
//   once and a restart or a new leader evaluates a missed window at the same instant (same
//   samples, same ids).
// - A query that fails (an error payload, a 5xx, a timeout, a body over max_response_size) is not
//   emitted for that window; it is owed and evaluated again, for its own window, at the next
//   scrape. With `state`, windows survive restarts, are backfilled up to max_backfill, and what
//   cannot be is recorded as a gap. The reference loses the window.
// - `warnings` are logged and counted (prometheus_query_warnings_total); `on_warnings: retry`
//   treats an answer with warnings as a failure. `partial_response: false` (default) asks a
//   Thanos querier for an error rather than part of the data.
// - Samples whose value is NaN or ±Inf have no JSON number: they are skipped, logged and counted.
// - Matrix and string results fail the query with a message saying so (the reference skips them
//   silently).

import { defineInput, FieldErrors, type Settings } from '../../engine/component.js';
import { Message } from '../../engine/message.js';
import type { Counter } from 'prom-client';
import { durationSchema, formatDuration } from '../../config/duration.js';
import { PrometheusClient, PrometheusError, type Sample } from '../../prometheus/client.js';
import { compileWindowing, duration, stateSchema, type FieldProblem, type StateConfig, type WindowingConfig } from '../../windows/config.js';
import { WindowedInput, type Window, type WindowSource } from '../../windows/input.js';

export interface PrometheusConfig {
  url: string;
  queries: { query: { name: string; promql: string } }[];
  schedule: string;
  query_offset: string;
  headers?: Record<string, string>;
  timeout: string;
  max_response_size: number;
  max_samples: number;
  partial_response: boolean;
  on_warnings: 'accept' | 'retry';
  state?: StateConfig;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'queries'],
  properties: {
    url: { type: 'string', description: 'Prometheus server URL, e.g. http://localhost:9090 (a path prefix is kept).' },
    queries: {
      type: 'array',
      minItems: 1,
      description: 'List of PromQL queries to execute.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['query'],
        properties: {
          query: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'promql'],
            properties: {
              name: { type: 'string', minLength: 1, description: 'A name for the query to be used as a metric identifier (unique within the input).' },
              promql: { type: 'string', minLength: 1, description: 'The PromQL query to execute; it must give an instant vector or a scalar.' },
            },
          },
        },
      },
    },
    schedule: {
      type: 'string',
      default: '0 * * * * *',
      description: 'The cron expression to use for the scrape job: seconds first ("0 * * * * *"), a descriptor (@hourly) or "@every 1m". Each window is evaluated at its aligned tick.',
    },
    query_offset: durationSchema('Indicates how far back in time the scraping should be done to account for delays in metric availability.', '0s'),
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Optional HTTP headers to send with Prometheus queries. Useful for authentication or routing. Values of credential headers (Authorization, Cookie, *token*, *key*, *secret*...) never reach the logs.',
    },
    timeout: durationSchema('Timeout of one query (also sent to Prometheus as its evaluation timeout).', '30s'),
    max_response_size: { type: 'integer', minimum: 1024, default: 67_108_864, description: 'Largest answer accepted, in bytes (default 64 MiB); a larger one fails the query.' },
    max_samples: { type: 'integer', minimum: 1, default: 100_000, description: 'Most samples accepted from one query; more fail the query.' },
    partial_response: {
      type: 'boolean',
      default: false,
      description: 'false: ask for a complete answer or an error (Thanos partial_response=false; Prometheus ignores it). true: accept what a querier can give.',
    },
    on_warnings: {
      type: 'string',
      enum: ['accept', 'retry'],
      default: 'accept',
      description: 'An answer with warnings: accept its samples (logged and counted, as OpenMeter does), or retry the window at the next scrape like a failure.',
    },
    state: stateSchema('Prometheus', 'prometheus'),
  },
};

export default defineInput<PrometheusConfig>({
  name: 'prometheus',
  summary: 'Runs PromQL instant queries on a schedule, one message per result sample per window.',
  schema,
  example: { url: 'http://localhost:9090', queries: [{ query: { name: 'up', promql: 'up' } }] },
  create: (config, settings) => {
    const compiled = compile(config);
    return new WindowedInput(compiled.windowing, new PrometheusSource(compiled, settings), settings);
  },
});

/** Headers whose values are credentials, kept out of the logs. */
const SENSITIVE_HEADER = /auth|token|key|secret|password|cookie|credential/i;

/** One query: a resource of the window source. */
export interface PromQuery {
  readonly name: string;
  readonly promql: string;
}

interface Compiled {
  readonly url: string;
  readonly queries: readonly PromQuery[];
  readonly headers: Readonly<Record<string, string>>;
  readonly windowing: WindowingConfig;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxSamples: number;
  readonly partialResponse: boolean;
  readonly retryOnWarnings: boolean;
}

function compile(config: PrometheusConfig): Compiled {
  if (config.url !== '') {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new Error(`url ${JSON.stringify(config.url)} is not a URL (expected e.g. http://localhost:9090)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`url ${JSON.stringify(config.url)} must use http or https`);
  }
  const seen = new Map<string, number>();
  const queries = config.queries.map(({ query }, i) => {
    const first = seen.get(query.name);
    if (first !== undefined) throw new Error(`queries[${i}].query.name: ${JSON.stringify(query.name)} is already the name of queries[${first}]`);
    seen.set(query.name, i);
    return { name: query.name, promql: query.promql };
  });
  const timeoutMs = duration(config.timeout, 'timeout') / 1e6;
  if (timeoutMs <= 0) throw new Error(`timeout must be positive, got ${config.timeout}`);
  const problems: FieldProblem[] = [];
  const windowing = compileWindowing(config.schedule, config.query_offset, 'query_offset', config.state, problems);
  if (!windowing) throw new FieldErrors(problems);
  return {
    url: config.url,
    queries,
    headers: config.headers ?? {},
    windowing,
    timeoutMs,
    maxResponseBytes: config.max_response_size,
    maxSamples: config.max_samples,
    partialResponse: config.partial_response,
    retryOnWarnings: config.on_warnings === 'retry',
  };
}

/** Prometheus as a window source: the resources are the configured queries, evaluated at each window's end. */
class PrometheusSource implements WindowSource<PromQuery> {
  readonly name = 'Prometheus';
  readonly component = 'prometheus';
  readonly metricPrefix = 'prometheus';
  readonly type = 'prometheus';
  #config: Compiled;
  #settings: Settings;
  #client: PrometheusClient | undefined;
  #warnings: Counter;
  #skipped: Counter;

  constructor(config: Compiled, settings: Settings) {
    this.#config = config;
    this.#settings = settings;
    for (const [name, value] of Object.entries(config.headers)) {
      if (!SENSITIVE_HEADER.test(name)) continue;
      // The credential part of `Basic xyz` / `Bearer xyz` too, in case a server echoes it alone.
      settings.secrets.add(value);
      const token = value.split(' ').pop();
      if (token && token.length >= 8) settings.secrets.add(token);
    }
    this.#warnings = settings.metrics.counter('prometheus_query_warnings_total', 'Answers that carried warnings, per query.', ['query']);
    this.#skipped = settings.metrics.counter('prometheus_samples_skipped_total', 'Samples not emitted, per query and reason (not_finite: NaN or Inf).', ['query', 'reason']);
  }

  /** Checks that the server answers a query (credentials, routing) before the schedule starts. */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#config.url === '') throw new Error('url is empty: set input.prometheus.url');
    this.#client ??= new PrometheusClient({
      url: this.#config.url,
      headers: this.#config.headers,
      timeoutMs: this.#config.timeoutMs,
      maxResponseBytes: this.#config.maxResponseBytes,
      maxSamples: this.#config.maxSamples,
      partialResponse: this.#config.partialResponse,
    });
    try {
      await this.#client.query('1', Date.now(), signal);
    } catch (err) {
      throw new Error(`cannot query Prometheus at ${this.#config.url}: ${this.#settings.secrets.scrub((err as Error).message)}`);
    }
    // A window older than the server's retention evaluates to nothing, silently: say so now.
    const state = this.#config.windowing.state;
    const retentionMs = state ? await this.#client.retentionMs(signal) : undefined;
    if (state && retentionMs !== undefined && state.maxBackfillMs + this.#config.windowing.offsetMs > retentionMs) {
      this.#settings.logger.warn(
        { max_backfill: state.maxBackfillText, retention: formatDuration(retentionMs * 1e6) },
        'Prometheus keeps samples for less than state.max_backfill (plus query_offset): windows backfilled past its retention would be evaluated to no samples; lower max_backfill',
      );
    }
  }

  async close(): Promise<void> {
    await this.#client?.close();
  }

  async list(): Promise<readonly PromQuery[]> {
    return this.#config.queries;
  }

  idOf(query: PromQuery): string {
    return query.name;
  }

  async fetch(query: PromQuery, window: Window, signal: AbortSignal): Promise<Message[]> {
    const result = await this.#client!.query(query.promql, window.end, signal);
    if (result.warnings.length > 0) {
      this.#warnings.inc({ query: query.name });
      this.#settings.logger.warn({ query: query.name, window_end: rfc3339Nano(window.end), warnings: result.warnings.slice(0, 5) }, 'Prometheus answered with warnings');
      if (this.#config.retryOnWarnings) throw new PrometheusError('api', `warnings: ${result.warnings.join('; ')}`, 200, 'warnings');
    }
    const messages: Message[] = [];
    let notFinite = 0;
    for (const sample of sortSamples(result.samples)) {
      const value = Number(sample.value);
      if (!Number.isFinite(value)) {
        notFinite++;
        continue;
      }
      messages.push(this.#message(query, window, sample, value));
    }
    if (notFinite > 0) {
      this.#skipped.inc({ query: query.name, reason: 'not_finite' }, notFinite);
      this.#settings.logger.warn({ query: query.name, samples: notFinite, window_end: rfc3339Nano(window.end) }, 'Prometheus samples with a NaN or infinite value are not emitted');
    }
    return messages;
  }

  gone(): boolean {
    return false;
  }

  resourceIdOf(message: Message): string {
    const name = message.metadata['query_name'];
    return typeof name === 'string' ? name : '(unknown)';
  }

  /** OpenMeter's body for one sample, with the window's metadata. */
  #message(query: PromQuery, window: Window, sample: Sample, value: number): Message {
    return Message.fromJSON(
      { name: query.name, query: query.promql, timestamp: rfc3339Nano(window.end), value, labels: sample.labels },
      {
        scrape_time: rfc3339Seconds(window.tick),
        scrape_interval: formatDuration((window.end - window.start) * 1e6),
        query_offset: this.#config.windowing.offsetText,
        query_name: query.name,
        window_start: rfc3339Nano(window.start),
        window_end: rfc3339Nano(window.end),
      },
    );
  }
}

/** Samples in a stable order (by their labels), so a window's batch does not depend on the server's order. */
function sortSamples(samples: Sample[]): Sample[] {
  const keyed = samples.map((s) => ({ s, key: JSON.stringify(s.labels) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.s);
}

const rfc3339Nano = (ms: number): string => new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
const rfc3339Seconds = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
