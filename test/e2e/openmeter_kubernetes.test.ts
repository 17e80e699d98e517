// OpenMeter's kubernetes-pod-exec-time preset (examples/openmeter-kubernetes-pod-exec-time.yaml)
// run through the real CLI against the Kubernetes and OpenMeter simulators, every event checked
// against the simulated cluster: which pods are billed and the quantities they request.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kubernetes/api.js';
import { startKubernetesSimulator, type KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { uuidV5 } from '../../src/mapping/environment.js';
import { startOpenMeterSimulator, type CloudEvent, type OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { startCli } from '../support/cli.js';

/** The value of each quantity spelling the simulator writes, worked out by hand. */
const QUANTITY: Record<string, number> = {
  '100m': 0.1,
  '250m': 0.25,
  '500m': 0.5,
  '1': 1,
  '1.5': 1.5,
  '2': 2,
  '4': 4,
  '128Mi': 128 * 2 ** 20,
  '512Mi': 512 * 2 ** 20,
  '1Gi': 2 ** 30,
  '1.5Gi': 1.5 * 2 ** 30,
  '2Gi': 2 * 2 ** 30,
  '4Gi': 4 * 2 ** 30,
  '1G': 1e9,
  '500M': 5e8,
};

type Container = { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
type Pod = KubeObject & { spec: { containers: Container[] }; status: { phase?: string; containerStatuses?: { state: { running?: object } }[] } };

/** The preset bills pods labelled app=seed that run: phase Running, or no phase with every container running. */
function billed(pod: Pod): boolean {
  if (pod.metadata.labels?.['app'] !== 'seed') return false;
  if (pod.status.phase === 'Running') return true;
  return pod.status.phase === undefined && (pod.status.containerStatuses ?? []).every((c) => c.state.running !== undefined);
}

function total(pod: Pod, kind: 'requests' | 'limits', resource: string): number {
  let sum = 0;
  for (const container of pod.spec.containers) {
    const text = container.resources?.[kind]?.[resource];
    if (text !== undefined) sum += QUANTITY[text] ?? NaN;
  }
  return sum;
}

describe('the OpenMeter kubernetes-pod-exec-time preset, end to end', () => {
  let kube: KubernetesSimulator;
  let openMeter: OpenMeterSimulator;
  let stderr = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    kube = await startKubernetesSimulator({ pods: 60, seed: 21 });
    openMeter = await startOpenMeterSimulator({ token: 'om-k8s-token-123' });
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'sluice-e2e-kube-')), 'config');
    writeFileSync(kubeconfig, kube.kubeconfig());
    const proc = startCli(['run', 'examples/openmeter-kubernetes-pod-exec-time.yaml', '-s', 'http.address=127.0.0.1:0', '--log.level', 'DEBUG'], {
      KUBECONFIG: kubeconfig,
      SCRAPE_INTERVAL: '1s',
      OPENMETER_URL: openMeter.url,
      OPENMETER_TOKEN: 'om-k8s-token-123',
    });
    const ticks = () => new Set(openMeter.events.map((e) => e.time)).size;
    const started = Date.now();
    while (ticks() < 3 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 50));
    proc.child.kill('SIGTERM');
    exitCode = await proc.exited;
    stderr = proc.stderr;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([kube?.close(), openMeter?.close()]);
  });

  it('shuts down cleanly on SIGTERM after at least three ticks were delivered', () => {
    expect(exitCode, stderr).toBe(0);
    expect(new Set(openMeter.events.map((e) => e.time)).size).toBeGreaterThanOrEqual(3);
  });

  it('bills every running app=seed pod once per tick, with the requests and limits the cluster has', () => {
    const pods = (kube.objects('pod') as Pod[]).filter(billed);
    expect(pods.length).toBeGreaterThan(5);
    const byName = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const ticks = [...new Set(openMeter.events.map((e) => e.time as string))].sort();
    for (const time of ticks) {
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const names = openMeter.events.filter((e) => e.time === time).map((e) => `${(e.data as Record<string, unknown>)['pod_namespace']}/${(e.data as Record<string, unknown>)['pod_name']}`);
      expect(names.sort()).toEqual([...byName.keys()].sort());
    }
    for (const event of openMeter.events as (CloudEvent & { data: Record<string, number | string> })[]) {
      const pod = byName.get(`${event.data['pod_namespace']}/${event.data['pod_name']}`)!;
      const annotations = pod.metadata.annotations ?? {};
      expect(event).toMatchObject({ specversion: '1.0', type: 'kubernetes', source: 'kubernetes-api' });
      expect(event.id).toBe(uuidV5(`${pod.metadata.uid}|${event.time}|1s`, 'url'));
      expect(event.subject).toBe(annotations['openmeter.io/subject'] ?? pod.metadata.name);
      if (annotations['data.openmeter.io/team']) expect(event.data['team']).toBe(annotations['data.openmeter.io/team']);
      expect(event.data['duration_seconds']).toBe(1);
      const expected: [string, number][] = [
        ['cpu_request_millicores', total(pod, 'requests', 'cpu')],
        ['cpu_limit_millicores', total(pod, 'limits', 'cpu')],
        ['memory_request_bytes', total(pod, 'requests', 'memory')],
        ['memory_limit_bytes', total(pod, 'limits', 'memory')],
        ['gpu_request_count', total(pod, 'requests', 'nvidia.com/gpu')],
        ['gpu_limit_count', total(pod, 'limits', 'nvidia.com/gpu')],
      ];
      for (const [field, value] of expected) {
        expect(event.data[field], `${pod.metadata.name} ${field}`).toBeCloseTo(value, 9);
        expect(event.data[`${field}_per_second`]).toBeCloseTo(value, 9);
      }
    }
    // Nothing was sent twice.
    expect(openMeter.deliveries.length).toBe(openMeter.events.length);
  });

  it('lists pods with the label selector, in pages, and posts JSON arrays with the token', () => {
    const lists = kube.requests.filter((r) => r.route === 'pods');
    expect(lists.length).toBeGreaterThan(3);
    expect(lists.every((r) => r.path === '/api/v1/pods' && r.query['labelSelector'] === 'app=seed' && r.user === kube.user)).toBe(true);
    for (const request of openMeter.requests) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toBe('Bearer om-k8s-token-123');
      expect(Array.isArray(JSON.parse(request.body))).toBe(true);
    }
  });

  it('never logs the Kubernetes or OpenMeter token', () => {
    expect(stderr).toContain('Kubernetes API credentials found');
    expect(stderr).not.toContain(kube.token);
    expect(stderr).not.toContain('om-k8s-token-123');
  });
});
