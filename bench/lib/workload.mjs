// The Run:ai workload document the pipeline benchmarks send: the run_ai input's message body for
// one workload (shared reference §6.3), with its metadata (§6.4). Every event gets its own id.
import { randomUUID } from 'node:crypto';

export const METADATA = Object.freeze({
  scrape_time: '2025-01-01T12:00:30Z',
  scrape_interval: '30s',
  metrics_offset: '30s',
  resource_type: 'workload',
  metrics_time: '2025-01-01T12:00:00Z',
  window_start: '2025-01-01T11:59:30Z',
  window_end: '2025-01-01T12:00:00Z',
});

/** A fresh workload object, as a hand-written generator would build it. */
export function workload(id = randomUUID()) {
  return {
    resourceType: 'workload',
    tenantId: 1001,
    type: 'runai-job',
    namespace: 'runai-proj-1',
    name: 'very-important-job',
    id,
    priorityClassName: 'high-priority',
    submittedBy: 'researcher@run.ai',
    clusterId: '71f69d83-ba66-4822-adf5-55ce55efd210',
    projectName: 'proj-1',
    projectId: '1',
    departmentName: 'department-1',
    departmentId: '1',
    runningPods: 1,
    workloadRequestedResources: {
      gpuRequestType: 'portion',
      gpu: { limit: 1.5, request: 1 },
      gpuMemory: { limit: '2G', request: '200M' },
      cpu: { limit: 1.5, request: 1 },
      cpuMemory: { limit: '2G', request: '200M' },
    },
    allocatedResources: { gpu: 1.5, gpuMemory: '200Mi', cpu: 0.5, cpuMemory: '0B' },
    phase: 'Running',
    preemptible: true,
    requestedPods: { count: 0 },
    idleGpus: 3,
    idleAllocatedGpus: 1,
    createdAt: '2022-01-01T03:49:52.531Z',
    metrics: {
      timestamp: '2025-01-01T12:00:00.004512Z',
      values: {
        CPU_LIMIT_CORES: 96,
        CPU_MEMORY_LIMIT_BYTES: 412316860416,
        CPU_MEMORY_REQUEST_BYTES: 412316860416,
        CPU_MEMORY_USAGE_BYTES: 191126044672,
        CPU_REQUEST_CORES: 96,
        CPU_USAGE_CORES: 80,
        GPU_ALLOCATION: 1,
        GPU_MEMORY_REQUEST_BYTES: 42949672960,
        GPU_MEMORY_USAGE_BYTES: 28991029248,
        GPU_UTILIZATION: 85,
        POD_COUNT: 1,
        RUNNING_POD_COUNT: 1,
      },
    },
  };
}

/**
 * The same document as a `generate` mapping: the object above with `$uuid_v4()` as its id. (JSON
 * is valid JSONata, so the literal is the object's own JSON.)
 */
export const GENERATE_MAPPING = JSON.stringify(workload('__ID__')).replace('"__ID__"', '$uuid_v4()');
