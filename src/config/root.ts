import type { Schema } from '../engine/component.js';
import { memoryBufferSchema, type MemoryBufferConfig } from '../engine/memory_buffer.js';
import { sqliteBufferSchema, type SqliteBufferConfig } from '../engine/sqlite_buffer.js';
import { durationSchema } from './duration.js';
import { resourceSchemas, type ResourcesConfig } from './resources.js';
import { httpSchema, metricsSchema, tracerSchema, type HttpConfig, type MetricsConfig } from './service.js';

/** The validated top level of a pipeline file. Components keep their YAML shape, with defaults filled. */
interface RootSections {
  input: ComponentNode;
  pipeline: { threads: number; processors: ComponentNode[] };
  output: ComponentNode;
  http: HttpConfig;
  metrics: MetricsConfig;
  logger: {
    level: string;
    format: 'logfmt' | 'json';
    add_timestamp: boolean;
    level_name: string;
    timestamp_name: string;
    message_name: string;
    static_fields: Record<string, string>;
    file: { path: string; rotate: boolean; rotate_max_age_days: number };
  };
  shutdown_timeout: string;
  shutdown_delay: string;
  error_handling: { strict: boolean };
  buffer: { none?: Record<string, never>; memory?: MemoryBufferConfig; sqlite?: SqliteBufferConfig & { pre_processors?: ComponentNode[]; post_processors?: ComponentNode[] } };
  leader_election: LeaderElectionConfig;
  tests?: unknown[];
}

export type RootConfig = RootSections & ResourcesConfig;

/** `leader_election`: OpenMeter's leader-election flags as a config section (flags and env vars override it). */
export interface LeaderElectionConfig {
  enabled: boolean;
  lease_lock_namespace: string;
  lease_lock_name: string;
  /** '' means the host name, as OpenMeter's default. */
  lease_lock_identity: string;
  lease_duration: string;
  lease_renew_deadline: string;
  lease_retry_period: string;
  lease_health_check_timeout: string;
}

/** A component as written: exactly one component key, plus optional `label` and `processors`. */
export type ComponentNode = Record<string, unknown>;

export const LOG_LEVELS = ['OFF', 'NONE', 'FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE', 'ALL'] as const;

/** The schema of the top-level keys; component slots are validated by each component's own schema. */
export const rootSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    input: { 'x-component': 'input', default: { stdin: {} }, description: 'Where messages come from.' },
    pipeline: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        threads: {
          type: 'integer',
          default: -1,
          maximum: 1024,
          description:
            'How many batches are processed concurrently (<= 0: one per CPU); order is kept either way. Set above 1 with a CPU-bound processor (a mapping in the JSONata interpreter) and only processors that can run anywhere (mapping, bloblang, mutation, json_schema, log, noop, split, unarchive), they run on that many worker threads.',
        },
        processors: { type: 'array', default: [], items: { 'x-component': 'processor' } },
      },
    },
    output: { 'x-component': 'output', default: { stdout: {} }, description: 'Where messages go.' },
    http: httpSchema,
    metrics: metricsSchema,
    tracer: tracerSchema,
    ...resourceSchemas,
    logger: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: {
          type: 'string',
          default: 'INFO',
          enum: [...LOG_LEVELS, ...LOG_LEVELS.map((l) => l.toLowerCase())],
        },
        format: { type: 'string', enum: ['logfmt', 'json'], default: 'logfmt' },
        add_timestamp: { type: 'boolean', default: true },
        level_name: { type: 'string', default: 'level', description: 'The key of the level (json format).' },
        timestamp_name: { type: 'string', default: 'time', description: 'The key of the timestamp.' },
        message_name: { type: 'string', default: 'msg', description: 'The key of the message (json format).' },
        file: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Write logs to this file instead of stderr (rotation is not supported).',
          properties: {
            path: { type: 'string', default: '' },
            rotate: { type: 'boolean', default: false },
            rotate_max_age_days: { type: 'integer', default: 0 },
          },
        },
        static_fields: { type: 'object', additionalProperties: { type: 'string' }, default: { '@service': 'sluice' } },
      },
    },
    shutdown_timeout: durationSchema('How long a graceful shutdown may take before sluice closes forcefully.', '20s'),
    shutdown_delay: durationSchema('How long to wait after SIGINT/SIGTERM before shutting down, so metrics can be scraped a last time.', '0s'),
    error_handling: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        strict: {
          type: 'boolean',
          default: false,
          description: 'Reject messages a processor flagged as failed instead of sending them.',
        },
      },
    },
    buffer: {
      type: 'object',
      additionalProperties: false,
      default: { none: {} },
      minProperties: 1,
      maxProperties: 1,
      description: 'Where processed messages wait for the output: none, memory (acked when held, lost if the process dies) or sqlite (durable across restarts).',
      properties: {
        none: { type: 'object', additionalProperties: false, properties: {} },
        memory: memoryBufferSchema,
        sqlite: {
          ...sqliteBufferSchema,
          properties: {
            ...(sqliteBufferSchema.properties as Schema),
            pre_processors: { type: 'array', items: { 'x-component': 'processor' }, description: 'Processors run on messages before they are written to the buffer.' },
            post_processors: { type: 'array', items: { 'x-component': 'processor' }, description: 'Processors run on messages read from the buffer, before the output.' },
          },
        },
      },
    },
    leader_election: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        "Kubernetes Lease leader election among replicas (OpenMeter's leader-election flags; --leader-election, --lease-lock-namespace... and their env vars override these): " +
        'only the leader scrapes (run_ai, prometheus, schedule); followers stay ready and idle. With an input `state`, the ledger watermark is kept on the Lease, so a new leader backfills from where the old one stopped.',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Enable leader election (LEADER_ELECTION).' },
        lease_lock_namespace: { type: 'string', default: '', description: 'Namespace of the lease lock (K8S_NAMESPACE, LEASE_LOCK_NAMESPACE); required when enabled.' },
        lease_lock_name: { type: 'string', default: '', description: 'Name of the lease lock (K8S_APP_INSTANCE, LEASE_LOCK_NAME); required when enabled.' },
        lease_lock_identity: { type: 'string', default: '', description: 'Identity of the lease lock (K8S_POD_NAME, LEASE_LOCK_IDENTITY); empty: the host name.' },
        lease_duration: durationSchema('Duration of the lease (LEASE_DURATION).', '15s'),
        lease_renew_deadline: durationSchema('Renew deadline of the lease (LEASE_RENEW_DEADLINE): a leader that could not renew for this long stops scraping, before the lease can be taken.', '10s'),
        lease_retry_period: durationSchema('Retry period of the lease (LEASE_RETRY_PERIOD).', '2s'),
        lease_health_check_timeout: durationSchema(
          'Timeout for lease health check (LEASE_HEALTH_CHECK_TIMEOUT); should be longer than lease duration for inactive leader detection. 0s: 1.5 x lease_duration.',
          '0s',
        ),
      },
    },
    tests: { type: 'array', description: 'Unit tests for this pipeline (sluice test).' },
  },
};
