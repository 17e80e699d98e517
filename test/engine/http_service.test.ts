// The service HTTP server configured as Redpanda Connect's `http` section, and /metrics shaped by
// its `metrics` section: root_path, basic_auth, cors, TLS; none, mapping, histogram timing.
import { createHash, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServerOptions, type RunningHttpServer } from '../../src/engine/http_server.js';
import { Metrics, type MetricsOptions } from '../../src/engine/metrics.js';

const TLS_DIR = new URL('../support/tls/', import.meta.url);
const cert = readFileSync(fileURLToPath(new URL('localhost.crt', TLS_DIR)));
const key = readFileSync(fileURLToPath(new URL('localhost.key', TLS_DIR)));

let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Partial<HttpServerOptions> = {}, metrics = new Metrics()): Promise<string> {
  server = await startHttpServer({ address: '127.0.0.1:0', metrics, statuses: () => [], version: '9.9.9', logger: pino({ level: 'silent' }), ...options });
  return server.url;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('http section', () => {
  it('serves every endpoint at the root and under root_path', async () => {
    const url = await start({ rootPath: '/benthos' });
    expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
    expect(await (await fetch(`${url}/benthos/ping`)).text()).toBe('pong');
    expect(await (await fetch(`${url}/benthos/version`)).json()).toEqual({ version: '9.9.9' });
    expect((await fetch(`${url}/other/ping`)).status).toBe(404);
  });

  it.each(['sha256', 'md5'] as const)('basic_auth with a %s hash: 401 with the realm without the right credentials, 200 with them', async (algorithm) => {
    const hash = createHash(algorithm).update('s3cret').digest('base64');
    const url = await start({ basicAuth: { realm: 'collector', username: 'admin', password_hash: hash, algorithm, salt: '' } });
    const refused = await fetch(`${url}/ping`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Basic realm="collector", charset="UTF-8"');
    expect((await fetch(`${url}/ping`, { headers: { authorization: basic('admin', 'wrong') } })).status).toBe(401);
    expect((await fetch(`${url}/ping`, { headers: { authorization: basic('other', 's3cret') } })).status).toBe(401);
    const ok = await fetch(`${url}/ping`, { headers: { authorization: basic('admin', 's3cret') } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('pong');
  });

  it('basic_auth with scrypt (N=32768, r=8, p=1, 32 bytes, as Connect)', async () => {
    const salt = Buffer.from('pepper-salt');
    const hash = scryptSync('s3cret', salt, 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('base64');
    const url = await start({ basicAuth: { realm: 'r', username: 'admin', password_hash: hash, algorithm: 'scrypt', salt: salt.toString('base64') } });
    expect((await fetch(`${url}/ping`, { headers: { authorization: basic('admin', 'nope') } })).status).toBe(401);
    expect((await fetch(`${url}/ping`, { headers: { authorization: basic('admin', 's3cret') } })).status).toBe(200);
  });

  it('cors: allowed origins get the header and a preflight answer; others do not', async () => {
    const url = await start({ cors: { allowed_origins: ['https://dash.example'] } });
    const allowed = await fetch(`${url}/ping`, { headers: { origin: 'https://dash.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dash.example');
    const other = await fetch(`${url}/ping`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${url}/metrics`, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization');
    const refused = await fetch(`${url}/metrics`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(refused.status).toBe(403);
  });

  it('cert_file/key_file: the server speaks HTTPS', async () => {
    const url = await start({ tls: { cert, key } });
    expect(url.startsWith('https://')).toBe(true);
    const dispatcher = new Agent({ connect: { ca: cert, servername: 'localhost' } });
    try {
      const response = await undiciFetch(`${url.replace('127.0.0.1', 'localhost')}/ping`, { dispatcher });
      expect(await response.text()).toBe('pong');
    } finally {
      await dispatcher.close();
    }
  });
});

describe('metrics section', () => {
  const scrape = async (options: MetricsOptions, use: (m: Metrics) => void) => {
    const metrics = new Metrics(options);
    use(metrics);
    const url = await start({}, metrics);
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  };

  it('none serves no series', async () => {
    const text = await scrape({ none: true }, (m) => m.counter('output_sent', 'h').labels('a', 'root.output').inc());
    expect(text).toBe('');
  });

  it('mapping renames a series (with its _sum/_count) and drops another', async () => {
    const rename = async (name: string) => (name === 'output_sent' ? null : name === 'output_latency_ns' ? 'sluice_output_latency_ns' : name);
    const text = await scrape({ rename }, (m) => {
      m.counter('output_sent', 'h').labels('a', 'root.output').inc();
      m.counter('input_received', 'h').labels('a', 'root.input').inc(3);
      m.timer('output_latency_ns', 'h').labels('a', 'root.output').observe(5);
    });
    expect(text).not.toMatch(/^output_sent/m);
    expect(text).toMatch(/^input_received\{label="a",path="root.input"\} 3$/m);
    expect(text).toMatch(/^# TYPE sluice_output_latency_ns summary$/m);
    expect(text).toMatch(/^sluice_output_latency_ns_count\{label="a",path="root.output"\} 1$/m);
    expect(text).not.toMatch(/^output_latency_ns/m);
  });

  it('use_histogram_timing: timers are histograms in seconds', async () => {
    const text = await scrape({ histogramBuckets: [0.5, 2] }, (m) => m.timer('output_latency_ns', 'h').labels('a', 'root.output').observe(1.5e9));
    expect(text).toMatch(/^# TYPE output_latency_ns histogram$/m);
    expect(text).toMatch(/^output_latency_ns_bucket\{le="0.5",label="a",path="root.output"\} 0$/m);
    expect(text).toMatch(/^output_latency_ns_bucket\{le="2",label="a",path="root.output"\} 1$/m);
    expect(text).toMatch(/^output_latency_ns_sum\{label="a",path="root.output"\} 1.5$/m);
  });

  it('add_process_metrics adds process_* series only; add_go_metrics the runtime\'s', async () => {
    const processOnly = await scrape({ processMetrics: true }, () => {});
    expect(processOnly).toMatch(/^process_cpu_seconds_total /m);
    expect(processOnly).not.toMatch(/^nodejs_/m);
    await server?.close();
    server = undefined;
    const runtime = await scrape({ runtimeMetrics: true }, () => {});
    expect(runtime).toMatch(/^nodejs_heap_size_total_bytes /m);
    expect(runtime).not.toMatch(/^process_/m);
  });
});
