import { afterEach, describe, expect, it } from 'vitest';
import fallback from '../../../src/components/outputs/fallback.js';
import httpClient from '../../../src/components/outputs/http_client.js';
import rejectErrored from '../../../src/components/outputs/reject_errored.js';
import type { Output } from '../../../src/engine/component.js';
import { Message } from '../../../src/engine/message.js';
import { type OpenMeterSimulator } from '../../../src/openmeter/sim.js';
import { buildOutput, captureSpec, jsonArchive, type CaptureState, simulatorsClosedAfterEach, writeOutcome } from '../../support/outputs.js';

const cloudEvent = (i: number, extra: Record<string, unknown> = {}) => ({ id: `evt-${i}`, specversion: '1.0', type: 'workload', source: 'run_ai', subject: `c-${i % 3}`, data: { gpu: i }, ...extra });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const never = () => new AbortController().signal;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

const simulator = simulatorsClosedAfterEach();

const client = (sim: OpenMeterSimulator, extra: Record<string, unknown> = {}) => ({
  http_client: { url: sim.ingestUrl, headers: { 'Content-Type': 'application/json' }, retries: 0, ...extra },
});

async function build(config: unknown[], dlq: CaptureState): Promise<Output> {
  const output = buildOutput(fallback, config, [httpClient, rejectErrored, captureSpec(dlq)]);
  closers.push(() => output.close());
  await output.connect(never());
  return output;
}

describe('fallback', () => {
  it('sends what the first output failed to the next one, with fallback_error metadata', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const dlq: CaptureState = { writes: [] };
    const output = await build([client(sim), { capture: {} }], dlq);
    const batch = [Message.fromJSON(cloudEvent(1), { tenant: 'a' })];
    await output.write(batch, never());
    expect(dlq.writes).toHaveLength(1);
    expect(dlq.writes[0]?.[0]?.json()).toEqual(cloudEvent(1));
    expect(dlq.writes[0]?.[0]?.metadata).toMatchObject({ tenant: 'a', fallback_error: expect.stringMatching(/\(500\): 500 Internal Server Error/) });
  });

  it('passes on only the poison event of an archived batch; its neighbours reach OpenMeter', async () => {
    const sim = await simulator();
    const dlq: CaptureState = { writes: [] };
    const output = await build([client(sim), { capture: {} }], dlq);
    const events = range(100).map((i) => cloudEvent(i, i === 7 || i === 70 ? { subject: '' } : {}));
    await output.write([jsonArchive(events.map((e) => Message.fromJSON(e, { scrape: 's1' })), { scrape: 's1' })], never());
    expect(sim.events).toHaveLength(98);
    const dead = dlq.writes.flat();
    expect(dead.map((m) => (m.json() as { id: string }).id)).toEqual(['evt-7', 'evt-70']);
    expect(dead[0]?.metadata).toMatchObject({ scrape: 's1', fallback_error: expect.stringMatching(/^POST .*400 Bad Request, Error: .*"\/0\/subject"/) });
  });

  it('passes on only the rejected messages of an unarchived batch', async () => {
    const sim = await simulator();
    const dlq: CaptureState = { writes: [] };
    const output = await build([client(sim), { capture: {} }], dlq);
    const batch = [Message.fromJSON(cloudEvent(1)), Message.fromJSON(cloudEvent(2, { specversion: '9' })), Message.fromJSON(cloudEvent(3))];
    await output.write(batch, never());
    expect(dlq.writes.flat().map((m) => m.json())).toEqual([cloudEvent(2, { specversion: '9' })]);
    expect(sim.events.map((e) => e.id)).toEqual(['evt-1', 'evt-3']);
  });

  it('fails with the last output\'s error when every output fails', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 503 } }] });
    const dlq: CaptureState = { writes: [], failWith: { error: new Error('disk full'), times: 1 } };
    const output = await build([client(sim), { capture: {} }], dlq);
    const message = Message.fromJSON(cloudEvent(1));
    const failed = await writeOutcome(output, [message]);
    expect(failed).toMatchObject({ delivered: false, retry: [message], givenUp: [], reason: 'disk full' });
    // The engine replays it: now the dead-letter output works.
    await output.write(failed.retry, never());
    expect(dlq.writes).toHaveLength(1);
  });

  it('routes messages a mapping flagged to the dead-letter output through reject_errored', async () => {
    const sim = await simulator();
    const dlq: CaptureState = { writes: [] };
    const output = await build([{ reject_errored: client(sim) }, { capture: {} }], dlq);
    const flagged = Message.fromJSON({ raw: 'workload' }).withError(new Error('mapping failed: scrape_interval missing'));
    await output.write([Message.fromJSON(cloudEvent(1)), flagged], never());
    expect(sim.events.map((e) => e.id)).toEqual(['evt-1']);
    expect(dlq.writes.flat().map((m) => m.json())).toEqual([{ raw: 'workload' }]);
    expect(dlq.writes[0]?.[0]?.metadata.fallback_error).toBe('rejected due to failed processing: mapping failed: scrape_interval missing');
  });
});
