// A request to an http_server input as a message: its body (read up to a limit) and the metadata
// Redpanda Connect gives it.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Thrown by readBody when the body is larger than allowed. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes (max_body_size)`);
  }
}

/**
 * Reads the whole body, refusing one past `limit` bytes: at once when Content-Length says so,
 * else as soon as the bytes read pass it (nothing more is buffered).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('the client aborted the request')));
  });
}

/**
 * Reads and drops the rest of a refused body, so the client can read the answer (a client that is
 * still sending when the connection closes sees a broken pipe instead); past `cap` bytes the
 * connection is closed after all.
 */
export function discardBody(req: IncomingMessage, cap: number): void {
  let dropped = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > cap) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** Go's canonical header key (net/textproto): `content-type` -> `Content-Type`, as Connect's metadata keys read. */
export function canonicalHeaderKey(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, letter: string) => dash + letter.toUpperCase());
}

/**
 * Connect's metadata of a request: http_server_user_agent, http_server_request_path,
 * http_server_verb, http_server_remote_ip, the TLS version and cipher over HTTPS, every header
 * (first value, canonical key), every query parameter (first value) and every cookie.
 */
export function requestMetadata(req: IncomingMessage, url: URL): Record<string, string> {
  const meta: Record<string, string> = {
    http_server_user_agent: req.headers['user-agent'] ?? '',
    http_server_request_path: url.pathname,
    http_server_verb: req.method ?? '',
  };
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) meta.http_server_remote_ip = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
  const tls = req.socket as Partial<TLSSocket>;
  if (tls.encrypted && typeof tls.getProtocol === 'function') {
    meta.http_server_tls_version = tls.getProtocol() ?? '';
    const cipher = tls.getCipher?.();
    if (cipher) meta.http_server_tls_cipher_suite = cipher.standardName ?? cipher.name;
  }
  // As Connect sets them: headers (first value), then query parameters, then cookies, a later one
  // replacing an earlier one of the same name.
  const seen = new Set<string>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const key = canonicalHeaderKey(req.rawHeaders[i]!);
    if (seen.has(key)) continue;
    seen.add(key);
    meta[key] = req.rawHeaders[i + 1]!;
  }
  const queried = new Set<string>();
  for (const [key, value] of url.searchParams) {
    if (queried.has(key)) continue;
    queried.add(key);
    meta[key] = value;
  }
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) meta[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return meta;
}
