// Leadership on a Lease (src/kubernetes/leadership.ts): shared values are Lease annotations that
// only the leader can write. A replica that lost the Lease while it still believed it led (its
// clock stopped, as in a paused process) cannot write, whether it read the Lease after the
// takeover or just before it.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/kubernetes/api.js';
import type { LeaseClient } from '../../src/kubernetes/leader.js';
import { annotationKey, LeaseLeadership } from '../../src/kubernetes/leadership.js';
import { startKubernetesSimulator, type KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { never, simAccess, testClient } from './support.js';
import { waitUntil } from '../support/wait.js';

const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 150, healthCheckTimeoutMs: 0 };
let sim: KubernetesSimulator | undefined;
const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
  await sim?.close();
});

/**
 * A LeaseLeadership on the simulator. With `paused`, the elector's own calls (renewals) hang until
 * they time out, as in a stopped process, while the test's calls (signal `never`) go through; a
 * stale Lease can be handed to the next read.
 */
function replica(identity: string, now?: () => number) {
  const { client: raw } = testClient(simAccess(sim!), { retries: 0 });
  const stale: { lease?: Lease; paused: boolean; conflicts: number } = { paused: false, conflicts: 0 };
  const hang = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('paused')), { once: true }));
  const client: LeaseClient = {
    getLease: async (ns, name, signal) => {
      if (stale.paused && signal !== never) return hang(signal);
      const old = stale.lease;
      stale.lease = undefined;
      return old ?? raw.getLease(ns, name, signal);
    },
    createLease: (lease, signal) => raw.createLease(lease, signal),
    updateLease: async (lease, signal) => {
      if (stale.paused && signal !== never) return hang(signal);
      try {
        return await raw.updateLease(lease, signal);
      } catch (err) {
        stale.conflicts++;
        throw err;
      }
    },
  };
  const leadership = new LeaseLeadership({ namespace: 'sluice', name: 'collector', identity, ...TIMING }, { client, logger: pino({ level: 'silent' }), ...(now ? { now } : {}) });
  stops.push(async () => {
    await leadership.stop();
    await raw.close();
  });
  return { leadership, raw, stale };
}

const lease = (): Lease => sim!.objects('lease', 'sluice')[0] as Lease;

describe('Lease leadership', () => {
  it('only the leader writes shared values; every replica reads them; a stale leader is refused', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    let frozen: number | undefined;
    const a = replica('pod-a', () => frozen ?? Date.now());
    a.leadership.start();
    await waitUntil('pod-a to lead', () => a.leadership.isLeader());
    expect(await a.leadership.writeShared('watermark.input', '100', never)).toBe(true);
    expect(lease().metadata.annotations?.[annotationKey('watermark.input')]).toBe('100');

    const b = replica('pod-b');
    expect(await b.leadership.readShared('watermark.input', never)).toBe('100');
    expect(await b.leadership.writeShared('watermark.input', '50', never)).toBe(false);

    // pod-a is paused: its clock stops (it still believes it leads) and its renewals never
    // arrive. pod-b takes the Lease once it expires.
    const beforeTakeover = await a.raw.getLease('sluice', 'collector', never);
    frozen = Date.now();
    a.stale.paused = true;
    b.leadership.start();
    await waitUntil('pod-b to take over', () => b.leadership.isLeader());
    expect(a.leadership.isLeader()).toBe(true);
    expect(await b.leadership.writeShared('watermark.input', '200', never)).toBe(true);

    // Reading the Lease now, pod-a sees it is not the holder.
    expect(await a.leadership.writeShared('watermark.input', '150', never)).toBe(false);
    // Having read it just before the takeover, its update is conditional on a resourceVersion that no longer is.
    a.stale.lease = beforeTakeover;
    expect(a.leadership.isLeader()).toBe(true);
    expect(await a.leadership.writeShared('watermark.input', '150', never)).toBe(false);
    expect(a.stale.conflicts).toBe(1);
    expect(lease().metadata.annotations?.[annotationKey('watermark.input')]).toBe('200');
    expect(lease().spec.holderIdentity).toBe('pod-b');
  });

  it('names annotations as Kubernetes accepts them', () => {
    expect(annotationKey('watermark.input.prometheus')).toBe('sluice.dev/watermark.input.prometheus');
    expect(annotationKey('watermark.input.broker.inputs[0].run_ai')).toBe('sluice.dev/watermark.input.broker.inputs-0-.run_ai');
    expect(annotationKey('x'.repeat(80))).toHaveLength('sluice.dev/'.length + 63);
  });
});
