// The windowed machinery under leader election, seen from the input's contract with a scripted
// Leadership and the Prometheus simulator: a follower scrapes nothing; a leader that loses and
// regains leadership does not queue again a batch still on its way; the watermark is shared once
// delivered; a new leader continues from the shared watermark, not from its own ledger.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import prometheus from '../../src/components/inputs/prometheus.js';
import type { Input, ReadResult } from '../../src/engine/component.js';
import type { Leadership } from '../../src/engine/leadership.js';
import { startPrometheusSimulator, type PrometheusSimulator } from '../../src/prometheus/sim.js';
import { withDefaults } from '../support/defaults.js';
import { testSettings } from '../support/settings.js';
import { waitFor } from '../support/wait.js';

function scripted(identity: string, shared = new Map<string, string>()) {
  let leading = false;
  const listeners = new Set<(leading: boolean) => void>();
  const leadership: Leadership = {
    identity,
    isLeader: () => leading,
    whenLeading: (signal) =>
      leading
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const listener = (now: boolean): void => {
              if (!now) return;
              listeners.delete(listener);
              resolve(true);
            };
            listeners.add(listener);
            signal.addEventListener('abort', () => (listeners.delete(listener), resolve(false)), { once: true });
          }),
    onChange: (listener) => (listeners.add(listener), () => listeners.delete(listener)),
    readShared: async (key) => shared.get(key),
    writeShared: async (key, value) => (leading ? (shared.set(key, value), true) : false),
  };
  const set = (now: boolean): void => {
    leading = now;
    for (const listener of [...listeners]) listener(now);
  };
  return { leadership, set, shared };
}

const sims: PrometheusSimulator[] = [];
const inputs: Input[] = [];
afterEach(async () => {
  await Promise.all(inputs.splice(0).map((i) => i.close()));
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function input(sim: PrometheusSimulator, leadership: Leadership): Promise<Input> {
  const config = withDefaults(prometheus, { url: sim.url, schedule: '* * * * * *', queries: [{ query: { name: 'q', promql: 'q' } }], state: { path: 'state.db', max_backfill: '10m' } });
  const made = prometheus.create(config, testSettings({ path: 'input', baseDir: mkdtempSync(join(tmpdir(), 'sluice-lead-')), leadership }));
  inputs.push(made);
  await made.connect(new AbortController().signal);
  return made;
}

const read = async (i: Input): Promise<ReadResult> => (await i.read(AbortSignal.timeout(10_000)))!;
const start = (r: ReadResult) => Date.parse(r.batch[0]!.metadata['window_start'] as string);
const end = (r: ReadResult) => Date.parse(r.batch[0]!.metadata['window_end'] as string);


describe('windowed inputs under leader election', () => {
  it('scrape only while leading, share the watermark once delivered, and never queue a batch twice across terms', async () => {
    const sim = await startPrometheusSimulator();
    sims.push(sim);
    const replica = scripted('pod-a');
    const i = await input(sim, replica.leadership);
    // A follower: connected, and its schedule does not scrape.
    const ledAt = Date.now();
    replica.set(true);
    const first = await read(i);
    expect(sim.requests.filter((r) => r.query === 'q').every((r) => r.time >= ledAt - 1000)).toBe(true);
    // Leadership lost while `first` is on its way, then regained: `first` is not queued again.
    replica.set(false);
    replica.set(true);
    const second = await read(i);
    expect(start(second)).toBe(end(first));
    first.ack();
    second.ack();
    const watermark = await waitFor('the watermark shared', () => {
      const text = replica.shared.get('watermark.input');
      const value = text === undefined ? undefined : (JSON.parse(text) as { end: number; type: string });
      return value && value.end >= end(second) ? value : undefined;
    });
    expect(watermark.type).toBe('prometheus');
    const third = await read(i);
    expect(start(third)).toBe(end(second));
  });

  it('a new leader continues from the shared watermark, with the bounds of the windows it missed', async () => {
    const sim = await startPrometheusSimulator();
    sims.push(sim);
    const from = Math.floor(Date.now() / 1000) * 1000 - 4000;
    const replica = scripted('pod-b', new Map([['watermark.input', JSON.stringify({ end: from, type: 'prometheus' })]]));
    const i = await input(sim, replica.leadership);
    replica.set(true);
    const batches = [await read(i), await read(i), await read(i), await read(i)];
    expect(batches.map(start)).toEqual([from, from + 1000, from + 2000, from + 3000]);
    // Each evaluated at its own end (the simulator answers the evaluation time).
    for (const b of batches) expect((b.batch[0]!.json() as { value: number }).value).toBe(end(b) / 1000);
  });
});
