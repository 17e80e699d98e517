// A Prometheus query API simulator for fault cases a real Prometheus will not produce on demand:
// error payloads, 5xx from a proxy, slow and huge answers, warnings, NaN, matrix results. It
// answers `POST|GET /api/v1/query` by the query text; a query without a scripted behaviour gets a
// vector of `series` (default: one sample) whose value is the evaluation time in seconds, so a
// test can check that each window is evaluated at its own end.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the simulator answers for one query. */
export type Behaviour =
  /** Prometheus' error payload with its HTTP status (400 bad_data, 422 execution, 503 timeout...). */
  | { readonly kind: 'error'; readonly status: number; readonly errorType: string; readonly error: string }
  /** A proxy's answer: a status with an HTML body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Waits this long before answering normally. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** A valid vector with this many samples (a big body). */
  | { readonly kind: 'huge'; readonly samples: number }
  /** A normal answer with these warnings. */
  | { readonly kind: 'warnings'; readonly warnings: readonly string[] }
  /** Samples with these raw values ("NaN", "+Inf", "3"). */
  | { readonly kind: 'values'; readonly values: readonly string[] }
  /** A matrix result. */
  | { readonly kind: 'matrix' };

export interface QueryRequest {
  readonly query: string;
  /** The `time` parameter, epoch ms. */
  readonly time: number;
  readonly headers: IncomingMessage['headers'];
  readonly params: Readonly<Record<string, string>>;
}

export interface PrometheusSimulator {
  readonly url: string;
  /** Every query received, in order. */
  readonly requests: QueryRequest[];
  /** Scripts the answer to `query` until changed; `undefined` restores the normal answer. */
  behave(query: string, behaviour: Behaviour | undefined): void;
  close(): Promise<void>;
}

export async function startPrometheusSimulator(options: { series?: number; retention?: string } = {}): Promise<PrometheusSimulator> {
  const behaviours = new Map<string, Behaviour>();
  const requests: QueryRequest[] = [];
  const series = options.series ?? 1;

  const vector = (time: number, count: number, value: (i: number) => string): unknown[] =>
    Array.from({ length: count }, (_, i) => ({ metric: { __name__: 'sim_usage', instance: `i-${i}` }, value: [time / 1000, value(i)] }));
  const success = (res: ServerResponse, data: unknown, extra: Record<string, unknown> = {}): void => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data, ...extra }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname === '/api/v1/status/runtimeinfo' && options.retention !== undefined) {
      return success(res, { storageRetention: options.retention, startTime: new Date().toISOString() });
    }
    if (url.pathname !== '/api/v1/query') {
      res.writeHead(404).end('not found');
      return;
    }
    let body = '';
    for await (const chunk of req) body += (chunk as Buffer).toString();
    const params = Object.fromEntries(new URLSearchParams(req.method === 'POST' ? body : url.search));
    const query = params['query'] ?? '';
    const time = params['time'] === undefined ? Date.now() : Math.round(Number(params['time']) * 1000);
    requests.push({ query, time, headers: req.headers, params });
    const behaviour = behaviours.get(query);
    const normal = (): void => success(res, { resultType: 'vector', result: vector(time, series, () => String(time / 1000)) });
    switch (behaviour?.kind) {
      case undefined:
        return normal();
      case 'error':
        res.writeHead(behaviour.status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: behaviour.errorType, error: behaviour.error }));
        return;
      case 'status':
        res.writeHead(behaviour.status, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>');
        return;
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
        if (!res.destroyed) normal();
        return;
      case 'huge':
        return success(res, { resultType: 'vector', result: vector(time, behaviour.samples, () => '1') });
      case 'warnings':
        return success(res, { resultType: 'vector', result: vector(time, series, () => String(time / 1000)) }, { warnings: behaviour.warnings });
      case 'values':
        return success(res, { resultType: 'vector', result: behaviour.values.map((v, i) => ({ metric: { instance: `i-${i}` }, value: [time / 1000, v] })) });
      case 'matrix':
        return success(res, { resultType: 'matrix', result: [{ metric: {}, values: [[time / 1000, '1']] }] });
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    behave: (query, behaviour) => (behaviour ? behaviours.set(query, behaviour) : behaviours.delete(query)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
