import { afterEach, describe, expect, it, vi } from 'vitest';
import schedule from '../../../src/components/inputs/schedule.js';
import type { Input, ReadResult } from '../../../src/engine/component.js';
import type { Leadership } from '../../../src/engine/leadership.js';
import { Message } from '../../../src/engine/message.js';
import { Metrics } from '../../../src/engine/metrics.js';
import { configProblems, withDefaults } from '../../support/defaults.js';
import { memoryComponents, memoryState } from '../../support/memory.js';
import { pipelineFromYaml } from '../../support/pipeline.js';
import { testSettings } from '../../support/settings.js';
import { captureLog, metricValue } from '../../runai/helpers.js';

const never = new AbortController().signal;

/** A child input whose reads the test scripts: each call takes the next step. */
function scriptedChild(steps: ((at: number) => Promise<ReadResult | null> | ReadResult | null)[]) {
  const state = { reads: [] as number[], acks: [] as (string | undefined)[], closed: false, connected: false };
  const child: Input = {
    connect: async () => {
      state.connected = true;
    },
    read: async () => {
      const step = steps.shift();
      state.reads.push(Date.now());
      if (!step) return new Promise<null>(() => {});
      return step(Date.now());
    },
    close: async () => {
      state.closed = true;
    },
  };
  return { child, state };
}

const batchOf = (n: number, ack?: (e?: Error) => void): ReadResult => ({
  batch: Array.from({ length: n }, (_, i) => Message.fromJSON({ i }, { source: 'child' })),
  ack: ack ?? (() => {}),
});

function build(child: Input, interval = '15s', leadership?: Leadership) {
  const metrics = new Metrics();
  const log = captureLog();
  const settings = testSettings({ metrics, logger: log.logger, path: 'input.schedule', build: { ...testSettings().build, input: () => child }, ...(leadership ? { leadership } : {}) });
  const input = schedule.create(withDefaults(schedule, { interval, input: { stdin: {} } }), settings);
  return { input, metrics, log };
}

const START = Date.parse('2025-01-01T00:00:07.300Z');

describe('schedule config', () => {
  it('takes OpenMeter fields: a child input and an interval, both required', () => {
    expect(configProblems(schedule, { input: { stdin: {} } }).join()).toBe('interval: field is required');
    expect(configProblems(schedule, { interval: '15s' }).join()).toBe('input: field is required');
    expect(configProblems(schedule, { interval: 'often', input: { stdin: {} } }).join()).toContain('interval: invalid duration "often"');
    expect(() => build(scriptedChild([]).child, '0s')).toThrow('interval must be positive, got 0s');
  });
});

describe('schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads the child once per tick, on the grid of the interval, stamping schedule_time and schedule_interval', async () => {
    vi.useFakeTimers({ now: START });
    const { child, state } = scriptedChild([() => batchOf(2), () => batchOf(1)]);
    const { input } = build(child);
    await input.connect(never);
    expect(state.connected).toBe(true);
    const first = input.read(never);
    await vi.advanceTimersByTimeAsync(7_699);
    expect(state.reads).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const a = (await first)!;
    expect(state.reads).toEqual([Date.parse('2025-01-01T00:00:15Z')]);
    expect(a.batch.map((m) => m.metadata)).toEqual([
      { source: 'child', schedule_time: '2025-01-01T00:00:15Z', schedule_interval: '15s' },
      { source: 'child', schedule_time: '2025-01-01T00:00:15Z', schedule_interval: '15s' },
    ]);
    const second = input.read(never);
    await vi.advanceTimersByTimeAsync(15_000);
    expect((await second)!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:30Z');
  });

  it('hands the child ack through, and skips empty reads (acking them)', async () => {
    vi.useFakeTimers({ now: START });
    const acks: string[] = [];
    const { child } = scriptedChild([() => batchOf(0, () => acks.push('empty')), () => batchOf(1, (e) => acks.push(e ? e.message : 'ok'))]);
    const { input } = build(child);
    const read = input.read(never);
    await vi.advanceTimersByTimeAsync(30_000);
    const result = (await read)!;
    expect(result.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:30Z');
    result.ack(new Error('output failed'));
    expect(acks).toEqual(['empty', 'output failed']);
  });

  it('tries a failed read again for the same tick, and gives the tick up (counted) once the next one is due', async () => {
    vi.useFakeTimers({ now: START });
    const fail = () => Promise.reject(new Error('API server unavailable'));
    const { child } = scriptedChild([fail, () => batchOf(1), fail, fail, () => batchOf(1)]);
    const { input, metrics, log } = build(child);
    // Rejections are caught as they happen: the fake clock settles them before the test looks.
    const first = input.read(never).catch((err: Error) => err);
    await vi.advanceTimersByTimeAsync(7_700);
    expect(await first).toMatchObject({ message: 'API server unavailable' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await input.read(never))!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:15Z');
    // The 30 s tick fails until 45 s is due: it is given up and 45 s is read instead.
    const failing = input.read(never).catch((err: Error) => err);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(await failing).toMatchObject({ message: 'API server unavailable' });
    await vi.advanceTimersByTimeAsync(14_000);
    await expect(input.read(never)).rejects.toThrow('API server unavailable');
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await input.read(never))!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:45Z');
    expect(await metricValue(metrics, 'schedule_ticks_missed_total', { path: 'input.schedule' })).toBe(1);
    expect(log.entries().find((l) => l['level'] === 40)).toMatchObject({ ticks: 1, from: '2025-01-01T00:00:30.000Z', msg: expect.stringMatching(/kept failing until the next tick/) });
  });

  it('after a read overruns ticks, catches up once at the latest tick and counts the ones skipped', async () => {
    vi.useFakeTimers({ now: START });
    const slow = () => new Promise<ReadResult>((resolve) => setTimeout(() => resolve(batchOf(1)), 37_000));
    const { child } = scriptedChild([slow, () => batchOf(1), () => batchOf(1)]);
    const { input, metrics } = build(child);
    const first = input.read(never);
    await vi.advanceTimersByTimeAsync(7_700 + 37_000); // the 15 s read ends at 52 s
    expect((await first)!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:15Z');
    expect((await input.read(never))!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:00:45Z');
    expect(await metricValue(metrics, 'schedule_ticks_missed_total', { path: 'input.schedule' })).toBe(1);
    const next = input.read(never);
    await vi.advanceTimersByTimeAsync(8_000);
    expect((await next)!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:01:00Z');
  });

  it('ends when the child ends, stops waiting when closed, and closes the child', async () => {
    vi.useFakeTimers({ now: START });
    const ended = build(scriptedChild([() => null]).child);
    const read = ended.input.read(never);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(await read).toBeNull();
    const { child, state } = scriptedChild([]);
    const { input } = build(child);
    const waiting = input.read(never);
    await input.close();
    expect(await waiting).toBeNull();
    expect(state.closed).toBe(true);
    expect(state.reads).toHaveLength(0);
  });

  it('builds its child from YAML, with the child processors, through the engine', async () => {
    const state = memoryState([[{ n: 1 }], [{ n: 2 }]]);
    const { pipeline } = pipelineFromYaml(
      `
input:
  schedule:
    interval: 1s
    input:
      memory: {}
      processors:
        - mapping: '$merge([$, { "seen": $meta("schedule_time") = null }])'
output:
  memory: {}
`,
      memoryComponents(state.input, state.output),
    );
    await pipeline.run(new AbortController().signal);
    const messages = state.output.writes.flat();
    expect(messages.map((m) => m.json())).toEqual([
      { n: 1, seen: true },
      { n: 2, seen: true },
    ]);
    const times = messages.map((m) => Date.parse(m.metadata['schedule_time'] as string));
    expect(times[1]! - times[0]!).toBe(1000);
    expect(messages.every((m) => m.metadata['schedule_interval'] === '1s')).toBe(true);
  });

  it('under leader election reads its child only while this replica leads; a follower lets ticks pass, uncounted', async () => {
    vi.useFakeTimers({ now: START });
    let leading = false;
    const leadership: Leadership = {
      identity: 'pod-a',
      isLeader: () => leading,
      whenLeading: async () => true,
      onChange: () => () => {},
      readShared: async () => undefined,
      writeShared: async () => false,
    };
    const { child, state } = scriptedChild([() => batchOf(1)]);
    const { input, metrics } = build(child, '15s', leadership);
    const read = input.read(never);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(state.reads).toEqual([]);
    leading = true;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(state.reads).toEqual([Date.parse('2025-01-01T00:01:15Z')]);
    expect((await read)!.batch[0]!.metadata['schedule_time']).toBe('2025-01-01T00:01:15Z');
    expect(await metricValue(metrics, 'schedule_ticks_missed_total')).toBe(0);
  });
});
