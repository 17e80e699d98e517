import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import kubernetesResources from '../../../src/components/inputs/kubernetes_resources.js';
import type { Input } from '../../../src/engine/component.js';
import type { KubeObject } from '../../../src/kubernetes/api.js';
import { startKubernetesSimulator, type KubernetesSimulator, type KubernetesSimulatorOptions } from '../../../src/kubernetes/sim.js';
import { configProblems, withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';
import { captureLog } from '../../runai/helpers.js';

const never = new AbortController().signal;
const problems = (config: Record<string, unknown>) => configProblems(kubernetesResources, config).join('\n');

describe('kubernetes_resources config', () => {
  it("has OpenMeter's fields and defaults, plus paging", () => {
    expect(withDefaults(kubernetesResources, { namespaces: [] })).toEqual({
      namespaces: [],
      resource_type: 'pod',
      include_pending_pods: false,
      page_size: 500,
      timeout: '30s',
    });
    expect(problems({})).toBe('namespaces: field is required');
    expect(problems({ namespaces: [], resource_type: 'deployment' })).toContain('resource_type: "deployment" is not one of "pod", "node", "persistentvolume", "persistentvolumeclaim"');
    expect(problems({ namespaces: [], labelSelector: 'a=b' })).toContain('labelSelector: unknown field (did you mean label_selector?)');
  });

  it('refuses a label selector the API server would refuse, when the pipeline is built', () => {
    const create = () => kubernetesResources.create(withDefaults(kubernetesResources, { namespaces: [], label_selector: 'app in ()' }), testSettings());
    expect(create).toThrow(/label selector "app in \(\)" at column 9: for "in" and "notin", the set of values can't be empty/);
    try {
      create();
    } catch (err) {
      expect((err as { field?: string }).field).toBe('label_selector');
    }
  });
});

describe('kubernetes_resources against the simulator', () => {
  const savedKubeconfig = process.env['KUBECONFIG'];
  let sim: KubernetesSimulator;
  const inputs: Input[] = [];

  async function start(options: KubernetesSimulatorOptions = {}) {
    sim = await startKubernetesSimulator({ pods: 60, compactEveryMs: 0, ...options });
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-k8s-input-')), 'config');
    writeFileSync(file, sim.kubeconfig());
    process.env['KUBECONFIG'] = file;
  }
  afterEach(async () => {
    await Promise.all(inputs.splice(0).map((i) => i.close()));
    await sim?.close();
  });
  afterAll(() => {
    if (savedKubeconfig === undefined) delete process.env['KUBECONFIG'];
    else process.env['KUBECONFIG'] = savedKubeconfig;
  });

  async function read(config: Record<string, unknown>, settings = testSettings()) {
    const input = kubernetesResources.create(withDefaults(kubernetesResources, config), settings);
    inputs.push(input);
    await input.connect(never);
    const result = (await input.read(never))!;
    return result.batch;
  }

  const key = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;
  const phase = (p: KubeObject) => (p['status'] as { phase?: string }).phase ?? '';
  const running = (p: KubeObject) => ((p['status'] as { containerStatuses?: { state: { running?: object } }[] }).containerStatuses ?? []).map((c) => c.state.running !== undefined);

  it("emits running pods (and pods with no phase whose containers all run), as the API serves them, with kind and apiVersion, and no metadata", async () => {
    await start();
    const batch = await read({ namespaces: [] });
    const expected = sim.objects('pod').filter((p) => phase(p) === 'Running' || (phase(p) === '' && running(p).every(Boolean)));
    expect(batch.map((m) => key(m.json() as KubeObject))).toEqual(expected.map(key));
    expect(expected.length).toBeGreaterThan(10);
    expect(batch[0]!.json()).toEqual({ kind: 'Pod', apiVersion: 'v1', ...expected[0] });
    expect(batch.every((m) => Object.keys(m.metadata).length === 0)).toBe(true);
  });

  it('adds pending pods, and phaseless pods with some containers running, with include_pending_pods', async () => {
    await start();
    const batch = await read({ namespaces: [], include_pending_pods: true });
    const expected = sim.objects('pod').filter((p) => ['Running', 'Pending'].includes(phase(p)) || (phase(p) === '' && running(p).some(Boolean)));
    expect(batch.map((m) => key(m.json() as KubeObject))).toEqual(expected.map(key));
    expect(expected.some((p) => phase(p) === '' && !running(p).every(Boolean))).toBe(true);
  });

  it('lists each namespace once, lower-cased, and all of them once when "" is among them', async () => {
    await start();
    const teamA = await read({ namespaces: ['Team-A', 'team-a'], include_pending_pods: true, page_size: 3 });
    expect(new Set(teamA.map((m) => (m.json() as KubeObject).metadata.namespace))).toEqual(new Set(['team-a']));
    expect(sim.requests.filter((r) => r.path === '/api/v1/namespaces/team-a/pods' && r.query['continue'] === undefined)).toHaveLength(2); // connect's check, then the list
    const all = await read({ namespaces: ['', 'ml'] });
    expect(new Set(all.map((m) => key(m.json() as KubeObject))).size).toBe(all.length);
    expect(all.length).toBe((await read({ namespaces: [] })).length);
  });

  it('filters by label selector on the server', async () => {
    await start();
    const batch = await read({ namespaces: [], label_selector: 'app=seed', include_pending_pods: true });
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.every((m) => (m.json() as KubeObject).metadata.labels?.['app'] === 'seed')).toBe(true);
    expect(sim.requests.at(-1)!.query['labelSelector']).toBe('app=seed');
  });

  it('lists nodes, persistent volumes and claims; namespaces do not apply to cluster-scoped ones', async () => {
    await start();
    const log = captureLog();
    const nodes = await read({ namespaces: ['team-a'], resource_type: 'node' }, testSettings({ logger: log.logger }));
    expect(nodes.map((m) => (m.json() as KubeObject).metadata.name)).toEqual(sim.objects('node').map((n) => n.metadata.name));
    expect((nodes[0]!.json() as KubeObject).kind).toBe('Node');
    expect(log.entries().some((l) => /namespaces do not apply to cluster-scoped resources/.test(String(l['msg'])))).toBe(true);
    const volumes = await read({ namespaces: [], resource_type: 'persistentvolume' });
    expect(volumes.map((m) => (m.json() as KubeObject).kind)).toEqual(sim.objects('persistentvolume').map(() => 'PersistentVolume'));
    const claims = await read({ namespaces: ['ml'], resource_type: 'persistentvolumeclaim' });
    expect(claims.map((m) => key(m.json() as KubeObject))).toEqual(sim.objects('persistentvolumeclaim', 'ml').map(key));
  });

  it('fails to connect, naming the missing RBAC rule, when a namespace may not be listed', async () => {
    await start({ forbidden: [{ verb: 'list', resource: 'pods', namespace: 'ml' }] });
    const input = kubernetesResources.create(withDefaults(kubernetesResources, { namespaces: ['default', 'ml'] }), testSettings());
    inputs.push(input);
    await expect(input.connect(never)).rejects.toThrow(
      /may not list pods in namespace "ml" \(403 Forbidden: pods is forbidden: User "system:serviceaccount:sluice:sluice-collector" cannot list resource "pods" in API group "" in the namespace "ml"\); grant it with a Role in namespace "ml"/,
    );
  });

  it('fails a read when the API server keeps failing, so the schedule tries its tick again', async () => {
    await start();
    const input = kubernetesResources.create(withDefaults(kubernetesResources, { namespaces: [] }), testSettings());
    inputs.push(input);
    await input.connect(never);
    sim.addFault({ route: 'pods', effect: { status: 503 } });
    await expect(input.read(never)).rejects.toThrow(/list pods in all namespaces: status 503/);
    sim.clearFaults();
    expect((await input.read(never))!.batch.length).toBeGreaterThan(0);
  }, 20_000);
});
