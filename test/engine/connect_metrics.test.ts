// /metrics as dashboards built for Redpanda Connect read it: the series names, their label sets
// and Connect's `path` values, compared with a list written from Connect's documentation.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../src/engine/http_server.js';
import { connectPath } from '../../src/engine/metrics.js';
import { preparePipeline } from '../../src/service.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** name -> { label names, path } from the Prometheus text (families, their samples' labels minus quantile/le). */
function series(text: string): Map<string, { labels: string; path: string }> {
  const out = new Map<string, { labels: string; path: string }>();
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*)\{([^}]*)\}/.exec(line);
    if (!sample) continue;
    const family = [...families.keys()].find((f) => sample[1] === f || sample[1]!.startsWith(`${f}_`)) ?? sample[1]!;
    if (out.has(family)) continue;
    const pairs = [...sample[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const).filter(([k]) => k !== 'quantile' && k !== 'le');
    out.set(family, { labels: pairs.map(([k]) => k).sort().join(','), path: pairs.find(([k]) => k === 'path')?.[1] ?? '-' });
  }
  return out;
}

describe('/metrics as Redpanda Connect names and labels them', () => {
  it('every series of the list written from Connect\'s docs is served, with its label set and path', async () => {
    const sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => (sink.closeAllConnections(), sink.close(resolve))));
    const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `
input: { label: scraper, generate: { mapping: '{"n": 1}', count: 3, interval: "" } }
pipeline:
  processors:
    - mapping: '{"n": n + 1}'
    - metric: { type: counter, name: events_counted }
buffer: { sqlite: { path: ./buffer.db } }
output:
  label: openmeter
  http_client:
    url: http://127.0.0.1:${(sink.address() as AddressInfo).port}/
    rate_limit: gentle
    batching: { count: 3, processors: [ { archive: { format: json_array } } ] }
rate_limit_resources:
  - label: gentle
    local: { count: 100, interval: 1s }
http: { enabled: false }
`,
    );
    const prepared = preparePipeline(file, { quiet: true, env: {} });
    expect(prepared.problems).toEqual([]);
    const { pipeline, metrics } = prepared.ready!;
    await pipeline.run(new AbortController().signal);
    const server = await startHttpServer({ address: '127.0.0.1:0', metrics, statuses: () => [], version: 'x', logger: pino({ level: 'silent' }) });
    cleanups.push(() => server.close());
    const served = series(await (await fetch(`${server.url}/metrics`)).text());

    const expected = readFileSync(fileURLToPath(new URL('../fixtures/metrics/connect_series.txt', import.meta.url)), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split(/\s+/) as [string, string, string]);
    const missing = expected.filter(([name]) => !served.has(name)).map(([name]) => name);
    expect(missing).toEqual([]);
    for (const [name, labels, path] of expected) expect({ name, ...served.get(name) }).toEqual({ name, labels, path });
  });

  it('writes config paths as Connect does', () => {
    expect(connectPath('input')).toBe('root.input');
    expect(connectPath('pipeline.processors[0]')).toBe('root.pipeline.processors.0');
    expect(connectPath('output.drop_on.output')).toBe('root.output.drop_on.output');
    expect(connectPath('output.http_client.batching.processors[1]')).toBe('root.output.http_client.batching.processors.1');
    expect(connectPath('')).toBe('');
  });
});
