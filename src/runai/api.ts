// What the Run:ai REST API accepts and says, shared by the client and the simulator.
// Source: the Run:ai OpenAPI spec (runapy 1.224.0), summarised in
// shared/reference/runai-and-openmeter-api.md §10.

/** NVIDIA NIM and NVLink metric types, accepted for workloads and pods alike. */
const NIM_AND_NVLINK_METRIC_TYPES = [
  'NIM_NUM_REQUESTS_RUNNING',
  'NIM_NUM_REQUESTS_WAITING',
  'NIM_NUM_REQUEST_MAX',
  'NIM_REQUEST_SUCCESS_TOTAL',
  'NIM_REQUEST_FAILURE_TOTAL',
  'NIM_GPU_CACHE_USAGE_PERC',
  'NIM_TIME_TO_FIRST_TOKEN_SECONDS',
  'NIM_E2E_REQUEST_LATENCY_SECONDS',
  'NIM_TIME_TO_FIRST_TOKEN_SECONDS_PERCENTILES',
  'NIM_E2E_REQUEST_LATENCY_SECONDS_PERCENTILES',
  'NVLINK_BANDWIDTH_TOTAL',
] as const;

/** `metricType` values `GET /api/v1/workloads/{id}/metrics` accepts (WorkloadMetricType). */
export const WORKLOAD_METRIC_TYPES = [
  'GPU_UTILIZATION',
  'GPU_MEMORY_USAGE_BYTES',
  'GPU_MEMORY_REQUEST_BYTES',
  'CPU_USAGE_CORES',
  'CPU_REQUEST_CORES',
  'CPU_LIMIT_CORES',
  'CPU_MEMORY_USAGE_BYTES',
  'CPU_MEMORY_REQUEST_BYTES',
  'CPU_MEMORY_LIMIT_BYTES',
  'POD_COUNT',
  'RUNNING_POD_COUNT',
  'GPU_ALLOCATION',
  ...NIM_AND_NVLINK_METRIC_TYPES,
] as const;

/** `metricType` values `GET /api/v1/workloads/{id}/pods/{podId}/metrics` accepts (PodMetricType). */
export const POD_METRIC_TYPES = [
  'GPU_UTILIZATION_PER_GPU',
  'GPU_UTILIZATION',
  'GPU_MEMORY_USAGE_BYTES_PER_GPU',
  'GPU_MEMORY_USAGE_BYTES',
  'CPU_USAGE_CORES',
  'CPU_MEMORY_USAGE_BYTES',
  'GPU_GRAPHICS_ENGINE_ACTIVITY_PER_GPU',
  'GPU_SM_ACTIVITY_PER_GPU',
  'GPU_SM_OCCUPANCY_PER_GPU',
  'GPU_TENSOR_ACTIVITY_PER_GPU',
  'GPU_FP64_ENGINE_ACTIVITY_PER_GPU',
  'GPU_FP32_ENGINE_ACTIVITY_PER_GPU',
  'GPU_FP16_ENGINE_ACTIVITY_PER_GPU',
  'GPU_MEMORY_BANDWIDTH_UTILIZATION_PER_GPU',
  'GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU',
  'GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU',
  'GPU_PCIE_TRANSMITTED_BANDWIDTH_PER_GPU',
  'GPU_PCIE_RECEIVED_BANDWIDTH_PER_GPU',
  'GPU_SWAP_MEMORY_BYTES_PER_GPU',
  ...NIM_AND_NVLINK_METRIC_TYPES,
  'NVLINK_BANDWIDTH_TOTAL_PER_GPU',
] as const;

export type WorkloadMetricType = (typeof WORKLOAD_METRIC_TYPES)[number];
export type PodMetricType = (typeof POD_METRIC_TYPES)[number];
export type MetricType = WorkloadMetricType | PodMetricType;

export type ResourceType = 'workload' | 'pod';

/** Metric types per resource type, for validating a config before any request. */
export const METRIC_TYPES: Readonly<Record<ResourceType, readonly string[]>> = {
  workload: WORKLOAD_METRIC_TYPES,
  pod: POD_METRIC_TYPES,
};

/** Whether a metric type reports one measurement per GPU, each labelled `{"gpu": "<index>"}`. */
export const isPerGpuMetric = (type: string): boolean => type.endsWith('_PER_GPU');

/** Workload phases (the `phase` enum). */
export const WORKLOAD_PHASES = [
  'Creating',
  'Initializing',
  'Resuming',
  'Pending',
  'Deleting',
  'Running',
  'Updating',
  'Stopped',
  'Stopping',
  'Degraded',
  'Failed',
  'Completed',
  'Terminating',
  'Unknown',
] as const;
export type WorkloadPhase = (typeof WORKLOAD_PHASES)[number];

/**
 * Phases OpenMeter's collector excludes with `filterBy` (reference §4.1), in its order. What passes
 * is Deleting, Running and Degraded: a workload still holding resources.
 */
export const EXCLUDED_PHASES: readonly WorkloadPhase[] = [
  'Creating',
  'Initializing',
  'Resuming',
  'Pending',
  'Updating',
  'Stopped',
  'Stopping',
  'Failed',
  'Completed',
  'Terminating',
  'Unknown',
];

/** Fields `filterBy` and `sortBy` accept on `GET /api/v1/workloads`. */
export const WORKLOAD_FILTER_FIELDS = [
  'type',
  'name',
  'clusterId',
  'projectId',
  'projectName',
  'departmentId',
  'departmentName',
  'createdAt',
  'deletedAt',
  'submittedBy',
  'phase',
  'completedAt',
  'nodepool',
  'distributedFramework',
  'allocatedGPU',
  'idleGpus',
  'idleAllocatedGpus',
  'phaseUpdatedAt',
  'category',
  'totalPendingTimeSeconds',
  'totalRunningTimeSeconds',
  'priority',
  'priorityClassName',
  'guaranteedRuntimeEndsAt',
  'aiApplicationId',
  'aiApplicationName',
] as const;

/** Fields `filterBy` and `sortBy` accept on `GET /api/v1/workloads/pods`. */
export const POD_FILTER_FIELDS = [
  'clusterId',
  'workloadId',
  'revisionId',
  'nodeName',
  'currentNodepool',
  'createdAt',
  'completedAt',
  'deletedAt',
] as const;

/** `filterBy` operators: equals, differs, at most, at least, contains, lacks, starts with, ends with. */
export const FILTER_OPERATORS = ['==', '!=', '<=', '>=', '=@', '!@', '=^', '=$'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** The JSON error body every Run:ai endpoint answers with. */
export interface ApiErrorBody {
  code: number;
  message: string;
  details?: string;
}

/** Run:ai's documented error messages, by status. */
export const ERROR_MESSAGES: Readonly<Record<number, string>> = {
  400: 'Required parameter is missing',
  401: 'Issuer is not familiar.',
  403: 'You do not have sufficient permissions.',
  404: 'Resource id not found.',
  429: 'Too many requests.',
  500: 'Something went wrong.',
  502: 'Bad gateway.',
  503: 'Please try again in few minutes.',
  504: 'Gateway timeout.',
};

/**
 * Encodes a query the way Go's url.Values.Encode does (what the reference collector sends): keys
 * sorted, QueryEscape on keys and values, so `!` `=` `,` `:` become `%21` `%3D` `%2C` `%3A` and a
 * space becomes `+`.
 */
export function encodeQuery(query: Readonly<Record<string, string>>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${queryEscape(key)}=${queryEscape(query[key]!)}`)
    .join('&');
}

function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Formats epoch milliseconds as RFC 3339 with whole seconds, as Go's `time.RFC3339` layout: `2025-01-01T12:00:00Z`. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Formats epoch milliseconds as Go's `time.RFC3339Nano` layout: fraction kept, trailing zeros trimmed. */
export function rfc3339Nano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
}
