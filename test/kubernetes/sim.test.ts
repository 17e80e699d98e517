import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverClusterAccess } from '../../src/kubernetes/config.js';
import { startKubernetesSimulator, type KubernetesSimulator, type KubernetesSimulatorOptions } from '../../src/kubernetes/sim.js';
import { startCli } from '../support/cli.js';
import { never, testClient } from './support.js';

const sims: KubernetesSimulator[] = [];
async function sim(options: KubernetesSimulatorOptions = {}): Promise<KubernetesSimulator> {
  const s = await startKubernetesSimulator({ compactEveryMs: 0, ...options });
  sims.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function call(s: KubernetesSimulator, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${s.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

describe('the Kubernetes simulator', () => {
  it('generates the same cluster from the same seed, and another from another seed', async () => {
    const [a, b, c] = await Promise.all([sim({ seed: 5 }), sim({ seed: 5 }), sim({ seed: 6 })]);
    expect(a.objects('pod')).toEqual(b.objects('pod'));
    expect(a.objects('pod')).not.toEqual(c.objects('pod'));
    const phases = new Set(a.objects('pod').map((p) => (p['status'] as { phase?: string }).phase ?? ''));
    expect([...phases].sort()).toEqual(expect.arrayContaining(['', 'Pending', 'Running']));
  });

  it('serves lists as the API server does: List kind, resourceVersion, continue and remainingItemCount, items without kind', async () => {
    const s = await sim({ pods: 10 });
    const first = await call(s, 'GET', '/api/v1/pods?limit=4');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(first.body).toMatchObject({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: s.resourceVersion, remainingItemCount: 6 } });
    expect(first.body.items).toHaveLength(4);
    expect(first.body.items[0].kind).toBeUndefined();
    const last = await call(s, 'GET', `/api/v1/pods?limit=8&continue=${first.body.metadata.continue}`);
    expect(last.body.items).toHaveLength(6);
    expect(last.body.metadata.continue).toBeUndefined();
    const leases = await call(s, 'GET', '/apis/coordination.k8s.io/v1/leases');
    expect(leases.body).toMatchObject({ kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', items: [] });
  });

  it('answers errors with Status bodies and the documented codes', async () => {
    const s = await sim({ forbidden: [{ verb: 'list', resource: 'pods', namespace: 'ml' }] });
    const unauthenticated = await call(s, 'GET', '/api/v1/pods', undefined, { authorization: 'Bearer nope' });
    expect(unauthenticated).toMatchObject({ status: 401, body: { kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 } });
    const forbidden = await call(s, 'GET', '/api/v1/namespaces/ml/pods');
    expect(forbidden).toMatchObject({
      status: 403,
      body: { reason: 'Forbidden', details: { kind: 'pods' }, message: `pods is forbidden: User "${s.user}" cannot list resource "pods" in API group "" in the namespace "ml"` },
    });
    expect((await call(s, 'GET', '/api/v1/namespaces/ml/nodes')).status).toBe(404);
    expect((await call(s, 'GET', '/api/v1/secrets')).body).toMatchObject({ reason: 'NotFound', message: 'the server could not find the requested resource' });
    expect((await call(s, 'DELETE', '/api/v1/pods')).status).toBe(405);
    expect((await call(s, 'GET', '/api/v1/pods?labelSelector=app%20in%20()')).body).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect((await call(s, 'GET', '/api/v1/pods?limit=-1')).status).toBe(400);
    expect((await call(s, 'GET', '/api/v1/pods?continue=garbage')).body).toMatchObject({ code: 400, message: expect.stringMatching(/continue key is not valid/) });
  });

  it('expires continue tokens at compaction with 410, handing a token to continue from', async () => {
    const s = await sim({ pods: 10 });
    const first = await call(s, 'GET', '/api/v1/pods?limit=4');
    const before = s.objects('pod').map((p) => p.metadata.name);
    s.remove('pod', 'default', s.objects('pod', 'default')[0]!.metadata.name!);
    s.compact();
    const expired = await call(s, 'GET', `/api/v1/pods?limit=4&continue=${first.body.metadata.continue}`);
    expect(expired).toMatchObject({ status: 410, body: { kind: 'Status', reason: 'Expired', code: 410, message: expect.stringMatching(/too old to display a consistent list/) } });
    const resumed = await call(s, 'GET', `/api/v1/pods?limit=100&continue=${expired.body.metadata.continue}`);
    // It goes on after the last key returned, from the current snapshot.
    expect(resumed.body.items.map((p: any) => p.metadata.name)).toEqual(before.slice(4));
  });

  it('keeps Leases with optimistic concurrency and validates them', async () => {
    const s = await sim();
    const path = '/apis/coordination.k8s.io/v1/namespaces/sluice/leases';
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'collector' }, spec: { holderIdentity: 'pod-0', leaseDurationSeconds: 15 } };
    const created = await call(s, 'POST', path, lease);
    expect(created).toMatchObject({ status: 201, body: { kind: 'Lease', metadata: { name: 'collector', namespace: 'sluice' } } });
    expect((await call(s, 'POST', path, lease)).body).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'leases.coordination.k8s.io "collector" already exists' });
    const rv = created.body.metadata.resourceVersion;
    const renewed = await call(s, 'PUT', `${path}/collector`, { ...created.body, spec: { ...created.body.spec, renewTime: '2025-01-01T00:00:00.000000Z' } });
    expect(renewed.status).toBe(200);
    expect(Number(renewed.body.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    expect((await call(s, 'PUT', `${path}/collector`, created.body)).body).toMatchObject({ code: 409, reason: 'Conflict' });
    const { resourceVersion: _rv, ...noVersion } = created.body.metadata;
    expect((await call(s, 'PUT', `${path}/collector`, { ...created.body, metadata: noVersion })).body).toMatchObject({
      code: 422,
      reason: 'Invalid',
      details: { causes: [{ field: 'metadata.resourceVersion' }] },
    });
    expect((await call(s, 'PUT', `${path}/other`, renewed.body)).body).toMatchObject({ code: 400, message: expect.stringMatching(/does not match the name on the URL/) });
    expect((await call(s, 'POST', path, { metadata: { name: 'Not_Valid' }, spec: {} })).body).toMatchObject({ code: 422, reason: 'Invalid' });
    expect((await call(s, 'POST', path, JSON.stringify(lease), { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call(s, 'POST', '/apis/coordination.k8s.io/v1/leases', lease)).status).toBe(405);
    expect((await call(s, 'DELETE', `${path}/collector`)).status).toBe(200);
    expect((await call(s, 'GET', `${path}/collector`)).body).toMatchObject({ code: 404, reason: 'NotFound', message: 'leases.coordination.k8s.io "collector" not found' });
  });

  it('injects faults from a seeded generator, with Retry-After on 429', async () => {
    const rates = async () => {
      const s = await sim({ faults: [{ route: 'pods', rate: 0.5, effect: { status: 429, retryAfterSeconds: 2 } }] });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await call(s, 'GET', '/api/v1/pods?limit=1');
        statuses.push(r.status);
        if (r.status === 429) expect(r.headers.get('retry-after')).toBe('2');
      }
      return statuses;
    };
    const [a, b] = [await rates(), await rates()];
    expect(a).toEqual(b);
    expect(a).toContain(429);
    expect(a).toContain(200);
  });

  it('runs as `sluice sim kubernetes`, writing a kubeconfig a client can use', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-sim-cli-')), 'kubeconfig');
    const proc = startCli(['sim', 'kubernetes', '--pods', '7', '--seed', '3', '--kubeconfig', file]);
    try {
      const started = Date.now();
      while (!proc.stdout.includes('export KUBECONFIG') && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
      expect(proc.stdout).toMatch(/Kubernetes simulator: 7 pods in 4 namespaces, 4 nodes, 2 volumes \(seed 3\) at http:\/\/127\.0\.0\.1:\d+/);
      expect(proc.stdout).toContain(`export KUBECONFIG=${file}`);
      const { client } = testClient(discoverClusterAccess({ env: { KUBECONFIG: file } }));
      expect((await client.list('pod', {}, never)).items).toHaveLength(7);
      await client.close();
    } finally {
      proc.child.kill('SIGINT');
      expect(await proc.exited).toBe(0);
    }
  });
});
