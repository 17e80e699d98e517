// The simulator's fault vocabulary: routes, the request log, fault rules and the malformed answers
// a rule can substitute for a good one.

import type { SimMeasurement } from './cluster.js';
import type { Row } from './rows.js';

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

/** Turns a good answer into the malformed one a fault asks for: [status, content type, body]. */
export function malform(kind: MalformedKind, route: SimRoute, body: unknown): [number, string, string] {
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

export function corrupt(kind: MalformedKind, route: SimRoute, body: Row): Row {
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
