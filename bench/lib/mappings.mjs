// The benchmark mappings written by hand in JavaScript: what a user would write instead of a
// JSONata expression. Each returns exactly what its JSONata twin returns for a bench workload
// (bench/stdin.mjs checks one document against the interpreter before measuring).
import { createHash } from 'node:crypto';

/** mappings/runai-workload.jsonata, by hand; `meta` is the message metadata. */
export function runaiEvent(doc, meta) {
  const number0 = (v) => (typeof v === 'number' ? v : 0);
  const gib = 1024 * 1024 * 1024;
  const minutes = parseDuration(meta.scrape_interval) / 60e9;
  const windowStart = meta.window_start ? meta.window_start : meta.metrics_time;
  const v = doc.metrics?.values ?? {};
  const gpus = v.GPU_ALLOCATION !== undefined ? number0(v.GPU_ALLOCATION) : number0(doc.allocatedResources?.gpu);
  return {
    id: uuidV5([String(doc.clusterId), meta.resource_type, doc.id, windowStart, meta.scrape_interval].join('|')),
    specversion: '1.0',
    type: meta.resource_type,
    source: 'run_ai',
    time: windowStart,
    subject: doc.projectName ? doc.projectName : String(doc.projectId),
    data: {
      name: doc.name,
      namespace: doc.namespace,
      phase: doc.phase,
      tenant: String(doc.tenantId),
      project: doc.projectName,
      department: doc.departmentName,
      cluster: doc.clusterId,
      type: doc.type,
      workload_minutes: minutes,
      cpu_limit_core_minutes: number0(v.CPU_LIMIT_CORES) * minutes,
      cpu_request_core_minutes: number0(v.CPU_REQUEST_CORES) * minutes,
      cpu_usage_core_minutes: number0(v.CPU_USAGE_CORES) * minutes,
      cpu_memory_limit_gigabyte_minutes: (number0(v.CPU_MEMORY_LIMIT_BYTES) / gib) * minutes,
      cpu_memory_request_gigabyte_minutes: (number0(v.CPU_MEMORY_REQUEST_BYTES) / gib) * minutes,
      cpu_memory_usage_gigabyte_minutes: (number0(v.CPU_MEMORY_USAGE_BYTES) / gib) * minutes,
      gpu_allocation_minutes: gpus * minutes,
      gpu_usage_minutes: ((gpus * number0(v.GPU_UTILIZATION)) / 100) * minutes,
      gpu_memory_request_gigabyte_minutes: (number0(v.GPU_MEMORY_REQUEST_BYTES) / gib) * minutes,
      gpu_memory_usage_gigabyte_minutes: (number0(v.GPU_MEMORY_USAGE_BYTES) / gib) * minutes,
    },
  };
}

/** bench/mappings/realistic.jsonata, by hand. */
export function realisticEvent(doc) {
  const v = doc.metrics.values;
  const gpus = doc.allocatedResources.gpu ? doc.allocatedResources.gpu : 0;
  const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    id: `${doc.id}:${doc.tenantId}`,
    source: `bench/${doc.type.toLowerCase()}`,
    type: `usage.${doc.resourceType}`,
    subject: `${doc.projectName.toLowerCase()}/${doc.departmentName.toLowerCase()}`,
    time: doc.metrics.timestamp,
    data: {
      name: doc.name.toLowerCase(),
      namespace: doc.namespace,
      tenant: String(doc.tenantId),
      project: doc.projectName,
      department: doc.departmentName,
      cluster: doc.clusterId,
      submitted_by: doc.submittedBy,
      priority: doc.priorityClassName === 'high-priority' ? 'high' : 'normal',
      phase: doc.phase.toLowerCase(),
      running: doc.phase === 'Running' && doc.runningPods > 0,
      preemptible: doc.preemptible ? 'yes' : 'no',
      gpus: round(gpus, 2),
      gpu_class: gpus >= 4 ? 'large' : gpus >= 1 ? 'medium' : 'small',
      gpu_utilisation: round(v.GPU_UTILIZATION / 100, 3),
      cpu_cores: round(v.CPU_USAGE_CORES, 1),
      cpu_share: round(v.CPU_USAGE_CORES / v.CPU_LIMIT_CORES, 4),
      memory_gib: round(v.CPU_MEMORY_USAGE_BYTES / 1073741824, 2),
      gpu_memory_gib: round(v.GPU_MEMORY_USAGE_BYTES / 1073741824, 2),
      pods: `${doc.runningPods}/${doc.requestedPods.count}`,
      idle_gpus: doc.idleGpus + doc.idleAllocatedGpus,
      busy_metrics: Object.keys(v).filter((k) => k.slice(0, 3) === 'GPU').join(','),
      labels: [doc.namespace, doc.projectName, doc.departmentName].filter((s) => s !== '').join(';'),
    },
  };
}

export function uuidV5(name) {
  const hash = createHash('sha1').update(Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex')).update(name).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UNITS = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
export function parseDuration(text) {
  let ns = 0;
  for (const [, n, unit] of text.matchAll(/([\d.]+)(ns|us|µs|ms|s|m|h)/g)) ns += Number(n) * UNITS[unit];
  return ns;
}
