// OpenMeter's quickstart collector run as OpenMeter runs it (`streams` with the config, the
// resources file and both stream files), over real HTTP, with the OpenMeter simulator upstream:
// the shipped example (mappings in JSONata) and OpenMeter's own input stream (Bloblang, unchanged).
// The copies differ from the files only in what this machine needs: listen on loopback port 0
// and keep the buffer in a temporary directory.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenMeterSimulator, type OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { runCli, startCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/openmeter-quickstart/', import.meta.url));
const BLOBLANG_INPUT = fileURLToPath(new URL('../fixtures/openmeter/quickstart_streams_input.yaml', import.meta.url));

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The example copied into a temporary directory, its input stream replaced by `input` if given. */
function copyExample(input?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-quickstart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(EXAMPLE, dir, { recursive: true });
  const edit = (file: string, from: string, to: string) => {
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text, `${file} holds ${from}`).toContain(from);
    writeFileSync(join(dir, file), text.replace(from, to));
  };
  if (input) writeFileSync(join(dir, 'streams/input.yaml'), readFileSync(input, 'utf8'));
  edit('config.yaml', 'address: 0.0.0.0:4195', 'address: 127.0.0.1:0');
  edit('streams/input.yaml', 'address: 0.0.0.0:8889', 'address: 127.0.0.1:0');
  edit('streams/output.yaml', 'path: /var/lib/collector/buffer.sqlite', `path: ${join(dir, 'buffer.sqlite')}`);
  return dir;
}

async function start(dir: string, running?: OpenMeterSimulator): Promise<{ proc: CliProcess; sim: OpenMeterSimulator; url: string }> {
  const sim = running ?? (await startOpenMeterSimulator());
  if (!running) cleanups.push(() => sim.close());
  const proc = startCli(['streams', '-o', join(dir, 'config.yaml'), '-r', join(dir, 'resources/dedupe-cache.yaml'), join(dir, 'streams')], { OPENMETER_URL: sim.url });
  cleanups.push(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  });
  const [, url] = await proc.waitForLog(/Receiving HTTP messages at (http:\/\/[\d.]+:\d+\/api\/v1\/events)/, 20_000);
  return { proc, sim, url: url! };
}

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id,
  source: 'quickstart-test',
  type: 'api-calls',
  subject: `customer-${id.length % 3}`,
  time: '2024-06-01T12:00:00Z',
  data: { method: 'GET', route: '/hello', duration_ms: 12 },
  ...extra,
});

const post = (url: string, contentType: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe.each([
  ['the shipped example (JSONata)', undefined],
  ["OpenMeter's input stream, unchanged (Bloblang)", BLOBLANG_INPUT],
])('OpenMeter quickstart: %s', (_name, input) => {
  it('answers as OpenMeter does and forwards every accepted event to OpenMeter exactly once', async () => {
    const { proc, sim, url } = await start(copyExample(input));

    const single = await post(url, 'application/cloudevents+json', event('one'));
    expect(single.status).toBe(204);

    const batch = await post(url, 'application/cloudevents-batch+json', [event('b-1'), event('b-2'), event('b-3', { source: 'other-source' })]);
    expect(batch.status).toBe(204);

    // The same bytes again, within the dedupe cache's 1h: dropped by dedupe, so no sync_response
    // is set and the request is answered as Connect's http_server answers a filtered message.
    const again = await post(url, 'application/cloudevents+json', event('one'));
    expect(again.status).toBe(200);
    expect(await again.text()).toBe('');

    const wrongType = await post(url, 'text/plain', event('never-1'));
    expect(wrongType.status).toBe(400);
    // The quickstart's input sets no response header: Connect's default content type, as OpenMeter's
    // quickstart answers (the http-server preset sets application/problem+json).
    expect(wrongType.headers.get('content-type')).toBe('application/octet-stream');
    expect(await wrongType.json()).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'request body has an error: header Content-Type has unexpected value "text/plain"',
    });

    const { id: _id, ...noId } = event('never-2');
    const invalid = await post(url, 'application/cloudevents+json', noId);
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({ type: 'about:blank', title: 'Bad Request', status: 400, detail: 'request body has an error: (root) id is required' });

    const accepted = ['quickstart-test/one', 'quickstart-test/b-1', 'quickstart-test/b-2', 'other-source/b-3'];
    await waitFor('every accepted event at OpenMeter', () => (sim.deliveries.length >= accepted.length ? true : undefined), 20_000);
    // Delivered once each (before the simulator's own dedupe), nothing rejected sent.
    const key = (e: { source?: unknown; id?: unknown }) => `${String(e.source)}/${String(e.id)}`;
    expect(sim.deliveries.map(key).sort()).toEqual([...accepted].sort());
    expect(sim.events.map(key).sort()).toEqual([...accepted].sort());

    // Every request was answered after its read was acked, so the output stream has read all it
    // will ever read: the accepted events, the duplicate and the rejected ones not among them.
    const [, service] = proc.stderr.match(/Listening for HTTP requests at (http:\/\/[\d.]+:\d+)/)!;
    const metrics = await waitFor('the output stream to count its sends', async () => {
      const text = await (await fetch(`${service}/metrics`)).text();
      return /^output_sent\{label="",path="root.output",stream="output"\} 4$/m.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/^input_received\{label="",path="root.input",stream="input"\} 5$/m);
    expect(metrics).toMatch(/^input_received\{label="",path="root.input",stream="output"\} 4$/m);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});

describe("OpenMeter's input stream, unchanged (Bloblang)", () => {
  it("passes the shipped example's sluice tests, as the JSONata rewrite does", async () => {
    const dir = copyExample(BLOBLANG_INPUT);
    const { code, stdout } = await runCli(['test', join(dir, 'streams')]);
    expect(stdout).toMatch(/^5 passed, 0 failed$/m);
    expect(code).toBe(0);
  });
});

describe('OpenMeter quickstart: SIGTERM during a burst', () => {
  it('every event answered 204 reaches OpenMeter exactly once, a restart on the same buffer included', async () => {
    const dir = copyExample();
    const first = await start(dir);
    const { sim } = first;
    const accepted: string[] = [];
    let answered = 0;
    const posts = Array.from({ length: 120 }, async (_, i) => {
      try {
        const res = await post(first.url, 'application/cloudevents+json', event(`burst-${i}`));
        await res.arrayBuffer();
        if (res.status === 204) accepted.push(`quickstart-test/burst-${i}`);
      } catch {
        // Refused once the server closed: not accepted, not promised.
      } finally {
        answered++;
      }
    });
    await waitFor('some requests answered', () => (answered >= 30 ? true : undefined));
    first.proc.child.kill('SIGTERM');
    await Promise.all(posts);
    expect(await first.proc.exited).toBe(0);
    expect(accepted.length).toBeGreaterThan(0);

    // Restarted on the same buffer: what it still held is sent, what was sent is not sent again.
    const second = await start(dir, sim);
    const key = (e: { source?: unknown; id?: unknown }) => `${String(e.source)}/${String(e.id)}`;
    await waitFor('every accepted event at OpenMeter', () => (accepted.every((k) => sim.deliveries.some((e) => key(e) === k)) ? true : undefined), 30_000);
    const counts = new Map<string, number>();
    for (const e of sim.deliveries) counts.set(key(e), (counts.get(key(e)) ?? 0) + 1);
    expect(accepted.filter((k) => counts.get(k) !== 1)).toEqual([]);
    second.proc.child.kill('SIGTERM');
    expect(await second.proc.exited).toBe(0);
  });
});
