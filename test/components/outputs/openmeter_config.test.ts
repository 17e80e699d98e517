// The OpenMeter Run:ai doc's output configs, run unchanged through the engine (only the
// environment differs: OPENMETER_URL points at the simulator) against the OpenMeter simulator.
import { afterEach, describe, expect, it } from 'vitest';
import dropOn from '../../../src/components/outputs/drop_on.js';
import fallback from '../../../src/components/outputs/fallback.js';
import httpClient from '../../../src/components/outputs/http_client.js';
import rejectErrored from '../../../src/components/outputs/reject_errored.js';
import retry from '../../../src/components/outputs/retry.js';
import type { Metrics } from '../../../src/engine/metrics.js';
import { startOpenMeterSimulator, type OpenMeterSimulator, type OpenMeterSimulatorOptions } from '../../../src/openmeter/sim.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

/** runai-and-openmeter-api.md §9.2, verbatim (Kong Konnect's URL and its literal `$KONNECT_...` token). */
const KONNECT_OUTPUT = `
output:
  label: 'openmeter'
  drop_on:
    error: false
    error_patterns:
      - Bad Request
  output:
    http_client:
      url: '\${OPENMETER_URL:https://us.api.konghq.com}/v3/openmeter/events'
      verb: POST
      headers:
        Authorization: 'Bearer $KONNECT_SYSTEM_ACCESS_TOKEN'
        Content-Type: 'application/json'
      timeout: 30s
      retry_period: 15s
      retries: 3
      max_retry_backoff: 1m
      max_in_flight: 64
      batch_as_multipart: false
      drop_on:
        - 400
      batching:
        count: 100
        period: 1s
        processors:
          - metric:
              type: counter
              name: openmeter_events_sent
              value: 1
          - archive:
              format: json_array
      dump_request_log_level: DEBUG
`;

/** The same, OpenMeter-native: url and token as in the openmeter http-server preset. */
const OFFICIAL_OUTPUT = `
output:
  label: 'openmeter'
  drop_on:
    error: false
    error_patterns:
      - Bad Request
  output:
    http_client:
      url: '\${OPENMETER_URL:https://openmeter.cloud}/api/v1/events'
      verb: POST
      headers:
        Authorization: 'Bearer \${OPENMETER_TOKEN:}'
        Content-Type: 'application/json'
      timeout: 30s
      retry_period: 15s
      retries: 3
      max_retry_backoff: 1m
      max_in_flight: 64
      batch_as_multipart: false
      drop_on:
        - 400
      batching:
        count: 100
        period: 1s
        processors:
          - metric:
              type: counter
              name: openmeter_events_sent
              value: 1
          - archive:
              format: json_array
      dump_request_log_level: DEBUG
`;

/** The short output of seed-openmeter-runai.txt. */
const SEED_OUTPUT = `
output:
  label: 'openmeter'
  http_client:
    url: '\${OPENMETER_URL:https://openmeter.cloud}/api/v1/events'
    verb: POST
    headers:
      # Optional: API key for OpenMeter Cloud
      Authorization: 'Bearer \${OPENMETER_TOKEN:}'
      Content-Type: 'application/json'
    # Batch settings for efficient API usage
    batching:
      # Send up to 100 events in a single request
      count: 100
      # Or send after 1 second, whichever comes first
      period: 1s
      processors:
        # Convert batch to JSON array format
        - archive:
            format: json_array
    dump_request_log_level: DEBUG
`;

/**
 * The official config as far as this suite's components go. The `metric` processor (not part of
 * this suite) currently refuses the official `value: 1` (a YAML number); see the last test.
 */
const OFFICIAL_RUNNABLE = OFFICIAL_OUTPUT.replace('value: 1', "value: '1'");

const TOKEN = 'om_test_token_123456';
const cloudEvent = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `evt-${i}`,
  specversion: '1.0',
  type: 'workload',
  source: 'run_ai',
  time: '2025-01-01T00:00:00Z',
  subject: `customer-${i % 4}`,
  data: { gpuAllocationMinutes: 0.5, cpuLimitCoreMinutes: 2 },
  ...extra,
});

const sims: OpenMeterSimulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** Runs `outputYaml` with the environment pointing at a fresh simulator, feeding `reads` as input batches. */
async function run(outputYaml: string, reads: unknown[][], options: OpenMeterSimulatorOptions = {}) {
  const sim = await startOpenMeterSimulator({ token: TOKEN, ...options });
  sims.push(sim);
  // What `OPENMETER_URL=... OPENMETER_TOKEN=...` does to the text, before YAML parsing.
  const yaml = `input:\n  memory: {}\n${outputYaml}`
    .replaceAll('${OPENMETER_URL:https://openmeter.cloud}', sim.url)
    .replaceAll('${OPENMETER_URL:https://us.api.konghq.com}', sim.url)
    .replaceAll('${OPENMETER_TOKEN:}', TOKEN);
  const state = memoryState(reads);
  const [memoryInput] = memoryComponents(state.input, state.output);
  const { pipeline, metrics } = pipelineFromYaml(yaml, [memoryInput!, httpClient, dropOn, fallback, retry, rejectErrored]);
  const result = await pipeline.run(new AbortController().signal);
  return { sim, metrics, result, acks: state.input.acks };
}

const value = async (metrics: Metrics, name: string, labels: Record<string, string> = {}) => {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  return ((await metric.get()).values as { labels: Record<string, string>; value: number }[])
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
};

const reads = (count: number, perRead: number, poison = new Set<number>()) =>
  Array.from({ length: count / perRead }, (_, r) => Array.from({ length: perRead }, (_, j) => r * perRead + j).map((i) => cloudEvent(i, poison.has(i) ? { subject: '' } : {})));

describe('the OpenMeter configs, through the engine', () => {
  it('the official config delivers every event once, in JSON-array batches of at most 100, with the token', async () => {
    const { sim, metrics, result, acks } = await run(OFFICIAL_RUNNABLE, reads(250, 50));
    expect(result.undelivered).toBe(0);
    expect(acks.every((a) => a === 'ok')).toBe(true);
    expect(sim.events.map((e) => e.id).sort()).toEqual(Array.from({ length: 250 }, (_, i) => `evt-${i}`).sort());
    expect(sim.deliveries).toHaveLength(250);
    for (const request of sim.requests) {
      expect(request.headers).toMatchObject({ 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
      expect((JSON.parse(request.body) as unknown[]).length).toBeLessThanOrEqual(100);
      expect(request.status).toBe(204);
    }
    expect(await value(metrics, 'openmeter_events_sent')).toBe(250);
    expect(await value(metrics, 'output_sent', { label: 'openmeter', path: 'output' })).toBe(250);
    expect(await value(metrics, 'output_error', { label: 'openmeter' })).toBe(0);
    expect(await value(metrics, 'http_request_code_2xx')).toBe(sim.requests.length);
    expect(await value(metrics, 'http_request_status', { code: '204' })).toBe(sim.requests.length);
  });

  it('the Kong Konnect variant posts to /v3/openmeter/events with its literal token', async () => {
    const { sim, acks } = await run(KONNECT_OUTPUT.replace('value: 1', "value: '1'"), reads(150, 50), { token: '$KONNECT_SYSTEM_ACCESS_TOKEN' });
    expect(acks).toEqual(['ok', 'ok', 'ok']);
    expect(sim.events).toHaveLength(150);
    expect(sim.requests.every((r) => r.path === '/v3/openmeter/events' && r.headers.authorization === 'Bearer $KONNECT_SYSTEM_ACCESS_TOKEN')).toBe(true);
  });

  it("the official config (http_client drop_on: [400]) drops a poison event's whole batch at once, as Connect: one request, no split", async () => {
    const { sim, metrics, acks } = await run(OFFICIAL_RUNNABLE, reads(200, 100, new Set([13])));
    expect(sim.requests.filter((r) => r.body.includes('"evt-13"'))).toHaveLength(1);
    expect(sim.events.map((e) => e.id).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `evt-${100 + i}`).sort());
    const first = Array.from({ length: 100 }, (_, i) => `${i}:dropped`).join(',');
    expect(acks).toEqual([`undeliverable ${first}`, 'ok']);
    expect(await value(metrics, 'output_dropped')).toBe(100);
  });

  it('without 400 in http_client.drop_on, only the poison events are dropped: their neighbours arrive and every read learns what was dropped', async () => {
    const { sim, metrics, acks } = await run(OFFICIAL_RUNNABLE.replace('      drop_on:\n        - 400\n', ''), reads(200, 100, new Set([13, 150])));
    expect(sim.events).toHaveLength(198);
    expect(sim.events.some((e) => e.id === 'evt-13' || e.id === 'evt-150')).toBe(false);
    expect(acks).toEqual(['undeliverable 13:dropped', 'undeliverable 50:dropped']);
    // Each poison event is sent in its batch and then alone, never again.
    expect(sim.requests.filter((r) => r.body.includes('"evt-13"'))).toHaveLength(1 + Math.ceil(Math.log2(100)));
    expect(await value(metrics, 'output_dropped')).toBe(2);
    expect(await value(metrics, 'http_request_code_4xx')).toBe(sim.requests.filter((r) => r.status === 400).length);
    expect(await value(metrics, 'http_request_code_2xx')).toBe(sim.requests.filter((r) => r.status === 204).length);
  });

  it('the seed config delivers every event once through a 500 and a 429, replaying without re-running anything', async () => {
    const { sim, metrics, acks } = await run(SEED_OUTPUT.replace('dump_request_log_level: DEBUG', 'dump_request_log_level: DEBUG\n    retry_period: 10ms'), reads(120, 60), {
      script: [{ type: 'status', status: 500 }, { type: 'status', status: 429, retryAfter: 0 }],
    });
    expect(acks).toEqual(['ok', 'ok']);
    expect(sim.events).toHaveLength(120);
    expect(sim.deliveries).toHaveLength(120);
    expect(await value(metrics, 'http_request_code_5xx')).toBe(1);
    expect(await value(metrics, 'http_request_code_4xx')).toBe(1);
    expect(await value(metrics, 'output_sent', { label: 'openmeter' })).toBe(120);
  });

  // Flip to it() once `metric.value` accepts a YAML number, as Redpanda Connect does.
  it('the official config loads verbatim (metric value: 1 is a number)', async () => {
    await run(OFFICIAL_OUTPUT, reads(10, 10));
  });
});
