// A Kubernetes API server simulator: the calls `kubernetes_resources` and leader election make, on a
// seeded cluster (sim_cluster.ts), with bearer-token (or client-certificate) authentication, RBAC
// refusals, fault injection and a request log. `sluice sim kubernetes` serves it; tests use it.
//
// It answers as the API server documents: lists are consistent snapshots paged with
// `limit`/`continue` (a token outlives no compaction: then 410 Expired, with a token to continue
// inconsistently), `labelSelector` filters, errors are metav1.Status bodies (401, 403 naming the
// user, verb, resource and namespace, 404, 409 AlreadyExists/Conflict, 410, 422 Invalid), and
// Lease updates are conditional on `metadata.resourceVersion`.

import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { seededRandom } from '../seeded_random.js';
import { RESOURCES, apiVersionOf, type KubeObject, type Lease, type ResourceInfo, type ResourceType, type Status } from './api.js';
import { parseSelector, type Selector } from './labels.js';
import { generateCluster, type ClusterOptions, type SimCluster } from './sim_cluster.js';

/** A route: the resource's plural, `version`, or `unknown`. */
export type SimRoute = 'pods' | 'nodes' | 'persistentvolumes' | 'persistentvolumeclaims' | 'leases' | 'version' | 'unknown';

export interface SimRequest {
  readonly method: string;
  readonly route: SimRoute;
  /** Path without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The authenticated user, undefined when authentication failed. */
  readonly user: string | undefined;
  readonly at: number;
  /** Status answered; 0 until answered or when the connection was reset. */
  status: number;
}

export type FaultEffect =
  /** Answer this status with a Status body (429 adds Retry-After). */
  | { readonly status: number; readonly retryAfterSeconds?: number }
  /** Destroy the connection without answering. */
  | { readonly reset: true }
  /** Add latency, then answer normally. */
  | { readonly delayMs: number }
  /** 200 with an HTML page, JSON cut in half, or a list that hands back the continue token it was sent. */
  | { readonly malformed: 'html' | 'truncated-json' | 'repeat-continue' };

/** The first matching rule with budget left applies. */
export interface FaultRule {
  readonly route?: SimRoute | readonly SimRoute[];
  readonly method?: string;
  /** Probability per matching request, from a seeded generator. Default 1. */
  readonly rate?: number;
  /** Apply to at most this many requests. */
  readonly times?: number;
  readonly effect: FaultEffect;
}

/** A refusal: requests matching verb (any when absent), resource and namespace (any when absent) get 403. */
export interface ForbiddenRule {
  readonly verb?: 'list' | 'get' | 'create' | 'update' | 'delete';
  readonly resource: string;
  readonly namespace?: string;
}

export interface KubernetesSimulatorOptions extends ClusterOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** The bearer token accepted. Default `sim-token-<seed>`. */
  readonly token?: string;
  /** The ServiceAccount the token belongs to. Default sluice/sluice-collector. */
  readonly serviceAccount?: { readonly namespace: string; readonly name: string };
  /** Serve HTTPS; with `clientCa`, a client certificate it signed authenticates as its CN. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
  readonly latencyMs?: number;
  readonly faults?: readonly FaultRule[];
  readonly forbidden?: readonly ForbiddenRule[];
  /** How often old snapshots are compacted away (expiring continue tokens), as etcd is. Default 5 min; 0 never. */
  readonly compactEveryMs?: number;
  /** Requests kept in `requests`. Default 100,000. */
  readonly maxRecordedRequests?: number;
  readonly onRequest?: (request: SimRequest) => void;
}

export interface KubernetesSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly seed: number;
  /** The bearer token accepted now. */
  readonly token: string;
  /** The user the token authenticates as: `system:serviceaccount:<ns>:<name>`. */
  readonly user: string;
  /** The objects generated at start. */
  readonly cluster: SimCluster;
  /** The store's current resourceVersion. */
  readonly resourceVersion: string;
  readonly requests: readonly SimRequest[];
  clearRequests(): void;
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  forbid(rule: ForbiddenRule): void;
  clearForbidden(): void;
  /** Accepts a new token from now on and refuses the old one (a projected token rotated). Returns it. */
  rotateToken(token?: string): string;
  /** The objects of a type now, in list order (namespace/name). */
  objects(type: ResourceType, namespace?: string): KubeObject[];
  /** Creates or replaces an object (a new resourceVersion), as a controller would. */
  put(type: ResourceType, object: KubeObject): KubeObject;
  remove(type: ResourceType, namespace: string | undefined, name: string): void;
  /** Compacts history now: every continue token issued so far expires (410). */
  compact(): void;
  /** A kubeconfig (YAML) whose current context points at this simulator with its token. */
  kubeconfig(): string;
  close(): Promise<void>;
}

class SimError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Status['details'],
    readonly metadata: Status['metadata'] = {},
  ) {
    super(message);
  }
}

const ROUTE_TYPES: Record<string, ResourceType> = { pods: 'pod', nodes: 'node', persistentvolumes: 'persistentvolume', persistentvolumeclaims: 'persistentvolumeclaim', leases: 'lease' };
const REASONS: Record<number, string> = { 400: 'BadRequest', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** A multi-version store: every write gets the next resourceVersion; lists read the snapshot at one. */
class Store {
  rv = 0;
  compacted = 0;
  #versions = new Map<ResourceType, Map<string, { rv: number; object: KubeObject | null }[]>>();
  #sorted = new Map<ResourceType, string[]>();

  write(type: ResourceType, object: KubeObject | null, key: string): KubeObject | undefined {
    const rv = ++this.rv;
    let byKey = this.#versions.get(type);
    if (!byKey) this.#versions.set(type, (byKey = new Map()));
    let versions = byKey.get(key);
    if (!versions) {
      byKey.set(key, (versions = []));
      this.#sorted.delete(type);
    }
    const stored = object === null ? null : { ...structuredClone(object), metadata: { ...structuredClone(object.metadata), resourceVersion: String(rv) } };
    versions.push({ rv, object: stored });
    return stored ?? undefined;
  }

  get(type: ResourceType, key: string, rv = this.rv): KubeObject | undefined {
    const versions = this.#versions.get(type)?.get(key);
    for (let i = (versions?.length ?? 0) - 1; i >= 0; i--) if (versions![i]!.rv <= rv) return versions![i]!.object ?? undefined;
    return undefined;
  }

  /** Keys of a type in list order (namespace/name). */
  keys(type: ResourceType): string[] {
    let keys = this.#sorted.get(type);
    if (!keys) this.#sorted.set(type, (keys = [...(this.#versions.get(type)?.keys() ?? [])].sort()));
    return keys;
  }

  /** Drops every version older than the latest of its object. */
  compact(): void {
    this.compacted = this.rv;
    for (const byKey of this.#versions.values()) {
      for (const [key, versions] of byKey) {
        const last = versions[versions.length - 1]!;
        if (last.object === null) byKey.delete(key);
        else versions.splice(0, versions.length - 1);
      }
    }
    this.#sorted.clear();
  }
}

const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
const encodeContinue = (rv: number, start: string): string => Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');

class Simulator implements KubernetesSimulator {
  readonly seed: number;
  readonly cluster: SimCluster;
  readonly user: string;
  #url = '';
  #server: Server;
  #options: KubernetesSimulatorOptions;
  #store = new Store();
  #token: string;
  #requests: SimRequest[] = [];
  #rules: { rule: FaultRule; random: () => number; remaining: number }[] = [];
  #forbidden: ForbiddenRule[];
  #latencyMs: number;
  #compactor: NodeJS.Timeout | undefined;

  constructor(options: KubernetesSimulatorOptions) {
    this.#options = options;
    this.cluster = generateCluster(options);
    this.seed = this.cluster.seed;
    this.#token = options.token ?? `sim-token-${this.seed}`;
    const sa = options.serviceAccount ?? { namespace: 'sluice', name: 'sluice-collector' };
    this.user = `system:serviceaccount:${sa.namespace}:${sa.name}`;
    this.#latencyMs = options.latencyMs ?? 0;
    this.#forbidden = [...(options.forbidden ?? [])];
    for (const rule of options.faults ?? []) this.addFault(rule);
    const { pods, nodes, persistentVolumes, persistentVolumeClaims } = this.cluster;
    for (const [type, objects] of [['pod', pods], ['node', nodes], ['persistentvolume', persistentVolumes], ['persistentvolumeclaim', persistentVolumeClaims]] as const) {
      for (const object of objects) this.#store.write(type, object, keyOf(object));
    }
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch(() => res.destroy());
    };
    const tls = options.tls;
    this.#server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler)
      : createHttpServer(handler);
    this.#server.keepAliveTimeout = 60_000;
    const every = options.compactEveryMs ?? 5 * 60_000;
    if (every > 0) this.#compactor = setInterval(() => this.compact(), every).unref();
  }

  get url(): string {
    return this.#url;
  }
  get token(): string {
    return this.#token;
  }
  get resourceVersion(): string {
    return String(this.#store.rv);
  }
  get requests(): readonly SimRequest[] {
    return this.#requests;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, this.#options.host ?? '127.0.0.1', () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `${this.#options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  clearRequests(): void {
    this.#requests = [];
  }
  addFault(rule: FaultRule): void {
    this.#rules.push({ rule, random: seededRandom(this.seed * 7919 + this.#rules.length + 1), remaining: rule.times ?? Infinity });
  }
  clearFaults(): void {
    this.#rules = [];
  }
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }
  forbid(rule: ForbiddenRule): void {
    this.#forbidden.push(rule);
  }
  clearForbidden(): void {
    this.#forbidden = [];
  }
  rotateToken(token = `${this.#token}-${randomUUID().slice(0, 8)}`): string {
    this.#token = token;
    return token;
  }
  objects(type: ResourceType, namespace?: string): KubeObject[] {
    return this.#store
      .keys(type)
      .filter((key) => namespace === undefined || key.startsWith(`${namespace}/`))
      .map((key) => this.#store.get(type, key))
      .filter((o): o is KubeObject => o !== undefined)
      .map((o) => structuredClone(o));
  }
  put(type: ResourceType, object: KubeObject): KubeObject {
    return structuredClone(this.#store.write(type, object, keyOf(object))!);
  }
  remove(type: ResourceType, namespace: string | undefined, name: string): void {
    this.#store.write(type, null, `${namespace ?? ''}/${name}`);
  }
  compact(): void {
    this.#store.compact();
  }

  kubeconfig(): string {
    const cluster: Record<string, unknown> = { server: this.#url };
    if (this.#options.tls) cluster['certificate-authority-data'] = Buffer.from(this.#options.tls.cert).toString('base64');
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sluice-sim', cluster }],
      users: [{ name: 'sluice-sim', user: { token: this.#token } }],
      contexts: [{ name: 'sluice-sim', context: { cluster: 'sluice-sim', user: 'sluice-sim', namespace: 'default' } }],
      'current-context': 'sluice-sim',
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#compactor);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // -- serving ---------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const route = routeOf(url.pathname);
    const user = this.#authenticate(req);
    const entry: SimRequest = { method, route: route.route, path: url.pathname, query, user, at: Date.now(), status: 0 };
    this.#record(entry);
    const body = method === 'POST' || method === 'PUT' ? await readBody(req) : '';
    const fault = this.#fault(route.route, method);
    const delay = this.#latencyMs + (fault && 'delayMs' in fault ? fault.delayMs : 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (fault && 'reset' in fault) {
      req.socket.destroy();
      this.#options.onRequest?.(entry);
      return;
    }
    let status = 200;
    let answer: unknown;
    try {
      if (fault && 'status' in fault) {
        if (fault.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
        throw new SimError(fault.status, REASONS[fault.status] ?? 'InternalError', `injected fault: ${fault.status}`, fault.retryAfterSeconds === undefined ? undefined : ({ retryAfterSeconds: fault.retryAfterSeconds } as Status['details']));
      }
      if (user === undefined) throw new SimError(401, 'Unauthorized', 'Unauthorized');
      [status, answer] = this.#answer(method, route, url.searchParams, body, user, req.headers['content-type'], fault);
    } catch (err) {
      if (!(err instanceof SimError)) throw err;
      status = err.code;
      answer = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: err.metadata,
        status: 'Failure',
        message: err.message,
        reason: err.reason,
        ...(err.details ? { details: err.details } : {}),
        code: err.code,
      } satisfies Status;
    }
    entry.status = status;
    const text = JSON.stringify(answer);
    if (fault && 'malformed' in fault && fault.malformed === 'html') send(res, 200, 'text/html; charset=utf-8', '<html><body>Sign in</body></html>');
    else if (fault && 'malformed' in fault && fault.malformed === 'truncated-json') send(res, 200, 'application/json', text.slice(0, Math.floor(text.length / 2)));
    else send(res, status, 'application/json', text);
    this.#options.onRequest?.(entry);
  }

  #authenticate(req: IncomingMessage): string | undefined {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (bearer) return bearer[1] === this.#token ? this.user : undefined;
    const socket = req.socket as TLSSocket;
    if (this.#options.tls?.clientCa && socket.authorized) {
      const cn = socket.getPeerCertificate()?.subject?.CN;
      if (cn) return Array.isArray(cn) ? cn[0] : cn;
    }
    return undefined;
  }

  #answer(
    method: string,
    route: ReturnType<typeof routeOf>,
    params: URLSearchParams,
    body: string,
    user: string,
    contentType: string | undefined,
    fault: FaultEffect | undefined,
  ): [number, unknown] {
    if (route.route === 'version') return [200, { major: '1', minor: '31', gitVersion: 'v1.31.0-sluice-sim', platform: 'linux/amd64' }];
    if (route.route === 'unknown') throw new SimError(404, 'NotFound', 'the server could not find the requested resource', {});
    const type = ROUTE_TYPES[route.route]!;
    const info = RESOURCES[type];
    const verb = method === 'GET' ? (route.name === undefined ? 'list' : 'get') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : '';
    const allowed = route.name === undefined ? (type === 'lease' && route.namespace ? ['list', 'create'] : ['list']) : ['get', 'update', 'delete'];
    if (!allowed.includes(verb)) throw new SimError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {});
    this.#authorize(user, verb, info, route.namespace, route.name);
    if (verb === 'list') return [200, this.#list(type, info, route.namespace, params, fault)];
    const key = `${route.namespace ?? ''}/${route.name ?? ''}`;
    if (verb === 'get') return [200, this.#find(type, info, key, route.name!)];
    if (verb === 'delete') {
      this.#find(type, info, key, route.name!);
      this.#store.write(type, null, key);
      return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: route.name, group: info.group, kind: info.plural } }];
    }
    const lease = this.#decodeLease(body, contentType, route.namespace!, route.name);
    const name = lease.metadata.name!;
    const existing = this.#store.get(type, `${route.namespace}/${name}`);
    if (verb === 'create') {
      if (existing) throw new SimError(409, 'AlreadyExists', `${qualified(info)} "${name}" already exists`, { name, group: info.group, kind: info.plural });
      if (lease.metadata.resourceVersion) throw new SimError(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
      const created = { ...lease, metadata: { ...lease.metadata, namespace: route.namespace!, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } };
      return [201, this.#typed(info, this.#store.write(type, created, keyOf(created))!)];
    }
    if (!existing) throw new SimError(404, 'NotFound', `${qualified(info)} "${name}" not found`, { name, group: info.group, kind: info.plural });
    if (!lease.metadata.resourceVersion) throw invalid(info, name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    if (lease.metadata.resourceVersion !== existing.metadata.resourceVersion) {
      throw new SimError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
        name,
        group: info.group,
        kind: info.plural,
      });
    }
    const updated = { ...lease, metadata: { ...lease.metadata, namespace: route.namespace!, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp } };
    return [200, this.#typed(info, this.#store.write(type, updated, keyOf(updated))!)];
  }

  #authorize(user: string, verb: string, info: ResourceInfo, namespace: string | undefined, name: string | undefined): void {
    const refused = this.#forbidden.some(
      (r) => (r.verb === undefined || r.verb === verb) && r.resource === info.plural && (r.namespace === undefined || r.namespace === namespace),
    );
    if (!refused) return;
    const object = name === undefined ? qualified(info) : `${qualified(info)} "${name}"`;
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    throw new SimError(403, 'Forbidden', `${object} is forbidden: User "${user}" cannot ${verb} resource "${info.plural}" in API group "${info.group}" ${scope}`, {
      ...(name ? { name } : {}),
      ...(info.group ? { group: info.group } : {}),
      kind: info.plural,
    });
  }

  #list(type: ResourceType, info: ResourceInfo, namespace: string | undefined, params: URLSearchParams, fault: FaultEffect | undefined): unknown {
    const limitText = params.get('limit');
    const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw new SimError(400, 'BadRequest', `limit: Invalid value: "${limitText}": must be a non-negative integer`);
    let selector: Selector | undefined;
    const selectorText = params.get('labelSelector');
    if (selectorText) {
      try {
        selector = parseSelector(selectorText);
      } catch (err) {
        throw new SimError(400, 'BadRequest', `unable to parse requirement: ${(err as Error).message}`);
      }
    }
    const token = params.get('continue');
    let rv = this.#store.rv;
    let start = '';
    if (token) {
      let decoded: { rv?: unknown; start?: unknown };
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw new SimError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      if (typeof decoded.rv !== 'number' || typeof decoded.start !== 'string') throw new SimError(400, 'BadRequest', 'continue key is not valid: missing fields');
      if (decoded.rv < this.#store.compacted) {
        throw new SimError(410, 'Expired', EXPIRED_MESSAGE, undefined, { continue: encodeContinue(this.#store.rv, decoded.start) });
      }
      rv = decoded.rv;
      start = decoded.start;
    }
    const prefix = info.namespaced && namespace ? `${namespace}/` : '';
    const matching: KubeObject[] = [];
    for (const key of this.#store.keys(type)) {
      if (key < start || !key.startsWith(prefix)) continue;
      const object = this.#store.get(type, key, rv);
      if (object && (!selector || selector.matches(object.metadata.labels))) matching.push(object);
    }
    const page = limit > 0 ? matching.slice(0, limit) : matching;
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (page.length < matching.length) {
      metadata['continue'] = fault && 'malformed' in fault && fault.malformed === 'repeat-continue' && token ? token : encodeContinue(rv, keyOf(matching[page.length]!));
      if (!selector) metadata['remainingItemCount'] = matching.length - page.length;
    }
    return { kind: `${info.kind}List`, apiVersion: apiVersionOf(info), metadata, items: page };
  }

  #find(type: ResourceType, info: ResourceInfo, key: string, name: string): KubeObject {
    const object = this.#store.get(type, key);
    if (!object) throw new SimError(404, 'NotFound', `${qualified(info)} "${name}" not found`, { name, group: info.group, kind: info.plural });
    return this.#typed(info, object);
  }

  #typed(info: ResourceInfo, object: KubeObject): KubeObject {
    return { kind: info.kind, apiVersion: apiVersionOf(info), ...object };
  }

  /** The Lease in a create or update body, validated as the API server does. */
  #decodeLease(body: string, contentType: string | undefined, namespace: string, urlName: string | undefined): Lease {
    const info = RESOURCES.lease;
    if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) throw new SimError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
    let lease: Lease;
    try {
      lease = JSON.parse(body) as Lease;
    } catch (err) {
      throw new SimError(400, 'BadRequest', `the object provided is unrecognized: ${(err as Error).message}`);
    }
    if (typeof lease !== 'object' || lease === null || typeof lease.metadata !== 'object' || lease.metadata === null) throw new SimError(400, 'BadRequest', 'the object provided has no metadata');
    if (lease.kind !== undefined && lease.kind !== 'Lease') throw new SimError(400, 'BadRequest', `the kind of the object (${lease.kind}) is not Lease`);
    const name = lease.metadata.name ?? '';
    if (urlName !== undefined && name !== urlName) throw new SimError(400, 'BadRequest', `the name of the object (${name}) does not match the name on the URL (${urlName})`);
    if (lease.metadata.namespace !== undefined && lease.metadata.namespace !== namespace) {
      throw new SimError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    const causes: { field: string; message: string }[] = [];
    if (!DNS_SUBDOMAIN.test(name)) causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
    const spec = lease.spec ?? {};
    if (spec.leaseDurationSeconds !== undefined && !(Number.isInteger(spec.leaseDurationSeconds) && spec.leaseDurationSeconds > 0)) {
      causes.push({ field: 'spec.leaseDurationSeconds', message: `Invalid value: ${JSON.stringify(spec.leaseDurationSeconds)}: must be greater than 0` });
    }
    if (spec.leaseTransitions !== undefined && !(Number.isInteger(spec.leaseTransitions) && spec.leaseTransitions >= 0)) {
      causes.push({ field: 'spec.leaseTransitions', message: `Invalid value: ${JSON.stringify(spec.leaseTransitions)}: must be greater than or equal to 0` });
    }
    if (causes.length > 0) throw invalid(info, name, causes);
    const { kind: _kind, apiVersion: _apiVersion, ...object } = lease;
    return { ...object, spec };
  }

  #record(entry: SimRequest): void {
    const max = this.#options.maxRecordedRequests ?? 100_000;
    this.#requests.push(entry);
    if (this.#requests.length > max + Math.ceil(max / 10)) this.#requests.splice(0, this.#requests.length - max);
  }

  #fault(route: SimRoute, method: string): FaultEffect | undefined {
    for (const active of this.#rules) {
      const { rule } = active;
      if (active.remaining <= 0) continue;
      if (rule.route !== undefined && !(typeof rule.route === 'string' ? [rule.route] : rule.route).includes(route)) continue;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (rule.rate !== undefined && active.random() >= rule.rate) continue;
      active.remaining--;
      return rule.effect;
    }
    return undefined;
  }
}

function invalid(info: ResourceInfo, name: string, causes: { field: string; message: string }[]): SimError {
  return new SimError(422, 'Invalid', `${info.kind}.${info.group} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, {
    name,
    group: info.group,
    kind: info.kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

const qualified = (info: ResourceInfo): string => (info.group ? `${info.plural}.${info.group}` : info.plural);

/** The route of a path: core resources under /api/v1, leases under /apis/coordination.k8s.io/v1. */
function routeOf(path: string): { route: SimRoute; namespace?: string; name?: string } {
  if (path === '/version') return { route: 'version' };
  const core = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|nodes|persistentvolumes|persistentvolumeclaims)$/.exec(path);
  if (core) {
    const [, namespace, plural] = core;
    // Cluster-scoped resources have no namespaced collection.
    if (namespace !== undefined && !RESOURCES[ROUTE_TYPES[plural!]!].namespaced) return { route: 'unknown' };
    return { route: plural as SimRoute, ...(namespace ? { namespace: decodeURIComponent(namespace) } : {}) };
  }
  const lease = /^\/apis\/coordination\.k8s\.io\/v1(?:\/namespaces\/([^/]+))?\/leases(?:\/([^/]+))?$/.exec(path);
  if (lease && (lease[1] !== undefined || lease[2] === undefined)) {
    return { route: 'leases', ...(lease[1] ? { namespace: decodeURIComponent(lease[1]) } : {}), ...(lease[2] ? { name: decodeURIComponent(lease[2]) } : {}) };
  }
  return { route: 'unknown' };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts a simulator on loopback (port 0 by default). Close it with `close()`. */
export async function startKubernetesSimulator(options: KubernetesSimulatorOptions = {}): Promise<KubernetesSimulator> {
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}
