// Receives messages over HTTP (Redpanda Connect's `http_server` input): each request becomes a
// message, and the request is answered once that message's read is acknowledged (committed to a
// durable buffer, or delivered), with the synchronous response the pipeline set (`sync_response`)
// or 200. Requests wait at most `timeout` for the pipeline to take them, then get 503: the
// pipeline's back-pressure reaches the clients, and nothing queues without bound.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { durationSchema, parseDurationMs } from '../../config/duration.js';
import { defineInput, FieldErrors, type Ack, type Input, type RateLimit, type ReadResult, type Settings } from '../../engine/component.js';
import { Undeliverable } from '../../engine/delivery.js';
import type { Endpoints, EndpointHandler } from '../../engine/endpoints.js';
import { accessCheck, type AccessCheck } from '../../engine/http_access.js';
import { splitAddress } from '../../engine/http_server.js';
import { Message } from '../../engine/message.js';
import { expectResponses, ResponseStore } from '../../engine/sync_response.js';
import type { Secrets } from '../../engine/secrets.js';
import { BodyTooLarge, discardBody, readBody, requestMetadata } from '../http/server/request.js';
import { answerResponses, answerText, NONE, type SyncResponseSettings } from '../http/server/response.js';
import { compileField, HEADER_NAME, metadataFilter } from '../http/support.js';
import { lazyRateLimit } from '../http/pacing.js';

export interface HttpServerConfig {
  address: string;
  path: string;
  allowed_verbs: string[];
  timeout: string;
  rate_limit: string;
  max_body_size: number;
  max_pending: number;
  cert_file: string;
  key_file: string;
  cors: { enabled: boolean; allowed_origins: string[]; allowed_headers: string[] };
  sync_response: {
    status: string;
    headers: Record<string, string>;
    metadata_headers: { include_prefixes: string[]; include_patterns: string[] };
  };
}

const stringList = (description: string) => ({ type: 'array', items: { type: 'string' }, default: [], description });

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    address: {
      type: 'string',
      default: '',
      description: 'host:port of a listener of its own (port 0 picks a free one); empty serves `path` on the service HTTP server (http.address).',
    },
    path: {
      type: 'string',
      pattern: '^/',
      default: '/post',
      description: 'The path that receives messages; one ending in `/` receives every path below it too.',
    },
    allowed_verbs: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: ['POST'],
      description: 'Methods accepted on `path`; others get 405.',
    },
    timeout: durationSchema(
      'How long a request waits: to be taken by the pipeline (then 503 with Retry-After: the pipeline is saturated or the buffer full; the message was not read), and then for its read to be acknowledged (then 408; the message may still be delivered).',
      '5s',
    ),
    rate_limit: {
      type: 'string',
      default: '',
      'x-resource': 'rate_limit',
      description: 'The label of a rate_limit resource each request takes a token from; a request finding none left gets 429 with Retry-After.',
    },
    max_body_size: {
      type: 'integer',
      minimum: 1,
      default: 4194304,
      description: 'The largest request body accepted, in bytes (4 MiB by default); a larger one gets 413 and is not read. Not in Redpanda Connect.',
    },
    max_pending: {
      type: 'integer',
      minimum: 1,
      default: 1024,
      description:
        'The most requests held at once (being read, waiting for the pipeline, or for their acknowledgement); one more gets 503 with Retry-After at once. Bounds memory to about max_pending × max_body_size. Not in Redpanda Connect.',
    },
    cert_file: { type: 'string', default: '', description: 'PEM certificate: with key_file, `address` speaks HTTPS. Only with an address of its own.' },
    key_file: { type: 'string', default: '', description: 'PEM private key for cert_file.' },
    cors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Cross-origin requests from browsers, for an address of its own (the service server has http.cors).',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Answer CORS preflights and set Access-Control-Allow-Origin.' },
        allowed_origins: stringList('Origins allowed (`*` for any).'),
        allowed_headers: stringList('Request headers a preflight allows; empty allows those asked for.'),
      },
    },
    sync_response: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How a synchronous response (set by a sync_response processor or output) is written.',
      properties: {
        status: {
          type: 'string',
          default: '200',
          'x-interpolated': true,
          description: 'The status, interpolated against the first response message (e.g. `${! $meta("status") }`).',
        },
        headers: {
          type: 'object',
          default: { 'Content-Type': 'application/octet-stream' },
          additionalProperties: { type: 'string', 'x-interpolated': true },
          description: 'Response headers, each interpolated against the first response message.',
        },
        metadata_headers: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Which metadata of the response messages become response headers (none by default).',
          properties: {
            include_prefixes: stringList('Metadata keys starting with any of these prefixes.'),
            include_patterns: stringList('Metadata keys matching any of these regular expressions.'),
          },
        },
      },
    },
  },
};

export default defineInput<HttpServerConfig>({
  name: 'http_server',
  summary: 'Receives messages over HTTP; each request is answered once its message is acknowledged, with the sync response the pipeline set.',
  schema,
  example: { address: '127.0.0.1:0' },
  create: (config, settings) => new HttpServerInput(config, settings),
});

/** A request held by the input: waiting to be read, then waiting for its acknowledgement. */
interface Held {
  readonly batch: Message[];
  readonly ack: Ack;
  taken: boolean;
  /** Answers 503 (not taken in time) or 408 (taken, not acknowledged in time). */
  readonly timer: NodeJS.Timeout;
}

const RETRY_AFTER_SECONDS = '1';
/** A refused body is read and dropped up to this many times max_body_size, then the connection is closed. */
const DISCARD_FACTOR = 4;

class HttpServerInput implements Input {
  #config: HttpServerConfig;
  #logger: Logger;
  #secrets: Secrets;
  #endpoints: Endpoints | undefined;
  #timeoutMs: number;
  #verbs: Set<string>;
  #sync: SyncResponseSettings;
  #rateLimit: RateLimit | undefined;
  #tls: { cert: Buffer; key: Buffer } | undefined;
  #access: AccessCheck | undefined;
  #server: Server | undefined;
  #handler: EndpointHandler;
  /** Requests waiting to be read, oldest first. */
  #waiting: Held[] = [];
  /** read() calls waiting for a request. */
  #readers: ((held: Held | null) => void)[] = [];
  #open = 0;
  #pending: Gauge.Internal<string>;
  #answered: (status: number) => void;
  #closing = false;
  /** The URL it listens at (own address), once connected. */
  url: string | undefined;

  constructor(config: HttpServerConfig, settings: Settings) {
    this.#config = config;
    this.#logger = settings.logger;
    this.#secrets = settings.secrets;
    const problems: { field: string; message: string }[] = [];
    const field = <T>(name: string, build: () => T): T | undefined => {
      try {
        return build();
      } catch (err) {
        problems.push({ field: name, message: (err as Error).message.replace(`${name}: `, '') });
        return undefined;
      }
    };
    this.#timeoutMs = parseDurationMs(config.timeout);
    this.#verbs = new Set(config.allowed_verbs.map((v) => v.toUpperCase()));
    const status = field('sync_response.status', () => compileField('sync_response.status', config.sync_response.status));
    const headers: [string, ReturnType<typeof compileField>][] = [];
    for (const [name, value] of Object.entries(config.sync_response.headers)) {
      if (!HEADER_NAME.test(name)) problems.push({ field: `sync_response.headers.${name}`, message: 'not a valid header name' });
      const compiled = field(`sync_response.headers.${name}`, () => compileField(`sync_response.headers.${name}`, value));
      if (compiled) headers.push([name, compiled]);
    }
    const { include_prefixes, include_patterns } = config.sync_response.metadata_headers;
    const metadataHeader =
      include_prefixes.length + include_patterns.length === 0 ? NONE : (field('sync_response.metadata_headers', () => metadataFilter(config.sync_response.metadata_headers)) ?? NONE);
    this.#sync = { status: status!, headers, metadataHeader };
    if (config.address === '') {
      if (config.cert_file !== '' || config.key_file !== '') problems.push({ field: 'cert_file', message: 'TLS needs an address of its own; the service server uses http.cert_file' });
      if (config.cors.enabled) problems.push({ field: 'cors', message: 'cors needs an address of its own; the service server uses http.cors' });
      if (settings.endpoints && !settings.endpoints.enabled) {
        problems.push({ field: 'address', message: 'empty means the service HTTP server, which is disabled (http.enabled: false); set an address' });
      }
      this.#endpoints = settings.endpoints;
    } else if (field('address', () => splitAddress(config.address)) === undefined) {
      // Reported by field().
    } else if ((config.cert_file === '') !== (config.key_file === '')) {
      problems.push({ field: config.cert_file === '' ? 'cert_file' : 'key_file', message: 'cert_file and key_file go together' });
    } else if (config.cert_file !== '') {
      this.#tls = field('cert_file', () => ({ cert: readFileSync(resolve(settings.baseDir, config.cert_file)), key: readFileSync(resolve(settings.baseDir, config.key_file)) }));
    }
    if (problems.length > 0) throw new FieldErrors(problems);
    if (config.cors.enabled) this.#access = accessCheck(undefined, config.cors);
    if (config.rate_limit !== '') this.#rateLimit = lazyRateLimit(() => settings.build.resource('rate_limit', config.rate_limit));
    const { metrics, label, path } = settings;
    this.#pending = metrics.gauge('http_server_pending', 'Requests held by an http_server input: being read, waiting for the pipeline, or for their acknowledgement.').labels(label, path);
    this.#pending.set(0);
    const answered = metrics.counter('http_server_responses', 'Requests answered by an http_server input, by status.', ['label', 'path', 'code']);
    this.#answered = (code) => answered.labels(label, path, String(code)).inc();
    this.#handler = (req, res) => void this.#handle(req, res);
  }

  async connect(): Promise<void> {
    if (this.#closing) throw new Error('http_server is closed');
    if (this.#config.address === '') {
      if (!this.#endpoints) throw new Error('there is no service HTTP server to serve on; set an address');
      this.#endpoints.register(this.#config.path, this.#handler);
      this.#logger.info({ path: this.#config.path }, `Receiving HTTP messages at ${this.#config.path} on the service HTTP server.`);
      return;
    }
    if (this.#server) return;
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      if (this.#access && !this.#access(req, res)) return;
      const path = (req.url ?? '/').split('?')[0]!;
      const base = this.#config.path;
      if (path === base || (base.endsWith('/') && path.startsWith(base))) return this.#handler(req, res);
      answerText(res, 404, '404 page not found');
    };
    const server = this.#tls ? createHttpsServer({ cert: this.#tls.cert, key: this.#tls.key }, listener) : createServer(listener);
    const { host, port } = splitAddress(this.#config.address);
    await new Promise<void>((done, fail) => {
      server.once('error', (err: NodeJS.ErrnoException) => fail(new Error(`address ${this.#config.address}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`)));
      server.listen(port, host, () => done());
    });
    server.on('error', (err) => this.#logger.error({ err: err.message }, 'HTTP server error.'));
    this.#server = server;
    const bound = server.address() as AddressInfo;
    this.url = `${this.#tls ? 'https' : 'http'}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
    this.#logger.info({ url: this.url + this.#config.path }, `Receiving HTTP messages at ${this.url}${this.#config.path}.`);
  }

  read(signal: AbortSignal): Promise<ReadResult | null> {
    if (this.#closing || signal.aborted) return Promise.resolve(null);
    const held = this.#waiting.shift();
    if (held) return Promise.resolve(this.#take(held));
    return new Promise((done) => {
      const onAbort = () => {
        const i = this.#readers.indexOf(reader);
        if (i >= 0) this.#readers.splice(i, 1);
        done(null);
      };
      const reader = (next: Held | null) => {
        signal.removeEventListener('abort', onAbort);
        done(next ? this.#take(next) : null);
      };
      this.#readers.push(reader);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Stops taking requests: those waiting to be read get 503, new ones too; those already read are
   * answered when their acknowledgement comes (the engine drains them).
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const reader of this.#readers.splice(0)) reader(null);
    for (const held of this.#waiting.splice(0)) {
      clearTimeout(held.timer);
      held.ack(new ServerClosing());
    }
    const server = this.#server;
    if (server) {
      server.close();
      server.closeIdleConnections();
      // Requests still to be answered keep their connection until then; none is kept open after.
      const stop = setInterval(() => {
        if (this.#open === 0) {
          clearInterval(stop);
          server.closeAllConnections();
        }
      }, 50);
      stop.unref();
    }
  }

  #take(held: Held): ReadResult {
    held.taken = true;
    return { batch: held.batch, ack: held.ack };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
      this.#answered(status);
      answerText(res, status, text, this.#closing ? { ...headers, connection: 'close' } : headers);
    };
    if (this.#closing) return answer(503, 'Server closing', { 'retry-after': RETRY_AFTER_SECONDS });
    if (!this.#verbs.has(req.method ?? '')) return answer(405, 'Incorrect method', { allow: [...this.#verbs].join(', ') });
    if (this.#open >= this.#config.max_pending) {
      req.resume();
      return answer(503, 'Too many pending requests', { 'retry-after': RETRY_AFTER_SECONDS });
    }
    this.#open++;
    this.#pending.set(this.#open);
    try {
      const arrived = Date.now();
      if (this.#rateLimit && !(await this.#allowed())) return answer(429, 'Too Many Requests', { 'retry-after': RETRY_AFTER_SECONDS });
      let body: Buffer;
      try {
        body = await readBody(req, this.#config.max_body_size);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          answer(413, err.message);
          discardBody(req, DISCARD_FACTOR * this.#config.max_body_size);
          return;
        }
        this.#logger.debug({ err: (err as Error).message }, 'Request read failed.');
        return answer(400, 'Bad request');
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      const message = Message.fromBytes(body, requestMetadata(req, url));
      const store = new ResponseStore();
      expectResponses([message], store);
      const outcome = await this.#offer([message], Math.max(0, arrived + this.#timeoutMs - Date.now()), res);
      switch (outcome.kind) {
        case 'gone':
          return;
        case 'not taken':
          return answer(503, 'Service Unavailable: the pipeline did not take the request in time', { 'retry-after': RETRY_AFTER_SECONDS });
        case 'timed out':
          return answer(408, 'Request timed out');
        case 'closing':
          return answer(503, 'Server closing', { 'retry-after': RETRY_AFTER_SECONDS });
        case 'acked': {
          // As Connect: a failed read is a 502 with why. Messages given up count as failed unless
          // an output dropped them on purpose (drop_on, which Connect acks) or a response was set.
          const error = outcome.error;
          const failed = error !== undefined && !(error instanceof Undeliverable && (!store.isEmpty || error.items.every((i) => i.kind === 'dropped')));
          if (failed) return answer(502, this.#secrets.scrub(error.message));
          if (store.isEmpty) {
            // No response set: an empty 200, as Connect.
            this.#answered(200);
            if (!res.headersSent) res.writeHead(200, this.#closing ? { connection: 'close' } : {}).end();
            return;
          }
          await answerResponses(res, store, this.#sync, this.#logger);
          this.#answered(res.statusCode);
          return;
        }
      }
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, 'Failed to answer an HTTP request.');
      answer(500, 'Internal Server Error');
    } finally {
      this.#open--;
      this.#pending.set(this.#open);
    }
  }

  /** Takes a token from the rate limit without waiting for one: false when none is left now. */
  async #allowed(): Promise<boolean> {
    const controller = new AbortController();
    const access = this.#rateLimit!.access(controller.signal).then(
      (waited) => !waited,
      () => false,
    );
    const now = await Promise.race([access, new Promise<'later'>((done) => setImmediate(() => done('later')))]);
    if (now !== 'later') return now;
    controller.abort();
    return false;
  }

  /**
   * Hands the batch to the next read, waiting up to `waitMs` in all: to be taken, then to be
   * acknowledged. A client that goes away before its request is taken withdraws it.
   */
  #offer(batch: Message[], waitMs: number, res: ServerResponse): Promise<Outcome> {
    return new Promise((done) => {
      let settled = false;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(held.timer);
        res.off('close', onGone);
        done(outcome);
      };
      const onGone = () => {
        if (res.writableEnded) return;
        if (!held.taken) this.#withdraw(held);
        finish({ kind: 'gone' });
      };
      const held: Held = {
        batch,
        taken: false,
        ack: (error) => finish(error instanceof ServerClosing ? { kind: 'closing' } : { kind: 'acked', error }),
        timer: setTimeout(() => {
          if (held.taken) return finish({ kind: 'timed out' });
          this.#withdraw(held);
          finish({ kind: 'not taken' });
        }, waitMs),
      };
      res.on('close', onGone);
      const reader = this.#readers.shift();
      if (reader) reader(held);
      else this.#waiting.push(held);
    });
  }

  #withdraw(held: Held): void {
    const i = this.#waiting.indexOf(held);
    if (i >= 0) this.#waiting.splice(i, 1);
  }
}

type Outcome = { kind: 'acked'; error?: Error } | { kind: 'not taken' } | { kind: 'timed out' } | { kind: 'closing' } | { kind: 'gone' };

/** The ack of a request the input gave back unread at close. */
class ServerClosing extends Error {}
