import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubernetesError, MAX_LIST_RESTARTS } from '../../src/kubernetes/client.js';
import { startKubernetesSimulator, type KubernetesSimulator, type KubernetesSimulatorOptions } from '../../src/kubernetes/sim.js';
import type { KubeObject } from '../../src/kubernetes/api.js';
import { never, simAccess, testClient, TLS } from './support.js';

const sims: KubernetesSimulator[] = [];
const closers: (() => Promise<void>)[] = [];
async function sim(options: KubernetesSimulatorOptions = {}): Promise<KubernetesSimulator> {
  const s = await startKubernetesSimulator({ compactEveryMs: 0, ...options });
  sims.push(s);
  return s;
}
function client(...args: Parameters<typeof testClient>) {
  const made = testClient(...args);
  closers.push(() => made.client.close());
  return made;
}
afterEach(async () => {
  await Promise.all([...sims.splice(0).map((s) => s.close()), ...closers.splice(0).map((c) => c())]);
});

/** A write elsewhere in the cluster, then a compaction: every continue token issued so far expires. */
function expireSnapshots(s: KubernetesSimulator): void {
  const node = s.objects('node')[0]!;
  s.put('node', { ...node, metadata: { ...node.metadata, labels: { ...node.metadata.labels, touched: String(Date.now()) } } });
  s.compact();
}

const names = (items: KubeObject[]) => items.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);

describe('KubernetesClient.list', () => {
  it('pages with limit and continue until the last page, and sets kind and apiVersion on every item', async () => {
    const s = await sim({ pods: 23 });
    const { client: c } = client(simAccess(s), { pageSize: 5 });
    const result = await c.list('pod', {}, never);
    expect(names(result.items)).toEqual(names(s.objects('pod')));
    expect(result.items).toHaveLength(23);
    expect(result.pages).toBe(5);
    expect(result.items.every((o) => o.kind === 'Pod' && o.apiVersion === 'v1')).toBe(true);
    const lists = s.requests.filter((r) => r.route === 'pods');
    expect(lists.map((r) => r.query.limit)).toEqual(['5', '5', '5', '5', '5']);
    expect(lists[0]!.query.continue).toBeUndefined();
    expect(lists.slice(1).every((r) => r.query.continue)).toBe(true);
    expect(result.resourceVersion).toBe(s.resourceVersion);
  });

  it('lists one namespace, cluster-scoped resources, and what a label selector selects', async () => {
    const s = await sim({ pods: 30 });
    const { client: c } = client(simAccess(s), { pageSize: 4 });
    const teamA = await c.list('pod', { namespace: 'team-a' }, never);
    expect(names(teamA.items)).toEqual(names(s.objects('pod', 'team-a')));
    expect(s.requests.at(-1)!.path).toBe('/api/v1/namespaces/team-a/pods');
    const seeds = await c.list('pod', { labelSelector: 'app=seed' }, never);
    expect(names(seeds.items)).toEqual(names(s.objects('pod').filter((p) => p.metadata.labels?.['app'] === 'seed')));
    expect(seeds.items.length).toBeGreaterThan(0);
    const nodes = await c.list('node', { namespace: 'team-a' }, never);
    expect(nodes.items.map((n) => n.kind)).toEqual(s.objects('node').map(() => 'Node'));
    expect(s.requests.at(-1)!.path).toBe('/api/v1/nodes');
    const pvcs = await c.list('persistentvolumeclaim', {}, never);
    expect(pvcs.items).toHaveLength(s.objects('persistentvolumeclaim').length);
    expect(pvcs.items[0]!.kind).toBe('PersistentVolumeClaim');
  });

  it('reads one consistent snapshot although the cluster changes between pages', async () => {
    let pages = 0;
    const s: KubernetesSimulator = await sim({
      pods: 12,
      onRequest: (r) => {
        if (r.route !== 'pods' || ++pages !== 1) return;
        const [first] = s.objects('pod');
        s.remove('pod', first!.metadata.namespace, first!.metadata.name!);
        s.put('pod', { metadata: { name: 'zz-late', namespace: 'team-b', uid: 'late' }, spec: {}, status: { phase: 'Running' } });
      },
    });
    const before = names(s.objects('pod'));
    const { client: c } = client(simAccess(s), { pageSize: 5 });
    const result = await c.list('pod', {}, never);
    expect(names(result.items)).toEqual(before);
    expect(result.restarts).toBe(0);
  });

  it('starts over when its continue token expires (410), then continues inconsistently, without duplicates', async () => {
    const s: KubernetesSimulator = await sim({ pods: 12, onRequest: (r) => r.route === 'pods' && r.status === 200 && expireSnapshots(s) });
    const { client: c, metrics } = client(simAccess(s), { pageSize: 5 });
    const result = await c.list('pod', {}, never);
    expect(result.restarts).toBe(MAX_LIST_RESTARTS);
    expect(result.inconsistent).toBe(true);
    expect(names(result.items)).toEqual(names(s.objects('pod')));
    expect(s.requests.filter((r) => r.status === 410)).toHaveLength(MAX_LIST_RESTARTS + 2);
    const counted = (await metrics.registry.getSingleMetric('kubernetes_list_restarts_total')!.get()).values;
    expect(Object.fromEntries(counted.map((v) => [v.labels['outcome'], v.value]))).toEqual({ restarted: MAX_LIST_RESTARTS, inconsistent: 2 });
  });

  it('recovers a consistent list when the snapshot expired once', async () => {
    let compacted = false;
    const s: KubernetesSimulator = await sim({ pods: 12, onRequest: (r) => r.route === 'pods' && !compacted && (compacted = true) && expireSnapshots(s) });
    const { client: c } = client(simAccess(s), { pageSize: 5 });
    const result = await c.list('pod', {}, never);
    expect(result).toMatchObject({ restarts: 1, inconsistent: false });
    expect(names(result.items)).toEqual(names(s.objects('pod')));
  });

  it('stops on a continue token the server repeats instead of looping', async () => {
    const s = await sim({ pods: 12, faults: [{ route: 'pods', effect: { malformed: 'repeat-continue' } }] });
    const { client: c } = client(simAccess(s), { pageSize: 5 });
    await expect(c.list('pod', {}, never)).rejects.toThrow(/returned a continue token it had returned before \(page 2\)/);
    expect(s.requests.filter((r) => r.route === 'pods')).toHaveLength(2);
  });

  it('is bounded in pages, bytes and time', async () => {
    const s = await sim({ pods: 30 });
    const pages = client(simAccess(s), { pageSize: 5, limits: { maxPages: 2 } }).client;
    await expect(pages.list('pod', {}, never)).rejects.toMatchObject({ kind: 'limit', message: expect.stringMatching(/stopped after 2 pages of 5/) });
    const bytes = client(simAccess(s), { pageSize: 5, limits: { maxBytes: 20_000 } }).client;
    await expect(bytes.list('pod', {}, never)).rejects.toMatchObject({ kind: 'limit', message: expect.stringMatching(/exceeded 20000 bytes/) });
    s.setLatency(300);
    const slow = client(simAccess(s), { pageSize: 5, limits: { deadlineMs: 500 } }).client;
    await expect(slow.list('pod', {}, never)).rejects.toMatchObject({ message: expect.stringMatching(/deadline \(500 ms\)|no complete answer within/) });
  });

  it('names who may not list what where, and the missing rule, when RBAC forbids it', async () => {
    const s = await sim({ forbidden: [{ verb: 'list', resource: 'pods', namespace: 'team-a' }, { resource: 'nodes' }] });
    const { client: c } = client(simAccess(s));
    const error = await c.list('pod', { namespace: 'team-a' }, never).catch((e: unknown) => e);
    if (!(error instanceof KubernetesError)) expect.unreachable(`expected a KubernetesError, got ${String(error)}`);
    expect(error).toMatchObject({ kind: 'forbidden', status: 403, reason: 'Forbidden' });
    expect(error.message).toContain('user "sluice-sim" of context "sluice-sim" may not list pods in namespace "team-a"');
    expect(error.message).toContain('User "system:serviceaccount:sluice:sluice-collector" cannot list resource "pods" in API group "" in the namespace "team-a"');
    expect(error.message).toContain('grant it with a Role in namespace "team-a" and a binding allowing verbs ["list"] on resources ["pods"]');
    await expect(c.list('pod', { namespace: 'team-b' }, never)).resolves.toBeDefined();
    await expect(c.list('node', {}, never)).rejects.toThrow(/may not list nodes .* at the cluster scope.*a ClusterRole/);
    expect(s.requests.filter((r) => r.status === 403)).toHaveLength(2);
  });

  it('retries 503, 429 (with Retry-After) and dropped connections, then succeeds', async () => {
    const s = await sim({
      pods: 6,
      faults: [
        { route: 'pods', times: 1, effect: { status: 503 } },
        { route: 'pods', times: 1, effect: { status: 429, retryAfterSeconds: 0 } },
        { route: 'pods', times: 1, effect: { reset: true } },
      ],
    });
    const { client: c } = client(simAccess(s));
    const result = await c.list('pod', {}, never);
    expect(result.items).toHaveLength(6);
    expect(s.requests.map((r) => r.status)).toEqual([503, 429, 0, 200]);
  });

  it('gives up after its retries with the last status', async () => {
    const s = await sim({ faults: [{ route: 'pods', effect: { status: 500 } }] });
    const { client: c } = client(simAccess(s), { retries: 2 });
    await expect(c.list('pod', {}, never)).rejects.toMatchObject({ kind: 'status', status: 500, message: expect.stringMatching(/list pods in all namespaces: status 500 InternalError/) });
    expect(s.requests).toHaveLength(3);
  });

  it('counts and reports answers that are not the documented JSON', async () => {
    const s = await sim({ faults: [{ route: 'pods', times: 1, effect: { malformed: 'html' } }, { route: 'nodes', times: 1, effect: { malformed: 'truncated-json' } }] });
    const { client: c, metrics } = client(simAccess(s));
    await expect(c.list('pod', {}, never)).rejects.toThrow(/content type text\/html; charset=utf-8, not JSON/);
    await expect(c.list('node', {}, never)).rejects.toThrow(/invalid JSON/);
    const counted = (await metrics.registry.getSingleMetric('kubernetes_malformed_total')!.get()).values;
    expect(Object.fromEntries(counted.map((v) => [v.labels['kind'], v.value]))).toEqual({ content_type: 1, json: 1 });
  });

  it('re-reads a rotated token file on a 401 and retries; never logs the token', async () => {
    const s = await sim({ pods: 3 });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-k8s-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, s.token);
    const { client: c, secrets } = client(simAccess(s, { credentials: { kind: 'tokenFile', path: tokenFile } }));
    await c.list('pod', {}, never);
    const rotated = s.rotateToken();
    writeFileSync(tokenFile, `${rotated}\n`);
    const result = await c.list('pod', {}, never);
    expect(result.items).toHaveLength(3);
    expect(s.requests.map((r) => r.status)).toEqual([200, 401, 200]);
    expect(secrets.scrub(`token ${rotated} and ${s.token}`)).toBe('token [REDACTED] and [REDACTED]');
  });

  it('fails with the credentials named when the token is refused', async () => {
    const s = await sim();
    const { client: c } = client(simAccess(s, { credentials: { kind: 'token', token: 'wrong-token' } }));
    await expect(c.list('pod', {}, never)).rejects.toMatchObject({ kind: 'unauthorized', message: expect.stringMatching(/refused the credentials of user "sluice-sim"/) });
  });
});

describe('KubernetesClient over TLS', () => {
  const tlsSim = () => sim({ pods: 4, tls: { cert: TLS.serverCert, key: TLS.serverKey, clientCa: TLS.ca } });

  it('verifies the server against the CA and authenticates with a client certificate', async () => {
    const s = await tlsSim();
    const { client: c } = client(simAccess(s, { credentials: { kind: 'none' }, tls: { ca: TLS.ca, cert: TLS.clientCert, key: TLS.clientKey, insecureSkipVerify: false } }));
    expect((await c.list('pod', {}, never)).items).toHaveLength(4);
    expect(s.requests[0]!.user).toBe('kubernetes-admin');
  });

  it('refuses a server it cannot verify, unless told to skip verification', async () => {
    const s = await tlsSim();
    const strict = client(simAccess(s), { retries: 0 }).client;
    await expect(strict.list('pod', {}, never)).rejects.toMatchObject({ kind: 'transport', message: expect.stringMatching(/certificate/) });
    expect(s.requests).toHaveLength(0);
    const insecure = client(simAccess(s, { tls: { insecureSkipVerify: true } })).client;
    expect((await insecure.list('pod', {}, never)).items).toHaveLength(4);
  });
});

describe('KubernetesClient leases', () => {
  const lease = (rv?: string) => ({
    metadata: { name: 'sluice', namespace: 'sluice', ...(rv ? { resourceVersion: rv } : {}) },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 },
  });

  it('gets nothing, creates, refuses a second create, and updates only at the current resourceVersion', async () => {
    const s = await sim();
    const { client: c } = client(simAccess(s));
    expect(await c.getLease('sluice', 'sluice', never)).toBeUndefined();
    const created = await c.createLease(lease(), never);
    expect(created).toMatchObject({ kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', spec: { holderIdentity: 'a' } });
    expect(created.metadata.uid).toBeTruthy();
    await expect(c.createLease(lease(), never)).rejects.toMatchObject({ kind: 'conflict', reason: 'AlreadyExists' });
    const rv = created.metadata.resourceVersion!;
    const updated = await c.updateLease({ ...created, spec: { ...created.spec, holderIdentity: 'b' } }, never);
    expect(updated.metadata.resourceVersion).not.toBe(rv);
    expect(updated.metadata.uid).toBe(created.metadata.uid);
    await expect(c.updateLease({ ...created, spec: { holderIdentity: 'c' } }, never)).rejects.toMatchObject({
      kind: 'conflict',
      reason: 'Conflict',
      message: expect.stringMatching(/the object has been modified/),
    });
    expect((await c.getLease('sluice', 'sluice', never))!.spec.holderIdentity).toBe('b');
  });

  it('surfaces the API server validation (422) and RBAC refusals by verb', async () => {
    const s = await sim({ forbidden: [{ verb: 'update', resource: 'leases' }] });
    const { client: c } = client(simAccess(s));
    await expect(c.createLease({ ...lease(), spec: { leaseDurationSeconds: 0 } }, never)).rejects.toMatchObject({
      status: 422,
      reason: 'Invalid',
      message: expect.stringMatching(/spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0/),
    });
    const created = await c.createLease(lease(), never);
    await expect(c.updateLease(created, never)).rejects.toThrow(/may not update leases "sluice" in namespace "sluice".*verbs \["update"\] on resources \["leases"\] in apiGroups \["coordination.k8s.io"\]/);
  });
});
