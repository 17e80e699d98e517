import type { Schema } from '../engine/component.js';
import { sqliteBufferSchema, type SqliteBufferConfig } from '../engine/sqlite_buffer.js';
import { durationSchema } from './duration.js';

/** The validated top level of a pipeline file. Components keep their YAML shape, with defaults filled. */
export interface RootConfig {
  input: ComponentNode;
  pipeline: { threads: number; processors: ComponentNode[] };
  output: ComponentNode;
  http: { enabled: boolean; address: string };
  logger: { level: string; format: 'logfmt' | 'json'; add_timestamp: boolean; static_fields: Record<string, string> };
  shutdown_timeout: string;
  error_handling: { strict: boolean };
  buffer: { none?: Record<string, never>; sqlite?: SqliteBufferConfig };
  tests?: unknown[];
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
          description: 'How many batches are processed concurrently (<= 0: one per CPU). Order is kept either way.',
        },
        processors: { type: 'array', default: [], items: { 'x-component': 'processor' } },
      },
    },
    output: { 'x-component': 'output', default: { stdout: {} }, description: 'Where messages go.' },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The service HTTP server: /ping, /ready, /metrics, /version.',
      properties: {
        enabled: { type: 'boolean', default: true },
        address: { type: 'string', default: '0.0.0.0:4195', description: 'host:port to listen on; port 0 picks a free one.' },
      },
    },
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
        static_fields: { type: 'object', additionalProperties: { type: 'string' }, default: { '@service': 'sluice' } },
      },
    },
    shutdown_timeout: durationSchema('How long a graceful shutdown may take before sluice closes forcefully.', '20s'),
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
        sqlite: sqliteBufferSchema,
      },
    },
    tests: { type: 'array', description: 'Unit tests for this pipeline (sluice test).' },
  },
};
