import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { defineInput } from '../../src/engine/component.js';
import { startHttpServer, type RunningHttpServer } from '../../src/engine/http_server.js';
import type { ComponentStatus } from '../../src/engine/pipeline.js';
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
    const notReady = (await (await fetch(`${server.url}/ready`)).json()) as { statuses: ComponentStatus[] };
    expect(notReady.statuses).toContainEqual({ label: 'scraper', path: 'input', connected: false, error: 'upstream refused the connection' });

    allowConnect = true;
    await until(async () => (await fetch(`${server!.url}/ready`)).status === 200, 5000);
    expect(await (await fetch(`${server.url}/version`)).json()).toEqual({ version: '1.2.3' });
    const metricsResponse = await fetch(`${server.url}/metrics`);
    expect(metricsResponse.headers.get('content-type')).toMatch(/^text\/plain/);
    stop.abort();
    await running;
  });

  it('answers GET and HEAD only: 405 with Allow for any other method, 404 for an unknown path', async () => {
    const { metrics } = pipelineFromYaml('input: { memory: {} }\noutput: { memory: {} }\n', memoryComponents(memoryState([]).input, memoryState([]).output));
    server = await startHttpServer({ address: '127.0.0.1:0', metrics, statuses: () => [], version: '1.2.3', logger: pino({ level: 'silent' }) });
    for (const path of ['/ping', '/ready', '/metrics', '/version']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const response = await fetch(`${server.url}${path}`, { method, body: method === 'OPTIONS' ? null : 'x' });
        expect([path, method, response.status, response.headers.get('allow')]).toEqual([path, method, 405, 'GET, HEAD']);
        await response.text();
      }
      const head = await fetch(`${server.url}${path}`, { method: 'HEAD' });
      expect([path, head.status, await head.text()]).toEqual([path, 200, '']);
      expect((await fetch(`${server.url}${path}`)).status).toBe(200);
    }
    expect((await fetch(`${server.url}/nope`, { method: 'POST', body: 'x' })).status).toBe(404);
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
