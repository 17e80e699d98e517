import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { registry } from '../../../src/components/index.js';
import { loadConfigText } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/config/problems.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { buildPipeline, type Pipeline } from '../../../src/engine/pipeline.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { freePort } from '../../../src/free_port.js';
import { preparePipelineText, runPrepared } from '../../../src/service.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { gateSpec } from '../../support/outputs.js';
import { pipelineFromYaml } from '../../support/pipeline.js';
import { waitFor } from '../../support/wait.js';

const running: { stop: AbortController; done: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.stop.abort();
    await r.done;
  }
});

/** Runs the YAML (with `$ADDRESS` replaced by a free loopback address) until the test ends; resolves its base URL once it answers. */
async function start(yaml: string, extra = memoryComponents(memoryState([]).input, memoryState([]).output), workers = false): Promise<{ url: string; metrics: Metrics; logs: () => string }> {
  const port = await freePort();
  const text = yaml.replaceAll('$ADDRESS', `127.0.0.1:${port}`);
  let logged = '';
  const { pipeline, metrics } = workers ? withWorkers(text, (line) => (logged += line)) : pipelineFromYaml(text, extra);
  const stop = new AbortController();
  running.push({ stop, done: pipeline.run(stop.signal) });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the input listening', () => fetch(`${url}/nothing-here`).then((r) => (r.status === 404 ? true : undefined)), 10_000, 20);
  return { url, metrics, logs: () => logged };
}

/** The pipeline as `run` builds it, processors on worker threads (the built worker script). */
function withWorkers(yaml: string, log: (line: string) => void): { pipeline: Pipeline; metrics: Metrics } {
  const loaded = loadConfigText(yaml, 'test.yaml', { registry, env: {} });
  if (!loaded.config) throw new Error(loaded.problems.map(formatProblem).join('\n'));
  const metrics = new Metrics();
  const logger = pino({ level: 'info' }, { write: log });
  const { pipeline, problems } = buildPipeline(loaded.config, {
    registry,
    logger,
    metrics,
    secrets: new Secrets(),
    baseDir: process.cwd(),
    strict: false,
    workers: { script: new URL('../../../dist/processors_worker.js', import.meta.url), secrets: [] },
  });
  if (problems.some((p) => p.severity === undefined)) throw new Error(problems.map((p) => p.message).join('\n'));
  return { pipeline, metrics };
}

describe('http_server input', () => {
  it('turns a request into a message with Connect\'s metadata and answers 200 once it is delivered', async () => {
    const state = memoryState([]);
    const { url } = await start(
      `
input: { http_server: { address: $ADDRESS, path: /ingest } }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const response = await fetch(`${url}/ingest?tenant=acme&tenant=other`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-custom-thing': 'yes', 'user-agent': 'tester/1' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect(state.output.writes).toHaveLength(1);
    const message = state.output.writes[0]![0]!;
    expect(message.text()).toBe('{"a":1}');
    expect(message.metadata).toMatchObject({
      'Content-Type': 'application/json',
      'X-Custom-Thing': 'yes',
      http_server_user_agent: 'tester/1',
      http_server_request_path: '/ingest',
      http_server_verb: 'POST',
      http_server_remote_ip: '127.0.0.1',
      tenant: 'acme',
    });
  });

  it('refuses other verbs (405), other paths (404) and bodies past max_body_size (413)', async () => {
    const state = memoryState([]);
    const { url } = await start(
      `
input: { http_server: { address: $ADDRESS, path: /ingest, max_body_size: 10 } }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    expect((await fetch(`${url}/ingest`)).status).toBe(405);
    expect((await fetch(`${url}/other`, { method: 'POST', body: 'x' })).status).toBe(404);
    const big = await fetch(`${url}/ingest`, { method: 'POST', body: 'x'.repeat(11) });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/larger than 10 bytes/);
    expect((await fetch(`${url}/ingest`, { method: 'POST', body: 'x'.repeat(10) })).status).toBe(200);
    expect(state.output.writes.flat().map((m) => m.text())).toEqual(['x'.repeat(10)]);
  });

  it('answers with the sync response the processors set: status and headers interpolated from it', async () => {
    const state = memoryState([]);
    const { url } = await start(
      `
input:
  http_server:
    address: $ADDRESS
    sync_response:
      status: '\${! $meta("status") }'
      headers: { Content-Type: application/problem+json, X-Echo: '\${! $meta("X-Request") }' }
  processors:
    - mapping: |
        $merge([$, { "seen": true }])
    - bloblang: 'meta status = "201"'
    - sync_response: {}
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const response = await fetch(`${url}/post`, { method: 'POST', body: '{"a":1}', headers: { 'x-request': 'r-1' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('x-echo')).toBe('r-1');
    expect(JSON.parse(await response.text())).toEqual({ a: 1, seen: true });
  });

  it('answers a request unarchived into many messages with all of them, and the sync_response output works too', async () => {
    const state = memoryState([]);
    const { url } = await start(
      `
input:
  http_server: { address: $ADDRESS, sync_response: { headers: { Content-Type: application/json } } }
pipeline:
  processors:
    - unarchive: { format: json_array }
    - mapping: '{ "n": n * 10 }'
output: { sync_response: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const one = await fetch(`${url}/post`, { method: 'POST', body: '[{"n":1}]' });
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ n: 10 });
    const many = await fetch(`${url}/post`, { method: 'POST', body: '[{"n":1},{"n":2},{"n":3}]' });
    expect(many.status).toBe(200);
    expect(many.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=/);
    const text = await many.text();
    expect(text.match(/\{"n":\d+\}/g)).toEqual(['{"n":10}', '{"n":20}', '{"n":30}']);
  });

  it('keeps the link to the request across worker threads (pipeline.threads)', async () => {
    const { url, logs } = await start(
      `
input:
  # Worker threads start slowly on a busy machine: the request may wait for them.
  http_server: { address: $ADDRESS, timeout: 60s }
  processors: [ { unarchive: { format: json_array } } ]
pipeline:
  threads: 2
  processors:
    - mapping: { expression: '{ "n": n + 1 }', compile: false }
output: { sync_response: {} }
`,
      [],
      true,
    );
    expect(logs()).toMatch(/Processors run on 2 worker threads/);
    const response = await fetch(`${url}/post`, { method: 'POST', body: '[{"n":1},{"n":2}]' });
    expect(response.status).toBe(200);
    expect((await response.text()).match(/\{"n":\d+\}/g)).toEqual(['{"n":2}', '{"n":3}']);
  });

  it('answers 503 with Retry-After when the pipeline does not take a request within timeout, and 408 when taken but not acknowledged', async () => {
    const gate = gateSpec();
    const { url, metrics } = await start(
      `
input: { http_server: { address: $ADDRESS, timeout: 300ms } }
pipeline: { threads: 1 }
output: { gate: {} }
`,
      [gate.spec],
    );
    // The first requests are taken (read) and wait for their acknowledgement; reading then stops.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`${url}/post`, { method: 'POST', body: `m${i}` }).then((r) => ({ status: r.status, retry: r.headers.get('retry-after') }))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 408).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 408 || s === 503)).toBe(true);
    expect(results.filter((r) => r.status === 503).every((r) => r.retry === '1')).toBe(true);
    const exposition = await metrics.exposition();
    expect(exposition).toMatch(/http_server_pending\{[^}]*\} 0/);
    expect(exposition).toMatch(/http_server_responses\{[^}]*code="503"[^}]*\} [1-9]/);
    gate.state.release();
    // Taken requests are still delivered (408 said they may be); the 503 ones were never read.
    await waitFor('the taken messages delivered', () => (gate.state.writes.length > 0 ? true : undefined));
    expect(gate.state.writes.flat().length).toBeLessThanOrEqual(statuses.filter((s) => s === 408).length);
  });

  it('answers 502 with why when the read fails: forced shutdown, or a message refused in strict mode', async () => {
    const gate = gateSpec();
    const port = await freePort();
    const { pipeline } = pipelineFromYaml(
      `
input: { http_server: { address: 127.0.0.1:${port}, timeout: 30s } }
output: { gate: {} }
shutdown_timeout: 200ms
`,
      [gate.spec],
    );
    const stop = new AbortController();
    const done = pipeline.run(stop.signal);
    const url = `http://127.0.0.1:${port}/post`;
    await waitFor('the input listening', () => fetch(url).then((r) => (r.status === 405 ? true : undefined)), 10_000, 20);
    const pending = fetch(url, { method: 'POST', body: 'held' });
    // The output has the message and never delivers it: the shutdown times out.
    await waitFor('the write started', () => (gate.state.attempts > 0 ? true : undefined), 10_000, 20);
    stop.abort();
    const response = await pending;
    expect(response.status).toBe(502);
    expect(await response.text()).toMatch(/shutdown timeout reached before delivery/);
    await done;

    const strict = memoryState([]);
    const { url: strictUrl } = await start(
      `
input:
  http_server: { address: $ADDRESS }
  processors: [ { mapping: '$number("x")' } ]
error_handling: { strict: true }
output: { memory: {} }
`,
      memoryComponents(strict.input, strict.output),
    );
    const refused = await fetch(`${strictUrl}/post`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(502);
    expect(await refused.text()).toMatch(/will not be delivered: processing failed/);
    expect(strict.output.writes).toEqual([]);
  });

  it('answers 204 while buffer.memory has room, then 503 after timeout once it is full, and delivers what it took', async () => {
    const gate = gateSpec();
    const { url } = await start(
      `
input: { http_server: { address: $ADDRESS, timeout: 300ms, sync_response: { status: '204' } }, processors: [ { sync_response: {} } ] }
pipeline: { threads: 1 }
buffer: { memory: { limit: 20 } }
output: { gate: {} }
`,
      [gate.spec],
    );
    // 10 bytes each: two fit in the buffer's 20.
    const post = (i: number) => fetch(`${url}/post`, { method: 'POST', body: `message-0${i}` }).then((r) => r.status);
    expect(await post(0)).toBe(204);
    expect(await post(1)).toBe(204);
    // Full: the next reads wait for room (at most 2 x threads of them), the rest are never taken.
    const later = await Promise.all([2, 3, 4, 5, 6].map(post));
    expect(later.filter((s) => s === 503).length).toBeGreaterThanOrEqual(3);
    expect(later.every((s) => s === 503 || s === 408)).toBe(true);
    gate.state.release();
    await waitFor('the buffered messages delivered', () => (gate.state.writes.flat().length >= 2 ? true : undefined));
    expect(gate.state.writes.flat().slice(0, 2).map((m) => m.text())).toEqual(['message-00', 'message-01']);
  });

  it('answers 429 with Retry-After when the rate limit has no token left', async () => {
    const state = memoryState([]);
    const { url } = await start(
      `
input: { http_server: { address: $ADDRESS, rate_limit: slow } }
rate_limit_resources: [ { label: slow, local: { count: 1, interval: 1h } } ]
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    expect((await fetch(`${url}/post`, { method: 'POST', body: 'a' })).status).toBe(200);
    const limited = await fetch(`${url}/post`, { method: 'POST', body: 'b' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(state.output.writes.flat().map((m) => m.text())).toEqual(['a']);
  });
});

describe('http_server input, served elsewhere', () => {
  it('serves its path on the service HTTP server when address is empty, next to /ping', async () => {
    const port = await freePort();
    const prepared = preparePipelineText(
      `
http: { address: 127.0.0.1:${port} }
input: { http_server: { path: /events } }
pipeline: { processors: [ { mapping: '{ "echo": $ }' }, { sync_response: {} } ] }
output: { drop: {} }
`,
      'service.yaml',
      { quiet: true },
    );
    expect(prepared.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const stop = new AbortController();
    running.push({ stop, done: runPrepared(prepared.ready!, stop.signal) });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('the service server', () => fetch(`${base}/ping`).then((r) => (r.ok ? true : undefined)), 10_000, 20);
    const response = await fetch(`${base}/events`, { method: 'POST', body: '{"a":1}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ echo: { a: 1 } });
    expect(await (await fetch(`${base}/ping`)).text()).toBe('pong');
  });

  it('an empty address with the service server disabled is a config problem at the field', () => {
    const prepared = preparePipelineText('http: { enabled: false }\ninput: { http_server: {} }\noutput: { drop: {} }\n', 'off.yaml', { quiet: true });
    expect(prepared.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^input\.http_server\.address: empty means the service HTTP server, which is disabled/)]);
  });

  it('speaks HTTPS with cert_file and key_file, and answers CORS preflights', async () => {
    const tls = fileURLToPath(new URL('../../support/tls/', import.meta.url));
    const port = await freePort();
    const state = memoryState([]);
    const { pipeline } = pipelineFromYaml(
      `
input:
  http_server:
    address: 127.0.0.1:${port}
    cert_file: ${tls}localhost.crt
    key_file: ${tls}localhost.key
    cors: { enabled: true, allowed_origins: [ 'https://app.example' ], allowed_headers: [ Content-Type ] }
output: { memory: {} }
`,
      memoryComponents(state.input, state.output),
    );
    const stop = new AbortController();
    running.push({ stop, done: pipeline.run(stop.signal) });
    const dispatcher = new Agent({ connect: { ca: readFileSync(`${tls}localhost.crt`) } });
    const url = `https://localhost:${port}/post`;
    await waitFor('the HTTPS listener', () => undiciFetch(url, { dispatcher }).then((r) => (r.status === 405 ? true : undefined)), 10_000, 20);
    const preflight = await undiciFetch(url, { method: 'OPTIONS', dispatcher, headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-other' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('Content-Type');
    const posted = await undiciFetch(url, { method: 'POST', dispatcher, body: 'secure', headers: { origin: 'https://app.example' } });
    expect(posted.status).toBe(200);
    expect(posted.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(state.output.writes.flat()[0]!.metadata).toMatchObject({ http_server_tls_version: 'TLSv1.3' });
    await dispatcher.close();
  });
});
