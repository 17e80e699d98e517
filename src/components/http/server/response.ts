// The answer of an http_server input to one request, once its read was acknowledged: the
// synchronous responses set by `sync_response` (engine/sync_response.ts), as Redpanda Connect
// writes them, or the plain statuses of its failures.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { multipartBody } from '../bodies.js';
import { metadataString, type Message } from '../../../engine/message.js';
import type { ResponseStore } from '../../../engine/sync_response.js';
import type { Interpolated } from '../../../mapping/interpolation.js';
import { HEADER_NAME } from '../support.js';

/** A metadata_headers filter that includes nothing (the default): no metadata is looked at. */
export const NONE = (): boolean => false;

export interface SyncResponseSettings {
  /** `sync_response.status`, interpolated against the first response message. */
  readonly status: Interpolated;
  /** `sync_response.headers`, each interpolated against the first response message. */
  readonly headers: readonly (readonly [string, Interpolated])[];
  /** `sync_response.metadata_headers`: which metadata keys become response headers. */
  readonly metadataHeader: (key: string) => boolean;
}

/** A plain-text answer (Connect's http.Error): the text and a newline. */
export function answerText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }).end(`${text}\n`);
}

/**
 * Answers with the first batch of responses set for the request: status and headers from its
 * first message (interpolated; the batch is the rest of it), metadata headers from each of its
 * messages; the body is the message itself when the batch is one message, else a
 * multipart/form-data body of them all, as Connect writes several. 204 and 304 carry no body. A
 * status that does not render as a number answers 502.
 *
 * Connect joins every batch set into one body; sluice answers with the first, so when a request's
 * messages took different paths (an invalid event answered 400 by a `catch`, its valid neighbours
 * 204 later) the client gets the first answer whole, not a multipart of both.
 */
export async function answerResponses(res: ServerResponse, store: ResponseStore, settings: SyncResponseSettings, logger: Logger): Promise<void> {
  const messages = store.batches[0]!;
  const first = messages[0]!;
  const context = { message: first, batch: messages, index: 0 };
  const headers: Record<string, string> = {};
  for (const [name, value] of settings.headers) {
    try {
      headers[name.toLowerCase()] = await value.render(context);
    } catch (err) {
      logger.error({ err: (err as Error).message, header: name }, 'Interpolation of a sync response header failed.');
    }
  }
  let status: number;
  try {
    const text = (await settings.status.render(context)).trim();
    status = Number(text);
    if (!/^\d{3}$/.test(text) || status < 100 || status > 599) throw new Error(`${JSON.stringify(text)} is not an HTTP status`);
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'The sync response status could not be rendered; answering 502.');
    return answerText(res, 502, 'Bad Gateway');
  }
  if (settings.metadataHeader !== NONE) for (const message of messages) Object.assign(headers, metadataHeaders(message, settings.metadataHeader));
  if (res.headersSent || res.destroyed) return;
  if (status === 204 || status === 304) {
    delete headers['content-length'];
    res.writeHead(status, headers).end();
    return;
  }
  if (messages.length === 1) {
    const body = first.bytes();
    headers['content-type'] ??= 'application/octet-stream';
    res.writeHead(status, { ...headers, 'content-length': String(body.byteLength) }).end(body);
    return;
  }
  const partType = headers['content-type'] ?? 'application/octet-stream';
  const multipart = multipartBody(messages.map((m) => ({ headers: { 'Content-Type': partType }, body: m.bytes() })));
  res.writeHead(status, { ...headers, 'content-type': multipart.contentType, 'content-length': String(multipart.body.byteLength) }).end(multipart.body);
}

function metadataHeaders(message: Message, include: (key: string) => boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.metadata)) {
    if (HEADER_NAME.test(key) && include(key)) headers[key.toLowerCase()] = metadataString(value).replace(/[\r\n]+/g, ' ');
  }
  return headers;
}
