// A small Kubernetes API client: paginated lists of the resources `kubernetes_resources` reads, and
// the Lease calls leader election makes. Plain HTTP over undici with the credentials config.ts
// found; it knows nothing of pipelines (logging, metrics and secrets are handed in).
//
// - Lists page with `limit`/`continue`, bounded by pages, bytes and a deadline; a continue token
//   the server repeats is an error, not a loop.
// - A 410 Gone on a continue token (the snapshot was compacted) restarts the list from the
//   beginning, as the API documents for a consistent list, up to MAX_LIST_RESTARTS times; after
//   that the list continues with the token the 410 carried (a complete but inconsistent view),
//   and says so.
// - A 403 names who was refused, the verb, resource and namespace, and the RBAC rule that is missing.
// - A token file is re-read every TOKEN_FILE_TTL_MS (projected service-account tokens rotate) and at
//   once on a 401, which is then retried once.
// - GETs are retried on connection errors, timeouts, 429 (honouring Retry-After) and 5xx.

import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Metrics, Timer } from '../engine/metrics.js';
import type { Secrets } from '../engine/secrets.js';
import { RESOURCES, apiVersionOf, resourcePath, type KubeObject, type Lease, type ResourceInfo, type ResourceType, type Status } from './api.js';
import type { ClusterAccess } from './config.js';

/** How often a token file is read again. client-go re-reads in-cluster tokens every minute. */
export const TOKEN_FILE_TTL_MS = 60_000;
/** Times a list starts over after its continue token expired (410) before it continues inconsistently. */
export const MAX_LIST_RESTARTS = 2;

export interface ListLimits {
  /** Pages one list may take. */
  readonly maxPages: number;
  /** Bytes of answers one list may read (each attempt, when it restarts). */
  readonly maxBytes: number;
  /** Time one list may take, restarts and retries included. */
  readonly deadlineMs: number;
}

export const DEFAULT_LIST_LIMITS: ListLimits = { maxPages: 10_000, maxBytes: 512 * 1024 * 1024, deadlineMs: 5 * 60_000 };

export interface KubernetesClientOptions {
  readonly access: ClusterAccess;
  /** Per attempt, from sending the request to reading the whole answer. */
  readonly timeoutMs: number;
  /** `limit` of list requests. Default 500 (client-go's pager). */
  readonly pageSize?: number;
  /** Retries of a failed GET (connection error, timeout, 429, 5xx). Default 3. */
  readonly retries?: number;
  readonly limits?: Partial<ListLimits>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Tokens, passwords and keys are added here, so no log line can carry them. */
  readonly secrets: Secrets;
}

export type KubernetesErrorKind =
  /** The server answered a status the call can't use (after retries for 429 and 5xx). */
  | 'status'
  /** 401: the credentials were refused. */
  | 'unauthorized'
  /** 403: RBAC forbids the call. */
  | 'forbidden'
  /** 409: the object exists already (create) or changed since it was read (update). */
  | 'conflict'
  | 'transport'
  | 'timeout'
  /** A 2xx answer that is not what the API documents. */
  | 'malformed'
  /** A list went past its pages, bytes or deadline. */
  | 'limit';

/** A failed call. The message names the call, what came back and, where it helps, what to do. */
export class KubernetesError extends Error {
  override readonly name = 'KubernetesError';
  constructor(
    readonly kind: KubernetesErrorKind,
    message: string,
    readonly status?: number,
    /** Status.reason: Forbidden, NotFound, AlreadyExists, Conflict, Expired... */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface ListResult {
  /** The objects with `kind` and `apiVersion` set (list items carry neither), each once. */
  readonly items: KubeObject[];
  /** The list's resourceVersion (of its first page, the snapshot it reads). */
  readonly resourceVersion: string;
  readonly pages: number;
  readonly bytes: number;
  /** Times the list started over after a 410. */
  readonly restarts: number;
  /** True when the list finished on the token of a 410: its pages come from different snapshots. */
  readonly inconsistent: boolean;
  /** Items skipped because they were unreadable, e.g. `pods[3]: no metadata.name`. */
  readonly problems: string[];
}

export interface ListOptions {
  /** For namespaced resources; absent or '' lists every namespace. Ignored for cluster-scoped ones. */
  readonly namespace?: string;
  readonly labelSelector?: string;
}

interface Call {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** What the call is, for errors and metrics. */
  readonly verb: string;
  readonly info: ResourceInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly retries: number;
  readonly maxBytes?: number;
  readonly deadline?: number;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly retryAfter: string | undefined;
  readonly text: string;
  readonly bytes: number;
}

const JSON_CONTENT_TYPE = /^application\/(json|[\w.+-]*\+json)\s*(;|$)/i;

export class KubernetesClient {
  readonly access: ClusterAccess;
  #options: KubernetesClientOptions;
  #limits: ListLimits;
  #pool: Pool;
  #basePath: string;
  #closing = new AbortController();
  #token: { value: string; readAt: number } | undefined;
  #requestTimer: Timer;
  #malformed: Counter;
  #restarts: Counter;

  constructor(options: KubernetesClientOptions) {
    const url = new URL(options.access.server);
    this.access = options.access;
    this.#options = options;
    this.#limits = { ...DEFAULT_LIST_LIMITS, ...options.limits };
    this.#basePath = url.pathname.replace(/\/+$/, '');
    const { tls, credentials } = options.access;
    this.#pool = new Pool(url.origin, {
      connections: 4,
      keepAliveTimeout: 30_000,
      connect: {
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
        rejectUnauthorized: !tls.insecureSkipVerify,
        ...(tls.serverName ? { servername: tls.serverName } : {}),
      },
    });
    if (credentials.kind === 'token') options.secrets.add(credentials.token);
    if (credentials.kind === 'basic') options.secrets.add(credentials.password);
    if (tls.key) options.secrets.add(tls.key);
    const m = options.metrics;
    this.#requestTimer = m.timer('kubernetes_request_ns', 'Kubernetes API request latency in nanoseconds.', ['verb', 'resource', 'status_code']);
    this.#malformed = m.counter('kubernetes_malformed_total', 'Kubernetes answers or list items that could not be read, by kind.', ['kind']);
    this.#restarts = m.counter('kubernetes_list_restarts_total', 'Lists started over (or continued inconsistently) after their continue token expired (410).', ['resource', 'outcome']);
  }

  /**
   * Every object of `type` (in `namespace`, matching `labelSelector`), page by page. Rejects with
   * a KubernetesError: `forbidden` when RBAC refuses, `limit` past pages, bytes or deadline.
   */
  async list(type: ResourceType, options: ListOptions, signal: AbortSignal): Promise<ListResult> {
    const info = RESOURCES[type];
    const namespace = info.namespaced && options.namespace ? options.namespace : undefined;
    const path = resourcePath(info, namespace);
    const apiVersion = apiVersionOf(info);
    const deadline = Date.now() + this.#limits.deadlineMs;
    const pageSize = String(this.#options.pageSize ?? 500);
    let restarts = 0;
    let inconsistent = false;
    restart: for (;;) {
      const items: KubeObject[] = [];
      const seen = new Set<string>();
      const tokens = new Set<string>();
      const problems: string[] = [];
      let token: string | undefined;
      let resourceVersion = '';
      let pages = 0;
      let bytes = 0;
      for (;;) {
        if (pages >= this.#limits.maxPages) {
          throw new KubernetesError('limit', `listing ${describe(info, namespace)} stopped after ${pages} pages of ${pageSize} (the most one list may take); ${items.length} objects read`);
        }
        const query: Record<string, string> = { limit: pageSize };
        if (token !== undefined) query['continue'] = token;
        if (options.labelSelector) query['labelSelector'] = options.labelSelector;
        const call: Call = { method: 'GET', path, query, verb: 'list', info, ...(namespace ? { namespace } : {}), retries: this.#retries, maxBytes: this.#limits.maxBytes - bytes, deadline };
        const reply = await this.#send(call, signal);
        pages++;
        bytes += reply.bytes;
        if (reply.status === 410 && token !== undefined) {
          const status = readStatus(reply);
          if (restarts < MAX_LIST_RESTARTS) {
            restarts++;
            this.#restarts.inc({ resource: info.plural, outcome: 'restarted' });
            this.#options.logger.warn({ resource: info.plural, namespace, pages, restarts }, 'Kubernetes list snapshot expired (410); listing again from the start');
            continue restart;
          }
          const next = status?.metadata?.continue;
          if (!next) throw this.#statusError(call, reply);
          inconsistent = true;
          this.#restarts.inc({ resource: info.plural, outcome: 'inconsistent' });
          this.#options.logger.warn(
            { resource: info.plural, namespace, pages, restarts },
            'Kubernetes list snapshot expired again (410); continuing with the token it returned, so later pages come from a newer snapshot',
          );
          token = next;
          continue;
        }
        if (reply.status < 200 || reply.status > 299) throw this.#statusError(call, reply);
        const body = this.#json(call, reply);
        const list = isObject(body) ? body['items'] : undefined;
        const metadata = isObject(body) && isObject(body['metadata']) ? body['metadata'] : {};
        if (!Array.isArray(list)) throw this.#malformedError('shape', `${call.verb} ${path}: the answer has no items list`);
        if (pages === 1 || resourceVersion === '') resourceVersion = typeof metadata['resourceVersion'] === 'string' ? metadata['resourceVersion'] : '';
        for (const [i, raw] of list.entries()) {
          const meta = isObject(raw) && isObject(raw['metadata']) ? raw['metadata'] : undefined;
          if (!meta || typeof meta['name'] !== 'string' || meta['name'] === '') {
            this.#malformed.inc({ kind: 'item' });
            problems.push(`${info.plural}[${items.length + i}]: no metadata.name`);
            continue;
          }
          const key = typeof meta['uid'] === 'string' && meta['uid'] ? meta['uid'] : `${String(meta['namespace'] ?? '')}/${meta['name']}`;
          if (seen.has(key)) continue;
          seen.add(key);
          items.push({ kind: info.kind, apiVersion, ...(raw as KubeObject) });
        }
        const next = typeof metadata['continue'] === 'string' && metadata['continue'] !== '' ? metadata['continue'] : undefined;
        if (next === undefined) return { items, resourceVersion, pages, bytes, restarts, inconsistent, problems };
        if (tokens.has(next) || next === token) {
          throw this.#malformedError('continue', `listing ${describe(info, namespace)}: the server returned a continue token it had returned before (page ${pages}); stopping instead of looping`);
        }
        tokens.add(next);
        token = next;
      }
    }
  }

  /**
   * One request for one object of `type`, to check reachability, credentials and RBAC before
   * listing for real. Rejects as list() does.
   */
  async check(type: ResourceType, options: ListOptions, signal: AbortSignal): Promise<void> {
    const info = RESOURCES[type];
    const namespace = info.namespaced && options.namespace ? options.namespace : undefined;
    const query: Record<string, string> = { limit: '1' };
    if (options.labelSelector) query['labelSelector'] = options.labelSelector;
    const call: Call = { method: 'GET', path: resourcePath(info, namespace), query, verb: 'list', info, ...(namespace ? { namespace } : {}), retries: this.#retries };
    const reply = await this.#send(call, signal);
    if (reply.status < 200 || reply.status > 299) throw this.#statusError(call, reply);
    this.#json(call, reply);
  }

  /** The Lease, or undefined when it does not exist (404). */
  async getLease(namespace: string, name: string, signal: AbortSignal): Promise<Lease | undefined> {
    const info = RESOURCES.lease;
    const call: Call = { method: 'GET', path: resourcePath(info, namespace, name), verb: 'get', info, namespace, name, retries: 0 };
    const reply = await this.#send(call, signal);
    if (reply.status === 404) return undefined;
    return this.#leaseReply(call, reply);
  }

  /** Creates the Lease; rejects with kind `conflict` (reason AlreadyExists) when another replica created it first. */
  async createLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    const info = RESOURCES.lease;
    const namespace = lease.metadata.namespace ?? '';
    const body = { ...lease, kind: info.kind, apiVersion: apiVersionOf(info) };
    const call: Call = { method: 'POST', path: resourcePath(info, namespace), body, verb: 'create', info, namespace, name: lease.metadata.name, retries: 0 };
    return this.#leaseReply(call, await this.#send(call, signal));
  }

  /**
   * Replaces the Lease, conditional on its `metadata.resourceVersion`: rejects with kind
   * `conflict` (reason Conflict) when it changed since it was read.
   */
  async updateLease(lease: Lease, signal: AbortSignal): Promise<Lease> {
    const info = RESOURCES.lease;
    const namespace = lease.metadata.namespace ?? '';
    const name = lease.metadata.name ?? '';
    const body = { ...lease, kind: info.kind, apiVersion: apiVersionOf(info) };
    const call: Call = { method: 'PUT', path: resourcePath(info, namespace, name), body, verb: 'update', info, namespace, name, retries: 0 };
    return this.#leaseReply(call, await this.#send(call, signal));
  }

  /** Fails requests in flight and closes connections. Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new Error('Kubernetes client closed'));
    if (!this.#pool.closed && !this.#pool.destroyed) await this.#pool.destroy();
  }

  get #retries(): number {
    return this.#options.retries ?? 3;
  }

  #leaseReply(call: Call, reply: Reply): Lease {
    if (reply.status < 200 || reply.status > 299) throw this.#statusError(call, reply);
    const body = this.#json(call, reply);
    if (!isObject(body) || !isObject(body['metadata']) || !isObject(body['spec'] ?? {})) throw this.#malformedError('shape', `${call.verb} ${call.path}: the answer is not a Lease`);
    return { ...(body as unknown as Lease), spec: (body['spec'] as Lease['spec']) ?? {} };
  }

  // -- errors ----------------------------------------------------------------------------------

  #statusError(call: Call, reply: Reply): KubernetesError {
    const status = readStatus(reply);
    const detail = status?.message ? `: ${clip(status.message, 300)}` : '';
    const reason = status?.reason;
    const what = call.name === undefined ? describe(call.info, call.namespace) : `${call.info.plural} "${call.name}"${call.namespace ? ` in namespace "${call.namespace}"` : ''}`;
    const identity = this.access.identity;
    switch (reply.status) {
      case 401:
        return new KubernetesError('unauthorized', `${call.verb} ${what}: the API server refused the credentials of ${identity} (401 Unauthorized)${detail}`, 401, reason);
      case 403: {
        const scope = call.info.namespaced && call.namespace ? `a Role in namespace "${call.namespace}"` : 'a ClusterRole';
        return new KubernetesError(
          'forbidden',
          `${identity} may not ${call.verb} ${what} (403 Forbidden${detail}); ` +
            `grant it with ${scope} and a binding allowing verbs ["${call.verb}"] on resources ["${call.info.plural}"] in apiGroups ["${call.info.group}"]`,
          403,
          reason,
        );
      }
      case 409:
        return new KubernetesError('conflict', `${call.verb} ${what}: ${reason ?? 'Conflict'} (409)${detail}`, 409, reason);
      default:
        return new KubernetesError('status', `${call.verb} ${what}: status ${reply.status}${reason ? ` ${reason}` : ''}${detail}`, reply.status, reason);
    }
  }

  #json(call: Call, reply: Reply): unknown {
    if (!JSON_CONTENT_TYPE.test(reply.contentType)) {
      throw this.#malformedError('content_type', `${call.verb} ${call.path}: answered ${reply.status} with content type ${clip(reply.contentType || 'none', 60)}, not JSON`);
    }
    try {
      return JSON.parse(reply.text);
    } catch (err) {
      throw this.#malformedError('json', `${call.verb} ${call.path}: answered invalid JSON (${(err as Error).message})`);
    }
  }

  #malformedError(kind: string, message: string): KubernetesError {
    this.#malformed.inc({ kind });
    return new KubernetesError('malformed', message);
  }

  // -- transport -------------------------------------------------------------------------------

  /** One call with its retries: connection errors, timeouts, 429 and 5xx; a 401 re-reads a token file once. */
  async #send(call: Call, signal: AbortSignal): Promise<Reply> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const token = await this.#credential(refreshed);
      let reply: Reply;
      try {
        reply = await this.#attempt(call, token, signal);
      } catch (err) {
        if (signal.aborted || (err instanceof KubernetesError && err.kind === 'limit') || attempt >= call.retries) throw signal.aborted ? signal.reason : err;
        await this.#backoff(call, attempt, undefined, signal);
        continue;
      }
      if (reply.status === 401 && this.access.credentials.kind === 'tokenFile' && !refreshed) {
        // The projected token may have rotated since it was read: read it again, once.
        refreshed = true;
        attempt--;
        continue;
      }
      if ((reply.status === 429 || reply.status >= 500) && attempt < call.retries) {
        await this.#backoff(call, attempt, reply.status === 429 ? retryAfter(reply) : undefined, signal);
        continue;
      }
      return reply;
    }
  }

  async #backoff(call: Call, attempt: number, retryAfterMs: number | undefined, signal: AbortSignal): Promise<void> {
    const wait = retryAfterMs ?? Math.min(5_000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2);
    if (call.deadline !== undefined && Date.now() + wait > call.deadline) {
      throw new KubernetesError('limit', `${call.verb} ${describe(call.info, call.namespace)}: gave up retrying, the list's deadline (${this.#limits.deadlineMs} ms) would pass`);
    }
    this.#options.logger.debug({ verb: call.verb, path: call.path, attempt: attempt + 1, wait }, 'Kubernetes request failed; retrying');
    await sleep(wait, undefined, { signal });
  }

  /** The Authorization header value, if any. */
  async #credential(forceRead: boolean): Promise<string | undefined> {
    const credentials = this.access.credentials;
    switch (credentials.kind) {
      case 'none':
        return undefined;
      case 'token':
        return `Bearer ${credentials.token}`;
      case 'basic':
        return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      case 'tokenFile': {
        const cached = this.#token;
        if (!forceRead && cached && Date.now() - cached.readAt < TOKEN_FILE_TTL_MS) return `Bearer ${cached.value}`;
        let value: string;
        try {
          value = (await readFile(credentials.path, 'utf8')).trim();
        } catch (err) {
          if (cached) return `Bearer ${cached.value}`;
          throw new KubernetesError('unauthorized', `cannot read the token file ${credentials.path}: ${(err as Error).message}`);
        }
        this.#options.secrets.add(value);
        this.#token = { value, readAt: Date.now() };
        return `Bearer ${value}`;
      }
    }
  }

  /** One HTTP exchange within the timeout, reading at most `maxBytes` of answer. */
  async #attempt(call: Call, authorization: string | undefined, signal: AbortSignal): Promise<Reply> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const onClose = (): void => controller.abort(this.#closing.signal.reason);
    this.#closing.signal.addEventListener('abort', onClose, { once: true });
    let timedOut = false;
    const timeoutMs = call.deadline === undefined ? this.#options.timeoutMs : Math.max(1, Math.min(this.#options.timeoutMs, call.deadline - Date.now()));
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'sluice' };
    if (authorization) headers['authorization'] = authorization;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
    const started = process.hrtime.bigint();
    const labels = { verb: call.verb, resource: call.info.plural };
    try {
      const response = await this.#pool.request({
        method: call.method,
        path: `${this.#basePath}${call.path}${query}`,
        headers,
        body: call.body === undefined ? null : JSON.stringify(call.body),
        signal: controller.signal,
      });
      const max = call.maxBytes ?? Infinity;
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > max) {
          response.body.destroy();
          throw new KubernetesError('limit', `${call.verb} ${describe(call.info, call.namespace)}: the answers exceeded ${this.#limits.maxBytes} bytes (the most one list may read)`);
        }
        chunks.push(chunk as Buffer);
      }
      this.#requestTimer.observe({ ...labels, status_code: String(response.statusCode) }, Number(process.hrtime.bigint() - started));
      const contentType = response.headers['content-type'];
      const retryAfterHeader = response.headers['retry-after'];
      return {
        status: response.statusCode,
        contentType: typeof contentType === 'string' ? contentType : '',
        retryAfter: typeof retryAfterHeader === 'string' ? retryAfterHeader : undefined,
        text: Buffer.concat(chunks).toString('utf8'),
        bytes,
      };
    } catch (err) {
      this.#requestTimer.observe({ ...labels, status_code: 'error' }, Number(process.hrtime.bigint() - started));
      if (err instanceof KubernetesError) throw err;
      if (signal.aborted) throw signal.reason;
      if (timedOut) throw new KubernetesError('timeout', `${call.verb} ${describe(call.info, call.namespace)}: no complete answer within ${timeoutMs} ms`);
      const cause = (err as Error & { cause?: Error }).cause;
      throw new KubernetesError('transport', `${call.verb} ${describe(call.info, call.namespace)} at ${this.access.server}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      this.#closing.signal.removeEventListener('abort', onClose);
    }
  }
}

/** `pods in namespace "x"`, `pods in all namespaces`, `nodes`. */
function describe(info: ResourceInfo, namespace: string | undefined): string {
  if (!info.namespaced) return info.plural;
  return namespace ? `${info.plural} in namespace "${namespace}"` : `${info.plural} in all namespaces`;
}

function readStatus(reply: Reply): Status | undefined {
  try {
    const body: unknown = JSON.parse(reply.text);
    return isObject(body) && body['kind'] === 'Status' ? (body as unknown as Status) : undefined;
  } catch {
    return undefined;
  }
}

/** The wait a 429 asks for: its Retry-After header, else its Status' retryAfterSeconds; at most 30 s. */
function retryAfter(reply: Reply): number | undefined {
  const header = reply.retryAfter === undefined ? NaN : Number(reply.retryAfter);
  const seconds = Number.isFinite(header) ? header : (readStatus(reply)?.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && seconds >= 0 ? Math.min(seconds * 1000, 30_000) : undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);
