// Sends messages as HTTP requests (Redpanda Connect's `http_client` output), built for billing
// sinks such as OpenMeter's `/api/v1/events`: a retry re-sends the very same bytes, Retry-After is
// honoured, nothing is dropped unless the config says so, and a 400 for a JSON-array batch is
// bisected so only the invalid events fail.
import { createHash } from 'node:crypto';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Level, Logger } from 'pino';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { durationSchema, formatDuration, parseDurationMs } from '../../config/duration.js';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput, type Output, type Settings } from '../../engine/component.js';
import { metadataString, type Message } from '../../engine/message.js';
import type { Secrets } from '../../engine/secrets.js';
import { isCredentialHeader, isSecretHeader, redactUrl } from '../../engine/secrets.js';
import { compileInterpolation, type Interpolated } from '../../mapping/interpolation.js';
import { DeliveryError, type GivenUp } from '../../engine/delivery.js';
import type { MappingContext } from '../../mapping/environment.js';

export interface HttpClientConfig {
  url: string;
  verb: string;
  headers: Record<string, string>;
  secret_headers: string[];
  metadata: { include_prefixes: string[]; include_patterns: string[] };
  dump_request_log_level: '' | 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
  oauth2: {
    enabled: boolean;
    client_key: string;
    client_secret: string;
    token_url: string;
    scopes: string[];
    endpoint_params: Record<string, string[]>;
  };
  basic_auth: { enabled: boolean; username: string; password: string };
  tls: { enabled: boolean; skip_cert_verify: boolean; root_cas: string; root_cas_file: string };
  rate_limit?: { count: number; interval: string };
  timeout: string;
  retry_period: string;
  max_retry_backoff: string;
  max_retry_after: string;
  retries: number;
  backoff_on: number[];
  drop_on: number[];
  successful_on: number[];
  proxy_url: string;
  batch_as_multipart: boolean;
  split_on_bad_request: boolean;
  max_in_flight: number;
  batching: BatchingConfig;
}

const statusList = (description: string, defaultValue: number[]) => ({
  type: 'array',
  items: { type: 'integer', minimum: 100, maximum: 599 },
  uniqueItems: true,
  default: defaultValue,
  description,
});
const stringList = (description: string) => ({ type: 'array', items: { type: 'string' }, default: [], description });

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      'x-interpolated': true,
      description: 'The URL to send to; `${! }` interpolations are rendered against the first message of the batch.',
    },
    verb: { type: 'string', minLength: 1, default: 'POST', description: 'The HTTP method.' },
    headers: {
      type: 'object',
      default: {},
      additionalProperties: { type: 'string', 'x-interpolated': true },
      description:
        'Request headers, interpolated against the first message of the batch. Without a Content-Type header the body is sent as application/octet-stream. Credential headers (Authorization, tokens) are redacted from every log.',
    },
    secret_headers: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      uniqueItems: true,
      default: [],
      description:
        'Names of headers whose values are credentials, besides those recognised by name (Authorization, and names containing auth, key, token, secret, password or cookie): their values are redacted from logs, request dumps and echo. Not in Redpanda Connect.',
    },
    metadata: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Which message metadata to send as request headers (none by default).',
      properties: {
        include_prefixes: stringList('Metadata keys starting with any of these prefixes are sent.'),
        include_patterns: stringList('Metadata keys matching any of these regular expressions are sent.'),
      },
    },
    dump_request_log_level: {
      type: 'string',
      enum: ['', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'],
      default: '',
      description:
        'When set, logs method, URL, headers and body of every request and its response at this level, with credentials redacted.',
    },
    oauth2: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'OAuth 2 client-credentials flow: a bearer token is fetched from token_url and refreshed before it expires.',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Whether to use OAuth 2.' },
        client_key: { type: 'string', default: '', description: 'The client id.' },
        client_secret: { type: 'string', default: '', 'x-secret': true, description: 'The client secret.' },
        token_url: { type: 'string', default: '', description: 'The token endpoint.' },
        scopes: stringList('Scopes to request.'),
        endpoint_params: {
          type: 'object',
          default: {},
          additionalProperties: { type: 'array', items: { type: 'string' } },
          description: 'Extra form parameters for the token request.',
        },
      },
    },
    basic_auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'HTTP basic authentication; it replaces any Authorization header.',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Whether to use basic authentication.' },
        username: { type: 'string', default: '', description: 'The username.' },
        password: { type: 'string', default: '', 'x-secret': true, description: 'The password.' },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'TLS settings for https URLs; they apply only when enabled.',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Whether the settings below apply.' },
        skip_cert_verify: { type: 'boolean', default: false, description: 'Accept any server certificate (testing only).' },
        root_cas: { type: 'string', default: '', description: 'PEM certificates of additional trusted roots.' },
        root_cas_file: { type: 'string', default: '', description: 'A PEM file of additional trusted roots, relative to the config file.' },
      },
    },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      description: 'A local limit on requests (each attempt counts): at most `count` per `interval`. Unlimited when absent.',
      properties: {
        count: { type: 'integer', minimum: 1, default: 1000, description: 'Requests allowed per interval.' },
        interval: durationSchema('The length of one interval.', '1s'),
      },
    },
    timeout: durationSchema('Time limit of one attempt, response body included; 0s disables.', '5s'),
    retry_period: durationSchema('The wait before the first retry; it doubles with each further retry.', '1s'),
    max_retry_backoff: durationSchema('The longest wait between retries (a Retry-After from the server may ask for longer, up to max_retry_after).', '300s'),
    max_retry_after: durationSchema(
      'The longest a Retry-After on a 429 or 503 is honoured (not in Redpanda Connect, which ignores Retry-After). While it lasts, every request of the output waits; a wait of 30s or more is logged as a warning.',
      '300s',
    ),
    retries: {
      type: 'integer',
      minimum: 0,
      default: 3,
      description: 'Retries after the first attempt before write fails and the engine replays the batch later.',
    },
    backoff_on: statusList(
      'Statuses that are retried with back-off. 408, 429, 5xx, connection errors and timeouts are always retried; add other statuses here to retry them too.',
      [429],
    ),
    drop_on: statusList(
      'Statuses that fail the request at once, without retries. The messages still fail; wrap the output in drop_on to drop them.',
      [],
    ),
    successful_on: statusList('Statuses besides 2xx that count as success.', []),
    proxy_url: { type: 'string', default: '', description: 'An HTTP proxy to send requests through.' },
    batch_as_multipart: {
      type: 'boolean',
      default: false,
      description:
        'How a batch of several messages is sent: one multipart/form-data request when true, one request per message when false. A batch archived into one message is always one request.',
    },
    split_on_bad_request: {
      type: 'boolean',
      default: true,
      description:
        'When a request whose body is a JSON array (or a multipart batch) is rejected with 400, 413 or 422, re-send it in halves until only the rejected events fail, so one invalid event does not cost its neighbours. Delivered events are not re-sent when the batch is replayed.',
    },
    max_in_flight: { type: 'integer', minimum: 1, default: 64, description: 'Batches sent at once; also the connection pool size per host.' },
    batching: batchingSchema,
  },
};

export default defineOutput<HttpClientConfig>({
  name: 'http_client',
  summary: 'Sends messages as HTTP requests, with retries, back-off, Retry-After and isolation of rejected events.',
  schema,
  example: { url: 'http://localhost:8888/api/v1/events' },
  create: (config, settings) => new HttpClient(config, settings),
});

// ---------------------------------------------------------------------------------------------

/** Why one request finally failed. */
class RequestError extends Error {
  constructor(
    message: string,
    /** The response status; undefined for connection errors and timeouts. */
    readonly status: number | undefined,
    /** Whether the body was rejected as invalid (400/413/422 with split_on_bad_request): splitting may help. */
    readonly rejected: boolean,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** A URL or header that cannot be rendered for a message: the message's own fault, so final. */
class TargetError extends Error {}

interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
}

type AttemptResult =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: string }
  | { readonly kind: 'error'; readonly error: Error; readonly timedOut: boolean };

/** What is left of a set of items (events of an array body, or messages of a multipart body) after sending them. */
interface Leftover<T> {
  readonly items: readonly T[];
  readonly error: RequestError;
}

const SPLIT_STATUSES = new Set([400, 413, 422]);
const RETRIED_STATUSES = new Set([408, 429]);
const RETRY_AFTER_STATUSES = new Set([429, 503]);
/** A wait this long (Retry-After or back-off) is logged as a warning: the output is paused, not stuck. */
const LONG_WAIT_MS = 30_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const LOG_LEVELS: Record<Exclude<HttpClientConfig['dump_request_log_level'], ''>, Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  FATAL: 'error',
};

class HttpClient implements Output {
  readonly maxInFlight: number;
  #config: HttpClientConfig;
  #logger: Logger;
  #secrets: Secrets;
  #verb: string;
  #url: Interpolated;
  #headers: [string, Interpolated][];
  #metadataFilter: (key: string) => boolean;
  #timeoutMs: number;
  #retryPeriodMs: number;
  #maxBackoffMs: number;
  #maxRetryAfterMs: number;
  #dumpLevel: Level | undefined;
  #dispatcherOptions: Agent.Options;
  #dispatcher: Dispatcher | undefined;
  #auth: Authorizer;
  #limiter: RateLimiter | undefined;
  #gate = new RetryAfterGate();
  #closing = new AbortController();
  #metrics: HttpMetrics;
  /** Whether a header's value is a credential (by name, or listed in secret_headers). */
  #isSecret: (name: string) => boolean;
  /** Whether a header's value computed per message is registered as a secret (see isCredentialHeader). */
  #registersDynamic: (name: string) => boolean;

  constructor(config: HttpClientConfig, settings: Settings) {
    this.#config = config;
    this.#logger = settings.logger;
    this.#secrets = settings.secrets;
    this.maxInFlight = config.max_in_flight;
    this.#verb = config.verb.toUpperCase();
    this.#url = compileField('url', config.url);
    if (this.#url.isStatic) parseTargetUrl(config.url, 'url');
    this.#headers = Object.entries(config.headers).map(([name, value]) => {
      if (!HEADER_NAME.test(name)) throw new Error(`headers: ${JSON.stringify(name)} is not a valid header name`);
      return [name, compileField(`headers.${name}`, value)];
    });
    const secretNames = new Set(config.secret_headers.map((n) => n.toLowerCase()));
    this.#isSecret = (name) => isSecretHeader(name) || secretNames.has(name.toLowerCase());
    this.#registersDynamic = (name) => isCredentialHeader(name) || secretNames.has(name.toLowerCase());
    for (const [name, value] of Object.entries(config.headers)) if (this.#isSecret(name)) registerCredential(this.#secrets, value);
    this.#metadataFilter = metadataFilter(config.metadata);
    this.#timeoutMs = parseDurationMs(config.timeout);
    this.#retryPeriodMs = parseDurationMs(config.retry_period);
    this.#maxBackoffMs = parseDurationMs(config.max_retry_backoff);
    this.#maxRetryAfterMs = parseDurationMs(config.max_retry_after);
    this.#dumpLevel = config.dump_request_log_level === '' ? undefined : LOG_LEVELS[config.dump_request_log_level];
    this.#dispatcherOptions = dispatcherOptions(config, settings.baseDir, this.#timeoutMs);
    if (config.proxy_url !== '') registerCredential(this.#secrets, parseTargetUrl(config.proxy_url, 'proxy_url').password);
    this.#auth = new Authorizer(config, settings.secrets, this.#timeoutMs, () => this.#requireDispatcher());
    this.#limiter = config.rate_limit ? new RateLimiter(config.rate_limit.count, parseDurationMs(config.rate_limit.interval)) : undefined;
    this.#metrics = new HttpMetrics(settings);
    setMaxListeners(0, this.#closing.signal);
  }

  async connect(): Promise<void> {
    this.#requireDispatcher();
  }

  /**
   * Delivers the batch: one request when it is one message (e.g. archived) or with
   * batch_as_multipart, else one request per message. Rejects with a DeliveryError naming what
   * was not delivered, and giving up what the sink rejected as invalid once isolated (a 400,
   * 413 or 422 for that message or event alone): sending it again cannot succeed. (The engine
   * counts output_sent/output_error/output_latency_ns around this.)
   */
  async write(batch: readonly Message[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    const write = this.#linkAbort(signal);
    try {
      let failure: DeliveryError | undefined;
      try {
        failure = batch.length === 1 || this.#config.batch_as_multipart ? await this.#sendAll(batch, write.signal) : await this.#sendEach(batch, write.signal);
      } catch (err) {
        if (!(err instanceof TargetError)) throw err;
        failure = new DeliveryError(err.message, { undelivered: [], givenUp: batch.map((message) => ({ message, kind: 'rejected', reason: err.message })) });
      }
      if (failure) throw failure;
    } finally {
      write.unlink();
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new Error('http_client is closed'));
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    await dispatcher?.destroy();
  }

  /**
   * One signal for everything a write waits on, aborted by the engine's signal or by close().
   * Waits listen to it instead of the shared signals, so those carry one listener per write.
   */
  #linkAbort(signal: AbortSignal): { signal: AbortSignal; unlink(): void } {
    const controller = new AbortController();
    const sources = [signal, this.#closing.signal];
    const abort = () => controller.abort(sources.find((s) => s.aborted)?.reason);
    if (getMaxListeners(signal) < this.maxInFlight + 10) setMaxListeners(this.maxInFlight + 10, signal);
    for (const source of sources) source.addEventListener('abort', abort, { once: true });
    if (sources.some((s) => s.aborted)) abort();
    return { signal: controller.signal, unlink: () => sources.forEach((source) => source.removeEventListener('abort', abort)) };
  }

  #requireDispatcher(): Dispatcher {
    if (this.#closing.signal.aborted) throw new Error('http_client is closed');
    // Creating a pool opens no socket; connections are made (and reused) per request.
    this.#dispatcher ??=
      this.#config.proxy_url === ''
        ? new Agent(this.#dispatcherOptions)
        : new ProxyAgent({ ...this.#dispatcherOptions, uri: this.#config.proxy_url, requestTls: this.#dispatcherOptions.connect as ProxyAgent.Options['requestTls'] });
    return this.#dispatcher;
  }

  // --- batch shapes ---------------------------------------------------------------------------

  /**
   * One request per message, in order (batch_as_multipart: false). A message rejected as invalid
   * does not stop the rest; any other failure does, since the sink is then likely unavailable.
   */
  async #sendEach(batch: readonly Message[], signal: AbortSignal): Promise<DeliveryError | undefined> {
    const failures: DeliveryError[] = [];
    for (const [i, message] of batch.entries()) {
      let failure: DeliveryError | undefined;
      try {
        failure = await this.#sendMessage(message, { message, batch: [message], index: 0 }, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        const reason = (err as Error).message;
        // A URL or header this message cannot render will never render: only this message fails.
        failure =
          err instanceof TargetError
            ? new DeliveryError(reason, { undelivered: [], givenUp: [{ message, kind: 'rejected', reason }] })
            : new DeliveryError(reason, { undelivered: [message], cause: err });
      }
      if (!failure) continue;
      failures.push(failure);
      if ((failure.undelivered ?? []).length > 0) {
        failures.push(new DeliveryError(failure.message, { undelivered: batch.slice(i + 1) }));
        break;
      }
    }
    return combine(failures, batch.length, 'messages');
  }

  /** The whole batch as one request: the archived message itself, or a multipart body. */
  async #sendAll(batch: readonly Message[], signal: AbortSignal): Promise<DeliveryError | undefined> {
    const context: MappingContext = { message: batch[0]!, batch, index: 0 };
    if (batch.length === 1) return this.#sendMessage(batch[0]!, context, signal);
    const target = await this.#target(context);
    const leftovers = await this.#isolate(batch, async (messages) => {
      const multipart = multipartBody(messages.map((m) => ({ headers: { 'Content-Type': contentTypeOf(target), ...this.#metadataHeaders(m) }, body: m.bytes() })));
      return this.#send({ url: target.url, headers: { ...target.headers, 'content-type': multipart.contentType } }, multipart.body, signal);
    });
    return summarise(leftovers, (messages) => [...messages], batch.length, 'messages');
  }

  /** Sends one message as one request; a JSON-array body that is rejected is bisected to isolate the invalid events. */
  async #sendMessage(message: Message, context: MappingContext, signal: AbortSignal): Promise<DeliveryError | undefined> {
    const target = await this.#target(context);
    const failure = await this.#send(target, message.bytes(), signal);
    if (!failure) return undefined;
    const events = failure.rejected && this.#config.split_on_bad_request ? splitJsonArray(message.text()) : undefined;
    if (!events || events.length < 2) return summarise([{ items: [message], error: failure }], (items) => [...items], 1, 'messages');
    this.#logger.info({ events: events.length, status: failure.status }, 'Splitting a rejected batch to isolate the invalid events.');
    const leftovers = await this.#isolate(
      events.map((_, i) => i),
      (indices) => this.#send(target, encodeText(`[${indices.map((i) => events[i]).join(',')}]`), signal),
      failure,
    );
    const rejected = leftovers.filter((l) => l.error.rejected).reduce((n, l) => n + l.items.length, 0);
    if (rejected > 0) this.#logger.warn({ rejected, events: events.length }, `Isolated ${rejected} rejected event${rejected === 1 ? '' : 's'} of ${events.length}.`);
    // An event stands for the archived message it came from (its part), so a failure is traced
    // back to that message; without parts, a new message carrying the event's bytes.
    const parts = message.parts?.length === events.length ? message.parts : undefined;
    return summarise(leftovers, (indices) => indices.map((i) => parts?.[i] ?? message.withBytes(events[i]!)), events.length, 'events');
  }

  /**
   * Sends `items` together; when they are rejected as invalid, sends each half on its own, and so
   * on down to single items, so only invalid items remain. Stops at the first failure of another
   * kind (the sink is then unavailable): the rest is left over with that error.
   */
  async #isolate<T>(
    items: readonly T[],
    send: (items: readonly T[]) => Promise<RequestError | undefined>,
    knownFailure?: RequestError,
  ): Promise<Leftover<T>[]> {
    const failure = knownFailure ?? (await send(items));
    if (!failure) return [];
    if (!failure.rejected || !this.#config.split_on_bad_request || items.length < 2) return [{ items, error: failure }];
    const middle = Math.ceil(items.length / 2);
    const first = await this.#isolate(items.slice(0, middle), send);
    if (first.some((left) => !left.error.rejected)) return [...first, { items: items.slice(middle), error: first.find((l) => !l.error.rejected)!.error }];
    return [...first, ...(await this.#isolate(items.slice(middle), send))];
  }

  // --- one request, with retries --------------------------------------------------------------

  /**
   * Sends one body until it succeeds or retries run out; resolves the final failure (undefined on
   * success). Every attempt sends exactly `body`. Rejects only when `signal` aborts (shutdown or close).
   */
  async #send(target: Target, body: Uint8Array, signal: AbortSignal): Promise<RequestError | undefined> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.#attempt(target, body, signal);
      // Held even when this request is not retried: the engine's replay must wait too.
      const retryAfter = this.#retryAfter(result);
      if (retryAfter !== undefined) this.#hold(retryAfter, result);
      const verdict = this.#judge(result);
      if (verdict === 'success') return undefined;
      const error = this.#describe(target, result, attempt + 1);
      // The final failure is logged where the write fails (engine, drop_on), not once per request.
      if (verdict === 'fail' || attempt >= this.#config.retries) {
        this.#logger.debug({ status: error.status, err: error.message }, 'HTTP request failed.');
        return error;
      }
      const wait = retryAfter ?? this.#backoff(attempt + 1);
      if (retryAfter === undefined && wait >= LONG_WAIT_MS) {
        this.#logger.warn({ wait: formatWait(wait), attempt: attempt + 1, err: error.message }, 'HTTP request failed; backing off before the next attempt.');
      }
      this.#logger.debug({ attempt: attempt + 1, wait_ms: Math.round(wait), err: error.message }, 'Retrying HTTP request.');
      await sleep(wait, signal);
    }
  }

  async #attempt(target: Target, body: Uint8Array, signal: AbortSignal): Promise<AttemptResult> {
    await this.#gate.wait(signal);
    await this.#limiter?.acquire(signal);
    let auth: Record<string, string>;
    try {
      auth = await this.#auth.headers(signal);
    } catch (err) {
      throwIfAborted(signal);
      return { kind: 'error', error: err as Error, timedOut: false };
    }
    const headers = { ...target.headers, ...auth };
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort);
    let timedOut = false;
    const timer =
      this.#timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, this.#timeoutMs)
        : undefined;
    const started = process.hrtime.bigint();
    let result: AttemptResult;
    try {
      const response = await request(target.url, {
        dispatcher: this.#requireDispatcher(),
        method: this.#verb as Dispatcher.HttpMethod,
        headers,
        body,
        signal: controller.signal,
      });
      const text = await readAtMost(response.body, MAX_RESPONSE_BYTES);
      result = { kind: 'response', status: response.statusCode, headers: response.headers, body: text };
    } catch (err) {
      throwIfAborted(signal);
      result = { kind: 'error', error: err as Error, timedOut };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
    const elapsed = process.hrtime.bigint() - started;
    this.#metrics.request(result.kind === 'response' ? result.status : undefined, elapsed);
    if (this.#dumpLevel) this.#dump(this.#dumpLevel, target.url, headers, body, result, elapsed);
    return result;
  }

  #judge(result: AttemptResult): 'success' | 'retry' | 'fail' {
    if (result.kind === 'error') return isPermanentError(result.error) ? 'fail' : 'retry';
    const { status } = result;
    const { drop_on, backoff_on, successful_on } = this.#config;
    if (drop_on.includes(status)) return 'fail';
    if (backoff_on.includes(status)) return 'retry';
    if (successful_on.includes(status) || (status >= 200 && status <= 299)) return 'success';
    if (RETRIED_STATUSES.has(status) || status >= 500) return 'retry';
    // A rejected token may just have expired: fetch a new one and try again.
    if (status === 401 && this.#auth.invalidate()) return 'retry';
    return 'fail';
  }

  /** The wait a 429 or 503 asks for with Retry-After (at most max_retry_after), if any. */
  #retryAfter(result: AttemptResult): number | undefined {
    if (result.kind !== 'response' || !RETRY_AFTER_STATUSES.has(result.status)) return undefined;
    const retryAfter = parseRetryAfter(headerValue(result.headers, 'retry-after'));
    return retryAfter === undefined ? undefined : Math.min(retryAfter, this.#maxRetryAfterMs);
  }

  /** Pauses every request of the output for `ms`; a long pause is a warning, so a quiet output is never a mystery. */
  #hold(ms: number, result: AttemptResult): void {
    const extended = this.#gate.hold(ms);
    if (!extended || ms < LONG_WAIT_MS) return;
    const asked = result.kind === 'response' ? headerValue(result.headers, 'retry-after') : undefined;
    this.#logger.warn(
      { status: result.kind === 'response' ? result.status : undefined, retry_after: asked, wait: formatWait(ms), max_retry_after: this.#config.max_retry_after },
      `The sink asked to wait before sending again (Retry-After); every request of this output is paused for ${formatWait(ms)}.`,
    );
  }

  /** Exponential back-off with jitter before retry number `retry` (1-based), capped by max_retry_backoff. */
  #backoff(retry: number): number {
    const nominal = Math.min(this.#maxBackoffMs, this.#retryPeriodMs * 2 ** (retry - 1));
    // Shave up to a quarter off so clients that failed together do not retry together.
    return nominal * (0.75 + 0.25 * Math.random());
  }

  #describe(target: Target, result: AttemptResult, attempts: number): RequestError {
    const where = `${this.#verb} ${redactUrl(target.url)}`;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    if (result.kind === 'error') {
      const what = result.timedOut ? `request timed out after ${this.#config.timeout}` : describeTransportError(result.error);
      return new RequestError(this.#secrets.scrub(`${where}: ${what}${tries}`), undefined, false);
    }
    const { status } = result;
    const text = `${where}: HTTP request returned unexpected response code (${status}): ${status} ${STATUS_CODES[status] ?? ''}, Error: ${responseDetail(result)}${tries}`;
    return new RequestError(this.#secrets.scrub(text), status, SPLIT_STATUSES.has(status));
  }

  // --- request construction -------------------------------------------------------------------

  /** The URL and headers for a request, interpolated against `context` (Connect: the first message of the batch). */
  async #target(context: MappingContext): Promise<Target> {
    let url: string;
    try {
      url = await this.#url.render(context);
      parseTargetUrl(url, 'url');
    } catch (err) {
      throw new TargetError(`url interpolation error: ${(err as Error).message}`);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of this.#headers) {
      try {
        headers[name.toLowerCase()] = await value.render(context);
      } catch (err) {
        throw new TargetError(`header ${name} interpolation error: ${(err as Error).message}`);
      }
      if (!value.isStatic && this.#registersDynamic(name)) registerCredential(this.#secrets, headers[name.toLowerCase()]);
    }
    headers['content-type'] ??= 'application/octet-stream';
    return { url, headers: { ...this.#metadataHeaders(context.message), ...headers } };
  }

  #metadataHeaders(message: Message): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(message.metadata)) {
      if (HEADER_NAME.test(key) && this.#metadataFilter(key)) headers[key.toLowerCase()] = metadataString(value).replace(/[\r\n]+/g, ' ');
    }
    return headers;
  }

  // --- request log ----------------------------------------------------------------------------

  #dump(level: Level, url: string, headers: Record<string, string>, body: Uint8Array, result: AttemptResult, elapsed: bigint): void {
    if (!this.#logger.isLevelEnabled(level)) return;
    const scrub = (text: string) => this.#secrets.scrub(text);
    const accessLog: Record<string, unknown> = {
      elapsed_ns: Number(elapsed),
      request: { url: scrub(redactUrl(url)), method: this.#verb, header: redactHeaders(headers, scrub, this.#isSecret), body: logBody(decodeText(body), scrub) },
    };
    if (result.kind === 'response') {
      accessLog.response = {
        status_code: result.status,
        content_length: Buffer.byteLength(result.body),
        header: redactHeaders(result.headers, scrub, this.#isSecret),
        body: logBody(result.body, scrub),
      };
    } else {
      accessLog.error = scrub(result.timedOut ? `request timed out after ${this.#config.timeout}` : describeTransportError(result.error));
    }
    this.#logger[level]({ access_log: accessLog }, 'http request log');
  }
}

// --- authentication -----------------------------------------------------------------------------

/** Adds basic or OAuth 2 credentials to each attempt, registering every credential with the secrets. */
class Authorizer {
  #basic: string | undefined;
  #oauth2: HttpClientConfig['oauth2'];
  #secrets: Secrets;
  #timeoutMs: number;
  #dispatcher: () => Dispatcher;
  #token: { value: string; expiresAt: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(config: HttpClientConfig, secrets: Secrets, timeoutMs: number, dispatcher: () => Dispatcher) {
    this.#secrets = secrets;
    this.#oauth2 = config.oauth2;
    this.#timeoutMs = timeoutMs;
    this.#dispatcher = dispatcher;
    if (config.oauth2.enabled) {
      if (config.oauth2.token_url === '') throw new Error('oauth2.token_url: required when oauth2 is enabled');
      parseTargetUrl(config.oauth2.token_url, 'oauth2.token_url');
      secrets.add(config.oauth2.client_secret);
    }
    if (config.basic_auth.enabled) {
      const { username, password } = config.basic_auth;
      this.#basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      secrets.add(password);
      registerCredential(secrets, this.#basic);
    }
  }

  async headers(signal: AbortSignal): Promise<Record<string, string>> {
    if (this.#oauth2.enabled) return { authorization: `Bearer ${await this.#accessToken(signal)}` };
    if (this.#basic) return { authorization: this.#basic };
    return {};
  }

  /** Forgets the OAuth 2 token after a 401; true when there was one (so a retry may succeed). */
  invalidate(): boolean {
    if (!this.#oauth2.enabled) return false;
    this.#token = undefined;
    return true;
  }

  #accessToken(signal: AbortSignal): Promise<string> {
    if (this.#token && Date.now() < this.#token.expiresAt) return Promise.resolve(this.#token.value);
    this.#pending ??= this.#fetchToken(signal).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** The client-credentials grant (RFC 6749 §4.4) with the client authenticated by basic auth. */
  async #fetchToken(signal: AbortSignal): Promise<string> {
    const { client_key, client_secret, token_url, scopes, endpoint_params } = this.#oauth2;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    for (const [key, values] of Object.entries(endpoint_params)) for (const value of values) form.append(key, value);
    const client = `${encodeURIComponent(client_key)}:${encodeURIComponent(client_secret)}`;
    const timeout = this.#timeoutMs > 0 ? [AbortSignal.timeout(this.#timeoutMs)] : [];
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await request(token_url, {
        dispatcher: this.#dispatcher(),
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${Buffer.from(client).toString('base64')}`,
        },
        body: form.toString(),
        signal: AbortSignal.any([signal, ...timeout]),
      });
      text = await readAtMost(response.body, MAX_RESPONSE_BYTES);
    } catch (err) {
      throw new Error(`oauth2: token request to ${redactUrl(token_url)} failed: ${describeTransportError(err as Error)}`);
    }
    if (response.statusCode < 200 || response.statusCode > 299) {
      throw new Error(`oauth2: token request to ${redactUrl(token_url)} returned ${response.statusCode}: ${this.#secrets.scrub(text.slice(0, 300))}`);
    }
    const fields = parseTokenResponse(text, headerValue(response.headers, 'content-type'));
    if (!fields.access_token) throw new Error(`oauth2: token response from ${redactUrl(token_url)} has no access_token`);
    this.#secrets.add(fields.access_token);
    // Refresh a little early so a token does not expire in flight.
    const lifetime = Number(fields.expires_in);
    this.#token = { value: fields.access_token, expiresAt: lifetime > 0 ? Date.now() + Math.max(lifetime - 10, lifetime / 2) * 1000 : Infinity };
    return fields.access_token;
  }
}

function parseTokenResponse(text: string, contentType: string | undefined): Record<string, string | undefined> {
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    return { access_token: stringOr(value.access_token), expires_in: stringOr(value.expires_in) };
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}

const stringOr = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

// --- pacing ---------------------------------------------------------------------------------------

/** A Retry-After shared by every request of the output: once a server asks to wait, no request goes out before then. */
class RetryAfterGate {
  #notBefore = 0;

  /** Holds requests back until `ms` from now; true when that extends the current hold. */
  hold(ms: number): boolean {
    const until = Date.now() + ms;
    if (until <= this.#notBefore) return false;
    this.#notBefore = until;
    return true;
  }

  async wait(...signals: AbortSignal[]): Promise<void> {
    const wait = this.#notBefore - Date.now();
    if (wait > 0) await sleep(wait, ...signals);
  }
}

/** At most `count` requests per fixed window of `intervalMs`, shared by every request of the output. */
class RateLimiter {
  #count: number;
  #intervalMs: number;
  #windowStart = 0;
  #used = 0;

  constructor(count: number, intervalMs: number) {
    if (intervalMs <= 0) throw new Error('rate_limit.interval: must be greater than 0s');
    this.#count = count;
    this.#intervalMs = intervalMs;
  }

  async acquire(...signals: AbortSignal[]): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now - this.#windowStart >= this.#intervalMs) {
        this.#windowStart = now;
        this.#used = 0;
      }
      if (this.#used < this.#count) {
        this.#used++;
        return;
      }
      await sleep(this.#windowStart + this.#intervalMs - now, ...signals);
    }
  }
}

// --- metrics ------------------------------------------------------------------------------------

/** The HTTP client series (the engine counts the output_* series around write()). */
class HttpMetrics {
  #labels: { label: string; path: string };
  #metrics: Settings['metrics'];

  constructor(settings: Settings) {
    this.#metrics = settings.metrics;
    this.#labels = { label: settings.label, path: settings.path };
  }

  /** One attempt: its status (undefined for a connection error or timeout) and duration. */
  request(status: number | undefined, elapsed: bigint): void {
    const metrics = this.#metrics;
    metrics.timer('http_request_latency_ns', 'Duration of one HTTP request attempt, in ns.').observe(this.#labels, Number(elapsed));
    if (status === undefined) {
      metrics.counter('http_request_error', 'HTTP request attempts that got no response (connection error or timeout).').inc(this.#labels);
      return;
    }
    const tier = Math.floor(status / 100);
    if (tier >= 1 && tier <= 5) metrics.counter(`http_request_code_${tier}xx`, `HTTP responses with a ${tier}xx status.`).inc(this.#labels);
    metrics.counter('http_request_status', 'HTTP responses by status code.', ['label', 'path', 'code']).inc({ ...this.#labels, code: String(status) });
  }
}

// --- helpers ------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encodeText = (text: string) => encoder.encode(text);
const decodeText = (bytes: Uint8Array) => decoder.decode(bytes);

function compileField(field: string, text: string): Interpolated {
  try {
    return compileInterpolation(text);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

/** Parses an http(s) URL; the error names the field. */
function parseTargetUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${field}: ${JSON.stringify(redactUrl(text))} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${field}: unsupported scheme ${url.protocol} (expected http or https)`);
  return url;
}

function metadataFilter(config: HttpClientConfig['metadata']): (key: string) => boolean {
  const patterns = config.include_patterns.map((pattern, i) => {
    try {
      return new RegExp(pattern);
    } catch (err) {
      throw new Error(`metadata.include_patterns[${i}]: ${(err as Error).message}`);
    }
  });
  return (key) => config.include_prefixes.some((prefix) => key.startsWith(prefix)) || patterns.some((p) => p.test(key));
}

function dispatcherOptions(config: HttpClientConfig, baseDir: string, timeoutMs: number): Agent.Options {
  const { tls } = config;
  if (!tls.enabled && (tls.skip_cert_verify || tls.root_cas !== '' || tls.root_cas_file !== '')) {
    throw new Error('tls: settings have no effect unless tls.enabled is true');
  }
  const ca: string[] = [];
  if (tls.enabled && tls.root_cas !== '') ca.push(tls.root_cas);
  if (tls.enabled && tls.root_cas_file !== '') {
    const file = resolvePath(baseDir, tls.root_cas_file);
    try {
      ca.push(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`tls.root_cas_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return {
    // One connection per write() slot: requests beyond max_in_flight queue (back-pressure).
    connections: config.max_in_flight,
    // Our own timer enforces `timeout` over the whole exchange; undici's are a backstop.
    headersTimeout: timeoutMs > 0 ? timeoutMs + 1000 : 0,
    bodyTimeout: timeoutMs > 0 ? timeoutMs + 1000 : 0,
    connect: {
      rejectUnauthorized: !(tls.enabled && tls.skip_cert_verify),
      // Node's defaults plus ours, as Go's root_cas extends the system pool.
      ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
    },
  };
}

/**
 * Registers a credential (a header value) with the secrets: the token after a scheme such as
 * `Bearer` (which also covers the whole value), else the whole value. `Bearer ` with an empty
 * token registers nothing rather than redacting the word Bearer everywhere.
 */
function registerCredential(secrets: Secrets, value: string | undefined): void {
  const text = value?.trim();
  if (!text) return;
  const scheme = /^(Bearer|Basic|Token|Digest|ApiKey)(?:\s+(.*))?$/i.exec(text);
  secrets.add(scheme ? scheme[2]?.trim() : text);
}

/** Errors that no retry can fix: a request undici refuses to build. */
function isPermanentError(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL' || code === 'ERR_INVALID_ARG_TYPE';
}

function describeTransportError(error: Error): string {
  const code = (error as { code?: string }).code;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.message && cause.message !== error.message ? `: ${cause.message}` : '';
  return `${error.message}${detail}${code ? ` (${code})` : ''}`;
}

/** The most useful text of an error response: a problem+json `detail` (or `title`), else the body on one line. */
function responseDetail(result: Extract<AttemptResult, { kind: 'response' }>): string {
  const contentType = headerValue(result.headers, 'content-type') ?? '';
  if (/json/i.test(contentType)) {
    try {
      const problem = JSON.parse(result.body) as { detail?: unknown; title?: unknown };
      if (typeof problem.detail === 'string' && problem.detail !== '') return truncate(problem.detail);
      if (typeof problem.title === 'string' && problem.title !== '') return truncate(problem.title);
    } catch {
      // Not JSON after all: fall back to the raw body.
    }
  }
  return truncate(result.body.replace(/\s*\n\s*/g, ' ').trim());
}

const truncate = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max)}…` : text);

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The exact text of each element of a JSON array, so a half of a batch re-sends every event's
 * bytes unchanged. Undefined when `text` is not a single JSON array.
 */
export function splitJsonArray(text: string): string[] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== '[') return undefined;
  const elements: string[] = [];
  let depth = 0;
  let start = i + 1;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) break;
    } else if (c === ',' && depth === 1) {
      elements.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (depth !== 0 || skipSpace(text, i + 1) !== text.length) return undefined;
  const last = text.slice(start, i).trim();
  if (last !== '') elements.push(last);
  else if (elements.length > 0) return undefined;
  return elements.some((e) => e === '') ? undefined : elements;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

function contentTypeOf(target: Target): string {
  return target.headers['content-type'] ?? 'application/octet-stream';
}

/** A multipart/form-data body; the boundary derives from the parts, so the same parts give the same bytes. */
function multipartBody(parts: { headers: Record<string, string>; body: Uint8Array }[]): { contentType: string; body: Uint8Array } {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part.body);
  const boundary = `sluice-${hash.digest('hex').slice(0, 40)}`;
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    const head = Object.entries(part.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    chunks.push(encodeText(`--${boundary}\r\n${head}\r\n`), part.body, encodeText('\r\n'));
  }
  chunks.push(encodeText(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

/**
 * Builds the write() failure from what is left over: items the sink rejected as invalid on their
 * own (or as a whole that cannot be split further) are given up; the rest is undelivered.
 */
function summarise<T>(
  leftovers: readonly Leftover<T>[],
  toMessages: (items: readonly T[]) => Message[],
  total: number,
  noun: string,
): DeliveryError | undefined {
  if (leftovers.length === 0) return undefined;
  const undelivered: Message[] = [];
  const givenUp: GivenUp[] = [];
  for (const { items, error } of leftovers) {
    const messages = toMessages(items);
    if (error.rejected) for (const message of messages) givenUp.push({ message, kind: 'rejected', reason: error.message });
    else undelivered.push(...messages);
  }
  const count = leftovers.reduce((n, l) => n + l.items.length, 0);
  const other = leftovers.find((l) => !l.error.rejected);
  const error = other?.error ?? leftovers[0]!.error;
  const text = count === total && leftovers.length === 1 ? error.message : `${count} of ${total} ${noun} ${other ? 'not delivered' : 'rejected'}: ${error.message}`;
  return new DeliveryError(text, { undelivered, givenUp, cause: error });
}

/** The failures of several messages sent one by one, as one. */
function combine(failures: readonly DeliveryError[], total: number, noun: string): DeliveryError | undefined {
  if (failures.length === 0) return undefined;
  if (failures.length === 1 && total === 1) return failures[0];
  const undelivered = failures.flatMap((f) => f.undelivered ?? []);
  const givenUp = failures.flatMap((f) => f.givenUp);
  const first = failures.find((f) => (f.undelivered ?? []).length > 0) ?? failures[0]!;
  const verb = undelivered.length > 0 ? 'not delivered' : 'rejected';
  return new DeliveryError(`${undelivered.length + givenUp.length} of ${total} ${noun} ${verb}: ${first.message}`, { undelivered, givenUp, cause: first });
}

/**
 * The most of a response body read (1 MB): a sink's answer is a status and at most a problem
 * document. The rest is not read (the connection is dropped), so a huge or endless answer costs
 * no memory; what was read is kept, marked as cut.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

async function readAtMost(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (bytes + buffer.length > max) {
      chunks.push(buffer.subarray(0, max - bytes));
      body.on('error', () => undefined).destroy();
      return `${Buffer.concat(chunks).toString('utf8')}... (answer cut at ${max} bytes)`;
    }
    bytes += buffer.length;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
  scrub: (text: string) => string,
  isSecret: (name: string) => boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = isSecret(name) ? '[REDACTED]' : scrub(Array.isArray(value) ? value.join(' ') : value);
  }
  return out;
}

/** A body for the request log: parsed JSON when it is JSON, else its text; secrets scrubbed first. */
function logBody(text: string, scrub: (text: string) => string): unknown {
  const scrubbed = scrub(text);
  try {
    return JSON.parse(scrubbed);
  } catch {
    return scrubbed;
  }
}

/** A wait in Go's duration style, for log lines. */
function formatWait(ms: number): string {
  return formatDuration(Math.round(ms) * 1e6);
}

function throwIfAborted(...signals: AbortSignal[]): void {
  for (const signal of signals) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('write aborted');
  }
}

/** Waits `ms`; rejects with the abort reason when any signal aborts first. */
function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  throwIfAborted(...signals);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
      try {
        throwIfAborted(...signals);
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      for (const s of signals) s.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  });
}
