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
  METRIC_TYPES,
  POD_FILTER_FIELDS,
  WORKLOAD_FILTER_FIELDS,
  WORKLOAD_PHASES,
  type ApiErrorBody,
  type ResourceType,
  type WorkloadPhase,
} from './api.js';
import {
  generateCluster,
  hash53,
  measurements,
  unit,
  type ChurnOptions,
  type ClusterOptions,
  type SimCluster,
  type SimPod,
  type SimResource,
  type SimWorkload,
} from './sim/cluster.js';
import { ApiError, booleanParam, enumParam, integerParam, listPage, timeParam } from './sim/query.js';
import { malform, type FaultEffect, type FaultRule, type SimRequest, type SimRoute } from './sim/faults.js';
import { podRow, workloadRow, type Row } from './sim/rows.js';

export type { FaultEffect, FaultRule, MalformedKind, SimRequest, SimRoute } from './sim/faults.js';

export {
  expectedMetrics,
  generateCluster,
  measurements,
  metricValue,
  type ChurnOptions,
  type ClusterOptions,
  type ExpectedMetrics,
  type SimCluster,
  type SimMeasurement,
  type SimPod,
  type SimResource,
  type SimWindow,
  type SimWorkload,
} from './sim/cluster.js';

// ---------------------------------------------------------------------------------------------
// Public surface


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
