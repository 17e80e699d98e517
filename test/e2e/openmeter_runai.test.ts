// The OpenMeter Run:ai doc's pipeline (examples/openmeter-runai.yaml: the doc's input and output
// sections unchanged) run through the real CLI against both simulators.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_METRICS } from '../../src/components/inputs/run_ai.js';
import { uuidV5 } from '../../src/mapping/environment.js';
import { startOpenMeterSimulator, type CloudEvent, type OpenMeterSimulator } from '../../src/openmeter/sim.js';
import { expectedMetrics, startRunAiSimulator, type RunAiSimulator } from '../../src/runai/sim.js';
import { startCli } from '../support/cli.js';

// The doc's metrics list is run_ai's default for workloads.
const DOC_METRICS = DEFAULT_METRICS.workload;

describe('the OpenMeter Run:ai doc pipeline, end to end', () => {
  let runAi: RunAiSimulator;
  let openMeter: OpenMeterSimulator;
  let stderr = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    runAi = await startRunAiSimulator({ workloads: 30, seed: 11 });
    openMeter = await startOpenMeterSimulator({ token: 'om-test-token-123' });
    const proc = startCli(
      ['run', 'examples/openmeter-runai.yaml', '-s', "input.run_ai.schedule='* * * * * *'", '-s', 'http.address=127.0.0.1:0', '--log.level', 'TRACE'],
      {
        RUNAI_URL: runAi.url,
        RUNAI_APP_ID: runAi.credentials.id,
        RUNAI_APP_SECRET: runAi.credentials.secret,
        OPENMETER_URL: openMeter.url,
        OPENMETER_TOKEN: 'om-test-token-123',
      },
    );
    const windows = () => new Set(openMeter.events.map((e) => e.time)).size;
    const started = Date.now();
    while (windows() < 3 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
    proc.child.kill('SIGTERM');
    exitCode = await proc.exited;
    stderr = proc.stderr;
  }, 40_000);

  afterAll(async () => {
    await Promise.all([runAi?.close(), openMeter?.close()]);
  });

  it('shuts down cleanly on SIGTERM after delivering at least three windows', () => {
    expect(exitCode).toBe(0);
    expect(new Set(openMeter.events.map((e) => e.time)).size).toBeGreaterThanOrEqual(3);
  });

  it('sends every running workload once per window, with the numbers the cluster had', () => {
    const byName = new Map(runAi.scrapeableWorkloads().map((w) => [w.name, w]));
    const windows = [...new Set(openMeter.events.map((e) => e.time))].sort();
    // The last window may have been cut by the shutdown; every earlier one is complete.
    for (const time of windows.slice(0, -1)) {
      expect(openMeter.events.filter((e) => e.time === time).map((e) => e.subject).sort()).toEqual([...byName.keys()].sort());
    }
    for (const event of openMeter.events as (CloudEvent & { data: Record<string, unknown> })[]) {
      const workload = byName.get(event.subject as string)!;
      expect(workload, `unknown subject ${event.subject}`).toBeDefined();
      const start = Date.parse(event.time as string);
      const truth = expectedMetrics(workload, DOC_METRICS, { start, end: start + 1000 }).values;
      expect(event).toMatchObject({ specversion: '1.0', type: 'workload', source: 'run_ai' });
      expect(event.id).toBe(uuidV5([runAi.cluster.clusterId, 'workload', workload.id, event.time, '1s'].join('|'), 'url'));
      // A 1 s window is 1/60 of a minute.
      expect(event.data.gpuAllocationMinutes).toBeCloseTo(workload.gpu / 60, 12);
      expect(event.data.cpuLimitCoreMinutes).toBeCloseTo(truth.CPU_LIMIT_CORES! / 60, 12);
      expect(event.data.cluster).toBe(runAi.cluster.clusterId);
      expect(event.data.project).toBe(workload.projectId);
    }
    // Nothing was sent twice.
    expect(openMeter.deliveries.length).toBe(openMeter.events.length);
  });

  it('posts JSON arrays of at most 100 events with the doc\'s headers', () => {
    expect(openMeter.requests.length).toBeGreaterThan(0);
    for (const request of openMeter.requests) {
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/api/v1/events');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toBe('Bearer om-test-token-123');
      const body = JSON.parse(request.body) as unknown[];
      expect(Array.isArray(body)).toBe(true);
      expect(body.length).toBeGreaterThan(0);
      expect(body.length).toBeLessThanOrEqual(100);
      expect(request.status).toBe(204);
    }
  });

  it('asks Run:ai for one token, then lists and fetches metrics in chunks of at most 9 over contiguous windows', () => {
    const requests = runAi.requests;
    const tokens = requests.filter((r) => r.route === 'token');
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.grantType).toBe('app_token');
    const others = requests.filter((r) => r.route !== 'token');
    expect(new Set(others.map((r) => r.auth)).size).toBe(1);

    const metrics = others.filter((r) => r.route === 'workload-metrics');
    const windows = [...new Set(metrics.map((r) => `${r.query.start}/${r.query.end}`))].sort();
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.split('/')[0]).toBe(windows[i - 1]!.split('/')[1]);
    for (const r of metrics) expect(Date.parse(r.query.end!) - Date.parse(r.query.start!)).toBe(1000);
    // 12 metrics in two requests (9 + 3) per workload and window, none twice.
    const perWorkloadWindow = new Map<string, string[][]>();
    for (const r of metrics) {
      const key = `${r.path}|${r.query.start}`;
      perWorkloadWindow.set(key, [...(perWorkloadWindow.get(key) ?? []), r.query.metricType!.split(',')]);
    }
    for (const chunks of perWorkloadWindow.values()) {
      expect(chunks.map((c) => c.length).sort()).toEqual([3, 9]);
      expect(chunks.flat().sort()).toEqual([...DOC_METRICS].sort());
    }
  });

  it('logs at TRACE with request dumps but never a secret or bearer token', () => {
    expect(stderr).toMatch(/http request/i);
    expect(stderr).not.toContain(runAi.credentials.secret);
    expect(stderr).not.toContain('om-test-token-123');
    const runAiToken = runAi.requests.find((r) => r.auth !== undefined)!.auth!;
    expect(stderr).not.toContain(runAiToken.slice(-20));
  });
});
