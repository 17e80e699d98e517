import type { Schema } from '../engine/component.js';
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
  buffer: { none?: Record<string, never>; sqlite?: SqliteBufferConfig & { pre_processors?: ComponentNode[]; post_processors?: ComponentNode[] } };
  tests?: unknown[];
}

export type RootConfig = RootSections & ResourcesConfig;

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
            'How many batches are processed concurrently (<= 0: one per CPU); order is kept either way. Set above 1 with a CPU-bound processor (a mapping in the JSONata interpreter) and only processors that can (mapping, log), they run on that many worker threads.',
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
      description: 'Where processed messages wait for the output: none (in memory) or sqlite (durable across restarts).',
      properties: {
        none: { type: 'object', additionalProperties: false, properties: {} },
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
    tests: { type: 'array', description: 'Unit tests for this pipeline (sluice test).' },
  },
};
