// The simulated cluster's resources as the Run:ai API lists them.

import type { WorkloadPhase } from '../api.js';
import { GiB, PROJECTS, WORKLOAD_TYPES, hash53, isoAt, type SimPod, type SimResource, type SimWorkload } from './cluster.js';

export type Row = Record<string, unknown>;

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

export function workloadRow(w: SimWorkload, clusterId: string, phase: WorkloadPhase, runningPods: number): Row {
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

export function podRow(pod: SimPod, workload: SimWorkload, clusterId: string, full: boolean): Row {
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
