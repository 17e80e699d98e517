// `sluice demo ingest`: OpenMeter's http-server collector preset (examples/openmeter-ingest.yaml)
// as an ingest proxy in front of the OpenMeter simulator, on loopback: a burst of CloudEvents from
// concurrent clients (singles, batches, and a few invalid ones), the answers they got, and the
// per-subject totals OpenMeter stored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblem } from '../config/problems.js';
import { freePort } from '../free_port.js';
import { startOpenMeterSimulator, type UsageSummary } from '../openmeter/sim.js';
import { preparePipeline, runPrepared } from '../service.js';

const CONFIG = fileURLToPath(new URL('../../examples/openmeter-ingest.yaml', import.meta.url));

export async function ingestDemoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      events: { type: 'string', default: '2000' },
      clients: { type: 'string', default: '20' },
      'log.level': { type: 'string', default: 'FATAL' },
    },
  });
  const total = Number(values.events);
  const clients = Number(values.clients);
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(clients) || clients < 1) {
    process.stderr.write('--events and --clients must be positive integers\n');
    return 2;
  }
  const openMeter = await startOpenMeterSimulator({ token: 'demo-token' });
  const state = mkdtempSync(join(tmpdir(), 'sluice-demo-ingest-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/api/v1/events`;
  const prepared = preparePipeline(CONFIG, {
    env: { ...process.env, OPENMETER_URL: openMeter.url, OPENMETER_TOKEN: 'demo-token', BUFFER_PATH: join(state, 'buffer.db'), LOG_FORMAT: 'logfmt' },
    set: [`input.http_server.address=127.0.0.1:${port}`, 'http.address=127.0.0.1:0', 'output.drop_on.output.http_client.batching.period=200ms'],
    logLevel: values['log.level'],
  });
  for (const p of prepared.problems) if (p.severity === 'error') process.stderr.write(`${formatProblem(p)}\n`);
  if (!prepared.ready) {
    await openMeter.close();
    return 1;
  }
  process.stdout.write(`OpenMeter simulator at ${openMeter.url}\nRunning ${CONFIG}\n  as an ingest proxy at ${url}\n`);
  const stop = new AbortController();
  const running = runPrepared(prepared.ready, stop.signal);
  try {
    await waitUntilListening(url);
    process.stdout.write(`Posting ${total} events from ${clients} concurrent clients (singles and batches of 10, every 50th request invalid)...\n`);
    const started = performance.now();
    const { statuses, accepted } = await burst(url, total, clients);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`Answers: ${Object.entries(statuses).map(([s, n]) => `${n} × ${s}`).join(', ')} in ${seconds.toFixed(1)} s\n`);
    const waitStarted = Date.now();
    while (openMeter.events.length < accepted && Date.now() - waitStarted < 30_000) await new Promise((r) => setTimeout(r, 50));
    process.stdout.write(tokensTable(openMeter.summary()));
    process.stdout.write(`${accepted} valid events sent (those of the batches answered 400 included: the proxy forwards them), ${openMeter.events.length} stored at OpenMeter.\n`);
    return openMeter.events.length === accepted ? 0 : 1;
  } finally {
    stop.abort();
    await running;
    await openMeter.close();
    rmSync(state, { recursive: true, force: true });
  }
}

/** Posts `total` events: each client sends a single event, then a batch of 10, and so on; every 50th request carries an invalid event. */
async function burst(url: string, total: number, clients: number): Promise<{ statuses: Record<string, number>; accepted: number }> {
  const statuses: Record<string, number> = {};
  let next = 0;
  let requests = 0;
  let accepted = 0;
  const event = (n: number) => ({ specversion: '1.0', id: `demo-${n}`, source: 'sluice-demo', type: 'tokens', subject: `customer-${n % 5}`, time: new Date().toISOString(), data: { tokens: (n % 7) + 1 } });
  const client = async () => {
    while (next < total) {
      const request = ++requests;
      const size = request % 2 === 0 ? Math.min(10, total - next) : 1;
      const events = Array.from({ length: size }, () => event(++next));
      if (request % 50 === 0) delete (events[0] as { id?: string }).id;
      const single = events.length === 1;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': single ? 'application/cloudevents+json' : 'application/cloudevents-batch+json' },
        body: JSON.stringify(single ? events[0] : events),
      }).catch(() => undefined);
      const status = response ? String(response.status) : 'error';
      await response?.arrayBuffer();
      statuses[status] = (statuses[status] ?? 0) + 1;
      // A 400 batch still forwards its valid events (see the example); count what OpenMeter should get.
      if (status === '204' || status === '400') accepted += events.filter((e) => 'id' in e).length;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { statuses, accepted };
}

/** Events and tokens per subject, as OpenMeter stored them. */
function tokensTable(summary: UsageSummary): string {
  const rows = Object.entries(summary)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([subject, byType]) => {
      const events = Object.values(byType).reduce((n, t) => n + t.events, 0);
      const tokens = Object.values(byType).reduce((n, t) => n + (t.data.tokens ?? 0), 0);
      return [subject, String(events), String(tokens)];
    });
  const table = [['subject', 'events', 'tokens'], ...rows];
  const widths = [0, 1, 2].map((c) => Math.max(...table.map((r) => r[c]!.length)));
  return `${table.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n')}\n`;
}

async function waitUntilListening(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const answered = await fetch(url, { method: 'GET' }).then(
      () => true,
      () => false,
    );
    if (answered) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered`);
}
