// Retries a child output until it delivers the messages (Redpanda Connect's `retry` output), so a
// failed send is re-attempted inside the output instead of being replayed by the engine.
import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineOutput, type Settings, type Submission } from '../../engine/component.js';
import { DeliveryError, outcomeOf, type GivenUp } from '../../engine/delivery.js';
import type { Message } from '../../engine/message.js';
import { WrapperOutput } from './wrapper.js';

export interface RetryConfig {
  max_retries: number;
  backoff: { initial_interval: string; max_interval: string; max_elapsed_time: string };
  output: unknown;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['output'],
  properties: {
    max_retries: { type: 'integer', minimum: 0, default: 0, description: 'Retries before giving up; 0 retries forever.' },
    backoff: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Exponential back-off between retries (x1.5 per retry, ±50% jitter).',
      properties: {
        initial_interval: durationSchema('The wait before the first retry.', '500ms'),
        max_interval: durationSchema('The longest wait between retries.', '3s'),
        max_elapsed_time: durationSchema('Give up once this long has passed since the first failure; 0s never gives up.', '0s'),
      },
    },
    output: { 'x-component': 'output', description: 'The child output.' },
  },
};

export default defineOutput<RetryConfig>({
  name: 'retry',
  summary: 'Retries deliveries to a child output with back-off until they succeed, without the engine replaying them.',
  schema,
  example: { output: { drop: {} } },
  create: (config, settings) => new Retry(config, settings),
});

const MULTIPLIER = 1.5;
const RANDOMIZATION = 0.5;

class Retry extends WrapperOutput {
  #maxRetries: number;
  #initialMs: number;
  #maxMs: number;
  #maxElapsedMs: number;
  #settings: Settings;
  #closing = new AbortController();

  constructor(config: RetryConfig, settings: Settings) {
    super([settings.build.output(config.output, `${settings.path}.output`)]);
    this.#settings = settings;
    this.#maxRetries = config.max_retries;
    this.#initialMs = parseDurationMs(config.backoff.initial_interval);
    this.#maxMs = parseDurationMs(config.backoff.max_interval);
    this.#maxElapsedMs = parseDurationMs(config.backoff.max_elapsed_time);
  }

  /** Re-submits the same messages (so the same events, same ids) until the child delivers them or the limits are hit. */
  submit(batch: readonly Message[]): Submission {
    const first = this.children[0]!.submit(batch);
    return { accepted: first.accepted, delivered: first.delivered.catch((err: unknown) => this.#retry(batch, err, Date.now())) };
  }


  override async close(): Promise<void> {
    this.#closing.abort(new Error('retry output is closed'));
    await super.close();
  }

  /** Re-submits what is still undelivered; messages given up (rejected or dropped) are final and not retried. */
  async #retry(batch: readonly Message[], firstError: unknown, started: number): Promise<void> {
    let error = firstError;
    let pending = batch;
    const givenUp: GivenUp[] = [];
    for (let retries = 0; ; retries++) {
      const outcome = outcomeOf(error, pending);
      givenUp.push(...outcome.givenUp);
      pending = outcome.retry;
      if (pending.length === 0) throw new DeliveryError(outcome.reason, { undelivered: [], givenUp, cause: error });
      const message = outcome.reason;
      const wait = this.#backoff(retries);
      const outOfTime = this.#maxElapsedMs > 0 && Date.now() + wait - started > this.#maxElapsedMs;
      if ((this.#maxRetries > 0 && retries >= this.#maxRetries) || outOfTime || this.#closing.signal.aborted) {
        this.#settings.logger.error({ err: message, retries }, 'Failed to send message.');
        throw new DeliveryError(`message failed to reach a target destination after ${retries} retries: ${message}`, { undelivered: pending, givenUp, cause: error });
      }
      this.#settings.logger.warn({ err: message, retry: retries + 1, wait_ms: Math.round(wait) }, 'Failed to send message, retrying.');
      await sleep(wait, this.#closing.signal);
      if (this.#closing.signal.aborted) throw new DeliveryError(`retry output closed while retrying: ${message}`, { undelivered: pending, givenUp, cause: error });
      const submission = this.children[0]!.submit(pending);
      try {
        // Both at once: a delivery that fails before acceptance must not go unhandled.
        await Promise.all([submission.accepted, submission.delivered]);
      } catch (err) {
        error = err;
        continue;
      }
      if (givenUp.length === 0) return;
      throw new DeliveryError(givenUp[0]!.reason, { undelivered: [], givenUp });
    }
  }

  /** The wait before retry number `retries + 1`: initial × 1.5^retries, capped, then randomised ±50%. */
  #backoff(retries: number): number {
    const interval = Math.min(this.#maxMs, this.#initialMs * MULTIPLIER ** retries);
    return interval * (1 - RANDOMIZATION + 2 * RANDOMIZATION * Math.random());
  }
}

/** Resolves after `ms`, or early when `signal` aborts (the caller then sees the abort and gives up). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
