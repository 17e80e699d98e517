// One request of an HTTP output, attempted until it succeeds or its retries run out: the
// Retry-After hold and rate limit before each attempt, signing and credentials, the timeout, the
// request metrics and dump, Connect's retry schedule, and the error that describes a final failure.
//
// Contract: every attempt sends exactly the bytes it was given (a retry never re-encodes), a
// Retry-After on a 429 or 503 pauses every request of the output (capped at max_retry_after), and
// send() rejects only when its signal aborts; any other failure resolves as a RequestError.
import { STATUS_CODES } from 'node:http';
import type { Level, Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { parseDurationMs } from '../../config/duration.js';
import type { RateLimit } from '../../engine/component.js';
import { redactUrl, type Secrets } from '../../engine/secrets.js';
import type { Authorizer } from './auth.js';
import { RequestError } from './bodies.js';
import type { HttpMetrics } from './metrics.js';
import { parseRetryAfter, RetryAfterGate, sleep, throwIfAborted } from './pacing.js';
import { DUMP_LEVELS, logRequest } from './request_log.js';
import { oauth1Header, type OAuth1Config } from './signers.js';
import { judgeStatus, SPLIT_STATUSES, type StatusRules, type Verdict } from './status.js';
import { describeTransportError, formatWait, headerValue, isPermanentError, readAtMost, responseDetail, type AttemptResult } from './support.js';

/** Where one request goes: its URL and headers, already rendered for the message. */
export interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
}

/** The fields of an HTTP output's config that govern its attempts (named as in the YAML). */
export interface AttemptConfig extends StatusRules {
  readonly verb: string;
  readonly timeout: string;
  readonly retry_period: string;
  readonly max_retry_backoff: string;
  readonly max_retry_after: string;
  readonly retries: number;
  readonly dump_request_log_level: '' | keyof typeof DUMP_LEVELS;
  readonly oauth: OAuth1Config;
}

/** What the output built for its attempts; `dispatcher` is asked once per attempt and throws once the output is closed. */
export interface AttemptCollaborators {
  readonly logger: Logger;
  readonly secrets: Secrets;
  /** Whether a header's value is a credential, to redact it from the request dump. */
  readonly isSecret: (name: string) => boolean;
  readonly auth: Authorizer;
  readonly limiter: RateLimit | undefined;
  /** `jwt`: the signed bearer token of each attempt. */
  readonly jwt: (() => string) | undefined;
  readonly metrics: HttpMetrics;
  readonly dispatcher: () => Dispatcher;
}

const RETRY_AFTER_STATUSES = new Set([429, 503]);
/** A wait this long (Retry-After or back-off) is logged as a warning: the output is paused, not stuck. */
const LONG_WAIT_MS = 30_000;

export class Attempts {
  #config: AttemptConfig;
  #with: AttemptCollaborators;
  #verb: string;
  #timeoutMs: number;
  #retryPeriodMs: number;
  #maxBackoffMs: number;
  #maxRetryAfterMs: number;
  #dumpLevel: Level | undefined;
  #gate = new RetryAfterGate();

  constructor(config: AttemptConfig, collaborators: AttemptCollaborators) {
    this.#config = config;
    this.#with = collaborators;
    this.#verb = config.verb.toUpperCase();
    this.#timeoutMs = parseDurationMs(config.timeout);
    this.#retryPeriodMs = parseDurationMs(config.retry_period);
    this.#maxBackoffMs = parseDurationMs(config.max_retry_backoff);
    this.#maxRetryAfterMs = parseDurationMs(config.max_retry_after);
    this.#dumpLevel = config.dump_request_log_level === '' ? undefined : DUMP_LEVELS[config.dump_request_log_level];
  }

  /**
   * Sends one body until it succeeds or retries run out; resolves the final failure (undefined on
   * success). Every attempt sends exactly `body`. Rejects only when `signal` aborts (shutdown or close).
   */
  async send(target: Target, body: Uint8Array, signal: AbortSignal): Promise<RequestError | undefined> {
    // Connect's throttle: failures wait retry_period; a backoff_on status doubles the wait from
    // its second occurrence on (up to max_retry_backoff), and later failures wait that much too.
    let period = this.#retryPeriodMs;
    let backedOff = false;
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
        this.#with.logger.debug({ status: error.status, err: error.message }, 'HTTP request failed.');
        return error;
      }
      if (verdict === 'backoff') {
        if (backedOff) period = Math.min(this.#maxBackoffMs, period * 2);
        backedOff = true;
      }
      const wait = retryAfter ?? period;
      if (retryAfter === undefined && wait >= LONG_WAIT_MS) {
        this.#with.logger.warn({ wait: formatWait(wait), attempt: attempt + 1, err: error.message }, 'HTTP request failed; backing off before the next attempt.');
      }
      this.#with.logger.debug({ attempt: attempt + 1, wait_ms: Math.round(wait), err: error.message }, 'Retrying HTTP request.');
      await sleep(wait, signal);
    }
  }

  async #attempt(target: Target, body: Uint8Array, signal: AbortSignal): Promise<AttemptResult> {
    await this.#gate.wait(signal);
    await this.#with.limiter?.access(signal);
    let auth: Record<string, string>;
    try {
      auth = await this.#with.auth.headers(signal);
    } catch (err) {
      throwIfAborted(signal);
      return { kind: 'error', error: err as Error, timedOut: false };
    }
    // Connect signs with OAuth 1, then JWT, then basic/OAuth 2: the last one set wins.
    const signed: Record<string, string> = {};
    if (this.#config.oauth.enabled) signed.authorization = oauth1Header(this.#config.oauth, this.#verb, target.url);
    if (this.#with.jwt) signed.authorization = this.#with.jwt();
    const headers = { ...target.headers, ...signed, ...auth };
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
        dispatcher: this.#with.dispatcher(),
        method: this.#verb as Dispatcher.HttpMethod,
        headers,
        body,
        signal: controller.signal,
      });
      const text = await readAtMost(response.body);
      result = { kind: 'response', status: response.statusCode, headers: response.headers, body: text };
    } catch (err) {
      throwIfAborted(signal);
      result = { kind: 'error', error: err as Error, timedOut };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
    const elapsed = process.hrtime.bigint() - started;
    this.#with.metrics.request(result.kind === 'response' ? result.status : undefined, elapsed);
    if (this.#dumpLevel) {
      logRequest(this.#with.logger, this.#dumpLevel, { method: this.#verb, url: target.url, headers, body, result, elapsed, timeout: this.#config.timeout }, this.#with.secrets, this.#with.isSecret);
    }
    return result;
  }

  #judge(result: AttemptResult): Verdict {
    if (result.kind === 'error') return isPermanentError(result.error) ? 'fail' : 'linear';
    // A rejected token may just have expired: the next attempt fetches a new one.
    if (result.status === 401) this.#with.auth.invalidate();
    return judgeStatus(this.#config, result.status);
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
    this.#with.logger.warn(
      { status: result.kind === 'response' ? result.status : undefined, retry_after: asked, wait: formatWait(ms), max_retry_after: this.#config.max_retry_after },
      `The sink asked to wait before sending again (Retry-After); every request of this output is paused for ${formatWait(ms)}.`,
    );
  }

  #describe(target: Target, result: AttemptResult, attempts: number): RequestError {
    const where = `${this.#verb} ${redactUrl(target.url)}`;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    if (result.kind === 'error') {
      const what = result.timedOut ? `request timed out after ${this.#config.timeout}` : describeTransportError(result.error);
      return new RequestError(this.#with.secrets.scrub(`${where}: ${what}${tries}`), undefined, false);
    }
    const { status } = result;
    const text = `${where}: HTTP request returned unexpected response code (${status}): ${status} ${STATUS_CODES[status] ?? ''}, Error: ${responseDetail(result)}${tries}`;
    return new RequestError(this.#with.secrets.scrub(text), status, SPLIT_STATUSES.has(status));
  }
}
