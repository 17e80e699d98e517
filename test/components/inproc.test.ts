// inproc output -> inproc input: streams of one process connected by name, acks end to end.
import { describe, expect, it } from 'vitest';
import inprocInput from '../../src/components/inputs/inproc.js';
import inprocOutput from '../../src/components/outputs/inproc.js';
import { DeliveryError, Undeliverable } from '../../src/engine/delivery.js';
import { Message } from '../../src/engine/message.js';
import { memoryComponents, memoryState } from '../support/memory.js';
import { pipelineFromYaml } from '../support/pipeline.js';
import { testSettings } from '../support/settings.js';

let pipes = 0;
const uniqueName = () => `test_pipe_${process.pid}_${++pipes}`;

describe('inproc', () => {
  it('carries every batch from one stream to another; a write is acked only once the reading stream delivered it', async () => {
    const name = uniqueName();
    const batches = Array.from({ length: 20 }, (_, i) => [{ n: i * 2 }, { n: i * 2 + 1 }]);
    const upstream = memoryState(batches);
    const downstream = memoryState([]);
    downstream.output.delayMs = 5;
    // When each upstream read is acked, how many messages the downstream output had written.
    const deliveredAtAck: number[] = [];
    upstream.input.acks = new Proxy([] as (string | undefined)[], {
      set(target, key, value) {
        if (typeof key === 'string' && /^\d+$/.test(key)) deliveredAtAck[Number(key)] = downstream.output.writes.flat().length;
        return Reflect.set(target, key, value);
      },
    });
    const a = pipelineFromYaml(`input: { memory: {} }\noutput: { inproc: ${name} }`, memoryComponents(upstream.input, upstream.output));
    const b = pipelineFromYaml(`input: { inproc: ${name} }\npipeline: { threads: 1 }\noutput: { memory: {} }`, memoryComponents(downstream.input, downstream.output));
    const stopB = new AbortController();
    const runningB = b.pipeline.run(stopB.signal);
    await a.pipeline.run(new AbortController().signal);
    expect([...upstream.input.acks]).toEqual(batches.map(() => 'ok'));
    // Exactly once, in order (one reader, writes taken in order).
    expect(downstream.output.writes.flat().map((m) => (m.json() as { n: number }).n)).toEqual(batches.flat().map((m) => m.n));
    // Back-pressure: no ack before the downstream output had the batch.
    // Back-pressure: read i (messages 2i, 2i+1, written downstream in order) is acked only after the
    // downstream output wrote them.
    expect(deliveredAtAck).toHaveLength(batches.length);
    deliveredAtAck.forEach((count, i) => expect(count, `read ${i}`).toBeGreaterThanOrEqual(2 * (i + 1)));
    stopB.abort();
    await runningB;
  });

  it('a write waits for a reader; what the reader gives up is given up, other failures are to send again', async () => {
    const name = uniqueName();
    const output = inprocOutput.create(name, testSettings());
    const input = inprocInput.create(name, testSettings());
    const batch = [Message.fromJSON(1), Message.fromJSON(2), Message.fromJSON(3)];
    const never = new AbortController().signal;

    let settled = false;
    const write = output.write(batch, never).finally(() => (settled = true));
    write.catch(() => {});
    const read = await input.read(never);
    expect(read?.batch).toEqual(batch);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    read!.ack(new Undeliverable([{ index: 1, kind: 'rejected', reason: 'bad event' }]));
    const err = await write.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).givenUp).toEqual([{ message: batch[1], kind: 'rejected', reason: 'bad event' }]);
    expect((err as DeliveryError).undelivered).toEqual([]);

    const again = output.write(batch, never);
    again.catch(() => {});
    (await input.read(never))!.ack(new Error('shutting down'));
    await expect(again).rejects.toThrow('shutting down');
  });

  it('a write aborted before any reader took it is withdrawn; a read aborted with nothing to read ends with null', async () => {
    const name = uniqueName();
    const output = inprocOutput.create(name, testSettings());
    const input = inprocInput.create(name, testSettings());
    const abort = new AbortController();
    const write = output.write([Message.fromJSON('x')], abort.signal);
    abort.abort();
    await expect(write).rejects.toThrow(/closed before the batch was delivered/);
    const stop = new AbortController();
    const read = input.read(stop.signal);
    stop.abort();
    expect(await read).toBeNull();
  });

  it('a reader told to stop still takes what writers hand over until every batch written is acked (streams stop together)', async () => {
    const name = uniqueName();
    const output = inprocOutput.create(name, testSettings());
    const input = inprocInput.create(name, testSettings());
    const never = new AbortController().signal;
    const stop = new AbortController();
    const first = output.write([Message.fromJSON(1)], never);
    const r1 = await input.read(stop.signal);
    const next = input.read(stop.signal);
    stop.abort();
    // The first batch is not acked yet: a batch written now (upstream draining) is still read.
    const second = output.write([Message.fromJSON(2)], never);
    const r2 = await next;
    expect(r2?.batch.map((m) => m.json())).toEqual([2]);
    const last = input.read(stop.signal);
    let ended = false;
    void last.then(() => (ended = true));
    r1!.ack();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    // Once every batch written is acked, the stopped reader ends.
    r2!.ack();
    await second;
    expect(await last).toBeNull();
  });
});
