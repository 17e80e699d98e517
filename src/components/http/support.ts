// Small pieces every HTTP component shares: URL and header checks, credential registration,
// redaction for logs, error descriptions.
import type { Dispatcher } from 'undici';
import { redactUrl, type Secrets } from '../../engine/secrets.js';
import { formatDuration } from '../../config/duration.js';
import { compileInterpolation, type Interpolated } from '../../mapping/interpolation.js';

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A response as an HTTP output saw it. */
export type AttemptResult =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: string }
  | { readonly kind: 'error'; readonly error: Error; readonly timedOut: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const encodeText = (text: string) => encoder.encode(text);
export const decodeText = (bytes: Uint8Array) => decoder.decode(bytes);

export function compileField(field: string, text: string): Interpolated {
  try {
    return compileInterpolation(text);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

/** Parses an http(s) URL; the error names the field. */
export function parseTargetUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${field}: ${JSON.stringify(redactUrl(text))} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${field}: unsupported scheme ${url.protocol} (expected http or https)`);
  return url;
}

export function metadataFilter(config: { include_prefixes: readonly string[]; include_patterns: readonly string[] }): (key: string) => boolean {
  const patterns = config.include_patterns.map((pattern, i) => {
    try {
      return new RegExp(pattern);
    } catch (err) {
      throw new Error(`metadata.include_patterns[${i}]: ${(err as Error).message}`);
    }
  });
  return (key) => config.include_prefixes.some((prefix) => key.startsWith(prefix)) || patterns.some((p) => p.test(key));
}

/**
 * Registers a credential (a header value) with the secrets: the token after a scheme such as
 * `Bearer` (which also covers the whole value), else the whole value. `Bearer ` with an empty
 * token registers nothing rather than redacting the word Bearer everywhere.
 */
export function registerCredential(secrets: Secrets, value: string | undefined): void {
  const text = value?.trim();
  if (!text) return;
  const scheme = /^(Bearer|Basic|Token|Digest|ApiKey)(?:\s+(.*))?$/i.exec(text);
  secrets.add(scheme ? scheme[2]?.trim() : text);
}

/** Errors that no retry can fix: a request undici refuses to build. */
export function isPermanentError(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL' || code === 'ERR_INVALID_ARG_TYPE';
}

export function describeTransportError(error: Error): string {
  const code = (error as { code?: string }).code;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.message && cause.message !== error.message ? `: ${cause.message}` : '';
  return `${error.message}${detail}${code ? ` (${code})` : ''}`;
}

/** The most useful text of an error response: a problem+json `detail` (or `title`), else the body on one line. */
export function responseDetail(result: Extract<AttemptResult, { kind: 'response' }>): string {
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

export const truncate = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max)}…` : text);

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}


export { redactUrl };

export function redactHeaders(
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
export function logBody(text: string, scrub: (text: string) => string): unknown {
  const scrubbed = scrub(text);
  try {
    return JSON.parse(scrubbed);
  } catch {
    return scrubbed;
  }
}

/** A wait in Go's duration style, for log lines. */
export function formatWait(ms: number): string {
  return formatDuration(Math.round(ms) * 1e6);
}


/**
 * The most of an answer read (1 MB): a sink's answer is a status and at most a problem document,
 * a token answer a few hundred bytes. The rest is not read (the connection is dropped), so a huge
 * or endless answer costs no memory; what was read is kept, marked as cut.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export async function readAtMost(body: Dispatcher.ResponseData['body'], max = MAX_RESPONSE_BYTES): Promise<string> {
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
