// Endpoints components add to the service HTTP server (`http.address`): an http_server input with
// an empty `address` serves its path there, next to /ping, /ready and /metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class Endpoints {
  #routes = new Map<string, EndpointHandler>();

  /** `enabled`: whether the service HTTP server runs (http.enabled); components check it when built. */
  constructor(readonly enabled: boolean) {}

  /** Serves `path` (a path ending in `/` also serves every path below it). Throws when another component has it. */
  register(path: string, handler: EndpointHandler): void {
    if (this.#routes.has(path)) throw new Error(`the path ${path} is already served by another component`);
    this.#routes.set(path, handler);
  }

  unregister(path: string, handler: EndpointHandler): void {
    if (this.#routes.get(path) === handler) this.#routes.delete(path);
  }

  /** The handler for a request path: an exact match, else the longest registered prefix ending in `/`. */
  handler(path: string): EndpointHandler | undefined {
    const exact = this.#routes.get(path);
    if (exact) return exact;
    let best: [string, EndpointHandler] | undefined;
    for (const entry of this.#routes) {
      if (entry[0].endsWith('/') && path.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
    }
    return best?.[1];
  }
}
