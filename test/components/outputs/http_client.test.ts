import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import httpClient from '../../../src/components/outputs/http_client.js';
import { splitJsonArray } from '../../../src/components/http/bodies.js';
import { parseRetryAfter } from '../../../src/components/http/pacing.js';
import { MAX_RESPONSE_BYTES } from '../../../src/components/http/support.js';
import type { Output, Settings } from '../../../src/engine/component.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { outcomeOf, type DeliveryError, type GivenUp } from '../../../src/engine/delivery.js';
import { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { startOpenMeterSimulator, type Fault } from '../../../src/openmeter/sim.js';
import { withDefaults } from '../../support/defaults.js';
import { buildOutput, jsonArchive, simulatorsClosedAfterEach } from '../../support/outputs.js';

// --- fixtures ---------------------------------------------------------------------------------

const cloudEvent = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `evt-${i}`,
  specversion: '1.0',
  type: 'workload',
  source: 'run_ai',
  time: '2025-01-01T00:00:00Z',
  subject: `customer-${i % 3}`,
  data: { gpuAllocationMinutes: i, cpuLimitCoreMinutes: 1 },
  ...extra,
});
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
/** What `archive: json_array` hands the output: one message holding the batch as a JSON array, standing for its parts. */
const archived = (events: unknown[], metadata = {}) => jsonArchive(events.map((e) => Message.fromJSON(e)), metadata);
const idOf = (m: Message) => (m.json() as { id: string }).id;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new AbortController().signal;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

const simulator = simulatorsClosedAfterEach();

/** An http_client from a partial config (defaults filled by the schema), connected. */
async function client(config: Record<string, unknown>, overrides: Partial<Settings> = {}): Promise<Output> {
  const output = buildOutput(httpClient, { headers: { 'Content-Type': 'application/json' }, retry_period: '5ms', max_retry_backoff: '50ms', ...config }, [], overrides);
  closers.push(() => output.close());
  await output.connect(never());
  return output;
}

/**
 * What the engine does with events batched and archived into one message: write the archive;
 * when the write fails, archive again only what the failure left undelivered, and write that,
 * until nothing is left. What the output gave up is never written again.
 */
async function deliver(output: Output, events: readonly unknown[], maxReplays = 100): Promise<{ replays: number; errors: string[]; givenUp: GivenUp[] }> {
  const errors: string[] = [];
  const givenUp: GivenUp[] = [];
  let pending = events.map((e) => Message.fromJSON(e));
  for (let replays = 0; ; replays++) {
    try {
      await output.write([jsonArchive(pending)], never());
      return { replays, errors, givenUp };
    } catch (err) {
      errors.push((err as Error).message);
      const outcome = outcomeOf(err, pending);
      givenUp.push(...outcome.givenUp);
      pending = outcome.retry;
      if (pending.length === 0) return { replays, errors, givenUp };
      if (replays >= maxReplays) throw err;
      await sleep(2);
    }
  }
}

/** Runs `tasks` with at most `limit` at once, as the engine runs writes up to max_in_flight. */
async function inParallel(tasks: (() => Promise<unknown>)[], limit: number): Promise<void> {
  const queue = [...tasks];
  await Promise.all(range(0, limit).map(async () => {
    for (let task = queue.shift(); task; task = queue.shift()) await task();
  }));
}

const ids = (events: readonly { id: string }[]) => events.map((e) => e.id).sort();
const expectedIds = (n: number) => range(0, n).map((i) => `evt-${i}`).sort();

/** A plain loopback server that records requests and answers with `respond` (200 by default). */
async function recordingServer(respond: (req: IncomingMessage, body: string, res: ServerResponse) => void = (_q, _b, res) => res.end()) {
  const requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      respond(req, body, res);
    });
  });
  const url = await listen(server);
  return { url, requests };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function metricValues(metrics: Metrics, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = metrics.registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as { labels: Record<string, string | number>; value: number }[]) : [];
}
const metricTotal = async (metrics: Metrics, name: string) => (await metricValues(metrics, name)).reduce((n, v) => n + v.value, 0);

// --- tests ------------------------------------------------------------------------------------

describe('http_client config', () => {
  it('fills Redpanda Connect defaults from the schema', () => {
    expect(withDefaults(httpClient, { url: 'http://x' })).toEqual({
      url: 'http://x',
      verb: 'POST',
      headers: {},
      secret_headers: [],
      metadata: { include_prefixes: [], include_patterns: [] },
      dump_request_log_level: '',
      oauth2: { enabled: false, client_key: '', client_secret: '', token_url: '', scopes: [], endpoint_params: {} },
      basic_auth: { enabled: false, username: '', password: '' },
      tls: { enabled: false, skip_cert_verify: false, enable_renegotiation: false, root_cas: '', root_cas_file: '', client_certs: [] },
      timeout: '5s',
      retry_period: '1s',
      max_retry_backoff: '300s',
      max_retry_after: '300s',
      retries: 3,
      backoff_on: [429],
      drop_on: [],
      successful_on: [],
      follow_redirects: true,
      proxy_url: '',
      batch_as_multipart: false,
      split_on_bad_request: true,
      max_in_flight: 64,
      batching: { count: 0, byte_size: 0, period: '', check: '', processors: [] },
      oauth: { enabled: false, consumer_key: '', consumer_secret: '', access_token: '', access_token_secret: '' },
      jwt: { enabled: false, private_key_file: '', signing_method: '', claims: {}, headers: {} },
      extract_headers: { include_prefixes: [], include_patterns: [] },
      propagate_response: false,
      disable_http2: false,
      multipart: [],
    });
    expect(() => withDefaults(httpClient, { url: 'http://x', retries: 3, nope: 1 })).toThrow('nope: unknown field');
    expect(httpClient.schema).toMatchObject({ properties: { oauth2: { properties: { client_secret: { 'x-secret': true } } }, basic_auth: { properties: { password: { 'x-secret': true } } } } });
  });

  it('names the field of a config that cannot work', () => {
    const create = (config: Record<string, unknown>) => () => buildOutput(httpClient, { url: 'http://127.0.0.1:1', ...config }, []);
    expect(create({ url: 'not a url' })).toThrow(/^url: "not a url" is not a valid URL/);
    expect(create({ url: 'ftp://host/x' })).toThrow(/^url: unsupported scheme ftp:/);
    expect(create({ url: 'http://x/${! unclosed' })).toThrow(/^url: unclosed interpolation/);
    expect(create({ tls: { skip_cert_verify: true } })).toThrow(/^tls: settings have no effect unless tls.enabled is true/);
    expect(create({ tls: { enabled: true, root_cas_file: 'missing.pem' } })).toThrow(/^tls.root_cas_file: cannot read .*missing.pem: ENOENT/);
    expect(create({ metadata: { include_patterns: ['('] } })).toThrow(/^metadata.include_patterns\[0\]: /);
    expect(create({ oauth2: { enabled: true } })).toThrow(/^oauth2.token_url: required/);
    expect(create({ rate_limit: { interval: '0s' } })).toThrow(/^rate_limit.interval: must be greater than 0s/);
    expect(create({ proxy_url: 'nope' })).toThrow(/^proxy_url: /);
    expect(create({ tls: { enabled: true, client_certs: [{ cert_file: 'c.pem' }] } })).toThrow(/^tls.client_certs\[0\]: set either key or key_file/);
    expect(create({ jwt: { enabled: true, signing_method: 'HS256' } })).toThrow(/^unsupported signing_method "HS256"/);
    expect(create({ jwt: { enabled: true, signing_method: 'RS256', private_key_file: 'missing.pem' } })).toThrow(/^cannot read the private key/);
  });

  it('exposes max_in_flight as the output\'s concurrency', async () => {
    expect((await client({ url: 'http://127.0.0.1:1', max_in_flight: 7 })).maxInFlight).toBe(7);
  });
});

describe('http_client requests', () => {
  it('sends an archived batch as one POST whose body is the message bytes, exactly', async () => {
    const sim = await simulator({ token: 'tok_123456' });
    const output = await client({ url: sim.ingestUrl, headers: { Authorization: 'Bearer tok_123456', 'Content-Type': 'application/json' } });
    const message = archived(range(0, 5).map((i) => cloudEvent(i)));
    await output.write([message], never());
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: 'POST', status: 204, body: message.text() });
    expect(sim.requests[0]?.headers['content-type']).toBe('application/json');
    expect(ids(sim.events)).toEqual(expectedIds(5));
  });

  it('sends one request per message without archiving, and one multipart request with batch_as_multipart', async () => {
    const server = await recordingServer();
    const perMessage = await client({ url: `${server.url}/one` });
    await perMessage.write([Message.fromJSON({ a: 1 }), Message.fromJSON({ a: 2 }), Message.fromJSON({ a: 3 })], never());
    expect(server.requests.map((r) => r.body)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}']);

    const multipart = await client({ url: `${server.url}/many`, batch_as_multipart: true, metadata: { include_prefixes: ['k'] } });
    await multipart.write([Message.fromJSON({ a: 1 }, { k: 'x' }), Message.fromBytes('plain', { k: 'y' })], never());
    const request = server.requests[3]!;
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(request.headers['content-type']!)?.[1];
    expect(boundary).toBeDefined();
    expect(request.body).toBe(
      `--${boundary}\r\nContent-Type: application/json\r\nk: x\r\n\r\n{"a":1}\r\n` + `--${boundary}\r\nContent-Type: application/json\r\nk: y\r\n\r\nplain\r\n` + `--${boundary}--\r\n`,
    );
  });

  it('defaults Content-Type to application/octet-stream, and interpolates url and headers from the first message', async () => {
    const server = await recordingServer();
    const output = await client({
      url: `${server.url}/events/\${! $meta("tenant") }`,
      headers: { 'X-Tenant': '${! $meta("tenant") }', 'X-Count': '${! $count($) }' },
      metadata: { include_patterns: ['^om_'] },
      batch_as_multipart: true,
    });
    await output.write([Message.fromJSON([1, 2], { tenant: 'acme', om_region: 'eu', other: 'no' }), Message.fromJSON([3], { tenant: 'other' })], never());
    const [request] = server.requests;
    expect(request?.url).toBe('/events/acme');
    expect(request?.headers).toMatchObject({ 'x-tenant': 'acme', 'x-count': '2', om_region: 'eu' });
    expect(request?.headers.other).toBeUndefined();
    const plain = await client({ url: server.url, headers: {} });
    await plain.write([Message.fromBytes('x')], never());
    expect(server.requests[1]?.headers['content-type']).toBe('application/octet-stream');
  });

  it('gives a message up at once, without a request, when the url cannot be rendered for it', async () => {
    const server = await recordingServer();
    const output = await client({ url: `${server.url}/\${! $error("no tenant") }` });
    const message = Message.fromJSON({});
    const error = (await output.write([message], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/url interpolation error: .*no tenant/);
    expect(error.givenUp.map((g) => [g.kind, g.message])).toEqual([['rejected', message]]);
    expect(server.requests).toHaveLength(0);
  });
});

describe('http_client retries', () => {
  it('retries 5xx, resets and timeouts with the very same bytes, and reports the problem detail when it gives up', async () => {
    const sim = await simulator({ script: [{ type: 'status', status: 500 }, { type: 'reset' }, { type: 'status', status: 502 }, { type: 'timeout', accept: false }] });
    const output = await client({ url: sim.ingestUrl, retries: 4, timeout: '100ms' });
    const message = archived(range(0, 3).map((i) => cloudEvent(i)));
    await output.write([message], never());
    expect(sim.requests).toHaveLength(5);
    expect(new Set(sim.requests.map((r) => r.body)).size).toBe(1);
    expect(sim.requests.map((r) => r.status ?? r.outcome)).toEqual([500, 'reset', 502, 'abandoned', 204]);

    const failing = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 503 } }] });
    const giveUp = await client({ url: failing.ingestUrl, retries: 3 });
    const error = await giveUp.write([message], never()).catch((err: DeliveryError) => err);
    expect(failing.requests).toHaveLength(4);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `POST ${failing.ingestUrl}: HTTP request returned unexpected response code (503): 503 Service Unavailable, Error: Service Unavailable (after 4 attempts)`,
    );
    expect((error as DeliveryError).undelivered).toEqual([message]);
  });

  it('retries every non-2xx retries times, as Connect: a 401 too; drop_on fails at once; successful_on succeeds', async () => {
    const sim = await simulator({ token: 'right-token' });
    const output = await client({ url: sim.ingestUrl, retries: 2, headers: { Authorization: 'Bearer wrong-token', 'Content-Type': 'application/json' } });
    await expect(output.write([archived([cloudEvent(1)])], never())).rejects.toThrow(/unexpected response code \(401\): 401 Unauthorized, Error: invalid API token \(after 3 attempts\)$/);
    expect(sim.requests.map((r) => r.status)).toEqual([401, 401, 401]);

    const scripted = await simulator({
      script: [
        { type: 'status', status: 408 },
        { type: 'status', status: 409 },
        { type: 'status', status: 404 },
      ],
    });
    await (await client({ url: scripted.ingestUrl })).write([archived([cloudEvent(1)])], never());
    expect(scripted.requests.map((r) => r.status)).toEqual([408, 409, 404, 204]);

    const dropOn = await simulator({ script: [{ type: 'status', status: 500 }] });
    const dropped = await client({ url: dropOn.ingestUrl, drop_on: [500] });
    await expect(dropped.write([archived([cloudEvent(1)])], never())).rejects.toThrow(/\(500\)/);
    expect(dropOn.requests).toHaveLength(1);

    const teapot = await simulator({ script: [{ type: 'status', status: 418 }] });
    await (await client({ url: teapot.ingestUrl, successful_on: [418] })).write([archived([cloudEvent(1)])], never());
    expect(teapot.requests).toHaveLength(1);
  });

  it('waits retry_period between attempts for any failure, and doubles it only for backoff_on statuses, up to max_retry_backoff', async () => {
    const gapsOf = (requests: readonly { receivedAt: number; respondedAt?: number }[]) => requests.slice(1).map((r, i) => r.receivedAt - requests[i]!.respondedAt!);
    const linear = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    await expect((await client({ url: linear.ingestUrl, retries: 3, retry_period: '60ms', max_retry_backoff: '1s' })).write([archived([cloudEvent(1)])], never())).rejects.toThrow();
    for (const gap of gapsOf(linear.requests)) {
      expect(gap).toBeGreaterThanOrEqual(58);
      expect(gap).toBeLessThan(60 + 50);
    }
    expect(linear.requests).toHaveLength(4);

    const limited = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 429 } }] });
    await expect((await client({ url: limited.ingestUrl, retries: 4, retry_period: '40ms', max_retry_backoff: '100ms' })).write([archived([cloudEvent(1)])], never())).rejects.toThrow();
    const nominal = [40, 80, 100, 100];
    gapsOf(limited.requests).forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(nominal[i]! - 2);
      expect(gap).toBeLessThan(nominal[i]! + 50);
    });
  });

  it('honours Retry-After in seconds on 429, and holds back every other request meanwhile', async () => {
    const sim = await simulator({ script: [{ type: 'status', status: 429, retryAfter: 1 }] });
    const metrics = new Metrics();
    const output = await client({ url: sim.ingestUrl, retry_period: '1ms', max_in_flight: 4 }, { metrics });
    const first = output.write([archived([cloudEvent(1)])], never());
    // Once the client has seen the 429, a new write must wait for the Retry-After too.
    while ((await metricTotal(metrics, 'http_request_code_4xx')) === 0) await sleep(1);
    const second = output.write([archived([cloudEvent(2)])], never());
    await Promise.all([first, second]);
    const limited = sim.requests[0]!.respondedAt!;
    const later = sim.requests.slice(1).map((r) => r.receivedAt - limited);
    expect(later).toHaveLength(2);
    for (const gap of later) expect(gap).toBeGreaterThanOrEqual(998);
    expect(ids(sim.events)).toEqual(['evt-1', 'evt-2']);
  });

  it('honours Retry-After as an HTTP date on 503', async () => {
    const notBefore = Math.ceil((Date.now() + 1200) / 1000) * 1000;
    const sim = await simulator({ script: [{ type: 'status', status: 503, retryAfter: new Date(notBefore).toUTCString() }] });
    const output = await client({ url: sim.ingestUrl, retry_period: '1ms' });
    await output.write([archived([cloudEvent(1)])], never());
    expect(sim.requests[1]!.receivedAt).toBeGreaterThanOrEqual(notBefore - 2);
  });

  it('holds the engine\'s replay back for Retry-After even when the 429 was the last attempt', async () => {
    const sim = await simulator({ script: [{ type: 'status', status: 429, retryAfter: 1 }] });
    const output = await client({ url: sim.ingestUrl, retries: 0 });
    await expect(output.write([archived([cloudEvent(1)])], never())).rejects.toThrow(/\(429\): 429 Too Many Requests/);
    await output.write([archived([cloudEvent(1)])], never());
    expect(sim.requests[1]!.receivedAt - sim.requests[0]!.respondedAt!).toBeGreaterThanOrEqual(998);
  });

  it('parses Retry-After as delay-seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('delivers every event exactly once by id after a downtime, through the engine\'s replays', async () => {
    const sim = await simulator();
    const output = await client({ url: sim.ingestUrl, retries: 1, retry_period: '10ms' });
    await sim.down();
    setTimeout(() => void sim.up(), 300);
    const events = range(0, 40).map((i) => cloudEvent(i));
    const results = await Promise.all([0, 10, 20, 30].map((from) => deliver(output, events.slice(from, from + 10))));
    expect(results.flatMap((r) => r.errors).some((e) => /ECONNREFUSED/.test(e))).toBe(true);
    expect(ids(sim.events)).toEqual(expectedIds(40));
    expect(sim.deliveries).toHaveLength(40);
  });

  it('delivers every event exactly once by id whatever the fault script (property)', async () => {
    const fault: fc.Arbitrary<Fault> = fc.oneof(
      fc.constantFrom<Fault>(
        { type: 'status', status: 500 },
        { type: 'status', status: 502 },
        { type: 'status', status: 503, retryAfter: 0 },
        { type: 'status', status: 429, retryAfter: 0 },
        { type: 'status', status: 429 },
        { type: 'reset' },
        { type: 'latency', ms: 5 },
        { type: 'ok' },
      ),
      fc.integer({ min: 0, max: 9 }).map((accept): Fault => ({ type: 'partial', accept })),
      fc.boolean().map((accept): Fault => ({ type: 'timeout', accept })),
    );
    const runs: { requests: number; duplicates: number; ambiguous: number }[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(fault, { maxLength: 8 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 3 }), async (script, count, inFlight) => {
        // At most two hung requests per run keeps the suite fast.
        const hangs = script.filter((f) => f.type === 'timeout').length;
        fc.pre(hangs <= 2);
        const sim = await startOpenMeterSimulator({ script });
        const output = buildOutput(httpClient, { url: sim.ingestUrl, headers: { 'Content-Type': 'application/json' }, retries: 2, retry_period: '1ms', max_retry_backoff: '5ms', timeout: '300ms', max_in_flight: inFlight }, []);
        try {
          const events = range(0, count).map((i) => cloudEvent(i));
          const batches = range(0, Math.ceil(count / 10)).map((b) => events.slice(b * 10, b * 10 + 10));
          await inParallel(batches.map((batch) => () => deliver(output, batch)), inFlight);
          expect(ids(sim.events)).toEqual(expectedIds(count));
          // Copies beyond the first come only from requests whose acceptance the client could not see:
          // not answered 204, or answered so late that the client may have timed out first (on a
          // loaded machine, the sink's answer can lose the race with the client's 300 ms timer).
          const ambiguous = sim.requests
            .filter((r) => r.status !== 204 || r.respondedAt! - r.receivedAt > 100)
            .reduce((n, r) => n + r.accepted.length, 0);
          const duplicates = sim.deliveries.length - sim.events.length;
          expect(duplicates).toBeLessThanOrEqual(ambiguous);
          // A hung request counts at the sink until it sees the client hang up, which can lag the retry.
          if (hangs === 0) expect(sim.maxInFlight).toBeLessThanOrEqual(inFlight);
          runs.push({ requests: sim.requests.length, duplicates, ambiguous });
        } finally {
          await output.close();
          await sim.close();
        }
      }),
      { numRuns: 30, seed: 20250101 },
    );
    expect(runs.length).toBeGreaterThan(0);
  });
});

describe('http_client concurrency and pacing', () => {
  it('never has more than max_in_flight requests at the sink, even when more writes are started', async () => {
    const sim = await simulator({ latencyMs: 40 });
    const output = await client({ url: sim.ingestUrl, max_in_flight: 3 });
    await Promise.all(range(0, 12).map((i) => output.write([archived([cloudEvent(i)])], never())));
    expect(sim.maxInFlight).toBe(3);
    expect(ids(sim.events)).toEqual(expectedIds(12));
  });

  it('limits requests to rate_limit.count per interval', async () => {
    const sim = await simulator();
    const output = await client({ url: sim.ingestUrl, rate_limit: { count: 2, interval: '200ms' } });
    const started = Date.now();
    for (const i of range(0, 5)) await output.write([archived([cloudEvent(i)])], never());
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(sim.requests).toHaveLength(5);
  });

  it('stops waiting and rejects when the write is aborted', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await client({ url: sim.ingestUrl, retry_period: '10s' });
    const abort = new AbortController();
    const write = output.write([archived([cloudEvent(1)])], abort.signal);
    await sleep(50);
    abort.abort(new Error('forced shutdown'));
    await expect(write).rejects.toThrow('forced shutdown');
  });
});

describe('http_client isolates invalid events', () => {
  it('bisects a 400ed batch of 100 so only the poison event fails, given up as the archive\'s own part, and its 99 neighbours arrive', async () => {
    const sim = await simulator();
    const output = await client({ url: sim.ingestUrl });
    const events = range(0, 100).map((i) => cloudEvent(i, i === 37 ? { subject: '' } : {}));
    const message = archived(events);
    const error = (await output.write([message], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/^1 of 100 events rejected: POST .*: HTTP request returned unexpected response code \(400\): 400 Bad Request, Error: .*Error at "\/0\/subject": minimum string length is 1$/);
    expect(error.undelivered).toEqual([]);
    expect(error.givenUp.map((g) => [g.kind, g.message])).toEqual([['rejected', message.parts![37]]]);
    expect(error.givenUp[0]!.reason).toMatch(/\(400\): 400 Bad Request/);
    expect(ids(sim.events)).toEqual(expectedIds(100).filter((id) => id !== 'evt-37'));
    expect(sim.deliveries).toHaveLength(99);
    // 1 whole + 2 halves per level down to the poison: 1 + 2 * ceil(log2(100)).
    expect(sim.requests.length).toBeLessThanOrEqual(15);
    // Each half carries the events' original bytes.
    for (const request of sim.requests) for (const element of splitJsonArray(request.body)!) expect(events.map((e) => JSON.stringify(e))).toContain(element);
  });

  it('isolates several poison events, and retries transient failures of a half before giving up on it', async () => {
    const sim = await simulator({ script: [{ type: 'ok' }, { type: 'status', status: 500 }] });
    const output = await client({ url: sim.ingestUrl });
    const poison = new Set([3, 4, 60]);
    const events = range(0, 64).map((i) => cloudEvent(i, poison.has(i) ? { specversion: '2.0' } : {}));
    const error = (await output.write([archived(events)], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/^3 of 64 events rejected: .*invalid event: specversion: unknown value: 2.0$/);
    expect(sim.events).toHaveLength(61);
    expect(sim.requests[1]?.status).toBe(500);
  });

  it('reports a transient failure, not Bad Request, when a half cannot be delivered, so drop_on does not drop it', async () => {
    const sim = await simulator({ decide: ({ seq }) => (seq >= 3 ? { type: 'status', status: 503 } : undefined) });
    const output = await client({ url: sim.ingestUrl, retries: 1 });
    const events = range(0, 8).map((i) => cloudEvent(i, i === 0 ? { subject: '' } : {}));
    const error = (await output.write([archived(events)], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/^\d of 8 events not delivered: .*\(503\)/);
    expect(error.message).not.toMatch(/Bad Request/);
    // The poison event was not isolated yet: it is undelivered with the rest, not given up.
    expect(error.givenUp).toEqual([]);
    const undelivered = error.undelivered!.map(idOf);
    expect(undelivered).toContain('evt-0');
    expect(undelivered.length + sim.events.length).toBe(8);
  });

  it('with split_on_bad_request: false, retries a 400 as any failure (as Connect), then gives the batch up whole', async () => {
    const sim = await simulator();
    const output = await client({ url: sim.ingestUrl, split_on_bad_request: false, retries: 2 });
    const message = archived(range(0, 10).map((i) => cloudEvent(i, i === 5 ? { subject: '' } : {})));
    const error = (await output.write([message], never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/\(400\): 400 Bad Request/);
    expect(error.undelivered).toEqual([]);
    expect(error.givenUp.map((g) => g.message)).toEqual([message]);
    expect(sim.requests.map((r) => r.status)).toEqual([400, 400, 400]);
    expect(sim.events).toHaveLength(0);
  });

  it('without archiving, a rejected message is given up and does not stop the others', async () => {
    const sim = await simulator();
    const output = await client({ url: sim.ingestUrl });
    const batch = [Message.fromJSON(cloudEvent(1)), Message.fromJSON(cloudEvent(2, { subject: '' })), Message.fromJSON(cloudEvent(3))];
    const error = (await output.write(batch, never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/^1 of 3 messages rejected: .*400 Bad Request/);
    expect(error.undelivered).toEqual([]);
    expect(error.givenUp.map((g) => g.message)).toEqual([batch[1]]);
    expect(ids(sim.events)).toEqual(['evt-1', 'evt-3']);
    expect(sim.requests).toHaveLength(3);
  });

  it('stops at a transient failure without archiving, and the replay sends only what is left', async () => {
    const sim = await simulator({ script: [{ type: 'ok' }, { type: 'status', status: 500 }, { type: 'status', status: 500 }] });
    const output = await client({ url: sim.ingestUrl, retries: 1 });
    const batch = range(0, 4).map((i) => Message.fromJSON(cloudEvent(i)));
    const error = (await output.write(batch, never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.undelivered).toEqual(batch.slice(1));
    expect(error.givenUp).toEqual([]);
    await output.write(outcomeOf(error, batch).retry, never());
    expect(sim.deliveries.map((e) => e.id)).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3']);
  });
});

describe('http_client security', () => {
  /** A pino logger at trace level whose lines are collected, as with `--log.level trace`. */
  function capturedLogger() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    return { logger: pino({ level: 'trace' }, stream), lines };
  }

  it('dumps requests and responses at dump_request_log_level with no bearer token, password or secret in any line', async () => {
    const { logger, lines } = capturedLogger();
    const token = 'om_live_TOPSECRET_1234567890';
    const sim = await simulator({ token, script: [{ type: 'status', status: 500 }] });
    const output = await client(
      { url: `${sim.ingestUrl}?api_key=qs-secret-value`, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, dump_request_log_level: 'DEBUG' },
      { logger },
    );
    await output.write([archived([cloudEvent(1)])], never());
    const wrong = await client({ url: sim.ingestUrl, retries: 0, headers: { Authorization: 'Bearer om_live_WRONG_0987654321' }, dump_request_log_level: 'DEBUG' }, { logger });
    const error = await wrong.write([archived([cloudEvent(2)])], never()).catch((err: Error) => err);

    const dumps = lines.map((l) => JSON.parse(l) as { level: number; msg: string; access_log?: { request: { header: Record<string, string>; body: unknown; url: string }; response?: { status_code: number } } }).filter((l) => l.msg === 'http request log');
    expect(dumps.length).toBe(3);
    expect(dumps.every((d) => d.level === 20)).toBe(true);
    expect(dumps[0]?.access_log?.request.header.authorization).toBe('[REDACTED]');
    expect(dumps[0]?.access_log?.request.body).toEqual([cloudEvent(1)]);
    expect(dumps.map((d) => d.access_log?.response?.status_code)).toEqual([500, 204, 401]);
    const everything = lines.join('\n') + String(error);
    for (const secret of [token, 'om_live_WRONG_0987654321', 'qs-secret-value']) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/(Bearer|Basic)\s+(?!\[REDACTED\])\S/);
  });

  it('dumps redact headers named like credentials (auth, key, token, secret, password, cookie) and those in secret_headers', async () => {
    const { logger, lines } = capturedLogger();
    const sim = await simulator();
    const headers = { 'Content-Type': 'application/json', 'X-Auth-Key': 'hdr-SECRET-1', 'X-Session-Cookie': 'hdr-SECRET-2', 'X-Db-Password': 'hdr-SECRET-3', 'X-Custom': 'hdr-SECRET-4', 'X-Team': 'billing' };
    const output = await client({ url: sim.ingestUrl, headers, secret_headers: ['X-CUSTOM'], dump_request_log_level: 'DEBUG' }, { logger });
    await output.write([archived([cloudEvent(1)])], never());
    const dump = lines.map((l) => JSON.parse(l) as { msg: string; access_log?: { request: { header: Record<string, string> } } }).find((l) => l.msg === 'http request log');
    expect(dump?.access_log?.request.header).toMatchObject({ 'x-auth-key': '[REDACTED]', 'x-session-cookie': '[REDACTED]', 'x-db-password': '[REDACTED]', 'x-custom': '[REDACTED]', 'x-team': 'billing' });
    expect(lines.join('\n')).not.toMatch(/hdr-SECRET/);
  });

  it('a per-message header named like a key (Idempotency-Key) is redacted in dumps but its values are not registered as secrets', async () => {
    const { logger, lines } = capturedLogger();
    const server = await recordingServer();
    const secrets = new Secrets();
    const output = await client(
      { url: server.url, headers: { 'Idempotency-Key': '${! $meta("id") }', 'X-Api-Token': '${! $meta("token") }' }, dump_request_log_level: 'DEBUG' },
      { logger, secrets },
    );
    await output.write([Message.fromJSON({ a: 1 }, { id: 'msg-0001', token: 'tok-SECRET-1' })], never());
    expect(server.requests[0]?.headers).toMatchObject({ 'idempotency-key': 'msg-0001', 'x-api-token': 'tok-SECRET-1' });
    // A token computed per message is a secret from then on; an id is not (registering every id would grow without bound).
    expect(secrets.scrub('msg-0001 tok-SECRET-1')).toBe('msg-0001 [REDACTED]');
    const dump = lines.map((l) => JSON.parse(l) as { msg: string; access_log?: { request: { header: Record<string, string> } } }).find((l) => l.msg === 'http request log');
    expect(dump?.access_log?.request.header).toMatchObject({ 'idempotency-key': '[REDACTED]', 'x-api-token': '[REDACTED]' });
  });

  it('reads at most MAX_RESPONSE_BYTES of an answer: an endless error body fails the request instead of filling memory', async () => {
    let sent = 0;
    const server = await recordingServer((_req, _body, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = (): void => {
        // Endless unless the client stops reading and drops the connection.
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const output = await client({ url: server.url, retries: 0 });
    const error = (await output.write([Message.fromJSON({ a: 1 })], never()).catch((err: Error) => err)) as Error;
    expect(error.message).toMatch(/^POST \S+: HTTP request returned unexpected response code \(500\): 500 Internal Server Error, Error: x+…$/);
    // The server could write its socket buffers full, not the body it meant to send.
    expect(sent).toBeLessThan(64 * MAX_RESPONSE_BYTES);
  });

  it('authenticates with basic auth and OAuth 2 client credentials, registering every credential as a secret', async () => {
    const { logger, lines } = capturedLogger();
    let tokenRequests = 0;
    const tokenServer = await recordingServer((_req, _body, res) => {
      tokenRequests++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: `at_SECRET_${tokenRequests}_abcdef`, token_type: 'bearer', expires_in: 3600 }));
    });
    const api = await recordingServer((req, _body, res) => {
      res.statusCode = req.headers.authorization === 'Bearer at_SECRET_1_abcdef' && api.requests.length === 1 ? 401 : 200;
      res.end();
    });
    const settings = { logger, metrics: new Metrics() };
    const oauth = await client(
      {
        url: api.url,
        dump_request_log_level: 'TRACE',
        oauth2: { enabled: true, client_key: 'my-client', client_secret: 'cs_SECRET_789xyz', token_url: `${tokenServer.url}/token`, scopes: ['events:write', 'x'], endpoint_params: { audience: ['om'] } },
      },
      settings,
    );
    await oauth.write([Message.fromJSON({ a: 1 })], never());
    await oauth.write([Message.fromJSON({ a: 2 })], never());
    // The first token was refused once: a fresh one was fetched and kept.
    expect(tokenRequests).toBe(2);
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(['Bearer at_SECRET_1_abcdef', 'Bearer at_SECRET_2_abcdef', 'Bearer at_SECRET_2_abcdef']);
    const tokenRequest = tokenServer.requests[0]!;
    expect(Object.fromEntries(new URLSearchParams(tokenRequest.body))).toEqual({ grant_type: 'client_credentials', scope: 'events:write x', audience: 'om' });
    expect(tokenRequest.headers.authorization).toBe(`Basic ${Buffer.from('my-client:cs_SECRET_789xyz').toString('base64')}`);

    const basic = await client({ url: api.url, dump_request_log_level: 'INFO', basic_auth: { enabled: true, username: 'user', password: 'hunter2-pass' }, headers: { Authorization: 'Bearer overridden-by-basic' } }, settings);
    await basic.write([Message.fromJSON({ a: 3 })], never());
    expect(api.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from('user:hunter2-pass').toString('base64')}`);

    const everything = lines.join('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const secret of ['at_SECRET_1_abcdef', 'at_SECRET_2_abcdef', 'cs_SECRET_789xyz', 'hunter2-pass', Buffer.from('user:hunter2-pass').toString('base64'), 'overridden-by-basic']) {
      expect(everything).not.toContain(secret);
    }
  });

  it('verifies TLS certificates unless told otherwise, and trusts root_cas_file', async () => {
    const dir = fileURLToPath(new URL('../../support/tls/', import.meta.url));
    const server = createHttpsServer({ key: readFileSync(`${dir}localhost.key`), cert: readFileSync(`${dir}localhost.crt`) }, (_req, res) => res.end());
    const url = (await listen(server)).replace('http:', 'https:');
    const strict = await client({ url, retries: 0 });
    await expect(strict.write([Message.fromJSON({})], never())).rejects.toThrow(/certificate/i);
    await (await client({ url, tls: { enabled: true, skip_cert_verify: true } })).write([Message.fromJSON({})], never());
    const trusted = buildOutput(httpClient, { url, tls: { enabled: true, root_cas_file: 'localhost.crt' } }, [], { baseDir: dir });
    closers.push(() => trusted.close());
    await trusted.write([Message.fromJSON({})], never());
  });

  it('sends requests through proxy_url', async () => {
    const sim = await simulator();
    const tunnels: string[] = [];
    const proxy = createHttpServer();
    proxy.on('connect', (req: IncomingMessage, client, head: Buffer) => {
      tunnels.push(req.url!);
      const [host, port] = req.url!.split(':');
      const upstream = netConnect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    const proxyUrl = await listen(proxy);
    const output = await client({ url: sim.ingestUrl, proxy_url: proxyUrl });
    await output.write([archived([cloudEvent(1)])], never());
    expect(tunnels).toEqual([`127.0.0.1:${sim.port}`]);
    expect(sim.events).toHaveLength(1);
  });
});

describe('http_client metrics', () => {
  it('counts every response by status and tier, and every attempt without one, as the sink saw them', async () => {
    const metrics = new Metrics();
    const sim = await simulator({
      script: [
        { type: 'status', status: 500 },
        { type: 'status', status: 429, retryAfter: 0 },
        { type: 'reset' },
        { type: 'ok' },
        { type: 'timeout', accept: true },
        { type: 'status', status: 503 },
      ],
    });
    const output = await client({ url: sim.ingestUrl, timeout: '100ms', retries: 2 }, { metrics, label: 'openmeter', path: 'output.http_client' });
    await deliver(output, [cloudEvent(1), cloudEvent(2)]);
    await deliver(output, [cloudEvent(3)]);
    await output.write([archived([cloudEvent(4, { subject: '' })])], never()).catch(() => {});

    const byStatus = new Map<string, number>();
    for (const r of sim.requests) if (r.status !== undefined) byStatus.set(String(r.status), (byStatus.get(String(r.status)) ?? 0) + 1);
    const counted = await metricValues(metrics, 'http_request_status');
    expect(new Map(counted.map((v) => [String(v.labels.code), v.value]))).toEqual(byStatus);
    // Labelled with the output's node, as Connect's path (root.output), not the component key.
    expect(counted.every((v) => v.labels.label === 'openmeter' && v.labels.path === 'output')).toBe(true);
    const tier = (t: number) => sim.requests.filter((r) => r.status !== undefined && Math.floor(r.status / 100) === t).length;
    for (const t of [2, 4, 5]) expect(await metricTotal(metrics, `http_request_code_${t}xx`)).toBe(tier(t));
    expect(await metricTotal(metrics, 'http_request_error')).toBe(sim.requests.filter((r) => r.status === undefined).length);
    expect(sim.requests.filter((r) => r.status === undefined)).toHaveLength(2);
    expect(ids(sim.events)).toEqual(['evt-1', 'evt-2', 'evt-3']);
  });
});

describe('splitJsonArray', () => {
  it('returns the exact text of each element, or undefined when the text is not one JSON array', () => {
    expect(splitJsonArray(' [ {"a":"x,]}"} , [1,[2]] ,"s\\"]",3 ] ')).toEqual(['{"a":"x,]}"}', '[1,[2]]', '"s\\"]"', '3']);
    expect(splitJsonArray('[]')).toEqual([]);
    for (const bad of ['{"a":1}', '[1,2', '[1,,2]', '[1,]', '[1] x', '']) expect(splitJsonArray(bad), bad).toBeUndefined();
    fc.assert(
      fc.property(fc.array(fc.jsonValue()), (values) => {
        const text = JSON.stringify(values);
        expect(splitJsonArray(text)?.map((e) => JSON.parse(e))).toEqual(JSON.parse(text));
      }),
    );
  });
});
