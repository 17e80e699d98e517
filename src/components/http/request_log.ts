// `dump_request_log_level`: every request and its response logged, with credentials redacted.
import type { Level, Logger } from 'pino';
import type { Secrets } from '../../engine/secrets.js';
import { decodeText, describeTransportError, logBody, redactHeaders, redactUrl, type AttemptResult } from './support.js';

/** pino's level for each dump_request_log_level (FATAL logs at error, as in Connect). */
export const DUMP_LEVELS: Record<'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL', Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  FATAL: 'error',
};

export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  readonly result: AttemptResult;
  readonly elapsed: bigint;
  /** The configured timeout, for the message of a timed-out attempt. */
  readonly timeout: string;
}

/** Logs one attempt as Connect's "http request log" line (field access_log), secrets scrubbed and credential headers redacted. */
export function logRequest(logger: Logger, level: Level, exchange: Exchange, secrets: Secrets, isSecret: (name: string) => boolean): void {
  if (!logger.isLevelEnabled(level)) return;
  const { method, url, headers, body, result, elapsed, timeout } = exchange;
  const scrub = (text: string) => secrets.scrub(text);
  const accessLog: Record<string, unknown> = {
    elapsed_ns: Number(elapsed),
    request: { url: scrub(redactUrl(url)), method, header: redactHeaders(headers, scrub, isSecret), body: logBody(decodeText(body), scrub) },
  };
  if (result.kind === 'response') {
    accessLog.response = {
      status_code: result.status,
      content_length: Buffer.byteLength(result.body),
      header: redactHeaders(result.headers, scrub, isSecret),
      body: logBody(result.body, scrub),
    };
  } else {
    accessLog.error = scrub(result.timedOut ? `request timed out after ${timeout}` : describeTransportError(result.error));
  }
  logger[level]({ access_log: accessLog }, 'http request log');
}
