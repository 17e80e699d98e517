import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator, type OpenMeterSimulator, type OpenMeterSimulatorOptions } from '../../src/openmeter/sim.js';

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  specversion: '1.0',
  type: 'workload',
  source: 'run_ai',
  time: '2025-01-01T00:00:00Z',
  subject: 'customer-1',
  data: { gpuMinutes: 2, cpuMinutes: 0.5, name: 'wl' },
  ...extra,
});

let sim: OpenMeterSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(options: OpenMeterSimulatorOptions = {}): Promise<OpenMeterSimulator> {
  sim = await startOpenMeterSimulator(options);
  return sim;
}

/** POSTs to the ingest endpoint; a null content type sends none. */
async function post(target: OpenMeterSimulator, body: unknown, contentType: string | null = 'application/json', headers: Record<string, string> = {}) {
  const res = await request(target.ingestUrl, {
    method: 'POST',
    headers: { ...(contentType === null ? {} : { 'content-type': contentType }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, problem: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe('OpenMeter simulator: the documented ingest API', () => {
  it('answers 204 with an empty body for each accepted content type and shape', async () => {
    const s = await start();
    expect((await post(s, event('a'), 'application/cloudevents+json')).status).toBe(204);
    expect((await post(s, [event('b'), event('c')], 'application/cloudevents-batch+json')).status).toBe(204);
    expect((await post(s, event('d'), 'application/json')).status).toBe(204);
    const batch = await post(s, [event('e'), event('f')], 'application/json');
    expect(batch).toMatchObject({ status: 204, text: '' });
    expect(s.events.map((e) => e.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('matches Content-Type exactly: parameters or other types are a problem+json 400', async () => {
    const s = await start();
    for (const type of ['application/json; charset=utf-8', 'text/plain', 'APPLICATION/JSON', null]) {
      const res = await post(s, [event('x')], type);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.problem).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400, detail: `invalid content type: ${type ?? ''}` });
      expect(res.problem?.instance).toMatch(/^urn:request:/);
    }
    expect(s.events).toHaveLength(0);
  });

  it('validates every event before ingesting any: one invalid event rejects the whole batch', async () => {
    const s = await start();
    const cases: [unknown, RegExp][] = [
      [[event('ok'), event('bad', { subject: '' })], /Error at "\/1\/subject": minimum string length is 1/],
      [[event('ok'), { ...event('bad'), subject: undefined }], /property "subject" is missing/],
      [event('bad', { id: 7 }), /Error at "\/id": value must be a string/],
      [event('bad', { specversion: '2.0' }), /invalid event: specversion: unknown value: 2.0/],
      [event('bad', { time: 'yesterday' }), /invalid event: time: parsing time "yesterday"/],
      [event('bad', { data: [1, 2] }), /Error at "\/data": value must be an object/],
      [event('bad', { datacontenttype: 'text/plain' }), /datacontenttype/],
      [[], /invalid event: no events found/],
      ['{not json', /failed to decode request body/],
    ];
    for (const [body, detail] of cases) {
      const res = await post(s, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(String(res.problem?.detail)).toMatch(detail);
    }
    expect(s.events).toHaveLength(0);
    // Optional and nullable fields are fine; a missing time becomes the ingestion time.
    expect((await post(s, event('n', { time: null, data: null, dataschema: null, ext: 'x' }))).status).toBe(204);
    expect(s.events[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('requires the bearer token when one is configured', async () => {
    const s = await start({ token: 'om_secret_token' });
    const missing = await post(s, event('a'));
    expect(missing).toMatchObject({ status: 401, problem: { title: 'Unauthorized', status: 401 } });
    expect((await post(s, event('a'), 'application/json', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post(s, event('a'), 'application/json', { authorization: 'Bearer om_secret_token' })).status).toBe(204);
    expect(s.events).toHaveLength(1);
  });

  it('dedupes by (source, id) only, silently and still with 204, as OpenMeter does', async () => {
    const s = await start();
    expect((await post(s, [event('a'), event('a', { time: '2025-02-01T00:00:00Z', data: { gpuMinutes: 99 } })])).status).toBe(204);
    expect((await post(s, event('a', { source: 'other' }))).status).toBe(204);
    expect(s.events.map((e) => [e.source, e.id])).toEqual([
      ['run_ai', 'a'],
      ['other', 'a'],
    ]);
    expect(s.deliveries).toHaveLength(3);
    // The first occurrence wins: the later copy's data is ignored.
    expect(s.summary()['customer-1']?.workload?.data.gpuMinutes).toBe(4);
  });

  it('keeps every copy with dedupe off, and only the last `size` keys with the memory LRU', async () => {
    const off = await start({ dedupe: false });
    await post(off, [event('a'), event('a')]);
    expect(off.events).toHaveLength(2);
    await off.close();
    const lru = await start({ dedupe: { size: 2 } });
    await post(lru, [event('a'), event('b'), event('c'), event('a')]);
    expect(lru.events.map((e) => e.id)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('sums numeric data per subject and type, and serves the events and the summary', async () => {
    const s = await start();
    await post(s, [event('1'), event('2', { subject: 'customer-2' }), event('3', { data: { gpuMinutes: 1.5, note: 'x' } })]);
    expect(s.summary()).toEqual({
      'customer-1': { workload: { events: 2, data: { gpuMinutes: 3.5, cpuMinutes: 0.5 } } },
      'customer-2': { workload: { events: 1, data: { gpuMinutes: 2, cpuMinutes: 0.5 } } },
    });
    const summary = await request(`${s.url}/sim/summary`);
    expect(await summary.body.json()).toEqual(s.summary());
    const listed = await request(s.ingestUrl);
    expect(((await listed.body.json()) as unknown[]).length).toBe(3);
    expect((await request(`${s.url}/nope`)).statusCode).toBe(404);
    // Kong Konnect's ingest path, used by the official Run:ai config, is served the same way.
    const konnect = await request(`${s.url}/v3/openmeter/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event('k')) });
    expect(konnect.statusCode).toBe(204);
    expect(s.events.at(-1)?.id).toBe('k');
  });

  it('records every request with headers, body, status and what it ingested', async () => {
    const s = await start();
    await post(s, [event('a')], 'application/json', { 'x-test': '1' });
    await post(s, [event('b')], 'text/plain');
    expect(s.requests).toHaveLength(2);
    const [first, second] = s.requests;
    expect(first).toMatchObject({ seq: 0, method: 'POST', path: '/api/v1/events', status: 204, outcome: 'responded', stored: 1 });
    expect(first?.headers['x-test']).toBe('1');
    expect(JSON.parse(first!.body)).toEqual([event('a')]);
    expect(second).toMatchObject({ status: 400, stored: 0 });
    expect(JSON.parse(second!.responseBody).detail).toBe('invalid content type: text/plain');
  });
});

describe('OpenMeter simulator: fault injection', () => {
  it('plays a script: statuses with Retry-After, then normal answers', async () => {
    const date = new Date(Date.now() + 5000).toUTCString();
    const s = await start({
      script: [
        { type: 'status', status: 500 },
        { type: 'status', status: 429, retryAfter: 2 },
        { type: 'status', status: 503, retryAfter: date },
      ],
    });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(s, [event(`e${i}`)]));
    expect(answers.map((a) => a.status)).toEqual([500, 429, 503, 204]);
    expect(answers[0]?.problem).toMatchObject({ title: 'Internal Server Error', detail: '' });
    expect(answers[1]?.headers['retry-after']).toBe('2');
    expect(answers[2]?.headers['retry-after']).toBe(date);
    expect(s.events.map((e) => e.id)).toEqual(['e3']);
  });

  it('resets connections without accepting anything', async () => {
    const s = await start({ script: [{ type: 'reset' }] });
    await expect(post(s, [event('a')])).rejects.toThrow();
    expect(s.requests[0]).toMatchObject({ outcome: 'reset', status: undefined, stored: 0 });
    expect(s.events).toHaveLength(0);
  });

  it('accepts a batch and then never answers, or answers late', async () => {
    const s = await start({ script: [{ type: 'timeout', accept: true }, { type: 'timeout', accept: true, respondAfterMs: 150 }, { type: 'timeout', accept: false }] });
    await expect(request(s.ingestUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([event('a')]), signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const started = Date.now();
    expect((await post(s, [event('b')])).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await expect(request(s.ingestUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([event('c')]), signal: AbortSignal.timeout(100) })).rejects.toThrow();
    // The client gave up on 'a', yet OpenMeter has it: a retry must not double-bill it.
    expect(s.events.map((e) => e.id)).toEqual(['a', 'b']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(s.requests[0]?.outcome).toBe('abandoned');
  });

  it('accepts the first k events of a batch and then answers 500', async () => {
    const s = await start({ script: [{ type: 'partial', accept: 2 }] });
    const res = await post(s, [event('a'), event('b'), event('c')]);
    expect(res.status).toBe(500);
    expect(s.events.map((e) => e.id)).toEqual(['a', 'b']);
    expect(s.requests[0]?.accepted.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('adds latency and counts concurrent requests', async () => {
    const s = await start({ latencyMs: 80 });
    const started = Date.now();
    const answers = await Promise.all([1, 2, 3].map((i) => post(s, [event(`l${i}`)])));
    expect(answers.every((a) => a.status === 204)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(s.maxInFlight).toBe(3);
    expect(s.inFlight).toBe(0);
  });

  it('refuses connections while down and serves again on the same port when up', async () => {
    const s = await start();
    const port = s.port;
    await s.down();
    expect(s.isDown).toBe(true);
    await expect(post(s, [event('a')])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await s.up();
    expect(s.port).toBe(port);
    expect((await post(s, [event('a')])).status).toBe(204);
  });

  it('schedules downtime windows relative to start', async () => {
    const s = await start({ downtime: [{ afterMs: 50, durationMs: 150 }] });
    expect((await post(s, [event('a')])).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 90));
    await expect(post(s, [event('b')])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await post(s, [event('c')])).status).toBe(204);
  });

  it('fires rate-based faults reproducibly for a seed, and by a decide function', async () => {
    const statuses = async (seed: number) => {
      const s = await startOpenMeterSimulator({ seed, rates: [{ rate: 0.5, fault: { type: 'status', status: 503 } }] });
      const out = [];
      for (let i = 0; i < 12; i++) out.push((await post(s, [event(`r${i}`)])).status);
      await s.close();
      return out;
    };
    const first = await statuses(7);
    expect(await statuses(7)).toEqual(first);
    expect(first).toContain(503);
    expect(first).toContain(204);
    const s = await start({ decide: ({ body }) => (body.includes('"poison"') ? { type: 'status', status: 502 } : undefined) });
    expect((await post(s, [event('poison')])).status).toBe(502);
    expect((await post(s, [event('fine')])).status).toBe(204);
  });
});
