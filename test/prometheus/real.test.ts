// The prometheus input against a REAL Prometheus (Debian's `prometheus` package; .ci/run installs
// it): the test starts a tiny exporter, a Prometheus scraping it every second (temp config and
// storage, port picked free), waits for the target to be up and its series queryable, then runs
// `sluice run` and checks every sample. Then it stops sluice, changes what the exporter serves,
// and restarts it: the missed windows are backfilled from Prometheus' history, each evaluated at
// its own end (old values before the change, new ones after), contiguous with the first run's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/free_port.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const installed = spawnSync('sh', ['-c', 'command -v prometheus']).status === 0;

interface Event {
  name: string;
  query: string;
  timestamp: string;
  value: number;
  labels: Record<string, string>;
}

const events = (proc: CliProcess): Event[] =>
  proc.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);

describe.skipIf(!installed)('prometheus input against a real Prometheus', () => {
  let exporter: Server;
  let prometheus: ChildProcess;
  let promUrl = '';
  /** What the exporter serves for customer acme. */
  let acme = 42;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-real-prom-'));

  beforeAll(async () => {
    exporter = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        '# HELP sluice_test_gpu_seconds GPU seconds used.\n# TYPE sluice_test_gpu_seconds gauge\n' +
          `sluice_test_gpu_seconds{customer="acme",pod="p1"} ${acme}\n` +
          'sluice_test_gpu_seconds{customer="globex",pod="p2"} 7.5\n',
      );
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
    const exporterPort = (exporter.address() as AddressInfo).port;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:${exporterPort}']\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: 'ignore' },
    );
    await waitFor('the exporter target up', async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
      return body.data.activeTargets[0]?.health === 'up' ? true : undefined;
    });
    await waitFor('both series queryable', async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/query?query=sluice_test_gpu_seconds`)).json()) as { data: { result: unknown[] } };
      return body.data.result.length === 2 ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await new Promise((resolve) => exporter?.close(resolve));
  });

  it('emits each sample per window, evaluated at the window end; a restart backfills from history with the values of the time', async () => {
    const config = join(dir, 'sluice.yaml');
    writeFileSync(
      config,
      `http:\n  enabled: false\ninput:\n  prometheus:\n    url: ${promUrl}\n    schedule: "* * * * * *"\n    state:\n      path: state.db\n      max_backfill: 5m\n` +
        '    queries:\n      - query:\n          name: gpu\n          promql: sluice_test_gpu_seconds\n      - query:\n          name: total\n          promql: sum(sluice_test_gpu_seconds)\n' +
        'output:\n  stdout: {}\n',
    );
    const first = startCli(['run', config]);
    await waitFor('three windows from the first run', async () => (new Set(events(first).map((e) => e.timestamp)).size >= 3 ? true : undefined));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const before = events(first);

    const changedAt = Date.now();
    acme = 100;
    const seenAt = await waitFor('the new value in Prometheus', async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/query?query=sluice_test_gpu_seconds{customer="acme"}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result[0]?.value[1] === '100' ? Date.now() : undefined;
    });
    // Let a few windows pass while sluice is down (their ends are what the restart must backfill).
    await waitFor('three windows missed', async () => (Date.now() > seenAt + 3000 ? true : undefined));
    const restartAt = Date.now();
    const second = startCli(['run', config]);
    await waitFor('a window after the restart', async () => (events(second).some((e) => Date.parse(e.timestamp) > restartAt) ? true : undefined));
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const all = [...before, ...events(second)];
    const byWindow = new Map<number, Event[]>();
    for (const e of all) byWindow.set(Date.parse(e.timestamp), [...(byWindow.get(Date.parse(e.timestamp)) ?? []), e]);
    const ends = [...byWindow.keys()].sort((a, b) => a - b);
    // Contiguous whole seconds across the restart, each window exactly once.
    for (let i = 1; i < ends.length; i++) expect(ends[i]! - ends[i - 1]!).toBe(1000);
    expect(ends[0]! % 1000).toBe(0);
    for (const [end, window] of byWindow) {
      expect(window).toHaveLength(3);
      const gpu = window.filter((e) => e.name === 'gpu');
      const acmeValue = gpu.find((e) => e.labels['customer'] === 'acme')!.value;
      if (end < changedAt) expect(acmeValue).toBe(42);
      if (end > seenAt) expect(acmeValue).toBe(100);
      const globex = gpu.find((e) => e.labels['customer'] === 'globex')!;
      expect(globex).toMatchObject({ query: 'sluice_test_gpu_seconds', value: 7.5, labels: { __name__: 'sluice_test_gpu_seconds', customer: 'globex', pod: 'p2', job: 'exporter' } });
      const total = window.find((e) => e.name === 'total')!;
      expect(total).toMatchObject({ query: 'sum(sluice_test_gpu_seconds)', labels: {}, value: acmeValue + 7.5 });
    }
    // The restart backfilled the windows that ended while sluice was down, with the new value.
    const backfilled = ends.filter((end) => end > seenAt && end < restartAt);
    expect(backfilled.length).toBeGreaterThanOrEqual(2);
    expect(second.stderr).toContain('Prometheus backfills the windows missed while it was not running');
  }, 90_000);
});
