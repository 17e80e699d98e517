import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/engine/metrics.js';
import { Secrets } from '../../src/engine/secrets.js';
import { DEFAULT_METRICS } from '../../src/components/inputs/run_ai.js';
import { EXCLUDED_PHASES, POD_METRIC_TYPES } from '../../src/runai/api.js';
import { RunAiClient } from '../../src/runai/client.js';
import { RunAiError } from '../../src/runai/errors.js';
import type { RunAiClientOptions } from '../../src/runai/options.js';
import { expectedMetrics, startRunAiSimulator, type RunAiSimulator, type RunAiSimulatorOptions } from '../../src/runai/sim.js';
import { captureLog, metricValue, seriesName } from './helpers.js';

const WORKLOAD_METRICS = DEFAULT_METRICS.workload;
const WINDOW = { start: Date.parse('2025-01-01T11:59:30Z'), end: Date.parse('2025-01-01T12:00:00Z') };

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

async function start(options: RunAiSimulatorOptions = {}): Promise<RunAiSimulator> {
  const sim = await startRunAiSimulator(options);
  opened.push(sim);
  return sim;
}

interface Harness {
  client: RunAiClient;
  metrics: Metrics;
  secrets: Secrets;
  lines: string[];
}

function connect(sim: RunAiSimulator, overrides: Partial<RunAiClientOptions> = {}): Harness {
  const metrics = new Metrics();
  const secrets = new Secrets();
  const { logger, lines } = captureLog();
  const client = new RunAiClient({
    url: sim.url,
    credentials: { grantType: 'app_token', appId: sim.credentials.id, appSecret: sim.credentials.secret },
    pageSize: 100,
    http: { timeoutMs: 2000, retryCount: 1, retryWaitMs: 10, retryMaxWaitMs: 50 },
    logger,
    metrics,
    secrets,
    ...overrides,
  });
  opened.push(client);
  return { client, metrics, secrets, lines };
}

const signal = (): AbortSignal => new AbortController().signal;
const routes = (sim: RunAiSimulator): string[] => sim.requests.map((r) => `${r.route} ${r.status}`);

describe('token flow', () => {
  it('fetches one token and reuses it for every request', async () => {
    const sim = await start({ workloads: 30 });
    const { client, secrets } = connect(sim);
    const listing = await client.listWorkloads(signal());
    await Promise.all(listing.items.map((w) => client.metrics({ kind: 'workload', workloadId: w.id }, WORKLOAD_METRICS, WINDOW, signal())));
    const tokens = sim.requests.filter((r) => r.route === 'token');
    expect(tokens).toHaveLength(1);
    const data = sim.requests.filter((r) => r.route !== 'token');
    const jwt = data[0]!.auth!;
    expect(data.every((r) => r.auth === jwt && r.status === 200)).toBe(true);
    expect(secrets.scrub(`Bearer-less ${jwt} and ${sim.credentials.secret}`)).toBe('Bearer-less [REDACTED] and [REDACTED]');
  });

  it('sends app_token as AppId/AppSecret and client_credentials as clientID/clientSecret', async () => {
    const sim = await start();
    await connect(sim).client.token(signal());
    const cc = connect(sim, { credentials: { grantType: 'client_credentials', clientId: sim.credentials.id, clientSecret: sim.credentials.secret } });
    await cc.client.token(signal());
    expect(sim.requests.map((r) => [r.grantType, r.status])).toEqual([
      ['app_token', 200],
      ['client_credentials', 200],
    ]);
  });

  it('refreshes a token before its exp, so a scrape spanning expiry sees no 401', async () => {
    // Tokens live at most 2s; the scrape takes about 3s: the client must renew mid-scrape, ahead of exp.
    const sim = await start({ workloads: 40, tokenTtlSeconds: 2, latencyMs: 200, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
    const { client } = connect(sim, { pageSize: 10, concurrency: 4 });
    const listing = await client.listWorkloads(signal());
    expect(listing.items).toHaveLength(40);
    await Promise.all(listing.items.map((w) => client.metrics({ kind: 'workload', workloadId: w.id }, WORKLOAD_METRICS.slice(0, 3), WINDOW, signal())));
    const tokens = sim.requests.filter((r) => r.route === 'token').length;
    expect(tokens).toBeGreaterThanOrEqual(2);
    expect(tokens).toBeLessThanOrEqual(4);
    expect(sim.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('re-fetches the token after a 401 and retries the request once', async () => {
    const sim = await start();
    const { client } = connect(sim);
    const id = sim.scrapeableWorkloads()[0]!.id;
    await client.metrics({ kind: 'workload', workloadId: id }, ['POD_COUNT'], WINDOW, signal());
    sim.revokeTokens();
    const values = await client.metrics({ kind: 'workload', workloadId: id }, ['POD_COUNT'], WINDOW, signal());
    expect(values.values['POD_COUNT']).toBe(sim.resource(id)!.podCount);
    expect(routes(sim)).toEqual(['token 200', 'workload-metrics 200', 'workload-metrics 401', 'token 200', 'workload-metrics 200']);
  });

  it('fails after a second 401 instead of looping', async () => {
    const sim = await start({ faults: [{ route: 'workload-metrics', effect: { status: 401 } }] });
    const { client } = connect(sim);
    const id = sim.cluster.workloads[0]!.id;
    const error = await client.metrics({ kind: 'workload', workloadId: id }, ['POD_COUNT'], WINDOW, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunAiError);
    expect((error as RunAiError).status).toBe(401);
    expect(routes(sim)).toEqual(['token 200', 'workload-metrics 401', 'token 200', 'workload-metrics 401']);
  });

  it('reports bad credentials as an auth error without the secret', async () => {
    const sim = await start();
    const { client, lines } = connect(sim, { credentials: { grantType: 'app_token', appId: 'someone', appSecret: 'not-the-secret' } });
    const error = (await client.token(signal()).catch((e: unknown) => e)) as RunAiError;
    expect(error.kind).toBe('auth');
    expect(error.message).toBe('/api/v1/token: status 401 Issuer is not familiar.; check app_id and app_secret');
    expect(lines.join('\n')).not.toContain('not-the-secret');
  });

  it('keeps an opaque token until a 401, using expiresIn', async () => {
    const sim = await start({ opaqueTokens: true, workloads: 10 });
    const { client } = connect(sim);
    await client.listWorkloads(signal());
    await client.listWorkloads(signal());
    expect(sim.requests.filter((r) => r.route === 'token')).toHaveLength(1);
  });
});

describe('listing', () => {
  it('pages by rows returned, so rows filtered out shift nothing (the reference bug)', async () => {
    // All Running, 30% with no pods: the server returns 250 rows, the client keeps about 175.
    const sim = await start({ workloads: 250, phases: { Running: 1 }, zeroPodRunningFraction: 0.3 });
    const { client, metrics } = connect(sim);
    const listing = await client.listWorkloads(signal());
    const expected = sim.scrapeableWorkloads().map((w) => w.id);
    expect(expected.length).toBeLessThan(200);
    expect(listing.items.map((w) => w.id).sort()).toEqual([...expected].sort());
    expect(listing.duplicates).toBe(0);
    const pages = sim.requests.filter((r) => r.route === 'workloads');
    // The reference would ask for offset 100 - (rows dropped on page 1) and list some rows twice.
    expect(pages.map((r) => r.query['offset'])).toEqual(['0', '100', '200']);
    expect(pages[0]!.query).toEqual({
      filterBy: EXCLUDED_PHASES.map((p) => `phase!=${p}`).join(','),
      limit: '100',
      offset: '0',
      sortBy: 'createdAt',
      sortOrder: 'asc',
    });
    expect(await metricValue(metrics, 'run_ai_resource_count', { type: 'workload' })).toBe(expected.length);
  });

  it('lists every scrapeable workload exactly once for any page size and cluster', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 5, max: 500 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (count, pageSize, seed, zeroPods) => {
          const sim = await startRunAiSimulator({ workloads: count, seed, zeroPodRunningFraction: zeroPods });
          const { client } = connect(sim, { pageSize });
          try {
            const ids = (await client.listWorkloads(signal())).items.map((w) => w.id);
            expect(new Set(ids).size).toBe(ids.length);
            expect(ids.sort()).toEqual(sim.scrapeableWorkloads().map((w) => w.id).sort());
            const served = sim.cluster.workloads.filter((w) => ['Running', 'Deleting', 'Degraded'].includes(w.phase)).length;
            expect(sim.requests.filter((r) => r.route === 'workloads')).toHaveLength(Math.max(1, Math.ceil(served / pageSize)));
          } finally {
            await client.close();
            await sim.close();
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('falls back to local filtering when the server refuses 11 filters', async () => {
    const sim = await start({ workloads: 120, maxFilters: 10 });
    const { client, lines } = connect(sim);
    const first = await client.listWorkloads(signal());
    const second = await client.listWorkloads(signal());
    const expected = sim.scrapeableWorkloads().map((w) => w.id).sort();
    expect(first.items.map((w) => w.id).sort()).toEqual(expected);
    expect(second.items.map((w) => w.id).sort()).toEqual(expected);
    expect(routes(sim).filter((r) => r.startsWith('workloads'))).toEqual(['workloads 400', 'workloads 200', 'workloads 200', 'workloads 200', 'workloads 200']);
    expect(lines.filter((l) => l.includes('refused the listing filter or sort'))).toHaveLength(1);
  });

  it('lists non-completed pods with verbosity=full', async () => {
    const sim = await start({ workloads: 60 });
    const { client, metrics } = connect(sim);
    const listing = await client.listPods(signal());
    expect(listing.items.map((p) => p.id).sort()).toEqual(sim.activePods().map((p) => p.id).sort());
    expect(sim.requests.find((r) => r.route === 'pods')!.query).toMatchObject({ completed: 'false', verbosity: 'full' });
    const pod = listing.items[0]!;
    expect(Object.keys(pod)).toEqual([
      'name', 'id', 'priorityClassName', 'workloadId', 'clusterId', 'projectId', 'nodeName', 'createdAt', 'completedAt', 'containers',
      'currentNodePool', 'requestedNodePool', 'requestedResources', 'allocatedResources', 'k8sPhase', 'tenantId', 'k8sPhaseUpdatedAt',
      'updatedAt', 'projectName', 'workloadName',
    ]);
    expect(pod.requestedNodePool).toBeNull();
    expect(await metricValue(metrics, 'run_ai_resource_count', { type: 'pod' })).toBe(listing.items.length);
  });

  it('decodes rows as the reference does: its keys, its order, Go zero values', async () => {
    const sim = await start({ workloads: 5, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
    const { client } = connect(sim);
    const [w] = (await client.listWorkloads(signal())).items;
    expect(Object.keys(w!)).toEqual([
      'tenantId', 'type', 'namespace', 'name', 'id', 'priorityClassName', 'submittedBy', 'clusterId', 'projectName', 'projectId',
      'departmentName', 'departmentId', 'runningPods', 'workloadRequestedResources', 'allocatedResources', 'phase', 'preemptible',
      'requestedPods', 'idleGpus', 'idleAllocatedGpus', 'createdAt',
    ]);
    expect(w!.requestedPods).toEqual({ count: 0 });
    expect(Object.keys(w!.workloadRequestedResources)).toEqual(['gpuRequestType', 'gpu', 'gpuMemory', 'cpu', 'cpuMemory']);
  });

  it('keeps rows with null or wrong-typed fields, zeroed and reported', async () => {
    const sim = await start({ workloads: 20, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
    const [a, b] = sim.cluster.workloads;
    sim.patchWorkload(a!.id, { name: null, allocatedResources: null, createdAt: null, runningPods: 'two', tenantId: 1.5, preemptible: null });
    sim.patchWorkload(b!.id, { id: null });
    const { client, metrics } = connect(sim);
    const listing = await client.listWorkloads(signal());
    expect(listing.items).toHaveLength(19);
    const decoded = listing.items.find((w) => w.id === a!.id)!;
    expect(decoded).toMatchObject({ name: '', runningPods: 0, tenantId: 0, createdAt: '0001-01-01T00:00:00Z', allocatedResources: { gpu: 0, gpuMemory: '', cpu: 0, cpuMemory: '' } });
    expect(decoded).not.toHaveProperty('preemptible');
    expect(listing.skipped).toBe(1);
    expect(listing.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^workloads\[\d+\]\.runningPods: expected integer, got string$/),
        expect.stringMatching(/^workloads\[\d+\]\.tenantId: expected integer, got number$/),
        expect.stringMatching(/^workloads\[\d+\]\.id: expected non-empty string, got null$/),
      ]),
    );
    expect(await metricValue(metrics, 'run_ai_malformed_total', { kind: 'field' })).toBe(1);
    expect(await metricValue(metrics, 'run_ai_malformed_total', { kind: 'row' })).toBe(1);
  });

  it('rejects a listing answered with HTML and 200', async () => {
    const sim = await start({ faults: [{ route: 'workloads', effect: { malformed: 'html' } }] });
    const { client, metrics } = connect(sim);
    const error = (await client.listWorkloads(signal()).catch((e: unknown) => e)) as RunAiError;
    expect(error.kind).toBe('malformed');
    expect(error.message).toBe('/api/v1/workloads: answered 200 with content type text/html; charset=utf-8, not JSON');
    expect(await metricValue(metrics, 'run_ai_malformed_total', { kind: 'content_type' })).toBe(1);
  });
});

describe('metrics', () => {
  it('chunks more than 9 metric types into requests of at most 9, in order', async () => {
    const sim = await start({ maxMetricTypes: 9, workloads: 40 });
    const { client } = connect(sim);
    const w = sim.scrapeableWorkloads()[0]!;
    const values = await client.metrics({ kind: 'workload', workloadId: w.id }, WORKLOAD_METRICS, WINDOW, signal());
    expect(values).toEqual(expectedMetrics(w, WORKLOAD_METRICS, WINDOW));
    const calls = sim.requests.filter((r) => r.route === 'workload-metrics');
    expect(calls.map((r) => r.query['metricType']!.split(','))).toEqual([WORKLOAD_METRICS.slice(0, 9), WORKLOAD_METRICS.slice(9)]);
    expect(calls[0]!.query).toMatchObject({ start: '2025-01-01T11:59:30Z', end: '2025-01-01T12:00:00Z', numberOfSamples: '1' });

    const pod = sim.activePods().find((p) => p.gpuDevices >= 2) ?? sim.activePods()[0]!;
    sim.clearRequests();
    const podTypes = POD_METRIC_TYPES.filter((t) => !t.startsWith('NIM_') && !t.startsWith('NVLINK'));
    expect(podTypes).toHaveLength(19);
    await client.metrics({ kind: 'pod', workloadId: pod.workloadId, podId: pod.id }, podTypes, WINDOW, signal());
    expect(sim.requests.filter((r) => r.route === 'pod-metrics').map((r) => r.query['metricType']!.split(',').length)).toEqual([9, 9, 1]);
  });

  it('keeps one value per GPU for per-GPU metrics', async () => {
    const sim = await start({ workloads: 200 });
    const { client } = connect(sim);
    const pod = sim.activePods().find((p) => p.gpuDevices >= 4)!;
    const types = ['GPU_UTILIZATION_PER_GPU', 'GPU_MEMORY_USAGE_BYTES_PER_GPU', 'CPU_USAGE_CORES'];
    const values = await client.metrics({ kind: 'pod', workloadId: pod.workloadId, podId: pod.id }, types, WINDOW, signal());
    const truth = expectedMetrics(pod, types, WINDOW);
    expect(values).toEqual(truth);
    expect(Object.keys(values.perGpu['GPU_UTILIZATION_PER_GPU']!)).toEqual(['0', '1', '2', '3'].slice(0, pod.gpuDevices).concat(Object.keys(values.perGpu['GPU_UTILIZATION_PER_GPU']!).slice(4)));
    // values[type] is the reference's reading: the last GPU listed.
    expect(values.values['GPU_UTILIZATION_PER_GPU']).toBe(values.perGpu['GPU_UTILIZATION_PER_GPU']![String(pod.gpuDevices - 1)]);
    const cpuOnly = sim.activePods().find((p) => p.gpuDevices === 0)!;
    const none = await client.metrics({ kind: 'pod', workloadId: cpuOnly.workloadId, podId: cpuOnly.id }, types, WINDOW, signal());
    expect(none.perGpu).toEqual({ GPU_UTILIZATION_PER_GPU: {}, GPU_MEMORY_USAGE_BYTES_PER_GPU: {} });
    expect(none.values).not.toHaveProperty('GPU_UTILIZATION_PER_GPU');
  });

  it('records run_ai_http_request_ns with normalised urls', async () => {
    const sim = await start({ workloads: 20 });
    const { client, metrics } = connect(sim);
    const [w] = (await client.listWorkloads(signal())).items;
    await client.listPods(signal());
    const pod = sim.activePods()[0]!;
    await client.metrics({ kind: 'workload', workloadId: w!.id }, ['POD_COUNT'], WINDOW, signal());
    await client.metrics({ kind: 'pod', workloadId: pod.workloadId, podId: pod.id }, ['CPU_USAGE_CORES'], WINDOW, signal());
    const data = await metrics.registry.getSingleMetric('run_ai_http_request_ns')!.get();
    const labelSets = new Set(data.values.filter((v) => seriesName(v) === 'run_ai_http_request_ns_count').map((v) => `${v.labels['url']} ${v.labels['status_code']}`));
    expect([...labelSets].sort()).toEqual([
      '/api/v1/token 200',
      '/api/v1/workloads 200',
      '/api/v1/workloads/:workloadID/metrics 200',
      '/api/v1/workloads/:workloadID/pods/:podID/metrics 200',
      '/api/v1/workloads/pods 200',
    ]);
  });
});

describe('retries', () => {
  const id = (sim: RunAiSimulator): string => sim.cluster.workloads[0]!.id;
  const fetchOne = (client: RunAiClient, sim: RunAiSimulator) => client.metrics({ kind: 'workload', workloadId: id(sim) }, ['POD_COUNT'], WINDOW, signal());

  it('retries 503, 429 (honouring Retry-After), timeouts and resets, then succeeds', async () => {
    for (const effect of [{ status: 503 }, { status: 429, retryAfterSeconds: 0 }, { delayMs: 400 }, { reset: true as const }]) {
      const sim = await start({ faults: [{ route: 'workload-metrics', times: 1, effect }] });
      const { client } = connect(sim, { http: { timeoutMs: 200, retryCount: 1, retryWaitMs: 10, retryMaxWaitMs: 50 } });
      const values = await fetchOne(client, sim);
      expect(values.values['POD_COUNT']).toBe(sim.resource(id(sim))!.podCount);
      expect(sim.requests.filter((r) => r.route === 'workload-metrics')).toHaveLength(2);
    }
  });

  it('gives up after retry_count retries with the last status', async () => {
    const sim = await start({ faults: [{ route: 'workload-metrics', effect: { status: 500 } }] });
    const { client } = connect(sim, { http: { timeoutMs: 1000, retryCount: 2, retryWaitMs: 10, retryMaxWaitMs: 20 } });
    const error = (await fetchOne(client, sim).catch((e: unknown) => e)) as RunAiError;
    expect([error.kind, error.status, error.message]).toEqual(['status', 500, '/api/v1/workloads/:workloadID/metrics: status 500 Something went wrong.']);
    expect(sim.requests.filter((r) => r.route === 'workload-metrics')).toHaveLength(3);
  });

  it('gives up on timeouts with a timeout error', async () => {
    const sim = await start({ faults: [{ route: 'workload-metrics', effect: { delayMs: 300 } }] });
    const { client } = connect(sim, { http: { timeoutMs: 100, retryCount: 1, retryWaitMs: 10, retryMaxWaitMs: 20 } });
    const error = (await fetchOne(client, sim).catch((e: unknown) => e)) as RunAiError;
    expect([error.kind, error.message]).toEqual(['timeout', 'GET /api/v1/workloads/:workloadID/metrics: no answer within 100ms']);
  });

  it('does not retry a 400 or 404', async () => {
    const sim = await start();
    const { client } = connect(sim);
    const bad = (await client.metrics({ kind: 'workload', workloadId: id(sim) }, ['NOT_A_METRIC'], WINDOW, signal()).catch((e: unknown) => e)) as RunAiError;
    expect([bad.status, bad.message]).toEqual([400, '/api/v1/workloads/:workloadID/metrics: status 400 Invalid metricType: NOT_A_METRIC']);
    const gone = (await client.metrics({ kind: 'workload', workloadId: 'nope' }, ['POD_COUNT'], WINDOW, signal()).catch((e: unknown) => e)) as RunAiError;
    expect(gone.status).toBe(404);
    expect(sim.requests.filter((r) => r.route === 'workload-metrics')).toHaveLength(2);
  });

  it('stops promptly when the caller aborts', async () => {
    const sim = await start({ latencyMs: 5000 });
    const { client } = connect(sim);
    const controller = new AbortController();
    const began = Date.now();
    const pending = client.listWorkloads(controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('stop')), 50);
    expect(((await pending) as Error).message).toBe('stop');
    expect(Date.now() - began).toBeLessThan(1000);
  });
});

describe('malformed metrics answers', () => {
  const cases = [
    ['html', 'content_type'],
    ['wrong-content-type', 'content_type'],
    ['truncated-json', 'json'],
    ['empty-body', 'json'],
    ['missing-array', 'shape'],
    ['non-numeric', 'value'],
    ['nan', 'value'],
    ['negative', 'value'],
  ] as const;

  it.each(cases)('%s is a malformed error counted as %s, never a number', async (malformed, kind) => {
    const sim = await start({ faults: [{ route: 'workload-metrics', effect: { malformed } }] });
    const { client, metrics } = connect(sim);
    const w = sim.cluster.workloads[0]!;
    const error = (await client.metrics({ kind: 'workload', workloadId: w.id }, ['POD_COUNT', 'GPU_ALLOCATION'], WINDOW, signal()).catch((e: unknown) => e)) as RunAiError;
    expect(error).toBeInstanceOf(RunAiError);
    expect(error.kind).toBe('malformed');
    expect(error.message).toMatch(/^\/api\/v1\/workloads\/:workloadID\/metrics: /);
    expect(await metricValue(metrics, 'run_ai_malformed_total', { kind })).toBe(1);
    // Malformed answers are not retried: the next scrape retries the resource's window instead.
    expect(sim.requests.filter((r) => r.route === 'workload-metrics')).toHaveLength(1);
  });

  it('reads values: null as 0 (the spec allows it) and counts it; ignores unparsable timestamps', async () => {
    const sim = await start({ faults: [{ route: 'workload-metrics', times: 1, effect: { malformed: 'null-values' } }, { route: 'workload-metrics', times: 1, effect: { malformed: 'bad-timestamp' } }] });
    const { client, metrics } = connect(sim);
    const w = sim.cluster.workloads[0]!;
    const empty = await client.metrics({ kind: 'workload', workloadId: w.id }, ['POD_COUNT'], WINDOW, signal());
    expect(empty.values).toEqual({ POD_COUNT: 0 });
    expect(await metricValue(metrics, 'run_ai_malformed_total', { kind: 'empty_values' })).toBe(1);
    const stamped = await client.metrics({ kind: 'workload', workloadId: w.id }, ['POD_COUNT'], WINDOW, signal());
    expect(stamped.values).toEqual({ POD_COUNT: w.podCount });
  });
});

describe('scale', () => {
  // Correctness at scale; its speed is bench/scrape.mjs's to measure (a wall-clock bound here
  // fails on a busy machine). RUNAI_SCALE_WORKLOADS=10000 raises the count.
  const workloads = Number(process.env['RUNAI_SCALE_WORKLOADS'] ?? 2000);

  it(`lists and fetches ${workloads} workloads at 25 ms latency, every one with its own metrics`, async () => {
    const sim = await start({ workloads, latencyMs: 25, phases: { Running: 1 }, zeroPodRunningFraction: 0 });
    const { client } = connect(sim, { pageSize: 500, http: { timeoutMs: 30_000, retryCount: 1, retryWaitMs: 100, retryMaxWaitMs: 1000 } });
    const began = performance.now();
    const listing = await client.listWorkloads(signal());
    const listed = performance.now();
    const results = await Promise.all(listing.items.map((w) => client.metrics({ kind: 'workload', workloadId: w.id }, WORKLOAD_METRICS, WINDOW, signal())));
    const took = performance.now() - began;
    const requests = sim.requests.length;
    console.log(
      `scale: ${workloads} workloads, ${requests} requests, listing ${Math.round(listed - began)} ms, total ${Math.round(took)} ms, ${Math.round((requests / took) * 1000)} req/s`,
    );
    expect(results).toHaveLength(workloads);
    listing.items.forEach((w, i) => expect(results[i]).toEqual(expectedMetrics(sim.resource(w.id)!, WORKLOAD_METRICS, WINDOW)));
  }, 60_000);
});
