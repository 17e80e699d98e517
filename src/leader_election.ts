// `leader_election` (config section), `--leader-election`, `--lease-lock-namespace`... (flags of
// `sluice run`) and their env vars, with OpenMeter's names and defaults
// (collector/benthos/services/leaderelection/flags.go): precedence flag > env var > config.

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { parseDuration } from './config/duration.js';
import type { LeaderElectionConfig } from './config/root.js';
import type { Metrics } from './engine/metrics.js';
import type { Secrets } from './engine/secrets.js';
import { KubernetesClient } from './kubernetes/client.js';
import { discoverClusterAccess } from './kubernetes/config.js';
import { checkLeaderElectionSettings, type LeaderElectionSettings } from './kubernetes/leader.js';
import { LeaseLeadership } from './kubernetes/leadership.js';

/** The flags, as util.parseArgs options. */
export const LEADER_ELECTION_FLAGS = {
  'leader-election': { type: 'boolean' },
  'lease-lock-namespace': { type: 'string' },
  'lease-lock-name': { type: 'string' },
  'lease-lock-identity': { type: 'string' },
  'lease-duration': { type: 'string' },
  'lease-renew-deadline': { type: 'string' },
  'lease-retry-period': { type: 'string' },
  'lease-health-check-timeout': { type: 'string' },
} as const;

export type LeaderElectionFlags = { readonly [K in keyof typeof LEADER_ELECTION_FLAGS]?: (typeof LEADER_ELECTION_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** Each setting: its flag, its env vars (first set wins, as urfave/cli reads them) and its config field. */
const SETTINGS = [
  ['leader-election', ['LEADER_ELECTION'], 'enabled'],
  ['lease-lock-namespace', ['K8S_NAMESPACE', 'LEASE_LOCK_NAMESPACE'], 'lease_lock_namespace'],
  ['lease-lock-name', ['K8S_APP_INSTANCE', 'LEASE_LOCK_NAME'], 'lease_lock_name'],
  ['lease-lock-identity', ['K8S_POD_NAME', 'LEASE_LOCK_IDENTITY'], 'lease_lock_identity'],
  ['lease-duration', ['LEASE_DURATION'], 'lease_duration'],
  ['lease-renew-deadline', ['LEASE_RENEW_DEADLINE'], 'lease_renew_deadline'],
  ['lease-retry-period', ['LEASE_RETRY_PERIOD'], 'lease_retry_period'],
  ['lease-health-check-timeout', ['LEASE_HEALTH_CHECK_TIMEOUT'], 'lease_health_check_timeout'],
] as const;

/**
 * The effective settings, or undefined when leader election is off. Throws an Error whose
 * `field` is the config field (under `leader_election`) to point at.
 */
export function resolveLeaderElection(
  section: LeaderElectionConfig,
  flags: LeaderElectionFlags = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): LeaderElectionSettings | undefined {
  const merged: Record<string, string | boolean> = { ...section };
  for (const [flag, vars, field] of SETTINGS) {
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) {
      merged[field] = fromFlag;
      continue;
    }
    const fromEnv = vars.map((v) => env[v]).find((v) => v !== undefined && v !== '');
    if (fromEnv !== undefined) merged[field] = field === 'enabled' ? /^(1|t|true)$/i.test(fromEnv) : fromEnv;
  }
  if (merged['enabled'] !== true) return undefined;
  const ms = (field: string): number => {
    try {
      return parseDuration(String(merged[field])) / 1e6;
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { field });
    }
  };
  const settings: LeaderElectionSettings = {
    namespace: String(merged['lease_lock_namespace']),
    name: String(merged['lease_lock_name']),
    identity: String(merged['lease_lock_identity']) || hostname(),
    leaseDurationMs: ms('lease_duration'),
    renewDeadlineMs: ms('lease_renew_deadline'),
    retryPeriodMs: ms('lease_retry_period'),
    healthCheckTimeoutMs: ms('lease_health_check_timeout'),
  };
  try {
    checkLeaderElectionSettings(settings);
  } catch (err) {
    const message = (err as Error).message;
    const field = /namespace/.test(message) ? 'lease_lock_namespace' : /lock name/.test(message) ? 'lease_lock_name' : /identity/.test(message) ? 'lease_lock_identity' : /renew deadline/.test(message) ? 'lease_renew_deadline' : 'lease_duration';
    throw Object.assign(new Error(message), { field });
  }
  return settings;
}

/** The Leadership on a Lease, with the Kubernetes credentials discovered as kubernetes_resources finds them. Reads local files; connects nothing. */
export function createLeadership(settings: LeaderElectionSettings, env: { logger: Logger; metrics: Metrics; secrets: Secrets }): LeaseLeadership {
  const access = discoverClusterAccess();
  const logger = env.logger.child({ component: 'leader_election' });
  const client = new KubernetesClient({ access, timeoutMs: settings.renewDeadlineMs, logger, metrics: env.metrics, secrets: env.secrets });
  return new LeaseLeadership(settings, { client, logger, metrics: env.metrics });
}
