import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import dropOn from '../../../src/components/outputs/drop_on.js';
import httpClient from '../../../src/components/outputs/http_client.js';
import type { Output, Settings } from '../../../src/engine/component.js';
import { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { type OpenMeterSimulator } from '../../../src/openmeter/sim.js';
import { buildOutput, simulatorsClosedAfterEach, writeOutcome } from '../../support/outputs.js';

const cloudEvent = (i: number, extra: Record<string, unknown> = {}) => ({ id: `evt-${i}`, specversion: '1.0', type: 'workload', source: 'run_ai', subject: `c-${i % 3}`, data: { gpu: i }, ...extra });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const never = () => new AbortController().signal;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

const simulator = simulatorsClosedAfterEach();

/**
 * drop_on around an http_client pointed at `sim`, as in the official OpenMeter config but
 * without the client's own `drop_on: [400]` (which fails a 400 whole, as in Connect, see the
 * last test): a 400 is bisected, and the wrapper drops only the invalid events.
 */
async function dropOnClient(sim: OpenMeterSimulator, dropOnConfig: Record<string, unknown>, clientConfig: Record<string, unknown> = {}, overrides: Partial<Settings> = {}): Promise<Output> {
  const output = buildOutput(
    dropOn,
    { ...dropOnConfig, output: { http_client: { url: sim.ingestUrl, headers: { 'Content-Type': 'application/json' }, retry_period: '1ms', ...clientConfig } } },
    [httpClient],
    overrides,
  );
  closers.push(() => output.close());
  await output.connect(never());
  return output;
}

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('drop_on', () => {
  it('drops only the events OpenMeter rejects as Bad Request, delivers their neighbours, and logs the count', async () => {
    const sim = await simulator();
    const metrics = new Metrics();
    const { logger, lines } = capturedLogger();
    const output = await dropOnClient(sim, { error_patterns: ['Bad Request'] }, {}, { metrics, logger, label: 'openmeter', path: 'output.drop_on' });
    const events = range(100).map((i) => cloudEvent(i, i === 42 ? { subject: '' } : {}));
    const message = Message.fromJSON(events);
    // The drop is final (never replayed) and reported, so the input can record what was not billed.
    const outcome = await writeOutcome(output, [message]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.givenUp).toHaveLength(1);
    expect(outcome.givenUp[0]).toMatchObject({ kind: 'dropped', reason: expect.stringMatching(/^dropped by drop_on: .*400 Bad Request/) });
    expect(sim.events).toHaveLength(99);
    expect(sim.events.some((e) => e.id === 'evt-42')).toBe(false);
    const dropped = (await metrics.registry.getSingleMetric('output_dropped')!.get()).values;
    expect(dropped).toEqual([{ labels: { label: 'openmeter', path: 'output' }, value: 1 }]);
    const line = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('Dropped'));
    expect(line).toMatchObject({ msg: 'Dropped 1 message the output failed to deliver.', dropped: 1, pattern: 'Bad Request', level: 40 });
    expect(String(line?.err)).toMatch(/\(400\): 400 Bad Request, Error: .*subject/);
  });

  it('does not drop failures that do not match: they go back to the engine for replay', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await dropOnClient(sim, { error_patterns: ['Bad Request'] }, { retries: 1 });
    const failed = await writeOutcome(output, [Message.fromJSON([cloudEvent(1)])]);
    expect(failed).toMatchObject({ delivered: false, givenUp: [], reason: expect.stringMatching(/\(500\): 500 Internal Server Error/) });
    expect(failed.retry).toHaveLength(1);

    // A batch whose invalid event was isolated but whose other half could not be delivered is not dropped either.
    const flaky = await simulator({ decide: ({ seq }) => (seq >= 2 ? { type: 'status', status: 503 } : undefined) });
    const partly = await dropOnClient(flaky, { error_patterns: ['Bad Request'] }, { retries: 0 });
    const rest = await writeOutcome(partly, [Message.fromJSON(range(8).map((i) => cloudEvent(i, i === 0 ? { subject: '' } : {})))]);
    expect(rest).toMatchObject({ delivered: false, givenUp: [], reason: expect.stringMatching(/not delivered: .*\(503\)/) });
  });

  it("with the client's own drop_on: [400] (the official config), a 400 drops the whole batch at once, as in Connect", async () => {
    const sim = await simulator();
    const output = await dropOnClient(sim, { error_patterns: ['Bad Request'] }, { drop_on: [400] });
    const events = range(100).map((i) => cloudEvent(i, i === 42 ? { subject: '' } : {}));
    const outcome = await writeOutcome(output, [Message.fromJSON(events)]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.givenUp).toHaveLength(1);
    expect(sim.requests).toHaveLength(1);
    expect(sim.events).toHaveLength(0);
  });

  it('drops every failure with error: true', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'status', status: 500 } }] });
    const output = await dropOnClient(sim, { error: true }, { retries: 0 });
    const outcome = await writeOutcome(output, [Message.fromJSON([cloudEvent(1)])]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.givenUp.map((g) => g.kind)).toEqual(['dropped']);
    expect(sim.requests).toHaveLength(1);
  });

  it('gives up on a child that does not answer within back_pressure, failing or dropping per `error`', async () => {
    const sim = await simulator({ rates: [{ rate: 1, fault: { type: 'timeout', accept: false } }] });
    const failing = await dropOnClient(sim, { back_pressure: '100ms' }, { timeout: '10s' });
    const started = Date.now();
    const failed = await writeOutcome(failing, [Message.fromJSON([cloudEvent(1)])]);
    expect(failed).toMatchObject({ delivered: false, givenUp: [], reason: 'experienced back pressure beyond: 100ms' });
    expect(Date.now() - started).toBeLessThan(1000);

    const dropping = await dropOnClient(sim, { error: true, back_pressure: '100ms' }, { timeout: '10s', max_in_flight: 1 });
    // The first write holds the child's only slot; the second is not accepted in time; the third is dropped at once.
    const dropped = async (i: number) => (await writeOutcome(dropping, [Message.fromJSON([cloudEvent(i)])])).givenUp.map((g) => g.kind);
    expect(await dropped(2)).toEqual(['dropped']);
    expect(await dropped(3)).toEqual(['dropped']);
    const third = Date.now();
    expect(await dropped(4)).toEqual(['dropped']);
    expect(Date.now() - third).toBeLessThan(50);
  });

  it('rejects error_patterns that cannot apply or compile', () => {
    const build = (config: Record<string, unknown>) => () => buildOutput(dropOn, { ...config, output: { http_client: { url: 'http://127.0.0.1:1' } } }, [httpClient]);
    expect(build({ error: true, error_patterns: ['x'] })).toThrow(/^error_patterns: has no effect when error is true/);
    expect(build({ error_patterns: ['ok', '('] })).toThrow(/^error_patterns\[1\]: /);
  });
});
