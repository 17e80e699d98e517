// A Prometheus HTTP API client for instant queries (`POST /api/v1/query`), on undici. It knows
// nothing of pipelines: logging and metrics stay with the caller.
//
// What it guarantees: an answer is either every sample of the result, or a PrometheusError that
// says why (the server's `errorType` and `error`, an HTTP status, a timeout, a body over
// `maxResponseBytes`, more than `maxSamples` samples, a result that is not a vector or scalar).
// `warnings` and `infos` come back with the samples: the caller decides what they mean. With
// `partialResponse: false` (the default of the `prometheus` input) the query carries Thanos'
// `partial_response=false`, so a Thanos querier missing a store fails instead of answering part of
// the data; Prometheus ignores the parameter.

import { Pool } from 'undici';

export interface PrometheusClientOptions {
  /** The server's base URL (http://host:9090, or with a path prefix). */
  readonly url: string;
  /** Sent with every request (authentication, tenant routing). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Bodies larger than this fail the query (`too_large`) instead of being buffered. */
  readonly maxResponseBytes: number;
  /** Results with more samples fail the query (`too_large`). */
  readonly maxSamples: number;
  /** false: ask for a complete answer or an error (Thanos' partial_response=false). */
  readonly partialResponse: boolean;
}

/** One sample of an instant vector: its labels and value at the query time. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  /** The value as Prometheus wrote it ("1.5", "NaN", "+Inf"). */
  readonly value: string;
  /** The sample's timestamp, epoch ms (the query time for an instant query). */
  readonly timestamp: number;
}

export interface QueryResult {
  readonly samples: Sample[];
  readonly warnings: string[];
  readonly infos: string[];
}

export type PrometheusErrorKind =
  /** The server answered status: error (errorType says what: bad_data, execution, timeout, canceled, internal, unavailable...). */
  | 'api'
  /** A non-2xx answer without a Prometheus error body (a proxy, a load balancer). */
  | 'status'
  | 'timeout'
  | 'transport'
  /** The body is not the API's JSON. */
  | 'malformed'
  /** Body or sample count over the limits. */
  | 'too_large'
  /** A matrix or string result: the query is not an instant vector. */
  | 'result_type';

export class PrometheusError extends Error {
  readonly kind: PrometheusErrorKind;
  readonly status: number | undefined;
  readonly errorType: string | undefined;
  constructor(kind: PrometheusErrorKind, message: string, status?: number, errorType?: string) {
    super(message);
    this.name = 'PrometheusError';
    this.kind = kind;
    this.status = status;
    this.errorType = errorType;
  }
}

export class PrometheusClient {
  #options: PrometheusClientOptions;
  #pool: Pool;
  #basePath: string;

  constructor(options: PrometheusClientOptions) {
    this.#options = options;
    const url = new URL(options.url);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#pool = new Pool(url.origin, { connections: 8 });
  }

  /** Evaluates `promql` at `time` (epoch ms). Throws PrometheusError. */
  async query(promql: string, time: number, signal: AbortSignal): Promise<QueryResult> {
    const form = new URLSearchParams({ query: promql, time: (time / 1000).toFixed(3), timeout: `${Math.max(1, Math.floor(this.#options.timeoutMs / 1000))}s` });
    if (!this.#options.partialResponse) form.set('partial_response', 'false');
    const { status, text } = await this.#post('/api/v1/query', form.toString(), signal);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (status < 200 || status > 299) throw new PrometheusError('status', `status ${status}: ${clip(text)}`, status);
      throw new PrometheusError('malformed', `the answer is not JSON: ${clip(text)}`, status);
    }
    if (!isObject(body)) throw new PrometheusError('malformed', 'the answer is not a JSON object', status);
    if (body['status'] === 'error') {
      const errorType = typeof body['errorType'] === 'string' ? body['errorType'] : 'unknown';
      const error = typeof body['error'] === 'string' ? body['error'] : '(no message)';
      throw new PrometheusError('api', `${errorType}: ${error} (status ${status})`, status, errorType);
    }
    if (status < 200 || status > 299) throw new PrometheusError('status', `status ${status}: ${clip(text)}`, status);
    if (body['status'] !== 'success' || !isObject(body['data'])) throw new PrometheusError('malformed', `the answer has no status "success" and data: ${clip(text)}`, status);
    const warnings = strings(body['warnings']);
    const infos = strings(body['infos']);
    const data = body['data'];
    const type = data['resultType'];
    const result = data['result'];
    if (type === 'scalar') return { samples: [sampleOf({}, result)], warnings, infos };
    if (type !== 'vector') {
      throw new PrometheusError('result_type', `the result is a ${String(type)}, not an instant vector (a range selector like x[5m] needs a function such as increase() around it)`, status);
    }
    if (!Array.isArray(result)) throw new PrometheusError('malformed', 'data.result is not an array', status);
    if (result.length > this.#options.maxSamples) {
      throw new PrometheusError('too_large', `the result has ${result.length} samples, more than ${this.#options.maxSamples}`, status);
    }
    const samples = result.map((item) => {
      if (!isObject(item) || !isObject(item['metric'])) throw new PrometheusError('malformed', `a sample has no metric: ${clip(JSON.stringify(item))}`, status);
      return sampleOf(item['metric'], item['value']);
    });
    return { samples, warnings, infos };
  }

  /**
   * How long the server keeps samples (`storageRetention` of /api/v1/status/runtimeinfo), in ms;
   * undefined when it does not say (Thanos, Mimir and others do not serve the endpoint) or keeps
   * them by size only.
   */
  async retentionMs(signal: AbortSignal): Promise<number | undefined> {
    try {
      const { status, text } = await this.#request('GET', '/api/v1/status/runtimeinfo', undefined, signal);
      if (status !== 200) return undefined;
      const body = JSON.parse(text) as { data?: { storageRetention?: unknown } };
      const retention = body.data?.storageRetention;
      if (typeof retention !== 'string') return undefined;
      for (const part of retention.split(/\s+or\s+/)) {
        const ms = prometheusDuration(part.trim());
        if (ms !== undefined) return ms;
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  async #post(path: string, form: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
    return this.#request('POST', path, form, signal);
  }

  /** One request within timeoutMs, its body read up to maxResponseBytes. */
  async #request(method: 'GET' | 'POST', path: string, form: string | undefined, signal: AbortSignal): Promise<{ status: number; text: string }> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#options.timeoutMs);
    try {
      const response = await this.#pool.request({
        method,
        path: `${this.#basePath}${path}`,
        headers: { ...this.#options.headers, ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }), accept: 'application/json', 'user-agent': 'sluice-prometheus' },
        body: form ?? null,
        signal: controller.signal,
      });
      const limit = this.#options.maxResponseBytes;
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        response.body.destroy();
        throw new PrometheusError('too_large', `the answer is ${declared} bytes, more than ${limit}`, response.statusCode);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          response.body.destroy();
          throw new PrometheusError('too_large', `the answer is more than ${limit} bytes`, response.statusCode);
        }
        chunks.push(chunk as Buffer);
      }
      return { status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') };
    } catch (err) {
      if (err instanceof PrometheusError) throw err;
      if (signal.aborted) throw signal.reason;
      if (timedOut) throw new PrometheusError('timeout', `${method} ${path}: no answer within ${this.#options.timeoutMs}ms`);
      throw new PrometheusError('transport', `${method} ${path}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** A Prometheus duration (`15d`, `1w2d`, `90m`) in ms; undefined when it is not one. */
export function prometheusDuration(text: string): number | undefined {
  if (!/^(\d+(ms|[ywdhms]))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|[ywdhms])/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/** A `[ <unix seconds>, "<value>" ]` pair with its labels; throws on anything else. */
function sampleOf(metric: Record<string, unknown>, pair: unknown): Sample {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number' || typeof pair[1] !== 'string') {
    throw new PrometheusError('malformed', `a sample value is not [time, "value"]: ${clip(JSON.stringify(pair))}`);
  }
  const labels: Record<string, string> = {};
  for (const key of Object.keys(metric).sort()) {
    const value = metric[key];
    if (typeof value !== 'string') throw new PrometheusError('malformed', `label ${key} is not a string`);
    labels[key] = value;
  }
  return { labels, value: pair[1], timestamp: Math.round(pair[0] * 1000) };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 197)}...` : text);
