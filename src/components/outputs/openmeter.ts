// Sends events to OpenMeter's ingest API, as OpenMeter's collector output (`openmeter`) does: each
// batch is one POST of a JSON array of CloudEvents to `<url>/api/v1/events`. The sending is
// http_client's (the same retries, Retry-After, isolation of rejected events and secret
// scrubbing), so a retry or replay re-sends the very same bytes, and a failure carries OpenMeter's
// problem detail.
import { durationSchema } from '../../config/duration.js';
import { createAjv } from '../../config/load.js';
import { batchingSchema, type BatchingConfig } from '../../engine/batching.js';
import { defineOutput, type Output } from '../../engine/component.js';
import { DeliveryError, type GivenUp } from '../../engine/delivery.js';
import { Message } from '../../engine/message.js';
import { encodeText, parseTargetUrl } from '../http/support.js';
import httpClient, { type HttpClientConfig } from './http_client.js';

interface OpenMeterConfig {
  url: string;
  token?: string;
  max_in_flight: number;
  batching: BatchingConfig;
  tracing_attrs_map?: string;
  timeout: string;
  retries: number;
  retry_period: string;
  max_retry_backoff: string;
}

/** The media type of a JSON array of CloudEvents, which OpenMeter's ingest endpoint accepts. */
export const CLOUDEVENTS_BATCH = 'application/cloudevents-batch+json';
const EVENTS_PATH = '/api/v1/events';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, description: 'The OpenMeter API base (e.g. https://openmeter.cloud); events go to <url>/api/v1/events.' },
    token: { type: 'string', 'x-secret': true, description: 'The OpenMeter API token, sent as `Authorization: Bearer <token>`; none when absent or empty.' },
    max_in_flight: { type: 'integer', minimum: 1, default: 10, description: 'Batches sent at once.' },
    batching: batchingSchema,
    tracing_attrs_map: {
      type: 'string',
      description: 'Accepted for compatibility with OpenMeter\'s output (a Bloblang mapping of span attributes); sluice records no traces, so it has no effect.',
    },
    timeout: durationSchema('Time limit of one request (not in OpenMeter\'s output, whose client has none).', '30s'),
    retries: { type: 'integer', minimum: 0, default: 3, description: 'Retries of a failed request before the batch fails and is replayed later (as http_client; not in OpenMeter\'s output).' },
    retry_period: durationSchema('The wait between attempts (doubled for 429, up to max_retry_backoff).', '1s'),
    max_retry_backoff: durationSchema('The longest back-off wait.', '300s'),
  },
};

// http_client's defaults, applied by the loader's own validator. Compiled on first use: compiling
// http_client's schema costs every process that loads the registry (each command, each worker
// thread) about 0.25 s of CPU otherwise.
let validateHttpClient: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;
function withDefaults(config: Record<string, unknown>): HttpClientConfig {
  validateHttpClient ??= createAjv().compile(httpClient.schema);
  const copy = structuredClone(config);
  if (!validateHttpClient(copy)) throw new Error(`openmeter: internal http_client config is invalid: ${JSON.stringify(validateHttpClient.errors)}`);
  return copy as unknown as HttpClientConfig;
}

export default defineOutput<OpenMeterConfig>({
  name: 'openmeter',
  summary: 'Sends events to the OpenMeter ingest API: each batch one POST of a CloudEvents JSON array, with http_client\'s retries.',
  schema,
  example: { url: 'http://localhost:8888' },
  create(config, settings) {
    const base = config.url.replace(/\/+$/, '');
    try {
      parseTargetUrl(base, 'url');
    } catch (err) {
      throw Object.assign(new Error((err as Error).message.replace(/^url: /, '')), { field: 'url' });
    }
    const token = config.token ?? '';
    const inner = httpClient.create(
      withDefaults({
        url: base + EVENTS_PATH,
        verb: 'POST',
        headers: { 'Content-Type': CLOUDEVENTS_BATCH, ...(token !== '' ? { Authorization: `Bearer ${token}` } : {}) },
        max_in_flight: config.max_in_flight,
        timeout: config.timeout,
        retries: config.retries,
        retry_period: config.retry_period,
        max_retry_backoff: config.max_retry_backoff,
      }),
      settings,
    );
    return new OpenMeterOutput(inner, config.max_in_flight);
  },
});

class OpenMeterOutput implements Output {
  constructor(
    readonly inner: Output,
    readonly maxInFlight: number,
  ) {}

  connect(signal: AbortSignal): Promise<void> {
    return this.inner.connect(signal);
  }

  /**
   * One request for the batch: its events as a JSON array. A message that is not JSON is given up
   * (as OpenMeter's output fails it); the rest are sent. Rejects with a DeliveryError naming the
   * messages not delivered, traced back from the array's events.
   */
  async write(batch: readonly Message[], signal: AbortSignal): Promise<void> {
    const events: Message[] = [];
    const givenUp: GivenUp[] = [];
    for (const message of batch) {
      try {
        message.json();
        events.push(message);
      } catch (err) {
        givenUp.push({ message, kind: 'rejected', reason: `failed to convert message to structured data: ${(err as Error).message}` });
      }
    }
    let failure: unknown;
    let archive: Message | undefined;
    if (events.length > 0) {
      archive = Message.archiveOf(events, encodeEvents, events[0]!.metadata);
      try {
        await this.inner.write([archive], signal);
      } catch (err) {
        failure = err;
      }
    }
    if (failure === undefined && givenUp.length === 0) return;
    if (failure === undefined) throw new DeliveryError(givenUp[0]!.reason, { undelivered: [], givenUp });
    const reason = failure instanceof Error ? failure.message : String(failure);
    if (!(failure instanceof DeliveryError)) throw new DeliveryError(reason, { undelivered: events, givenUp, cause: failure });
    const undelivered = (failure.undelivered ?? [archive!]).flatMap((m) => (m === archive ? events : [m]));
    const innerGivenUp = failure.givenUp.flatMap((g) => (g.message === archive ? events.map((message) => ({ ...g, message })) : [g]));
    throw new DeliveryError(reason, { undelivered, givenUp: [...innerGivenUp, ...givenUp], cause: failure });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The events as one compact JSON array: each event's own bytes, so a retry sends the same body. */
function encodeEvents(events: readonly Message[]): Uint8Array {
  return encodeText(`[${events.map((e) => e.text()).join(',')}]`);
}
