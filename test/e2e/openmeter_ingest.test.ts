// OpenMeter's http-server collector preset (examples/openmeter-ingest.yaml: its mappings in
// JSONata) run through the real CLI, posted to over real HTTP, forwarding to the OpenMeter
// simulator. Only timings are overridden: the preset's retry_period (15s) would make the outage
// tests slow.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator, type OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const BATCH = 'application/cloudevents-batch+json';
const SINGLE = 'application/cloudevents+json';

let serial = 0;
const event = (extra: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: `ev-${++serial}`,
  source: 'ingest-test',
  type: 'request',
  subject: `customer-${serial % 3}`,
  time: '2026-01-01T00:00:00Z',
  data: { tokens: serial },
  ...extra,
});

describe('the OpenMeter http-server preset, end to end', () => {
  let sim: OpenMeterSimulator;
  let sluice: CliProcess;
  let url = '';
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'));
  const accepted: string[] = [];

  const start = async () => {
    sluice = startCli(
      [
        'run',
        'examples/openmeter-ingest.yaml',
        '-s', 'input.http_server.address=127.0.0.1:0',
        '-s', 'http.address=127.0.0.1:0',
        '-s', 'output.drop_on.output.http_client.retry_period=50ms',
        '-s', 'output.drop_on.output.http_client.max_retry_backoff=200ms',
        '-s', 'output.drop_on.output.http_client.batching.period=100ms',
      ],
      { OPENMETER_URL: sim.url, OPENMETER_TOKEN: 'ingest-token', BUFFER_PATH: join(dir, 'buffer.db'), LOG_LEVEL: 'INFO' },
    );
    const [, base] = await sluice.waitForLog(/Receiving HTTP messages at (http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/events/, 20_000);
    url = `${base}/api/v1/events`;
  };

  const post = (body: string, contentType: string) => fetch(url, { method: 'POST', body, headers: { 'content-type': contentType } });
  const stored = (ids: readonly string[]) => () => (ids.every((id) => sim.events.some((e) => e.id === id)) ? true : undefined);

  beforeAll(async () => {
    sim = await startOpenMeterSimulator({ token: 'ingest-token' });
    await start();
  }, 30_000);

  afterAll(async () => {
    sluice?.child.kill('SIGKILL');
    await sim?.close();
  });

  it('answers a valid CloudEvent 204 and forwards it', async () => {
    const e = event();
    const response = await post(JSON.stringify(e), SINGLE);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    accepted.push(e.id);
    await waitFor('the event at OpenMeter', stored([e.id]));
    const request = sim.requests.find((r) => r.body.includes(e.id))!;
    expect(request.headers.authorization).toBe('Bearer ingest-token');
    expect(JSON.parse(request.body)).toEqual([e]);
  });

  it('answers a batch 204 and forwards every event of it', async () => {
    const events = [event(), event(), event()];
    const response = await post(JSON.stringify(events), BATCH);
    expect(response.status).toBe(204);
    accepted.push(...events.map((e) => e.id));
    await waitFor('the batch at OpenMeter', stored(events.map((e) => e.id)));
  });

  it('refuses another Content-Type with 400 problem+json in OpenMeter\'s words', async () => {
    const before = sim.deliveries.length;
    const response = await post(JSON.stringify(event()), 'text/plain');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'invalid content type: text/plain' });
    expect(sim.deliveries.length).toBe(before);
  });

  it('refuses an event failing the CloudEvents schema with 400 and the validation message', async () => {
    const { id: _id, ...withoutId } = event();
    const response = await post(JSON.stringify(withoutId), SINGLE);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { detail: string; status: number };
    expect(problem.status).toBe(400);
    expect(problem.detail).toMatch(/^invalid event: .*\bid\b.*required/);
  });

  it('answers a batch holding an invalid event with that event\'s 400, and forwards the valid ones', async () => {
    const good = [event(), event()];
    const bad = event({ specversion: 7 });
    const response = await post(JSON.stringify([good[0], bad, good[1]]), BATCH);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(((await response.json()) as { detail: string }).detail).toMatch(/^invalid event: .*specversion/);
    accepted.push(...good.map((e) => e.id));
    await waitFor('the valid events at OpenMeter', stored(good.map((e) => e.id)));
    expect(sim.deliveries.some((e) => e.id === bad.id)).toBe(false);
  });

  it('refuses malformed JSON with 400', async () => {
    const response = await post('{"specversion": "1.0", ', SINGLE);
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { detail: string };
    expect(problem.detail).toMatch(/^request body has an error: failed to decode request body: /);
  });

  it('refuses a body past max_body_size with 413 without reading it', async () => {
    const response = await post(JSON.stringify(event({ data: { blob: 'x'.repeat(5 * 1024 * 1024) } })), SINGLE);
    expect(response.status).toBe(413);
  });

  it('keeps answering 204 while OpenMeter is down, and delivers everything once it is back', async () => {
    await sim.down();
    const events = Array.from({ length: 5 }, () => event());
    for (const e of events) expect((await post(JSON.stringify(e), SINGLE)).status).toBe(204);
    accepted.push(...events.map((e) => e.id));
    await sluice.waitForLog(/Failed to send \d+ buffered message/, 20_000);
    await sim.up();
    await waitFor('the events at OpenMeter after the outage', stored(events.map((e) => e.id)));
  });

  it('keeps the promise of a 204 across a SIGKILL: delivered after the restart', async () => {
    await sim.down();
    const e = event();
    expect((await post(JSON.stringify(e), SINGLE)).status).toBe(204);
    accepted.push(e.id);
    sluice.child.kill('SIGKILL');
    await sluice.exited;
    await sim.up();
    await start();
    await waitFor('the event at OpenMeter after the restart', stored([e.id]));
  }, 40_000);

  it('delivered every accepted event exactly once by (source, id)', async () => {
    await waitFor('every accepted event at OpenMeter', stored(accepted));
    // Every copy OpenMeter received, before its own dedupe: none twice.
    const keys = sim.deliveries.map((e) => `${e.source}/${e.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...keys].sort()).toEqual(accepted.map((id) => `ingest-test/${id}`).sort());
  });
});
