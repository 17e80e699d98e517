// The seeded cluster `sluice sim kubernetes` serves: namespaces of pods in every phase (and a few
// with no phase, as the reference input handles), nodes, persistent volumes and their claims.
// The same seed always gives the same objects; resource quantities are written in the forms
// people write them ("500m", "1.5", "2Gi", "1G"), so mappings meet the parsing cases that matter.

import { createHash } from 'node:crypto';
import { seededRandom } from '../seeded_random.js';
import type { KubeObject } from './api.js';

export interface ClusterOptions {
  /** Everything generated derives from it. Default 1. */
  readonly seed?: number;
  /** Default 40. */
  readonly pods?: number;
  /** Default 4. */
  readonly nodes?: number;
  /** Default default, team-a, team-b, ml. */
  readonly namespaces?: readonly string[];
}

export interface SimCluster {
  readonly seed: number;
  readonly namespaces: readonly string[];
  readonly pods: KubeObject[];
  readonly nodes: KubeObject[];
  readonly persistentVolumes: KubeObject[];
  readonly persistentVolumeClaims: KubeObject[];
}

/** Where generated timestamps count back from: fixed, so a seed gives identical objects. */
const EPOCH = Date.parse('2025-01-01T00:00:00Z');

/** Quantity spellings the generator draws from; tests keep their own table of their values. */
export const CPU_QUANTITIES = ['100m', '250m', '500m', '1', '1.5', '2', '4'] as const;
export const MEMORY_QUANTITIES = ['128Mi', '512Mi', '1Gi', '1.5Gi', '2Gi', '1G', '4Gi', '500M'] as const;
export const GPU_QUANTITIES = ['1', '2', '4'] as const;
export const STORAGE_QUANTITIES = ['1Gi', '10Gi', '100Gi', '500G'] as const;

const APPS = ['seed', 'seed', 'seed', 'inference', 'training', 'web'];
const PHASES = ['Running', 'Running', 'Running', 'Running', 'Running', 'Pending', 'Succeeded', 'Failed', 'Unknown', ''];

export function generateCluster(options: ClusterOptions = {}): SimCluster {
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const namespaces = options.namespaces ?? ['default', 'team-a', 'team-b', 'ml'];
  const uid = (what: string): string => {
    const h = createHash('sha1').update(`${seed}:${what}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const created = (n: number): string => new Date(EPOCH - Math.floor(random() * 30 * 86_400) * 1000 - n).toISOString().replace(/\.\d{3}Z$/, 'Z');

  const nodes: KubeObject[] = [];
  for (let i = 0; i < (options.nodes ?? 4); i++) {
    const gpus = i % 2 === 0 ? '8' : '0';
    nodes.push({
      metadata: { name: `node-${i}`, uid: uid(`node-${i}`), creationTimestamp: created(i), labels: { 'kubernetes.io/hostname': `node-${i}`, 'node.kubernetes.io/instance-type': gpus === '8' ? 'gpu-8x' : 'cpu-64' } },
      spec: { podCIDR: `10.244.${i}.0/24` },
      status: {
        capacity: { cpu: '64', memory: '512Gi', pods: '110', 'nvidia.com/gpu': gpus },
        allocatable: { cpu: '63500m', memory: '500Gi', pods: '110', 'nvidia.com/gpu': gpus },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
        nodeInfo: { kubeletVersion: 'v1.31.0', architecture: 'amd64', operatingSystem: 'linux' },
      },
    });
  }

  const pods: KubeObject[] = [];
  for (let i = 0; i < (options.pods ?? 40); i++) {
    const namespace = namespaces[i % namespaces.length]!;
    const name = `${pick(['train', 'serve', 'etl', 'notebook'])}-${i}`;
    const app = pick(APPS);
    const phase = pick(PHASES);
    const containers = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, c) => container(`c${c}`, random, pick));
    const annotations: Record<string, string> = {};
    if (random() < 0.8) annotations['openmeter.io/subject'] = `customer-${1 + Math.floor(random() * 5)}`;
    if (random() < 0.5) annotations['data.openmeter.io/team'] = pick(['research', 'platform', 'product']);
    if (random() < 0.3) annotations['data.openmeter.io/cost-center'] = `cc-${100 + Math.floor(random() * 3)}`;
    if (random() < 0.3) annotations['kubectl.kubernetes.io/restartedAt'] = '2025-01-01T00:00:00Z';
    // Without a phase, containers run or not at random: all, some or none, the three cases the reference tells apart.
    const running = containers.map(() => phase === 'Running' || (phase === '' && random() < 0.6));
    pods.push({
      metadata: {
        name,
        namespace,
        uid: uid(`pod-${i}`),
        creationTimestamp: created(i),
        labels: { app, 'pod-template-hash': uid(`hash-${i}`).slice(0, 10) },
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      spec: { containers, nodeName: `node-${i % Math.max(1, nodes.length)}`, restartPolicy: 'Always', schedulerName: 'default-scheduler' },
      status: {
        ...(phase ? { phase } : {}),
        ...(phase === 'Pending' ? {} : { podIP: `10.244.${i % 4}.${10 + i}` }),
        containerStatuses: containers.map((c, k) => ({
          name: c['name'],
          ready: running[k] ?? false,
          restartCount: 0,
          image: c['image'],
          state: running[k] ? { running: { startedAt: created(k) } } : phase === 'Pending' ? { waiting: { reason: 'ContainerCreating' } } : { terminated: { exitCode: phase === 'Failed' ? 1 : 0, reason: phase === 'Failed' ? 'Error' : 'Completed' } },
        })),
      },
    });
  }

  const persistentVolumes: KubeObject[] = [];
  const persistentVolumeClaims: KubeObject[] = [];
  for (let i = 0; i < Math.ceil((options.pods ?? 40) / 4); i++) {
    const namespace = namespaces[i % namespaces.length]!;
    const storage = pick(STORAGE_QUANTITIES);
    const claim = `data-${i}`;
    const volume = `pvc-${uid(`pv-${i}`)}`;
    const storageClassName = pick(['standard', 'fast-ssd']);
    persistentVolumes.push({
      metadata: { name: volume, uid: uid(`pv-${i}`), creationTimestamp: created(i) },
      spec: { capacity: { storage }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Delete', storageClassName, claimRef: { kind: 'PersistentVolumeClaim', namespace, name: claim, uid: uid(`pvc-${i}`) } },
      status: { phase: 'Bound' },
    });
    persistentVolumeClaims.push({
      metadata: { name: claim, namespace, uid: uid(`pvc-${i}`), creationTimestamp: created(i), labels: { app: pick(APPS) } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, storageClassName, volumeName: volume },
      status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage } },
    });
  }
  return { seed, namespaces, pods, nodes, persistentVolumes, persistentVolumeClaims };
}

function container(name: string, random: () => number, pick: <T>(list: readonly T[]) => T): Record<string, unknown> {
  const resources: Record<string, Record<string, string>> = {};
  // Some containers set nothing, some only requests, most both.
  const shape = random();
  if (shape >= 0.15) {
    const requests: Record<string, string> = { cpu: pick(CPU_QUANTITIES), memory: pick(MEMORY_QUANTITIES) };
    const gpu = random() < 0.3 ? pick(GPU_QUANTITIES) : undefined;
    if (gpu) requests['nvidia.com/gpu'] = gpu;
    resources['requests'] = requests;
    if (shape >= 0.35) {
      const limits: Record<string, string> = { cpu: pick(CPU_QUANTITIES), memory: pick(MEMORY_QUANTITIES) };
      if (gpu) limits['nvidia.com/gpu'] = gpu;
      resources['limits'] = limits;
    }
  }
  return { name, image: `registry.example.com/${name}:1.0`, resources, ports: [{ containerPort: 8080, protocol: 'TCP' }] };
}
