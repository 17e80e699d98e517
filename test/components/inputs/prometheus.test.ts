// input.prometheus against the Prometheus simulator on loopback: the body, metadata and evaluation
// times, and the fault cases (error payloads, 5xx, slow and huge answers, warnings, NaN, matrix).
// The real-Prometheus test is test/prometheus/real.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import prometheus, { type PrometheusConfig } from '../../../src/components/inputs/prometheus.js';
import type { Input, ReadResult } from '../../../src/engine/component.js';
import type { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { PrometheusClient, prometheusDuration } from '../../../src/prometheus/client.js';
import { startPrometheusSimulator, type Behaviour, type PrometheusSimulator } from '../../../src/prometheus/sim.js';
import { configProblems, withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';
import { captureLog, metricValue } from '../../runai/helpers.js';

const validated = (config: Record<string, unknown>): PrometheusConfig => withDefaults(prometheus, config);
const problems = (config: Record<string, unknown>): string => configProblems(prometheus, config).join('\n');
const q = (name: string, promql = name) => ({ query: { name, promql } });

describe('prometheus config', () => {
  it("has OpenMeter's fields and defaults, and names what is wrong", () => {
    const config = validated({ url: 'http://localhost:9090', queries: [q('up')] });
    expect(config).toMatchObject({ schedule: '0 * * * * *', query_offset: '0s', on_warnings: 'accept', partial_response: false });
    expect(config.headers).toBeUndefined();
    expect(problems({ url: 'http://x', queries: [] })).toContain('queries: must NOT have fewer than 1 items');
    expect(problems({ url: 'http://x', queries: [{ query: { name: 'a' } }] })).toContain('queries[0].query.promql: field is required');
    expect(problems({ url: 'http://x', queries: [q('a')], schedul: 'x' })).toContain('schedul: unknown field (did you mean schedule?)');
    expect(() => prometheus.create(validated({ url: 'http://x', queries: [q('a'), q('b'), q('a', 'up')] }), testSettings())).toThrow(
      'queries[2].query.name: "a" is already the name of queries[0]',
    );
    expect(() => prometheus.create(validated({ url: 'http://x', queries: [q('a')], schedule: '* * *' }), testSettings())).toThrow('has 3 fields');
    expect(() => prometheus.create(validated({ url: 'ftp://x', queries: [q('a')] }), testSettings())).toThrow('must use http or https');
  });
});

const sims: PrometheusSimulator[] = [];
const inputs: Input[] = [];
afterEach(async () => {
  await Promise.all(inputs.splice(0).map((i) => i.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function simulator(series = 1, retention?: string): Promise<PrometheusSimulator> {
  const sim = await startPrometheusSimulator({ series, ...(retention ? { retention } : {}) });
  sims.push(sim);
  return sim;
}

async function connected(sim: PrometheusSimulator, extra: Record<string, unknown>) {
  const log = captureLog();
  const metrics = new Metrics();
  const settings = testSettings({ logger: log.logger, metrics, secrets: new Secrets(), path: 'input', baseDir: mkdtempSync(join(tmpdir(), 'sluice-prom-')) });
  const input = prometheus.create(validated({ url: sim.url, schedule: '* * * * * *', timeout: '1s', ...extra }), settings);
  inputs.push(input);
  await input.connect(new AbortController().signal);
  return { input, log, metrics };
}

const read = async (input: Input): Promise<ReadResult> => (await input.read(AbortSignal.timeout(10_000)))!;
const body = (m: Message) => m.json() as { name: string; query: string; timestamp: string; value: number; labels: Record<string, string> };
const endOf = (m: Message) => Date.parse(m.metadata['window_end'] as string);

describe('prometheus input', () => {
  it("emits one message per sample with OpenMeter's body and metadata, each window evaluated at its aligned end", async () => {
    const sim = await simulator(3);
    const { input } = await connected(sim, { queries: [q('gpu', 'sum by (instance) (gpu_seconds)'), q('cpu')], query_offset: '2s', headers: { 'X-Scope-OrgID': 'tenant-1' } });
    const first = await read(input);
    first.ack();
    const second = await read(input);
    second.ack();
    for (const { batch } of [first, second]) {
      expect(batch).toHaveLength(6);
      const end = endOf(batch[0]!);
      expect(end % 1000).toBe(0);
      for (const m of batch) {
        const b = body(m);
        expect(Object.keys(b)).toEqual(['name', 'query', 'timestamp', 'value', 'labels']);
        expect(Date.parse(b.timestamp)).toBe(end);
        // The simulator's value is the evaluation time in seconds: the query ran at the window's end.
        expect(b.value).toBe(end / 1000);
        expect(m.metadata).toMatchObject({ scrape_interval: '1s', query_offset: '2s', query_name: b.name });
        // scrape_time is the nominal tick; the window ends query_offset before it.
        expect(Date.parse(m.metadata['scrape_time'] as string) - end).toBe(2000);
        expect(Date.parse(m.metadata['window_end'] as string) - Date.parse(m.metadata['window_start'] as string)).toBe(1000);
      }
      expect(batch.map((m) => body(m).name)).toEqual(['gpu', 'gpu', 'gpu', 'cpu', 'cpu', 'cpu']);
      expect(batch.slice(0, 3).map((m) => body(m).labels['instance'])).toEqual(['i-0', 'i-1', 'i-2']);
      expect(body(batch[0]!).query).toBe('sum by (instance) (gpu_seconds)');
    }
    // Contiguous windows.
    expect(first.batch[0]!.metadata['window_end']).toBe(second.batch[0]!.metadata['window_start']);
    const asked = sim.requests.filter((r) => r.query === 'cpu');
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked[0]!.headers['x-scope-orgid']).toBe('tenant-1');
    expect(asked[0]!.params['partial_response']).toBe('false');
  });

  it('owes a query that failed (error payload, 5xx, timeout, too large, matrix) and evaluates it later for its own window', async () => {
    const sim = await simulator();
    const failing = {
      bad: { kind: 'error', status: 400, errorType: 'bad_data', error: 'parse error at char 3' },
      busy: { kind: 'error', status: 503, errorType: 'timeout', error: 'query timed out in expression evaluation' },
      proxy: { kind: 'status', status: 502 },
      slow: { kind: 'slow', delayMs: 3000 },
      huge: { kind: 'huge', samples: 60_000 },
      range: { kind: 'matrix' },
    } as const;
    const { input, log, metrics } = await connected(sim, {
      queries: [q('ok'), ...Object.keys(failing).map((name) => q(name))],
      max_response_size: 1_000_000,
      state: { path: 'state.db' },
    });
    for (const [name, behaviour] of Object.entries(failing)) sim.behave(name, behaviour);
    const first = await read(input);
    first.ack();
    expect(first.batch.map((m) => body(m).name)).toEqual(['ok']);
    const firstEnd = endOf(first.batch[0]!);
    expect(await metricValue(metrics, 'prometheus_resource_failures_total', { type: 'prometheus' })).toBeGreaterThanOrEqual(6);
    const warned = log.entries().find((e) => e['msg'] === 'Prometheus fetch failed for some resources; their windows are owed and retried with back-off');
    expect(warned?.['failed']).toBe(6); // one window, six failed queries
    for (const name of Object.keys(failing)) sim.behave(name, undefined);
    // Every failed query comes back, evaluated at the end of the window it failed for.
    const owed = new Map<string, number>();
    while (owed.size < Object.keys(failing).length) {
      const next = await read(input);
      next.ack();
      for (const m of next.batch) {
        const b = body(m);
        if (b.name !== 'ok' && !owed.has(b.name) && endOf(m) === firstEnd) owed.set(b.name, b.value);
      }
    }
    for (const name of Object.keys(failing)) expect(owed.get(name)).toBe(firstEnd / 1000);
  }, 30_000);

  it('accepts answers with warnings (logged, counted) or, with on_warnings: retry, owes them', async () => {
    const sim = await simulator();
    sim.behave('partial', { kind: 'warnings', warnings: ['store 10.0.0.7:10901 unavailable'] });
    const accept = await connected(sim, { queries: [q('partial')] });
    const batch = (await read(accept.input)).batch;
    expect(batch).toHaveLength(1);
    expect(await metricValue(accept.metrics, 'prometheus_query_warnings_total', { query: 'partial' })).toBeGreaterThanOrEqual(1);
    expect(accept.log.lines.join('\n')).toContain('store 10.0.0.7:10901 unavailable');

    const retry = await connected(sim, { queries: [q('partial'), q('fine')], on_warnings: 'retry', state: { path: 'state.db' } });
    const first = await read(retry.input);
    expect(first.batch.map((m) => body(m).name)).toEqual(['fine']);
    sim.behave('partial', undefined);
    let retried: Message | undefined;
    while (!retried) {
      const next = await read(retry.input);
      retried = next.batch.find((m) => body(m).name === 'partial' && endOf(m) === endOf(first.batch[0]!));
    }
    expect(body(retried).value).toBe(endOf(first.batch[0]!) / 1000);
  });

  it('skips NaN and infinite samples (counted), keeps the finite ones', async () => {
    const sim = await simulator();
    sim.behave('mixed', { kind: 'values', values: ['NaN', '2.5', '+Inf', '-Inf', '0'] });
    const { input, metrics } = await connected(sim, { queries: [q('mixed')] });
    const { batch } = await read(input);
    expect(batch.map((m) => body(m).value)).toEqual([2.5, 0]);
    expect(await metricValue(metrics, 'prometheus_samples_skipped_total', { query: 'mixed', reason: 'not_finite' })).toBe(3);
  });

  it('turns each fault into an error that says what happened', async () => {
    const sim = await simulator();
    const client = new PrometheusClient({ url: sim.url, timeoutMs: 500, maxResponseBytes: 100_000, maxSamples: 50, partialResponse: true });
    const cases: [Behaviour, string][] = [
      [{ kind: 'error', status: 400, errorType: 'bad_data', error: 'parse error at char 3' }, 'bad_data: parse error at char 3 (status 400)'],
      [{ kind: 'error', status: 422, errorType: 'execution', error: 'query processing would load too many samples into memory' }, 'execution: query processing would load too many samples into memory (status 422)'],
      [{ kind: 'status', status: 502 }, 'status 502: <html><body>Bad Gateway</body></html>'],
      [{ kind: 'slow', delayMs: 2000 }, 'POST /api/v1/query: no answer within 500ms'],
      [{ kind: 'huge', samples: 5000 }, 'more than 100000 bytes'],
      [{ kind: 'huge', samples: 60 }, 'the result has 60 samples, more than 50'],
      [{ kind: 'matrix' }, 'the result is a matrix, not an instant vector'],
    ];
    try {
      for (const [behaviour, message] of cases) {
        sim.behave('x', behaviour);
        await expect(client.query('x', 1_700_000_000_000, AbortSignal.timeout(5000))).rejects.toThrow(message);
      }
      // partial_response is sent only when a complete answer is required.
      expect(sim.requests.every((r) => r.params['partial_response'] === undefined)).toBe(true);
      expect(sim.requests[0]!.params['time']).toBe('1700000000.000');
    } finally {
      await client.close();
    }
  });

  it('warns at connect when max_backfill reaches past the server\'s retention', async () => {
    expect(prometheusDuration('15d')).toBe(15 * 86_400_000);
    expect(prometheusDuration('1w2d3h')).toBe(9 * 86_400_000 + 3 * 3_600_000);
    expect(prometheusDuration('512MiB')).toBeUndefined();
    const message = 'Prometheus keeps samples for less than state.max_backfill (plus query_offset)';
    const short = await connected(await simulator(1, '512MiB or 2h'), { queries: [q('a')], query_offset: '10m', state: { path: 'state.db', max_backfill: '2h' } });
    expect(short.log.lines.join('\n')).toContain(message);
    expect(short.log.entries().find((e) => String(e['msg']).startsWith(message))).toMatchObject({ max_backfill: '2h0m0s', retention: '2h0m0s' });
    const long = await connected(await simulator(1, '15d'), { queries: [q('a')], state: { path: 'state.db', max_backfill: '2h' } });
    expect(long.log.lines.join('\n')).not.toContain(message);
  });

  it('fails connect with the server error, and never logs header credentials', async () => {
    const sim = await simulator();
    sim.behave('1', { kind: 'error', status: 401, errorType: 'unauthorized', error: 'bad credentials' });
    const log = captureLog();
    const secret = 'Basic c2VjcmV0LXVzZXI6aHVudGVyMg==';
    const input = prometheus.create(validated({ url: sim.url, queries: [q('a')], headers: { Authorization: secret } }), testSettings({ logger: log.logger, secrets: new Secrets() }));
    inputs.push(input);
    await expect(input.connect(new AbortController().signal)).rejects.toThrow(`cannot query Prometheus at ${sim.url}: unauthorized: bad credentials (status 401)`);
    expect(sim.requests[0]!.headers['authorization']).toBe(secret);
    expect(log.lines.join('\n')).not.toContain('c2VjcmV0LXVzZXI6aHVudGVyMg');
  });
});
