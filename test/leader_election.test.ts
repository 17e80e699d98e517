// `leader_election` settings: OpenMeter's flags, env vars and defaults over the config section.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { LeaderElectionConfig } from '../src/config/root.js';
import { resolveLeaderElection } from '../src/leader_election.js';

const section = (overrides: Partial<LeaderElectionConfig> = {}): LeaderElectionConfig => ({
  enabled: false,
  lease_lock_namespace: '',
  lease_lock_name: '',
  lease_lock_identity: '',
  lease_duration: '15s',
  lease_renew_deadline: '10s',
  lease_retry_period: '2s',
  lease_health_check_timeout: '0s',
  ...overrides,
});

describe('leader election settings', () => {
  it('is off unless enabled by config, LEADER_ELECTION or --leader-election', () => {
    expect(resolveLeaderElection(section(), {}, {})).toBeUndefined();
    expect(resolveLeaderElection(section({ enabled: true, lease_lock_namespace: 'ns', lease_lock_name: 'n' }), {}, { LEADER_ELECTION: 'false' })).toBeUndefined();
    expect(resolveLeaderElection(section({ lease_lock_namespace: 'ns', lease_lock_name: 'n' }), {}, { LEADER_ELECTION: 'true' })).toBeDefined();
    expect(resolveLeaderElection(section({ lease_lock_namespace: 'ns', lease_lock_name: 'n' }), { 'leader-election': true }, { LEADER_ELECTION: 'false' })).toBeDefined();
  });

  it("has OpenMeter's defaults: identity the host name, 15s / 10s / 2s / 0s", () => {
    expect(resolveLeaderElection(section({ enabled: true }), {}, { K8S_NAMESPACE: 'billing', K8S_APP_INSTANCE: 'collector' })).toEqual({
      namespace: 'billing',
      name: 'collector',
      identity: hostname(),
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      healthCheckTimeoutMs: 0,
    });
  });

  it('takes a flag over an env var over the config, and the first env var set of each', () => {
    const env = { K8S_NAMESPACE: 'from-k8s', LEASE_LOCK_NAMESPACE: 'from-lease', LEASE_LOCK_NAME: 'env-name', K8S_POD_NAME: 'pod-7', LEASE_DURATION: '20s' };
    const settings = resolveLeaderElection(section({ enabled: true, lease_lock_namespace: 'cfg', lease_lock_name: 'cfg-name', lease_duration: '30s' }), { 'lease-lock-name': 'flag-name', 'lease-retry-period': '1s' }, env)!;
    expect(settings).toMatchObject({ namespace: 'from-k8s', name: 'flag-name', identity: 'pod-7', leaseDurationMs: 20_000, retryPeriodMs: 1_000 });
  });

  it('names the field to fix', () => {
    const fieldOf = (fn: () => unknown): { field?: string; message: string } => {
      try {
        fn();
      } catch (err) {
        return err as { field?: string; message: string };
      }
      throw new Error('no error');
    };
    expect(fieldOf(() => resolveLeaderElection(section({ enabled: true, lease_lock_name: 'n' }), {}, {}))).toMatchObject({ field: 'lease_lock_namespace', message: 'lease lock namespace is required when leader election is enabled' });
    expect(fieldOf(() => resolveLeaderElection(section({ enabled: true, lease_lock_namespace: 'ns' }), {}, {}))).toMatchObject({ field: 'lease_lock_name' });
    expect(fieldOf(() => resolveLeaderElection(section({ enabled: true, lease_lock_namespace: 'ns', lease_lock_name: 'n', lease_renew_deadline: '20s' }), {}, {}))).toMatchObject({ field: 'lease_renew_deadline' });
    expect(fieldOf(() => resolveLeaderElection(section({ enabled: true, lease_lock_namespace: 'ns', lease_lock_name: 'n' }), { 'lease-duration': 'soon' }, {}))).toMatchObject({ field: 'lease_duration' });
  });
});
