import { afterEach, describe, expect, it } from 'vitest';
import httpClient from '../../../src/components/outputs/http_client.js';
import retry from '../../../src/components/outputs/retry.js';
import type { Output } from '../../../src/engine/component.js';
import { Message } from '../../../src/engine/message.js';
import { type OpenMeterSimulator } from '../../../src/openmeter/sim.js';
import { buildOutput, simulatorsClosedAfterEach } from '../../support/outputs.js';

const cloudEvent = (i: number) => ({ id: `evt-${i}`, specversion: '1.0', type: 'workload', source: 'run_ai', subject: 'c', data: { gpu: i } });
const never = () => new AbortController().signal;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

const simulator = simulatorsClosedAfterEach();

async function build(sim: OpenMeterSimulator, config: Record<string, unknown>): Promise<Output> {
  const output = buildOutput(
    retry,
    { backoff: { initial_interval: '5ms', max_interval: '20ms' }, ...config, output: { http_client: { url: sim.ingestUrl, headers: { 'Content-Type': 'application/json' }, retries: 0 } } },
    [httpClient],
  );
  closers.push(() => output.close());
  await output.connect(never());
  return output;
}

describe('retry', () => {
  it('retries the same messages inside the output until the child delivers them', async () => {
    const sim = await simulator({ script: [{ type: 'status', status: 500 }, { type: 'reset' }, { type: 'status', status: 503 }] });
    const output = await build(sim, {});
    const message = Message.fromJSON([cloudEvent(1), cloudEvent(2)]);
    await output.write([message], never());
    expect(sim.requests.map((r) => r.status ?? r.outcome)).toEqual([500, 'reset', 503, 204]);
    expect(new Set(sim.requests.map((r) => r.body)).size).toBe(1);
    expect(sim.events.map((e) => e.id)).toEqual(['evt-1', 'evt-2']);
  });

  it('gives up after max_retries', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await build(sim, { max_retries: 2 });
    await expect(output.write([Message.fromJSON([cloudEvent(1)])], never())).rejects.toThrow(/^message failed to reach a target destination after 2 retries: .*\(500\)/);
    expect(sim.requests).toHaveLength(3);
  });

  it('gives up once max_elapsed_time has passed', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await build(sim, { backoff: { initial_interval: '20ms', max_interval: '20ms', max_elapsed_time: '100ms' } });
    const started = Date.now();
    await expect(output.write([Message.fromJSON([cloudEvent(1)])], never())).rejects.toThrow(/failed to reach a target destination/);
    expect(Date.now() - started).toBeLessThan(400);
    expect(sim.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('stops retrying when closed', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await build(sim, { backoff: { initial_interval: '10s', max_interval: '10s' } });
    const write = output.write([Message.fromJSON([cloudEvent(1)])], never()).catch((err: Error) => err);
    while (sim.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await output.close();
    // Closed while waiting to retry, or (under load) around the first attempt: either way it gives up.
    expect(String(await write)).toMatch(/retry output closed while retrying: .*\(500\)|failed to reach a target destination after 0 retries/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sim.requests).toHaveLength(1);
  });
});
