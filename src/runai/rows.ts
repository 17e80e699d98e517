// The rows Run:ai's listings return, decoded the way Go's encoding/json decodes the structs of
// OpenMeter's collector (shared/reference/runai-and-openmeter-api.md §4.3): exactly the reference's
// keys in its order, null or missing fields as Go zero values, wrong types reported as problems.

export interface Quantities<T> {
  limit: T;
  request: T;
}

/** Requested resources, as the reference decodes them (nulls become 0 and ""). */
export interface RequestedResources {
  gpuRequestType: string;
  gpu: Quantities<number>;
  gpuMemory: Quantities<string>;
  cpu: Quantities<number>;
  cpuMemory: Quantities<string>;
}

export interface AllocatedResources {
  gpu: number;
  gpuMemory: string;
  cpu: number;
  cpuMemory: string;
}

/**
 * A workload as OpenMeter's collector decodes and re-emits it (its Go `runai.Workload`): exactly
 * these keys in this order, null or missing fields as Go zero values, `preemptible`, `idleGpus` and
 * `idleAllocatedGpus` omitted when null. Times are the API's strings, passed through.
 */
export interface Workload {
  tenantId: number;
  type: string;
  namespace: string;
  name: string;
  id: string;
  priorityClassName: string;
  submittedBy: string;
  clusterId: string;
  projectName: string;
  projectId: string;
  departmentName: string;
  departmentId: string;
  runningPods: number;
  workloadRequestedResources: RequestedResources;
  allocatedResources: AllocatedResources;
  phase: string;
  preemptible?: boolean;
  /** Always `{count: 0}` in the reference: the API has no `requestedPods.count`. Kept for byte-compatibility. */
  requestedPods: { count: number };
  idleGpus?: number;
  idleAllocatedGpus?: number;
  createdAt: string;
}

/** A pod as OpenMeter's collector decodes and re-emits it (its Go `runai.Pod`); pointer fields are null when absent. */
export interface Pod {
  name: string;
  id: string;
  priorityClassName: string;
  workloadId: string;
  clusterId: string;
  projectId: string | null;
  nodeName: string | null;
  createdAt: string;
  completedAt: string | null;
  containers: { name: string; image: string; startedAt: string | null }[] | null;
  currentNodePool: string | null;
  /** Always null in the reference: the API has `requestedNodePools` (plural). Kept for byte-compatibility. */
  requestedNodePool: string | null;
  requestedResources: RequestedResources;
  allocatedResources: AllocatedResources;
  k8sPhase: string;
  tenantId: number;
  k8sPhaseUpdatedAt: string;
  updatedAt: string;
  projectName: string;
  workloadName: string;
}

/** Decodes one listed row; undefined when it can't be scraped. `keep` says whether it passes the filter. */
export type Decoder<T> = (raw: unknown, at: string, problems: string[]) => { item: T; keep: boolean } | undefined;

type Obj = Record<string, unknown>;
export const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const typeName = (value: unknown): string => (Array.isArray(value) ? 'array' : typeof value);
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Reads fields of one object with Go zero values for null or missing ones; a wrong type is a problem. */
function fields(obj: Obj, at: string, problems: string[]) {
  const wrong = (key: string, expected: string): void => {
    problems.push(`${at}.${key}: expected ${expected}, got ${typeName(obj[key])}`);
  };
  const absent = (key: string): boolean => obj[key] === null || obj[key] === undefined;
  return {
    str(key: string): string {
      const v = obj[key];
      if (typeof v === 'string') return v;
      if (!absent(key)) wrong(key, 'string');
      return '';
    },
    time(key: string): string {
      const v = obj[key];
      if (typeof v === 'string') return v;
      if (!absent(key)) wrong(key, 'date-time string');
      return ZERO_TIME;
    },
    int(key: string): number {
      const v = obj[key];
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (!absent(key)) wrong(key, 'integer');
      return 0;
    },
    num(key: string): number {
      const v = obj[key];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (!absent(key)) wrong(key, 'number');
      return 0;
    },
    /** A Go pointer field: null when absent. */
    strOrNull(key: string): string | null {
      const v = obj[key];
      if (typeof v === 'string') return v;
      if (!absent(key)) wrong(key, 'string');
      return null;
    },
    /** A Go `omitempty` pointer: undefined (left out of the JSON) when absent. */
    optional<T>(key: string, check: (v: unknown) => v is T, expected: string): T | undefined {
      const v = obj[key];
      if (check(v)) return v;
      if (!absent(key)) wrong(key, expected);
      return undefined;
    },
    obj(key: string): Obj {
      const v = obj[key];
      if (isObject(v)) return v;
      if (!absent(key)) wrong(key, 'object');
      return {};
    },
  };
}

const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function requestedResources(obj: Obj, at: string, problems: string[]): RequestedResources {
  const f = fields(obj, at, problems);
  const gpu = fields(f.obj('gpu'), `${at}.gpu`, problems);
  const gpuMemory = fields(f.obj('gpuMemory'), `${at}.gpuMemory`, problems);
  const cpu = fields(f.obj('cpu'), `${at}.cpu`, problems);
  const cpuMemory = fields(f.obj('cpuMemory'), `${at}.cpuMemory`, problems);
  return {
    gpuRequestType: f.str('gpuRequestType'),
    gpu: { limit: gpu.num('limit'), request: gpu.num('request') },
    gpuMemory: { limit: gpuMemory.str('limit'), request: gpuMemory.str('request') },
    cpu: { limit: cpu.num('limit'), request: cpu.num('request') },
    cpuMemory: { limit: cpuMemory.str('limit'), request: cpuMemory.str('request') },
  };
}

function allocatedResources(obj: Obj, at: string, problems: string[]): AllocatedResources {
  const f = fields(obj, at, problems);
  return { gpu: f.num('gpu'), gpuMemory: f.str('gpuMemory'), cpu: f.num('cpu'), cpuMemory: f.str('cpuMemory') };
}

/** The row's id, or undefined (with a problem) when the row can't be scraped at all. */
function idOf(raw: unknown, key: string, at: string, problems: string[]): string | undefined {
  if (!isObject(raw)) {
    problems.push(`${at}: expected object, got ${raw === null ? 'null' : typeName(raw)}`);
    return undefined;
  }
  const id = raw[key];
  if (typeof id === 'string' && id !== '') return id;
  problems.push(`${at}.${key}: expected non-empty string, got ${id === null ? 'null' : typeName(id)}`);
  return undefined;
}

const ADMITTED_PHASES = new Set<string>(['Deleting', 'Running', 'Degraded']);

/** Decodes a workload row; `keep` applies the reference's filter (phase, runningPods > 0) locally too. */
export function decodeWorkload(raw: unknown, at: string, problems: string[]): { item: Workload; keep: boolean } | undefined {
  if (idOf(raw, 'id', at, problems) === undefined) return undefined;
  const obj = raw as Obj;
  const f = fields(obj, at, problems);
  const requestedPods = fields(f.obj('requestedPods'), `${at}.requestedPods`, problems);
  const item: Workload = {
    tenantId: f.int('tenantId'),
    type: f.str('type'),
    namespace: f.str('namespace'),
    name: f.str('name'),
    id: f.str('id'),
    priorityClassName: f.str('priorityClassName'),
    submittedBy: f.str('submittedBy'),
    clusterId: f.str('clusterId'),
    projectName: f.str('projectName'),
    projectId: f.str('projectId'),
    departmentName: f.str('departmentName'),
    departmentId: f.str('departmentId'),
    runningPods: f.int('runningPods'),
    workloadRequestedResources: requestedResources(f.obj('workloadRequestedResources'), `${at}.workloadRequestedResources`, problems),
    allocatedResources: allocatedResources(f.obj('allocatedResources'), `${at}.allocatedResources`, problems),
    phase: f.str('phase'),
  } as Workload;
  const preemptible = f.optional('preemptible', isBoolean, 'boolean');
  if (preemptible !== undefined) item.preemptible = preemptible;
  item.requestedPods = { count: requestedPods.int('count') };
  const idleGpus = f.optional('idleGpus', isInteger, 'integer');
  if (idleGpus !== undefined) item.idleGpus = idleGpus;
  const idleAllocatedGpus = f.optional('idleAllocatedGpus', isNumber, 'number');
  if (idleAllocatedGpus !== undefined) item.idleAllocatedGpus = idleAllocatedGpus;
  item.createdAt = f.time('createdAt');
  // An unreadable runningPods keeps the workload (reported above): better a message with zero pods than a lost one.
  const runningPods = obj['runningPods'];
  const holdsPods = typeof runningPods === 'number' && Number.isInteger(runningPods) ? runningPods > 0 : true;
  return { item, keep: ADMITTED_PHASES.has(item.phase) && holdsPods };
}

/** Decodes a pod row; a pod without a workloadId can't be scraped (its metrics path needs it). */
export function decodePod(raw: unknown, at: string, problems: string[]): { item: Pod; keep: boolean } | undefined {
  if (idOf(raw, 'id', at, problems) === undefined || idOf(raw, 'workloadId', at, problems) === undefined) return undefined;
  const f = fields(raw as Obj, at, problems);
  const containers = (raw as Obj)['containers'];
  let decodedContainers: Pod['containers'] = null;
  if (Array.isArray(containers)) {
    decodedContainers = containers.map((c: unknown, i) => {
      const cf = fields(isObject(c) ? c : {}, `${at}.containers[${i}]`, problems);
      if (!isObject(c)) problems.push(`${at}.containers[${i}]: expected object, got ${typeName(c)}`);
      return { name: cf.str('name'), image: cf.str('image'), startedAt: cf.strOrNull('startedAt') };
    });
  } else if (containers !== null && containers !== undefined) {
    problems.push(`${at}.containers: expected array, got ${typeName(containers)}`);
  }
  const item: Pod = {
    name: f.str('name'),
    id: f.str('id'),
    priorityClassName: f.str('priorityClassName'),
    workloadId: f.str('workloadId'),
    clusterId: f.str('clusterId'),
    projectId: f.strOrNull('projectId'),
    nodeName: f.strOrNull('nodeName'),
    createdAt: f.time('createdAt'),
    completedAt: f.strOrNull('completedAt'),
    containers: decodedContainers,
    currentNodePool: f.strOrNull('currentNodePool'),
    requestedNodePool: f.strOrNull('requestedNodePool'),
    requestedResources: requestedResources(f.obj('requestedResources'), `${at}.requestedResources`, problems),
    allocatedResources: allocatedResources(f.obj('allocatedResources'), `${at}.allocatedResources`, problems),
    k8sPhase: f.str('k8sPhase'),
    tenantId: f.int('tenantId'),
    k8sPhaseUpdatedAt: f.time('k8sPhaseUpdatedAt'),
    updatedAt: f.time('updatedAt'),
    projectName: f.str('projectName'),
    workloadName: f.str('workloadName'),
  };
  return { item, keep: true };
}
