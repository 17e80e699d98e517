import type { Settings } from '../../engine/component.js';
import { componentPath } from '../../engine/metrics.js';

/** The HTTP client series (the engine counts the output_* series around write()). */
export class HttpMetrics {
  #labels: { label: string; path: string };
  #metrics: Settings['metrics'];

  constructor(settings: Settings) {
    this.#metrics = settings.metrics;
    this.#labels = { label: settings.label, path: componentPath(settings.path) };
  }

  /** One attempt: its status (undefined for a connection error or timeout) and duration. */
  request(status: number | undefined, elapsed: bigint): void {
    const metrics = this.#metrics;
    metrics.timer('http_request_latency_ns', 'Duration of one HTTP request attempt, in ns.').observe(this.#labels, Number(elapsed));
    if (status === undefined) {
      metrics.counter('http_request_error', 'HTTP request attempts that got no response (connection error or timeout).').inc(this.#labels);
      return;
    }
    const tier = Math.floor(status / 100);
    if (tier >= 1 && tier <= 5) metrics.counter(`http_request_code_${tier}xx`, `HTTP responses with a ${tier}xx status.`).inc(this.#labels);
    metrics.counter('http_request_status', 'HTTP responses by status code.', ['label', 'path', 'code']).inc({ ...this.#labels, code: String(status) });
  }
}

