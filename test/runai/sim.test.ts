import { afterEach, describe, expect, it } from 'vitest';
import { EXCLUDED_PHASES, encodeQuery } from '../../src/runai/api.js';
import {
  expectedMetrics,
  generateCluster,
  measurements,
  startRunAiSimulator,
  type RunAiSimulator,
  type RunAiSimulatorOptions,
  type SimMeasurement,
} from '../../src/runai/sim.js';

const sims: RunAiSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(options: RunAiSimulatorOptions = {}): Promise<RunAiSimulator> {
  const sim = await startRunAiSimulator(options);
  sims.push(sim);
  return sim;
}

async function token(sim: RunAiSimulator): Promise<string> {
  const res = await post(sim, '/api/v1/token', { grantType: 'app_token', AppId: sim.credentials.id, AppSecret: sim.credentials.secret });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

function post(sim: RunAiSimulator, path: string, body: unknown): Promise<Response> {
  return fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function get(sim: RunAiSimulator, path: string, query: Record<string, string>, bearer?: string): Promise<Response> {
  const headers: Record<string, string> = bearer === undefined ? {} : { authorization: `Bearer ${bearer}` };
  return fetch(`${sim.url}${path}?${encodeQuery(query)}`, { headers });
}

const claims = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('token endpoint', () => {
  it('grants app_token with AppId/AppSecret in any key casing, as a JWT with exp', async () => {
    const sim = await start({ tokenTtlSeconds: 120 });
    for (const [idKey, secretKey] of [['AppId', 'AppSecret'], ['appID', 'appSecret'], ['appId', 'appsecret']]) {
      const res = await post(sim, '/api/v1/token', { grantType: 'app_token', [idKey!]: sim.credentials.id, [secretKey!]: sim.credentials.secret });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { accessToken: string; expiresIn: number };
      expect(body.expiresIn).toBe(120);
      const [header, , signature] = body.accessToken.split('.');
      expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(signature).toMatch(/^[\w-]+$/);
      const exp = claims(body.accessToken)['exp'] as number;
      expect(exp - Date.now() / 1000).toBeGreaterThan(115);
      expect(exp - Date.now() / 1000).toBeLessThanOrEqual(121);
    }
  });

  it('grants client_credentials with clientId/clientSecret', async () => {
    const sim = await start();
    const res = await post(sim, '/api/v1/token', { grantType: 'client_credentials', clientId: sim.credentials.id, clientSecret: sim.credentials.secret });
    expect(res.status).toBe(200);
    expect(sim.requests[0]).toMatchObject({ route: 'token', grantType: 'client_credentials', auth: undefined, status: 200 });
  });

  it('answers 401 {code,message} to bad credentials and 400 to a bad request', async () => {
    const sim = await start();
    const bad = await post(sim, '/api/v1/token', { grantType: 'app_token', AppId: sim.credentials.id, AppSecret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ code: 401, message: 'Issuer is not familiar.' });
    const noGrant = await post(sim, '/api/v1/token', { AppId: 'x' });
    expect(noGrant.status).toBe(400);
    expect(await noGrant.json()).toEqual({ code: 400, message: 'Required parameter is missing' });
    const password = await post(sim, '/api/v1/token', { grantType: 'password' });
    expect(password.status).toBe(400);
    const notJson = await fetch(`${sim.url}/api/v1/token`, { method: 'POST', body: 'AppId=x' });
    expect(notJson.status).toBe(400);
  });

  it('rejects expired and revoked tokens with the documented 401', async () => {
    let now = Date.now();
    const sim = await start({ tokenTtlSeconds: 10, now: () => now });
    const jwt = await token(sim);
    expect((await get(sim, '/api/v1/workloads', {}, jwt)).status).toBe(200);
    now += 11_000;
    const expired = await get(sim, '/api/v1/workloads', {}, jwt);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({ code: 401, message: 'Issuer is not familiar.' });
    const fresh = await token(sim);
    expect((await get(sim, '/api/v1/workloads', {}, fresh)).status).toBe(200);
    sim.revokeTokens();
    expect((await get(sim, '/api/v1/workloads', {}, fresh)).status).toBe(401);
    expect((await get(sim, '/api/v1/workloads', {})).status).toBe(401);
    expect((await get(sim, '/api/v1/workloads', {}, 'a.b.c')).status).toBe(401);
  });

  it('issues opaque tokens when asked', async () => {
    const sim = await start({ opaqueTokens: true });
    const opaque = await token(sim);
    expect(opaque.split('.')).toHaveLength(1);
    expect((await get(sim, '/api/v1/workloads', {}, opaque)).status).toBe(200);
  });
});

describe('GET /api/v1/workloads', () => {
  it('pages with offset/limit and a next that is absent on the last page', async () => {
    const sim = await start({ workloads: 120 });
    const jwt = await token(sim);
    const ids: string[] = [];
    const nexts: (number | undefined)[] = [];
    for (let offset = 0; offset < 120; offset += 50) {
      const body = (await (await get(sim, '/api/v1/workloads', { offset: String(offset), limit: '50' }, jwt)).json()) as { workloads: { id: string }[]; next?: number };
      ids.push(...body.workloads.map((w) => w.id));
      nexts.push(body.next);
    }
    expect(nexts).toEqual([50, 100, undefined]);
    expect(ids).toEqual(sim.cluster.workloads.map((w) => w.id));
    const defaults = (await (await get(sim, '/api/v1/workloads', {}, jwt)).json()) as { workloads: unknown[] };
    expect(defaults.workloads).toHaveLength(50);
  });

  it('rejects a limit outside 1..500 and a non-integer offset', async () => {
    const sim = await start();
    const jwt = await token(sim);
    const queries: Record<string, string>[] = [{ limit: '0' }, { limit: '501' }, { offset: 'x' }, { sortBy: 'bogus' }, { sortOrder: 'up' }];
    for (const query of queries) {
      const res = await get(sim, '/api/v1/workloads', query, jwt);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ code: 400, message: expect.any(String) });
    }
  });

  it('applies the reference phase filter, and every filterBy operator', async () => {
    const sim = await start({ workloads: 300 });
    const jwt = await token(sim);
    const list = async (filterBy: string): Promise<{ id: string; phase: string; name: string; projectId: string }[]> =>
      ((await (await get(sim, '/api/v1/workloads', { filterBy, limit: '500' }, jwt)).json()) as { workloads: never[] }).workloads;
    const all = sim.cluster.workloads;
    const reference = await list(EXCLUDED_PHASES.map((p) => `phase!=${p}`).join(','));
    expect(new Set(reference.map((w) => w.phase))).toEqual(new Set(['Running', 'Deleting', 'Degraded']));
    expect(reference).toHaveLength(all.filter((w) => ['Running', 'Deleting', 'Degraded'].includes(w.phase)).length);
    expect((await list('phase==Pending')).every((w) => w.phase === 'Pending')).toBe(true);
    expect((await list('name=@nlp')).every((w) => w.name.includes('nlp'))).toBe(true);
    expect((await list('name!@nlp')).some((w) => w.name.includes('nlp'))).toBe(false);
    expect((await list('name=^vision-')).every((w) => w.name.startsWith('vision-'))).toBe(true);
    expect((await list('name=$00007')).map((w) => w.name)).toEqual([all[7]!.name]);
    expect((await list('projectId<=2')).every((w) => Number(w.projectId) <= 2)).toBe(true);
    expect((await list('projectId>=5')).every((w) => Number(w.projectId) >= 5)).toBe(true);
    expect((await list('phase==Running,projectId==1')).every((w) => w.phase === 'Running' && w.projectId === '1')).toBe(true);
    const bad = await get(sim, '/api/v1/workloads', { filterBy: 'colour==red' }, jwt);
    expect(bad.status).toBe(400);
  });

  it('refuses more filters than maxFilters, as Run:ai 2.25 documents', async () => {
    const sim = await start({ maxFilters: 10 });
    const jwt = await token(sim);
    const res = await get(sim, '/api/v1/workloads', { filterBy: EXCLUDED_PHASES.map((p) => `phase!=${p}`).join(',') }, jwt);
    expect(res.status).toBe(400);
  });

  it('sorts by a field, ties in creation order', async () => {
    const sim = await start({ workloads: 40 });
    const jwt = await token(sim);
    const body = (await (await get(sim, '/api/v1/workloads', { sortBy: 'name', sortOrder: 'desc', limit: '500' }, jwt)).json()) as { workloads: { name: string }[] };
    const names = body.workloads.map((w) => w.name);
    expect(names).toEqual([...names].sort().reverse());
  });

  it('rotates preemption with churn', async () => {
    let now = 0;
    const sim = await start({ workloads: 200, churn: { periodMs: 1000, fraction: 0.2 }, now: () => now });
    const first = sim.scrapeableWorkloads().map((w) => w.id);
    now = 5000;
    const second = sim.scrapeableWorkloads().map((w) => w.id);
    expect(first).not.toEqual(second);
    expect(second.length).toBeGreaterThan(80);
  });
});

describe('GET /api/v1/workloads/pods', () => {
  it('filters completed pods and adds names with verbosity=full', async () => {
    const sim = await start({ workloads: 80 });
    const jwt = await token(sim);
    const body = (await (await get(sim, '/api/v1/workloads/pods', { completed: 'false', verbosity: 'full', limit: '500' }, jwt)).json()) as {
      pods: { id: string; completedAt: null; workloadName: string; projectName: string }[];
    };
    expect(body.pods.map((p) => p.id)).toEqual(sim.activePods().map((p) => p.id));
    expect(body.pods.every((p) => p.completedAt === null && p.workloadName !== undefined && p.projectName !== undefined)).toBe(true);
    const brief = (await (await get(sim, '/api/v1/workloads/pods', { limit: '500' }, jwt)).json()) as { pods: Record<string, unknown>[] };
    expect(brief.pods.length).toBe(sim.cluster.workloads.reduce((n, w) => n + w.pods.length, 0));
    expect(brief.pods[0]).not.toHaveProperty('workloadName');
    expect((await get(sim, '/api/v1/workloads/pods', { verbosity: 'loud' }, jwt)).status).toBe(400);
  });
});

describe('metrics endpoints', () => {
  const window = { start: Date.parse('2025-01-01T11:59:30Z'), end: Date.parse('2025-01-01T12:00:00Z') };
  const query = (metricType: string, extra: Record<string, string> = {}): Record<string, string> => ({
    metricType,
    start: '2025-01-01T11:59:30Z',
    end: '2025-01-01T12:00:00Z',
    ...extra,
  });

  it('answers numberOfSamples samples per type, the last at the window end, derivable from the seed', async () => {
    const sim = await start({ seed: 7 });
    const jwt = await token(sim);
    const w = sim.scrapeableWorkloads()[0]!;
    const res = await get(sim, `/api/v1/workloads/${w.id}/metrics`, query('GPU_ALLOCATION,CPU_USAGE_CORES', { numberOfSamples: '3' }), jwt);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { measurements: SimMeasurement[] };
    expect(body.measurements.map((m) => m.type)).toEqual(['GPU_ALLOCATION', 'CPU_USAGE_CORES']);
    expect(body.measurements[1]!.values!.map((v) => v.timestamp)).toEqual(['2025-01-01T11:59:40Z', '2025-01-01T11:59:50Z', '2025-01-01T12:00:00Z']);
    expect(body.measurements[0]!.values!.every((v) => Number(v.value) === w.gpu)).toBe(true);
    // The same seed gives the same cluster and values without a server.
    const offline = generateCluster({ seed: 7 }).workloads.find((x) => x.id === w.id)!;
    expect(body.measurements).toEqual(measurements(offline, ['GPU_ALLOCATION', 'CPU_USAGE_CORES'], window, 3));
    const last = await get(sim, `/api/v1/workloads/${w.id}/metrics`, query('CPU_USAGE_CORES', { numberOfSamples: '1' }), jwt);
    const sample = ((await last.json()) as { measurements: SimMeasurement[] }).measurements[0]!.values!;
    expect(Number(sample[0]!.value)).toBe(expectedMetrics(w, ['CPU_USAGE_CORES'], window).values['CPU_USAGE_CORES']);
  });

  it('defaults numberOfSamples to 20 and bounds it to 0..1000', async () => {
    const sim = await start();
    const jwt = await token(sim);
    const id = sim.cluster.workloads[0]!.id;
    const body = (await (await get(sim, `/api/v1/workloads/${id}/metrics`, query('POD_COUNT'), jwt)).json()) as { measurements: SimMeasurement[] };
    expect(body.measurements[0]!.values).toHaveLength(20);
    expect((await get(sim, `/api/v1/workloads/${id}/metrics`, query('POD_COUNT', { numberOfSamples: '1001' }), jwt)).status).toBe(400);
  });

  it('validates metricType against the endpoint enum, and start/end', async () => {
    const sim = await start();
    const jwt = await token(sim);
    const w = sim.cluster.workloads.find((x) => x.pods.length > 0)!;
    const pod = w.pods[0]!;
    const podPath = `/api/v1/workloads/${w.id}/pods/${pod.id}/metrics`;
    const wrongEnum = await get(sim, podPath, query('CPU_LIMIT_CORES'), jwt);
    expect(wrongEnum.status).toBe(400);
    expect(await wrongEnum.json()).toMatchObject({ code: 400, message: 'Invalid metricType: CPU_LIMIT_CORES' });
    expect((await get(sim, `/api/v1/workloads/${w.id}/metrics`, query('GPU_UTILIZATION_PER_GPU'), jwt)).status).toBe(400);
    expect((await get(sim, `/api/v1/workloads/${w.id}/metrics`, { metricType: 'POD_COUNT', end: '2025-01-01T12:00:00Z' }, jwt)).status).toBe(400);
    expect((await get(sim, `/api/v1/workloads/${w.id}/metrics`, query('POD_COUNT', { start: '2023-06-06 12:09:18.211' }), jwt)).status).toBe(400);
    expect((await get(sim, `/api/v1/workloads/${w.id}/metrics`, { metricType: 'POD_COUNT', start: '2025-01-02T00:00:00Z', end: '2025-01-01T00:00:00Z' }, jwt)).status).toBe(400);
    expect((await get(sim, `/api/v1/workloads/${w.id}/metrics`, { start: '2025-01-01T00:00:00Z', end: '2025-01-01T00:00:00Z' }, jwt)).status).toBe(400);
    const notFound = await get(sim, '/api/v1/workloads/00000000-0000-4000-a000-000000000000/metrics', query('POD_COUNT'), jwt);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ code: 404, message: 'Resource id not found.' });
    expect((await get(sim, `/api/v1/workloads/${w.id}/pods/${w.id}/metrics`, query('CPU_USAGE_CORES'), jwt)).status).toBe(404);
  });

  it('labels *_PER_GPU measurements with one gpu each', async () => {
    const sim = await start({ workloads: 200 });
    const jwt = await token(sim);
    const w = sim.cluster.workloads.find((x) => x.pods.some((p) => p.gpuDevices >= 2))!;
    const pod = w.pods.find((p) => p.gpuDevices >= 2)!;
    const body = (await (await get(sim, `/api/v1/workloads/${w.id}/pods/${pod.id}/metrics`, query('GPU_UTILIZATION_PER_GPU,CPU_USAGE_CORES', { numberOfSamples: '1' }), jwt)).json()) as {
      measurements: SimMeasurement[];
    };
    const perGpu = body.measurements.filter((m) => m.type === 'GPU_UTILIZATION_PER_GPU');
    expect(perGpu.map((m) => m.labels)).toEqual(Array.from({ length: pod.gpuDevices }, (_, i) => ({ gpu: String(i) })));
    expect(body.measurements.find((m) => m.type === 'CPU_USAGE_CORES')!.labels).toBeNull();
    const expected = expectedMetrics(pod, ['GPU_UTILIZATION_PER_GPU'], window);
    expect(Object.values(expected.perGpu['GPU_UTILIZATION_PER_GPU']!)).toEqual(perGpu.map((m) => Number(m.values![0]!.value)));
  });

  it('enforces maxMetricTypes when set', async () => {
    const sim = await start({ maxMetricTypes: 9 });
    const jwt = await token(sim);
    const id = sim.cluster.workloads[0]!.id;
    const ten = 'CPU_LIMIT_CORES,CPU_MEMORY_LIMIT_BYTES,CPU_MEMORY_REQUEST_BYTES,CPU_MEMORY_USAGE_BYTES,CPU_REQUEST_CORES,CPU_USAGE_CORES,GPU_ALLOCATION,GPU_MEMORY_REQUEST_BYTES,GPU_MEMORY_USAGE_BYTES,GPU_UTILIZATION';
    expect((await get(sim, `/api/v1/workloads/${id}/metrics`, query(ten), jwt)).status).toBe(400);
  });
});

describe('fault injection and the request log', () => {
  it('injects statuses by route with Retry-After, a bounded number of times', async () => {
    const sim = await start({ faults: [{ route: 'workloads', times: 2, effect: { status: 503, retryAfterSeconds: 1 } }] });
    const jwt = await token(sim);
    const first = await get(sim, '/api/v1/workloads', {}, jwt);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(await first.json()).toEqual({ code: 503, message: 'Please try again in few minutes.' });
    expect((await get(sim, '/api/v1/workloads', {}, jwt)).status).toBe(503);
    expect((await get(sim, '/api/v1/workloads', {}, jwt)).status).toBe(200);
  });

  it('applies error rates from the seeded generator', async () => {
    const sim = await start({ faults: [{ route: 'workload-metrics', rate: 0.5, effect: { status: 500 } }] });
    const jwt = await token(sim);
    const id = sim.cluster.workloads[0]!.id;
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      statuses.push((await get(sim, `/api/v1/workloads/${id}/metrics`, { metricType: 'POD_COUNT', start: '2025-01-01T00:00:00Z', end: '2025-01-01T00:00:30Z' }, jwt)).status);
    }
    const failures = statuses.filter((s) => s === 500).length;
    expect(failures).toBeGreaterThan(15);
    expect(failures).toBeLessThan(45);
  });

  it('serves HTML with 200, truncated JSON and wrong content types', async () => {
    const sim = await start();
    const jwt = await token(sim);
    sim.addFault({ route: 'workloads', times: 1, effect: { malformed: 'html' } });
    sim.addFault({ route: 'workloads', times: 1, effect: { malformed: 'truncated-json' } });
    sim.addFault({ route: 'workloads', times: 1, effect: { malformed: 'wrong-content-type' } });
    const html = await get(sim, '/api/v1/workloads', {}, jwt);
    expect([html.status, html.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    const truncated = await get(sim, '/api/v1/workloads', {}, jwt);
    await expect(truncated.json()).rejects.toThrow();
    const plain = await get(sim, '/api/v1/workloads', {}, jwt);
    expect(plain.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await plain.json()).toHaveProperty('workloads');
  });

  it('corrupts metric values for one resource only', async () => {
    const sim = await start();
    const jwt = await token(sim);
    const [a, b] = sim.cluster.workloads;
    sim.addFault({ route: 'workload-metrics', resourceId: a!.id, effect: { malformed: 'non-numeric' } });
    const q = { metricType: 'POD_COUNT', start: '2025-01-01T00:00:00Z', end: '2025-01-01T00:00:30Z', numberOfSamples: '1' };
    const bad = (await (await get(sim, `/api/v1/workloads/${a!.id}/metrics`, q, jwt)).json()) as { measurements: SimMeasurement[] };
    expect(bad.measurements[0]!.values![0]!.value).toBe('abc');
    const good = (await (await get(sim, `/api/v1/workloads/${b!.id}/metrics`, q, jwt)).json()) as { measurements: SimMeasurement[] };
    expect(good.measurements[0]!.values![0]!.value).toBe(String(b!.podCount));
  });

  it('adds latency and resets connections', async () => {
    const sim = await start({ latencyMs: 100 });
    const began = Date.now();
    await token(sim);
    expect(Date.now() - began).toBeGreaterThanOrEqual(95);
    sim.setLatency(0);
    sim.addFault({ route: 'workloads', times: 1, effect: { reset: true } });
    await expect(get(sim, '/api/v1/workloads', {})).rejects.toThrow();
    expect(sim.requests.at(-1)!.status).toBe(0);
  });

  it('records method, path, decoded query and auth of every request', async () => {
    const sim = await start();
    const jwt = await token(sim);
    await get(sim, '/api/v1/workloads', { filterBy: 'phase!=Pending,phase!=Failed', limit: '100', offset: '0' }, jwt);
    expect(sim.requests.map((r) => [r.method, r.route, r.status])).toEqual([
      ['POST', 'token', 200],
      ['GET', 'workloads', 200],
    ]);
    expect(sim.requests[1]).toMatchObject({ path: '/api/v1/workloads', query: { filterBy: 'phase!=Pending,phase!=Failed', limit: '100', offset: '0' }, auth: jwt });
    sim.clearRequests();
    expect(sim.requests).toHaveLength(0);
  });

  it('caps the request log and reports each answered request', async () => {
    const seen: string[] = [];
    const sim = await start({ maxRecordedRequests: 10, onRequest: (r) => seen.push(`${r.route} ${r.status}`) });
    for (let i = 0; i < 30; i++) await get(sim, '/api/v1/workloads', {});
    expect(sim.requests.length).toBeLessThanOrEqual(11);
    expect(sim.requests.at(-1)!.status).toBe(401);
    expect(seen).toHaveLength(30);
    expect(seen[0]).toBe('workloads 401');
  });

  it('overrides listed fields with patchWorkload', async () => {
    const sim = await start();
    const jwt = await token(sim);
    const id = sim.cluster.workloads[0]!.id;
    sim.patchWorkload(id, { name: null, runningPods: 'two' });
    const body = (await (await get(sim, '/api/v1/workloads', { limit: '1' }, jwt)).json()) as { workloads: Record<string, unknown>[] };
    expect(body.workloads[0]).toMatchObject({ id, name: null, runningPods: 'two' });
    expect(() => sim.patchWorkload('nope', {})).toThrow(/no workload nope/);
  });
});
