// input.schedule: reads one batch from a child input every `interval` and stamps its messages with
// `schedule_time` (the tick, RFC 3339 UTC) and `schedule_interval` (Go duration text), as OpenMeter's
// collector's `schedule` input does; its Kubernetes preset bills `schedule_interval` of usage per
// pod per tick.
//
// Where it differs from the reference, on purpose:
// - Ticks sit on a fixed grid, the multiples of `interval` since the Unix epoch, instead of a timer
//   started at launch: every replica and every restart stamps the same `schedule_time` on the
//   same tick, which is what a stable event id needs.
// - It sleeps until the tick (the reference polls its ticker in a busy loop).
// - A failed child read is tried again for the same tick (the engine backs off between attempts)
//   until it succeeds or the next tick is due. A tick given up that way, or skipped because a read
//   overran it, is logged and counted in `schedule_ticks_missed_total`; it is never silently lost.
//   After an overrun, one read catches up, at the latest tick.
// - A read that lists nothing emits nothing.
// - Under leader election only the leader reads its child; a follower lets the ticks pass.

import type { Counter } from 'prom-client';
import { durationSchema, formatDuration, parseDuration } from '../../config/duration.js';
import { defineInput, type Input, type ReadResult, type Settings } from '../../engine/component.js';
import { sleep } from '../../engine/sleep.js';

interface ScheduleConfig {
  input: unknown;
  interval: string;
}

export default defineInput<ScheduleConfig>({
  name: 'schedule',
  summary: 'Reads one batch from a child input every interval, stamping schedule_time and schedule_interval metadata.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['input', 'interval'],
    properties: {
      input: { 'x-component': 'input', description: 'The child input to consume from.' },
      interval: durationSchema('Interval at which the child input is consumed; ticks fall on multiples of it since the Unix epoch.'),
    },
  },
  example: { interval: '15s', input: { generate: { mapping: '{ "hello": "world" }' } } },
  create(config, settings) {
    let intervalNs: number;
    try {
      intervalNs = parseDuration(config.interval);
    } catch (err) {
      throw Object.assign(err as Error, { field: 'interval' });
    }
    if (intervalNs <= 0) throw Object.assign(new Error(`interval must be positive, got ${config.interval}`), { field: 'interval' });
    const child = settings.build.input(config.input, `${settings.path}.input`);
    return new ScheduleInput(child, intervalNs, settings);
  },
});

class ScheduleInput implements Input {
  #child: Input;
  #intervalMs: number;
  #intervalText: string;
  #settings: Settings;
  #stop = new AbortController();
  /** The last tick read (or given up), epoch ms. */
  #last: number | undefined;
  /** The tick whose read failed and is being tried again. */
  #pending: number | undefined;
  #missed: Counter;

  constructor(child: Input, intervalNs: number, settings: Settings) {
    this.#child = child;
    this.#intervalMs = intervalNs / 1e6;
    this.#intervalText = formatDuration(intervalNs);
    this.#settings = settings;
    this.#missed = settings.metrics.counter('schedule_ticks_missed_total', 'Ticks of a schedule input whose child was not read: a read overran them or failed until the next tick.');
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.#child.connect(signal);
  }

  async read(signal: AbortSignal): Promise<ReadResult | null> {
    for (;;) {
      if (this.#pending !== undefined && Date.now() >= this.#pending + this.#intervalMs) {
        this.#miss(1, this.#pending, 'its read kept failing until the next tick');
        this.#last = this.#pending;
        this.#pending = undefined;
      }
      if (this.#pending === undefined) {
        const tick = await this.#nextTick(signal);
        if (tick === undefined) return null;
        if (this.#settings.leadership && !this.#settings.leadership.isLeader()) {
          // A follower stays idle: the leader reads this tick.
          this.#last = tick;
          continue;
        }
        this.#pending = tick;
      }
      const read = await this.#child.read(signal);
      if (read === null) return null;
      const tick = this.#pending;
      this.#last = tick;
      this.#pending = undefined;
      if (read.batch.length === 0) {
        read.ack();
        continue;
      }
      const stamp = { schedule_time: new Date(tick).toISOString().replace(/\.\d{3}Z$/, 'Z'), schedule_interval: this.#intervalText };
      return { batch: read.batch.map((m) => m.withMetadata({ ...m.metadata, ...stamp })), ack: read.ack };
    }
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#child.close();
  }

  /** Waits for the tick after the last one; when it has passed already, the latest tick now, counting those skipped. */
  async #nextTick(signal: AbortSignal): Promise<number | undefined> {
    const interval = this.#intervalMs;
    const now = Date.now();
    const next = this.#last === undefined ? Math.floor(now / interval) * interval + interval : this.#last + interval;
    if (next <= now) {
      const latest = Math.floor(now / interval) * interval;
      const skipped = Math.round((latest - next) / interval);
      if (skipped > 0) this.#miss(skipped, next, 'the previous read overran them');
      return latest;
    }
    await sleep(next - now, signal, this.#stop.signal);
    return signal.aborted || this.#stop.signal.aborted ? undefined : next;
  }

  #miss(count: number, first: number, why: string): void {
    this.#missed.labels(this.#settings.label, this.#settings.path).inc(count);
    this.#settings.logger.warn(
      { ticks: count, from: new Date(first).toISOString(), interval: this.#intervalText },
      `Schedule ticks missed: ${why}; their reads did not happen`,
    );
  }
}
