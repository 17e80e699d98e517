// The `openmeter` output (OpenMeter's collector output) against the OpenMeter simulator.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import openmeter from '../../../src/components/outputs/openmeter.js';
import { Message } from '../../../src/engine/message.js';
import { Secrets } from '../../../src/engine/secrets.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { buildOutput, simulatorsClosedAfterEach, writeOutcome } from '../../support/outputs.js';
import { pipelineFromYaml } from '../../support/pipeline.js';

const startSimulator = simulatorsClosedAfterEach();

const event = (id: string, extra: Record<string, unknown> = {}) =>
  Message.fromJSON({ specversion: '1.0', id, source: 'test', type: 'request', subject: 'customer-1', data: { tokens: 1 }, ...extra });

describe('openmeter output', () => {
  it('posts each batch as one CloudEvents batch to <url>/api/v1/events with the bearer token, never logging it', async () => {
    const sim = await startSimulator({ token: 'om-secret-token' });
    let logged = '';
    const secrets = new Secrets();
    const output = buildOutput(openmeter, { url: `${sim.url}/`, token: 'om-secret-token', retries: 0 }, [], {
      secrets,
      logger: pino({ level: 'debug' }, { write: (line: string) => (logged += line) }),
    });
    expect((output as { maxInFlight?: number }).maxInFlight).toBe(10);
    await output.connect(new AbortController().signal);
    expect(await writeOutcome(output, [event('a'), event('b'), event('c')])).toMatchObject({ delivered: true });
    expect(sim.requests).toHaveLength(1);
    const [request] = sim.requests;
    expect(request!.path).toBe('/api/v1/events');
    expect(request!.headers['content-type']).toBe('application/cloudevents-batch+json');
    expect(request!.headers.authorization).toBe('Bearer om-secret-token');
    expect(sim.events.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(secrets.scrub('x om-secret-token y')).not.toContain('om-secret-token');
    expect(logged).not.toContain('om-secret-token');
    await output.close();
  });

  it('re-sends the very same bytes after a failure, and its error carries OpenMeter\'s problem detail', async () => {
    const sim = await startSimulator({ script: [{ type: 'status', status: 503 }, { type: 'status', status: 503 }] });
    const output = buildOutput(openmeter, { url: sim.url, retries: 0, retry_period: '1ms' }, []);
    const batch = [event('x1'), event('x2')];
    const first = await writeOutcome(output, batch);
    expect(first.delivered).toBe(false);
    expect(first.retry).toEqual(batch);
    expect(await writeOutcome(output, batch)).toMatchObject({ delivered: false });
    expect(await writeOutcome(output, batch)).toMatchObject({ delivered: true });
    expect(new Set(sim.requests.map((r) => r.body)).size).toBe(1);
    expect(sim.events.map((e) => e.id)).toEqual(['x1', 'x2']);

    const invalid = await writeOutcome(output, [event('ok-1'), event('bad', { specversion: '9.9' }), event('ok-2')]);
    // The invalid event is isolated and given up, with OpenMeter's words; its neighbours are delivered.
    expect(invalid.retry).toEqual([]);
    expect(invalid.givenUp).toHaveLength(1);
    expect(invalid.givenUp[0]!.reason).toMatch(/\(400\).*invalid event: specversion: unknown value: 9\.9/);
    expect(sim.events.map((e) => e.id)).toEqual(['x1', 'x2', 'ok-1', 'ok-2']);
    await output.close();
  });

  it('gives up a message that is not JSON and sends the rest', async () => {
    const sim = await startSimulator();
    const output = buildOutput(openmeter, { url: sim.url }, []);
    const notJson = Message.fromBytes('not json');
    const outcome = await writeOutcome(output, [event('j1'), notJson]);
    expect(outcome.retry).toEqual([]);
    expect(outcome.givenUp.map((g) => g.message)).toEqual([notJson]);
    expect(outcome.givenUp[0]!.reason).toMatch(/failed to convert message to structured data/);
    expect(sim.events.map((e) => e.id)).toEqual(['j1']);
    await output.close();
  });

  it('batches through the engine as configured (batching.count), one request per batch', async () => {
    const sim = await startSimulator({ token: 'tok-123456' });
    const memory = memoryState([Array.from({ length: 5 }, (_, i) => ({ specversion: '1.0', id: `b${i}`, source: 'yaml', type: 't', subject: 's' }))]);
    const { pipeline } = pipelineFromYaml(
      `
input: { memory: {} }
output: { openmeter: { url: '${sim.url}', token: tok-123456, batching: { count: 5 } } }
`,
      memoryComponents(memory.input, memory.output).filter((c) => c.kind === 'input'),
    );
    await pipeline.run(new AbortController().signal);
    expect(sim.requests).toHaveLength(1);
    expect(sim.events.map((e) => e.id)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  it('refuses a url that is not http(s) when built', () => {
    expect(() => buildOutput(openmeter, { url: 'ftp://x' }, [])).toThrow(/unsupported scheme/);
  });
});
