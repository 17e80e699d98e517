import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { defineInput } from '../../src/engine/component.js';
import { startHttpServer, type RunningHttpServer } from '../../src/engine/http_server.js';
import { memoryComponents, memoryState } from '../support/memory.js';
import { pipelineFromYaml } from '../support/pipeline.js';

let server: RunningHttpServer | undefined;
afterEach(async () => server?.close());

describe('service HTTP server', () => {
  it('/ready answers 503 with the failing component until the input connects, then 200', async () => {
    let allowConnect = false;
    const flaky = defineInput<Record<string, never>>({
      name: 'flaky',
      summary: 'test input that fails to connect until allowed',
      schema: { type: 'object', additionalProperties: false, properties: {} },
      example: {},
      create: () => ({
        async connect() {
          if (!allowConnect) throw new Error('upstream refused the connection');
        },
        read: (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve(null))),
        close: async () => {},
      }),
    });
    const state = memoryState([]);
    const { pipeline, metrics } = pipelineFromYaml(
      `
input: { label: scraper, flaky: {} }
output: { memory: {} }
`,
      [...memoryComponents(state.input, state.output), flaky],
    );
    server = await startHttpServer({ address: '127.0.0.1:0', metrics, statuses: () => pipeline.statuses(), version: '1.2.3', logger: pino({ level: 'silent' }) });
    const stop = new AbortController();
    const running = pipeline.run(stop.signal);

    await until(async () => (await fetch(`${server!.url}/ready`)).status === 503);
    const notReady = await (await fetch(`${server.url}/ready`)).json();
    expect(notReady.statuses).toContainEqual({ label: 'scraper', path: 'input', connected: false, error: 'upstream refused the connection' });

    allowConnect = true;
    await until(async () => (await fetch(`${server!.url}/ready`)).status === 200, 5000);
    expect(await (await fetch(`${server.url}/version`)).json()).toEqual({ version: '1.2.3' });
    const metricsResponse = await fetch(`${server.url}/metrics`);
    expect(metricsResponse.headers.get('content-type')).toMatch(/^text\/plain/);
    stop.abort();
    await running;
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
