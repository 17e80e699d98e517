import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import runAi, { DEFAULT_METRICS, type RunAiConfig } from '../../../src/components/inputs/run_ai.js';
import type { Input, ReadResult, Settings } from '../../../src/engine/component.js';
import type { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { expectedMetrics, startRunAiSimulator, type RunAiSimulator, type RunAiSimulatorOptions } from '../../../src/runai/sim.js';
import { configProblems, withDefaults } from '../../support/defaults.js';
import { testSettings } from '../../support/settings.js';
import { captureLog, metricValue } from '../../runai/helpers.js';

// -- config, validated the way the engine does it ------------------------------------------------

const validated = (config: Record<string, unknown>): RunAiConfig => withDefaults(runAi, config);
const problems = (config: Record<string, unknown>): string => configProblems(runAi, config).join('\n');

/** The `input.run_ai` block of the OpenMeter Run:ai doc, verbatim, with its env references filled. */
function seedConfig(env: Record<string, string>): Record<string, unknown> {
  const doc = readFileSync(new URL('../../fixtures/openmeter-runai-doc-input.yaml', import.meta.url), 'utf8');
  const yaml = /^input:\n(?: {2}.*\n)+/m.exec(doc)![0];
  const text = yaml.replace(/\$\{(\w+):([^}]*)\}/g, (_, name: string, fallback: string) => env[name] ?? fallback);
  return (parseYaml(text) as { input: { run_ai: Record<string, unknown> } }).input.run_ai;
}

describe('run_ai config', () => {
  it('takes the OpenMeter doc config unchanged', () => {
    const config = validated(seedConfig({ RUNAI_URL: 'https://myorg.run.ai', RUNAI_APP_ID: 'app', RUNAI_APP_SECRET: 's3cr3t' }));
    expect(config).toMatchObject({ schedule: '*/30 * * * * *', metrics_offset: '30s', resource_type: 'workload', page_size: 500 });
    expect(config.metrics).toEqual(DEFAULT_METRICS.workload);
    const input = runAi.create(config, testSettings());
    return input.close();
  });

  it('accepts the doc config with its env unset (`${RUNAI_URL:}` is empty), failing only on connect', async () => {
    const input = runAi.create(validated(seedConfig({})), testSettings());
    await expect(input.connect(new AbortController().signal)).rejects.toThrow('url is empty: set input.run_ai.url (the docs read it from RUNAI_URL)');
    await input.close();
  });

  it('applies every default from the schema, and leaves metrics to create()', () => {
    expect(validated({ url: 'https://x.run.ai', app_id: 'a', app_secret: 'b' })).toEqual({
      url: 'https://x.run.ai',
      app_id: 'a',
      app_secret: 'b',
      resource_type: 'workload',
      page_size: 500,
      schedule: '*/30 * * * * *',
      metrics_offset: '0s',
      http: { timeout: '30s', retry_count: 1, retry_wait_time: '100ms', retry_max_wait_time: '1s', max_in_flight: 256, min_in_flight: 4 },
      shards: 1,
      shard: 0,
    });
    expect((runAi.schema['properties'] as Record<string, { 'x-secret'?: boolean }>)['app_secret']!['x-secret']).toBe(true);
    expect(problems(runAi.example as Record<string, unknown>)).toBe('');
  });

  it.each([
    [{ scheduel: '@every 30s' }, 'scheduel: unknown field (did you mean schedule?)'],
    [{ http: { retries: 3 } }, 'http.retries: unknown field'],
    [{ page_size: 50 }, 'page_size: must be >= 100'],
    [{ page_size: 501 }, 'page_size: must be <= 500'],
    [{ resource_type: 'node' }, 'resource_type: "node" is not one of "workload", "pod"'],
    [{ metrics: ['GPU_HOURS'] }, 'metrics[0]: "GPU_HOURS" is not one of'],
    [{ metrics: ['POD_COUNT', 'POD_COUNT'] }, 'metrics: must NOT have duplicate items'],
    [{ metrics_offset: '30 seconds' }, 'metrics_offset: invalid duration "30 seconds"'],
    [{ http: { timeout: 30 } }, 'http.timeout: expected a duration such as "30s", got number 30'],
  ])('rejects %j', (extra, message) => {
    expect(problems({ url: 'https://x.run.ai', app_id: 'a', app_secret: 'b', ...extra })).toContain(message);
  });

  it.each([
    [{ schedule: '*/30 * * * *' }, 'schedule "*/30 * * * *" has 5 fields; expected 6 with seconds first (e.g. "*/30 * * * * *") or "@every 30s"'],
    [{ schedule: '61 * * * * *' }, 'schedule "61 * * * * *" is not a valid cron: Invalid value for second: 61'],
    [{ schedule: '@every thirty' }, 'schedule "@every thirty": invalid duration "thirty"'],
    [{ schedule: '@fortnightly' }, 'schedule "@fortnightly" is not a known descriptor'],
    [{ resource_type: 'pod', metrics: ['CPU_USAGE_CORES', 'CPU_LIMIT_CORES'] }, 'metrics[1]: CPU_LIMIT_CORES is not a pod metric type'],
    [{ resource_type: 'pod' }, ''],
    [{ http: { timeout: '0s' } }, 'http.timeout: must be positive, got 0s'],
    [{ http: { retry_wait_time: '2s' } }, 'http.retry_max_wait_time: 1s is shorter than http.retry_wait_time (2s)'],
    [{ http: { min_in_flight: 300 } }, 'http.min_in_flight: 300 is more than http.max_in_flight (256)'],
    [{ http: { min_in_flight: 16, max_in_flight: 16 } }, ''],
    [{ shards: 2, shard: 'sluice-runai-2' }, 'shard: "sluice-runai-2" gives shard 2, but shards is 2 (shards are 0 to 1)'],
    [{ shards: 2, shard: 'sluice-runai' }, 'shard: "sluice-runai" is neither an integer nor a pod name ending in -<ordinal>'],
    [{ shards: 3, shard: 'sluice-runai-2' }, ''],
    [{ url: 'myorg.run.ai' }, 'url "myorg.run.ai" is not a URL (expected e.g. https://myorg.run.ai)'],
  ])('create() checks %j', async (extra, message) => {
    const config = validated({ url: 'https://x.run.ai', app_id: 'a', app_secret: 'b', ...extra });
    if (message === '') {
      await runAi.create(config, testSettings()).close();
      return;
    }
    expect(() => runAi.create(config, testSettings())).toThrow(message);
  });

  it('accepts @every and descriptors', async () => {
    for (const schedule of ['@every 30s', '@every 1m30s', '@hourly', '@daily', '0 0 9 * * 1-5']) {
      await runAi.create(validated({ url: 'https://x.run.ai', app_id: 'a', app_secret: 'b', schedule }), testSettings()).close();
    }
  });

  it('builds without network or timers and closes twice, without connect', async () => {
    const sim = await startRunAiSimulator();
    sims.push(sim);
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const input = runAi.create(validated({ url: sim.url, app_id: 'a', app_secret: 'b', schedule: '* * * * * *' }), testSettings());
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    await input.close();
    await input.close();
    expect(await input.read(new AbortController().signal)).toBeNull();
    expect(sim.requests).toHaveLength(0);
  });
});

// -- scraping a simulator ----------------------------------------------------------------------

const sims: RunAiSimulator[] = [];
const inputs: Input[] = [];
afterEach(async () => {
  await Promise.all(inputs.splice(0).map((i) => i.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

interface Running {
  sim: RunAiSimulator;
  input: Input;
  settings: Settings;
  lines: string[];
}

async function scrape(simOptions: RunAiSimulatorOptions, config: Record<string, unknown> = {}): Promise<Running> {
  const sim = await startRunAiSimulator({ workloads: 30, ...simOptions });
  sims.push(sim);
  const { logger, lines } = captureLog();
  const settings = testSettings({ logger, metrics: new Metrics(), secrets: new Secrets(), path: 'input' });
  const input = runAi.create(
    validated({
      url: sim.url,
      app_id: sim.credentials.id,
      app_secret: sim.credentials.secret,
      schedule: '* * * * * *',
      http: { timeout: '2s', retry_count: 1, retry_wait_time: '10ms', retry_max_wait_time: '50ms' },
      ...config,
    }),
    settings,
  );
  inputs.push(input);
  await input.connect(new AbortController().signal);
  return { sim, input, settings, lines };
}

/** Reads and acks batches until `done` says so, or fails after `ms`. */
async function readUntil(input: Input, done: (batches: Message[][]) => boolean, ms = 10_000): Promise<Message[][]> {
  const batches: Message[][] = [];
  const signal = AbortSignal.timeout(ms);
  while (!done(batches)) {
    const result = await input.read(signal);
    if (result === null) throw new Error(`no batch within ${ms}ms; got ${batches.length}`);
    result.ack();
    batches.push(result.batch);
  }
  return batches;
}

const body = (m: Message): Record<string, unknown> & { id: string; metrics: { timestamp: string; values: Record<string, number> } } =>
  m.json() as never;
const windowOf = (batch: Message[]): { start: string; end: string } => ({
  start: batch[0]!.metadata['window_start'] as string,
  end: batch[0]!.metadata['window_end'] as string,
});

describe('run_ai scraping', () => {
  it('emits one message per scrapeable workload per window, with the reference body and metadata', async () => {
    const { sim, input } = await scrape({ seed: 3 });
    const [batch] = await readUntil(input, (b) => b.length === 1);
    const expectedIds = sim.scrapeableWorkloads().map((w) => w.id);
    expect(batch!.map((m) => body(m).id).sort()).toEqual([...expectedIds].sort());
    const message = batch![0]!;
    const meta = message.metadata;
    expect(Object.keys(meta)).toEqual(['scrape_time', 'scrape_interval', 'metrics_offset', 'resource_type', 'metrics_time', 'window_start', 'window_end']);
    expect(Object.values(meta).every((v) => typeof v === 'string')).toBe(true);
    expect(meta).toMatchObject({ scrape_interval: '1s', metrics_offset: '0s', resource_type: 'workload' });
    expect(meta['metrics_time']).toBe(meta['window_end']);
    expect(meta['scrape_time']).toBe(meta['window_end']);
    expect(Date.parse(meta['window_end'] as string) - Date.parse(meta['window_start'] as string)).toBe(1000);
    expect(meta['window_end']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const b = body(message);
    expect(Object.keys(b)).toEqual([
      'resourceType', 'tenantId', 'type', 'namespace', 'name', 'id', 'priorityClassName', 'submittedBy', 'clusterId', 'projectName',
      'projectId', 'departmentName', 'departmentId', 'runningPods', 'workloadRequestedResources', 'allocatedResources', 'phase',
      'preemptible', 'requestedPods', 'idleGpus', 'idleAllocatedGpus', 'createdAt', 'metrics',
    ]);
    expect(b.resourceType).toBe('workload');
    expect(b.metrics.timestamp).toBe(meta['window_end']);
    expect(Object.keys(b.metrics.values)).toEqual([...DEFAULT_METRICS.workload].sort());
    for (const m of batch!) {
      const truth = expectedMetrics(sim.resource(body(m).id)!, DEFAULT_METRICS.workload, { start: Date.parse(windowOf(batch!).start), end: Date.parse(windowOf(batch!).end) });
      expect(body(m).metrics.values).toEqual(truth.values);
    }
    expect(message.text()).not.toContain('\n');
  });

  it('anchors windows to nominal ticks: contiguous, no overlap, one token for all', async () => {
    const { sim, input } = await scrape({}, { metrics_offset: '1500ms' });
    const batches = await readUntil(input, (b) => b.length === 3);
    const windows = batches.map(windowOf);
    expect(windows[1]!.start).toBe(windows[0]!.end);
    expect(windows[2]!.start).toBe(windows[1]!.end);
    for (const w of windows) expect(Date.parse(w.end) % 1000).toBe(500);
    expect(batches[0]![0]!.metadata).toMatchObject({ metrics_offset: '1.5s', scrape_interval: '1s' });
    // scrape_time is the nominal tick (RFC 3339 seconds); the window ends metrics_offset before it.
    expect(Date.parse(batches[0]![0]!.metadata['scrape_time'] as string) - Date.parse(windows[0]!.end)).toBe(1500);
    expect(batches[0]![0]!.metadata['metrics_time']).toBe(new Date(Math.floor(Date.parse(windows[0]!.end) / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
    expect(sim.requests.filter((r) => r.route === 'token')).toHaveLength(1);
    const queried = sim.requests.filter((r) => r.route === 'workload-metrics').map((r) => `${r.query['start']} ${r.query['end']}`);
    expect(new Set(queried).size).toBe(3);
  });

  it('renews an expiring token between and during scrapes without a 401', async () => {
    const { sim, input } = await scrape({ tokenTtlSeconds: 2, latencyMs: 30 });
    await readUntil(input, (b) => b.length === 4);
    expect(sim.requests.filter((r) => r.route === 'token').length).toBeGreaterThanOrEqual(2);
    expect(sim.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('recovers from a revoked token within the scrape', async () => {
    const { sim, input } = await scrape({});
    await readUntil(input, (b) => b.length === 1);
    sim.revokeTokens();
    const [batch] = await readUntil(input, (b) => b.length === 1);
    expect(batch!.length).toBe(sim.scrapeableWorkloads().length);
    expect(sim.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('retries a workload whose metrics failed in the next scrape, for its missing window', async () => {
    const sim0 = await startRunAiSimulator({ workloads: 30 });
    const victim = sim0.scrapeableWorkloads()[2]!.id;
    await sim0.close();
    // Its 12 metrics take 2 requests; 2 attempts each (retry_count 1) fail; the next scrape succeeds.
    const { sim, input, settings, lines } = await scrape({ faults: [{ route: 'workload-metrics', resourceId: victim, times: 4, effect: { status: 503 } }] });
    const batches = await readUntil(input, (b) => b.flat().filter((m) => body(m).id === victim).length === 2);
    const first = batches[0]!;
    expect(first.some((m) => body(m).id === victim)).toBe(false);
    expect(first).toHaveLength(sim.scrapeableWorkloads().length - 1);
    const victimMessages = batches.flat().filter((m) => body(m).id === victim);
    // Its missed window comes first, alone, with that window's metadata and values.
    expect(windowOf([victimMessages[0]!])).toEqual(windowOf(first));
    expect(batches[1]).toEqual([victimMessages[0]]);
    const w = windowOf(first);
    expect(body(victimMessages[0]!).metrics.values).toEqual(expectedMetrics(sim.resource(victim)!, DEFAULT_METRICS.workload, { start: Date.parse(w.start), end: Date.parse(w.end) }).values);
    expect(await metricValue(settings.metrics, 'run_ai_resource_failures_total', { type: 'workload' })).toBe(1);
    expect(lines.some((l) => l.includes('their windows are owed and retried with back-off'))).toBe(true);
  });

  it('keeps windows due when the listing fails, and scrapes them next tick', async () => {
    const { input, lines } = await scrape({ faults: [{ route: 'workloads', times: 2, effect: { status: 500 } }] });
    const batches = await readUntil(input, (b) => b.length === 3);
    const windows = batches.map(windowOf);
    expect(windows[1]!.start).toBe(windows[0]!.end);
    expect(windows[2]!.start).toBe(windows[1]!.end);
    expect(lines.some((l) => l.includes('Run:ai listing failed; its windows are scraped at the next tick'))).toBe(true);
  });

  it('survives malformed upstream data: HTML with 200, non-numeric values, null fields', async () => {
    const sim0 = await startRunAiSimulator({ workloads: 30 });
    const [a, b] = sim0.scrapeableWorkloads();
    await sim0.close();
    const { sim, input, settings } = await scrape({
      faults: [
        { route: 'workloads', times: 1, effect: { malformed: 'html' } },
        { route: 'workload-metrics', resourceId: a!.id, times: 1, effect: { malformed: 'non-numeric' } },
        { route: 'workload-metrics', resourceId: b!.id, times: 1, effect: { malformed: 'truncated-json' } },
      ],
    });
    sim.patchWorkload(a!.id, { name: null, allocatedResources: null, runningPods: 'two' });
    const batches = await readUntil(input, (got) => new Set(got.flat().map((m) => body(m).id)).size === sim.scrapeableWorkloads().length && got.length >= 2);
    const patched = batches.flat().find((m) => body(m).id === a!.id)!;
    expect(body(patched)).toMatchObject({ name: '', runningPods: 0, allocatedResources: { gpu: 0, gpuMemory: '', cpu: 0, cpuMemory: '' } });
    const m = settings.metrics;
    expect(await metricValue(m, 'run_ai_malformed_total', { kind: 'content_type' })).toBe(1);
    expect(await metricValue(m, 'run_ai_malformed_total', { kind: 'value' })).toBe(1);
    expect(await metricValue(m, 'run_ai_malformed_total', { kind: 'json' })).toBe(1);
    expect(await metricValue(m, 'run_ai_malformed_total', { kind: 'field' })).toBeGreaterThanOrEqual(1);
  });

  it('re-queues a batch acked with an error, first in line', async () => {
    const { input } = await scrape({});
    const signal = new AbortController().signal;
    const first = (await input.read(signal)) as ReadResult;
    first.ack(new Error('output gave up'));
    const again = (await input.read(signal)) as ReadResult;
    expect(again.batch).toBe(first.batch);
    again.ack();
    first.ack(new Error('a second settle is ignored'));
    const next = (await input.read(signal)) as ReadResult;
    expect(next.batch).not.toBe(first.batch);
  });

  it('says so when a batch is nacked after close, instead of re-queuing it into a closed input', async () => {
    const { input, lines } = await scrape({});
    const result = (await input.read(new AbortController().signal)) as ReadResult;
    await input.close();
    result.ack(new Error('shutdown timeout'));
    expect(lines.some((l) => l.includes('not delivered before shutdown; its windows are lost'))).toBe(true);
    expect(await input.read(new AbortController().signal)).toBeNull();
  });

  it('resolves read() with null on abort and after close', async () => {
    const { input } = await scrape({}, { schedule: '0 0 0 1 1 *' });
    const controller = new AbortController();
    const pending = input.read(controller.signal);
    controller.abort();
    expect(await pending).toBeNull();
    const waiting = input.read(new AbortController().signal);
    await input.close();
    expect(await waiting).toBeNull();
    await input.close();
  });

  it('logs an overrun, runs the next scrape late, and still leaves no gap', async () => {
    const { input, lines } = await scrape({ latencyMs: 700, workloads: 4 });
    const batches = await readUntil(input, (b) => b.length >= 3, 15_000);
    const windows = batches.map(windowOf);
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBe(windows[i - 1]!.end);
    expect(new Set(windows.map((w) => w.start)).size).toBe(windows.length);
    expect(lines.some((l) => l.includes('Run:ai scrape overran its schedule'))).toBe(true);
  }, 20_000);

  it('scrapes pods with per-GPU values kept per GPU', async () => {
    const { sim, input } = await scrape({ workloads: 60 }, { resource_type: 'pod' });
    const [batch] = await readUntil(input, (b) => b.length === 1);
    expect(batch!.map((m) => body(m).id).sort()).toEqual(sim.activePods().map((p) => p.id).sort());
    const gpuPod = sim.activePods().find((p) => p.gpuDevices >= 2)!;
    const message = batch!.find((m) => body(m).id === gpuPod.id)!;
    const w = windowOf(batch!);
    const truth = expectedMetrics(gpuPod, DEFAULT_METRICS.pod, { start: Date.parse(w.start), end: Date.parse(w.end) });
    expect(body(message).metrics).toEqual({ timestamp: w.end, values: truth.values, perGpu: truth.perGpu });
    expect(body(message)).toMatchObject({ resourceType: 'pod', workloadId: gpuPod.workloadId, requestedNodePool: null });
    expect(message.metadata['resource_type']).toBe('pod');
  });

  it('with shards, pods go with their workload: two shards scrape every active pod once between them', async () => {
    const shard0 = await scrape({ workloads: 60 }, { resource_type: 'pod', shards: 2, shard: 'sluice-runai-0' });
    const sim = shard0.sim;
    const shard1Input = runAi.create(
      validated({ url: sim.url, app_id: sim.credentials.id, app_secret: sim.credentials.secret, schedule: '* * * * * *', resource_type: 'pod', shards: 2, shard: 1 }),
      testSettings(),
    );
    inputs.push(shard1Input);
    await shard1Input.connect(new AbortController().signal);
    const [a] = await readUntil(shard0.input, (b) => b.length === 1);
    const [b] = await readUntil(shard1Input, (bs) => bs.length === 1);
    const podsOf = (batch: Message[]) => batch.map((m) => body(m) as unknown as { id: string; workloadId: string });
    const workloadsA = new Set(podsOf(a!).map((p) => p.workloadId));
    const workloadsB = new Set(podsOf(b!).map((p) => p.workloadId));
    expect(workloadsA.size).toBeGreaterThan(0);
    expect(workloadsB.size).toBeGreaterThan(0);
    expect([...workloadsA].filter((w) => workloadsB.has(w))).toEqual([]);
    expect([...podsOf(a!), ...podsOf(b!)].map((p) => p.id).sort()).toEqual(sim.activePods().map((p) => p.id).sort());
  });

  it('never writes the app secret or a token to the logs', async () => {
    const { sim, input, lines, settings } = await scrape({
      faults: [
        { route: 'workload-metrics', rate: 0.3, effect: { status: 500 } },
        { route: 'workloads', times: 1, effect: { malformed: 'html' } },
      ],
    });
    await readUntil(input, (b) => b.length === 2);
    sim.revokeTokens();
    await readUntil(input, (b) => b.length === 1);
    // A failing connect logs nothing secret either.
    const bad = runAi.create(validated({ url: sim.url, app_id: sim.credentials.id, app_secret: 'wrong-secret-value' }), settings);
    const error = (await bad.connect(new AbortController().signal).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(`cannot authenticate with Run:ai at ${sim.url}: /api/v1/token: status 401 Issuer is not familiar.; check app_id and app_secret`);
    await bad.close();
    const tokens = [...new Set(sim.requests.map((r) => r.auth).filter((t): t is string => t !== undefined))];
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeGreaterThan(0);
    const log = lines.join('');
    for (const secret of [sim.credentials.secret, 'wrong-secret-value', ...tokens]) {
      expect(log).not.toContain(secret);
      expect(settings.secrets.scrub(`x ${secret} y`)).toBe('x [REDACTED] y');
    }
    expect(log).not.toMatch(/Bearer\s+\S/);
  });
});
