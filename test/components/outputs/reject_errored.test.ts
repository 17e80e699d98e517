import { afterEach, describe, expect, it } from 'vitest';
import httpClient from '../../../src/components/outputs/http_client.js';
import rejectErrored from '../../../src/components/outputs/reject_errored.js';
import type { DeliveryError } from '../../../src/engine/delivery.js';
import type { Output } from '../../../src/engine/component.js';
import { Message } from '../../../src/engine/message.js';
import { startOpenMeterSimulator, type OpenMeterSimulator, type OpenMeterSimulatorOptions } from '../../../src/openmeter/sim.js';
import { buildOutput } from '../../support/outputs.js';

const cloudEvent = (i: number) => ({ id: `evt-${i}`, specversion: '1.0', type: 'workload', source: 'run_ai', subject: 'c', data: { gpu: i } });
const never = () => new AbortController().signal;
const flagged = (body: unknown) => Message.fromJSON(body).withError(new Error('mapping failed'));

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

async function build(options: OpenMeterSimulatorOptions = {}): Promise<{ sim: OpenMeterSimulator; output: Output }> {
  const sim = await startOpenMeterSimulator(options);
  closers.push(() => sim.close());
  const output = buildOutput(rejectErrored, { http_client: { url: sim.ingestUrl, headers: { 'Content-Type': 'application/json' }, retries: 0 } }, [httpClient]);
  closers.push(() => output.close());
  await output.connect(never());
  return { sim, output };
}

describe('reject_errored', () => {
  it('sends the clean messages and gives the flagged ones up, so nothing is replayed', async () => {
    const { sim, output } = await build();
    const batch = [Message.fromJSON(cloudEvent(1)), flagged({ raw: 1 }), Message.fromJSON(cloudEvent(3))];
    const error = (await output.write(batch, never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toBe('rejecting 1 of 3 messages due to failed processing: mapping failed');
    expect(error.undelivered).toEqual([]);
    expect(error.givenUp).toEqual([{ message: batch[1], kind: 'rejected', reason: 'rejected due to failed processing: mapping failed' }]);
    expect(sim.events.map((e) => e.id)).toEqual(['evt-1', 'evt-3']);
    expect(sim.requests).toHaveLength(2);
  });

  it('passes a clean batch through and never sends a fully flagged one', async () => {
    const { sim, output } = await build();
    await output.write([Message.fromJSON(cloudEvent(1))], never());
    await expect(output.write([flagged({ a: 1 }), flagged({ a: 2 })], never())).rejects.toThrow('rejecting 2 of 2 messages');
    expect(sim.requests).toHaveLength(1);
  });

  it('names both the flagged messages and what the child failed to deliver', async () => {
    const { output } = await build({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const batch = [Message.fromJSON(cloudEvent(1)), flagged({ raw: 1 })];
    const error = (await output.write(batch, never()).catch((err: unknown) => err)) as DeliveryError;
    expect(error.message).toMatch(/\(500\)/);
    expect(error.undelivered).toEqual([batch[0]]);
    expect(error.givenUp.map((g) => g.message)).toEqual([batch[1]]);
  });
});
