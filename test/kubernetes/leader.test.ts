import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/engine/metrics.js';
import type { Lease } from '../../src/kubernetes/api.js';
import { KubernetesError } from '../../src/kubernetes/client.js';
import { checkLeaderElectionSettings, LEADER_ELECTION_DEFAULTS, LeaderElector, type LeaderElectionSettings, type LeaseClient } from '../../src/kubernetes/leader.js';
import { startKubernetesSimulator, type KubernetesSimulator } from '../../src/kubernetes/sim.js';
import { simAccess, testClient } from './support.js';
import { waitUntil } from '../support/wait.js';

// Short timings: a 1 s lease, renewed every 150 ms, given up 600 ms after the last renewal sent.
const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 150, healthCheckTimeoutMs: 0 };

let sim: KubernetesSimulator;
const electors: LeaderElector[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
  await Promise.all(closers.splice(0).map((c) => c()));
  await sim?.close();
});

/** A client whose calls fail while `partitioned` is set: this replica cut off from the API server. */
function partitionable(client: LeaseClient) {
  const state = { partitioned: false };
  const guard = <T>(call: () => Promise<T>): Promise<T> => (state.partitioned ? Promise.reject(new KubernetesError('transport', 'connect ECONNREFUSED (partitioned)')) : call());
  const wrapped: LeaseClient = {
    getLease: (ns, name, signal) => guard(() => client.getLease(ns, name, signal)),
    createLease: (lease, signal) => guard(() => client.createLease(lease, signal)),
    updateLease: (lease, signal) => guard(() => client.updateLease(lease, signal)),
  };
  return { client: wrapped, state };
}

interface Candidate {
  readonly elector: LeaderElector;
  readonly events: { at: number; event: 'started' | 'stopped' | 'leader'; detail?: string }[];
  readonly network: { partitioned: boolean };
  readonly metrics: Metrics;
}

function candidate(identity: string, settings: Partial<LeaderElectionSettings> = {}, hooks: { onStartedLeading?: () => void; now?: () => number } = {}): Candidate {
  const made = testClient(simAccess(sim), { retries: 0 });
  closers.push(() => made.client.close());
  const { client, state } = partitionable(made.client);
  const events: Candidate['events'] = [];
  const metrics = new Metrics();
  const elector = new LeaderElector(
    { namespace: 'sluice', name: 'collector', identity, ...TIMING, ...settings },
    {
      client,
      logger: pino({ level: 'silent' }),
      metrics,
      ...(hooks.now ? { now: hooks.now } : {}),
      onStartedLeading: () => {
        events.push({ at: Date.now(), event: 'started' });
        hooks.onStartedLeading?.();
      },
      onStoppedLeading: (reason) => events.push({ at: Date.now(), event: 'stopped', detail: reason }),
      onNewLeader: (leader) => events.push({ at: Date.now(), event: 'leader', detail: leader }),
    },
  );
  electors.push(elector);
  return { elector, events, network: state, metrics };
}

const lease = (): Lease => sim.objects('lease', 'sluice')[0] as Lease;

describe('LeaderElector against the simulator', () => {
  it('acquires the Lease, then renews it with conditional updates', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    const a = candidate('pod-a');
    a.elector.start();
    await waitUntil('pod-a to lead', () => a.elector.isLeader());
    expect(lease().spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    const acquired = lease().spec.acquireTime;
    const renewals = new Set<string>();
    await waitUntil('three renewals', () => (renewals.add(lease().spec.renewTime!), renewals.size >= 4));
    expect(a.elector.isLeader()).toBe(true);
    expect(lease().spec.acquireTime).toBe(acquired);
    expect(sim.requests.filter((r) => r.method === 'PUT').every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect((await a.metrics.registry.getSingleMetric('leader_election_master_status')!.get()).values).toMatchObject([{ labels: { name: 'collector' }, value: 1 }]);
  });

  it('lets one of two candidates lead; the other follows and learns who leads', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    const a = candidate('pod-a');
    const b = candidate('pod-b');
    a.elector.start();
    b.elector.start();
    await waitUntil('a leader', () => a.elector.isLeader() || b.elector.isLeader());
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    const firstRenewal = leader.elector.renewedAt;
    // Polled often: each poll also checks that the two never lead at once.
    await waitUntil(
      'several renewals',
      () => {
        expect(a.elector.isLeader() && b.elector.isLeader()).toBe(false);
        return leader.elector.renewedAt >= firstRenewal + 5 * TIMING.retryPeriodMs;
      },
      30_000,
      5,
    );
    expect(follower.elector.isLeader()).toBe(false);
    expect(follower.elector.leader).toBe(leader.elector.settings.identity);
    expect(follower.events.filter((e) => e.event === 'started')).toEqual([]);
  });

  it('a leader cut off from the API server stops leading before the other can take the lease, and follows when it is back', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    let oldLeaderWhenTaken: { leading: boolean; renewedAt: number; stopped: boolean } | undefined;
    const a = candidate('pod-a');
    a.elector.start();
    await waitUntil('pod-a to lead', () => a.elector.isLeader());
    const b = candidate('pod-b', {}, {
      onStartedLeading: () => {
        oldLeaderWhenTaken = { leading: a.elector.isLeader(), renewedAt: a.elector.renewedAt, stopped: a.events.some((e) => e.event === 'stopped') };
      },
    });
    b.elector.start();
    await waitUntil('pod-b to see pod-a lead', () => b.elector.leader === 'pod-a');
    a.network.partitioned = true;
    await waitUntil('pod-b to take over', () => b.elector.isLeader());
    const stopped = a.events.find((e) => e.event === 'stopped')!;
    const started = b.events.find((e) => e.event === 'started')!;
    expect(stopped.detail).toMatch(/could not renew the lease within the renew deadline \(600ms\)/);
    expect(oldLeaderWhenTaken).toEqual({ leading: false, renewedAt: expect.any(Number), stopped: true });
    expect(stopped.at).toBeLessThanOrEqual(started.at);
    // pod-b waited for the lease to expire: a full lease duration after pod-a's last renewal.
    expect(started.at - oldLeaderWhenTaken!.renewedAt).toBeGreaterThanOrEqual(TIMING.leaseDurationMs);
    expect(lease().spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });

    a.network.partitioned = false;
    const since = b.elector.renewedAt;
    await waitUntil('pod-a to follow pod-b', () => a.elector.leader === 'pod-b' && b.elector.renewedAt >= since + 5 * TIMING.retryPeriodMs);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events.filter((e) => e.event === 'started')).toHaveLength(1);
  });

  it('steps down on stop, releasing the Lease for the other at once', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    const a = candidate('pod-a');
    a.elector.start();
    await waitUntil('pod-a to lead', () => a.elector.isLeader());
    const b = candidate('pod-b');
    b.elector.start();
    await waitUntil('pod-b to see pod-a lead', () => b.elector.leader === 'pod-a');
    await a.elector.stop();
    expect(a.elector.isLeader()).toBe(false);
    expect(a.events.at(-1)).toMatchObject({ event: 'stopped', detail: 'stopped' });
    // Its last write emptied the holder (pod-b may have taken the lease since).
    expect(a.elector.leader).toBe('');
    await waitUntil('pod-b to take the released lease', () => b.elector.isLeader());
    expect(lease().spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
  });

  it('takes over a lease whose holder died without releasing it once it expires', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    const a = candidate('pod-a');
    a.elector.start();
    await waitUntil('pod-a to lead', () => a.elector.isLeader());
    const b = candidate('pod-b');
    b.elector.start();
    await waitUntil('pod-b to see pod-a lead', () => b.elector.leader === 'pod-a');
    await a.elector.stop({ release: false });
    expect(lease().spec.holderIdentity).toBe('pod-a');
    await waitUntil('pod-b to take the expired lease', () => b.elector.isLeader());
    const started = b.events.find((e) => e.event === 'started')!;
    expect(started.at - a.elector.renewedAt).toBeGreaterThanOrEqual(TIMING.leaseDurationMs);
    expect(lease().spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
  });

  it('reports a leader whose record has not changed for lease duration + timeout as unhealthy', async () => {
    sim = await startKubernetesSimulator({ compactEveryMs: 0 });
    let skew = 0;
    const a = candidate('pod-a', { healthCheckTimeoutMs: 500 }, { now: () => Date.now() + skew });
    a.elector.start();
    await waitUntil('pod-a to lead', () => a.elector.isLeader());
    expect(a.elector.check()).toBeUndefined();
    a.network.partitioned = true;
    skew = TIMING.leaseDurationMs + 500 + 50;
    // Its own clock says the deadline passed: it no longer leads, whatever its timers do.
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.check()?.message).toBe('failed election to renew leadership on lease sluice/collector');
  });
});

describe('leader election settings', () => {
  const base = { namespace: 'sluice', name: 'collector', identity: 'pod-a', ...LEADER_ELECTION_DEFAULTS };

  it("has OpenMeter's defaults, and refuses settings that could let two replicas lead", () => {
    expect(LEADER_ELECTION_DEFAULTS).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, healthCheckTimeoutMs: 0 });
    expect(() => checkLeaderElectionSettings(base)).not.toThrow();
    const cases: [Partial<LeaderElectionSettings>, RegExp][] = [
      [{ namespace: '' }, /lease lock namespace is required/],
      [{ name: '' }, /lease lock name is required/],
      [{ identity: '' }, /identity must not be empty/],
      [{ renewDeadlineMs: 15_000 }, /lease duration \(15000ms as the Lease stores it\) must be greater than the renew deadline/],
      [{ leaseDurationMs: 10_500 }, /lease duration \(10000ms as the Lease stores it\) must be greater than the renew deadline \(10000ms\)/],
      [{ renewDeadlineMs: 2_400 }, /renew deadline \(2400ms\) must be greater than retry period x 1.2 \(2400ms\)/],
      [{ leaseDurationMs: 500, renewDeadlineMs: 400, retryPeriodMs: 100 }, /at least 1s/],
    ];
    for (const [change, message] of cases) expect(() => checkLeaderElectionSettings({ ...base, ...change }), JSON.stringify(change)).toThrow(message);
  });
});
