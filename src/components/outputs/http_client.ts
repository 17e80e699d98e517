// Sends messages as HTTP requests (Redpanda Connect's `http_client` output), built for billing
// sinks such as OpenMeter's `/api/v1/events`: a retry re-sends the very same bytes, Retry-After is
// honoured, nothing is dropped unless the config says so, and a 400 for a JSON-array batch is
// bisected so only the invalid events fail.
import { getMaxListeners, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { Agent, interceptors, ProxyAgent, type Dispatcher } from 'undici';
import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput, type Output, type RateLimit, type Settings } from '../../engine/component.js';
import { DeliveryError } from '../../engine/delivery.js';
import { metadataString, type Message } from '../../engine/message.js';
import type { Secrets } from '../../engine/secrets.js';
import { isCredentialHeader, isSecretHeader } from '../../engine/secrets.js';
import type { MappingContext } from '../../mapping/environment.js';
import type { Interpolated } from '../../mapping/interpolation.js';
import { Attempts, type Target } from '../http/attempts.js';
import { Authorizer, type AuthConfig } from '../http/auth.js';
import { combine, isolate, multipartBody, RequestError, splitJsonArray, summarise } from '../http/bodies.js';
import { connectOnlySchemas, type ConnectOnlyConfig } from '../http/connect_fields.js';
import { HttpMetrics } from '../http/metrics.js';
import { lazyRateLimit, LocalRateLimit } from '../http/pacing.js';
import { jwtSigner } from '../http/signers.js';
import { SPLIT_STATUSES } from '../http/status.js';
import { compileField, encodeText, HEADER_NAME, metadataFilter, parseTargetUrl, registerCredential } from '../http/support.js';
import { dispatcherOptions, tlsSchema, type TlsConfig } from '../http/tls.js';

interface HttpClientOwnConfig {
  url: string;
  verb: string;
  headers: Record<string, string>;
  secret_headers: string[];
  metadata: { include_prefixes: string[]; include_patterns: string[] };
  dump_request_log_level: '' | 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
  oauth2: AuthConfig['oauth2'];
  basic_auth: AuthConfig['basic_auth'];
  tls: TlsConfig;
  /** A rate_limit resource's label (as Connect), or sluice's inline limit. */
  rate_limit?: string | { count: number; interval: string };
  follow_redirects: boolean;
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
export type HttpClientConfig = HttpClientOwnConfig & ConnectOnlyConfig;

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
    tls: tlsSchema,
    rate_limit: {
      type: ['string', 'object'],
      'x-resource': 'rate_limit',
      additionalProperties: false,
      description:
        'The label of a rate_limit resource (rate_limit_resources), as in Redpanda Connect, or an inline local limit `{count, interval}`. Each attempt takes one token. Unlimited when absent.',
      properties: {
        count: { type: 'integer', minimum: 1, default: 1000, description: 'Requests allowed per interval.' },
        interval: durationSchema('The length of one interval.', '1s'),
      },
    },
    timeout: durationSchema('Time limit of one attempt, response body included; 0s disables.', '5s'),
    retry_period: durationSchema(
      'The wait between attempts: constant for a failed attempt, doubled at each further attempt for a status in backoff_on (as Redpanda Connect).',
      '1s',
    ),
    max_retry_backoff: durationSchema('The longest back-off wait (a Retry-After from the server may ask for longer, up to max_retry_after).', '300s'),
    max_retry_after: durationSchema(
      'The longest a Retry-After on a 429 or 503 is honoured (not in Redpanda Connect, which ignores Retry-After). While it lasts, every request of the output waits; a wait of 30s or more is logged as a warning.',
      '300s',
    ),
    retries: {
      type: 'integer',
      minimum: 0,
      default: 3,
      description:
        'Retries after the first attempt before write fails and the engine replays the batch later. Every failure is retried (any status outside 2xx and successful_on, connection errors, timeouts) except drop_on statuses and, with split_on_bad_request, 400/413/422.',
    },
    backoff_on: statusList('Statuses retried with exponential back-off (retry_period doubled each time, up to max_retry_backoff); other failures wait retry_period.', [429]),
    drop_on: statusList(
      'Statuses that fail the request at once, without retries. The messages still fail; wrap the output in drop_on to drop them.',
      [],
    ),
    successful_on: statusList('Statuses besides 2xx that count as success.', []),
    follow_redirects: {
      type: 'boolean',
      default: true,
      description: 'Follow 3xx redirects (up to 10; 307/308 re-send the body). false: a 3xx response counts as success, as in Redpanda Connect.',
    },
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
        'When a request whose body is a JSON array (or a multipart batch) is rejected with 400, 413 or 422, re-send it in halves until only the rejected events fail, so one invalid event does not cost its neighbours (the halves replace retries of that status). Delivered events are not re-sent when the batch is replayed. A status listed in drop_on is never split. Not in Redpanda Connect.',
    },
    max_in_flight: { type: 'integer', minimum: 1, default: 64, description: 'Batches sent at once; also the connection pool size per host.' },
    batching: batchingSchema,
    ...connectOnlySchemas,
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

/** A URL or header that cannot be rendered for a message: the message's own fault, so final. */
class TargetError extends Error {}

class HttpClient implements Output {
  readonly maxInFlight: number;
  #config: HttpClientConfig;
  #logger: Logger;
  #secrets: Secrets;
  #url: Interpolated;
  #headers: [string, Interpolated][];
  #metadataFilter: (key: string) => boolean;
  #dispatcherOptions: Agent.Options;
  #dispatcher: Dispatcher | undefined;
  #closing = new AbortController();
  #attempts: Attempts;
  /** `multipart`: explicit parts each request is made of, instead of the message. */
  #parts: { contentType: Interpolated; disposition: Interpolated; body: Interpolated }[];
  /** Whether a header's value computed per message is registered as a secret (see isCredentialHeader). */
  #registersDynamic: (name: string) => boolean;

  constructor(config: HttpClientConfig, settings: Settings) {
    this.#config = config;
    this.#logger = settings.logger;
    this.#secrets = settings.secrets;
    this.maxInFlight = config.max_in_flight;
    this.#url = compileField('url', config.url);
    if (this.#url.isStatic) parseTargetUrl(config.url, 'url');
    this.#headers = Object.entries(config.headers).map(([name, value]) => {
      if (!HEADER_NAME.test(name)) throw new Error(`headers: ${JSON.stringify(name)} is not a valid header name`);
      return [name, compileField(`headers.${name}`, value)];
    });
    const secretNames = new Set(config.secret_headers.map((n) => n.toLowerCase()));
    const isSecret = (name: string) => isSecretHeader(name) || secretNames.has(name.toLowerCase());
    this.#registersDynamic = (name) => isCredentialHeader(name) || secretNames.has(name.toLowerCase());
    for (const [name, value] of Object.entries(config.headers)) if (isSecret(name)) registerCredential(this.#secrets, value);
    this.#metadataFilter = metadataFilter(config.metadata);
    const timeoutMs = parseDurationMs(config.timeout);
    this.#dispatcherOptions = dispatcherOptions(config, settings.baseDir, timeoutMs);
    if (config.proxy_url !== '') registerCredential(this.#secrets, parseTargetUrl(config.proxy_url, 'proxy_url').password);
    const dispatcher = () => this.#requireDispatcher();
    const auth = new Authorizer(config, settings.secrets, timeoutMs, dispatcher);
    let limiter: RateLimit | undefined;
    const limit = config.rate_limit;
    if (typeof limit === 'object') {
      const intervalMs = parseDurationMs(limit.interval);
      if (intervalMs <= 0) throw new Error('rate_limit.interval: must be greater than 0s');
      limiter = new LocalRateLimit(limit.count, intervalMs);
    } else if (typeof limit === 'string' && limit !== '') {
      // A resource: looked up when first used (the loader checked that it exists).
      limiter = lazyRateLimit(() => settings.build.resource('rate_limit', limit));
    }
    const jwt = config.jwt.enabled ? jwtSigner(config.jwt, settings.baseDir) : undefined;
    if (config.oauth.enabled) for (const secret of [config.oauth.consumer_secret, config.oauth.access_token_secret]) settings.secrets.add(secret);
    this.#parts = config.multipart.map((part, i) => ({
      contentType: compileField(`multipart[${i}].content_type`, part.content_type),
      disposition: compileField(`multipart[${i}].content_disposition`, part.content_disposition),
      body: compileField(`multipart[${i}].body`, part.body),
    }));
    const unsplit = config.split_on_bad_request ? config.drop_on.filter((status) => SPLIT_STATUSES.has(status)) : [];
    if (unsplit.length > 0) {
      settings.logger.warn(
        { drop_on: unsplit },
        `drop_on lists ${unsplit.join(', ')}: such a response fails the whole request at once, as in Redpanda Connect, so split_on_bad_request cannot isolate the invalid events and their valid neighbours fail with them. Remove ${unsplit.join(', ')} from drop_on to isolate them.`,
      );
    }
    if (config.propagate_response) settings.logger.warn('propagate_response has no effect in sluice: there is no synchronous response to propagate to.');
    const metrics = new HttpMetrics(settings);
    this.#attempts = new Attempts(config, { logger: this.#logger, secrets: this.#secrets, isSecret, auth, limiter, jwt, metrics, dispatcher });
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
    if (this.#dispatcher) return this.#dispatcher;
    const base =
      this.#config.proxy_url === ''
        ? new Agent(this.#dispatcherOptions)
        : new ProxyAgent({ ...this.#dispatcherOptions, uri: this.#config.proxy_url, requestTls: this.#dispatcherOptions.connect as ProxyAgent.Options['requestTls'] });
    // Go's client: up to 10 redirects; 307/308 re-send the body, 301/302/303 turn a POST into a GET.
    this.#dispatcher = this.#config.follow_redirects ? base.compose(interceptors.redirect({ maxRedirections: 10 })) : base;
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
    const leftovers = await isolate(
      batch,
      async (messages) => {
        const multipart = multipartBody(messages.map((m) => ({ headers: { 'Content-Type': contentTypeOf(target), ...this.#metadataHeaders(m) }, body: m.bytes() })));
        return this.#attempts.send({ url: target.url, headers: { ...target.headers, 'content-type': multipart.contentType } }, multipart.body, signal);
      },
      this.#splits,
    );
    return summarise(leftovers, (messages) => [...messages], batch.length, 'messages');
  }

  /** Sends one message as one request; a JSON-array body that is rejected is bisected to isolate the invalid events. */
  async #sendMessage(message: Message, context: MappingContext, signal: AbortSignal): Promise<DeliveryError | undefined> {
    const target = await this.#target(context);
    if (this.#parts.length > 0) return this.#sendParts(message, context, target, signal);
    const failure = await this.#attempts.send(target, message.bytes(), signal);
    if (!failure) return undefined;
    const events = this.#splits(failure) ? splitJsonArray(message.text()) : undefined;
    if (!events || events.length < 2) return summarise([{ items: [message], error: failure }], (items) => [...items], 1, 'messages');
    this.#logger.info({ events: events.length, status: failure.status }, 'Splitting a rejected batch to isolate the invalid events.');
    const leftovers = await isolate(
      events.map((_, i) => i),
      (indices) => this.#attempts.send(target, encodeText(`[${indices.map((i) => events[i]).join(',')}]`), signal),
      this.#splits,
      failure,
    );
    const rejected = leftovers.filter((l) => l.error.rejected).reduce((n, l) => n + l.items.length, 0);
    if (rejected > 0) this.#logger.warn({ rejected, events: events.length }, `Isolated ${rejected} rejected event${rejected === 1 ? '' : 's'} of ${events.length}.`);
    // An event stands for the archived message it came from (its part), so a failure is traced
    // back to that message; without parts, a new message carrying the event's bytes.
    const parts = message.parts?.length === events.length ? message.parts : undefined;
    return summarise(leftovers, (indices) => indices.map((i) => parts?.[i] ?? message.withBytes(events[i]!)), events.length, 'events');
  }

  /** `multipart`: one request whose body is the configured parts, rendered for this message. */
  async #sendParts(message: Message, context: MappingContext, target: Target, signal: AbortSignal): Promise<DeliveryError | undefined> {
    const parts: { headers: Record<string, string>; body: Uint8Array }[] = [];
    for (const [i, part] of this.#parts.entries()) {
      try {
        const headers: Record<string, string> = {};
        const contentType = await part.contentType.render(context);
        const disposition = await part.disposition.render(context);
        if (contentType !== '') headers['Content-Type'] = contentType;
        if (disposition !== '') headers['Content-Disposition'] = disposition;
        parts.push({ headers, body: encodeText(await part.body.render(context)) });
      } catch (err) {
        throw new TargetError(`multipart[${i}] interpolation error: ${(err as Error).message}`);
      }
    }
    const multipart = multipartBody(parts);
    const failure = await this.#attempts.send({ url: target.url, headers: { ...target.headers, 'content-type': multipart.contentType } }, multipart.body, signal);
    return failure ? summarise([{ items: [message], error: failure }], (items) => [...items], 1, 'messages') : undefined;
  }

  /**
   * Whether a failure is bisected: rejected as invalid, split_on_bad_request on, and the status not
   * one to drop at once. A field, so isolate() is handed it without a closure per call.
   */
  #splits = (failure: RequestError): boolean =>
    failure.rejected && this.#config.split_on_bad_request && !(failure.status !== undefined && this.#config.drop_on.includes(failure.status));

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
}

function contentTypeOf(target: Target): string {
  return target.headers['content-type'] ?? 'application/octet-stream';
}

