import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Endpoints } from './endpoints.js';
import { accessCheck, type BasicAuth, type Cors } from './http_access.js';
import type { Metrics } from './metrics.js';
import type { ComponentStatus } from './pipeline.js';

export interface HttpServerOptions {
  /** host:port; port 0 picks a free one. */
  readonly address: string;
  readonly metrics: Pick<Metrics, 'exposition'> & { readonly registry: { readonly contentType: string } };
  readonly statuses: () => ComponentStatus[];
  readonly version: string;
  readonly logger: Logger;
  /** Every endpoint is also served under this prefix (`/benthos/ping`); '' for none. */
  readonly rootPath?: string;
  /** PEM certificate and key: the server speaks HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly basicAuth?: BasicAuth;
  readonly cors?: Cors;
  /** With leader election: who leads (in /ready's body), and the elector's health (a stuck leader fails /ping). */
  readonly leadership?: { status(): Record<string, unknown>; check(): Error | undefined };
  /** Paths components serve here (an http_server input with an empty address). */
  readonly endpoints?: Endpoints;
}

export interface RunningHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

const ROUTES = new Set(['/ping', '/ready', '/metrics', '/version']);

/**
 * The service endpoints Redpanda Connect users and Kubernetes probes expect:
 * `/ping` (liveness), `/ready` (200 only when input and output are connected, else 503 with
 * per-component status), `/metrics` (Prometheus), `/version`. GET and HEAD only (405 otherwise).
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  let listenOn: { host: string; port: number };
  try {
    listenOn = splitAddress(options.address);
  } catch (err) {
    throw new Error(`http.address ${(err as Error).message}`);
  }
  const { host, port } = listenOn;
  const check = accessCheck(options.basicAuth, options.cors);
  const root = (options.rootPath ?? '').replace(/\/+$/, '');
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (!check(req, res)) return;
    let path = (req.url ?? '/').split('?')[0]!;
    if (root !== '' && path.startsWith(`${root}/`)) path = path.slice(root.length);
    const head = req.method === 'HEAD';
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': type, ...headers }).end(head ? undefined : body);
    const endpoint = ROUTES.has(path) ? undefined : options.endpoints?.handler(path);
    if (endpoint) return endpoint(req, res);
    if (!ROUTES.has(path)) return send(404, 'text/plain', 'not found');
    // Every route only reads: GET and HEAD. Anything else is refused, saying what is allowed.
    if (req.method !== 'GET' && !head) return send(405, 'text/plain', `method ${req.method ?? ''} not allowed on ${path}; use GET or HEAD`, { allow: 'GET, HEAD' });
    switch (path) {
      case '/ping': {
        const unhealthy = options.leadership?.check();
        return unhealthy ? send(503, 'text/plain', unhealthy.message) : send(200, 'text/plain', 'pong');
      }
      case '/ready': {
        // Followers are ready too: they are connected and idle, waiting to lead.
        const statuses = options.statuses();
        const ready = statuses.every((s) => s.connected);
        const leaderElection = options.leadership?.status();
        return send(ready ? 200 : 503, 'application/json', JSON.stringify({ statuses, ...(leaderElection ? { leader_election: leaderElection } : {}) }));
      }
      case '/metrics':
      case '/stats':
        options.metrics.exposition().then(
          (text) => send(200, options.metrics.registry.contentType, text),
          (err: Error) => send(500, 'text/plain', err.message),
        );
        return;
      case '/version':
        return send(200, 'application/json', JSON.stringify({ version: options.version }));
      default:
        return send(404, 'text/plain', 'not found');
    }
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // The setting to change, not only the errno: 4195 is taken by any other sluice already running.
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message;
      reject(new Error(`http.address ${options.address}: ${why}; set another address (-s http.address=127.0.0.1:4196) or turn the server off (-s http.enabled=false)`));
    });
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const url = `${options.tls ? 'https' : 'http'}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  options.logger.info({ url }, `Listening for HTTP requests at ${url}.`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `host:port` (host optional, `[v6]` allowed) as listen() takes it. */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = colon === -1 ? '0.0.0.0' : address.slice(0, colon).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(colon === -1 ? address : address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${JSON.stringify(address)} is not host:port (e.g. 0.0.0.0:4195; port 0 picks a free one)`);
  return { host, port };
}
