// An OpenMeter-compatible ingest server (`sluice sim openmeter`): `POST /api/v1/events` as the
// documented API answers it (exact Content-Type match, CloudEvents validation, 204, problem+json
// 400, optional bearer 401, dedupe by source and id), plus the faults a billing pipeline must
// survive: latency, injected statuses (429/503 with Retry-After), connection resets, responses
// that never or only late arrive after the batch was accepted, partial acceptance and downtime.
// Every request is recorded so tests can assert on exactly what the sink saw.
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { seededRandom } from '../seeded_random.js';

export const INGEST_PATH = '/api/v1/events';
/** Kong Konnect's path for the same ingest (the official Run:ai config posts there); served identically. */
export const KONNECT_INGEST_PATH = '/v3/openmeter/events';
const INGEST_PATHS = new Set([INGEST_PATH, KONNECT_INGEST_PATH]);
const CONTENT_TYPES = ['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json'] as const;
type IngestContentType = (typeof CONTENT_TYPES)[number];

/** A CloudEvent as OpenMeter stores it (extension attributes kept). */
export interface CloudEvent {
  readonly id: string;
  readonly source: string;
  readonly specversion: string;
  readonly type: string;
  readonly subject: string;
  readonly time?: string | null;
  readonly data?: Record<string, unknown> | null;
  readonly [extension: string]: unknown;
}

/** What the simulator does to one ingest request instead of (or before) answering it normally. */
export type Fault =
  /** Answer normally (useful inside a script). */
  | { readonly type: 'ok' }
  /** Wait `ms` before processing the request normally. */
  | { readonly type: 'latency'; readonly ms: number }
  /** Answer `status` without accepting anything; `retryAfter` is seconds or a raw header value (an HTTP date). */
  | { readonly type: 'status'; readonly status: number; readonly retryAfter?: number | string }
  /** Destroy the connection after reading the body, accepting nothing. */
  | { readonly type: 'reset' }
  /**
   * Withhold the response: with `accept` the batch IS ingested first (the client cannot know).
   * Answers normally after `respondAfterMs`, or never (until the client gives up or the simulator closes).
   */
  | { readonly type: 'timeout'; readonly accept: boolean; readonly respondAfterMs?: number }
  /** Ingest the first `accept` events, then answer 500, as OpenMeter's sequential ingest loop can. */
  | { readonly type: 'partial'; readonly accept: number };

/** What a fault decider sees of a request; `seq` counts ingest requests from 0. */
export interface FaultContext {
  readonly seq: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface OpenMeterSimulatorOptions {
  /** Interface to listen on; 127.0.0.1 by default. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** When set, requests must carry `Authorization: Bearer <token>` or get 401. */
  readonly token?: string;
  /**
   * Deduplication by (source, id), as OpenMeter's DeduplicatingCollector: duplicates are dropped
   * silently and still get 204. `true` (the default) keeps every key, like OpenMeter Cloud or the
   * Redis driver; `{ size }` is the memory driver's LRU; `false` is OSS OpenMeter's default (off).
   */
  readonly dedupe?: boolean | { readonly size: number };
  /** Latency added before every ingest request is processed. */
  readonly latencyMs?: number;
  /** Faults for the first ingest requests, in order: `script[0]` applies to the first request. */
  readonly script?: readonly Fault[];
  /** After the script: each rule fires with its probability (seeded), first match wins. */
  readonly rates?: readonly { readonly rate: number; readonly fault: Fault }[];
  /** Seed for `rates`; fixed so a failing run can be replayed. */
  readonly seed?: number;
  /** After the script, consulted before `rates`; return undefined for no fault. */
  readonly decide?: (context: FaultContext) => Fault | undefined;
  /** Windows, relative to start, during which the port refuses connections. */
  readonly downtime?: readonly { readonly afterMs: number; readonly durationMs: number }[];
  /** Logs one line per request at debug, and downtime at info. */
  readonly logger?: Logger;
  /** Called once a request has been answered (or reset, or abandoned). */
  readonly onRequest?: (request: RecordedRequest) => void;
}

/** One request as the simulator saw it. Fields after `body` are filled in as it is handled. */
export interface RecordedRequest {
  /** Position among all requests, from 0. */
  readonly seq: number;
  /** Milliseconds on the Unix clock (sub-millisecond precision) when the body had been read. */
  readonly receivedAt: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  fault: Fault | undefined;
  /** The status sent; undefined when the connection was reset or no response was ever sent. */
  status: number | undefined;
  outcome: 'pending' | 'responded' | 'reset' | 'abandoned';
  respondedAt: number | undefined;
  responseHeaders: Record<string, string>;
  responseBody: string;
  /** Events of this request that were ingested (duplicates included), in order. */
  accepted: CloudEvent[];
  /** How many of `accepted` were new (not dropped as duplicates). */
  stored: number;
}

/** Sums of the numeric `data` fields of stored events, per subject and event type. */
export type UsageSummary = Record<string, Record<string, { events: number; data: Record<string, number> }>>;

export interface OpenMeterSimulator {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  /** The ingest endpoint, `${url}/api/v1/events`. */
  readonly ingestUrl: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Events stored after dedupe, in arrival order. */
  readonly events: readonly CloudEvent[];
  /** Every ingested copy before dedupe (what OpenMeter with dedupe off would bill). */
  readonly deliveries: readonly CloudEvent[];
  /** Requests being handled right now, and the most seen at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Per-subject usage of the stored events. */
  summary(): UsageSummary;
  /** Replaces the fault plan; the script restarts at the next request. */
  setFaults(faults: Pick<OpenMeterSimulatorOptions, 'latencyMs' | 'script' | 'rates' | 'decide' | 'seed'>): void;
  /** Stops accepting connections and drops open ones, as a crashed server would. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  readonly isDown: boolean;
  /** Forgets requests, events and the dedupe store. */
  reset(): void;
  close(): Promise<void>;
}

type FaultPlan = Pick<OpenMeterSimulatorOptions, 'latencyMs' | 'script' | 'rates' | 'decide' | 'seed'>;

/** Starts the simulator; resolves once it listens. */
export async function startOpenMeterSimulator(options: OpenMeterSimulatorOptions = {}): Promise<OpenMeterSimulator> {
  const sim = new Simulator(options);
  await sim.listen(options.port ?? 0);
  return sim;
}

class Simulator implements OpenMeterSimulator {
  readonly requests: RecordedRequest[] = [];
  readonly events: CloudEvent[] = [];
  readonly deliveries: CloudEvent[] = [];
  inFlight = 0;
  maxInFlight = 0;
  #options: OpenMeterSimulatorOptions;
  #host: string;
  #port = 0;
  #server: Server;
  #sockets = new Set<Socket>();
  #dedupe: Dedupe;
  #plan: FaultPlan;
  #random: () => number;
  #ingestSeq = 0;
  #down = false;
  #closed = false;
  #timers = new Set<NodeJS.Timeout>();
  #abandoned = new Set<ServerResponse>();

  constructor(options: OpenMeterSimulatorOptions) {
    this.#options = options;
    this.#host = options.host ?? '127.0.0.1';
    this.#dedupe = new Dedupe(options.dedupe ?? true);
    this.#plan = options;
    this.#random = seededRandom(options.seed ?? 1);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }
  get ingestUrl(): string {
    return this.url + INGEST_PATH;
  }
  get port(): number {
    return this.#port;
  }
  get isDown(): boolean {
    return this.#down;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    for (const window of this.#options.downtime ?? []) {
      this.#schedule(window.afterMs, () => void this.down());
      this.#schedule(window.afterMs + window.durationMs, () => void this.up());
    }
  }

  summary(): UsageSummary {
    const summary: UsageSummary = {};
    for (const event of this.events) {
      const bySubject = (summary[event.subject] ??= {});
      const entry = (bySubject[event.type] ??= { events: 0, data: {} });
      entry.events++;
      for (const [key, value] of Object.entries(event.data ?? {})) {
        if (typeof value === 'number' && Number.isFinite(value)) entry.data[key] = (entry.data[key] ?? 0) + value;
      }
    }
    return summary;
  }

  setFaults(faults: FaultPlan): void {
    this.#plan = faults;
    this.#ingestSeq = 0;
    this.#random = seededRandom(faults.seed ?? 1);
  }

  async down(): Promise<void> {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.#options.logger?.info('OpenMeter simulator is down: refusing connections');
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#dropConnections();
    await closed;
  }

  async up(): Promise<void> {
    if (!this.#down || this.#closed) return;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#down = false;
    this.#options.logger?.info('OpenMeter simulator is up again');
  }

  reset(): void {
    this.requests.length = 0;
    this.events.length = 0;
    this.deliveries.length = 0;
    this.maxInFlight = this.inFlight;
    this.#dedupe = new Dedupe(this.#options.dedupe ?? true);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = this.#down ? Promise.resolve() : new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#dropConnections();
    await closed;
  }

  #dropConnections(): void {
    for (const res of this.#abandoned) this.#finish(res, undefined);
    for (const socket of this.#sockets) socket.destroy();
    this.#server.closeAllConnections();
  }

  #schedule(ms: number, run: () => void): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        run();
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.inFlight--;
    };
    res.on('close', settle);
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      settle();
      return;
    }
    const record: RecordedRequest = {
      seq: this.requests.length,
      receivedAt: performance.timeOrigin + performance.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      fault: undefined,
      status: undefined,
      outcome: 'pending',
      respondedAt: undefined,
      responseHeaders: {},
      responseBody: '',
      accepted: [],
      stored: 0,
    };
    this.requests.push(record);
    recordOf.set(res, record);
    res.on('close', () => {
      if (record.outcome === 'pending') this.#finish(res, undefined);
    });
    try {
      await this.#route(req, res, record);
    } catch (err) {
      this.#problem(res, 500, '');
      this.#options.logger?.error({ err }, 'OpenMeter simulator failed on a request');
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (INGEST_PATHS.has(path) && req.method === 'POST') return this.#ingest(req, res, record);
    if (INGEST_PATHS.has(path) && req.method === 'GET') return this.#json(res, 200, this.events);
    if (path === '/sim/summary' && req.method === 'GET') return this.#json(res, 200, this.summary());
    if (INGEST_PATHS.has(path) || path === '/sim/summary') return this.#problem(res, 405, `method ${req.method} not allowed`);
    return this.#problem(res, 404, `no route for ${path}`);
  }

  async #ingest(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
    const fault = this.#nextFault({ seq: this.#ingestSeq++, headers: req.headers, body: record.body });
    record.fault = fault;
    const latency = (this.#plan.latencyMs ?? 0) + (fault?.type === 'latency' ? fault.ms : 0);
    if (latency > 0) await this.#schedule(latency, () => {});
    if (this.#closed || res.destroyed) return;

    if (fault?.type === 'reset') {
      this.#finish(res, undefined, 'reset');
      req.socket.destroy();
      return;
    }
    if (fault?.type === 'status') {
      const headers: Record<string, string> = {};
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      return this.#problem(res, fault.status, fault.status >= 500 ? '' : `injected ${fault.status}`, headers);
    }

    const denied = this.#authorize(req.headers.authorization);
    if (denied) return this.#problem(res, 401, denied);
    const parsed = parseIngestBody(req.headers['content-type'], record.body);
    if ('detail' in parsed) return this.#problem(res, 400, parsed.detail);

    const events = parsed.events;
    const acceptCount = fault?.type === 'partial' ? Math.min(fault.accept, events.length) : events.length;
    if (!(fault?.type === 'timeout' && !fault.accept)) this.#store(record, events.slice(0, acceptCount));

    if (fault?.type === 'partial') return this.#problem(res, 500, '');
    if (fault?.type === 'timeout') {
      this.#abandoned.add(res);
      if (fault.respondAfterMs !== undefined) {
        await this.#schedule(fault.respondAfterMs, () => {});
        this.#abandoned.delete(res);
        if (!res.destroyed) this.#send(res, 204, {}, '');
      }
      return;
    }
    this.#send(res, 204, {}, '');
  }

  #nextFault(context: FaultContext): Fault | undefined {
    const script = this.#plan.script ?? [];
    if (context.seq < script.length) return script[context.seq];
    const decided = this.#plan.decide?.(context);
    if (decided) return decided;
    for (const rule of this.#plan.rates ?? []) if (this.#random() < rule.rate) return rule.fault;
    return undefined;
  }

  #authorize(header: string | undefined): string | undefined {
    const token = this.#options.token;
    if (token === undefined) return undefined;
    if (!header) return 'missing Authorization header';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) return 'Authorization header is not a bearer token';
    return match[1] === token ? undefined : 'invalid API token';
  }

  #store(record: RecordedRequest, events: readonly CloudEvent[]): void {
    for (const received of events) {
      // As OpenMeter's ingest service: a missing time becomes the time of ingestion.
      const event = received.time ? received : { ...received, time: new Date().toISOString() };
      record.accepted.push(event);
      this.deliveries.push(event);
      if (this.#dedupe.isUnique(event)) {
        this.events.push(event);
        record.stored++;
      }
    }
  }

  #problem(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
    const title = STATUS_CODES[status] ?? 'Unknown';
    const problem = { type: 'about:blank', title, status, detail, instance: `urn:request:${recordOf.get(res)?.seq ?? 0}` };
    this.#send(res, status, { 'content-type': 'application/problem+json', ...headers }, JSON.stringify(problem));
  }

  #json(res: ServerResponse, status: number, value: unknown): void {
    this.#send(res, status, { 'content-type': 'application/json' }, JSON.stringify(value));
  }

  #send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, headers);
    res.end(body);
    this.#finish(res, status, 'responded', headers, body);
  }

  #finish(
    res: ServerResponse,
    status: number | undefined,
    outcome: RecordedRequest['outcome'] = 'abandoned',
    headers: Record<string, string> = {},
    body = '',
  ): void {
    this.#abandoned.delete(res);
    const record = recordOf.get(res);
    if (!record || record.outcome !== 'pending') return;
    record.outcome = outcome;
    record.status = status;
    record.respondedAt = performance.timeOrigin + performance.now();
    record.responseHeaders = headers;
    record.responseBody = body;
    this.#options.logger?.debug(
      { seq: record.seq, method: record.method, path: record.path, status, outcome, fault: record.fault?.type, accepted: record.accepted.length, stored: record.stored },
      'OpenMeter simulator handled a request',
    );
    this.#options.onRequest?.(record);
  }
}

const recordOf = new WeakMap<ServerResponse, RecordedRequest>();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/** Dedupe store keyed by (source, id) as OpenMeter's `Item.Key()`; `time` and `data` are not part of the key. */
class Dedupe {
  #mode: boolean | { readonly size: number };
  #seen = new Map<string, true>();

  constructor(mode: boolean | { readonly size: number }) {
    this.#mode = mode;
  }

  /** Add-if-absent: true when the event was not seen before (always true with dedupe off). */
  isUnique(event: CloudEvent): boolean {
    if (this.#mode === false) return true;
    const key = JSON.stringify([event.source, event.id]);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, true);
    if (typeof this.#mode === 'object') {
      const size = Math.max(1, this.#mode.size);
      for (const oldest of this.#seen.keys()) {
        if (this.#seen.size <= size) break;
        this.#seen.delete(oldest);
      }
    }
    return true;
  }
}

/**
 * Decodes and validates an ingest body as OpenMeter does: the raw Content-Type must be one of
 * three media types exactly (no parameters), the OpenAPI `Event` schema is checked for the whole
 * body before anything is ingested, then the CloudEvents decoder's own rules apply.
 */
export function parseIngestBody(contentType: string | undefined, body: string): { events: CloudEvent[] } | { detail: string } {
  if (!CONTENT_TYPES.includes(contentType as IngestContentType)) return { detail: `invalid content type: ${contentType ?? ''}` };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return { detail: `request body has an error: failed to decode request body: ${(err as Error).message}` };
  }
  const type = contentType as IngestContentType;
  let events: unknown[];
  if (type === 'application/cloudevents+json') {
    if (!isObject(value)) return { detail: 'request body has an error: doesn\'t match schema #/components/schemas/Event: value must be an object' };
    events = [value];
  } else if (type === 'application/cloudevents-batch+json') {
    if (!Array.isArray(value)) return { detail: 'request body has an error: doesn\'t match schema: value must be an array' };
    events = value;
  } else if (Array.isArray(value)) {
    if (value.length === 0) return { detail: 'invalid event: no events found' };
    events = value;
  } else if (isObject(value)) {
    events = [value];
  } else {
    return { detail: 'invalid event: no events found' };
  }
  const prefix = Array.isArray(value) ? (i: number) => `/${i}` : () => '';
  for (const [i, event] of events.entries()) {
    const problem = validateEvent(event);
    if (problem) return { detail: problem.replace('{at}', prefix(i)) };
  }
  return { events: events as CloudEvent[] };
}

const REQUIRED = ['id', 'source', 'specversion', 'type', 'subject'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// Go's url.Parse rejects ASCII control characters; anything else is a valid URI reference.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** One event against the OpenAPI schema, then the CloudEvents decoder. `{at}` marks where the JSON pointer prefix goes. */
function validateEvent(event: unknown): string | undefined {
  const schemaError = (field: string, what: string) =>
    `request body has an error: doesn't match schema #/components/schemas/Event: Error at "{at}/${field}": ${what}`;
  if (!isObject(event)) return schemaError('', 'value must be an object').replace('/"', '"');
  for (const field of REQUIRED) {
    if (!(field in event)) return schemaError(field, `property "${field}" is missing`);
    if (typeof event[field] !== 'string') return schemaError(field, 'value must be a string');
    if ((event[field] as string).length === 0) return schemaError(field, 'minimum string length is 1');
  }
  const { time, data, datacontenttype, dataschema, specversion, source } = event;
  if (time !== undefined && time !== null && typeof time !== 'string') return schemaError('time', 'value must be a string');
  if (data !== undefined && data !== null && !isObject(data)) return schemaError('data', 'value must be an object');
  if (datacontenttype !== undefined && datacontenttype !== null && datacontenttype !== 'application/json') {
    return schemaError('datacontenttype', 'value is not one of the allowed values ["application/json"]');
  }
  if (dataschema !== undefined && dataschema !== null && !(typeof dataschema === 'string' && URL.canParse(dataschema))) {
    return schemaError('dataschema', 'value must be a URI');
  }
  if (specversion !== '1.0' && specversion !== '0.3') return `invalid event: specversion: unknown value: ${String(specversion)}`;
  if (CONTROL.test(source as string)) return 'invalid event: source: invalid control character in URL';
  if (typeof time === 'string' && (!RFC3339.test(time) || Number.isNaN(Date.parse(time)))) {
    return `invalid event: time: parsing time ${JSON.stringify(time)} as RFC 3339 failed`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

