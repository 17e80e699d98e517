// The Run:ai REST API client the `run_ai` input scrapes with: token flow, listing, metrics.
//
// It calls the API the way OpenMeter's collector does (same endpoints, query, filters and reduction
// of samples; shared/reference/runai-and-openmeter-api.md §2-§5) minus its known bugs:
// - pagination advances by the rows the server returned, not the rows kept, so no row is fetched
//   twice and a fully filtered page cannot loop forever;
// - a token is refreshed before its `exp` (with a margin), and a 401 re-fetches it and retries the
//   request once instead of failing it;
// - 429, 5xx, timeouts and connection errors are retried with backoff (resty retried only transport
//   errors), and requests run concurrently, bounded by a queue;
// - malformed answers (HTML with 200, bad JSON, non-numeric values) are errors that name what was
//   wrong and are counted in `run_ai_malformed_total{kind}`, never silently zero.

import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Counter, Gauge } from 'prom-client';
import type { Timer } from '../engine/metrics.js';
import { AdaptiveLimit, type Answer } from './adaptive.js';
import { EXCLUDED_PHASES, encodeQuery, rfc3339Seconds } from './api.js';
import { decodePod, decodeWorkload, isObject, type Decoder, type Pod, type Workload } from './rows.js';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_LIST_LIMITS,
  DEFAULT_MIN_CONCURRENCY,
  INITIAL_CONCURRENCY,
  MAX_METRIC_TYPES_PER_REQUEST,
  MAX_RESPONSE_BYTES,
  type Listing,
  type MetricsTarget,
  type MetricsWindow,
  type RunAiClientOptions,
  type RunAiCredentials,
  type RunAiListLimits,
} from './options.js';
import { refreshTime } from './token.js';
import { RunAiError, clip } from './errors.js';
import { reduceMeasurements, type MetricValues } from './measurements.js';

// -- The client --------------------------------------------------------------------------------

interface Request {
  readonly method: 'GET' | 'POST';
  /** Path below the base URL, e.g. `/api/v1/workloads`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  /** The query already encoded (instead of `query`). */
  readonly encodedQuery?: string;
  readonly body?: string;
  /** The most bytes of answer to read; default the client's maxResponseBytes. */
  readonly maxBytes?: number;
  /** Each attempt's latency and outcome adjust the in-flight limit (metrics requests). */
  readonly adaptive?: boolean;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly retryAfter: string | undefined;
  readonly text: string;
  /** Bytes of the body read. */
  readonly bytes: number;
  /** The normalised route, as metric labels and error messages name it. */
  readonly route: string;
}

interface Token {
  readonly value: string;
  readonly refreshAt: number;
}

/** Answers that say the server is overloaded or rate-limiting: the in-flight limit halves. */
const THROTTLING_STATUSES = new Set([429, 502, 503, 504]);

const JSON_CONTENT_TYPE = /^(application\/(json|[\w.+-]*\+json)|text\/json)\s*(;|$)/i;

export class RunAiClient {
  #options: RunAiClientOptions;
  #pool: Pool;
  #basePath: string;
  #limit: AdaptiveLimit;
  #closing = new AbortController();
  #token: Token | undefined;
  #tokenRequest: Promise<Token> | undefined;
  /**
   * Whether listings send `filterBy` and `sortBy`; false after the server refused them with a 400
   * (Run:ai 2.25 documents at most 10 filters, the reference sends 11). Filtering is then local.
   */
  #serverQuery = true;
  #limits: RunAiListLimits;
  /** The listing pacer: when the next listing request may start (token bucket of pagesPerSecond). */
  #listAllowance: number;
  #listCheckedAt = Date.now();
  #requestTimer: Timer;
  #resourceGauge: Gauge;
  #malformed: Counter;
  #limitGauge: Gauge;
  /** Encoded metrics queries by window and types (#metricsQuery). */
  #queries = new Map<string, string>();

  constructor(options: RunAiClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`url must be http(s), got ${options.url}`);
    if (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > 500) {
      throw new Error(`page size must be between 1 and 500, got ${options.pageSize}`);
    }
    this.#options = options;
    this.#limits = { ...DEFAULT_LIST_LIMITS, ...options.listLimits };
    this.#listAllowance = this.#limits.pagesPerSecond;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    const min = Math.min(concurrency, options.minConcurrency ?? DEFAULT_MIN_CONCURRENCY);
    this.#limit = new AdaptiveLimit({ min, max: concurrency, initial: INITIAL_CONCURRENCY });
    // One connection per request in flight, plus room for the token and listing calls beside them.
    this.#pool = new Pool(url.origin, { connections: concurrency + 2, keepAliveTimeout: 30_000 });
    options.secrets.add(secretOf(options.credentials));
    this.#requestTimer = options.metrics.timer('run_ai_http_request_ns', 'Run:ai API request latency in nanoseconds.', ['url', 'status_code']);
    this.#resourceGauge = options.metrics.gauge('run_ai_resource_count', 'Run:ai resources listed by the last scrape.', ['type']);
    this.#malformed = options.metrics.counter('run_ai_malformed_total', 'Run:ai answers or rows that could not be read, by kind.', ['kind']);
    this.#limitGauge = options.metrics.gauge('run_ai_in_flight_limit', 'Metrics requests the Run:ai client allows in flight now (adapts between http.min_in_flight and http.max_in_flight).', []);
    this.#limitGauge.set({}, this.#limit.limit);
  }

  /** The metrics requests allowed in flight now. */
  get inFlightLimit(): number {
    return this.#limit.limit;
  }

  /**
   * A valid access token: the cached one until TOKEN_REFRESH_MARGIN_MS before its JWT `exp`
   * (`expiresIn` when the token is not a JWT; until a 401 when neither), otherwise a new one.
   * Concurrent callers share one token request. Rejects with kind `auth` on bad credentials.
   */
  async token(signal: AbortSignal): Promise<string> {
    const cached = this.#token;
    if (cached !== undefined && Date.now() < cached.refreshAt) return cached.value;
    this.#tokenRequest ??= this.#requestToken().finally(() => {
      this.#tokenRequest = undefined;
    });
    return (await abortable(this.#tokenRequest, signal)).value;
  }

  /**
   * Every workload holding resources: phase not in the reference's excluded list and
   * `runningPods > 0` (a row whose `runningPods` is unreadable is kept and reported). Sets
   * `run_ai_resource_count{type="workload"}`. Rejects when any page fails after retries.
   */
  async listWorkloads(signal: AbortSignal): Promise<Listing<Workload>> {
    const filterBy = EXCLUDED_PHASES.map((phase) => `phase!=${phase}`).join(',');
    const listing = await this.#listWithFallback('workloads', '/api/v1/workloads', {}, { filterBy }, decodeWorkload, signal);
    this.#resourceGauge.set({ type: 'workload' }, listing.items.length);
    return listing;
  }

  /** Every pod not completed (`completed=false`), unfiltered as in the reference. Sets `run_ai_resource_count{type="pod"}`. */
  async listPods(signal: AbortSignal): Promise<Listing<Pod>> {
    const query = { completed: 'false', verbosity: 'full' };
    const listing = await this.#listWithFallback('pods', '/api/v1/workloads/pods', query, {}, decodePod, signal);
    this.#resourceGauge.set({ type: 'pod' }, listing.items.length);
    return listing;
  }

  /**
   * The metrics of one resource over `window`, `numberOfSamples=1`, in requests of at most
   * MAX_METRIC_TYPES_PER_REQUEST types that wait their turn under the adaptive in-flight limit
   * (first come, first served). Rejects when any request
   * fails after retries or answers something unreadable: a resource's metrics are all or nothing.
   * `signal` gains an abort listener per queued request: a caller sharing one signal across
   * thousands of calls should lift its limit (`events.setMaxListeners(0, signal)`).
   */
  async metrics(target: MetricsTarget, types: readonly string[], window: MetricsWindow, signal: AbortSignal): Promise<MetricValues> {
    const chunks: string[][] = [];
    for (let i = 0; i < types.length; i += MAX_METRIC_TYPES_PER_REQUEST) chunks.push(types.slice(i, i + MAX_METRIC_TYPES_PER_REQUEST));
    const parts = await Promise.all(
      // The queued task checks the signal itself: an abort listener per queued request on one
      // shared signal would make each addition O(listeners) (EventTarget's duplicate check).
      chunks.map((chunk) =>
        this.#limit.run(() => {
          signal.throwIfAborted();
          return this.#metricsChunk(target, chunk, window, signal);
        }),
      ),
    );
    const result: MetricValues = { values: {}, perGpu: {} };
    for (const part of parts) {
      Object.assign(result.values, part.values);
      Object.assign(result.perGpu, part.perGpu);
    }
    return result;
  }

  /** Fails queued and in-flight requests and closes connections. Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new Error('Run:ai client closed'));
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.destroy();
  }

  // -- token ---------------------------------------------------------------------------------

  async #requestToken(): Promise<Token> {
    const credentials = this.#options.credentials;
    const body =
      credentials.grantType === 'app_token'
        ? { grantType: 'app_token', AppId: credentials.appId, AppSecret: credentials.appSecret }
        : { grantType: 'client_credentials', clientID: credentials.clientId, clientSecret: credentials.clientSecret };
    const requestedAt = Date.now();
    const reply = await this.#send({ method: 'POST', path: '/api/v1/token', body: JSON.stringify(body) }, false, this.#closing.signal);
    if (reply.status === 400 || reply.status === 401 || reply.status === 403) {
      throw new RunAiError('auth', `${reply.route}: ${describeStatus(reply)}; check app_id and app_secret`, reply.status);
    }
    if (reply.status < 200 || reply.status > 299) throw new RunAiError('status', `${reply.route}: ${describeStatus(reply)}`, reply.status);
    const parsed = this.#json(reply);
    const value = isObject(parsed) ? parsed['accessToken'] : undefined;
    if (typeof value !== 'string' || value === '') throw this.#malformedError('shape', `${reply.route}: answer has no accessToken`);
    this.#options.secrets.add(value);
    for (const key of ['idToken', 'refreshToken']) {
      const other = isObject(parsed) ? parsed[key] : undefined;
      if (typeof other === 'string') this.#options.secrets.add(other);
    }
    const expiresIn = isObject(parsed) && typeof parsed['expiresIn'] === 'number' ? parsed['expiresIn'] : undefined;
    const token = { value, refreshAt: refreshTime(value, expiresIn, requestedAt) };
    this.#token = token;
    return token;
  }

  /** Forgets `value` if it is still the cached token (a concurrent request may have replaced it already). */
  #invalidate(value: string): void {
    if (this.#token?.value === value) this.#token = undefined;
  }

  // -- listing -------------------------------------------------------------------------------

  /**
   * Lists with `optional` query parameters (filter, stable sort) unless the server refused them
   * once; on a 400 it lists again without them, for good, and says so once.
   */
  async #listWithFallback<T extends { id: string }>(
    key: 'workloads' | 'pods',
    path: string,
    query: Readonly<Record<string, string>>,
    optional: Readonly<Record<string, string>>,
    decode: Decoder<T>,
    signal: AbortSignal,
  ): Promise<Listing<T>> {
    if (!this.#serverQuery) return this.#listAll(key, path, query, decode, signal);
    try {
      return await this.#listAll(key, path, { ...query, ...optional, sortBy: 'createdAt', sortOrder: 'asc' }, decode, signal);
    } catch (err) {
      if (!(err instanceof RunAiError && err.status === 400)) throw err;
      this.#serverQuery = false;
      this.#options.logger.warn({ error: err.message }, 'Run:ai refused the listing filter or sort; listing without them and filtering locally');
      return this.#listAll(key, path, query, decode, signal);
    }
  }

  async #listAll<T extends { id: string }>(
    key: 'workloads' | 'pods',
    path: string,
    query: Readonly<Record<string, string>>,
    decode: Decoder<T>,
    signal: AbortSignal,
  ): Promise<Listing<T>> {
    const limits = this.#limits;
    const items: T[] = [];
    const seen = new Set<string>();
    const problems: string[] = [];
    let skipped = 0;
    let duplicates = 0;
    let offset = 0;
    let pages = 0;
    let bytes = 0;
    const deadline = AbortSignal.timeout(limits.deadlineMs);
    const bounded = AbortSignal.any([signal, deadline]);
    const stop = (why: string): RunAiError =>
      new RunAiError('limit', `listing ${key} stopped ${why} after ${pages} page(s), ${offset} row(s), ${bytes} bytes; the server keeps answering "next"`);
    try {
      for (;;) {
        if (pages >= limits.maxPages) throw stop(`at ${limits.maxPages} pages (the most one listing may take)`);
        if (offset >= limits.maxRows) throw stop(`at ${limits.maxRows} rows (the most one listing may return)`);
        await this.#paceListing(bounded);
        const pageQuery = { ...query, limit: String(this.#options.pageSize), offset: String(offset) };
        const page = await this.#page(key, path, pageQuery, bounded, Math.min(this.#maxResponseBytes, limits.maxBytes - bytes));
        pages++;
        bytes += page.bytes;
        let fresh = 0;
        for (const [i, raw] of page.rows.entries()) {
          const before = problems.length;
          const decoded = decode(raw, `${key}[${offset + i}]`, problems);
          if (problems.length > before) this.#malformed.inc({ kind: decoded === undefined ? 'row' : 'field' });
          if (decoded === undefined) {
            skipped++;
            continue;
          }
          if (seen.has(decoded.item.id)) {
            duplicates++;
            continue;
          }
          fresh++;
          seen.add(decoded.item.id);
          if (decoded.keep) items.push(decoded.item);
        }
        // Advance by what the server returned, not by what was kept: the reference's offset bug.
        if (page.rows.length === 0 || page.next === undefined) break;
        if (fresh === 0 && page.rows.length > skipped) {
          // Every readable row was listed before: the server ignores `offset`, and would loop forever.
          this.#malformed.inc({ kind: 'repeated_page' });
          throw new RunAiError('limit', `listing ${key}: page ${pages} (offset ${offset}) repeats rows already listed and still answers "next"; stopping instead of looping`);
        }
        offset += page.rows.length;
      }
    } catch (err) {
      if (deadline.aborted && !signal.aborted) throw stop(`at its deadline of ${Math.round(limits.deadlineMs / 1000)}s`);
      throw err;
    }
    return { items, skipped, duplicates, problems };
  }

  /** Waits until the listing pacer allows one more request (a token bucket of pagesPerSecond, as big a burst). */
  async #paceListing(signal: AbortSignal): Promise<void> {
    const rate = this.#limits.pagesPerSecond;
    const now = Date.now();
    this.#listAllowance = Math.min(rate, this.#listAllowance + ((now - this.#listCheckedAt) / 1000) * rate);
    this.#listCheckedAt = now;
    if (this.#listAllowance < 1) {
      await sleep(((1 - this.#listAllowance) / rate) * 1000, undefined, { signal });
      this.#listAllowance = 1;
      this.#listCheckedAt = Date.now();
    }
    this.#listAllowance -= 1;
  }

  get #maxResponseBytes(): number {
    return this.#options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  async #page(
    key: 'workloads' | 'pods',
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
    maxBytes: number,
  ): Promise<{ rows: unknown[]; next: number | undefined; bytes: number }> {
    const reply = await this.#send({ method: 'GET', path, query, maxBytes }, true, signal);
    if (reply.status < 200 || reply.status > 299) throw new RunAiError('status', `${reply.route}: ${describeStatus(reply)}`, reply.status);
    const body = this.#json(reply);
    const rows = isObject(body) ? body[key] : undefined;
    if (!Array.isArray(rows)) throw this.#malformedError('shape', `${reply.route}: answer has no "${key}" array`);
    const next = isObject(body) && typeof body['next'] === 'number' && body['next'] > 0 ? body['next'] : undefined;
    return { rows, next, bytes: reply.bytes };
  }

  // -- metrics -------------------------------------------------------------------------------

  async #metricsChunk(target: MetricsTarget, types: string[], window: MetricsWindow, signal: AbortSignal): Promise<MetricValues> {
    const path =
      target.kind === 'workload'
        ? `/api/v1/workloads/${encodeURIComponent(target.workloadId)}/metrics`
        : `/api/v1/workloads/${encodeURIComponent(target.workloadId)}/pods/${encodeURIComponent(target.podId)}/metrics`;
    const reply = await this.#send({ method: 'GET', path, encodedQuery: this.#metricsQuery(types, window), adaptive: true }, true, signal);
    if (reply.status < 200 || reply.status > 299) throw new RunAiError('status', `${reply.route}: ${describeStatus(reply)}`, reply.status);
    const body = this.#json(reply);
    const list = isObject(body) ? body['measurements'] : undefined;
    if (!Array.isArray(list)) throw this.#malformedError('shape', `${reply.route}: answer has no "measurements" array`);
    return reduceMeasurements(list, types, reply.route, { malformed: (kind, message) => this.#malformedError(kind, message), empty: () => this.#malformed.inc({ kind: 'empty_values' }) });
  }

  /**
   * The encoded query of a metrics request: the same for every resource of a scrape, so it is
   * encoded once per window and chunk of types (the last few kept).
   */
  #metricsQuery(types: readonly string[], window: MetricsWindow): string {
    const key = `${window.start}|${window.end}|${types.join(',')}`;
    let encoded = this.#queries.get(key);
    if (encoded === undefined) {
      encoded = encodeQuery({ metricType: types.join(','), start: rfc3339Seconds(window.start), end: rfc3339Seconds(window.end), numberOfSamples: '1' });
      if (this.#queries.size >= 64) this.#queries.clear();
      this.#queries.set(key, encoded);
    }
    return encoded;
  }

  // -- transport -----------------------------------------------------------------------------

  #json(reply: Reply): unknown {
    if (!JSON_CONTENT_TYPE.test(reply.contentType)) {
      throw this.#malformedError('content_type', `${reply.route}: answered ${reply.status} with content type ${clip(reply.contentType || 'none')}, not JSON`);
    }
    try {
      return JSON.parse(reply.text);
    } catch (err) {
      throw this.#malformedError('json', `${reply.route}: answered invalid JSON (${(err as Error).message})`);
    }
  }

  #malformedError(kind: string, message: string): RunAiError {
    this.#malformed.inc({ kind });
    return new RunAiError('malformed', message);
  }

  /**
   * Sends a request with the token (when `auth`), retrying transport errors, timeouts, 429 and 5xx
   * up to `retryCount` times with jittered exponential backoff (honouring Retry-After up to
   * `retryMaxWaitMs`), and a 401 once with a fresh token. Resolves with any final answer; rejects
   * with a transport or timeout RunAiError, or the abort reason when `signal` aborts.
   */
  async #send(request: Request, auth: boolean, signal: AbortSignal): Promise<Reply> {
    const { retryCount } = this.#options.http;
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      // Queued requests still start after close(); they fail here instead of on a destroyed pool.
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      const token = auth ? await this.token(signal) : undefined;
      let reply: Reply;
      try {
        reply = await this.#attempt(request, token, signal);
      } catch (err) {
        if (err instanceof RunAiError && err.kind === 'limit') throw err;
        if (signal.aborted || attempt >= retryCount) throw signal.aborted ? signal.reason : err;
        this.#options.logger.debug({ route: normaliseRoute(request.path), attempt: attempt + 1, error: (err as Error).message }, 'Run:ai request failed; retrying');
        await sleep(this.#backoff(attempt + 1, undefined), undefined, { signal });
        continue;
      }
      if (reply.status === 401 && token !== undefined && !reauthenticated) {
        reauthenticated = true;
        this.#invalidate(token);
        attempt--;
        continue;
      }
      if ((reply.status === 429 || reply.status >= 500) && attempt < retryCount) {
        this.#options.logger.debug({ route: reply.route, attempt: attempt + 1, status: reply.status }, 'Run:ai answered a retryable status; retrying');
        await sleep(this.#backoff(attempt + 1, reply.retryAfter), undefined, { signal });
        continue;
      }
      return reply;
    }
  }

  #adapt(latencyMs: number, outcome: Answer): void {
    const before = this.#limit.limit;
    this.#limit.observe(latencyMs, outcome);
    const after = this.#limit.limit;
    if (after !== before) this.#limitGauge.set({}, after);
  }

  /** resty's jittered backoff: random in [t/2, t) with t = min(max, min * 2^attempt), at least min. */
  #backoff(attempt: number, retryAfter: string | undefined): number {
    const { retryWaitMs, retryMaxWaitMs } = this.#options.http;
    const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(retryMaxWaitMs, Math.max(retryWaitMs, seconds * 1000));
    const ceiling = Math.min(retryMaxWaitMs, retryWaitMs * 2 ** attempt);
    return Math.max(retryWaitMs, ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** One HTTP exchange, body included, within `timeoutMs`. Records `run_ai_http_request_ns`. */
  async #attempt(request: Request, token: string | undefined, signal: AbortSignal): Promise<Reply> {
    const route = normaliseRoute(request.path);
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#options.http.timeoutMs);
    const started = process.hrtime.bigint();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'sluice-run_ai' };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const query = request.encodedQuery !== undefined ? `?${request.encodedQuery}` : request.query ? `?${encodeQuery(request.query)}` : '';
    try {
      const response = await this.#pool.request({
        method: request.method,
        path: `${this.#basePath}${request.path}${query}`,
        headers,
        body: request.body ?? null,
        signal: controller.signal,
      });
      const max = request.maxBytes ?? this.#maxResponseBytes;
      const declared = Number(response.headers['content-length']);
      const chunks: Buffer[] = [];
      let bytes = 0;
      if (declared > max) {
        response.body.on('error', () => undefined).destroy();
        throw new RunAiError('limit', `${request.method} ${route}: the answer of ${declared} bytes is larger than ${max} bytes (the most sluice reads)`);
      }
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > max) {
          response.body.on('error', () => undefined).destroy();
          throw new RunAiError('limit', `${request.method} ${route}: the answer is larger than ${max} bytes (the most sluice reads)`);
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const elapsed = Number(process.hrtime.bigint() - started);
      this.#requestTimer.observe({ url: route, status_code: String(response.statusCode) }, elapsed);
      if (request.adaptive) this.#adapt(elapsed / 1e6, THROTTLING_STATUSES.has(response.statusCode) ? 'throttled' : 'ok');
      const contentType = response.headers['content-type'];
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.statusCode,
        contentType: typeof contentType === 'string' ? contentType : '',
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        text,
        bytes,
        route,
      };
    } catch (err) {
      const elapsed = Number(process.hrtime.bigint() - started);
      this.#requestTimer.observe({ url: route, status_code: 'error' }, elapsed);
      if (err instanceof RunAiError) throw err;
      if (signal.aborted) throw signal.reason;
      if (request.adaptive) this.#adapt(elapsed / 1e6, 'failed');
      if (timedOut) throw new RunAiError('timeout', `${request.method} ${route}: no answer within ${this.#options.http.timeoutMs}ms`);
      throw new RunAiError('transport', `${request.method} ${route}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }
}

// -- helpers -----------------------------------------------------------------------------------

/** The route as `run_ai_http_request_ns{url}` labels it: ids replaced, so the label set stays small. */
export function normaliseRoute(path: string): string {
  return path
    .replace(/^\/api\/v1\/workloads\/(?!pods$)[^/]+\/pods\/[^/]+\/metrics$/, '/api/v1/workloads/:workloadID/pods/:podID/metrics')
    .replace(/^\/api\/v1\/workloads\/(?!pods$)[^/:]+\/metrics$/, '/api/v1/workloads/:workloadID/metrics');
}

function secretOf(credentials: RunAiCredentials): string {
  return credentials.grantType === 'app_token' ? credentials.appSecret : credentials.clientSecret;
}

function describeStatus(reply: Reply): string {
  let message = '';
  try {
    const body: unknown = JSON.parse(reply.text);
    if (isObject(body) && typeof body['message'] === 'string') message = ` ${clip(body['message'])}`;
  } catch {
    // Not JSON: the status alone says enough.
  }
  return `status ${reply.status}${message}`;
}

async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
