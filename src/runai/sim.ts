// A Run:ai control-plane API simulator: the endpoints OpenMeter's collector and sluice's `run_ai`
// input call, backed by a seeded, deterministic cluster, with fault injection and a request log.
// `sluice sim runai` serves it; the tests scrape it over loopback.
//
// It follows the API as documented (shared/reference/runai-and-openmeter-api.md §10, §11), not as a
// client might hope: limits are enforced, enums are validated, errors carry `{code, message}`.

import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../seeded_random.js';
import {
  ERROR_MESSAGES,
  FILTER_OPERATORS,
  METRIC_TYPES,
  POD_FILTER_FIELDS,
  WORKLOAD_FILTER_FIELDS,
  WORKLOAD_PHASES,
  isPerGpuMetric,
  rfc3339Seconds,
  type ApiErrorBody,
  type FilterOperator,
  type ResourceType,
  type WorkloadPhase,
} from './api.js';

// ---------------------------------------------------------------------------------------------
// Public surface

/** The simulator's routes, for fault rules and the request log. */
export type SimRoute = 'token' | 'workloads' | 'pods' | 'workload-metrics' | 'pod-metrics' | 'unknown';

/** One request the simulator received. */
export interface SimRequest {
  readonly method: string;
  readonly route: SimRoute;
  /** Path without the query, e.g. `/api/v1/workloads/<id>/metrics`. */
  readonly path: string;
  /** Decoded query parameters (first value of each key). */
  readonly query: Readonly<Record<string, string>>;
  /** The bearer token sent, or undefined when no `Authorization: Bearer` header came. */
  readonly auth: string | undefined;
  /** For token requests: the grantType asked for. */
  readonly grantType?: string;
  /** Epoch ms at arrival. */
  readonly at: number;
  /** Status answered; 0 until answered, or when the connection was reset. */
  status: number;
}

/** Malformed-but-200 answers a fault can substitute for a good one. */
export type MalformedKind =
  /** 200 `text/html` login page, as a misrouted gateway answers. */
  | 'html'
  /** 200 `application/json` whose body is cut in half. */
  | 'truncated-json'
  /** 200 with an empty body. */
  | 'empty-body'
  /** Valid JSON sent as `text/plain`. */
  | 'wrong-content-type'
  /** Metrics: a value `"abc"`; listings: `runningPods: "two"`; token: `accessToken: 42`. */
  | 'non-numeric'
  /** Metrics: `values: null`; listings: the first row's fields null. */
  | 'null-values'
  /** Metrics: every value `"NaN"`. */
  | 'nan'
  /** Metrics: every value `"-1"`. */
  | 'negative'
  /** Metrics: every value `"1e200"`, a number no cluster has: usage derived from it overflows. */
  | 'overflow'
  /** Metrics: timestamps like the spec example `"2023-06-06 12:09:18.211"`. */
  | 'bad-timestamp'
  /** `{}`: no `measurements` / `workloads` / `pods` / `accessToken`. */
  | 'missing-array';

export type FaultEffect =
  /** Answer this status with the documented error body (a 2xx status answers the normal body). */
  | { readonly status: number; readonly retryAfterSeconds?: number }
  /** Answer 200 with a malformed body. */
  | { readonly malformed: MalformedKind }
  /** Destroy the connection without answering. */
  | { readonly reset: true }
  /** Add this much latency, then answer normally. */
  | { readonly delayMs: number }
  /**
   * Listings only: a listing that never ends. `repeat`: the first page whatever the offset, always
   * with `next`; `fresh`: pages of new rows (the first page's rows with ids suffixed by the offset),
   * always with `next`.
   */
  | { readonly endless: 'repeat' | 'fresh' };

/** A fault applies to the requests it matches; the first matching rule with budget left wins. */
export interface FaultRule {
  /** Routes it applies to; all when absent. */
  readonly route?: SimRoute | readonly SimRoute[];
  /** Only metrics requests for this workload or pod id. */
  readonly resourceId?: string;
  /** Probability of applying to a matching request, drawn from the seeded generator. Default 1. */
  readonly rate?: number;
  /** Apply to at most this many requests, then expire. Unlimited when absent. */
  readonly times?: number;
  readonly effect: FaultEffect;
}

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

export interface RunAiSimulatorOptions extends ClusterOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Accepted as AppId/AppSecret (app_token) and clientId/clientSecret (client_credentials). */
  readonly credentials?: readonly { readonly id: string; readonly secret: string }[];
  /** Lifetime of issued tokens (JWT `exp` and `expiresIn`). Default 3600. */
  readonly tokenTtlSeconds?: number;
  /** Issue opaque (non-JWT) tokens, still with `expiresIn`. */
  readonly opaqueTokens?: boolean;
  /** Latency added to every answer. Default 0. */
  readonly latencyMs?: number;
  /** Reject `filterBy` lists longer than this with 400 (Run:ai 2.25 documents max 10). */
  readonly maxFilters?: number;
  /** Reject `metricType` lists longer than this with 400. */
  readonly maxMetricTypes?: number;
  readonly churn?: ChurnOptions;
  readonly faults?: readonly FaultRule[];
  /** The simulator's clock (token expiry, churn), epoch ms. Default Date.now. */
  readonly now?: () => number;
  /** Requests kept in `requests`; older ones are dropped. Default 100,000. */
  readonly maxRecordedRequests?: number;
  /** Called once per request when it is answered (or reset), e.g. to print an access log. */
  readonly onRequest?: (request: SimRequest) => void;
}

export interface RunAiSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`: what `input.run_ai.url` takes. */
  readonly url: string;
  readonly seed: number;
  /** A credential the simulator accepts. */
  readonly credentials: { readonly id: string; readonly secret: string };
  /** Requests received, in arrival order (the latest `maxRecordedRequests`). */
  readonly requests: readonly SimRequest[];
  clearRequests(): void;
  /** Adds a fault rule after the existing ones. */
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  setTokenTtl(seconds: number): void;
  /** Invalidates every token issued so far: the server answers 401 to them although their `exp` is in the future. */
  revokeTokens(): void;
  /** Every generated workload, whatever its phase. */
  readonly cluster: SimCluster;
  /** Overrides fields of a workload's API row (e.g. `{ name: null }`) without changing its metrics. */
  patchWorkload(id: string, patch: Readonly<Record<string, unknown>>): void;
  /** The workloads a correct collector scrapes right now: phase Running, Deleting or Degraded, and runningPods > 0. */
  scrapeableWorkloads(): SimWorkload[];
  /** The non-completed pods, as `completed=false` lists them. */
  activePods(): SimPod[];
  /** Finds a workload or pod by id. */
  resource(id: string): SimResource | undefined;
  close(): Promise<void>;
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

// ---------------------------------------------------------------------------------------------
// Deterministic generation

const GiB = 1024 ** 3;
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
const PROJECTS = ['vision', 'nlp', 'speech', 'recsys', 'robotics', 'research'] as const;
const WORKLOAD_TYPES = ['runai-job', 'training', 'workspace', 'inference', 'distributed'] as const;

/** A 53-bit hash (cyrb53): fast, deterministic, well spread. */
function hash53(text: string, seed = 0): number {
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
const unit = (text: string): number => hash53(text) / 2 ** 53;


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

const isoAt = (ms: number): string => new Date(ms).toISOString();

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

// ---------------------------------------------------------------------------------------------
// API rows

type Row = Record<string, unknown>;

function requested(resource: SimResource): Row {
  return {
    gpuRequestType: resource.gpu > 0 ? 'portion' : null,
    gpu: { limit: resource.gpu || null, request: resource.gpu || null },
    gpuMemory: { limit: null, request: resource.gpu > 0 ? `${Math.round(resource.gpuMemoryRequestBytes / GiB)}Gi` : null },
    cpu: { limit: resource.cpuLimit, request: resource.cpuRequest },
    cpuMemory: { limit: `${resource.cpuMemoryLimitBytes / GiB}Gi`, request: `${resource.cpuMemoryRequestBytes / GiB}Gi` },
    extendedResources: [],
  };
}

function allocated(resource: SimResource, active: boolean): Row {
  return {
    gpu: active ? resource.gpu : 0,
    gpuMemory: active && resource.gpu > 0 ? `${Math.round(resource.gpuMemoryRequestBytes / GiB)}Gi` : '0B',
    cpu: active ? resource.cpuRequest : 0,
    cpuMemory: active ? `${resource.cpuMemoryRequestBytes / GiB}Gi` : '0B',
    extendedResources: [],
  };
}

function workloadRow(w: SimWorkload, clusterId: string, phase: WorkloadPhase, runningPods: number): Row {
  const project = w.projectName;
  const updated = isoAt(Date.parse(w.createdAt) + 60_000);
  return {
    tenantId: 1001,
    runningPods,
    phaseUpdatedAt: updated,
    k8sPhaseUpdatedAt: updated,
    updatedAt: updated,
    source: w.index % 3 === 0 ? 'CLI' : 'Control-plane',
    deletedAt: null,
    type: WORKLOAD_TYPES[w.index % WORKLOAD_TYPES.length],
    name: w.name,
    id: w.id,
    priority: 50,
    priorityClassName: w.index % 4 === 0 ? 'high-priority' : 'train',
    submittedBy: `researcher-${w.index % 17}@example.com`,
    clusterId,
    projectName: project,
    projectId: w.projectId,
    departmentName: `department-${w.departmentId}`,
    departmentId: w.departmentId,
    namespace: `runai-${project}`,
    createdAt: w.createdAt,
    workloadRequestedResources: requested(w),
    podsRequestedResources: requested(w),
    allocatedResources: allocated(w, runningPods > 0),
    actionsSupport: { delete: true, suspend: true },
    phase,
    conditions: [{ type: 'Ready', status: runningPods > 0 ? 'True' : 'False' }],
    k8sPhase: runningPods > 0 ? 'Running' : 'Pending',
    requestedPods: { number: w.podCount },
    requestedNodePools: ['default'],
    currentNodePools: runningPods > 0 ? ['default'] : [],
    completedAt: phase === 'Completed' || phase === 'Failed' ? updated : null,
    images: ['nvcr.io/nvidia/pytorch:24.05-py3'],
    preemptible: w.index % 2 === 0,
    idleGpus: 0,
    idleAllocatedGpus: 0,
    totalPendingTimeSeconds: 12,
    totalRunningTimeSeconds: 3600,
    category: w.index % 5 === 3 ? 'Deploy' : 'Train',
  };
}

function podRow(pod: SimPod, workload: SimWorkload, clusterId: string, full: boolean): Row {
  const row: Row = {
    name: pod.name,
    priorityClassName: 'train',
    id: pod.id,
    workloadId: pod.workloadId,
    revisionId: null,
    clusterId,
    projectId: workload.projectId,
    nodeName: pod.k8sPhase === 'Running' ? `gpu-node-${hash53(pod.id) % 64}` : null,
    createdAt: pod.createdAt,
    completedAt: pod.completedAt,
    containers: [{ name: 'main', image: 'nvcr.io/nvidia/pytorch:24.05-py3', startedAt: pod.k8sPhase === 'Running' ? pod.createdAt : null }],
    currentNodePool: pod.k8sPhase === 'Running' ? 'default' : null,
    requestedNodePools: ['default'],
    requestedResources: requested(pod),
    allocatedResources: allocated(pod, pod.k8sPhase === 'Running'),
    tolerations: [],
    k8sPhase: pod.k8sPhase,
    ip: pod.k8sPhase === 'Running' ? `10.244.${hash53(pod.id) % 256}.${hash53(pod.name) % 256}` : null,
    tenantId: 1001,
    k8sPhaseUpdatedAt: pod.createdAt,
    updatedAt: pod.createdAt,
    deletedAt: null,
  };
  if (full) {
    row['projectName'] = PROJECTS[Number(workload.projectId) - 1];
    row['workloadName'] = workload.name;
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// Query handling: filterBy, sortBy, paging

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string = ERROR_MESSAGES[status] ?? 'Error',
    readonly details?: string,
  ) {
    super(message);
  }
}

const FILTER = new RegExp(`^(\\w+)(${FILTER_OPERATORS.map((op) => op.replace(/[$^]/g, '\\$&')).join('|')})(.+)$`);

interface Filter {
  readonly field: string;
  readonly op: FilterOperator;
  readonly value: string;
}

function parseFilters(text: string | undefined, fields: readonly string[], maxFilters: number | undefined): Filter[] {
  if (text === undefined || text === '') return [];
  const items = text.split(',');
  if (maxFilters !== undefined && items.length > maxFilters) {
    throw new ApiError(400, `filterBy accepts at most ${maxFilters} items, got ${items.length}`);
  }
  return items.map((item) => {
    const match = FILTER.exec(item);
    if (!match || !fields.includes(match[1]!)) throw new ApiError(400, `Invalid filterBy item: ${item}`);
    return { field: match[1]!, op: match[2] as FilterOperator, value: match[3]! };
  });
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  const na = Number(sa);
  const nb = Number(sb);
  if (sa !== '' && sb !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const da = Date.parse(sa);
  const db = Date.parse(sb);
  if (/^\d{4}-\d{2}-\d{2}/.test(sa) && /^\d{4}-\d{2}-\d{2}/.test(sb) && !Number.isNaN(da) && !Number.isNaN(db)) return da - db;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function matches(actual: unknown, filter: Filter): boolean {
  if (actual === null || actual === undefined) return filter.op === '!=' || filter.op === '!@';
  const text = String(actual);
  switch (filter.op) {
    case '==':
      return text === filter.value;
    case '!=':
      return text !== filter.value;
    case '<=':
      return compare(actual, filter.value) <= 0;
    case '>=':
      return compare(actual, filter.value) >= 0;
    case '=@':
      return text.includes(filter.value);
    case '!@':
      return !text.includes(filter.value);
    case '=^':
      return text.startsWith(filter.value);
    case '=$':
      return text.endsWith(filter.value);
  }
}

/** The value a filter or sort field refers to in a workload or pod row. */
function fieldOf(row: Row, field: string): unknown {
  switch (field) {
    case 'allocatedGPU':
      return (row['allocatedResources'] as Row | null)?.['gpu'];
    case 'nodepool':
      return (row['currentNodePools'] as unknown[] | undefined)?.[0];
    case 'currentNodepool':
      return row['currentNodePool'];
    default:
      return row[field];
  }
}

function integerParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  if (!/^-?\d+$/.test(text)) throw new ApiError(400, `${name} must be an integer, got ${text}`);
  const value = Number(text);
  if (value < min || value > max) throw new ApiError(400, `${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function enumParam<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  if (!allowed.includes(text as T)) throw new ApiError(400, `${name} must be one of ${allowed.join(', ')}, got ${text}`);
  return text as T;
}

interface Page {
  readonly rows: Row[];
  readonly next: number | undefined;
}

/** Filters, sorts and slices rows as the listing endpoints do. `next` is absent on the last page. */
function listPage(rows: Row[], query: URLSearchParams, fields: readonly string[], maxFilters: number | undefined): Page {
  const offset = integerParam(query, 'offset', 0, 2 ** 31 - 1, 0);
  const limit = integerParam(query, 'limit', 1, 500, 50);
  const sortBy = enumParam(query, 'sortBy', fields, undefined);
  const order = enumParam(query, 'sortOrder', ['asc', 'desc'], 'asc');
  const filters = parseFilters(query.get('filterBy') ?? undefined, fields, maxFilters);
  const search = query.get('search')?.toLowerCase();
  let selected = rows.filter((row) => filters.every((f) => matches(fieldOf(row, f.field), f)));
  if (search) selected = selected.filter((row) => String(row['name'] ?? '').toLowerCase().includes(search));
  if (sortBy !== undefined) {
    const sign = order === 'desc' ? -1 : 1;
    const keyed = selected.map((row) => ({ row, key: sortKey(fieldOf(row, sortBy)) }));
    // Array.prototype.sort is stable: ties keep creation order, so paging a sorted list is consistent.
    keyed.sort((a, b) => sortValue(a.key, b.key, sign));
    selected = keyed.map((k) => k.row);
  }
  const page = selected.slice(offset, offset + limit);
  return { rows: page, next: offset + limit < selected.length ? offset + limit : undefined };
}

/** A sortable key: numbers and date-times as numbers, other text as text, missing as undefined. */
function sortKey(value: unknown): number | string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const text = String(value);
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) return Date.parse(text);
  return text;
}

function sortValue(a: number | string | undefined, b: number | string | undefined, sign: number): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return sign * (a - b);
  const sa = String(a);
  const sb = String(b);
  return sign * (sa < sb ? -1 : sa > sb ? 1 : 0);
}

function booleanParam(query: URLSearchParams, name: string): boolean | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (text !== 'true' && text !== 'false') throw new ApiError(400, `${name} must be true or false, got ${text}`);
  return text === 'true';
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function timeParam(query: URLSearchParams, name: string): number {
  const text = query.get(name);
  if (text === null || text === '') throw new ApiError(400, ERROR_MESSAGES[400], `${name} is required`);
  const ms = Date.parse(text);
  if (!ISO_8601.test(text) || Number.isNaN(ms)) throw new ApiError(400, `${name} must be an ISO 8601 date-time, got ${text}`);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// The server

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface ActiveRule {
  readonly rule: FaultRule;
  readonly random: () => number;
  remaining: number;
}

const WORKLOAD_METRICS_PATH = /^\/api\/v1\/workloads\/([^/]+)\/metrics$/;
const POD_METRICS_PATH = /^\/api\/v1\/workloads\/([^/]+)\/pods\/([^/]+)\/metrics$/;
const ALL_PHASES: readonly string[] = WORKLOAD_PHASES;

function routeOf(method: string, path: string): { route: SimRoute; ids: string[] } {
  if (method === 'POST' && path === '/api/v1/token') return { route: 'token', ids: [] };
  if (method !== 'GET') return { route: 'unknown', ids: [] };
  if (path === '/api/v1/workloads') return { route: 'workloads', ids: [] };
  if (path === '/api/v1/workloads/pods') return { route: 'pods', ids: [] };
  const pod = POD_METRICS_PATH.exec(path);
  if (pod) return { route: 'pod-metrics', ids: [decodeURIComponent(pod[1]!), decodeURIComponent(pod[2]!)] };
  const workload = WORKLOAD_METRICS_PATH.exec(path);
  if (workload) return { route: 'workload-metrics', ids: [decodeURIComponent(workload[1]!)] };
  return { route: 'unknown', ids: [] };
}

class Simulator implements RunAiSimulator {
  readonly seed: number;
  readonly cluster: SimCluster;
  readonly credentials: { readonly id: string; readonly secret: string };
  #url = '';
  #server: Server;
  #options: RunAiSimulatorOptions;
  #now: () => number;
  #requests: SimRequest[] = [];
  #rules: ActiveRule[] = [];
  #ruleCount = 0;
  #latencyMs: number;
  #tokenTtl: number;
  #revokedBefore = 0;
  #issued = 0;
  #opaque = new Map<string, { serial: number; exp: number }>();
  #signingKey: string;
  #patches = new Map<string, Readonly<Record<string, unknown>>>();
  /** Listed rows by workload id, rebuilt when the phase or running pods change. */
  #rows = new Map<string, { phase: WorkloadPhase; runningPods: number; row: Row }>();
  /** Tokens already verified, with their claims. */
  #verified = new Map<string, { serial: number; exp: number }>();
  #byId = new Map<string, SimWorkload | SimPod>();
  #workloadById = new Map<string, SimWorkload>();

  constructor(options: RunAiSimulatorOptions) {
    this.#options = options;
    this.cluster = generateCluster(options);
    this.seed = this.cluster.seed;
    this.credentials = options.credentials?.[0] ?? { id: 'sluice-sim', secret: `sim-secret-${this.seed}` };
    this.#now = options.now ?? Date.now;
    this.#latencyMs = options.latencyMs ?? 0;
    this.#tokenTtl = options.tokenTtlSeconds ?? 3600;
    this.#signingKey = `runai-sim-${this.seed}`;
    for (const rule of options.faults ?? []) this.addFault(rule);
    for (const w of this.cluster.workloads) {
      this.#byId.set(w.id, w);
      this.#workloadById.set(w.id, w);
      for (const p of w.pods) this.#byId.set(p.id, p);
    }
    this.#server = createServer((req, res) => {
      // A client that hangs up mid-request only costs its own connection.
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.keepAliveTimeout = 60_000;
  }

  get url(): string {
    return this.#url;
  }

  get requests(): readonly SimRequest[] {
    return this.#requests;
  }

  async listen(): Promise<void> {
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${host}:${address.port}`;
  }

  clearRequests(): void {
    this.#requests = [];
  }

  addFault(rule: FaultRule): void {
    const random = seededRandom(hash53(`${this.seed}:fault:${this.#ruleCount++}`));
    this.#rules.push({ rule, random, remaining: rule.times ?? Infinity });
  }

  clearFaults(): void {
    this.#rules = [];
  }

  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  setTokenTtl(seconds: number): void {
    this.#tokenTtl = seconds;
  }

  revokeTokens(): void {
    this.#revokedBefore = this.#issued;
  }

  patchWorkload(id: string, patch: Readonly<Record<string, unknown>>): void {
    if (!this.#workloadById.has(id)) throw new Error(`no workload ${id} in the simulated cluster`);
    this.#patches.set(id, { ...this.#patches.get(id), ...patch });
  }

  scrapeableWorkloads(): SimWorkload[] {
    return this.cluster.workloads.filter((w) => {
      const { phase, runningPods } = this.#liveState(w);
      return (phase === 'Running' || phase === 'Deleting' || phase === 'Degraded') && runningPods > 0;
    });
  }

  activePods(): SimPod[] {
    return this.cluster.workloads.flatMap((w) => w.pods.filter((p) => p.completedAt === null));
  }

  resource(id: string): SimResource | undefined {
    return this.#byId.get(id);
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Phase and running pods as listed now, after churn and patches. */
  #liveState(w: SimWorkload): { phase: WorkloadPhase; runningPods: number } {
    const patch = this.#patches.get(w.id);
    let phase = w.phase;
    let runningPods = w.runningPods;
    const churn = this.#options.churn;
    if (churn && phase === 'Running') {
      const epoch = Math.floor(this.#now() / churn.periodMs);
      if (unit(`${w.id}|churn|${epoch}`) < churn.fraction) {
        phase = 'Pending';
        runningPods = 0;
      }
    }
    if (patch && typeof patch['phase'] === 'string' && ALL_PHASES.includes(patch['phase'])) phase = patch['phase'] as WorkloadPhase;
    if (patch && typeof patch['runningPods'] === 'number') runningPods = patch['runningPods'];
    return { phase, runningPods };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const { route, ids } = routeOf(method, url.pathname);
    const authHeader = req.headers.authorization;
    const bearer = /^Bearer\s+(.*)$/i.exec(authHeader ?? '');
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) if (!(key in query)) query[key] = value;
    const body = method === 'POST' ? await readBody(req) : '';
    const entry: SimRequest = {
      method,
      route,
      path: url.pathname,
      query,
      auth: bearer?.[1],
      ...(route === 'token' ? { grantType: grantTypeOf(body) } : {}),
      at: Date.now(),
      status: 0,
    };
    this.#record(entry);

    const fault = this.#fault(route, ids);
    // The request is judged on arrival (a token valid when it arrived is valid); latency is paid
    // before the answer leaves, as on a real server.
    const answer = fault && 'reset' in fault ? undefined : this.#judge(fault, route, ids, url.searchParams, body, bearer?.[1], res);
    const delay = this.#latencyMs + (fault && 'delayMs' in fault ? fault.delayMs : 0);
    if (delay > 0) await sleep(delay);
    if (answer === undefined) {
      req.socket.destroy();
      this.#options.onRequest?.(entry);
      return;
    }
    entry.status = answer.status;
    if (fault && 'malformed' in fault && answer.status >= 200 && answer.status < 300) {
      send(res, ...malform(fault.malformed, route, answer.body));
    } else {
      send(res, answer.status, 'application/json', JSON.stringify(answer.body));
    }
    this.#options.onRequest?.(entry);
  }

  /** The answer to a request, after a status fault if one applies. */
  #judge(
    fault: FaultEffect | undefined,
    route: SimRoute,
    ids: string[],
    query: URLSearchParams,
    body: string,
    token: string | undefined,
    res: ServerResponse,
  ): Answer {
    try {
      if (fault && 'status' in fault && (fault.status < 200 || fault.status > 299)) {
        if (fault.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
        throw new ApiError(fault.status);
      }
      if (fault && 'endless' in fault && (route === 'workloads' || route === 'pods')) return this.#endless(fault.endless, route, query, token);
      const answer = this.#answer(route, ids, query, body, token);
      return fault && 'status' in fault ? { status: fault.status, body: answer.body } : answer;
    } catch (err) {
      return errorAnswer(err);
    }
  }

  /** A listing page that always has `next` (the `endless` fault). */
  #endless(kind: 'repeat' | 'fresh', route: 'workloads' | 'pods', query: URLSearchParams, token: string | undefined): Answer {
    const offset = Number(query.get('offset') ?? '0') || 0;
    const first = new URLSearchParams(query);
    first.set('offset', '0');
    const answer = this.#answer(route, [], first, '', token);
    const rows = ((answer.body as Row)[route] as Row[] | undefined) ?? [];
    const page = kind === 'repeat' ? rows : rows.map((row) => ({ ...row, id: `${String(row['id'])}-${offset}` }));
    return { status: answer.status, body: { [route]: page, next: offset + Math.max(1, page.length) } };
  }

  #record(entry: SimRequest): void {
    const max = this.#options.maxRecordedRequests ?? 100_000;
    this.#requests.push(entry);
    // Trim in steps, so a long-running simulator does not copy the log on every request.
    if (this.#requests.length > max + Math.ceil(max / 10)) this.#requests.splice(0, this.#requests.length - max);
  }

  #fault(route: SimRoute, ids: string[]): FaultEffect | undefined {
    for (const active of this.#rules) {
      const { rule } = active;
      if (active.remaining <= 0) continue;
      if (rule.route !== undefined && !(typeof rule.route === 'string' ? [rule.route] : rule.route).includes(route)) continue;
      if (rule.resourceId !== undefined && !ids.includes(rule.resourceId)) continue;
      if (rule.rate !== undefined && active.random() >= rule.rate) continue;
      active.remaining--;
      return rule.effect;
    }
    return undefined;
  }

  #answer(route: SimRoute, ids: string[], query: URLSearchParams, body: string, token: string | undefined): Answer {
    if (route === 'unknown') throw new ApiError(404, 'Not found');
    if (route === 'token') return this.#grant(body);
    this.#authenticate(token);
    switch (route) {
      case 'workloads':
        return this.#listWorkloads(query);
      case 'pods':
        return this.#listPods(query);
      case 'workload-metrics':
        return this.#metrics('workload', this.#workloadById.get(ids[0]!), query);
      case 'pod-metrics': {
        const pod = this.#byId.get(ids[1]!);
        return this.#metrics('pod', pod?.kind === 'pod' && pod.workloadId === ids[0] ? pod : undefined, query);
      }
    }
  }

  #grant(body: string): Answer {
    let request: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      // Keys match case-insensitively, as Go's decoder does: AppId, appID and appId all work.
      request = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.toLowerCase(), v]));
    } catch {
      throw new ApiError(400, 'Request body must be a JSON object');
    }
    const grantType = request['granttype'];
    const [idKey, secretKey] =
      grantType === 'app_token' ? ['appid', 'appsecret'] : grantType === 'client_credentials' ? ['clientid', 'clientsecret'] : [];
    if (idKey === undefined || secretKey === undefined) {
      throw new ApiError(400, grantType === undefined ? ERROR_MESSAGES[400] : `Unsupported grantType: ${String(grantType)}`);
    }
    const id = request[idKey];
    const secret = request[secretKey];
    if (typeof id !== 'string' || typeof secret !== 'string') throw new ApiError(400, ERROR_MESSAGES[400], `${idKey} and ${secretKey} are required`);
    const accepted = this.#options.credentials ?? [this.credentials];
    if (!accepted.some((c) => c.id === id && c.secret === secret)) throw new ApiError(401);
    const accessToken = this.#issue(id);
    return { status: 200, body: { accessToken, idToken: accessToken, refreshToken: '', expiresIn: this.#tokenTtl } };
  }

  #issue(subject: string): string {
    const serial = ++this.#issued;
    const now = Math.floor(this.#now() / 1000);
    const exp = now + this.#tokenTtl;
    if (this.#options.opaqueTokens) {
      const token = createHash('sha256').update(`${this.#signingKey}:${serial}`).digest('base64url');
      this.#opaque.set(token, { serial, exp });
      return token;
    }
    const header = base64url({ alg: 'HS256', typ: 'JWT' });
    const payload = base64url({ iss: 'runai-sim', sub: subject, iat: now, exp, jti: String(serial) });
    return `${header}.${payload}.${this.#sign(`${header}.${payload}`)}`;
  }

  #sign(text: string): string {
    return createHmac('sha256', this.#signingKey).update(text).digest('base64url');
  }

  /** Throws 401 unless `token` is a token this simulator issued, unexpired and not revoked. */
  #authenticate(token: string | undefined): void {
    const claims = token === undefined ? undefined : this.#claims(token);
    if (!claims || claims.serial <= this.#revokedBefore || claims.exp * 1000 <= this.#now()) throw new ApiError(401);
  }

  #claims(token: string): { serial: number; exp: number } | undefined {
    if (this.#options.opaqueTokens) return this.#opaque.get(token);
    const known = this.#verified.get(token);
    if (known !== undefined) return known;
    const [header, payload, signature] = token.split('.');
    if (header === undefined || payload === undefined || signature !== this.#sign(`${header}.${payload}`)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { jti: string; exp: number };
      const verified = { serial: Number(claims.jti), exp: claims.exp };
      this.#verified.set(token, verified);
      return verified;
    } catch {
      return undefined;
    }
  }

  #listWorkloads(query: URLSearchParams): Answer {
    const deleted = booleanParam(query, 'deleted');
    // No simulated workload is deleted: `deleted=true` lists none.
    const rows = deleted
      ? []
      : this.cluster.workloads.map((w) => {
          const { phase, runningPods } = this.#liveState(w);
          let cached = this.#rows.get(w.id);
          if (cached?.phase !== phase || cached.runningPods !== runningPods) {
            cached = { phase, runningPods, row: workloadRow(w, this.cluster.clusterId, phase, runningPods) };
            this.#rows.set(w.id, cached);
          }
          const patch = this.#patches.get(w.id);
          return patch ? { ...cached.row, ...patch } : cached.row;
        });
    const page = listPage(rows, query, WORKLOAD_FILTER_FIELDS, this.#options.maxFilters);
    return { status: 200, body: page.next === undefined ? { workloads: page.rows } : { workloads: page.rows, next: page.next } };
  }

  #listPods(query: URLSearchParams): Answer {
    const verbosity = enumParam(query, 'verbosity', ['brief', 'full'], 'brief');
    const completedText = query.get('completed') ?? '';
    if (!['', 'all', 'true', 'false'].includes(completedText)) throw new ApiError(400, `completed must be true, false or all, got ${completedText}`);
    const deleted = booleanParam(query, 'deleted');
    const rows: Row[] = [];
    for (const w of deleted ? [] : this.cluster.workloads) {
      for (const pod of w.pods) {
        const completed = pod.completedAt !== null;
        if ((completedText === 'true' && !completed) || (completedText === 'false' && completed)) continue;
        rows.push(podRow(pod, w, this.cluster.clusterId, verbosity === 'full'));
      }
    }
    const page = listPage(rows, query, POD_FILTER_FIELDS, this.#options.maxFilters);
    return { status: 200, body: page.next === undefined ? { pods: page.rows } : { pods: page.rows, next: page.next } };
  }

  #metrics(kind: ResourceType, resource: SimResource | undefined, query: URLSearchParams): Answer {
    if (resource === undefined) throw new ApiError(404);
    const text = query.get('metricType');
    if (text === null || text === '') throw new ApiError(400, ERROR_MESSAGES[400], 'metricType is required');
    const types = text.split(',');
    const allowed = METRIC_TYPES[kind];
    const bad = types.find((t) => !allowed.includes(t));
    if (bad !== undefined) throw new ApiError(400, `Invalid metricType: ${bad}`, `allowed: ${allowed.join(', ')}`);
    const max = this.#options.maxMetricTypes;
    if (max !== undefined && types.length > max) throw new ApiError(400, `metricType accepts at most ${max} items, got ${types.length}`);
    const start = timeParam(query, 'start');
    const end = timeParam(query, 'end');
    if (end < start) throw new ApiError(400, 'end must not be before start');
    const n = integerParam(query, 'numberOfSamples', 0, 1000, 20);
    return { status: 200, body: { measurements: measurements(resource, types, { start, end }, n) } };
  }
}

function errorAnswer(err: unknown): Answer {
  if (err instanceof ApiError) {
    const body: ApiErrorBody = { code: err.status, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return { status: err.status, body };
  }
  return { status: 500, body: { code: 500, message: ERROR_MESSAGES[500] } };
}

function grantTypeOf(body: string): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)['grantType'];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Turns a good answer into the malformed one a fault asks for: [status, content type, body]. */
function malform(kind: MalformedKind, route: SimRoute, body: unknown): [number, string, string] {
  const json = JSON.stringify(body);
  switch (kind) {
    case 'html':
      return [200, 'text/html; charset=utf-8', '<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sign in</h1></body></html>'];
    case 'truncated-json':
      return [200, 'application/json', json.slice(0, Math.max(1, Math.floor(json.length / 2)))];
    case 'empty-body':
      return [200, 'application/json', ''];
    case 'wrong-content-type':
      return [200, 'text/plain; charset=utf-8', json];
    case 'missing-array':
      return [200, 'application/json', '{}'];
    default:
      return [200, 'application/json', JSON.stringify(corrupt(kind, route, structuredClone(body) as Row))];
  }
}

function corrupt(kind: MalformedKind, route: SimRoute, body: Row): Row {
  if (route === 'token') return { ...body, accessToken: kind === 'null-values' ? null : 42 };
  if (route === 'workloads' || route === 'pods') {
    const first = (body[route] as Row[])[0];
    if (first && kind === 'null-values') for (const key of ['name', 'runningPods', 'allocatedResources', 'createdAt', 'tenantId']) first[key] = null;
    else if (first) first['runningPods'] = 'two';
    return body;
  }
  const list = (body['measurements'] ?? []) as SimMeasurement[];
  for (const [i, m] of list.entries()) {
    if (kind === 'null-values') m.values = null;
    for (const v of m.values ?? []) {
      if (kind === 'nan') v.value = 'NaN';
      if (kind === 'negative') v.value = '-1';
      if (kind === 'overflow') v.value = '1e200';
      if (kind === 'bad-timestamp') v.timestamp = '2023-06-06 12:09:18.211';
      if (kind === 'non-numeric' && i === 0) v.value = 'abc';
    }
  }
  return body;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a simulator on loopback (port 0 by default). Close it with `close()`. */
export async function startRunAiSimulator(options: RunAiSimulatorOptions = {}): Promise<RunAiSimulator> {
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}
