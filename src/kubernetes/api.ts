// The slice of the Kubernetes API sluice uses: the resources it lists and the Lease it holds,
// their URL paths, and the shapes the client and the simulator agree on (as the API documents them).

/** The resource types `kubernetes_resources` lists (its `resource_type` values), and the Lease. */
export type ResourceType = 'pod' | 'node' | 'persistentvolume' | 'persistentvolumeclaim' | 'lease';

export interface ResourceInfo {
  /** API group; '' is the core group (served under /api). */
  readonly group: string;
  readonly version: string;
  /** The URL segment and the RBAC resource name. */
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCES: Readonly<Record<ResourceType, ResourceInfo>> = {
  pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  node: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  persistentvolume: { group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false },
  persistentvolumeclaim: { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
};

/** `apiVersion` of a resource's objects: `v1`, `coordination.k8s.io/v1`. */
export const apiVersionOf = (info: ResourceInfo): string => (info.group === '' ? info.version : `${info.group}/${info.version}`);

/**
 * The collection path (`/api/v1/namespaces/ns/pods`), or an object's path with `name`. A
 * namespaced resource without a namespace is listed across all namespaces (`/api/v1/pods`).
 */
export function resourcePath(info: ResourceInfo, namespace?: string, name?: string): string {
  const root = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  const scope = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${scope}/${info.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any object as the API serves it. */
export interface KubeObject {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** coordination.k8s.io/v1 LeaseSpec. Times are RFC 3339 with microseconds (metav1.MicroTime). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec: LeaseSpec;
}

/** metav1.Status: the body of every error answer. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string; resourceVersion?: string };
  status: 'Failure' | 'Success';
  message: string;
  /** Machine-readable: Forbidden, NotFound, AlreadyExists, Conflict, Invalid, Expired, BadRequest, Unauthorized, ... */
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
  code: number;
}

/** metav1.MicroTime as the API server writes it: `2006-01-02T15:04:05.000000Z`. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
