// The simulated cluster: deterministic workloads and pods generated from a seed, and the true
// value of every metric at every second, so tests can compute what a correct scrape reports.

import { createHash } from 'node:crypto';
import { seededRandom } from '../../seeded_random.js';
import { isPerGpuMetric, rfc3339Seconds, type ResourceType, type WorkloadPhase } from '../api.js';

/** Rotating preemption: each period, this fraction of Running workloads lists as Pending with no pods. */
export interface ChurnOptions {
  readonly periodMs: number;
  readonly fraction: number;
}

export interface ClusterOptions {
  /** Everything generated derives from it. Default 1. */
  readonly seed?: number;
  /** Number of workloads. Default 50. A cluster of n workloads is a prefix of one of n + 1. */
  readonly workloads?: number;
  /** Relative weights of workload phases. Default: mostly Running, a few of every other kind. */
  readonly phases?: Partial<Record<WorkloadPhase, number>>;
  /** Relative weights of a workload's GPU allocation, keyed by GPUs (`"0"`, `"0.5"`, `"1"`, ...). */
  readonly gpuMix?: Readonly<Record<string, number>>;
  /** Share of Running workloads listing `runningPods: 0` (restarting). Default 0.05. */
  readonly zeroPodRunningFraction?: number;
}

/** What metrics derive from; a workload and a pod both have it. */
export interface SimResource {
  readonly kind: ResourceType;
  readonly id: string;
  readonly name: string;
  /** Allocated GPUs; fractions (0.5) are GPU sharing. */
  readonly gpu: number;
  /** Physical GPUs reporting *_PER_GPU metrics: ceil(gpu). */
  readonly gpuDevices: number;
  readonly cpuRequest: number;
  readonly cpuLimit: number;
  readonly cpuMemoryRequestBytes: number;
  readonly cpuMemoryLimitBytes: number;
  readonly gpuMemoryRequestBytes: number;
  readonly podCount: number;
  readonly runningPods: number;
}

export interface SimWorkload extends SimResource {
  readonly kind: 'workload';
  readonly index: number;
  readonly phase: WorkloadPhase;
  readonly projectId: string;
  /** The project's name as listed (`projectName`): the subject the shipped mapping bills. */
  readonly projectName: string;
  readonly departmentId: string;
  readonly createdAt: string;
  readonly pods: readonly SimPod[];
}

export interface SimPod extends SimResource {
  readonly kind: 'pod';
  readonly workloadId: string;
  readonly k8sPhase: string;
  readonly createdAt: string;
  readonly completedAt: string | null;
}

export interface SimCluster {
  readonly seed: number;
  readonly clusterId: string;
  readonly workloads: readonly SimWorkload[];
}

/** One measurement as the metrics endpoints answer it. */
export interface SimMeasurement {
  type: string;
  labels: Record<string, string> | null;
  values: { value: string; timestamp: string | null }[] | null;
}

/** A time window, epoch ms or Date; the API sees it truncated to whole seconds. */
export interface SimWindow {
  readonly start: number | Date;
  readonly end: number | Date;
}

/**
 * The values a correct client reports for one resource and window with `numberOfSamples=1`: the
 * sample at the window's end. `values[type]` is what the reference collector reports (for a per-GPU
 * type, the last GPU's value; for a type without data, 0); `perGpu[type]` maps each GPU index to its
 * value, `{}` for a resource without GPUs, whose per-GPU types are absent from `values`.
 */
export interface ExpectedMetrics {
  values: Record<string, number>;
  perGpu: Record<string, Record<string, number>>;
}

// Deterministic generation

export const GiB = 1024 ** 3;
const BASE_TIME = Date.parse('2025-01-01T00:00:00Z');
const DEFAULT_PHASES: Partial<Record<WorkloadPhase, number>> = {
  Running: 70,
  Degraded: 2,
  Deleting: 2,
  Pending: 8,
  Creating: 1,
  Initializing: 2,
  Resuming: 1,
  Updating: 1,
  Stopped: 4,
  Stopping: 1,
  Failed: 2,
  Completed: 4,
  Terminating: 1,
  Unknown: 1,
};
const DEFAULT_GPU_MIX: Readonly<Record<string, number>> = { '0': 15, '0.5': 10, '1': 40, '2': 15, '4': 12, '8': 8 };
export const PROJECTS = ['vision', 'nlp', 'speech', 'recsys', 'robotics', 'research'] as const;
export const WORKLOAD_TYPES = ['runai-job', 'training', 'workspace', 'inference', 'distributed'] as const;

/** A 53-bit hash (cyrb53): fast, deterministic, well spread. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A number in [0, 1) determined by `text`. */
export const unit = (text: string): number => hash53(text) / 2 ** 53;


function uuidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function pick<T extends string>(weights: Partial<Record<T, number>>, r: number): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let x = r * total;
  for (const [key, w] of entries) {
    x -= w;
    if (x < 0) return key;
  }
  return entries[entries.length - 1]![0];
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();

/** Generates the cluster for `options`: pure, so a test can rebuild the truth without a server. */
export function generateCluster(options: ClusterOptions = {}): SimCluster {
  const seed = options.seed ?? 1;
  const count = options.workloads ?? 50;
  const workloads: SimWorkload[] = [];
  for (let index = 0; index < count; index++) workloads.push(generateWorkload(seed, index, options));
  return { seed, clusterId: uuidFrom(`${seed}:cluster`), workloads };
}

function generateWorkload(seed: number, index: number, options: ClusterOptions): SimWorkload {
  const random = seededRandom(hash53(`${seed}:workload:${index}`));
  const phase = pick(options.phases ?? DEFAULT_PHASES, random());
  const distributed = random() < 0.15;
  const podCount = distributed ? 2 + Math.floor(random() * 3) : 1;
  const gpuPerPod = distributed
    ? [1, 2, 4, 8][Math.floor(random() * 4)]!
    : Number(pick(options.gpuMix ?? DEFAULT_GPU_MIX, random()));
  const cpuPerPod = [2, 4, 8, 16, 32, 96][Math.floor(random() * 6)]!;
  const memPerPodGiB = cpuPerPod * [2, 4, 8][Math.floor(random() * 3)]!;
  const zeroPods = random() < (options.zeroPodRunningFraction ?? 0.05);
  const runningPods = runningPodsFor(phase, podCount, zeroPods, random());
  const id = uuidFrom(`${seed}:workload:${index}`);
  const project = PROJECTS[Math.floor(random() * PROJECTS.length)]!;
  const createdMs = BASE_TIME - Math.floor(random() * 90 * 86400_000);
  const base = {
    kind: 'workload' as const,
    index,
    id,
    name: `${project}-${WORKLOAD_TYPES[index % WORKLOAD_TYPES.length]}-${String(index).padStart(5, '0')}`,
    phase,
    projectId: String(1 + PROJECTS.indexOf(project)),
    projectName: project,
    departmentId: String(1 + (PROJECTS.indexOf(project) % 3)),
    createdAt: isoAt(createdMs),
    gpu: gpuPerPod * podCount,
    gpuDevices: Math.ceil(gpuPerPod) * podCount,
    cpuRequest: cpuPerPod * podCount,
    cpuLimit: cpuPerPod * podCount * 1.5,
    cpuMemoryRequestBytes: memPerPodGiB * GiB * podCount,
    cpuMemoryLimitBytes: memPerPodGiB * GiB * podCount * 2,
    gpuMemoryRequestBytes: Math.round(gpuPerPod * 40 * GiB) * podCount,
    podCount,
    runningPods,
  };
  const pods: SimPod[] = [];
  for (let p = 0; p < podCount; p++) pods.push(generatePod(seed, base, p, gpuPerPod, cpuPerPod, memPerPodGiB, createdMs));
  return { ...base, pods };
}

function runningPodsFor(phase: WorkloadPhase, podCount: number, zeroPods: boolean, r: number): number {
  switch (phase) {
    case 'Running':
      return zeroPods ? 0 : podCount;
    case 'Degraded':
      return Math.max(1, podCount - 1);
    case 'Deleting':
      return r < 0.5 ? 0 : podCount;
    default:
      return 0;
  }
}

interface WorkloadBase {
  readonly id: string;
  readonly name: string;
  readonly phase: WorkloadPhase;
  readonly runningPods: number;
}

function generatePod(
  seed: number,
  workload: WorkloadBase,
  p: number,
  gpu: number,
  cpu: number,
  memGiB: number,
  createdMs: number,
): SimPod {
  const running = p < workload.runningPods;
  const { k8sPhase, completed } = podPhase(workload.phase, running);
  return {
    kind: 'pod',
    id: uuidFrom(`${seed}:pod:${workload.id}:${p}`),
    workloadId: workload.id,
    name: `${workload.name}-${p}-${workload.id.slice(0, 5)}`,
    k8sPhase,
    createdAt: isoAt(createdMs + 1500 + p * 10),
    completedAt: completed ? isoAt(createdMs + 3600_000) : null,
    gpu,
    gpuDevices: Math.ceil(gpu),
    cpuRequest: cpu,
    cpuLimit: cpu * 1.5,
    cpuMemoryRequestBytes: memGiB * GiB,
    cpuMemoryLimitBytes: memGiB * GiB * 2,
    gpuMemoryRequestBytes: Math.round(gpu * 40 * GiB),
    podCount: 1,
    runningPods: running ? 1 : 0,
  };
}

function podPhase(phase: WorkloadPhase, running: boolean): { k8sPhase: string; completed: boolean } {
  if (running) return { k8sPhase: 'Running', completed: false };
  switch (phase) {
    case 'Completed':
    case 'Stopped':
      return { k8sPhase: 'Succeeded', completed: true };
    case 'Failed':
      return { k8sPhase: 'Failed', completed: true };
    case 'Unknown':
      return { k8sPhase: 'Unknown', completed: false };
    default:
      return { k8sPhase: 'Pending', completed: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Metric truth

const NO_DATA = /^(NIM_|NVLINK_BANDWIDTH_TOTAL)/;
const BANDWIDTH = /_BANDWIDTH_PER_GPU$/;
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The true value of one metric of a resource at a second (epoch seconds), for GPU `gpu` when the
 * type is per-GPU. Undefined for types the cluster has no data for (NIM_*, NVLINK_BANDWIDTH_TOTAL*).
 * Requests and limits are constant; usage varies per second.
 */
export function metricValue(resource: SimResource, type: string, second: number, gpu?: number): number | undefined {
  if (NO_DATA.test(type)) return undefined;
  const u = unit(`${resource.id}|${type}|${gpu ?? ''}|${second}`);
  switch (type) {
    case 'GPU_ALLOCATION':
      return resource.gpu;
    case 'GPU_MEMORY_REQUEST_BYTES':
      return resource.gpuMemoryRequestBytes;
    case 'GPU_MEMORY_USAGE_BYTES':
      return Math.floor(resource.gpuMemoryRequestBytes * u);
    case 'GPU_UTILIZATION':
      return resource.gpu > 0 ? round(100 * u, 2) : 0;
    case 'CPU_REQUEST_CORES':
      return resource.cpuRequest;
    case 'CPU_LIMIT_CORES':
      return resource.cpuLimit;
    case 'CPU_USAGE_CORES':
      return round(resource.cpuLimit * u, 3);
    case 'CPU_MEMORY_REQUEST_BYTES':
      return resource.cpuMemoryRequestBytes;
    case 'CPU_MEMORY_LIMIT_BYTES':
      return resource.cpuMemoryLimitBytes;
    case 'CPU_MEMORY_USAGE_BYTES':
      return Math.floor(resource.cpuMemoryLimitBytes * u);
    case 'POD_COUNT':
      return resource.podCount;
    case 'RUNNING_POD_COUNT':
      return resource.runningPods;
    case 'GPU_MEMORY_USAGE_BYTES_PER_GPU':
      return Math.floor(40 * GiB * u);
    case 'GPU_SWAP_MEMORY_BYTES_PER_GPU':
      return Math.floor(GiB * u);
    default:
      return BANDWIDTH.test(type) ? Math.floor(50e9 * u) : round(100 * u, 2);
  }
}

const seconds = (t: number | Date): number => Math.floor((typeof t === 'number' ? t : t.getTime()) / 1000);

/** Sample seconds for a window: n evenly spaced points, the last one at the window's end. */
function sampleSeconds(window: SimWindow, n: number): number[] {
  const start = seconds(window.start);
  const end = seconds(window.end);
  const out: number[] = [];
  for (let k = 1; k <= n; k++) out.push(start + Math.floor(((end - start) * k) / n));
  return out;
}

/** The measurements the metrics endpoint answers for a resource, types, window and numberOfSamples. */
export function measurements(resource: SimResource, types: readonly string[], window: SimWindow, numberOfSamples: number): SimMeasurement[] {
  const samples = sampleSeconds(window, numberOfSamples);
  const out: SimMeasurement[] = [];
  for (const type of types) {
    if (NO_DATA.test(type)) {
      out.push({ type, labels: null, values: [] });
      continue;
    }
    const gpus = isPerGpuMetric(type) ? range(resource.gpuDevices) : [undefined];
    for (const gpu of gpus) {
      out.push({
        type,
        labels: gpu === undefined ? null : { gpu: String(gpu) },
        values: samples.map((s) => ({ value: String(metricValue(resource, type, s, gpu)), timestamp: rfc3339Seconds(s * 1000) })),
      });
    }
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** What a correct client reports for `resource` over `window` (one sample, at the window's end). */
export function expectedMetrics(resource: SimResource, types: readonly string[], window: SimWindow): ExpectedMetrics {
  const second = seconds(window.end);
  const result: ExpectedMetrics = { values: {}, perGpu: {} };
  for (const type of types) {
    if (!isPerGpuMetric(type) || NO_DATA.test(type)) {
      result.values[type] = metricValue(resource, type, second) ?? 0;
      continue;
    }
    const perGpu: Record<string, number> = {};
    for (const gpu of range(resource.gpuDevices)) {
      perGpu[String(gpu)] = metricValue(resource, type, second, gpu)!;
      result.values[type] = perGpu[String(gpu)]!;
    }
    result.perGpu[type] = perGpu;
  }
  return result;
}
